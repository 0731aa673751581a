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
 * equal x), returning the sum: float lanes inside blocks of RV_CANCEL_BLOCK
 * entries, blocks added in double, so that the sum stays accurate for any n.
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

/* ---- hyperbolic.c ---- */

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
