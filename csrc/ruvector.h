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
	RV_ERR_NOT_IMPLEMENTED,		/* a listed attention type not built yet */
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
	int			implemented;	/* nonzero once computed by the core */
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
