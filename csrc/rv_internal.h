/*
 * rv_internal.h: helpers shared by the attention drivers (internal).
 */
#ifndef RV_INTERNAL_H
#define RV_INTERNAL_H

#include <stddef.h>

#include "rv_kernels.h"
#include "rv_threads.h"

/* *out = a * b, RV_ERR_SIZE_OVERFLOW when it does not fit in size_t */
static inline rv_status
rv_mul_size(size_t a, size_t b, size_t *out)
{
	if (__builtin_mul_overflow(a, b, out))
		return RV_ERR_SIZE_OVERFLOW;
	return RV_OK;
}

/*
 * Floats of K and V that one query reads: the unit of the threading
 * threshold (saturates instead of overflowing).
 */
static inline size_t
rv_query_work(size_t n, size_t d, size_t dv)
{
	size_t		w;

	if (d + dv < d || rv_mul_size(n, d + dv, &w))
		return (size_t) -1;
	return w;
}

/*
 * out[i] = exp(x[i] - m) for a softmax (m finite, m >= every x[i]; out may
 * equal x), returning the sum: float lanes inside blocks of RV_SUM_BLOCK
 * entries, blocks added in double, so that the sum stays accurate for any n
 * and any spread of the terms.
 */
double		rv_exp_sum_blocked(const rv_kernels *kern, const float *x, size_t n,
							   float m, float *out);

/*
 * Attention weights of one query (softmax.c): w = softmax(scale * K q) for n
 * rows of K with row stride ldk, d columns.  Polls job between blocks.
 */
rv_status	rv_weights_one(const rv_kernels *kern, const float *q,
						   const float *K, size_t n, size_t d, size_t ldk,
						   float scale, float *w, rv_job *job);

/* Most heads rv_weights_heads takes at once. */
#define RV_GROUP_MAX 16

/*
 * rv_weights_one for a group of heads <= RV_GROUP_MAX (softmax.c): head h
 * uses q + h * dh and columns K + h * dh (row stride ldk) and writes its n
 * weights to W + h * n, bit-identical to rv_weights_one on that head.
 */
rv_status	rv_weights_heads(const rv_kernels *kern, const float *q,
							 const float *K, size_t n, size_t dh,
							 size_t heads, size_t ldk, float scale, float *W,
							 rv_job *job);

/*
 * What every forward driver (attention.c, flash.c) hands its tasks: the
 * arrays, their sizes, the logit scale, the output and the scratch.
 */
typedef struct rv_forward
{
	const rv_kernels *kern;
	const float *Q, *K, *V;
	size_t		n, d, dv;
	float		scale;
	float	   *out, *scratch;
} rv_forward;

/*
 * The checks the forward functions share (sizes, heads: 1 for the
 * single-head ones, buffers, scale), then f filled in.  *nothing is set
 * when there is no query (m == 0): the call then succeeds doing nothing.
 */
rv_status	rv_forward_init(rv_forward *f, const float *Q, size_t m,
							const float *K, const float *V, size_t n,
							size_t d, size_t dv, size_t num_heads,
							float scale, float *out, float *scratch,
							int *nothing);

/*
 * The generic entry points (generic.c) reach every type through these
 * three functions per type t: the weights of m queries (W: m x n, see
 * rv_attention_weights) with their scratch, and the pair logit (see
 * rv_attention_logit).  p holds the type's parameters, already validated
 * by nobody: each function checks the ones it uses.
 */
#define RV_TYPE_OPS(t) \
	size_t		rv_##t##_weights_scratch(const rv_attention_params *p, size_t m, \
										 size_t n, size_t d, const rv_exec *ex); \
	rv_status	rv_##t##_weights(const rv_attention_params *p, const float *Q, \
								 size_t m, const float *K, size_t n, size_t d, \
								 float *W, float *scratch, const rv_exec *ex); \
	rv_status	rv_##t##_logit(const rv_attention_params *p, const float *q, \
							   const float *k, size_t d, float *out)

/* ---- linear.c, gat.c, sparse.c, moe.c ---- */

RV_TYPE_OPS(linear);
RV_TYPE_OPS(gat);
RV_TYPE_OPS(sparse);
RV_TYPE_OPS(moe);

