/*
 * linear.c: linear attention (Katharopoulos et al. 2020) with the feature
 * map phi(x) = elu(x) + 1, and its key-side summary.
 *
 * Forward, one query: the kernel weights l_i = phi(q).phi(k_i) (the phi
 * primitive, then scores with scale 1), w = l / sum_i l_i (the sum in
 * double), out = sum_i w_i v_i.  phi(K) costs an exp per key element with
 * a negative value, so it is computed once per call: with one query, one
 * block of phi_rows(d) keys at a time into an L2-sized buffer just before
 * its scores; with m > 1 queries, for all keys up front (tasks over blocks
 * of keys, n x d floats of scratch) and then read by every query.  Both
 * paths make the same scores calls on the same values, so a row of a
 * batch equals the one-query call bit for bit.
 *
 * All l_i are >= 0, and phi(q) enters only up to a positive factor, which
 * cancels in l / sum l (and in the summary's numerator and denominator):
 * when every q_j < 0, phi(q) = exp(q) is computed as exp(q - c) with the
 * integer c = ceil(max_j q_j) (the subtraction is exact), so its largest
 * entry stays above 1/e however negative q is; otherwise a large phi(q)
 * is prescaled by a power of two.  So the l_i underflow only when the keys
 * make them: when every one of them is 0 (phi(k_i)_j = exp(k_ij) rounds
 * to 0 below -104, and the other products underflow too) the weights would
 * be 0 / 0: that is RV_ERR_NONFINITE, never NaN.  out = sum_i w_i v_i by
 * rv_weighted_rows (float partials of RV_VALUE_BLOCK rows added in double).
 *
 * Summary: M = [S | z] = sum_i phi(k_i) [v_i, 1] (d x (dv + 1)), after
 * which out(q) = S^T phi(q) / (phi(q).z) costs O(d dv) per query.  Row j
 * of S is a weighted sum of the value rows with the weights phi(K)[., j]
 * (a column of phi(K), transposed into a contiguous run), computed by
 * weighted_sum over sub-blocks of keys that stay in cache while every row
 * j reads them.  Float partial sums of RV_VALUE_BLOCK keys are added in
 * double; z is summed in double.  Tasks own disjoint groups of rows j, so
 * the summary is bit-identical for any thread count.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rv_internal.h"

/* keys per scores call (the phi block of one query): about 16K floats */
static size_t
phi_rows(size_t d)
{
	size_t		r = 16384 / d;

	return r < 8 ? 8 : r > RV_CANCEL_BLOCK ? RV_CANCEL_BLOCK : r;
}

/*
 * x *= 1 / sum for a sum of terms whose magnitudes are at most |sum|
 * times max|V|: a power-of-two prescale keeps 1 / sum a normal float when
 * |sum| is tiny or huge (weights that all underflow to subnormals, logits
 * near FLT_MAX).
 */
static void
scale_by_inverse(const rv_kernels *kern, float *x, size_t n, double sum)
{
	if (fabs(sum) < 0x1p-100)
	{
		kern->scale(x, n, 0x1p100f);
		sum *= 0x1p100;
	}
	else if (fabs(sum) > 0x1p100)
	{
		kern->scale(x, n, 0x1p-100f);
		sum *= 0x1p-100;
	}
	kern->scale(x, n, (float) (1.0 / sum));
}

/*
 * pq = phi(q) (d floats) up to a positive factor, which cancels in every
 * use (the kernel weights phi(q).phi(k_i) divided by their sum, the
 * summary's numerator divided by its denominator):
 *  - every q_j < 0: pq = exp(q - c) with c = ceil(max_j q_j), an integer
 *    between max_j q_j and 0, so that q_j - c is exact (|c| <= |q_j| and
 *    c is a multiple of q_j's ulp) and the largest pq_j is above 1/e: no
 *    underflow of phi(q) itself however negative q is (exp(q) is 0 below
 *    -104 and subnormal below -87);
 *  - else pq = phi(q), prescaled by a power of two when its max (>= 1)
 *    exceeds 2^32, so that products with phi(k) do not overflow.
 * RV_ERR_NONFINITE for a NaN or +/-Infinity in q.
 */
