/*
 * test_types.c: tests of the linear, gat, sparse and moe attention types
 * (forward, weights, logit, linear summary) against float64 references
 * written here in plain loops, for every backend this CPU supports: tails
 * in n, d and dv, batches whose rows equal one-query calls, bit-identical
 * results for any thread count, cancellation, every error status, and the
 * edge cases of each type.  Prints one line per failure and
 * "N passed, M failed".  The primitives these types added are tested in
 * test_kernels_types.c.
 */
#include <stdatomic.h>

#include "rv_internal.h"
#include "test_util.h"

/* ---------------- float64 references ---------------- */

static double
ref_phi(double x)
{
	return x >= 0.0 ? x + 1.0 : exp(x);
}

static double
ref_dot(const float *a, const float *b, size_t d)
{
	double		s = 0.0;

	for (size_t j = 0; j < d; j++)
		s += (double) a[j] * b[j];
	return s;
}

static double
ref_leaky(double y, double slope)
{
	return y > 0.0 ? y : slope * y;
}

static double
ref_scale(const rv_attention_params *p, size_t d)
{
	return isnan(p->scale) ? 1.0 / sqrt((double) d) : p->scale;
}

/* w[i] = softmax(x)[i] over the entries with take[i] (NULL: all), 0 elsewhere */
static void
ref_softmax_subset(const double *x, const int *take, size_t n, double *w)
{
	double		m = -INFINITY,
				sum = 0.0;

	for (size_t i = 0; i < n; i++)
		if ((!take || take[i]) && x[i] > m)
			m = x[i];
	for (size_t i = 0; i < n; i++)
	{
		w[i] = (!take || take[i]) ? exp(x[i] - m) : 0.0;
		sum += w[i];
	}
	for (size_t i = 0; i < n; i++)
		w[i] /= sum;
}

static const double *order_keys;

/* larger value first, then the lower index */
static int
order_cmp(const void *pa, const void *pb)
{
	size_t		a = *(const size_t *) pa,
				b = *(const size_t *) pb;

	if (order_keys[a] != order_keys[b])
		return order_keys[a] > order_keys[b] ? -1 : 1;
	return a < b ? -1 : a > b;
}

/* rank[i] = place of x[i] in the order larger first, ties to the lower index */
static void
ref_ranks(const double *x, size_t n, size_t *rank)
{
	size_t	   *idx = malloc(n * sizeof(size_t));

	for (size_t i = 0; i < n; i++)
		idx[i] = i;
	order_keys = x;
	qsort(idx, n, sizeof(size_t), order_cmp);
	for (size_t r = 0; r < n; r++)
		rank[idx[r]] = r;
	free(idx);
}

/* take[i] = 1 for the k largest x (ties to the lower index): a full sort */
static void
ref_top_k(const double *x, size_t n, size_t k, int *take)
{
	size_t	   *rank = malloc(n * sizeof(size_t));

	ref_ranks(x, n, rank);
	for (size_t i = 0; i < n; i++)
		take[i] = rank[i] < k;
	free(rank);
}

static size_t
ref_group_start(size_t n, size_t E, size_t e)
{
	return e * (n / E) + (e < n % E ? e : n % E);
}

/*
 * The attention weights of query q under p, in double.  Returns 0 when
 * they are undefined (linear: every kernel weight 0).
 */
static int
ref_weights_of(const rv_attention_params *p, const float *q, const float *K,
			   size_t n, size_t d, double *w)
{
	double	   *s = malloc(n * sizeof(double));
	int		   *take = malloc(n * sizeof(int));
	int			ok = 1;

	switch (p->type)
	{
		case RV_ATTN_LINEAR:
			{
				double		sum = 0.0;

				for (size_t i = 0; i < n; i++)
				{
					s[i] = 0.0;
					for (size_t j = 0; j < d; j++)
						s[i] += ref_phi(q[j]) * ref_phi(K[i * d + j]);
					sum += s[i];
				}
				ok = sum > 0.0;
				for (size_t i = 0; i < n; i++)
					w[i] = s[i] / sum;
				break;
			}
		case RV_ATTN_GAT:
			for (size_t i = 0; i < n; i++)
			{
				double		y = p->gat_a
					? ref_dot(p->gat_a, q, d) + ref_dot(p->gat_a + d, K + i * d, d)
					: ref_scale(p, d) * ref_dot(q, K + i * d, d);

				s[i] = ref_leaky(y, p->negative_slope);
			}
			ref_softmax_subset(s, NULL, n, w);
			break;
		case RV_ATTN_SPARSE:
			for (size_t i = 0; i < n; i++)
				s[i] = ref_scale(p, d) * ref_dot(q, K + i * d, d);
			ref_top_k(s, n, p->top_k, take);
			ref_softmax_subset(s, take, n, w);
			break;
		case RV_ATTN_MOE:
			{
				size_t		E = p->n_experts < n ? p->n_experts : n;
				double	   *gate = calloc(E, sizeof(double));
				double	   *g = malloc(E * sizeof(double));
				int		   *chosen = malloc(E * sizeof(int));

				for (size_t i = 0; i < n; i++)
					s[i] = ref_scale(p, d) * ref_dot(q, K + i * d, d);
				for (size_t e = 0; e < E; e++)
				{
					size_t		a = ref_group_start(n, E, e),
								b = ref_group_start(n, E, e + 1);

					gate[e] = 0.0;
					for (size_t i = a; i < b; i++)
						gate[e] += s[i];
					gate[e] /= (double) (b - a);
				}
				ref_top_k(gate, E, p->top_k, chosen);
				ref_softmax_subset(gate, chosen, E, g);
				for (size_t e = 0; e < E; e++)
				{
					size_t		a = ref_group_start(n, E, e),
								b = ref_group_start(n, E, e + 1);

					ref_softmax_subset(s + a, NULL, b - a, w + a);
					for (size_t i = a; i < b; i++)
						w[i] *= g[e];
				}
				free(gate);
				free(g);
				free(chosen);
				break;
			}
		default:
			ok = 0;
	}
	free(s);
	free(take);
	return ok;
}

static double
ref_logit_of(const rv_attention_params *p, const float *q, const float *k, size_t d)
{
	double		s = 0.0;

	switch (p->type)
	{
		case RV_ATTN_LINEAR:
			for (size_t j = 0; j < d; j++)
				s += ref_phi(q[j]) * ref_phi(k[j]);
			return s;
		case RV_ATTN_GAT:
			return ref_leaky(p->gat_a ? ref_dot(p->gat_a, q, d) + ref_dot(p->gat_a + d, k, d)
							 : ref_scale(p, d) * ref_dot(q, k, d), p->negative_slope);
		default:
			return ref_scale(p, d) * ref_dot(q, k, d);
	}
}

/* the sum of the magnitudes of the terms of the pair logit */
static double
ref_logit_mag(const rv_attention_params *p, const float *q, const float *k, size_t d)
{
	double		mag = 0.0;

	for (size_t j = 0; j < d; j++)
	{
		if (p->type == RV_ATTN_LINEAR)
			mag += ref_phi(q[j]) * ref_phi(k[j]);
		else if (p->type == RV_ATTN_GAT && p->gat_a)
			mag += fabs((double) p->gat_a[j] * q[j]) + fabs((double) p->gat_a[d + j] * k[j]);
		else
			mag += fabs(ref_scale(p, d) * q[j] * k[j]);
	}
	return mag;
}

/* ---------------- calling the API under test ---------------- */

static float *
alloc_floats(size_t count)
{
	/* exactly count floats, so that AddressSanitizer sees any overrun */
	return malloc((count ? count : 1) * sizeof(float));
}

