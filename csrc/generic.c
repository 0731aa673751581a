/*
 * generic.c: one entry point for every attention type.
 *
 * rv_attention, rv_attention_weights and rv_attention_logit take the type
 * and its parameters in an rv_attention_params and hand them to the type's
 * own functions, mapping the "default scale" NAN for the seed's drivers,
 * which take an explicit scale.  The weights of the seed's types
 * (scaled_dot, flash_v2: the same weights; multi_head) come from
 * rv_dense_weights (attention.c), which runs query rows on threads.
 */
#include <math.h>
#include <string.h>

#include "rv_internal.h"

rv_status
rv_attention_params_init(rv_attention_params *p, rv_attention_type t)
{
	if (p == NULL)
		return RV_ERR_NULL_ARG;
	if ((int) t < 0 || t >= RV_ATTN_TYPE_COUNT)
		return RV_ERR_UNKNOWN_TYPE;
	memset(p, 0, sizeof(*p));
	p->type = t;
	p->scale = NAN;
	p->num_heads = t == RV_ATTN_MULTI_HEAD ? RV_DEFAULT_NUM_HEADS : 1;
	p->block_size = RV_DEFAULT_BLOCK_SIZE;
	p->top_k = t == RV_ATTN_MOE ? RV_DEFAULT_MOE_TOP_K : RV_DEFAULT_SPARSE_TOP_K;
	p->n_experts = RV_DEFAULT_N_EXPERTS;
	p->window = RV_DEFAULT_WINDOW;
	p->causal = 0;
	p->negative_slope = RV_DEFAULT_NEGATIVE_SLOPE;
	p->gat_a = NULL;
	p->curvature = RV_DEFAULT_CURVATURE;
	return RV_OK;
}

size_t
rv_attention_scratch(const rv_attention_params *p, size_t m, size_t n,
					 size_t d, size_t dv, const rv_exec *ex)
{
	if (p == NULL)
		return (size_t) -1;
	switch (p->type)
	{
		case RV_ATTN_SCALED_DOT:
			return rv_scaled_dot_attention_scratch(m, n, d, dv, ex);
		case RV_ATTN_MULTI_HEAD:
			return rv_multi_head_attention_scratch(m, n, d, dv, p->num_heads, 0, ex);
		case RV_ATTN_FLASH_V2:
			return rv_flash_attention_scratch(m, n, d, dv, p->block_size, ex);
		case RV_ATTN_LINEAR:
			return rv_linear_attention_scratch(m, n, d, dv, ex);
		case RV_ATTN_GAT:
			return rv_gat_attention_scratch(m, n, d, dv, ex);
		case RV_ATTN_SPARSE:
			return rv_sparse_attention_scratch(m, n, d, dv, p->top_k, ex);
		case RV_ATTN_MOE:
			return rv_moe_attention_scratch(m, n, d, dv, p->n_experts, p->top_k, ex);
		case RV_ATTN_CROSS:
			return rv_cross_attention_scratch(m, n, d, dv, p->num_heads, ex);
		case RV_ATTN_SLIDING:
			return rv_sliding_window_attention_scratch(m, n, d, dv, p->window, ex);
		case RV_ATTN_POINCARE:
		case RV_ATTN_LORENTZ:
			return rv_hyperbolic_attention_scratch(m, n, d, dv, ex);
		default:
			return (size_t) -1;
	}
}

rv_status
rv_attention(const rv_attention_params *p, const float *Q, size_t m,
			 const float *K, const float *V, size_t n, size_t d, size_t dv,
			 float *out, float *scratch, const rv_exec *ex)
{
	if (p == NULL)
		return RV_ERR_NULL_ARG;
	switch (p->type)
	{
		case RV_ATTN_SCALED_DOT:
			return rv_scaled_dot_attention(Q, m, K, V, n, d, dv,
										   rv_scale_or_default(p->scale, d),
										   out, scratch, ex);
		case RV_ATTN_MULTI_HEAD:
			return rv_multi_head_attention(Q, m, K, V, n, d, dv, p->num_heads,
										   out, NULL, scratch, ex);
		case RV_ATTN_FLASH_V2:
			return rv_flash_attention(Q, m, K, V, n, d, dv,
									  rv_scale_or_default(p->scale, d),
									  p->block_size, out, scratch, ex);
		case RV_ATTN_LINEAR:
			return rv_linear_attention(Q, m, K, V, n, d, dv, out, scratch, ex);
		case RV_ATTN_GAT:
			return rv_gat_attention(Q, m, K, V, n, d, dv, p->gat_a,
									p->negative_slope, p->scale, out, scratch, ex);
		case RV_ATTN_SPARSE:
			return rv_sparse_attention(Q, m, K, V, n, d, dv, p->top_k, p->scale,
									   out, scratch, ex);
		case RV_ATTN_MOE:
			return rv_moe_attention(Q, m, K, V, n, d, dv, p->n_experts, p->top_k,
									p->scale, out, scratch, ex);
		case RV_ATTN_CROSS:
			return rv_cross_attention(Q, m, K, V, n, d, dv, p->num_heads,
									  p->causal, p->scale, out, scratch, ex);
		case RV_ATTN_SLIDING:
			return rv_sliding_window_attention(Q, m, K, V, n, d, dv, p->window,
											   p->scale, out, scratch, ex);
		case RV_ATTN_POINCARE:
			return rv_poincare_attention(Q, m, K, V, n, d, dv, p->curvature,
										 out, scratch, ex);
		case RV_ATTN_LORENTZ:
			return rv_lorentz_attention(Q, m, K, V, n, d, dv, p->curvature,
										out, scratch, ex);
		default:
			return RV_ERR_UNKNOWN_TYPE;
	}
}