static rv_status
phi_query(const rv_kernels *kern, const float *q, size_t d, float *pq)
{
	int			bad,
				e;
	float		max = kern->max_checked(q, d, &bad);
	const float *x = q;

	if (bad)
		return RV_ERR_NONFINITE;	/* NaN or +Infinity in q */
	if (max < 0.0f)
	{
		float		c = ceilf(max);	/* -Infinity in q: NaN below */

		for (size_t j = 0; j < d; j++)
			pq[j] = q[j] - c;
		x = pq;
	}
	kern->phi(x, d, pq);
	max = kern->max_checked(pq, d, &bad);
	if (bad)
		return RV_ERR_NONFINITE;	/* -Infinity in q */
	if (max > 0x1p32f)
	{
		(void) frexpf(max, &e);
		kern->scale(pq, d, ldexpf(1.0f, e > 126 ? -126 : -e));	/* a normal factor */
	}
	return RV_OK;
}

typedef struct linear_args
{
	rv_forward	f;				/* scratch: the per-worker slots */
	const float *phiK;			/* phi(K), n x d; NULL: phi per block */
	float	   *phiK_out;		/* the same buffer while it is computed */
	float	   *buf;			/* phi_rows(d) x d (one query) */
	size_t		slot;			/* floats per worker: d (phi(q)) [+ n + dv
								 * doubles] */
	float	   *W;				/* weights: m x n, or NULL for the forward */
} linear_args;

/* w = the normalised kernel weights of query q; pq: d floats for phi(q) */
static rv_status
linear_weights_one(const linear_args *a, const float *q, float *pq, float *w,
				   rv_job *job)
{
	const rv_kernels *kern = a->f.kern;
	size_t		n = a->f.n,
				d = a->f.d,
				rows = phi_rows(d),
				since_poll = 0;
	double		sum;
	rv_status	st = phi_query(kern, q, d, pq);

	if (st != RV_OK)
		return st;
	for (size_t b = 0; b < n; b += rows)
	{
		size_t		len = n - b < rows ? n - b : rows;
		const float *src = a->phiK ? a->phiK + b * d : a->buf;

		if (a->phiK == NULL)
			kern->phi(a->f.K + b * d, len * d, a->buf);
		kern->scores(pq, src, len, d, d, 1.0f, w + b);
		since_poll += len;
		if (since_poll >= RV_CANCEL_BLOCK)
		{
			since_poll = 0;
			if (rv_job_should_stop(job))
				return RV_ERR_CANCELLED;
		}
	}
	if (!kern->all_finite(w, n))
		return RV_ERR_NONFINITE;
	sum = rv_sum_f64(w, n);
	if (!(sum > 0.0))
		return RV_ERR_NONFINITE;	/* every kernel weight underflowed */
	scale_by_inverse(kern, w, n, sum);
	return RV_OK;
}

/* phi(K) for the keys first .. first + len */
static void
linear_keys(void *arg, size_t first, size_t len)
{
	const linear_args *a = arg;

	a->f.kern->phi(a->f.K + first * a->f.d, len * a->f.d, a->phiK_out + first * a->f.d);
}

/* one query row: the forward (out row r), or the weights (W row r) */
static rv_status
linear_task(rv_job *job, void *arg, size_t r, size_t worker)
{
	const linear_args *a = arg;
	float	   *pq = a->f.scratch + worker * a->slot;
	float	   *w = a->W ? a->W + r * a->f.n : pq + a->f.d;
	float	   *out;
	rv_status	st;

	st = linear_weights_one(a, a->f.Q + r * a->f.d, pq, w, job);
	if (st != RV_OK || a->W)
		return st;
	out = a->f.out + r * a->f.dv;
	return rv_weighted_rows(a->f.kern, w, a->f.V, a->f.n, a->f.dv, a->f.dv, out,
							rv_f64_at(w + a->f.n), job);
}

/*
 * Scratch of a forward (forward = 1) or weights call: for one query the
 * phi block, for m > 1 phi(K), then one slot per worker: d floats, and for
 * the forward n weights and dv doubles.  *key_floats: where the slots
 * start; *slot: floats per slot.
 */
static size_t
linear_scratch(size_t m, size_t n, size_t d, size_t dv, int forward,
			   const rv_exec *ex, size_t *key_floats, size_t *slot_floats)
{
	size_t		workers = rv_plan_threads(m, rv_query_work(n, d, dv), ex);
	size_t		slot = d,
				keys, slots;

	if (forward && (__builtin_add_overflow(d, n, &slot) ||
					(slot = rv_slot_f64(slot, dv)) == (size_t) -1))
		return (size_t) -1;
	if (rv_mul_size(m > 1 ? n : (n < phi_rows(d) ? n : phi_rows(d)), d, &keys) ||
		rv_mul_size(workers, slot, &slots) || keys + slots < keys)
		return (size_t) -1;
	if (key_floats)
		*key_floats = keys;
	if (slot_floats)
		*slot_floats = slot;
	return keys + slots;
}