static size_t
forward_scratch(const rv_attention_params *p, size_t m, size_t n, size_t d,
				size_t dv, const rv_exec *ex)
{
	switch (p->type)
	{
		case RV_ATTN_LINEAR:
			return rv_linear_attention_scratch(m, n, d, dv, ex);
		case RV_ATTN_GAT:
			return rv_gat_attention_scratch(m, n, d, dv, ex);
		case RV_ATTN_SPARSE:
			return rv_sparse_attention_scratch(m, n, d, dv, p->top_k, ex);
		case RV_ATTN_MOE:
			return rv_moe_attention_scratch(m, n, d, dv, p->n_experts, p->top_k, ex);
		default:
			return (size_t) -1;
	}
}

static rv_status
forward_with(const rv_attention_params *p, const float *Q, size_t m,
			 const float *K, const float *V, size_t n, size_t d, size_t dv,
			 float *out, float *scratch, const rv_exec *ex)
{
	switch (p->type)
	{
		case RV_ATTN_LINEAR:
			return rv_linear_attention(Q, m, K, V, n, d, dv, out, scratch, ex);
		case RV_ATTN_GAT:
			return rv_gat_attention(Q, m, K, V, n, d, dv, p->gat_a, p->negative_slope,
									p->scale, out, scratch, ex);
		case RV_ATTN_SPARSE:
			return rv_sparse_attention(Q, m, K, V, n, d, dv, p->top_k, p->scale, out,
									   scratch, ex);
		case RV_ATTN_MOE:
			return rv_moe_attention(Q, m, K, V, n, d, dv, p->n_experts, p->top_k,
									p->scale, out, scratch, ex);
		default:
			return RV_ERR_UNKNOWN_TYPE;
	}
}

/* the forward with scratch of exactly the size asked for */
static rv_status
forward(const rv_attention_params *p, const float *Q, size_t m, const float *K,
		const float *V, size_t n, size_t d, size_t dv, float *out, const rv_exec *ex)
{
	size_t		size = forward_scratch(p, m, n, d, dv, ex);
	float	   *scratch;
	rv_status	st;

	CHECK(size != (size_t) -1, "forward scratch of type %d is -1", (int) p->type);
	if (size == (size_t) -1)
		return RV_ERR_SIZE_OVERFLOW;
	scratch = alloc_floats(size);
	st = forward_with(p, Q, m, K, V, n, d, dv, out, scratch, ex);
	free(scratch);
	return st;
}

static size_t
weights_scratch(const rv_attention_params *p, size_t m, size_t n, size_t d,
				const rv_exec *ex)
{
	switch (p->type)
	{
		case RV_ATTN_LINEAR:
			return rv_linear_weights_scratch(p, m, n, d, ex);
		case RV_ATTN_GAT:
			return rv_gat_weights_scratch(p, m, n, d, ex);
		case RV_ATTN_SPARSE:
			return rv_sparse_weights_scratch(p, m, n, d, ex);
		case RV_ATTN_MOE:
			return rv_moe_weights_scratch(p, m, n, d, ex);
		default:
			return (size_t) -1;
	}
}

static rv_status
weights_with(const rv_attention_params *p, const float *Q, size_t m,
			 const float *K, size_t n, size_t d, float *W, float *scratch,
			 const rv_exec *ex)
{
	switch (p->type)
	{
		case RV_ATTN_LINEAR:
			return rv_linear_weights(p, Q, m, K, n, d, W, scratch, ex);
		case RV_ATTN_GAT:
			return rv_gat_weights(p, Q, m, K, n, d, W, scratch, ex);
		case RV_ATTN_SPARSE:
			return rv_sparse_weights(p, Q, m, K, n, d, W, scratch, ex);
		case RV_ATTN_MOE:
			return rv_moe_weights(p, Q, m, K, n, d, W, scratch, ex);
		default:
			return RV_ERR_UNKNOWN_TYPE;
	}
}

static rv_status
weights(const rv_attention_params *p, const float *Q, size_t m, const float *K,
		size_t n, size_t d, float *W, const rv_exec *ex)
{
	size_t		size = weights_scratch(p, m, n, d, ex);
	float	   *scratch;
	rv_status	st;

	CHECK(size != (size_t) -1, "weights scratch of type %d is -1", (int) p->type);
	if (size == (size_t) -1)
		return RV_ERR_SIZE_OVERFLOW;
	/* a scratch size of 0 may come with no buffer at all */
	scratch = size ? alloc_floats(size) : NULL;
	st = weights_with(p, Q, m, K, n, d, W, scratch, ex);
	free(scratch);
	return st;
}

static rv_status
logit(const rv_attention_params *p, const float *q, const float *k, size_t d, float *out)
{
	switch (p->type)
	{
		case RV_ATTN_LINEAR:
			return rv_linear_logit(p, q, k, d, out);
		case RV_ATTN_GAT:
			return rv_gat_logit(p, q, k, d, out);
		case RV_ATTN_SPARSE:
			return rv_sparse_logit(p, q, k, d, out);
		case RV_ATTN_MOE:
			return rv_moe_logit(p, q, k, d, out);
		default:
			return RV_ERR_UNKNOWN_TYPE;
	}
}

/* linear summary and forward from it, with exact-size scratch */
static rv_status
summary(const float *K, const float *V, size_t n, size_t d, size_t dv, float *M,
		const rv_exec *ex)
{
	float	   *scratch = alloc_floats(rv_linear_summary_scratch(n, d, dv, ex));
	rv_status	st = rv_linear_attention_summary(K, V, n, d, dv, M, scratch, ex);

	free(scratch);
	return st;
}

static rv_status
from_summary(const float *Q, size_t m, const float *M, size_t d, size_t dv,
			 float *out, const rv_exec *ex)
{
	float	   *scratch = alloc_floats(rv_linear_from_summary_scratch(m, d, dv, ex));
	rv_status	st = rv_linear_attention_from_summary(Q, m, M, d, dv, out, scratch, ex);

	free(scratch);
	return st;
}

static rv_attention_params
params(rv_attention_type t)
{
	rv_attention_params p;

	rv_attention_params_init(&p, t);
	return p;
}

/* the type and the parameters it uses, for messages */
static const char *
type_name(const rv_attention_params *p)
{
	static char buf[128];
	const char *name = rv_attention_type_get(p->type)->name;

	switch (p->type)
	{
		case RV_ATTN_GAT:
			snprintf(buf, sizeof buf, "%s(slope %g, scale %g%s)", name, p->negative_slope,
					 p->scale, p->gat_a ? ", a" : "");
			break;
		case RV_ATTN_SPARSE:
			snprintf(buf, sizeof buf, "%s(top_k %zu, scale %g)", name, p->top_k, p->scale);
			break;
		case RV_ATTN_MOE:
			snprintf(buf, sizeof buf, "%s(n_experts %zu, top_k %zu, scale %g)", name,
					 p->n_experts, p->top_k, p->scale);
			break;
		default:
			snprintf(buf, sizeof buf, "%s", name);
	}
	return buf;
}

/* ---------------- the main comparison ---------------- */

/*
 * One shape under p: for m queries, the forward and the weights against
 * the float64 reference, every row of the batch equal (bit for bit) to
 * the one-query call, the pair logit of the first query and key.  For
 * linear also the summary and the forward from it.
 */
