/*
 * ruvector.h: public API of the ruvector C core.
 *
 * Attention on float32 data, computed by hand-written SIMD kernels (AVX2+FMA,
 * AVX-512F, NEON) with a scalar reference, chosen at run time.  The core is
 * pure C11: it never includes postgres.h or Python.h, never calls malloc on a
 * compute path (callers pass output and scratch buffers and ask the
 * rv_*_scratch functions how much scratch a call needs), never aborts, and
 * reports every failure as an rv_status (see rv_strerror).
 *
 * Layout: a vector is a contiguous array of floats; a matrix of n rows is
 * row-major and contiguous (row i of K starts at K + i * d).  A batch of m
 * queries is an m x d matrix; the result of a batch is m x dv.
 *
 * Validation contract: the core checks what only it can check cheaply (sizes,
 * parameters, size overflow, non-finite logits and outputs).  It does not
 * know where the data came from, so callers (the PostgreSQL glue, the Python
 * module) validate shapes and report the sizes involved; when the core
 * returns RV_ERR_NONFINITE they locate the offending input element for the
 * message (an error path only, so the fast path never scans its inputs).
 */
#ifndef RUVECTOR_H
#define RUVECTOR_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

#define RV_VERSION "0.1.0"

/* Status codes.  RV_OK is zero; every other value has a message. */
typedef enum rv_status
{
	RV_OK = 0,
	RV_ERR_NULL_ARG,			/* a required pointer is NULL */
	RV_ERR_EMPTY_QUERY,			/* d == 0 */
	RV_ERR_NO_KEYS,				/* n == 0 where an output needs keys */
	RV_ERR_EMPTY_VALUES,		/* dv == 0 */
	RV_ERR_NUM_HEADS,			/* num_heads < 1 or d, dv not divisible */
	RV_ERR_BLOCK_SIZE,			/* block_size < 1 or > RV_MAX_BLOCK_SIZE */
	RV_ERR_SCALE,				/* scale is NaN or infinite */
	RV_ERR_NONFINITE,			/* NaN/Inf input or a logit/output overflow */
	RV_ERR_ALL_MASKED,			/* softmax input is all -Infinity */
	RV_ERR_SIZE_OVERFLOW,		/* a size computation overflows */
	RV_ERR_NOMEM,				/* scratch too small / allocation failed */
	RV_ERR_THREAD,				/* a worker thread could not be started */
	RV_ERR_CANCELLED,			/* the cancel callback asked to stop */
	RV_ERR_UNSUPPORTED_BACKEND, /* the CPU (or build) lacks that ISA */
	RV_ERR_UNKNOWN_BACKEND,		/* no backend has that name */
	RV_ERR_UNKNOWN_TYPE,		/* no attention type has that name */
	RV_ERR_TOP_K,				/* top_k < 1 */
	RV_ERR_N_EXPERTS,			/* n_experts < 1 */
	RV_ERR_WINDOW,				/* window < 1 */
	RV_ERR_SLOPE,				/* negative_slope is NaN or infinite */
	RV_ERR_CURVATURE,			/* curvature not positive and finite */
	RV_ERR_OUTSIDE_BALL,		/* a point with c |x|^2 >= 1 (Poincare) */
	RV_STATUS_COUNT
} rv_status;

/* A lowercase message without a final period, for any status value. */
const char *rv_strerror(rv_status status);

/* Largest block_size accepted by rv_flash_attention (keys per tile). */
#define RV_MAX_BLOCK_SIZE 65536

/* ------------------------------------------------------------------------
 * SIMD backends and dispatch
 *
 * The best backend the CPU supports is chosen on first use (CPUID with an
 * OSXSAVE/XGETBV check on x86-64; NEON is baseline on aarch64), unless the
 * RUVECTOR_SIMD environment variable names another one ("auto", "scalar",
 * "avx2", "avx512", "neon"); an unknown or unsupported name there is ignored
 * and "auto" used, because initialisation cannot fail.  rv_set_backend
 * switches the process-wide backend; a call in flight keeps the backend it
 * started with.
 * ---------------------------------------------------------------------- */
