/*
 * softmax.c: the stable softmax, the attention weights of one query, and
 * the sums every driver shares (exp sums, weighted sums of value rows).
 *
 * softmax(x)_i = exp(x_i - max x) / sum_j exp(x_j - max x).  Subtracting the
 * max keeps every exp argument <= 0, so nothing overflows; -Infinity
 * entries become exp(-Infinity) = 0, which is how callers mask keys.
 *
 * Every long sum runs in float over blocks of at most RV_SUM_BLOCK terms
 * (exp sums, split further by the lanes) or RV_VALUE_BLOCK rows (value
 * sums, one float chain per column) whose results are added in double: a
 * float sum over all n terms rounds away each term below half an ulp of
 * its running value.
 */
#include <math.h>
#include <string.h>

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

void
rv_softmax_from_max(const rv_kernels *kern, const float *x, size_t n,
					float m, double coef, float *out)
{
	kern->scale(out, n, (float) (coef / rv_exp_sum_blocked(kern, x, n, m, out)));
}

/* ---------------- weighted sums of value rows ---------------- */

void
rv_vsum_init(rv_vsum *s, const rv_kernels *kern, size_t dvh, size_t heads,
			 float *part, double *acc, rv_job *job)
{
	s->kern = kern;
	s->dvh = dvh;
	s->heads = heads;
	s->part = part;
	s->acc = acc;
	s->A = 1.0;
	s->rows = 0;
	s->since_poll = 0;
	s->job = job;
	memset(acc, 0, dvh * heads * sizeof(double));
}

/* acc = A acc + part, and part empty */
static void
vsum_flush(rv_vsum *s)
{
	s->kern->accumulate_f64(s->acc, s->A, s->part, s->dvh * s->heads);
	s->A = 1.0;
	s->rows = 0;
}

/* count len rows added; 1 when a poll of the job says stop */
static int
vsum_poll(rv_vsum *s, size_t len)
{
	s->since_poll += len;
	if (s->since_poll < RV_CANCEL_BLOCK)
		return 0;
	s->since_poll = 0;
	return rv_job_should_stop(s->job);
}

/*
 * n >= RV_VALUE_BLOCK rows at once (one head; heads together by the
 * table's head_weighted_sum_acc, else one after the other): the table's
 * weighted_sum_acc, which forms the
 * partials inside its own long streams over V, in calls of
 * RV_CANCEL_BLOCK rows with the polls in between.  Every head's partials
 * are then those of weighted_sum_acc on that head alone, which keeps
 * multi-head's heads bit-identical to their own scaled-dot attention (a
 * table with head_weighted_sum but no head_weighted_sum_acc pays for it
 * with a pass per head).
 */
static rv_status
vsum_add_direct(rv_vsum *s, const float *W, size_t ldw, const float *V,
				size_t n, size_t ldv)
{
	size_t		dv = s->dvh * s->heads;

	if (s->rows)
		vsum_flush(s);
	if (s->A != 1.0)
	{
		for (size_t j = 0; j < dv; j++)
			s->acc[j] *= s->A;
		s->A = 1.0;
	}
	for (size_t i = 0; i < n;)
	{
		size_t		len = n - i < RV_CANCEL_BLOCK ? n - i : RV_CANCEL_BLOCK;

		if (s->heads > 1 && s->kern->head_weighted_sum_acc)
			s->kern->head_weighted_sum_acc(W + i, ldw, V + i * ldv, len, s->dvh, s->heads,
										   ldv, s->part, s->acc);
		else
			for (size_t h = 0; h < s->heads; h++)
				s->kern->weighted_sum_acc(W + h * ldw + i, V + i * ldv + h * s->dvh, len,
										  s->dvh, ldv, s->part + h * s->dvh,
										  s->acc + h * s->dvh);
		i += len;
		if (vsum_poll(s, len))
			return RV_ERR_CANCELLED;
	}
	return RV_OK;
}

