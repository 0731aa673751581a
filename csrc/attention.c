/*
 * attention.c: scaled dot-product and multi-head attention drivers.
 *
 * For one query q and one head: w = softmax(scale * K q) (rv_weights_one),
 * then out = sum_i w_i V_i, each pass streaming its matrix once.  Work is
 * split into tasks (a query row, or a (query, head) pair) that run on
 * threads; a task's arithmetic never depends on the thread running it, so
 * results are bit-identical for any thread count.
 */
#include <math.h>
#include <string.h>

#include "rv_internal.h"

/*
 * out = sum_i w_i V_i over n rows (row stride ldv, dv columns), in blocks
 * of keys with a cancel poll in between; then a non-finite check, which is
 * where a NaN/Infinity in V (0 * Inf is NaN too) or an overflow shows up.
 */
static rv_status
weighted_rows(const rv_kernels *kern, const float *w, const float *V,
			  size_t n, size_t dv, size_t ldv, float *out, rv_job *job)
{
	for (size_t b = 0; b < n; b += RV_CANCEL_BLOCK)
	{
		size_t		len = n - b < RV_CANCEL_BLOCK ? n - b : RV_CANCEL_BLOCK;

		kern->weighted_sum(w + b, V + b * ldv, len, dv, ldv,
						   b == 0 ? 0.0f : 1.0f, out);
		if (rv_job_should_stop(job))
			return RV_ERR_CANCELLED;
	}
	if (!kern->all_finite(out, dv))
		return RV_ERR_NONFINITE;
	return RV_OK;
}

rv_status
rv_check_forward(const float *Q, size_t m, const float *K, const float *V,
				 size_t n, size_t d, size_t dv, const float *out)
{
	size_t		t;

	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (n == 0)
		return RV_ERR_NO_KEYS;
	if (dv == 0)
		return RV_ERR_EMPTY_VALUES;
	if (m == 0)
		return RV_OK;
	if (Q == NULL || K == NULL || V == NULL || out == NULL)
		return RV_ERR_NULL_ARG;
	if (rv_mul_size(n, d, &t) || rv_mul_size(n, dv, &t) ||
		rv_mul_size(m, d, &t) || rv_mul_size(m, dv, &t) ||
		rv_mul_size(m, n, &t))
		return RV_ERR_SIZE_OVERFLOW;
	return RV_OK;
}

/* ---------------- scaled dot-product attention ---------------- */

typedef struct sdpa_args
{
	const rv_kernels *kern;
	const float *Q, *K, *V;
	size_t		n, d, dv;
	float		scale;
	float	   *out, *scratch;	/* scratch: n floats per worker */
} sdpa_args;

static rv_status
sdpa_task(rv_job *job, void *arg, size_t r, size_t worker)
{
	const sdpa_args *a = arg;
	float	   *w = a->scratch + worker * a->n;
	rv_status	st;

	st = rv_weights_one(a->kern, a->Q + r * a->d, a->K, a->n, a->d, a->d,
						a->scale, w, job);
	if (st != RV_OK)
		return st;
	return weighted_rows(a->kern, w, a->V, a->n, a->dv, a->dv,
						 a->out + r * a->dv, job);
}

size_t
rv_scaled_dot_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
								const rv_exec *ex)
{
	size_t		workers = rv_plan_threads(m, rv_query_work(n, d, dv), ex);
	size_t		s;

	if (rv_mul_size(workers, n, &s))
		return (size_t) -1;
	return s;
}

rv_status
rv_scaled_dot_attention(const float *Q, size_t m, const float *K,
						const float *V, size_t n, size_t d, size_t dv,
						float scale, float *out, float *scratch,
						const rv_exec *ex)
{
	sdpa_args	a;
	rv_status	st;

	st = rv_check_forward(Q, m, K, V, n, d, dv, out);
	if (st != RV_OK || m == 0)
		return st;
	if (scratch == NULL)
		return RV_ERR_NULL_ARG;
	if (!isfinite(scale))
		return RV_ERR_SCALE;
	a.kern = rv_active_kernels();
	a.Q = Q;
	a.K = K;
	a.V = V;
	a.n = n;
	a.d = d;
	a.dv = dv;
	a.scale = scale;
	a.out = out;
	a.scratch = scratch;
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(n, d, dv), ex),
						sdpa_task, &a, ex);
}

/* ---------------- multi-head attention ---------------- */

static rv_status
check_heads(size_t d, size_t dv, size_t num_heads)
{
	if (num_heads < 1 || d % num_heads != 0 || dv % num_heads != 0)
		return RV_ERR_NUM_HEADS;
	return RV_OK;
}

/*
 * Head average of H weight rows (each n floats, consecutive in `heads`):
 * avg = sum_h (1/H) w_h, in head order, through the weighted_sum kernel,
 * so that every caller averages with the same arithmetic.
 */
static void
average_heads(const rv_kernels *kern, const float *heads, size_t H, size_t n,
			  float *avg)
{
	float		coef[64];
	float		inv = (float) (1.0 / (double) H);

	for (size_t h0 = 0; h0 < H; h0 += 64)
	{
		size_t		len = H - h0 < 64 ? H - h0 : 64;

		for (size_t i = 0; i < len; i++)
			coef[i] = inv;
		kern->weighted_sum(coef, heads + h0 * n, len, n, n,
						   h0 == 0 ? 0.0f : 1.0f, avg);
	}
}