static void
check_case(const rv_attention_params *p, size_t m, size_t n, size_t d, size_t dv,
		   float qsd, float ksd)
{
	float	   *Q = rand_array(m * d, qsd);
	float	   *K = rand_array(n * d, ksd);
	float	   *V = rand_array(n * dv, 1.0f);
	float	   *out = alloc_floats(m * dv);
	float	   *out1 = alloc_floats(dv);
	float	   *W = alloc_floats(m * n);
	float	   *W1 = alloc_floats(n);
	double	   *wr = malloc(n * sizeof(double));
	double	   *ref = malloc(dv * sizeof(double));
	double	   *mag = malloc(dv * sizeof(double));
	int			ok_out = 1,
				ok_w = 1,
				ok_rows = 1,
				ok_sum = 1;
	size_t		bad_j = 0;
	float		lg;

	CHECK_STATUS(forward(p, Q, m, K, V, n, d, dv, out, NULL), RV_OK);
	CHECK_STATUS(weights(p, Q, m, K, n, d, W, NULL), RV_OK);
	for (size_t r = 0; r < m; r++)
	{
		double		wsum = 0.0;

		ref_weights_of(p, Q + r * d, K, n, d, wr);
		ref_weighted(wr, V, n, dv, dv, ref, mag);
		for (size_t j = 0; j < dv; j++)
			if (!close_to(out[r * dv + j], ref[j], mag[j]) && ok_out)
			{
				ok_out = 0;
				bad_j = j;
				CHECK(0, "%s m=%zu n=%zu d=%zu dv=%zu: out[%zu][%zu] = %.9g, reference %.9g",
					  type_name(p), m, n, d, dv, r, bad_j, out[r * dv + j], ref[j]);
			}
		for (size_t i = 0; i < n; i++)
		{
			ok_w &= close_to(W[r * n + i], wr[i], 0.0);
			wsum += W[r * n + i];
		}
		ok_sum &= fabs(wsum - 1.0) < 1e-5;
		/* rows of a batch are one-query calls */
		if (m > 1)
		{
			CHECK_STATUS(forward(p, Q + r * d, 1, K, V, n, d, dv, out1, NULL), RV_OK);
			CHECK_STATUS(weights(p, Q + r * d, 1, K, n, d, W1, NULL), RV_OK);
			ok_rows &= memcmp(out1, out + r * dv, dv * sizeof(float)) == 0 &&
				memcmp(W1, W + r * n, n * sizeof(float)) == 0;
		}
	}
	CHECK(ok_w, "%s m=%zu n=%zu d=%zu: weights differ from the reference", type_name(p), m, n, d);
	CHECK(ok_sum, "%s m=%zu n=%zu d=%zu: a weight row does not sum to 1", type_name(p), m, n, d);
	CHECK(ok_rows, "%s m=%zu n=%zu d=%zu dv=%zu: a batch row differs from its one-query call",
		  type_name(p), m, n, d, dv);
	CHECK_STATUS(logit(p, Q, K, d, &lg), RV_OK);
	{
		double		lr = ref_logit_of(p, Q, K, d);
		double		lmag = ref_logit_mag(p, Q, K, d);

		CHECK(close_to(lg, lr, lmag), "%s d=%zu: logit %.9g, reference %.9g", type_name(p), d, lg, lr);
	}

	if (p->type == RV_ATTN_LINEAR)
	{
		size_t		ldm = dv + 1;
		float	   *M = alloc_floats(d * ldm);
		int			ok_m = 1,
					ok_fs = 1;

		CHECK_STATUS(summary(K, V, n, d, dv, M, NULL), RV_OK);
		for (size_t j = 0; j < d; j++)
		{
			double		z = 0.0;

			for (size_t c = 0; c < dv; c++)
			{
				double		s = 0.0,
							sm = 0.0;

				for (size_t i = 0; i < n; i++)
				{
					s += ref_phi(K[i * d + j]) * V[i * dv + c];
					sm += ref_phi(K[i * d + j]) * fabs(V[i * dv + c]);
				}
				ok_m &= close_to(M[j * ldm + c], s, sm);
			}
			for (size_t i = 0; i < n; i++)
				z += ref_phi(K[i * d + j]);
			ok_m &= close_to(M[j * ldm + dv], z, z);
		}
		CHECK(ok_m, "linear summary n=%zu d=%zu dv=%zu differs from the reference", n, d, dv);
		CHECK_STATUS(from_summary(Q, m, M, d, dv, out, NULL), RV_OK);
		for (size_t r = 0; r < m; r++)
		{
			ref_weights_of(p, Q + r * d, K, n, d, wr);
			ref_weighted(wr, V, n, dv, dv, ref, mag);
			for (size_t j = 0; j < dv; j++)
				ok_fs &= close_to(out[r * dv + j], ref[j], mag[j]);
			if (m > 1)
			{
				CHECK_STATUS(from_summary(Q + r * d, 1, M, d, dv, out1, NULL), RV_OK);
				ok_rows &= memcmp(out1, out + r * dv, dv * sizeof(float)) == 0;
			}
		}
		CHECK(ok_fs, "linear from_summary n=%zu d=%zu dv=%zu differs from the direct reference", n, d, dv);
		CHECK(ok_rows, "linear from_summary: a batch row differs from its one-query call");
		free(M);
	}

	free(Q);
	free(K);
	free(V);
	free(out);
	free(out1);
	free(W);
	free(W1);
	free(wr);
	free(ref);
	free(mag);
}

/* the parameter sets every shape runs under */
static size_t
param_sets(rv_attention_params *ps, float *a_buf, size_t d)
{
	size_t		c = 0;

	/*
	 * a1.q + a2.k of standard deviation about 1, as the scaled logits of
	 * the other types: with much larger logits one key dominates and the
	 * scalar table's single-float exp sum over a 4096-key block absorbs
	 * the tiny terms (about 1e-5 of the sum), a limit of the seed's
	 * softmax that is not what these tests are about
	 */
	for (size_t j = 0; j < 2 * d; j++)
		a_buf[j] = nrand() * (float) (0.7 / sqrt((double) d));
	ps[c++] = params(RV_ATTN_LINEAR);
	ps[c] = params(RV_ATTN_GAT);
	c++;
	ps[c] = params(RV_ATTN_GAT);
	ps[c].gat_a = a_buf;
	c++;
	ps[c] = params(RV_ATTN_GAT);
	ps[c].negative_slope = -0.5f;
	ps[c++].scale = 0.7f * rv_default_scale(d);
	ps[c] = params(RV_ATTN_SPARSE);
	ps[c++].top_k = 1;
	ps[c++] = params(RV_ATTN_SPARSE);	/* top_k 8 */
	ps[c] = params(RV_ATTN_SPARSE);
	ps[c++].top_k = 100;
	ps[c] = params(RV_ATTN_SPARSE);	/* radix selection from n = 1000 on */
	ps[c++].top_k = 300;
	ps[c++] = params(RV_ATTN_MOE);	/* 4 experts, top 2 */
	ps[c] = params(RV_ATTN_MOE);
	ps[c].n_experts = 7;
	ps[c++].top_k = 3;
	ps[c] = params(RV_ATTN_MOE);
	ps[c].n_experts = 64;
	ps[c].top_k = 1;
	ps[c++].scale = 2.0f * rv_default_scale(d);
	return c;
}

static void
test_tails(void)
{
	rv_attention_params ps[16];

	for (size_t t = 0; t < NTAILS; t++)
	{
		static const size_t fixed_n = 33, fixed_d = 12, fixed_dv = 9;
		size_t		shapes[3][3] = {
			{tails[t], 16, 8}, {fixed_n, tails[t], fixed_dv}, {17, fixed_d, tails[t]}
		};

		for (size_t s = 0; s < 3; s++)
		{
			size_t		n = shapes[s][0], d = shapes[s][1], dv = shapes[s][2];
			float	   *a = malloc(2 * d * sizeof(float));
			size_t		count = param_sets(ps, a, d);

			for (size_t c = 0; c < count; c++)
				check_case(&ps[c], s == 0 && n > 1000 ? 2 : 3, n, d, dv, 1.0f, 1.0f);
			free(a);
		}
	}
	{
		/* past two cancel blocks, one query and a batch */
		float	   *a = malloc(2 * 16 * sizeof(float));
		size_t		count = param_sets(ps, a, 16);

		for (size_t c = 0; c < count; c++)
		{
			check_case(&ps[c], 1, 9000, 16, 24, 1.0f, 1.0f);
			check_case(&ps[c], 2, 9000, 16, 24, 1.0f, 1.0f);
		}
		free(a);
	}
	{
		/* linear with inputs of one sign (phi's skipped exp) and large ones */
		rv_attention_params p = params(RV_ATTN_LINEAR);

		check_case(&p, 3, 65, 33, 17, 0.0f, 0.0f);
		check_case(&p, 3, 200, 40, 7, 4.0f, 4.0f);
	}
}