size_t
rv_attention_weights_scratch(const rv_attention_params *p, size_t m,
							 size_t n, size_t d, const rv_exec *ex)
{
	if (p == NULL)
		return (size_t) -1;
	switch (p->type)
	{
		case RV_ATTN_SCALED_DOT:
		case RV_ATTN_FLASH_V2:
			return rv_dense_weights_scratch(m, n, d, 1, ex);
		case RV_ATTN_MULTI_HEAD:
			return rv_dense_weights_scratch(m, n, d, p->num_heads, ex);
		case RV_ATTN_LINEAR:
			return rv_linear_weights_scratch(p, m, n, d, ex);
		case RV_ATTN_GAT:
			return rv_gat_weights_scratch(p, m, n, d, ex);
		case RV_ATTN_SPARSE:
			return rv_sparse_weights_scratch(p, m, n, d, ex);
		case RV_ATTN_MOE:
			return rv_moe_weights_scratch(p, m, n, d, ex);
		case RV_ATTN_CROSS:
			return rv_cross_weights_scratch(p, m, n, d, ex);
		case RV_ATTN_SLIDING:
			return rv_sliding_weights_scratch(p, m, n, d, ex);
		case RV_ATTN_POINCARE:
			return rv_poincare_weights_scratch(p, m, n, d, ex);
		case RV_ATTN_LORENTZ:
			return rv_lorentz_weights_scratch(p, m, n, d, ex);
		default:
			return (size_t) -1;
	}
}

rv_status
rv_attention_weights(const rv_attention_params *p, const float *Q, size_t m,
					 const float *K, size_t n, size_t d, float *W,
					 float *scratch, const rv_exec *ex)
{
	size_t		t;

	if (p == NULL)
		return RV_ERR_NULL_ARG;
	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (rv_mul_size(m, n, &t) || rv_mul_size(m, d, &t))
		return RV_ERR_SIZE_OVERFLOW;
	switch (p->type)
	{
		case RV_ATTN_SCALED_DOT:
		case RV_ATTN_FLASH_V2:
			return rv_dense_weights(Q, m, K, n, d, 1, p->scale, W, scratch, ex);
		case RV_ATTN_MULTI_HEAD:
			/* each head's own scale 1/sqrt(d/H): p->scale is not used */
			return rv_dense_weights(Q, m, K, n, d, p->num_heads, NAN, W, scratch, ex);
		case RV_ATTN_LINEAR:
			return rv_linear_weights(p, Q, m, K, n, d, W, scratch, ex);
		case RV_ATTN_GAT:
			return rv_gat_weights(p, Q, m, K, n, d, W, scratch, ex);
		case RV_ATTN_SPARSE:
			return rv_sparse_weights(p, Q, m, K, n, d, W, scratch, ex);
		case RV_ATTN_MOE:
			return rv_moe_weights(p, Q, m, K, n, d, W, scratch, ex);
		case RV_ATTN_CROSS:
			return rv_cross_weights(p, Q, m, K, n, d, W, scratch, ex);
		case RV_ATTN_SLIDING:
			return rv_sliding_weights(p, Q, m, K, n, d, W, scratch, ex);
		case RV_ATTN_POINCARE:
			return rv_poincare_weights(p, Q, m, K, n, d, W, scratch, ex);
		case RV_ATTN_LORENTZ:
			return rv_lorentz_weights(p, Q, m, K, n, d, W, scratch, ex);
		default:
			return RV_ERR_UNKNOWN_TYPE;
	}
}

rv_status
rv_attention_logit(const rv_attention_params *p, const float *q,
				   const float *k, size_t d, float *out)
{
	if (p == NULL)
		return RV_ERR_NULL_ARG;
	switch (p->type)
	{
		case RV_ATTN_SCALED_DOT:
		case RV_ATTN_FLASH_V2:
			return rv_attention_score(q, k, d, rv_scale_or_default(p->scale, d), out);
		case RV_ATTN_MULTI_HEAD:
			return rv_multi_head_score(q, k, d, p->num_heads, out);
		case RV_ATTN_LINEAR:
			return rv_linear_logit(p, q, k, d, out);
		case RV_ATTN_GAT:
			return rv_gat_logit(p, q, k, d, out);
		case RV_ATTN_SPARSE:
			return rv_sparse_logit(p, q, k, d, out);
		case RV_ATTN_MOE:
			return rv_moe_logit(p, q, k, d, out);
		case RV_ATTN_CROSS:
			return rv_cross_logit(p, q, k, d, out);
		case RV_ATTN_SLIDING:
			return rv_sliding_logit(p, q, k, d, out);
		case RV_ATTN_POINCARE:
			return rv_poincare_logit(p, q, k, d, out);
		case RV_ATTN_LORENTZ:
			return rv_lorentz_logit(p, q, k, d, out);
		default:
			return RV_ERR_UNKNOWN_TYPE;
	}
}