typedef enum rv_backend
{
	RV_BACKEND_SCALAR = 0,
	RV_BACKEND_AVX2 = 1,		/* AVX2 + FMA */
	RV_BACKEND_AVX512 = 2,		/* AVX-512F */
	RV_BACKEND_NEON = 3,		/* aarch64 Advanced SIMD */
	RV_BACKEND_COUNT,
	RV_BACKEND_AUTO = -1		/* only as an argument: the best supported */
} rv_backend;

/* The active backend, and its name ("scalar", "avx2", "avx512", "neon"). */
rv_backend	rv_simd_backend(void);
const char *rv_backend_name(rv_backend backend);	/* NULL if out of range */

/* Bit mask of supported backends: bit b set when backend b can run here. */
unsigned	rv_supported_backends(void);

/* The best supported backend (what "auto" selects). */
rv_backend	rv_best_backend(void);

/*
 * Parse a backend name (case-insensitive; "auto" gives RV_BACKEND_AUTO).
 * Returns RV_ERR_UNKNOWN_BACKEND for anything else.
 */
rv_status	rv_backend_from_name(const char *name, rv_backend *out);

/*
 * Make backend the active one (RV_BACKEND_AUTO: the best supported).
 * RV_ERR_UNSUPPORTED_BACKEND when this CPU or build cannot run it; the
 * active backend is then unchanged.
 */
rv_status	rv_set_backend(rv_backend backend);

/* ------------------------------------------------------------------------
 * Execution options: threads and cancellation
 * ---------------------------------------------------------------------- */

/*
 * Cancel callback: returns nonzero to ask the computation to stop.  It is
 * polled between blocks of keys, from the calling thread AND from worker
 * threads, so it must be thread-safe and must not jump (longjmp) or call
 * into non-thread-safe code: reading a volatile flag is the intended use.
 */
typedef int (*rv_cancel_fn) (void *arg);

typedef struct rv_exec
{
	int			max_threads;	/* <= 1: the calling thread only */
	size_t		min_work_per_thread;	/* floats of K and V read per extra
										 * thread; 0 = RV_DEFAULT_MIN_WORK */
	rv_cancel_fn cancel;		/* may be NULL */
	void	   *cancel_arg;
} rv_exec;

/* Below this many floats of K+V per extra thread no thread is started. */
#define RV_DEFAULT_MIN_WORK ((size_t) 1 << 20)

/* Keys per block between two polls of the cancel callback. */
#define RV_CANCEL_BLOCK 4096

/*
 * Number of threads (including the caller) a call with ntasks independent
 * tasks of work_per_task floats each would use under ex (NULL: one).
 * Scratch sizes depend on it, so callers size scratch with the same ex.
 */
size_t		rv_plan_threads(size_t ntasks, size_t work_per_task, const rv_exec *ex);

/* ------------------------------------------------------------------------
 * Kernels
 *
 * All functions return RV_OK or an error status; on error the output buffer
 * contents are unspecified (but nothing outside it has been written).
 * scale is the logit scale; rv_default_scale(d) is 1/sqrt(d).
 * ---------------------------------------------------------------------- */

float		rv_default_scale(size_t d);

/*
 * Numerically stable softmax of x (n floats) into out (n floats; out may
 * equal x).  -Infinity entries get weight 0; NaN or +Infinity is
 * RV_ERR_NONFINITE; all entries -Infinity is RV_ERR_ALL_MASKED.  n == 0 is
 * RV_OK with nothing written.
 */
rv_status	rv_softmax(const float *x, size_t n, float *out);
rv_status	rv_softmax_inplace(float *x, size_t n);

/* *out = scale * dot(q, k) for vectors of length d. */
rv_status	rv_attention_score(const float *q, const float *k, size_t d,
							   float scale, float *out);

/*
 * Attention weights of one query: w = softmax(scale * K q), K is n x d,
 * w has n floats.  n == 0 is RV_OK with nothing written.
 */
rv_status	rv_attention_scores(const float *q, const float *K, size_t n,
								size_t d, float scale, float *w);

/*
 * Multi-head attention weights averaged over heads: head h uses dims
 * [h*d/H, (h+1)*d/H) with scale 1/sqrt(d/H); w = sum_h (1/H) softmax_h.
 * scratch: n * num_heads floats.
 */
rv_status	rv_multi_head_scores(const float *q, const float *K, size_t n,
								 size_t d, size_t num_heads, float *w,
								 float *scratch);