/* ---------------- edge cases ---------------- */

/* K row i = (x[i], 0, ...) so that q = (1, 0, ...) has logits x[i] * scale */
static float *
keys_from_logits(const float *x, size_t n, size_t d)
{
	float	   *K = calloc(n * d, sizeof(float));

	for (size_t i = 0; i < n; i++)
		K[i * d] = x[i];
	return K;
}

static void
test_sparse_edges(void)
{
	size_t		n = 37, d = 8, dv = 5, m = 3;
	float	   *Q = rand_array(m * d, 1.0f);
	float	   *K = rand_array(n * d, 1.0f);
	float	   *V = rand_array(n * dv, 1.0f);
	float	   *out = alloc_floats(m * dv);
	float	   *ref = alloc_floats(m * dv);
	float	   *W = alloc_floats(m * n);
	float	   *Wr = alloc_floats(m * n);
	float	   *scratch = alloc_floats(rv_scaled_dot_attention_scratch(m, n, d, dv, NULL));
	rv_attention_params p = params(RV_ATTN_SPARSE);

	/* top_k >= n: scaled-dot attention bit for bit, forward and weights */
	CHECK_STATUS(rv_scaled_dot_attention(Q, m, K, V, n, d, dv, rv_default_scale(d), ref,
										 scratch, NULL), RV_OK);
	for (size_t r = 0; r < m; r++)
		CHECK_STATUS(rv_attention_scores(Q + r * d, K, n, d, rv_default_scale(d), Wr + r * n), RV_OK);
	for (size_t k = n; k <= n + 5; k += 5)
	{
		p.top_k = k;
		CHECK_STATUS(forward(&p, Q, m, K, V, n, d, dv, out, NULL), RV_OK);
		CHECK(memcmp(out, ref, m * dv * sizeof(float)) == 0, "sparse top_k=%zu >= n differs from scaled_dot", k);
		CHECK_STATUS(weights(&p, Q, m, K, n, d, W, NULL), RV_OK);
		CHECK(memcmp(W, Wr, m * n * sizeof(float)) == 0, "sparse top_k=%zu >= n weights differ", k);
	}
	/* top_k = 1: the value row of the largest logit, exactly */
	p.top_k = 1;
	CHECK_STATUS(forward(&p, Q, 1, K, V, n, d, dv, out, NULL), RV_OK);
	{
		size_t		best = 0;

		for (size_t i = 1; i < n; i++)
			if (ref_dot(Q, K + i * d, d) > ref_dot(Q, K + best * d, d))
				best = i;
		CHECK(memcmp(out, V + best * dv, dv * sizeof(float)) == 0, "sparse top_k=1 is not V[argmax]");
	}
	{
		/* ties: equal logits pick the lower index, also at the threshold */
		const float x[] = {1, 5, 3, 3, 3, 0, 5, 3};
		size_t		nx = sizeof x / sizeof x[0];
		float	   *Kx = keys_from_logits(x, nx, 4);
		float		q[4] = {1, 0, 0, 0};
		float		w[8];
		const int	want3[] = {0, 1, 1, 0, 0, 0, 1, 0}; /* 5, 5, first 3 */
		const int	want4[] = {0, 1, 1, 1, 0, 0, 1, 0};

		p.scale = 1.0f;
		for (int k = 3; k <= 4; k++)
		{
			int			ok = 1;

			p.top_k = (size_t) k;
			CHECK_STATUS(weights(&p, q, 1, Kx, nx, 4, w, NULL), RV_OK);
			for (size_t i = 0; i < nx; i++)
				ok &= (w[i] > 0.0f) == (k == 3 ? want3[i] : want4[i]);
			CHECK(ok, "sparse ties top_k=%d: %g %g %g %g %g %g %g %g", k,
				  w[0], w[1], w[2], w[3], w[4], w[5], w[6], w[7]);
		}
		/* all keys equal: the first top_k */
		for (size_t i = 0; i < nx * 4; i++)
			Kx[i] = 0.25f;
		p.top_k = 2;
		CHECK_STATUS(weights(&p, q, 1, Kx, nx, 4, w, NULL), RV_OK);
		CHECK(w[0] == 0.5f && w[1] == 0.5f && w[2] == 0.0f && w[nx - 1] == 0.0f,
			  "sparse equal keys: %g %g %g", w[0], w[1], w[2]);
		free(Kx);
	}
	free(Q);
	free(K);
	free(V);
	free(out);
	free(ref);
	free(W);
	free(Wr);
	free(scratch);
}

/*
 * rv_top_k_init + rv_top_k_take select exactly the reference top k (ties
 * to the lower index) for every k, by the heap (small k) and the radix
 * selection (large k): values with many duplicates, +0 and -0, negatives,
 * huge magnitudes, sorted runs.
 */
static void
test_top_k_selection(void)
{
	static const size_t sizes[] = {1, 2, 7, 130, 300, 1000, 5000};

	for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++)
		for (int kind = 0; kind < 4; kind++)
		{
			size_t		n = sizes[c];
			float	   *x = malloc(n * sizeof(float));
			float	   *heap = malloc(n * sizeof(float));
			double	   *xd = malloc(n * sizeof(double));
			size_t	   *rank = malloc(n * sizeof(size_t));
			size_t		bad_k = 0;

			for (size_t i = 0; i < n; i++)
			{
				if (kind == 0)
					x[i] = nrand();
				else if (kind == 1)
					x[i] = (float) ((int) (urand() * 7) - 3) * 0.5f;	/* duplicates */
				else if (kind == 2)
					x[i] = (i % 3 == 0) ? 0.0f : (i % 3 == 1) ? -0.0f : -(float) (i % 5) * 1e30f;
				else
					x[i] = (float) i - (float) (n / 2);	/* ascending: every step replaces the heap root */
				xd[i] = x[i];
			}
			ref_ranks(xd, n, rank);
			for (size_t k = 1; k <= n && bad_k == 0; k += (k < 300 ? 1 : 37))
			{
				rv_top_k	sel;
				int			ok = 1;

				rv_top_k_init(&sel, x, n, k, heap);
				for (size_t i = 0; i < n; i++)
					ok &= rv_top_k_take(&sel, x[i]) == (rank[i] < k);
				if (!ok)
					bad_k = k;
			}
			CHECK(bad_k == 0, "top-k selection n=%zu kind=%d wrong for k=%zu", n, kind, bad_k);
			free(x);
			free(heap);
			free(xd);
			free(rank);
		}
}