/* The logit scale of a type whose default is 1/sqrt(d): NAN selects it. */
static inline float
rv_scale_or_default(float scale, size_t d)
{
	return scale != scale ? rv_default_scale(d) : scale;
}

/*
 * Helpers these four drivers share (sparse.c).
 *
 * rv_logits_rows: s[i] = scale * q.K_i for n rows of d floats (stride d),
 * in blocks of RV_CANCEL_BLOCK rows with a poll of job after each;
 * *max = max_i s[i].  RV_ERR_NONFINITE when some s[i] is not finite.
 */
rv_status	rv_logits_rows(const rv_kernels *kern, const float *q, const float *K,
						   size_t n, size_t d, float scale, float *s,
						   float *max, rv_job *job);

/*
 * out = beta * out + sum_i w_i V_i over n rows of dv floats (stride ldv),
 * in blocks of RV_CANCEL_BLOCK rows with a poll of job after each (beta
 * applies once: 0 overwrites out without reading it).  RV_OK or
 * RV_ERR_CANCELLED; the caller checks the result for non-finite values.
 */
rv_status	rv_weighted_rows_polled(const rv_kernels *kern, const float *w,
									const float *V, size_t n, size_t dv,
									size_t ldv, float beta, float *out,
									rv_job *job);

/* sum_i x[i] in double, in a fixed order (four accumulators) */
double		rv_sum_f64(const float *x, size_t n);

/*
 * Top-k selection without sorting: rv_top_k_init finds, with a bounded
 * min-heap of k floats (heap: k floats of scratch), the k-th largest value
 * t of x (1 <= k <= n, no NaN in x) in O(n log k), and how many entries
 * equal to t belong to the top k.  Then a scan of x in index order calling
 * rv_top_k_take on each entry (on a copy of the rv_top_k, once per scan)
 * selects exactly the top k, with ties to the lower index: every x[i] > t,
 * and the first `ties` entries equal to t.
 */
typedef struct rv_top_k
{
	float		t;				/* the k-th largest value */
	size_t		ties;			/* entries equal to t still to be taken */
} rv_top_k;

void		rv_top_k_init(rv_top_k *sel, const float *x, size_t n, size_t k,
						  float *heap);

static inline int
rv_top_k_take(rv_top_k *sel, float x)
{
	if (x > sel->t)
		return 1;
	if (x == sel->t && sel->ties > 0)
	{
		sel->ties--;
		return 1;
	}
	return 0;
}

/*
 * What rv_forward_init is to the forward functions, for the
 * rv_<t>_weights functions (after their own parameter checks): d
 * (RV_ERR_EMPTY_QUERY), scale (RV_ERR_SCALE when not finite), nothing to
 * do when m or n is 0 (then *nothing is set and RV_OK returned), buffers
 * (scratch only when need_scratch), size overflow of m n, m d and n d;
 * then f filled in (no V, dv 0, no out).
 */
rv_status	rv_weights_init(rv_forward *f, const float *Q, size_t m,
							const float *K, size_t n, size_t d, float scale,
							const float *W, float *scratch, int need_scratch,
							int *nothing);

/* ---- hyperbolic.c ---- */
RV_TYPE_OPS(poincare);
RV_TYPE_OPS(lorentz);

/* ---- cross.c (cross, sliding) ---- */

RV_TYPE_OPS(cross);
RV_TYPE_OPS(sliding);

/*
 * FlashAttention-2 for one query row (flash.c, also the per-row path of
 * cross.c): out row O (dv floats) = softmax(scale * K q) V over n keys,
 * K rows with stride ldk (d columns), V rows with stride ldv (dv
 * columns), in tiles of block keys; S is block floats of scratch.  Polls
 * job every RV_CANCEL_BLOCK keys.
 */
rv_status	rv_flash_row(const rv_kernels *kern, const float *q,
						 const float *K, size_t ldk, const float *V,
						 size_t ldv, size_t n, size_t d, size_t dv,
						 float scale, size_t block, float *S, float *O,
						 rv_job *job);

#endif							/* RV_INTERNAL_H */