typedef struct mha_args
{
	const rv_kernels *kern;
	const float *Q, *K, *V;
	size_t		n, d, dv, H;
	float	   *out;
	float	   *scratch;		/* n floats per worker, or per task */
	int			per_task;		/* keep every task's weights (averaging) */
} mha_args;

static rv_status
mha_task(rv_job *job, void *arg, size_t t, size_t worker)
{
	const mha_args *a = arg;
	size_t		r = t / a->H,
				h = t % a->H;
	size_t		dh = a->d / a->H,
				dvh = a->dv / a->H;
	float	   *w = a->scratch + (a->per_task ? t : worker) * a->n;
	rv_status	st;

	st = rv_weights_one(a->kern, a->Q + r * a->d + h * dh, a->K + h * dh,
						a->n, dh, a->d, rv_default_scale(dh), w, job);
	if (st != RV_OK)
		return st;
	return weighted_rows(a->kern, w, a->V + h * dvh, a->n, dvh, a->dv,
						 a->out + r * a->dv + h * dvh, job);
}

size_t
rv_multi_head_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
								size_t num_heads, int want_weights,
								const rv_exec *ex)
{
	size_t		tasks, slots, s;

	if (num_heads < 1 || rv_mul_size(m, num_heads, &tasks))
		return (size_t) -1;
	slots = want_weights ? tasks
		: rv_plan_threads(tasks, rv_query_work(n, d / num_heads, dv / num_heads), ex);
	if (rv_mul_size(slots, n, &s))
		return (size_t) -1;
	return s;
}

rv_status
rv_multi_head_attention(const float *Q, size_t m, const float *K,
						const float *V, size_t n, size_t d, size_t dv,
						size_t num_heads, float *out, float *avg_weights,
						float *scratch, const rv_exec *ex)
{
	mha_args	a;
	size_t		tasks;
	rv_status	st;

	st = rv_check_forward(Q, m, K, V, n, d, dv, out);
	if (st == RV_OK)
		st = check_heads(d, dv, num_heads);
	if (st != RV_OK || m == 0)
		return st;
	if (scratch == NULL)
		return RV_ERR_NULL_ARG;
	if (rv_mul_size(m, num_heads, &tasks) ||
		rv_multi_head_attention_scratch(m, n, d, dv, num_heads,
										avg_weights != NULL, ex) == (size_t) -1)
		return RV_ERR_SIZE_OVERFLOW;

	a.kern = rv_active_kernels();
	a.Q = Q;
	a.K = K;
	a.V = V;
	a.n = n;
	a.d = d;
	a.dv = dv;
	a.H = num_heads;
	a.out = out;
	a.scratch = scratch;
	a.per_task = avg_weights != NULL;
	st = rv_run_tasks(tasks,
					  rv_plan_threads(tasks, rv_query_work(n, d / num_heads, dv / num_heads), ex),
					  mha_task, &a, ex);
	if (st != RV_OK || avg_weights == NULL)
		return st;
	for (size_t r = 0; r < m; r++)
		average_heads(a.kern, scratch + r * num_heads * n, num_heads, n,
					  avg_weights + r * n);
	return RV_OK;
}

rv_status
rv_multi_head_scores(const float *q, const float *K, size_t n, size_t d,
					 size_t num_heads, float *w, float *scratch)
{
	const rv_kernels *kern = rv_active_kernels();
	size_t		dh, t;

	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (num_heads < 1 || d % num_heads != 0)
		return RV_ERR_NUM_HEADS;
	if (n == 0)
		return RV_OK;
	if (q == NULL || K == NULL || w == NULL || scratch == NULL)
		return RV_ERR_NULL_ARG;
	if (rv_mul_size(n, d, &t) || rv_mul_size(n, num_heads, &t))
		return RV_ERR_SIZE_OVERFLOW;
	dh = d / num_heads;
	for (size_t h = 0; h < num_heads; h++)
	{
		rv_status	st = rv_weights_one(kern, q + h * dh, K + h * dh, n, dh, d,
										rv_default_scale(dh), scratch + h * n,
										NULL);

		if (st != RV_OK)
			return st;
	}
	average_heads(kern, scratch, num_heads, n, w);
	return RV_OK;
}

rv_status
rv_multi_head_score(const float *q, const float *k, size_t d,
					size_t num_heads, float *out)
{
	const rv_kernels *kern = rv_active_kernels();
	size_t		dh;
	double		sum = 0.0;

	if (q == NULL || k == NULL || out == NULL)
		return RV_ERR_NULL_ARG;
	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (num_heads < 1 || d % num_heads != 0)
		return RV_ERR_NUM_HEADS;
	dh = d / num_heads;
	for (size_t h = 0; h < num_heads; h++)
	{
		float		s;

		kern->scores(q + h * dh, k + h * dh, 1, dh, dh, rv_default_scale(dh), &s);
		sum += s;
	}
	*out = (float) (sum / (double) num_heads);
	if (!isfinite(*out))
		return RV_ERR_NONFINITE;
	return RV_OK;
}
