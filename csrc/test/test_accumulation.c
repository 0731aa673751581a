/*
 * test_accumulation.c: accuracy of the long sums of every attention type.
 *
 * The hard case for a sum of value rows: one dominant weight and n - 1
 * weights of a few ulp each (logit gaps of 17 and 17.5, weights 4.1e-8 and
 * 2.5e-8), every value row the same vector v.  The exact output is v
 * whatever the weights (they sum to 1), so the float64 reference is v
 * itself; a float sum that runs over all n rows rounds each small term
 * away (or up to a whole ulp) and misses v by (n - 1) * 2.5e-8: 1e-4 at
 * n = 4096, 1.6e-3 at n = 65536.  Checked for every type through
 * rv_attention with its defaults, and through the dedicated functions
 * where a parameter changes the summation (flash with tiles of 64 and
 * 4096 keys, cross tiled and per-row with one and two heads, multi_head
 * with its averaged weights, sliding with a window covering every key,
 * sparse through its own path and the dense one, moe with one expert, the
 * linear summary), with the dominant key first and last, at n = 4096 and
 * 65536 (one gap), on every backend; batches at n = 4096 also with 4
 * threads (bit-identical).
 *
 * Then linear attention with very negative queries (phi(q) = exp(q) is
 * subnormal below -87 and 0 below -104, but the weights are well defined),
 * against a float64 reference: forward, weights, summary.
 */
#include "test_util.h"

#define D 8						/* query/key width: 1, 2 and 4 heads */
#define M_ROWS 8				/* rows of the batch calls (cross's tiled path) */

static const float v_pattern[8] = {1.0f, 1.5f, -0.75f, 3.0f, 0.25f, -2.0f, 1.25f, 0.5f};

typedef enum
{
	SET_DOT,					/* q = [1 0 1 0 ...]: the scaled-dot family */
	SET_LINEAR,					/* q = 0, keys 0 or -gap */
	SET_POINCARE,				/* q = 0, keys 0 or far out on an axis */
	SET_LORENTZ
} key_set;

typedef struct problem
{
	size_t		n,
				dv;
	float	   *Q,				/* M_ROWS x D, every row the same */
			   *K,				/* n x D */
			   *V;				/* n x dv, every row the same */
	float	   *out;			/* M_ROWS x dv */
	float		v[128];			/* the value row: the exact output */
} problem;

/*
 * The keys of set s with the dominant key at dom: for the scaled-dot
 * family, logit gap exactly `gap` under H heads of the default scale
 * 1/sqrt(D/H) (each head sees the same logits); odd keys get logit -1
 * when interleave (sparse's top n/2 are then the even keys).
 */
static void
make_problem(problem *p, key_set s, size_t n, size_t dv, size_t dom, double gap,
			 size_t H, int interleave)
{
	double		dh = (double) D / (double) H;
	double		f = 2.0 / sqrt(dh);	/* a head's logit of [L 0 L 0 ..] is f L sqrt(dh) / 2 */
	float		scale = s == SET_POINCARE ? 0.05f : 1.0f;

	p->n = n;
	p->dv = dv;
	for (size_t j = 0; j < dv; j++)
		p->v[j] = v_pattern[j % 8] * scale;
	for (size_t r = 0; r < M_ROWS; r++)
		for (size_t j = 0; j < D; j++)
			p->Q[r * D + j] = s == SET_DOT && j % 2 == 0 ? 1.0f : 0.0f;
	for (size_t i = 0; i < n; i++)
	{
		float	   *k = p->K + i * D;
		double		logit = i == dom ? gap : (interleave && i % 2 ? -1.0 : 0.0);

		for (size_t j = 0; j < D; j++)
			k[j] = 0.0f;
		switch (s)
		{
			case SET_DOT:
				for (size_t j = 0; j < D; j += 2)
					k[j] = (float) (logit * f);
				break;
			case SET_LINEAR:
				/* phi(0) = 1, phi(-gap) = e^-gap: weights in the ratio e^-gap */
				if (i != dom)
					for (size_t j = 0; j < D; j++)
						k[j] = (float) -gap;
				break;
			case SET_POINCARE:
				/* distance 2 artanh(1 - 2^-23) = 16.6 from the origin */
				if (i != dom)
					k[0] = 1.0f - 0x1p-23f;
				break;
			case SET_LORENTZ:
				/* distance asinh(|k|) = gap from the origin */
				if (i != dom)
					k[0] = (float) sinh(gap);
				break;
		}
		memcpy(p->V + i * dv, p->v, dv * sizeof(float));
	}
}

