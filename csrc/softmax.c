/*
 * softmax.c: the stable softmax and the attention weights of one query.
 *
 * softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x).  Subtracting the
 * max keeps every exp argument <= 0, so nothing overflows; -Infinity
 * entries become exp(-Infinity) = 0, which is how callers mask keys.
 */
#include <math.h>

#include "rv_internal.h"

double
rv_exp_sum_blocked(const rv_kernels *kern, const float *x, size_t n, float m,
				   float *out)
{
	double		sum = 0.0;

	for (size_t b = 0; b < n; b += RV_SUM_BLOCK)
	{
		size_t		len = n - b < RV_SUM_BLOCK ? n - b : RV_SUM_BLOCK;

		sum += kern->exp_sum_to(x + b, len, m, out + b);
	}
	return sum;
}

/* Normalise exp values in place: w[i] = e[i] / sum. */
static void
normalise(const rv_kernels *kern, float *w, size_t n, double sum)
{
	kern->scale(w, n, (float) (1.0 / sum));
}

/*
 * Three passes over the data: the max together with the NaN/+Infinity
 * check (reads x), exp(x - max) from x to out in blocks whose float sums
 * are added in double (reads x, writes out), and the scale by 1/sum.  The
 * exp pass reads each x[i] before it writes out[i], so out == x works.
 * On error out is untouched.
 */
rv_status
rv_softmax(const float *x, size_t n, float *out)
{
	const rv_kernels *kern = rv_active_kernels();
	float		m;
	int			bad;

	if (n == 0)
		return RV_OK;
	if (x == NULL || out == NULL)
		return RV_ERR_NULL_ARG;
	m = kern->max_checked(x, n, &bad);
	if (bad)
		return RV_ERR_NONFINITE;
	if (m == -INFINITY)
		return RV_ERR_ALL_MASKED;
	normalise(kern, out, n, rv_exp_sum_blocked(kern, x, n, m, out));
	return RV_OK;
}

rv_status
rv_softmax_inplace(float *x, size_t n)
{
	return rv_softmax(x, n, x);
}

/*
 * Logits in blocks (polling job between blocks so that a cancel request is
 * seen within a bounded amount of work), then exp and normalise.  A
 * non-finite logit means a NaN/Infinity in q or K, or a dot product that
 * overflowed float: RV_ERR_NONFINITE either way (callers tell which).
 */
rv_status
rv_weights_one(const rv_kernels *kern, const float *q, const float *K,
			   size_t n, size_t d, size_t ldk, float scale, float *w,
			   rv_job *job)
{
	float		m = -INFINITY;

	for (size_t b = 0; b < n; b += RV_CANCEL_BLOCK)
	{
		size_t		len = n - b < RV_CANCEL_BLOCK ? n - b : RV_CANCEL_BLOCK;
		float		mb = kern->scores(q, K + b * ldk, len, d, ldk, scale, w + b);

		if (mb > m)
			m = mb;
		if (rv_job_should_stop(job))
			return RV_ERR_CANCELLED;
	}
	if (!kern->all_finite(w, n))
		return RV_ERR_NONFINITE;
	normalise(kern, w, n, rv_exp_sum_blocked(kern, w, n, m, w));
	return RV_OK;
}

/*
 * rv_weights_one for heads <= RV_GROUP_MAX heads at once through
 * head_scores (head h: q + h dh, K + h dh, weights W + h n): the same
 * blocks, polls and per-head arithmetic as rv_weights_one, so each head's
 * weights equal it bit for bit, while K is read once for the group.
 */
rv_status
rv_weights_heads(const rv_kernels *kern, const float *q, const float *K,
				 size_t n, size_t dh, size_t heads, size_t ldk, float scale,
				 float *W, rv_job *job)
{
	float		m[RV_GROUP_MAX],
				mb[RV_GROUP_MAX];

	for (size_t h = 0; h < heads; h++)
		m[h] = -INFINITY;
	for (size_t b = 0; b < n; b += RV_CANCEL_BLOCK)
	{
		size_t		len = n - b < RV_CANCEL_BLOCK ? n - b : RV_CANCEL_BLOCK;

		rv_head_scores(kern, q, K + b * ldk, len, dh, heads, ldk, scale, W + b, n, mb);
		for (size_t h = 0; h < heads; h++)
			if (mb[h] > m[h])
				m[h] = mb[h];
		if (rv_job_should_stop(job))
			return RV_ERR_CANCELLED;
	}
	for (size_t h = 0; h < heads; h++)
		if (!kern->all_finite(W + h * n, n))
			return RV_ERR_NONFINITE;
	for (size_t h = 0; h < heads; h++)
		normalise(kern, W + h * n, n,
				  rv_exp_sum_blocked(kern, W + h * n, n, m[h], W + h * n));
	return RV_OK;
}

float
rv_default_scale(size_t d)
{
	return d ? (float) (1.0 / sqrt((double) d)) : 0.0f;
}

rv_status
rv_attention_score(const float *q, const float *k, size_t d, float scale,
				   float *out)
{
	const rv_kernels *kern = rv_active_kernels();

	if (q == NULL || k == NULL || out == NULL)
		return RV_ERR_NULL_ARG;
	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (!isfinite(scale))
		return RV_ERR_SCALE;
	kern->scores(q, k, 1, d, d, scale, out);
	if (!isfinite(*out))
		return RV_ERR_NONFINITE;
	return RV_OK;
}

rv_status
rv_attention_scores(const float *q, const float *K, size_t n, size_t d,
					float scale, float *w)
{
	size_t		nd;

	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (n == 0)
		return RV_OK;
	if (q == NULL || K == NULL || w == NULL)
		return RV_ERR_NULL_ARG;
	if (!isfinite(scale))
		return RV_ERR_SCALE;
	if (rv_mul_size(n, d, &nd) != RV_OK)
		return RV_ERR_SIZE_OVERFLOW;
	return rv_weights_one(rv_active_kernels(), q, K, n, d, d, scale, w, NULL);
}
