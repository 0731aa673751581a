/*
 * rv_internal.h: helpers shared by the attention drivers (internal).
 */
#ifndef RV_INTERNAL_H
#define RV_INTERNAL_H

#include <stddef.h>
#include <stdint.h>

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
 * Doubles in float scratch: *floats = the floats that hold k doubles at
 * rv_f64_at(p), 8-byte aligned whatever the alignment of the float p (one
 * float of slack), RV_ERR_SIZE_OVERFLOW when that does not fit in size_t.
 */
static inline rv_status
rv_f64_floats(size_t k, size_t *floats)
{
	if (rv_mul_size(k, sizeof(double) / sizeof(float), floats) ||
		__builtin_add_overflow(*floats, 1, floats))
		return RV_ERR_SIZE_OVERFLOW;
	return RV_OK;
}

/*
 * A worker's slot of `floats` floats followed by k doubles (at
 * rv_f64_at(slot + floats)): its size in floats, (size_t) -1 on overflow.
 */
static inline size_t
rv_slot_f64(size_t floats, size_t k)
{
	size_t		s;

	if (rv_f64_floats(k, &s) || __builtin_add_overflow(s, floats, &s))
		return (size_t) -1;
	return s;
}

static inline double *
rv_f64_at(float *p)
{
	uintptr_t	u = (uintptr_t) p;

	return (double *) ((u + sizeof(double) - 1) & ~(uintptr_t) (sizeof(double) - 1));
}

/* ---- softmax.c: the sums every driver shares ---- */

/*
 * out[i] = exp(x[i] - m) for a softmax (m finite, m >= every x[i]; out may
 * equal x), returning the sum: float lanes inside blocks of RV_SUM_BLOCK
 * entries, blocks added in double, so that the sum stays accurate for any n
 * and any spread of the terms.
 */
double		rv_exp_sum_blocked(const rv_kernels *kern, const float *x, size_t n,
							   float m, float *out);

/*
 * The end of a softmax from its max m (finite, m >= every x[i], no NaN in
 * x): out[i] = coef * exp(x[i] - m) / sum_j exp(x[j] - m), the sum by
 * rv_exp_sum_blocked, then one scale by the float coef / sum.  out may
 * equal x.
 */
void		rv_softmax_from_max(const rv_kernels *kern, const float *x,
								size_t n, float m, double coef, float *out);

/*
 * Logits of one query: s[i] = scale * q.K_i for n rows of d floats (row
 * stride ldk), in blocks of RV_CANCEL_BLOCK rows with a poll of job after
 * each; *max = max_i s[i].  RV_ERR_NONFINITE when some s[i] is not finite
 * (a NaN/Infinity in q or K, or a dot product that overflowed float).
 */
rv_status	rv_logits_rows(const rv_kernels *kern, const float *q,
						   const float *K, size_t n, size_t d, size_t ldk,
						   float scale, float *s, float *max, rv_job *job);

/*
 * Attention weights of one query: w = softmax(scale * K q) for n rows of K
 * with row stride ldk, d columns (rv_logits_rows, then
 * rv_softmax_from_max).  Polls job between blocks.
 */
rv_status	rv_weights_one(const rv_kernels *kern, const float *q,
						   const float *K, size_t n, size_t d, size_t ldk,
						   float scale, float *w, rv_job *job);

/*
 * Weighted sums of value rows that stay accurate for any number of rows
 * and any spread of the weights: float partials over at most RV_VALUE_BLOCK
 * rows added into a double accumulator.  A float sum that runs over all n
 * rows loses every term below half an ulp of its running value: one
 * weight near 1 and 4095 of 2.4e-8 lose 1e-4 of the result.  An add of at
 * least RV_VALUE_BLOCK rows goes through the table's weighted_sum_acc (which
 * keeps its long streams over V); shorter adds share a float partial
 * (weighted_sum, beta 0 then 1) that is flushed into acc by
 * accumulate_f64 when it holds RV_VALUE_BLOCK rows.
 *
 * The sum held is A acc + part (the rows since the last flush are in part,
 * unscaled).  rv_vsum_init: dv = heads * dvh columns (heads > 1: head h
 * has weights W + h ldw and value columns [h dvh, (h + 1) dvh), as
 * rv_head_weighted_sum), part dv floats (may be the output), acc dv
 * doubles; job is polled every RV_CANCEL_BLOCK rows added (NULL: never).
 * rv_vsum_add adds rows V_i (stride ldv) with weights W[i], in any number
 * of calls; its partial blocks depend only on the rows added so far.
 * rv_vsum_scale multiplies the whole sum by a (the online softmax's
 * rescale): it flushes part first, so a == 0 keeps a NaN/Infinity already
 * added non-finite.  rv_vsum_finish polls job once more (the end of a
 * query's value pass), then out (dv floats, may be part) = mul * the sum
 * rounded to float, RV_ERR_NONFINITE when some out[j] is not finite.
 * rv_vsum_add returns RV_OK or RV_ERR_CANCELLED.
 */
