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

static rv_status
rvpy_scaled_dot_attention(const float *Q, size_t m, const float *K,
						  const float *V, size_t n, size_t d, size_t dv,
						  float scale, float *out, const rv_exec *ex)
{
	float		stack[RVPY_STACK_FLOATS];
	float	   *scratch,
			   *heap;
	rv_status	st = rvpy_scratch(rv_scaled_dot_attention_scratch(m, n, d, dv, ex),
								  stack, &scratch, &heap);

	if (st == RV_OK)
		st = rv_scaled_dot_attention(Q, m, K, V, n, d, dv, scale, out, scratch, ex);
	free(heap);
	return st;
}

static rv_status
rvpy_flash_attention(const float *Q, size_t m, const float *K, const float *V,
					 size_t n, size_t d, size_t dv, float scale,
					 size_t block_size, float *out, const rv_exec *ex)
{
	float		stack[RVPY_STACK_FLOATS];
	float	   *scratch,
			   *heap;
	rv_status	st = rvpy_scratch(rv_flash_attention_scratch(m, n, d, dv, block_size, ex),
								  stack, &scratch, &heap);

	if (st == RV_OK)
		st = rv_flash_attention(Q, m, K, V, n, d, dv, scale, block_size, out,
								scratch, ex);
	free(heap);
	return st;
}

static rv_status
rvpy_multi_head_attention(const float *Q, size_t m, const float *K,
						  const float *V, size_t n, size_t d, size_t dv,
						  size_t num_heads, float *out, float *avg_weights,
						  const rv_exec *ex)
{
	float		stack[RVPY_STACK_FLOATS];
	float	   *scratch,
			   *heap;
	rv_status	st = rvpy_scratch(rv_multi_head_attention_scratch(m, n, d, dv, num_heads,
																  avg_weights != NULL, ex),
								  stack, &scratch, &heap);

	if (st == RV_OK)
		st = rv_multi_head_attention(Q, m, K, V, n, d, dv, num_heads, out,
									 avg_weights, scratch, ex);
	free(heap);
	return st;
}