/*
 * Mean over heads of the per-head logits scale_h * q_h . k_h, with
 * scale_h = 1/sqrt(d/H): the pair logit under the multi_head type.
 */
rv_status	rv_multi_head_score(const float *q, const float *k, size_t d,
								size_t num_heads, float *out);

/*
 * Scaled dot-product attention of m queries (Q: m x d) over n keys
 * (K: n x d) and values (V: n x dv): out (m x dv) row r is
 * sum_i softmax(scale * K q_r)_i V_i.  Rows run in parallel when ex allows.
 * scratch: rv_scaled_dot_attention_scratch(m, n, d, dv, ex) floats (the
 * same ex as the call: the thread plan decides how many slots it needs).
 * The scratch functions return (size_t) -1 when the size overflows.
 */
size_t		rv_scaled_dot_attention_scratch(size_t m, size_t n, size_t d,
											size_t dv, const rv_exec *ex);
rv_status	rv_scaled_dot_attention(const float *Q, size_t m, const float *K,
									const float *V, size_t n, size_t d,
									size_t dv, float scale, float *out,
									float *scratch, const rv_exec *ex);

/*
 * Multi-head attention of m queries: H = num_heads heads as contiguous
 * slices (head h: query/key dims [h*d/H, (h+1)*d/H), value dims
 * [h*dv/H, (h+1)*dv/H)), each scaled-dot attention with scale 1/sqrt(d/H),
 * outputs concatenated (out: m x dv).  If avg_weights is not NULL it
 * receives, per query, the head-averaged attention weights (m x n).
 * Queries and groups of heads run in parallel when ex allows; results are
 * bit-identical for any thread count.
 * scratch: rv_multi_head_attention_scratch(...) floats.
 */
size_t		rv_multi_head_attention_scratch(size_t m, size_t n, size_t d,
											size_t dv, size_t num_heads,
											int want_weights,
											const rv_exec *ex);
rv_status	rv_multi_head_attention(const float *Q, size_t m, const float *K,
									const float *V, size_t n, size_t d,
									size_t dv, size_t num_heads, float *out,
									float *avg_weights, float *scratch,
									const rv_exec *ex);

/*
 * FlashAttention-2 style attention of m queries: same result as
 * rv_scaled_dot_attention up to rounding, computed over tiles of block_size
 * keys with the online softmax (running max m, running sum l, accumulator
 * O, rescaled by exp(m_old - m_new) when the max grows).  Its scratch does
 * not grow with n: rv_flash_attention_scratch(...) floats ((size_t) -1 for
 * an invalid block_size or an overflowing size).
 */
size_t		rv_flash_attention_scratch(size_t m, size_t n, size_t d,
									   size_t dv, size_t block_size,
									   const rv_exec *ex);
rv_status	rv_flash_attention(const float *Q, size_t m, const float *K,
							   const float *V, size_t n, size_t d, size_t dv,
							   float scale, size_t block_size, float *out,
							   float *scratch, const rv_exec *ex);

/* ------------------------------------------------------------------------
 * The other attention types.  Same conventions as above: Q is m x d (m
 * queries, each computed independently), K is n x d, V is n x dv, out is
 * m x dv; scratch comes from the matching _scratch function called with the
 * same sizes, parameters and ex ((size_t) -1 when the size overflows or a
 * parameter is invalid); results are bit-identical for any thread count.
 * scale is the logit scale s_i = scale * q.k_i; NAN selects the type's
 * default (1/sqrt(d), or 1/sqrt(d/H) per head).
 * ---------------------------------------------------------------------- */

/*
 * Linear attention (Katharopoulos et al. 2020) with phi(x) = elu(x) + 1:
 * w_i = phi(q).phi(k_i) / sum_j phi(q).phi(k_j), out = sum_i w_i v_i.
 * The weights are well defined for any finite query, however negative
 * (phi(q) is used up to a positive factor, which cancels).  Keys whose
 * kernel weights all underflow to 0 (e.g. every k_ij < -104, where
 * phi(k_ij) = exp(k_ij) rounds to 0) give no defined weights:
 * RV_ERR_NONFINITE, never NaN.
 */
size_t		rv_linear_attention_scratch(size_t m, size_t n, size_t d,
										size_t dv, const rv_exec *ex);