typedef struct rv_vsum
{
	const rv_kernels *kern;
	size_t		dvh,			/* columns per head */
				heads;
	float	   *part;			/* dv floats: the float partial */
	double	   *acc;			/* dv doubles */
	double		A;				/* the pending factor of acc */
	size_t		rows;			/* rows in part */
	size_t		since_poll;
	rv_job	   *job;
} rv_vsum;

void		rv_vsum_init(rv_vsum *s, const rv_kernels *kern, size_t dvh,
						 size_t heads, float *part, double *acc, rv_job *job);
rv_status	rv_vsum_add(rv_vsum *s, const float *W, size_t ldw, const float *V,
						size_t n, size_t ldv);
void		rv_vsum_scale(rv_vsum *s, double a);
rv_status	rv_vsum_finish(rv_vsum *s, double mul, float *out);

/*
 * out = sum_i w_i V_i over n rows of dv floats (stride ldv) by an rv_vsum
 * whose partial is out itself (acc: dv doubles), polling job every
 * RV_CANCEL_BLOCK rows; RV_ERR_NONFINITE when out is not finite (a
 * NaN/Infinity in V, or an overflow), RV_ERR_CANCELLED.
 */
rv_status	rv_weighted_rows(const rv_kernels *kern, const float *w,
							 const float *V, size_t n, size_t dv, size_t ldv,
							 float *out, double *acc, rv_job *job);

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
 * What the forward drivers hand their tasks (and the weights functions,
 * without V and out): the arrays, their sizes, the logit scale, the output
 * and the scratch.
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
 * The weights of the seed's types for the generic entry points
 * (attention.c): H == 1, W row r = softmax(scale * K q_r) as
 * rv_attention_scores (scale NAN: 1/sqrt(d)); H > 1, the multi-head
 * weights of rv_multi_head_scores (each head's scale 1/sqrt(d/H), scale
 * unused).  One query row per task on threads (per worker n H floats of
 * scratch when H > 1, none otherwise), polling the cancel callback as
 * rv_weights_one does.  Also the weights of sparse attention with
 * top_k >= n.
 */
size_t		rv_dense_weights_scratch(size_t m, size_t n, size_t d, size_t H,
									 const rv_exec *ex);
rv_status	rv_dense_weights(const float *Q, size_t m, const float *K,
							 size_t n, size_t d, size_t H, float scale,
							 float *W, float *scratch, const rv_exec *ex);

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

/* Helpers these four drivers share (sparse.c). */

/* sum_i x[i] in double, in a fixed order (four accumulators) */
double		rv_sum_f64(const float *x, size_t n);

/*
 * fn(arg, first, len) over the n keys in blocks of RV_CANCEL_BLOCK keys
 * (first = b RV_CANCEL_BLOCK), one task per block, on the threads ex
 * allows for d floats of work per key: a per-call pass over the keys
 * (linear's phi(K), gat's a2.K) whose blocks write disjoint outputs.
 */
typedef void (*rv_keys_fn) (void *arg, size_t first, size_t len);
rv_status	rv_run_key_blocks(size_t n, size_t d, rv_keys_fn fn, void *arg,
							  const rv_exec *ex);

/*
 * Top-k selection without sorting: rv_top_k_init finds the k-th largest
 * value t of x (1 <= k <= n, no NaN in x), with a bounded min-heap of k
 * floats (heap: k floats of scratch, O(n log k)) while k is small against
 * n, else by a radix selection on the bits of the floats (O(n), heap
 * unused), and how many entries equal to t belong to the top k.  Then a
 * scan of x in index order calling rv_top_k_take on each entry (on a copy
 * of the rv_top_k, once per scan) selects exactly the top k, with ties to
 * the lower index: every x[i] > t, and the first `ties` entries equal to t.
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
 * columns), in tiles of block keys; S is block floats of scratch, acc dv
 * doubles (O's accumulator).  Polls job every RV_CANCEL_BLOCK keys.
 */
rv_status	rv_flash_row(const rv_kernels *kern, const float *q,
						 const float *K, size_t ldk, const float *V,
						 size_t ldv, size_t n, size_t d, size_t dv,
						 float scale, size_t block, float *S, float *O,
						 double *acc, rv_job *job);

#endif							/* RV_INTERNAL_H */