rv_status
rv_vsum_add(rv_vsum *s, const float *W, size_t ldw, const float *V,
			size_t n, size_t ldv)
{
	if (n >= RV_VALUE_BLOCK)
		return vsum_add_direct(s, W, ldw, V, n, ldv);
	/* fewer rows: a float partial across calls */
	for (size_t i = 0; i < n;)
	{
		size_t		len;

		if (s->rows == RV_VALUE_BLOCK)
			vsum_flush(s);
		len = n - i < RV_VALUE_BLOCK - s->rows ? n - i : RV_VALUE_BLOCK - s->rows;
		/* beta 0 starts a partial: part holds what was flushed, or garbage */
		if (s->heads == 1)
			s->kern->weighted_sum(W + i, V + i * ldv, len, s->dvh, ldv,
								  s->rows ? 1.0f : 0.0f, s->part);
		else
			rv_head_weighted_sum(s->kern, W + i, ldw, V + i * ldv, len, s->dvh,
								 s->heads, ldv, s->rows ? 1.0f : 0.0f, s->part);
		s->rows += len;
		i += len;
		if (vsum_poll(s, len))
			return RV_ERR_CANCELLED;
	}
	return RV_OK;
}

void
rv_vsum_scale(rv_vsum *s, double a)
{
	if (s->rows)
		vsum_flush(s);
	s->A *= a;
}

rv_status
rv_vsum_finish(rv_vsum *s, double mul, float *out)
{
	size_t		dv = s->dvh * s->heads;

	if (rv_job_should_stop(s->job))
		return RV_ERR_CANCELLED;
	if (s->rows == 0)
		memset(s->part, 0, dv * sizeof(float));	/* what was flushed */
	s->kern->finish_f64(s->acc, s->A, s->part, mul, dv, out);
	if (!s->kern->all_finite(out, dv))
		return RV_ERR_NONFINITE;
	return RV_OK;
}

rv_status
rv_weighted_rows(const rv_kernels *kern, const float *w, const float *V,
				 size_t n, size_t dv, size_t ldv, float *out, double *acc,
				 rv_job *job)
{
	rv_vsum		s;
	rv_status	st;

	rv_vsum_init(&s, kern, dv, 1, out, acc, job);
	st = rv_vsum_add(&s, w, 0, V, n, ldv);
	if (st != RV_OK)
		return st;
	return rv_vsum_finish(&s, 1.0, out);
}

/* ---------------- softmax and attention weights ---------------- */

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
	rv_softmax_from_max(kern, x, n, m, 1.0, out);
	return RV_OK;
}

rv_status
rv_softmax_inplace(float *x, size_t n)
{
	return rv_softmax(x, n, x);
}

/*
 * Blocks of logits with a poll of job between them, so that a cancel
 * request is seen within a bounded amount of work; one finiteness check
 * at the end (callers tell a bad input from an overflow).
 */
rv_status
rv_logits_rows(const rv_kernels *kern, const float *q, const float *K,
			   size_t n, size_t d, size_t ldk, float scale, float *s,
			   float *max, rv_job *job)
{
	float		m = -INFINITY;

	for (size_t b = 0; b < n; b += RV_CANCEL_BLOCK)
	{
		size_t		len = n - b < RV_CANCEL_BLOCK ? n - b : RV_CANCEL_BLOCK;
		float		mb = kern->scores(q, K + b * ldk, len, d, ldk, scale, s + b);

		if (mb > m)
			m = mb;
		if (rv_job_should_stop(job))
			return RV_ERR_CANCELLED;
	}
	if (!kern->all_finite(s, n))
		return RV_ERR_NONFINITE;
	*max = m;
	return RV_OK;
}

rv_status
rv_weights_one(const rv_kernels *kern, const float *q, const float *K,
			   size_t n, size_t d, size_t ldk, float scale, float *w,
			   rv_job *job)
{
	float		m;
	rv_status	st = rv_logits_rows(kern, q, K, n, d, ldk, scale, w, &m, job);

	if (st != RV_OK)
		return st;
	rv_softmax_from_max(kern, w, n, m, 1.0, w);
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
		rv_softmax_from_max(kern, W + h * n, n, m[h], 1.0, W + h * n);
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