rv_status	rv_linear_attention(const float *Q, size_t m, const float *K,
								const float *V, size_t n, size_t d, size_t dv,
								float *out, float *scratch, const rv_exec *ex);

/*
 * The key-side summary of linear attention, M = [S | z] (d x (dv + 1),
 * row-major): row j holds S[j][0..dv) = sum_i phi(k_i)[j] v_i and
 * M[j][dv] = z[j] = sum_i phi(k_i)[j].  Then for any query
 * out(q) = S^T phi(q) / (phi(q).z) in O(d dv)
 * (rv_linear_attention_from_summary; a zero denominator phi(q).z, as
 * from the M of n == 0, is RV_ERR_NONFINITE).  n == 0 gives M = 0.
 */
size_t		rv_linear_summary_scratch(size_t n, size_t d, size_t dv,
									  const rv_exec *ex);
rv_status	rv_linear_attention_summary(const float *K, const float *V,
										size_t n, size_t d, size_t dv,
										float *M, float *scratch,
										const rv_exec *ex);
size_t		rv_linear_from_summary_scratch(size_t m, size_t d, size_t dv,
										   const rv_exec *ex);
rv_status	rv_linear_attention_from_summary(const float *Q, size_t m,
											 const float *M, size_t d,
											 size_t dv, float *out,
											 float *scratch,
											 const rv_exec *ex);

/*
 * Graph attention (Velickovic et al. 2018) of a node over its neighbours:
 * e_i = LeakyReLU(s_i, negative_slope) with s_i = scale * q.k_i, or, when
 * a is not NULL (2d floats, a = [a1; a2]), e_i = LeakyReLU(a1.q + a2.k_i)
 * (scale unused); w = softmax(e); out = sum_i w_i v_i.
 */
#define RV_DEFAULT_NEGATIVE_SLOPE 0.2f
size_t		rv_gat_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
									 const rv_exec *ex);
rv_status	rv_gat_attention(const float *Q, size_t m, const float *K,
							 const float *V, size_t n, size_t d, size_t dv,
							 const float *a, float negative_slope, float scale,
							 float *out, float *scratch, const rv_exec *ex);

/*
 * Top-k sparse attention: only the top_k largest logits (ties to the lower
 * index) keep weight, softmaxed among themselves; top_k >= n is
 * scaled-dot attention over every key.  Selection without a full sort.
 */
#define RV_DEFAULT_SPARSE_TOP_K 8
size_t		rv_sparse_attention_scratch(size_t m, size_t n, size_t d,
										size_t dv, size_t top_k,
										const rv_exec *ex);
rv_status	rv_sparse_attention(const float *Q, size_t m, const float *K,
								const float *V, size_t n, size_t d, size_t dv,
								size_t top_k, float scale, float *out,
								float *scratch, const rv_exec *ex);

/*
 * Mixture of experts: the keys split into E = min(n_experts, n) contiguous
 * groups whose sizes differ by at most one (the first n % E groups have
 * one key more); gate_e = mean of the logits s_i of group e; the top_k
 * groups by gate (ties to the lower index) are chosen, their gates
 * softmaxed into g_e; out = sum over chosen e of g_e *
 * scaled_dot_attention(q, K_e, V_e).
 */
#define RV_DEFAULT_N_EXPERTS 4
#define RV_DEFAULT_MOE_TOP_K 2
size_t		rv_moe_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
									 size_t n_experts, size_t top_k,
									 const rv_exec *ex);
rv_status	rv_moe_attention(const float *Q, size_t m, const float *K,
							 const float *V, size_t n, size_t d, size_t dv,
							 size_t n_experts, size_t top_k, float scale,
							 float *out, float *scratch, const rv_exec *ex);

/*
 * Cross attention of m queries over n keys/values from another source,
 * with num_heads heads as contiguous slices (as rv_multi_head_attention;
 * default scale 1/sqrt(d/H) per head).  causal: query row r attends keys
 * j <= r + n - m (aligned bottom-right, as in FlashAttention); a row that
 * attends no key (r < m - n) is 0.  Tiled like FlashAttention-2 (blocks of
 * queries x blocks of keys, register-blocked products) so that it is
 * compute-bound; scratch does not grow with n.  Self-attention is
 * cross(X, X, X).
 */