static void
test_moe_edges(void)
{
	size_t		n = 10, d = 4, dv = 3;
	float		q[4] = {1, 0, 0, 0};
	float	   *V = rand_array(n * dv, 1.0f);
	float		w[10], out[3], ref[3];
	rv_attention_params p = params(RV_ATTN_MOE);

	p.scale = 1.0f;
	{
		/* n = 10, E = 4: groups of 3, 3, 2, 2; top_k 1 picks the hot group */
		static const size_t hot[4][2] = {{0, 3}, {3, 6}, {6, 8}, {8, 10}};

		p.n_experts = 4;
		p.top_k = 1;
		for (size_t g = 0; g < 4; g++)
		{
			float		x[10];
			float	   *K;
			int			ok = 1;

			for (size_t i = 0; i < n; i++)
				x[i] = (i >= hot[g][0] && i < hot[g][1]) ? 2.0f + 0.1f * i : -1.0f;
			K = keys_from_logits(x, n, d);
			CHECK_STATUS(weights(&p, q, 1, K, n, d, w, NULL), RV_OK);
			for (size_t i = 0; i < n; i++)
				ok &= (w[i] > 0.0f) == (i >= hot[g][0] && i < hot[g][1]);
			CHECK(ok, "moe group %zu of n=10, E=4 is not keys [%zu, %zu)", g, hot[g][0], hot[g][1]);
			free(K);
		}
	}
	{
		/* equal keys: gates tie, the lower groups are chosen; uniform weights inside */
		float	   *K = malloc(n * d * sizeof(float));

		for (size_t i = 0; i < n * d; i++)
			K[i] = 0.5f;
		p.n_experts = 4;
		p.top_k = 2;
		CHECK_STATUS(weights(&p, q, 1, K, n, d, w, NULL), RV_OK);
		CHECK(close_to(w[0], 1.0 / 6, 0) && close_to(w[5], 1.0 / 6, 0) && w[6] == 0.0f &&
			  w[9] == 0.0f, "moe ties: %g %g %g %g", w[0], w[5], w[6], w[9]);
		free(K);
	}
	{
		float	   *Q = rand_array(3 * d, 1.0f);
		float	   *K = rand_array(n * d, 1.0f);
		float		outs[9], refs[9], sc[64];

		/* n_experts = 1: scaled-dot attention */
		p = params(RV_ATTN_MOE);
		p.n_experts = 1;
		CHECK_STATUS(forward(&p, Q, 3, K, V, n, d, dv, outs, NULL), RV_OK);
		CHECK_STATUS(rv_scaled_dot_attention(Q, 3, K, V, n, d, dv, rv_default_scale(d), refs, sc,
											 NULL), RV_OK);
		CHECK(memcmp(outs, refs, sizeof outs) == 0, "moe with one expert differs from scaled_dot");
		/* n_experts > n: one key per expert, which is sparse top-k */
		for (size_t k = 1; k <= 4; k++)
		{
			rv_attention_params sp = params(RV_ATTN_SPARSE);
			int			ok = 1;

			p.n_experts = n + 3;
			p.top_k = k;
			sp.top_k = k;
			CHECK_STATUS(forward(&p, Q, 1, K, V, n, d, dv, out, NULL), RV_OK);
			CHECK_STATUS(forward(&sp, Q, 1, K, V, n, d, dv, ref, NULL), RV_OK);
			for (size_t j = 0; j < dv; j++)
				ok &= close_to(out[j], ref[j], 2.0);
			CHECK(ok, "moe n_experts > n, top_k=%zu differs from sparse", k);
		}
		/* top_k >= n_experts: every group, each weighted by its gate */
		for (size_t k = 4; k <= 9; k += 5)
		{
			p.n_experts = 4;
			p.top_k = k;
			check_case(&p, 3, n, d, dv, 1.0f, 1.0f);
		}
		free(Q);
		free(K);
	}
	free(V);
}

static void
test_gat_edges(void)
{
	size_t		n = 50, d = 12, dv = 7, m = 2;
	float	   *Q = rand_array(m * d, 1.0f);
	float	   *K = rand_array(n * d, 1.0f);
	float	   *V = rand_array(n * dv, 1.0f);
	float	   *a = rand_array(2 * d, 1.0f);
	float		out[14], ref[14], sc[100];
	const float slopes[] = {0.0f, 1.0f, -1.5f, 0.2f, 3.0f};
	rv_attention_params p = params(RV_ATTN_GAT);

	for (size_t s = 0; s < sizeof slopes / sizeof slopes[0]; s++)
		for (int with_a = 0; with_a <= 1; with_a++)
		{
			p.negative_slope = slopes[s];
			p.gat_a = with_a ? a : NULL;
			check_case(&p, m, n, d, dv, 1.0f, 1.0f);
		}
	/* slope 1 without a is the identity: scaled-dot attention */
	p.negative_slope = 1.0f;
	p.gat_a = NULL;
	CHECK_STATUS(forward(&p, Q, m, K, V, n, d, dv, out, NULL), RV_OK);
	CHECK_STATUS(rv_scaled_dot_attention(Q, m, K, V, n, d, dv, rv_default_scale(d), ref, sc, NULL), RV_OK);
	CHECK(memcmp(out, ref, sizeof out) == 0, "gat slope 1 differs from scaled_dot");
	/* with a, scale is unused, even infinite */
	p.gat_a = a;
	p.negative_slope = 0.2f;
	CHECK_STATUS(forward(&p, Q, m, K, V, n, d, dv, ref, NULL), RV_OK);
	p.scale = INFINITY;
	CHECK_STATUS(forward(&p, Q, m, K, V, n, d, dv, out, NULL), RV_OK);
	CHECK(memcmp(out, ref, sizeof out) == 0, "gat with a depends on scale");
	free(Q);
	free(K);
	free(V);
	free(a);
}

static void
test_linear_edges(void)
{
	size_t		n = 20, d = 6, dv = 4;
	float	   *Q = rand_array(2 * d, 1.0f);
	float	   *K = rand_array(n * d, 1.0f);
	float	   *V = rand_array(n * dv, 1.0f);
	float		out[8], W[40], M[6 * 5], lg, scale3[6];
	rv_attention_params p = params(RV_ATTN_LINEAR);

	/*
	 * a very negative query is well defined (phi(q) is used up to the
	 * factor exp(ceil(max q)), which cancels), but its pair logit
	 * phi(q).phi(k) underflows to 0 as defined
	 */
	for (size_t j = 0; j < d; j++)
		Q[j] = -200.0f + (float) j;
	CHECK_STATUS(forward(&p, Q, 1, K, V, n, d, dv, out, NULL), RV_OK);
	CHECK_STATUS(weights(&p, Q, 1, K, n, d, W, NULL), RV_OK);
	CHECK_STATUS(forward(&p, Q, 2, K, V, n, d, dv, out, NULL), RV_OK);
	CHECK_STATUS(logit(&p, Q, K, d, &lg), RV_OK);
	CHECK(lg == 0.0f, "linear logit of underflowed phi: %g", lg);
	CHECK_STATUS(summary(K, V, n, d, dv, M, NULL), RV_OK);
	CHECK_STATUS(from_summary(Q, 1, M, d, dv, out, NULL), RV_OK);
	/* every phi(k_ij) underflows (k_ij < -104): every kernel weight is 0, RV_ERR_NONFINITE, not NaN */
	for (size_t i = 0; i < n * d; i++)
		K[i] = -200.0f + (float) (i % 7);
	CHECK_STATUS(forward(&p, Q, 1, K, V, n, d, dv, out, NULL), RV_ERR_NONFINITE);
	CHECK_STATUS(weights(&p, Q, 1, K, n, d, W, NULL), RV_ERR_NONFINITE);
	CHECK_STATUS(forward(&p, Q, 2, K, V, n, d, dv, out, NULL), RV_ERR_NONFINITE);
	CHECK_STATUS(summary(K, V, n, d, dv, M, NULL), RV_OK);
	CHECK_STATUS(from_summary(Q, 1, M, d, dv, out, NULL), RV_ERR_NONFINITE);
	/* subnormal kernel weights still normalise to finite weights summing to 1 */
	for (size_t j = 0; j < d; j++)
		Q[j] = -95.0f;
	for (size_t i = 0; i < n * d; i++)
		K[i] = (i % 3) ? -3.0f : 0.5f;
	CHECK_STATUS(weights(&p, Q, 1, K, n, d, W, NULL), RV_OK);
	{
		double		sum = 0.0;

		for (size_t i = 0; i < n; i++)
			sum += W[i];
		CHECK(fabs(sum - 1.0) < 1e-3 && isfinite(W[0]), "linear tiny weights sum to %g", sum);
	}
	CHECK_STATUS(forward(&p, Q, 1, K, V, n, d, dv, out, NULL), RV_OK);
	CHECK_STATUS(summary(K, V, n, d, dv, M, NULL), RV_OK);
	CHECK_STATUS(from_summary(Q, 1, M, d, dv, out, NULL), RV_OK);
	/* the summary of no keys is 0, whose denominator is 0 */
	memset(M, 0x7f, sizeof M);
	CHECK_STATUS(rv_linear_attention_summary(NULL, NULL, 0, d, dv, M, NULL, NULL), RV_OK);
	{
		int			zero = 1;

		for (size_t i = 0; i < d * (dv + 1); i++)
			zero &= M[i] == 0.0f;
		CHECK(zero, "summary of n = 0 is not 0");
	}
	CHECK_STATUS(from_summary(Q + d, 1, M, d, dv, out, NULL), RV_ERR_NONFINITE);
	/* a denominator of one sign but tiny: still finite */
	memset(M, 0, sizeof M);
	for (size_t j = 0; j < d; j++)
	{
		M[j * (dv + 1) + dv] = 1e-30f;
		M[j * (dv + 1)] = 2e-30f;
		scale3[j] = -80.0f;
	}
	CHECK_STATUS(from_summary(scale3, 1, M, d, dv, out, NULL), RV_OK);
	CHECK(close_to(out[0], 2.0, 1.0) && out[1] == 0.0f, "from_summary tiny denominator: %g %g",
		  out[0], out[1]);
	free(Q);
	free(K);
	free(V);
}