/* the per-call phi(K) pass (m > 1), then the query rows */
static rv_status
linear_run(linear_args *a, size_t m, size_t dv, const rv_exec *ex)
{
	size_t		n = a->f.n,
				d = a->f.d,
				keys;

	if (linear_scratch(m, n, d, dv, a->W == NULL, ex, &keys, &a->slot) == (size_t) -1)
		return RV_ERR_SIZE_OVERFLOW;
	if (m > 1)
	{
		rv_status	st;

		a->phiK_out = a->f.scratch;
		st = rv_run_key_blocks(n, d, linear_keys, a, ex);
		if (st != RV_OK)
			return st;
		a->phiK = a->phiK_out;
	}
	else
		a->buf = a->f.scratch;
	a->f.scratch += keys;
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(n, d, dv), ex), linear_task, a, ex);
}

size_t
rv_linear_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
							const rv_exec *ex)
{
	return linear_scratch(m, n, d, dv, 1, ex, NULL, NULL);
}

rv_status
rv_linear_attention(const float *Q, size_t m, const float *K, const float *V,
					size_t n, size_t d, size_t dv, float *out, float *scratch,
					const rv_exec *ex)
{
	linear_args a;
	int			nothing;
	rv_status	st;

	memset(&a, 0, sizeof a);
	st = rv_forward_init(&a.f, Q, m, K, V, n, d, dv, 1, 1.0f, out, scratch, &nothing);
	if (st != RV_OK || nothing)
		return st;
	return linear_run(&a, m, dv, ex);
}

/* ---------------- the summary ---------------- */

/* keys per weighted_sum call of the summary: their value rows stay in cache */
#define SUMMARY_ROWS 32

/*
 * Multiply-adds of a summary task between two polls of the cancel
 * callback: what one query's block of RV_CANCEL_BLOCK keys costs at
 * d + dv = 256, a fraction of a millisecond whatever d and dv.
 */
#define SUMMARY_POLL_WORK ((size_t) RV_CANCEL_BLOCK * 256)

typedef struct summary_args
{
	const rv_kernels *kern;
	const float *K, *V;
	size_t		n, d, dv;
	float	   *M;
	size_t		G;				/* rows of M per task */
	double	   *D;				/* d x (dv + 1) double sums */
	float	   *slots;			/* per worker: 2 * SUMMARY_ROWS * G floats */
} summary_args;

/*
 * Rows j0 .. j0 + g of M: for each sub-block of keys, R = phi of the keys'
 * columns j0 .. j0 + g (len x g), T = its transpose (g x len, a
 * contiguous run of weights per row j), then row j of the float partial
 * of RV_VALUE_BLOCK keys (kept in M itself) += T_j V_sub.  z and the
 * partials are summed in double.  Polls every SUMMARY_POLL_WORK.
 */
static rv_status
summary_task(rv_job *job, void *arg, size_t t, size_t worker)
{
	const summary_args *a = arg;
	const rv_kernels *kern = a->kern;
	size_t		d = a->d,
				dv = a->dv,
				ldm = dv + 1,
				j0 = t * a->G,
				g = d - j0 < a->G ? d - j0 : a->G;
	float	   *R = a->slots + worker * 2 * SUMMARY_ROWS * a->G;
	float	   *T = R + SUMMARY_ROWS * a->G;
	float	   *M = a->M + j0 * ldm;
	double	   *D = a->D + j0 * ldm;
	size_t		work = 0;

	for (size_t i = 0; i < g * ldm; i++)
		D[i] = 0.0;
	for (size_t kb = 0; kb < a->n; kb += RV_VALUE_BLOCK)
	{
		size_t		kend = a->n - kb < RV_VALUE_BLOCK ? a->n : kb + RV_VALUE_BLOCK;

		for (size_t sb = kb; sb < kend; sb += SUMMARY_ROWS)
		{
			size_t		len = kend - sb < SUMMARY_ROWS ? kend - sb : SUMMARY_ROWS;

			if (g == d)
				kern->phi(a->K + sb * d, len * d, R);
			else
				for (size_t ii = 0; ii < len; ii++)
					kern->phi(a->K + (sb + ii) * d + j0, g, R + ii * g);
			for (size_t jj = 0; jj < g; jj++)
			{
				double		z = D[jj * ldm + dv];

				for (size_t ii = 0; ii < len; ii++)
				{
					T[jj * SUMMARY_ROWS + ii] = R[ii * g + jj];
					z += R[ii * g + jj];
				}
				D[jj * ldm + dv] = z;
			}
			for (size_t jj = 0; jj < g; jj++)
			{
				kern->weighted_sum(T + jj * SUMMARY_ROWS, a->V + sb * dv, len, dv, dv,
								   sb == kb ? 0.0f : 1.0f, M + jj * ldm);
				work += len * dv;
				if (work >= SUMMARY_POLL_WORK)
				{
					work = 0;
					if (rv_job_should_stop(job))
						return RV_ERR_CANCELLED;
				}
			}
		}
		for (size_t jj = 0; jj < g; jj++)
			kern->accumulate_f64(D + jj * ldm, 1.0, M + jj * ldm, dv);
	}
	for (size_t i = 0; i < g * ldm; i++)
		M[i] = (float) D[i];
	if (!kern->all_finite(M, g * ldm))
		return RV_ERR_NONFINITE;
	return RV_OK;
}

