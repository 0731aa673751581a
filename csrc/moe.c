/*
 * moe.c: mixture-of-experts attention.
 *
 * The n keys form E = min(n_experts, n) contiguous groups (experts) whose
 * sizes differ by at most one, the first n % E groups one key larger.  For
 * one query: the logits s = scale K q (one scores pass over all keys); the
 * gate of group e is the mean of its logits (summed in double); the top_k
 * groups by gate (ties to the lower index, rv_top_k) are chosen and their
 * gates softmaxed into g_e; each chosen group's logits are softmaxed
 * within the group and scaled by g_e, in place, giving the weights
 * w_i = g_e softmax_e(s)_i (0 for keys of other groups); then
 * out = sum of w_i v_i over the chosen groups in ascending order, which is
 * sum_e g_e * scaled_dot_attention(q, K_e, V_e), one rv_vsum over the
 * runs of chosen groups.  Only the chosen groups pay for the exp and the
 * value rows.
 */
#include <math.h>
#include <string.h>

#include "rv_internal.h"

typedef struct moe_args
{
	rv_forward	f;				/* scratch: moe_slot floats per worker */
	size_t		E;				/* groups */
	size_t		top;			/* chosen groups, min(top_k, E) */
	float	   *W;				/* weights: m x n, or NULL for the forward */
} moe_args;

/* first key of group e; group e has group_start(e + 1) - group_start(e) keys */
static size_t
group_start(size_t n, size_t E, size_t e)
{
	size_t		base = n / E,
				rem = n % E;

	return e * base + (e < rem ? e : rem);
}

/*
 * Scratch floats of one worker: gates, heap, and for the forward the
 * logits and the value sum's dv doubles (callers keep n below SIZE_MAX /
 * 4, so that E + top + n does not overflow; (size_t) -1 when the doubles
 * do not fit).
 */
static size_t
moe_slot(size_t n, size_t dv, size_t E, size_t top, int forward)
{
	return forward ? rv_slot_f64(E + top + n, dv) : E + top;
}

/*
 * The weights of one query in s (n floats): the logits, then the weights
 * of the chosen groups in place (other groups keep their logits unless
 * zero_rest, which sets them to 0).  gates: E floats, heap: top floats;
 * *sel selects the chosen groups on a scan of gates.
 */
static rv_status
moe_weights_one(const moe_args *a, const float *q, float *s, float *gates,
				float *heap, int zero_rest, rv_top_k *sel, rv_job *job)
{
	const rv_kernels *kern = a->f.kern;
	size_t		n = a->f.n,
				E = a->E;
	rv_top_k	take;
	float		max,
				gmax = -INFINITY;
	double		gsum = 0.0;
	rv_status	st;

	st = rv_logits_rows(kern, q, a->f.K, n, a->f.d, a->f.d, a->f.scale, s, &max, job);
	if (st != RV_OK)
		return st;
	for (size_t e = 0; e < E; e++)
	{
		size_t		first = group_start(n, E, e),
					len = group_start(n, E, e + 1) - first;

		gates[e] = (float) (rv_sum_f64(s + first, len) / (double) len);
		if (gates[e] > gmax)
			gmax = gates[e];
	}
	rv_top_k_init(sel, gates, E, a->top, heap);
	/* the largest gate is chosen: gmax is the max of the chosen ones */
	take = *sel;
	for (size_t e = 0; e < E; e++)
		if (rv_top_k_take(&take, gates[e]))
			gsum += rv_expf_serial(gates[e] - gmax);
	take = *sel;
	for (size_t e = 0; e < E; e++)
	{
		size_t		first = group_start(n, E, e),
					len = group_start(n, E, e + 1) - first;

		if (rv_top_k_take(&take, gates[e]))
		{
			/* the logits are finite (rv_logits_rows checked): bad stays 0 */
			int			bad;
			float		m = kern->max_checked(s + first, len, &bad);

			rv_softmax_from_max(kern, s + first, len, m,
								rv_expf_serial(gates[e] - gmax) / gsum, s + first);
		}
		else if (zero_rest)
			memset(s + first, 0, len * sizeof(float));
	}
	return RV_OK;
}