/* every row of out (rows x dv) within the bar of v */
static void
check_out(const problem *p, size_t rows, const char *what, rv_status st)
{
	int			ok = 1;
	size_t		bad = 0;

	CHECK(st == RV_OK, "%s n=%zu dv=%zu: status %d (%s)", what, p->n, p->dv, (int) st,
		  rv_strerror(st));
	if (st != RV_OK)
		return;
	for (size_t i = 0; i < rows * p->dv && ok; i++)
		if (!close_to(p->out[i], p->v[i % p->dv], fabs(p->v[i % p->dv])))
		{
			ok = 0;
			bad = i;
		}
	CHECK(ok, "%s n=%zu dv=%zu: out[%zu] = %.9g, want %.9g (relative error %.3g)", what, p->n,
		  p->dv, bad, p->out[bad], p->v[bad % p->dv],
		  (p->out[bad] - p->v[bad % p->dv]) / p->v[bad % p->dv]);
}

static float *
scratch_of(size_t floats)
{
	float	   *s = malloc((floats ? floats : 1) * sizeof(float));

	if (s == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return s;
}

/*
 * rv_attention with p, on rows queries, then (rows > 1, n <= 4096: the
 * time under emulation) again with 4 threads: the same bits
 */
static void
run_generic(problem *pr, const rv_attention_params *p, size_t rows, const char *what)
{
	rv_exec		threads = {.max_threads = 4, .min_work_per_thread = 1};
	float	   *s = scratch_of(rv_attention_scratch(p, rows, pr->n, D, pr->dv, NULL));
	rv_status	st = rv_attention(p, pr->Q, rows, pr->K, pr->V, pr->n, D, pr->dv, pr->out, s, NULL);

	check_out(pr, rows, what, st);
	free(s);
	if (rows > 1 && pr->n <= 4096 && st == RV_OK)
	{
		float	   *first = malloc(rows * pr->dv * sizeof(float));

		memcpy(first, pr->out, rows * pr->dv * sizeof(float));
		s = scratch_of(rv_attention_scratch(p, rows, pr->n, D, pr->dv, &threads));
		st = rv_attention(p, pr->Q, rows, pr->K, pr->V, pr->n, D, pr->dv, pr->out, s, &threads);
		CHECK(st == RV_OK && memcmp(first, pr->out, rows * pr->dv * sizeof(float)) == 0,
			  "%s n=%zu: 4 threads differ from 1", what, pr->n);
		free(s);
		free(first);
	}
}

static rv_attention_params
params(rv_attention_type t)
{
	rv_attention_params p;

	rv_attention_params_init(&p, t);
	return p;
}

/* the scaled-dot family: one problem per head count, every type that uses it */
static void
test_dot_family(size_t n, size_t dv, size_t dom, double gap, problem *pr)
{
	rv_attention_params p;
	float	   *s;

	/* one head */
	make_problem(pr, SET_DOT, n, dv, dom, gap, 1, 0);
	run_generic(pr, (p = params(RV_ATTN_SCALED_DOT), &p), 1, "scaled_dot");
	run_generic(pr, &p, 3, "scaled_dot batch");
	run_generic(pr, (p = params(RV_ATTN_FLASH_V2), &p), 1, "flash_v2 (tiles of 64)");
	p.block_size = 4096;
	run_generic(pr, &p, 3, "flash_v2 tiles of 4096");
	p.block_size = 1000;
	run_generic(pr, &p, 1, "flash_v2 tiles of 1000");
	run_generic(pr, (p = params(RV_ATTN_GAT), &p), 1, "gat");
	run_generic(pr, &p, 3, "gat batch");
	run_generic(pr, (p = params(RV_ATTN_SPARSE), &p), 1, "sparse top 8");
	p.top_k = n - 1;
	run_generic(pr, &p, 3, "sparse top n-1");
	p.top_k = n;
	run_generic(pr, &p, 1, "sparse top n (dense)");
	run_generic(pr, (p = params(RV_ATTN_MOE), &p), 1, "moe");
	run_generic(pr, &p, 3, "moe batch");
	p.n_experts = 1;
	p.top_k = 1;
	run_generic(pr, &p, 1, "moe one expert");
	run_generic(pr, (p = params(RV_ATTN_CROSS), &p), 1, "cross per-row");
	run_generic(pr, &p, 3, "cross per-row batch");
	run_generic(pr, &p, M_ROWS, "cross tiled");
	run_generic(pr, (p = params(RV_ATTN_SLIDING), &p), 1, "sliding (window 256)");
	p.window = n;
	run_generic(pr, &p, 1, "sliding window n per-row");
	run_generic(pr, &p, M_ROWS, "sliding window n tiled");

	/* sparse's runs of selected keys: the even ones (dom is even) */
	if (dom % 2 == 0)
	{
		make_problem(pr, SET_DOT, n, dv, dom, gap, 1, 1);
		p = params(RV_ATTN_SPARSE);
		p.top_k = n / 2;
		run_generic(pr, &p, 3, "sparse top n/2 (runs of one key)");
	}

	/* two heads: cross */
	make_problem(pr, SET_DOT, n, dv, dom, gap, 2, 0);
	p = params(RV_ATTN_CROSS);
	p.num_heads = 2;
	run_generic(pr, &p, 1, "cross 2 heads per-row");
	run_generic(pr, &p, M_ROWS, "cross 2 heads tiled");

	/* four heads (multi_head's default) */
	make_problem(pr, SET_DOT, n, dv, dom, gap, 4, 0);
	p = params(RV_ATTN_MULTI_HEAD);
	run_generic(pr, &p, 1, "multi_head");
	run_generic(pr, &p, 3, "multi_head batch");
	{
		/* with the averaged weights: every (query, head) keeps its weights */
		float	   *avg = malloc(3 * n * sizeof(float));

		s = scratch_of(rv_multi_head_attention_scratch(3, n, D, dv, 4, 1, NULL));
		check_out(pr, 3, "multi_head with weights",
				  rv_multi_head_attention(pr->Q, 3, pr->K, pr->V, n, D, dv, 4, pr->out, avg, s, NULL));
		free(s);
		free(avg);
	}
}

static void
test_linear_family(size_t n, size_t dv, size_t dom, double gap, problem *pr)
{
	rv_attention_params p = params(RV_ATTN_LINEAR);
	float	   *M = malloc(D * (dv + 1) * sizeof(float));
	float	   *s;

	make_problem(pr, SET_LINEAR, n, dv, dom, gap, 1, 0);
	run_generic(pr, &p, 1, "linear");
	run_generic(pr, &p, 3, "linear batch");
	s = scratch_of(rv_linear_summary_scratch(n, D, dv, NULL));
	CHECK_STATUS(rv_linear_attention_summary(pr->K, pr->V, n, D, dv, M, s, NULL), RV_OK);
	free(s);
	s = scratch_of(rv_linear_from_summary_scratch(3, D, dv, NULL));
	check_out(pr, 3, "linear from summary",
			  rv_linear_attention_from_summary(pr->Q, 3, M, D, dv, pr->out, s, NULL));
	free(s);
	free(M);
}

/*
 * The hyperbolic outputs: Poincare sums the value rows times their log-map
 * factors, Lorentz the rows and their time coordinates (hyperbolic.c,
 * poincare_output and lorentz_output).  One float chain over all n keys
 * missed this bar by 5e-5 at n = 4096 and 8e-4 at n = 65536.
 */
static void
test_hyperbolic_family(size_t n, size_t dv, size_t dom, double gap, problem *pr)
{
	rv_attention_params p;

	p = params(RV_ATTN_POINCARE);
	make_problem(pr, SET_POINCARE, n, dv, dom, gap, 1, 0);
	run_generic(pr, &p, 1, "poincare");
	p = params(RV_ATTN_LORENTZ);
	make_problem(pr, SET_LORENTZ, n, dv, dom, gap, 1, 0);
	run_generic(pr, &p, 1, "lorentz");
}

static void
test_dominant(void)
{
	static const size_t sizes[][2] = {{4096, 8}, {4096, 68}, {65536, 8}};
	static const double gaps[] = {17.0, 17.5};

	for (size_t c = 0; c < sizeof sizes / sizeof sizes[0]; c++)
	{
		size_t		n = sizes[c][0],
					dv = sizes[c][1];
		problem		pr;

		pr.Q = malloc(M_ROWS * D * sizeof(float));
		pr.K = malloc(n * D * sizeof(float));
		pr.V = malloc(n * dv * sizeof(float));
		pr.out = malloc(M_ROWS * dv * sizeof(float));
		/* one gap at n = 65536 (the time under emulation and qemu) */
		for (size_t g = 0; g < (n > 4096 ? 1 : sizeof gaps / sizeof gaps[0]); g++)
			for (int last = 0; last < 2; last++)
			{
				/* the last even key, so that sparse's even keys include it */
				size_t		dom = last ? n - 2 : 0;

				test_dot_family(n, dv, dom, gaps[g], &pr);
				test_linear_family(n, dv, last ? n - 1 : 0, gaps[g], &pr);
				test_hyperbolic_family(n, dv, last ? n - 1 : 0, gaps[g], &pr);
			}
		free(pr.Q);
		free(pr.K);
		free(pr.V);
		free(pr.out);
	}
}

/* ---------------- linear attention, very negative queries ---------------- */

static double
ref_phi(double x)
{
	return x >= 0.0 ? x + 1.0 : exp(x);
}

/*
 * out = sum_i w_i v_i with w_i = phi(q).phi(k_i) / sum (double), mag =
 * sum_i w_i |v_i|.  When every q_j < 0, phi(q) = exp(q) is taken as
 * exp(q - max q) (the factor cancels in w), so that the reference does
 * not underflow either (exp(-3e30) is 0 in double too).
 */
static void
ref_linear(const float *q, const float *K, const float *V, size_t n, size_t d,
		   size_t dv, double *w, double *out, double *mag)
{
	double		sum = 0.0,
				qmax = -INFINITY;

	for (size_t j = 0; j < d; j++)
		qmax = q[j] > qmax ? q[j] : qmax;
	for (size_t i = 0; i < n; i++)
	{
		w[i] = 0.0;
		for (size_t j = 0; j < d; j++)
			w[i] += (qmax < 0.0 ? exp((double) q[j] - qmax) : ref_phi(q[j])) *
				ref_phi(K[i * d + j]);
		sum += w[i];
	}
	for (size_t i = 0; i < n; i++)
		w[i] /= sum;
	ref_weighted(w, V, n, dv, dv, out, mag);
}

/*
 * The m rows of out (dv wide) against ref_linear of Q's rows (forward and
 * from_summary must both give it); w: n doubles of scratch.
 */
static int
linear_rows_ok(const float *Q, size_t m, const float *K, const float *V, size_t n,
			   size_t d, size_t dv, const float *out, double *w)
{
	double	   *ref = malloc(2 * dv * sizeof(double)),
			   *mag = ref + dv;
	int			ok = 1;

	for (size_t r = 0; r < m; r++)
	{
		ref_linear(Q + r * d, K, V, n, d, dv, w, ref, mag);
		for (size_t j = 0; j < dv; j++)
			ok &= close_to(out[r * dv + j], ref[j], mag[j]);
	}
	free(ref);
	return ok;
}

static void
check_linear_query(const float *qrow, size_t d)
{
	size_t		n = 33,
				dv = 5,
				m = 2;
	float	   *Q = malloc(m * d * sizeof(float));
	float	   *K = rand_array(n * d, 1.0f);
	float	   *V = rand_array(n * dv, 1.0f);
	float	   *out = malloc(m * dv * sizeof(float));
	float	   *W = malloc(m * n * sizeof(float));
	float	   *M = malloc(d * (dv + 1) * sizeof(float));
	double	   *w = malloc(n * sizeof(double));
	double		ref[5],
				mag[5];
	rv_attention_params p = params(RV_ATTN_LINEAR);
	float	   *s;
	int			okw = 1;

	/* row 1: the same query shifted by -0.25 */
	for (size_t j = 0; j < d; j++)
	{
		Q[j] = qrow[j];
		Q[d + j] = qrow[j] - 0.25f;
	}
	s = scratch_of(rv_attention_scratch(&p, m, n, d, dv, NULL));
	CHECK_STATUS(rv_attention(&p, Q, m, K, V, n, d, dv, out, s, NULL), RV_OK);
	free(s);
	CHECK(linear_rows_ok(Q, m, K, V, n, d, dv, out, w),
		  "linear q[0] = %g d=%zu: forward off the reference", qrow[0], d);
	s = scratch_of(rv_attention_weights_scratch(&p, m, n, d, NULL));
	CHECK_STATUS(rv_attention_weights(&p, Q, m, K, n, d, W, s, NULL), RV_OK);
	free(s);
	for (size_t r = 0; r < m; r++)
	{
		ref_linear(Q + r * d, K, V, n, d, dv, w, ref, mag);
		for (size_t i = 0; i < n; i++)
			okw &= close_to(W[r * n + i], w[i], 0.0);
	}
	CHECK(okw, "linear q[0] = %g d=%zu: weights off the reference", qrow[0], d);
	s = scratch_of(rv_linear_summary_scratch(n, d, dv, NULL));
	CHECK_STATUS(rv_linear_attention_summary(K, V, n, d, dv, M, s, NULL), RV_OK);
	free(s);
	s = scratch_of(rv_linear_from_summary_scratch(m, d, dv, NULL));
	CHECK_STATUS(rv_linear_attention_from_summary(Q, m, M, d, dv, out, s, NULL), RV_OK);
	free(s);
	CHECK(linear_rows_ok(Q, m, K, V, n, d, dv, out, w),
		  "linear q[0] = %g d=%zu: from_summary off the reference", qrow[0], d);

	/* keys whose phi all underflow: no kernel weight at all */
	for (size_t i = 0; i < n * d; i++)
		K[i] = -110.0f - (float) (i % 5);
	s = scratch_of(rv_attention_scratch(&p, m, n, d, dv, NULL));
	CHECK_STATUS(rv_attention(&p, Q, m, K, V, n, d, dv, out, s, NULL), RV_ERR_NONFINITE);
	free(s);
	free(Q);
	free(K);
	free(V);
	free(out);
	free(W);
	free(M);
	free(w);
}

static void
test_linear_negative(void)
{
	static const float q2[][2] = {
		{-95.0f, -95.5f}, {-100.0f, -100.5f}, {-103.0f, -103.5f}, {-200.0f, -300.0f},
		{-87.5f, -1e6f}, {-0.5f, -120.0f}, {3.0f, -150.0f},
	};
	static const float q1[] = {-200.0f, -104.5f, -90.25f, -3e30f};
	float		q9[9];

	for (size_t c = 0; c < sizeof q2 / sizeof q2[0]; c++)
		check_linear_query(q2[c], 2);
	for (size_t c = 0; c < sizeof q1 / sizeof q1[0]; c++)
		check_linear_query(&q1[c], 1);
	for (size_t j = 0; j < 9; j++)
		q9[j] = -150.0f - 7.3f * (float) j;
	check_linear_query(q9, 9);
}

int
main(void)
{
	FOR_EACH_BACKEND
	{
		test_dominant();
		test_linear_negative();
	}
	return test_summary();
}