/* the task plan of a summary: workers and rows of M per task */
static size_t
summary_plan(size_t n, size_t d, size_t dv, const rv_exec *ex, size_t *G)
{
	size_t		workers = rv_plan_threads(d, rv_query_work(n, 1, dv), ex);

	*G = (d + workers - 1) / workers;
	return workers;
}

size_t
rv_linear_summary_scratch(size_t n, size_t d, size_t dv, const rv_exec *ex)
{
	size_t		G, slots, dm, s;
	size_t		workers;

	if (d == 0 || dv + 1 < dv)
		return (size_t) -1;
	workers = summary_plan(n, d, dv, ex, &G);
	/* slots, then d (dv + 1) doubles and one float to align them */
	if (rv_mul_size(workers, G, &slots) || rv_mul_size(slots, 2 * SUMMARY_ROWS, &slots) ||
		rv_mul_size(d, dv + 1, &dm) || rv_mul_size(dm, sizeof(double) / sizeof(float), &dm) ||
		slots + dm < slots || slots + dm + 1 < slots)
		return (size_t) -1;
	s = slots + dm + 1;
	return s;
}

rv_status
rv_linear_attention_summary(const float *K, const float *V, size_t n,
							size_t d, size_t dv, float *M, float *scratch,
							const rv_exec *ex)
{
	summary_args a;
	size_t		dm, t, workers, slots;
	uintptr_t	p;

	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (dv == 0)
		return RV_ERR_EMPTY_VALUES;
	if (M == NULL)
		return RV_ERR_NULL_ARG;
	if (dv + 1 < dv || rv_mul_size(d, dv + 1, &dm))
		return RV_ERR_SIZE_OVERFLOW;
	if (n == 0)
	{
		memset(M, 0, dm * sizeof(float));
		return RV_OK;
	}
	if (K == NULL || V == NULL || scratch == NULL)
		return RV_ERR_NULL_ARG;
	if (rv_mul_size(n, d, &t) || rv_mul_size(n, dv, &t) ||
		rv_linear_summary_scratch(n, d, dv, ex) == (size_t) -1)
		return RV_ERR_SIZE_OVERFLOW;
	a.kern = rv_active_kernels();
	a.K = K;
	a.V = V;
	a.n = n;
	a.d = d;
	a.dv = dv;
	a.M = M;
	workers = summary_plan(n, d, dv, ex, &a.G);
	slots = workers * 2 * SUMMARY_ROWS * a.G;
	a.slots = scratch;
	p = (uintptr_t) (scratch + slots);
	a.D = (double *) ((p + sizeof(double) - 1) & ~(uintptr_t) (sizeof(double) - 1));
	return rv_run_tasks((d + a.G - 1) / a.G, workers, summary_task, &a, ex);
}

/* ---------------- forward from the summary ---------------- */

typedef struct from_summary_args
{
	const rv_kernels *kern;
	const float *Q, *M;
	size_t		d, dv;
	float	   *out, *scratch;	/* scratch: slot floats per worker */
	size_t		slot;			/* d floats of phi(q), then dv doubles */
} from_summary_args;