/* NaN / Infinity in each input shows up as RV_ERR_NONFINITE */
static void
test_nonfinite(void)
{
	size_t		n = 9, d = 5, dv = 3;
	float		a[10];
	rv_attention_params ps[16];
	size_t		count = param_sets(ps, a, d);
	const float bad[] = {NAN, INFINITY, -INFINITY};

	for (size_t c = 0; c < count; c++)
		for (size_t b = 0; b < 3; b++)
			for (int where = 0; where < 4; where++)
			{
				float	   *Q = rand_array(2 * d, 1.0f);
				float	   *K = rand_array(n * d, 1.0f);
				float	   *V = rand_array(n * dv, 1.0f);
				float		out[6], W[18], lg;
				float		saved = a[3];
				rv_status	st;

				if (where == 3 && !ps[c].gat_a)
				{
					free(Q);
					free(K);
					free(V);
					continue;
				}
				if (where == 0)
					Q[d + 2] = bad[b];
				else if (where == 1)
					K[4 * d + 1] = bad[b];
				else if (where == 2)
					V[7 * dv + 2] = bad[b];
				else
					a[3] = bad[b];
				/*
				 * sparse and moe do not look at a key or value they leave out:
				 * make sure the bad one is attended (key 4 dominates)
				 */
				for (size_t j = 0; j < d && where != 1; j++)
					K[4 * d + j] = Q[d + j] * 3.0f;
				st = forward(&ps[c], Q, 2, K, V, n, d, dv, out, NULL);
				if (where == 2 && ps[c].type != RV_ATTN_LINEAR && ps[c].type != RV_ATTN_GAT)
				{
					/* value row 7 is attended only if selected: skip the check */
				}
				else
					CHECK(st == RV_ERR_NONFINITE, "%s: %g in input %d gave status %d", type_name(&ps[c]),
						  bad[b], where, (int) st);
				if (where != 2)
				{
					CHECK_STATUS(weights(&ps[c], Q, 2, K, n, d, W, NULL), RV_ERR_NONFINITE);
					if (where == 0)
						CHECK_STATUS(logit(&ps[c], Q + d, K, d, &lg), RV_ERR_NONFINITE);
					else
						CHECK_STATUS(logit(&ps[c], Q, K + 4 * d, d, &lg), RV_ERR_NONFINITE);
				}
				a[3] = saved;
				free(Q);
				free(K);
				free(V);
			}
	{
		/* in the summary: K or V; and in a summary passed to from_summary */
		float	   *K = rand_array(n * d, 1.0f);
		float	   *V = rand_array(n * dv, 1.0f);
		float		M[5 * 4], q[5] = {0.1f, 0.2f, 0.3f, 0.4f, 0.5f}, out[3];

		for (size_t b = 0; b < 3; b++)
		{
			K[7] = bad[b];
			CHECK_STATUS(summary(K, V, n, d, dv, M, NULL), RV_ERR_NONFINITE);
			K[7] = 0.5f;
			V[5] = bad[b];
			CHECK_STATUS(summary(K, V, n, d, dv, M, NULL), RV_ERR_NONFINITE);
			V[5] = 0.5f;
			CHECK_STATUS(summary(K, V, n, d, dv, M, NULL), RV_OK);
			M[6] = bad[b];
			CHECK_STATUS(from_summary(q, 1, M, d, dv, out, NULL), RV_ERR_NONFINITE);
			CHECK_STATUS(summary(K, V, n, d, dv, M, NULL), RV_OK);
			q[2] = bad[b];
			CHECK_STATUS(from_summary(q, 1, M, d, dv, out, NULL), RV_ERR_NONFINITE);
			q[2] = 0.3f;
		}
		free(K);
		free(V);
	}
}

/* ---------------- errors ---------------- */

