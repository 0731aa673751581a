/*
 * gat.c: graph attention (Velickovic et al. 2018) of m query nodes over
 * their n neighbours.
 *
 * Logits: e_i = LeakyReLU(s_i) with s_i = scale * q.k_i (the scores of a
 * block, then leaky_relu in place with bias 0); or, given a = [a1; a2],
 * e_i = LeakyReLU(a1.q + a2.k_i), where c_i = a2.k_i does not depend on
 * the query: it is computed once per call (tasks over blocks of keys) and
 * a query then costs one leaky_relu pass over c with bias a1.q.  The
 * leaky_relu primitive also returns the max and checks finiteness, so the
 * softmax w = softmax(e) needs only the exp and scale passes; then
 * out = sum_i w_i v_i (rv_weighted_rows).
 */
#include <math.h>
#include <string.h>

#include "rv_internal.h"

typedef struct gat_args
{
	rv_forward	f;				/* scratch: slot floats per worker */
	size_t		slot;			/* n floats of w, then dv doubles */
	const float *a;				/* a1 = a, a2 = a + d; or NULL */
	float	   *c;				/* a2.k_i, n floats (when a is given) */
	float		slope;
	float	   *W;				/* weights: m x n, or NULL for the forward */
} gat_args;

/* w = softmax(e) of query q (n floats of w) */
static rv_status
gat_weights_one(const gat_args *a, const float *q, float *w, rv_job *job)
{
	const rv_kernels *kern = a->f.kern;
	size_t		n = a->f.n,
				d = a->f.d;
	float		m = -INFINITY,
				bias = 0.0f;
	int			bad_any = 0;

	if (a->c)
		kern->scores(a->a, q, 1, d, d, 1.0f, &bias);
	for (size_t b = 0; b < n; b += RV_CANCEL_BLOCK)
	{
		size_t		len = n - b < RV_CANCEL_BLOCK ? n - b : RV_CANCEL_BLOCK;
		float		mb;
		int			bad;

		if (a->c)
			mb = kern->leaky_relu(a->c + b, len, bias, a->slope, w + b, &bad);
		else
		{
			kern->scores(q, a->f.K + b * d, len, d, d, a->f.scale, w + b);
			mb = kern->leaky_relu(w + b, len, 0.0f, a->slope, w + b, &bad);
		}
		bad_any |= bad;
		if (mb > m)
			m = mb;
		if (rv_job_should_stop(job))
			return RV_ERR_CANCELLED;
	}
	if (bad_any)
		return RV_ERR_NONFINITE;
	rv_softmax_from_max(kern, w, n, m, 1.0, w);
	return RV_OK;
}

/* c = a2.k_i for the keys first .. first + len */
static void
gat_keys(void *arg, size_t first, size_t len)
{
	const gat_args *a = arg;

	a->f.kern->scores(a->a + a->f.d, a->f.K + first * a->f.d, len, a->f.d, a->f.d,
					  1.0f, a->c + first);
}

/* one query row: the forward (out row r), or the weights (W row r) */
static rv_status
gat_task(rv_job *job, void *arg, size_t r, size_t worker)
{
	const gat_args *a = arg;
	float	   *w = a->W ? a->W + r * a->f.n : a->f.scratch + worker * a->slot;
	rv_status	st;

	st = gat_weights_one(a, a->f.Q + r * a->f.d, w, job);
	if (st != RV_OK || a->W)
		return st;
	return rv_weighted_rows(a->f.kern, w, a->f.V, a->f.n, a->f.dv, a->f.dv,
							a->f.out + r * a->f.dv, rv_f64_at(w + a->f.n), job);
}

/* the per-call pass over the keys (when a is given), then the query rows */
static rv_status
gat_run(gat_args *a, size_t m, size_t dv, const rv_exec *ex)
{
	size_t		n = a->f.n,
				d = a->f.d;

	if (a->c)
	{
		rv_status	st = rv_run_key_blocks(n, d, gat_keys, a, ex);

		if (st != RV_OK)
			return st;
	}
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(n, d, dv), ex), gat_task, a, ex);
}

