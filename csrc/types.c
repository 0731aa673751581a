/*
 * types.c: status messages and the catalogue of attention types.
 */
#include <ctype.h>
#include <string.h>

#include "ruvector.h"

static const char *const status_messages[RV_STATUS_COUNT] = {
	[RV_OK] = "success",
	[RV_ERR_NULL_ARG] = "a required buffer is missing",
	[RV_ERR_EMPTY_QUERY] = "query vector must not be empty",
	[RV_ERR_NO_KEYS] = "attention needs at least one key",
	[RV_ERR_EMPTY_VALUES] = "value vectors must not be empty",
	[RV_ERR_NUM_HEADS] = "num_heads must be at least 1 and divide the query and value dimensions",
	[RV_ERR_BLOCK_SIZE] = "block_size must be between 1 and 65536",
	[RV_ERR_SCALE] = "scale must be a finite number",
	[RV_ERR_NONFINITE] = "input contains NaN or infinity, or a result overflowed",
	[RV_ERR_ALL_MASKED] = "softmax input is all -Infinity",
	[RV_ERR_SIZE_OVERFLOW] = "array sizes overflow",
	[RV_ERR_NOMEM] = "out of memory",
	[RV_ERR_THREAD] = "could not start a worker thread",
	[RV_ERR_CANCELLED] = "computation cancelled",
	[RV_ERR_UNSUPPORTED_BACKEND] = "SIMD backend not supported by this CPU",
	[RV_ERR_UNKNOWN_BACKEND] = "unknown SIMD backend",
	[RV_ERR_UNKNOWN_TYPE] = "unknown attention type",
	[RV_ERR_TOP_K] = "top_k must be at least 1",
	[RV_ERR_N_EXPERTS] = "n_experts must be at least 1",
	[RV_ERR_WINDOW] = "window_size must be at least 1",
	[RV_ERR_SLOPE] = "negative_slope must be a finite number",
	[RV_ERR_CURVATURE] = "curvature must be a positive finite number",
	[RV_ERR_OUTSIDE_BALL] = "point lies outside the Poincare ball (c |x|^2 >= 1)",
};

const char *
rv_strerror(rv_status status)
{
	if ((int) status < 0 || status >= RV_STATUS_COUNT)
		return "unknown status";
	return status_messages[status];
}

static const rv_attention_type_info catalogue[RV_ATTN_TYPE_COUNT] = {
	[RV_ATTN_SCALED_DOT] = {"scaled_dot", "O(n d)",
	"exact softmax attention of a query over up to a few thousand keys: reranking, pooling"},
	[RV_ATTN_MULTI_HEAD] = {"multi_head", "O(n d)",
	"several attention patterns at once over slices of the embedding"},
	[RV_ATTN_FLASH_V2] = {"flash_v2", "O(n d), O(block) memory",
	"long key sequences with memory independent of n (tiled online softmax)"},
	[RV_ATTN_LINEAR] = {"linear", "O(n d dv)",
	"very long sequences where many queries share one key summary"},
	[RV_ATTN_GAT] = {"gat", "O(n d)",
	"graph neighbourhoods: a node attending over its neighbours"},
	[RV_ATTN_SPARSE] = {"sparse", "O(n d + n log k)",
	"focusing on the top-k most relevant keys only"},
	[RV_ATTN_MOE] = {"moe", "O(n d)",
	"routing a query to the most relevant groups of keys (mixture of experts)"},
	[RV_ATTN_CROSS] = {"cross", "O(m n d)",
	"queries from one source attending over keys and values from another"},
	[RV_ATTN_SLIDING] = {"sliding", "O(w d)",
	"recency: attending over only the last w keys of a sequence"},
	[RV_ATTN_POINCARE] = {"poincare", "O(n d)",
	"hierarchical data embedded in the Poincare ball (hyperbolic)"},
	[RV_ATTN_LORENTZ] = {"lorentz", "O(n d)",
	"hierarchical data on the hyperboloid (Lorentz model)"},
};

const rv_attention_type_info *
rv_attention_type_get(rv_attention_type t)
{
	if ((int) t < 0 || t >= RV_ATTN_TYPE_COUNT)
		return NULL;
	return &catalogue[t];
}

static const struct
{
	const char *alias;
	rv_attention_type type;
}			aliases[] = {
	{"scaleddot", RV_ATTN_SCALED_DOT},
	{"multihead", RV_ATTN_MULTI_HEAD},
	{"flashv2", RV_ATTN_FLASH_V2},
	{"flash", RV_ATTN_FLASH_V2},
	{"poincar\xc3\xa9", RV_ATTN_POINCARE},	/* poincaré, UTF-8 */
};

rv_status
rv_attention_type_from_name(const char *name, rv_attention_type *out)
{
	char		buf[32];
	size_t		len;

	if (name == NULL || out == NULL)
		return RV_ERR_NULL_ARG;
	len = strlen(name);
	if (len >= sizeof buf)
		return RV_ERR_UNKNOWN_TYPE;
	/* ASCII case folding, plus the UTF-8 capital E acute of POINCARÉ */
	for (size_t i = 0; i <= len; i++)
	{
		buf[i] = (char) tolower((unsigned char) name[i]);
		if (i > 0 && (unsigned char) buf[i - 1] == 0xc3 &&
			(unsigned char) buf[i] == 0x89)
			buf[i] = (char) 0xa9;
	}
	for (int t = 0; t < RV_ATTN_TYPE_COUNT; t++)
		if (strcmp(buf, catalogue[t].name) == 0)
		{
			*out = (rv_attention_type) t;
			return RV_OK;
		}
	for (size_t i = 0; i < sizeof aliases / sizeof aliases[0]; i++)
		if (strcmp(buf, aliases[i].alias) == 0)
		{
			*out = aliases[i].type;
			return RV_OK;
		}
	return RV_ERR_UNKNOWN_TYPE;
}

const char *
rv_attention_type_names(void)
{
	return "scaled_dot, multi_head, flash_v2, linear, gat, sparse, moe, "
		"cross, sliding, poincare, lorentz";
}