size_t		rv_cross_attention_scratch(size_t m, size_t n, size_t d,
									   size_t dv, size_t num_heads,
									   const rv_exec *ex);
rv_status	rv_cross_attention(const float *Q, size_t m, const float *K,
							   const float *V, size_t n, size_t d, size_t dv,
							   size_t num_heads, int causal, float scale,
							   float *out, float *scratch, const rv_exec *ex);

/*
 * Sliding-window attention: query row r of m attends keys j in
 * (r' - window, r'] with r' = r + n - m (one query: the last window
 * keys); a row whose window holds no key (r' < 0) is 0.
 */
#define RV_DEFAULT_WINDOW 256
size_t		rv_sliding_window_attention_scratch(size_t m, size_t n, size_t d,
												size_t dv, size_t window,
												const rv_exec *ex);
rv_status	rv_sliding_window_attention(const float *Q, size_t m,
										const float *K, const float *V,
										size_t n, size_t d, size_t dv,
										size_t window, float scale,
										float *out, float *scratch,
										const rv_exec *ex);

/*
 * Hyperbolic attention, curvature c > 0 (default 1).
 *
 * Poincare ball: every q, k_i, v_i must satisfy c |x|^2 < 1
 * (RV_ERR_OUTSIDE_BALL; rv_ball_check finds the row); logits -d_c(q, k_i)
 * with d_c(x, y) = (1/sqrt c) arcosh(1 + 2c|x - y|^2 /
 * ((1 - c|x|^2)(1 - c|y|^2))); w = softmax; out = exp0_c(sum_i w_i
 * log0_c(v_i)), which stays in the ball.
 *
 * Lorentz (hyperboloid) model: inputs are spatial coordinates x, with
 * x0 = sqrt(1/c + |x|^2); logits -(1/sqrt c) arcosh(-c <q, k_i>_L) where
 * <x, y>_L = -x0 y0 + x.y; w = softmax; out = the Lorentzian centroid
 * sum_i w_i v_i (with time coordinates) rescaled onto the hyperboloid,
 * as spatial coordinates (dv floats).
 */
#define RV_DEFAULT_CURVATURE 1.0f
size_t		rv_hyperbolic_attention_scratch(size_t m, size_t n, size_t d,
											size_t dv, const rv_exec *ex);
rv_status	rv_poincare_attention(const float *Q, size_t m, const float *K,
								  const float *V, size_t n, size_t d,
								  size_t dv, float curvature, float *out,
								  float *scratch, const rv_exec *ex);
rv_status	rv_lorentz_attention(const float *Q, size_t m, const float *K,
								 const float *V, size_t n, size_t d, size_t dv,
								 float curvature, float *out, float *scratch,
								 const rv_exec *ex);

/*
 * The Poincare ball condition for rows x d floats: RV_OK when every row
 * has c |x|^2 < 1 (computed exactly as the Poincare driver does), else
 * RV_ERR_OUTSIDE_BALL with *bad_row the first row that does not (may be
 * NULL).  RV_ERR_NONFINITE for NaN/Infinity, RV_ERR_CURVATURE for a bad c.
 */
rv_status	rv_ball_check(const float *X, size_t rows, size_t d,
						  float curvature, size_t *bad_row);

/* ------------------------------------------------------------------------
 * Attention types: the catalogue behind ruvector_attention_types()
 * ---------------------------------------------------------------------- */
typedef enum rv_attention_type
{
	RV_ATTN_SCALED_DOT = 0,
	RV_ATTN_MULTI_HEAD,
	RV_ATTN_FLASH_V2,
	RV_ATTN_LINEAR,
	RV_ATTN_GAT,
	RV_ATTN_SPARSE,
	RV_ATTN_MOE,
	RV_ATTN_CROSS,
	RV_ATTN_SLIDING,
	RV_ATTN_POINCARE,
	RV_ATTN_LORENTZ,
	RV_ATTN_TYPE_COUNT
} rv_attention_type;

typedef struct rv_attention_type_info
{
	const char *name;			/* canonical name, e.g. "scaled_dot" */
	const char *complexity;		/* e.g. "O(n d)" */
	const char *best_for;		/* one line */
} rv_attention_type_info;

/* The catalogue entry for t, or NULL when t is out of range. */
const rv_attention_type_info *rv_attention_type_get(rv_attention_type t);