/* c (n floats, when has_a), then for the forward a slot per worker: n weights, dv doubles */
static size_t
gat_scratch(size_t m, size_t n, size_t d, size_t dv, int has_a, int forward,
			const rv_exec *ex)
{
	size_t		s = 0;

	if (forward && (rv_slot_f64(n, dv) == (size_t) -1 ||
					rv_mul_size(rv_plan_threads(m, rv_query_work(n, d, dv), ex),
								rv_slot_f64(n, dv), &s)))
		return (size_t) -1;
	if (has_a && s + n < s)
		return (size_t) -1;
	return has_a ? s + n : s;
}

size_t
rv_gat_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
						 const rv_exec *ex)
{
	/* room for c = a2.K: the same scratch serves calls with and without a */
	return gat_scratch(m, n, d, dv, 1, 1, ex);
}

rv_status
rv_gat_attention(const float *Q, size_t m, const float *K, const float *V,
				 size_t n, size_t d, size_t dv, const float *a,
				 float negative_slope, float scale, float *out,
				 float *scratch, const rv_exec *ex)
{
	gat_args	g;
	int			nothing;
	rv_status	st;

	if (!isfinite(negative_slope))
		return RV_ERR_SLOPE;
	st = rv_forward_init(&g.f, Q, m, K, V, n, d, dv, 1,
						 a ? 1.0f : rv_scale_or_default(scale, d), out, scratch, &nothing);
	if (st != RV_OK || nothing)
		return st;
	if (gat_scratch(m, n, d, dv, 1, 1, ex) == (size_t) -1)
		return RV_ERR_SIZE_OVERFLOW;
	g.a = a;
	g.c = a ? scratch : NULL;
	g.f.scratch = scratch + n;
	g.slot = rv_slot_f64(n, dv);
	g.slope = negative_slope;
	g.W = NULL;
	return gat_run(&g, m, dv, ex);
}

/* ---------------- the generic entry points ---------------- */

size_t
rv_gat_weights_scratch(const rv_attention_params *p, size_t m, size_t n,
					   size_t d, const rv_exec *ex)
{
	if (p == NULL || !isfinite(p->negative_slope))
		return (size_t) -1;
	return gat_scratch(m, n, d, 0, p->gat_a != NULL, 0, ex);
}

rv_status
rv_gat_weights(const rv_attention_params *p, const float *Q, size_t m,
			   const float *K, size_t n, size_t d, float *W, float *scratch,
			   const rv_exec *ex)
{
	gat_args	g;
	int			nothing;
	rv_status	st;

	if (p == NULL)
		return RV_ERR_NULL_ARG;
	if (!isfinite(p->negative_slope))
		return RV_ERR_SLOPE;
	st = rv_weights_init(&g.f, Q, m, K, n, d, p->gat_a ? 1.0f : rv_scale_or_default(p->scale, d),
						 W, scratch, p->gat_a != NULL, &nothing);
	if (st != RV_OK || nothing)
		return st;
	g.a = p->gat_a;
	g.c = p->gat_a ? scratch : NULL;
	g.slope = p->negative_slope;
	g.W = W;
	return gat_run(&g, m, 0, ex);
}

rv_status
rv_gat_logit(const rv_attention_params *p, const float *q, const float *k,
			 size_t d, float *out)
{
	const rv_kernels *kern = rv_active_kernels();
	float		s,
				bias = 0.0f;
	int			bad;

	if (p == NULL || q == NULL || k == NULL || out == NULL)
		return RV_ERR_NULL_ARG;
	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (!isfinite(p->negative_slope))
		return RV_ERR_SLOPE;
	if (p->gat_a)
	{
		/* as the forward: c = a2.k, bias a1.q */
		kern->scores(p->gat_a, q, 1, d, d, 1.0f, &bias);
		kern->scores(p->gat_a + d, k, 1, d, d, 1.0f, &s);
	}
	else
	{
		float		scale = rv_scale_or_default(p->scale, d);

		if (!isfinite(scale))
			return RV_ERR_SCALE;
		kern->scores(q, k, 1, d, d, scale, &s);
	}
	kern->leaky_relu(&s, 1, bias, p->negative_slope, out, &bad);
	return bad ? RV_ERR_NONFINITE : RV_OK;
}
