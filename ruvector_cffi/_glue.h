/*
 * _glue.h: C helpers of the Python binding (compiled into the cffi module
 * only; the core itself never allocates).
 *
 * The forward functions need a scratch buffer whose size the core reports.
 * Asking for the size, allocating it from Python and passing it back costs
 * three extra crossings of the Python/C boundary per call, a large share of
 * a small call.  These wrappers do the same in C: the scratch lives on the
 * stack when it is small (the common decode case) and comes from malloc
 * otherwise; RV_ERR_SIZE_OVERFLOW / RV_ERR_NOMEM report what cannot be had.
 */
#include <stdlib.h>

#include "ruvector.h"

#define RVPY_STACK_FLOATS 4096	/* 16 kB: well inside any thread's stack */

/* scratch of `floats` floats: stack when it fits, else heap (*heap set) */
static rv_status
rvpy_scratch(size_t floats, float *stack, float **scratch, float **heap)
{
	*heap = NULL;
	if (floats == (size_t) -1 || floats > (size_t) -1 / sizeof(float))
		return RV_ERR_SIZE_OVERFLOW;
	if (floats <= RVPY_STACK_FLOATS)
	{
		*scratch = stack;
		return RV_OK;
	}
	*heap = malloc(floats * sizeof(float));
	*scratch = *heap;
	return *heap ? RV_OK : RV_ERR_NOMEM;
}

/*
 * The body of every wrapper below: scratch of `floats` floats (scratch is
 * in scope for `call`), then the call, then the scratch released.
 */
#define RVPY_WITH_SCRATCH(floats, call) \
	do { \
		float		stack_[RVPY_STACK_FLOATS]; \
		float	   *scratch, \
				   *heap_; \
		rv_status	st_ = rvpy_scratch((floats), stack_, &scratch, &heap_); \
		\
		if (st_ == RV_OK) \
			st_ = (call); \
		free(heap_); \
		return st_; \
	} while (0)

static rv_status
rvpy_scaled_dot_attention(const float *Q, size_t m, const float *K,
						  const float *V, size_t n, size_t d, size_t dv,
						  float scale, float *out, const rv_exec *ex)
{
	RVPY_WITH_SCRATCH(rv_scaled_dot_attention_scratch(m, n, d, dv, ex),
					  rv_scaled_dot_attention(Q, m, K, V, n, d, dv, scale, out, scratch, ex));
}

static rv_status
rvpy_flash_attention(const float *Q, size_t m, const float *K, const float *V,
					 size_t n, size_t d, size_t dv, float scale,
					 size_t block_size, float *out, const rv_exec *ex)
{
	RVPY_WITH_SCRATCH(rv_flash_attention_scratch(m, n, d, dv, block_size, ex),
					  rv_flash_attention(Q, m, K, V, n, d, dv, scale, block_size, out,
										 scratch, ex));
}

static rv_status
rvpy_multi_head_attention(const float *Q, size_t m, const float *K,
						  const float *V, size_t n, size_t d, size_t dv,
						  size_t num_heads, float *out, float *avg_weights,
						  const rv_exec *ex)
{
	RVPY_WITH_SCRATCH(rv_multi_head_attention_scratch(m, n, d, dv, num_heads,
													  avg_weights != NULL, ex),
					  rv_multi_head_attention(Q, m, K, V, n, d, dv, num_heads, out,
											  avg_weights, scratch, ex));
}

/* rv_attention: any type, its parameters in p */
static rv_status
rvpy_attention(const rv_attention_params *p, const float *Q, size_t m,
			   const float *K, const float *V, size_t n, size_t d, size_t dv,
			   float *out, const rv_exec *ex)
{
	RVPY_WITH_SCRATCH(rv_attention_scratch(p, m, n, d, dv, ex),
					  rv_attention(p, Q, m, K, V, n, d, dv, out, scratch, ex));
}

/* rv_attention_weights: W is m x n */
static rv_status
rvpy_attention_weights(const rv_attention_params *p, const float *Q, size_t m,
					   const float *K, size_t n, size_t d, float *W,
					   const rv_exec *ex)
{
	RVPY_WITH_SCRATCH(rv_attention_weights_scratch(p, m, n, d, ex),
					  rv_attention_weights(p, Q, m, K, n, d, W, scratch, ex));
}

/* the linear-attention summary M (d x (dv + 1)) of K and V */
static rv_status
rvpy_linear_attention_summary(const float *K, const float *V, size_t n,
							  size_t d, size_t dv, float *M, const rv_exec *ex)
{
	RVPY_WITH_SCRATCH(rv_linear_summary_scratch(n, d, dv, ex),
					  rv_linear_attention_summary(K, V, n, d, dv, M, scratch, ex));
}

/* linear attention of m queries from a summary M */
static rv_status
rvpy_linear_attention_from_summary(const float *Q, size_t m, const float *M,
								   size_t d, size_t dv, float *out,
								   const rv_exec *ex)
{
	RVPY_WITH_SCRATCH(rv_linear_from_summary_scratch(m, d, dv, ex),
					  rv_linear_attention_from_summary(Q, m, M, d, dv, out, scratch, ex));
}