/* one query row: the forward (out row r), or the weights (W row r) */
static rv_status
moe_task(rv_job *job, void *arg, size_t r, size_t worker)
{
	const moe_args *a = arg;
	size_t		n = a->f.n,
				E = a->E,
				dv = a->f.dv;
	float	   *slot = a->f.scratch + worker * moe_slot(n, dv, E, a->top, a->W == NULL);
	float	   *gates = slot;
	float	   *s = a->W ? a->W + r * n : gates + E + a->top;
	float	   *out;
	rv_top_k	sel;
	rv_vsum		sum;
	rv_status	st;

	st = moe_weights_one(a, a->f.Q + r * a->f.d, s, gates, gates + E, a->W != NULL, &sel, job);
	if (st != RV_OK || a->W)
		return st;
	/* runs of consecutive chosen groups: their weights are consecutive in s */
	out = a->f.out + r * dv;
	rv_vsum_init(&sum, a->f.kern, dv, 1, out, rv_f64_at(s + n), job);
	for (size_t e = 0; e < E;)
	{
		size_t		e0;

		if (!rv_top_k_take(&sel, gates[e]))
		{
			e++;
			continue;
		}
		e0 = e++;
		while (e < E && rv_top_k_take(&sel, gates[e]))
			e++;
		{
			size_t		first = group_start(n, E, e0),
						len = group_start(n, E, e) - first;

			st = rv_vsum_add(&sum, s + first, 0, a->f.V + first * dv, len, dv);
		}
		if (st != RV_OK)
			return st;
	}
	return rv_vsum_finish(&sum, 1.0, out);
}

/* groups and chosen groups for n keys */
static void
moe_shape(size_t n, size_t n_experts, size_t top_k, size_t *E, size_t *top)
{
	*E = n_experts < n ? n_experts : n;
	*top = top_k < *E ? top_k : *E;
}

static size_t
moe_scratch(size_t m, size_t n, size_t d, size_t dv, size_t n_experts,
			size_t top_k, int forward, const rv_exec *ex)
{
	size_t		E, top, s;

	if (n_experts < 1 || top_k < 1)
		return (size_t) -1;
	moe_shape(n, n_experts, top_k, &E, &top);
	if (n > (size_t) -1 / 4 || moe_slot(n, dv, E, top, forward) == (size_t) -1 ||
		rv_mul_size(rv_plan_threads(m, rv_query_work(n, d, dv), ex),
					moe_slot(n, dv, E, top, forward), &s))
		return (size_t) -1;
	return s;
}

size_t
rv_moe_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
						 size_t n_experts, size_t top_k, const rv_exec *ex)
{
	return moe_scratch(m, n, d, dv, n_experts, top_k, 1, ex);
}

rv_status
rv_moe_attention(const float *Q, size_t m, const float *K, const float *V,
				 size_t n, size_t d, size_t dv, size_t n_experts,
				 size_t top_k, float scale, float *out, float *scratch,
				 const rv_exec *ex)
{
	moe_args	a;
	int			nothing;
	rv_status	st;

	if (n_experts < 1)
		return RV_ERR_N_EXPERTS;
	if (top_k < 1)
		return RV_ERR_TOP_K;
	st = rv_forward_init(&a.f, Q, m, K, V, n, d, dv, 1, rv_scale_or_default(scale, d),
						 out, scratch, &nothing);
	if (st != RV_OK || nothing)
		return st;
	if (moe_scratch(m, n, d, dv, n_experts, top_k, 1, ex) == (size_t) -1)
		return RV_ERR_SIZE_OVERFLOW;
	moe_shape(n, n_experts, top_k, &a.E, &a.top);
	a.W = NULL;
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(n, d, dv), ex), moe_task, &a, ex);
}

/* ---------------- the generic entry points ---------------- */

size_t
rv_moe_weights_scratch(const rv_attention_params *p, size_t m, size_t n,
					   size_t d, const rv_exec *ex)
{
	if (p == NULL)
		return (size_t) -1;
	return moe_scratch(m, n, d, 0, p->n_experts, p->top_k, 0, ex);
}

rv_status
rv_moe_weights(const rv_attention_params *p, const float *Q, size_t m,
			   const float *K, size_t n, size_t d, float *W, float *scratch,
			   const rv_exec *ex)
{
	moe_args	a;
	int			nothing;
	rv_status	st;

	if (p == NULL)
		return RV_ERR_NULL_ARG;
	if (p->n_experts < 1)
		return RV_ERR_N_EXPERTS;
	if (p->top_k < 1)
		return RV_ERR_TOP_K;
	st = rv_weights_init(&a.f, Q, m, K, n, d, rv_scale_or_default(p->scale, d), W, scratch, 1,
						 &nothing);
	if (st != RV_OK || nothing)
		return st;
	moe_shape(n, p->n_experts, p->top_k, &a.E, &a.top);
	a.W = W;
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(n, d, 0), ex), moe_task, &a, ex);
}

rv_status
rv_moe_logit(const rv_attention_params *p, const float *q, const float *k,
			 size_t d, float *out)
{
	if (p == NULL)
		return RV_ERR_NULL_ARG;
	return rv_attention_score(q, k, d, rv_scale_or_default(p->scale, d), out);
}