/*
 * Parse an attention type name: case-insensitive, with the aliases
 * scaleddot, multihead, flashv2, flash, poincaré.  RV_ERR_UNKNOWN_TYPE for
 * anything else (never silently scaled_dot).
 */
rv_status	rv_attention_type_from_name(const char *name,
										rv_attention_type *out);

/* Comma-separated canonical names, for error hints. */
const char *rv_attention_type_names(void);

/* Default number of heads used by the multi_head type in score(s). */
#define RV_DEFAULT_NUM_HEADS 4

/* Default tile of rv_flash_attention in the generic entry points. */
#define RV_DEFAULT_BLOCK_SIZE 64

/* ------------------------------------------------------------------------
 * One entry point for every type
 *
 * The parameters of every attention type in one struct, so that callers
 * (the SQL and Python functions that take an attention_type name) can run
 * any type: rv_attention_params_init fills the type's defaults, the caller
 * changes what it wants, then rv_attention (the forward pass),
 * rv_attention_weights (the m x n attention weights: each row sums to 1,
 * or is 0 where the type attends no key) or rv_attention_logit (the raw
 * pair score under the type's scoring rule).  Fields a type does not use
 * are ignored.
 * ---------------------------------------------------------------------- */
typedef struct rv_attention_params
{
	rv_attention_type type;
	float		scale;			/* NAN: the type's default; not used by
								 * multi_head (each head 1/sqrt(d/H)),
								 * linear, gat with gat_a, poincare, lorentz */
	size_t		num_heads;		/* multi_head (4), cross (1) */
	size_t		block_size;		/* flash_v2 (64) */
	size_t		top_k;			/* sparse (8), moe (2) */
	size_t		n_experts;		/* moe (4) */
	size_t		window;			/* sliding (256) */
	int			causal;			/* cross (0) */
	float		negative_slope; /* gat (0.2) */
	const float *gat_a;			/* gat: NULL, or a = [a1; a2] (2d floats) */
	float		curvature;		/* poincare, lorentz (1) */
} rv_attention_params;

/* p = the defaults of type t (RV_ERR_UNKNOWN_TYPE when t is out of range). */
rv_status	rv_attention_params_init(rv_attention_params *p,
									 rv_attention_type t);

size_t		rv_attention_scratch(const rv_attention_params *p, size_t m,
								 size_t n, size_t d, size_t dv,
								 const rv_exec *ex);
rv_status	rv_attention(const rv_attention_params *p, const float *Q,
						 size_t m, const float *K, const float *V, size_t n,
						 size_t d, size_t dv, float *out, float *scratch,
						 const rv_exec *ex);

/*
 * W (m x n): row r holds the weights query r gives the n keys under the
 * type (multi_head: averaged over its heads; cross with causal or sliding:
 * 0 outside the keys the row attends).  n == 0 is RV_OK with nothing
 * written.
 */
size_t		rv_attention_weights_scratch(const rv_attention_params *p,
										 size_t m, size_t n, size_t d,
										 const rv_exec *ex);
rv_status	rv_attention_weights(const rv_attention_params *p, const float *Q,
								 size_t m, const float *K, size_t n, size_t d,
								 float *W, float *scratch, const rv_exec *ex);

/*
 * The raw score of one query/key pair (vectors of d floats) under the
 * type: scale * q.k for scaled_dot, flash_v2, sparse, moe, sliding and
 * cross (the mean over heads when num_heads > 1, as multi_head);
 * phi(q).phi(k) for linear; the LeakyReLU'd logit for gat; -d(q, k) for
 * poincare and lorentz.
 */
rv_status	rv_attention_logit(const rv_attention_params *p, const float *q,
							   const float *k, size_t d, float *out);

/* ------------------------------------------------------------------------
 * Introspection used by tests and benchmarks
 * ---------------------------------------------------------------------- */

/*
 * Vectorized exp of the active backend (the one softmax uses), for accuracy
 * tests: out[i] = exp(x[i]), at most 2 ulp from the correctly rounded value
 * where the result is a normal float; +Infinity above 88.7228394,
 * 0 below -104 and for -Infinity; out may equal x.
 */
void		rv_exp_f32(const float *x, size_t n, float *out);

#ifdef __cplusplus
}
#endif

#endif							/* RUVECTOR_H */