/* out = S^T phi(q) / (phi(q).z): the d rows of S weighted by phi(q), in double */
static rv_status
from_summary_task(rv_job *job, void *arg, size_t r, size_t worker)
{
	const from_summary_args *a = arg;
	const rv_kernels *kern = a->kern;
	size_t		d = a->d,
				dv = a->dv;
	float	   *pq = a->scratch + worker * a->slot;
	float	   *out = a->out + r * dv;
	double		den = 0.0;
	rv_vsum		sum;
	rv_status	st;

	st = phi_query(kern, a->Q + r * d, d, pq);
	if (st != RV_OK)
		return st;
	for (size_t j = 0; j < d; j++)
		den += (double) pq[j] * a->M[j * (dv + 1) + dv];
	if (!(den != 0.0) || !isfinite(den))
		return RV_ERR_NONFINITE;	/* zero denominator, or NaN/Infinity */
	rv_vsum_init(&sum, kern, dv, 1, out, rv_f64_at(pq + d), job);
	st = rv_vsum_add(&sum, pq, 0, a->M, d, dv + 1);
	if (st != RV_OK)
		return st;
	return rv_vsum_finish(&sum, 1.0 / den, out);
}

size_t
rv_linear_from_summary_scratch(size_t m, size_t d, size_t dv,
							   const rv_exec *ex)
{
	size_t		slot = rv_slot_f64(d, dv),	/* phi(q), then dv doubles */
				s;

	if (slot == (size_t) -1 ||
		rv_mul_size(rv_plan_threads(m, rv_query_work(d, 1, dv), ex), slot, &s))
		return (size_t) -1;
	return s;
}

rv_status
rv_linear_attention_from_summary(const float *Q, size_t m, const float *M,
								 size_t d, size_t dv, float *out,
								 float *scratch, const rv_exec *ex)
{
	from_summary_args a;
	size_t		t;

	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (dv == 0)
		return RV_ERR_EMPTY_VALUES;
	if (m == 0)
		return RV_OK;
	if (Q == NULL || M == NULL || out == NULL || scratch == NULL)
		return RV_ERR_NULL_ARG;
	if (dv + 1 < dv || rv_mul_size(d, dv + 1, &t) || rv_mul_size(m, d, &t) ||
		rv_mul_size(m, dv, &t) || rv_linear_from_summary_scratch(m, d, dv, ex) == (size_t) -1)
		return RV_ERR_SIZE_OVERFLOW;
	a.kern = rv_active_kernels();
	a.Q = Q;
	a.M = M;
	a.d = d;
	a.dv = dv;
	a.out = out;
	a.scratch = scratch;
	a.slot = rv_slot_f64(d, dv);
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(d, 1, dv), ex),
						from_summary_task, &a, ex);
}

/* ---------------- the generic entry points ---------------- */

size_t
rv_linear_weights_scratch(const rv_attention_params *p, size_t m, size_t n,
						  size_t d, const rv_exec *ex)
{
	if (p == NULL)
		return (size_t) -1;
	return linear_scratch(m, n, d, 0, 0, ex, NULL, NULL);
}

rv_status
rv_linear_weights(const rv_attention_params *p, const float *Q, size_t m,
				  const float *K, size_t n, size_t d, float *W,
				  float *scratch, const rv_exec *ex)
{
	linear_args a;
	int			nothing;
	rv_status	st;

	if (p == NULL)
		return RV_ERR_NULL_ARG;
	memset(&a, 0, sizeof a);
	st = rv_weights_init(&a.f, Q, m, K, n, d, 1.0f, W, scratch, 1, &nothing);
	if (st != RV_OK || nothing)
		return st;
	a.W = W;
	return linear_run(&a, m, 0, ex);
}

/*
 * phi(q).phi(k) in chunks of 256 dimensions (stack buffers), the chunk
 * dots added in double; for d <= 256 the very logit of the forward.
 */
rv_status
rv_linear_logit(const rv_attention_params *p, const float *q, const float *k,
				size_t d, float *out)
{
	const rv_kernels *kern = rv_active_kernels();
	float		pq[256],
				pk[256];
	double		sum = 0.0;

	if (p == NULL || q == NULL || k == NULL || out == NULL)
		return RV_ERR_NULL_ARG;
	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	for (size_t j = 0; j < d; j += 256)
	{
		size_t		len = d - j < 256 ? d - j : 256;
		float		part;

		kern->phi(q + j, len, pq);
		kern->phi(k + j, len, pk);
		kern->scores(pq, pk, 1, len, len, 1.0f, &part);
		sum += part;
	}
	*out = (float) sum;
	if (!isfinite(*out))
		return RV_ERR_NONFINITE;
	return RV_OK;
}