static void
test_errors(void)
{
	float		q[8] = {1, 2, 3, 4, 5, 6, 7, 8},
				K[16] = {1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 8},
				V[16] = {1, 2, 3, 4, 5, 6, 7, 8},
				out[16],
				W[16],
				s[256],
				lg;
	size_t		huge = (size_t) 1 << 62;
	rv_attention_params lin = params(RV_ATTN_LINEAR),
				gat = params(RV_ATTN_GAT),
				sp = params(RV_ATTN_SPARSE),
				moe = params(RV_ATTN_MOE);
	rv_attention_params *all[4] = {&lin, &gat, &sp, &moe};

	for (size_t t = 0; t < 4; t++)
	{
		rv_attention_params *p = all[t];

		CHECK_STATUS(forward_with(p, q, 1, K, V, 0, 4, 4, out, s, NULL), RV_ERR_NO_KEYS);
		CHECK_STATUS(forward_with(p, q, 1, K, V, 2, 0, 4, out, s, NULL), RV_ERR_EMPTY_QUERY);
		CHECK_STATUS(forward_with(p, q, 1, K, V, 2, 4, 0, out, s, NULL), RV_ERR_EMPTY_VALUES);
		CHECK_STATUS(forward_with(p, q, 1, NULL, V, 2, 4, 4, out, s, NULL), RV_ERR_NULL_ARG);
		CHECK_STATUS(forward_with(p, q, 1, K, V, 2, 4, 4, NULL, s, NULL), RV_ERR_NULL_ARG);
		CHECK_STATUS(forward_with(p, q, 1, K, V, 2, 4, 4, out, NULL, NULL), RV_ERR_NULL_ARG);
		CHECK_STATUS(forward_with(p, q, 1, K, V, huge, huge, 4, out, s, NULL), RV_ERR_SIZE_OVERFLOW);
		CHECK_STATUS(forward_with(p, NULL, 0, K, V, 2, 4, 4, NULL, NULL, NULL), RV_OK);
		CHECK(forward_scratch(p, 1, (size_t) -3, 4, 4, NULL) == (size_t) -1 &&
			  forward_scratch(p, 8, huge, 4, 4, &(rv_exec) {.max_threads = 8, .min_work_per_thread = 1})
			  == (size_t) -1, "%s: forward scratch overflow not reported", type_name(p));
		CHECK_STATUS(weights_with(p, q, 1, K, 2, 0, W, s, NULL), RV_ERR_EMPTY_QUERY);
		CHECK_STATUS(weights_with(p, q, 1, K, 0, 4, W, s, NULL), RV_OK);
		CHECK_STATUS(weights_with(p, q, 0, K, 2, 4, W, s, NULL), RV_OK);
		CHECK_STATUS(weights_with(p, q, 1, NULL, 2, 4, W, s, NULL), RV_ERR_NULL_ARG);
		CHECK_STATUS(weights_with(p, q, 1, K, 2, 4, NULL, s, NULL), RV_ERR_NULL_ARG);
		CHECK_STATUS(weights_with(p, q, 1, K, huge, huge, W, s, NULL), RV_ERR_SIZE_OVERFLOW);
		CHECK(weights_scratch(p, 1, 2, 4, NULL) != (size_t) -1, "%s: weights scratch", type_name(p));
		CHECK_STATUS(logit(p, NULL, K, 4, &lg), RV_ERR_NULL_ARG);
		CHECK_STATUS(logit(p, q, K, 4, NULL), RV_ERR_NULL_ARG);
		CHECK_STATUS(logit(p, q, K, 0, &lg), RV_ERR_EMPTY_QUERY);
		if (p->type != RV_ATTN_LINEAR)
		{
			rv_attention_params bad = *p;

			bad.scale = INFINITY;
			CHECK_STATUS(forward_with(&bad, q, 1, K, V, 2, 4, 4, out, s, NULL), RV_ERR_SCALE);
			CHECK_STATUS(weights_with(&bad, q, 1, K, 2, 4, W, s, NULL), RV_ERR_SCALE);
			CHECK_STATUS(logit(&bad, q, K, 4, &lg), RV_ERR_SCALE);
			bad.scale = -INFINITY;
			CHECK_STATUS(forward_with(&bad, q, 1, K, V, 2, 4, 4, out, s, NULL), RV_ERR_SCALE);
		}
	}
	/* NULL params are an error */
	CHECK_STATUS(rv_linear_weights(NULL, q, 1, K, 2, 4, W, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_gat_weights(NULL, q, 1, K, 2, 4, W, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_sparse_weights(NULL, q, 1, K, 2, 4, W, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_moe_weights(NULL, q, 1, K, 2, 4, W, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_linear_logit(NULL, q, K, 4, &lg), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_gat_logit(NULL, q, K, 4, &lg), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_sparse_logit(NULL, q, K, 4, &lg), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_moe_logit(NULL, q, K, 4, &lg), RV_ERR_NULL_ARG);
	CHECK(rv_linear_weights_scratch(NULL, 1, 2, 4, NULL) == (size_t) -1 &&
		  rv_gat_weights_scratch(NULL, 1, 2, 4, NULL) == (size_t) -1 &&
		  rv_sparse_weights_scratch(NULL, 1, 2, 4, NULL) == (size_t) -1 &&
		  rv_moe_weights_scratch(NULL, 1, 2, 4, NULL) == (size_t) -1, "NULL params scratch");

	/* gat: negative_slope */
	{
		const float bad_slopes[] = {NAN, INFINITY, -INFINITY};

		for (size_t b = 0; b < 3; b++)
		{
			rv_attention_params g = gat;

			g.negative_slope = bad_slopes[b];
			CHECK_STATUS(rv_gat_attention(q, 1, K, V, 2, 4, 4, NULL, bad_slopes[b], NAN, out, s, NULL),
						 RV_ERR_SLOPE);
			CHECK_STATUS(rv_gat_weights(&g, q, 1, K, 2, 4, W, s, NULL), RV_ERR_SLOPE);
			CHECK_STATUS(rv_gat_logit(&g, q, K, 4, &lg), RV_ERR_SLOPE);
			CHECK(rv_gat_weights_scratch(&g, 1, 2, 4, NULL) == (size_t) -1, "gat scratch bad slope");
		}
	}
	/* sparse: top_k */
	{
		rv_attention_params t0 = sp;

		t0.top_k = 0;
		CHECK_STATUS(rv_sparse_attention(q, 1, K, V, 2, 4, 4, 0, NAN, out, s, NULL), RV_ERR_TOP_K);
		CHECK_STATUS(rv_sparse_weights(&t0, q, 1, K, 2, 4, W, s, NULL), RV_ERR_TOP_K);
		CHECK(rv_sparse_attention_scratch(1, 2, 4, 4, 0, NULL) == (size_t) -1 &&
			  rv_sparse_weights_scratch(&t0, 1, 2, 4, NULL) == (size_t) -1, "sparse scratch top_k 0");
	}
	/* moe: n_experts, top_k */
	{
		rv_attention_params e0 = moe,
					t0 = moe;

		e0.n_experts = 0;
		t0.top_k = 0;
		CHECK_STATUS(rv_moe_attention(q, 1, K, V, 2, 4, 4, 0, 2, NAN, out, s, NULL), RV_ERR_N_EXPERTS);
		CHECK_STATUS(rv_moe_attention(q, 1, K, V, 2, 4, 4, 4, 0, NAN, out, s, NULL), RV_ERR_TOP_K);
		CHECK_STATUS(rv_moe_weights(&e0, q, 1, K, 2, 4, W, s, NULL), RV_ERR_N_EXPERTS);
		CHECK_STATUS(rv_moe_weights(&t0, q, 1, K, 2, 4, W, s, NULL), RV_ERR_TOP_K);
		CHECK(rv_moe_attention_scratch(1, 2, 4, 4, 0, 2, NULL) == (size_t) -1 &&
			  rv_moe_attention_scratch(1, 2, 4, 4, 4, 0, NULL) == (size_t) -1 &&
			  rv_moe_weights_scratch(&e0, 1, 2, 4, NULL) == (size_t) -1 &&
			  rv_moe_weights_scratch(&t0, 1, 2, 4, NULL) == (size_t) -1, "moe scratch bad params");
	}
	/* linear summary and from_summary */
	CHECK_STATUS(rv_linear_attention_summary(K, V, 2, 0, 4, W, s, NULL), RV_ERR_EMPTY_QUERY);
	CHECK_STATUS(rv_linear_attention_summary(K, V, 2, 4, 0, W, s, NULL), RV_ERR_EMPTY_VALUES);
	CHECK_STATUS(rv_linear_attention_summary(K, V, 2, 4, 1, NULL, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_linear_attention_summary(NULL, V, 2, 4, 1, W, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_linear_attention_summary(K, V, 2, 4, 1, W, NULL, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_linear_attention_summary(K, V, huge, huge, 1, W, s, NULL), RV_ERR_SIZE_OVERFLOW);
	CHECK_STATUS(rv_linear_attention_summary(K, V, 2, huge, huge, W, s, NULL), RV_ERR_SIZE_OVERFLOW);
	CHECK(rv_linear_summary_scratch(2, 0, 4, NULL) == (size_t) -1 &&
		  rv_linear_summary_scratch(2, huge, huge, NULL) == (size_t) -1, "summary scratch overflow");
	CHECK_STATUS(rv_linear_attention_from_summary(q, 1, K, 0, 3, out, s, NULL), RV_ERR_EMPTY_QUERY);
	CHECK_STATUS(rv_linear_attention_from_summary(q, 1, K, 4, 0, out, s, NULL), RV_ERR_EMPTY_VALUES);
	CHECK_STATUS(rv_linear_attention_from_summary(q, 0, K, 4, 3, NULL, NULL, NULL), RV_OK);
	CHECK_STATUS(rv_linear_attention_from_summary(q, 1, NULL, 4, 3, out, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_linear_attention_from_summary(q, 1, K, 4, 3, out, NULL, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_linear_attention_from_summary(q, huge, K, huge, 3, out, s, NULL), RV_ERR_SIZE_OVERFLOW);
	CHECK(rv_linear_from_summary_scratch(4, huge, 4, &(rv_exec) {.max_threads = 4, .min_work_per_thread = 1})
		  == (size_t) -1, "from_summary scratch overflow not reported");
}

/* ---------------- threads and cancellation ---------------- */

static atomic_int cancel_polls;
static int	cancel_after;

static int
cancel_cb(void *arg)
{
	(void) arg;
	return atomic_fetch_add(&cancel_polls, 1) + 1 >= cancel_after;
}

static void
test_threads(void)
{
	size_t		m = 5, n = 3000, d = 64, dv = 32;
	float	   *Q = rand_array(m * d, 1.0f);
	float	   *K = rand_array(n * d, 1.0f);
	float	   *V = rand_array(n * dv, 1.0f);
	float	   *ref = alloc_floats(m * n), *got = alloc_floats(m * n);
	float	   *refw = alloc_floats(m * n), *gotw = alloc_floats(m * n);
	float	   *M0 = alloc_floats(d * (dv + 1)), *M1 = alloc_floats(d * (dv + 1));
	float		a[128];
	rv_attention_params ps[16];
	size_t		count = param_sets(ps, a, d);
	const int	counts[] = {1, 2, 3, 4};

	for (size_t c = 0; c < count; c++)
		for (size_t t = 0; t < sizeof counts / sizeof counts[0]; t++)
		{
			rv_exec		ex = {.max_threads = counts[t], .min_work_per_thread = 1};

			CHECK_STATUS(forward(&ps[c], Q, m, K, V, n, d, dv, t == 0 ? ref : got, &ex), RV_OK);
			CHECK(t == 0 || memcmp(ref, got, m * dv * sizeof(float)) == 0,
				  "%s forward differs with %d threads", type_name(&ps[c]), counts[t]);
			CHECK_STATUS(weights(&ps[c], Q, m, K, n, d, t == 0 ? refw : gotw, &ex), RV_OK);
			CHECK(t == 0 || memcmp(refw, gotw, m * n * sizeof(float)) == 0,
				  "%s weights differ with %d threads", type_name(&ps[c]), counts[t]);
		}
	for (size_t t = 0; t < sizeof counts / sizeof counts[0]; t++)
	{
		rv_exec		ex = {.max_threads = counts[t], .min_work_per_thread = 1};

		CHECK_STATUS(summary(K, V, n, d, dv, t == 0 ? M0 : M1, &ex), RV_OK);
		CHECK(t == 0 || memcmp(M0, M1, d * (dv + 1) * sizeof(float)) == 0,
			  "linear summary differs with %d threads", counts[t]);
		CHECK_STATUS(from_summary(Q, m, M0, d, dv, t == 0 ? ref : got, &ex), RV_OK);
		CHECK(t == 0 || memcmp(ref, got, m * dv * sizeof(float)) == 0,
			  "linear from_summary differs with %d threads", counts[t]);
	}
	/* a thread that cannot start is reported */
	{
		rv_exec		ex = {.max_threads = 4, .min_work_per_thread = 1};

		rv__test_fail_thread_starts(1);
		CHECK_STATUS(forward(&ps[0], Q, m, K, V, n, d, dv, got, &ex), RV_ERR_THREAD);
		rv__test_fail_thread_starts(1);
		CHECK_STATUS(summary(K, V, n, d, dv, M1, &ex), RV_ERR_THREAD);
		rv__test_fail_thread_starts(0);
	}
	free(Q);
	free(K);
	free(V);
	free(ref);
	free(got);
	free(refw);
	free(gotw);
	free(M0);
	free(M1);
}

static void
test_cancel(void)
{
	size_t		n = 5 * RV_CANCEL_BLOCK, d = 8, dv = 8, m = 4;
	float	   *Q = rand_array(m * d, 1.0f);
	float	   *K = rand_array(n * d, 1.0f);
	float	   *V = rand_array(n * dv, 1.0f);
	float	   *out = alloc_floats(m * n);
	float	   *M = alloc_floats(d * (dv + 1));
	float		a[16];
	rv_attention_params ps[16];
	size_t		count = param_sets(ps, a, d);

	for (int after = 1; after <= 3; after++)
		for (int threads = 1; threads <= 4; threads *= 4)
			for (size_t mm = 1; mm <= m; mm += m - 1)
			{
				rv_exec		ex = {.max_threads = threads, .min_work_per_thread = 1,
				.cancel = cancel_cb};

				cancel_after = after;
				for (size_t c = 0; c < count; c++)
				{
					atomic_store(&cancel_polls, 0);
					CHECK_STATUS(forward(&ps[c], Q, mm, K, V, n, d, dv, out, &ex), RV_ERR_CANCELLED);
					atomic_store(&cancel_polls, 0);
					CHECK_STATUS(weights(&ps[c], Q, mm, K, n, d, out, &ex), RV_ERR_CANCELLED);
				}
				atomic_store(&cancel_polls, 0);
				CHECK_STATUS(summary(K, V, n, d, dv, M, &ex), RV_ERR_CANCELLED);
				cancel_after = 1 << 30;
				CHECK_STATUS(summary(K, V, n, d, dv, M, &ex), RV_OK);
				cancel_after = after;
				atomic_store(&cancel_polls, 0);
				CHECK_STATUS(from_summary(Q, mm, M, d, dv, out, &ex), RV_ERR_CANCELLED);
				/* a callback that never fires changes nothing */
				cancel_after = 1 << 30;
				for (size_t c = 0; c < count; c++)
					CHECK_STATUS(forward(&ps[c], Q, mm, K, V, n, d, dv, out, &ex), RV_OK);
			}
	free(Q);
	free(K);
	free(V);
	free(out);
	free(M);
}

/*
 * The linear summary polls on a work budget, not once per block of keys:
 * d = dv = 128 over 2048 keys on one task is 33.5M multiply-adds, which
 * must see a poll about every million (it saw two: before the task and
 * after the block), and a cancel on the fifth poll stops it.
 */
static void
test_summary_polls(void)
{
	size_t		n = 2048, d = 128, dv = 128;
	float	   *K = rand_array(n * d, 1.0f);
	float	   *V = rand_array(n * dv, 1.0f);
	float	   *M = alloc_floats(d * (dv + 1));
	rv_exec		ex = {.max_threads = 1, .cancel = cancel_cb};
	float	   *scratch = alloc_floats(rv_linear_summary_scratch(n, d, dv, &ex));
	int			polls;

	cancel_after = 1 << 30;
	atomic_store(&cancel_polls, 0);
	CHECK_STATUS(rv_linear_attention_summary(K, V, n, d, dv, M, scratch, &ex), RV_OK);
	polls = atomic_load(&cancel_polls);
	CHECK(polls >= 20, "linear summary polled %d times over 33.5M multiply-adds", polls);
	cancel_after = 5;
	atomic_store(&cancel_polls, 0);
	CHECK_STATUS(rv_linear_attention_summary(K, V, n, d, dv, M, scratch, &ex), RV_ERR_CANCELLED);
	free(K);
	free(V);
	free(M);
	free(scratch);
}

int
main(void)
{
	test_top_k_selection();		/* plain C, the same for every backend */
	FOR_EACH_BACKEND
	{
		test_tails();
		test_sparse_edges();
		test_moe_edges();
		test_gat_edges();
		test_linear_edges();
		test_nonfinite();
		test_errors();
		test_threads();
		test_cancel();
		test_summary_polls();
	}
	return test_summary();
}
