/*
 * _ruvector_cdef.h: the declarations of csrc/ruvector.h that the cffi module
 * binds, in the subset of C that cffi's cdef parser reads (no preprocessor
 * conditionals, no comments needed).  The compile step checks every
 * declaration here against the real header, and the import checks the
 * enum and macro values, so a drift fails the build instead of corrupting
 * memory.  Keep it in the order of ruvector.h.
 */

#define RV_MAX_BLOCK_SIZE ...
#define RV_DEFAULT_MIN_WORK ...
#define RV_CANCEL_BLOCK ...
#define RV_DEFAULT_NUM_HEADS ...
#define RV_DEFAULT_BLOCK_SIZE ...
#define RV_DEFAULT_SPARSE_TOP_K ...
#define RV_DEFAULT_N_EXPERTS ...
#define RV_DEFAULT_MOE_TOP_K ...
#define RV_DEFAULT_WINDOW ...
static const char *const RV_VERSION;

typedef enum rv_status
{
	RV_OK = 0,
	RV_ERR_NULL_ARG,
	RV_ERR_EMPTY_QUERY,
	RV_ERR_NO_KEYS,
	RV_ERR_EMPTY_VALUES,
	RV_ERR_NUM_HEADS,
	RV_ERR_BLOCK_SIZE,
	RV_ERR_SCALE,
	RV_ERR_NONFINITE,
	RV_ERR_ALL_MASKED,
	RV_ERR_SIZE_OVERFLOW,
	RV_ERR_NOMEM,
	RV_ERR_THREAD,
	RV_ERR_CANCELLED,
	RV_ERR_UNSUPPORTED_BACKEND,
	RV_ERR_UNKNOWN_BACKEND,
	RV_ERR_UNKNOWN_TYPE,
	RV_ERR_TOP_K,
	RV_ERR_N_EXPERTS,
	RV_ERR_WINDOW,
	RV_ERR_SLOPE,
	RV_ERR_CURVATURE,
	RV_ERR_OUTSIDE_BALL,
	RV_STATUS_COUNT
} rv_status;

const char *rv_strerror(rv_status status);

typedef enum rv_backend
{
	RV_BACKEND_SCALAR = 0,
	RV_BACKEND_AVX2 = 1,
	RV_BACKEND_AVX512 = 2,
	RV_BACKEND_NEON = 3,
	RV_BACKEND_COUNT,
	RV_BACKEND_AUTO = -1
} rv_backend;

rv_backend rv_simd_backend(void);
const char *rv_backend_name(rv_backend backend);
unsigned rv_supported_backends(void);
rv_backend rv_best_backend(void);
rv_status rv_backend_from_name(const char *name, rv_backend *out);
rv_status rv_set_backend(rv_backend backend);

typedef int (*rv_cancel_fn) (void *arg);

typedef struct rv_exec
{
	int max_threads;
	size_t min_work_per_thread;
	rv_cancel_fn cancel;
	void *cancel_arg;
} rv_exec;

size_t rv_plan_threads(size_t ntasks, size_t work_per_task, const rv_exec *ex);

float rv_default_scale(size_t d);
rv_status rv_softmax(const float *x, size_t n, float *out);
rv_status rv_softmax_inplace(float *x, size_t n);
rv_status rv_attention_score(const float *q, const float *k, size_t d,
							 float scale, float *out);
rv_status rv_attention_scores(const float *q, const float *K, size_t n,
							  size_t d, float scale, float *w);
rv_status rv_multi_head_scores(const float *q, const float *K, size_t n,
							   size_t d, size_t num_heads, float *w,
							   float *scratch);
rv_status rv_multi_head_score(const float *q, const float *k, size_t d,
							  size_t num_heads, float *out);
size_t rv_scaled_dot_attention_scratch(size_t m, size_t n, size_t d,
									   size_t dv, const rv_exec *ex);
rv_status rv_scaled_dot_attention(const float *Q, size_t m, const float *K,
								  const float *V, size_t n, size_t d,
								  size_t dv, float scale, float *out,
								  float *scratch, const rv_exec *ex);
size_t rv_multi_head_attention_scratch(size_t m, size_t n, size_t d,
									   size_t dv, size_t num_heads,
									   int want_weights, const rv_exec *ex);
rv_status rv_multi_head_attention(const float *Q, size_t m, const float *K,
								  const float *V, size_t n, size_t d,
								  size_t dv, size_t num_heads, float *out,
								  float *avg_weights, float *scratch,
								  const rv_exec *ex);
size_t rv_flash_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
								  size_t block_size, const rv_exec *ex);
rv_status rv_flash_attention(const float *Q, size_t m, const float *K,
							 const float *V, size_t n, size_t d, size_t dv,
							 float scale, size_t block_size, float *out,
							 float *scratch, const rv_exec *ex);

size_t rv_linear_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
								   const rv_exec *ex);
rv_status rv_linear_attention(const float *Q, size_t m, const float *K,
							  const float *V, size_t n, size_t d, size_t dv,
							  float *out, float *scratch, const rv_exec *ex);
size_t rv_linear_summary_scratch(size_t n, size_t d, size_t dv, const rv_exec *ex);
rv_status rv_linear_attention_summary(const float *K, const float *V, size_t n,
									  size_t d, size_t dv, float *M,
									  float *scratch, const rv_exec *ex);
size_t rv_linear_from_summary_scratch(size_t m, size_t d, size_t dv,
									  const rv_exec *ex);
rv_status rv_linear_attention_from_summary(const float *Q, size_t m,
										   const float *M, size_t d, size_t dv,
										   float *out, float *scratch,
										   const rv_exec *ex);
size_t rv_gat_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
								const rv_exec *ex);
rv_status rv_gat_attention(const float *Q, size_t m, const float *K,
						   const float *V, size_t n, size_t d, size_t dv,
						   const float *a, float negative_slope, float scale,
						   float *out, float *scratch, const rv_exec *ex);
size_t rv_sparse_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
								   size_t top_k, const rv_exec *ex);
rv_status rv_sparse_attention(const float *Q, size_t m, const float *K,
							  const float *V, size_t n, size_t d, size_t dv,
							  size_t top_k, float scale, float *out,
							  float *scratch, const rv_exec *ex);
size_t rv_moe_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
								size_t n_experts, size_t top_k, const rv_exec *ex);
rv_status rv_moe_attention(const float *Q, size_t m, const float *K,
						   const float *V, size_t n, size_t d, size_t dv,
						   size_t n_experts, size_t top_k, float scale,
						   float *out, float *scratch, const rv_exec *ex);
size_t rv_cross_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
								  size_t num_heads, const rv_exec *ex);
rv_status rv_cross_attention(const float *Q, size_t m, const float *K,
							 const float *V, size_t n, size_t d, size_t dv,
							 size_t num_heads, int causal, float scale,
							 float *out, float *scratch, const rv_exec *ex);
size_t rv_sliding_window_attention_scratch(size_t m, size_t n, size_t d,
										   size_t dv, size_t window,
										   const rv_exec *ex);
rv_status rv_sliding_window_attention(const float *Q, size_t m, const float *K,
									  const float *V, size_t n, size_t d,
									  size_t dv, size_t window, float scale,
									  float *out, float *scratch,
									  const rv_exec *ex);
size_t rv_hyperbolic_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
									   const rv_exec *ex);
rv_status rv_poincare_attention(const float *Q, size_t m, const float *K,
								const float *V, size_t n, size_t d, size_t dv,
								float curvature, float *out, float *scratch,
								const rv_exec *ex);
rv_status rv_lorentz_attention(const float *Q, size_t m, const float *K,
							   const float *V, size_t n, size_t d, size_t dv,
							   float curvature, float *out, float *scratch,
							   const rv_exec *ex);
rv_status rv_ball_check(const float *X, size_t rows, size_t d, float curvature,
						size_t *bad_row);
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
	const char *name;
	const char *complexity;
	const char *best_for;
} rv_attention_type_info;

const rv_attention_type_info *rv_attention_type_get(rv_attention_type t);
rv_status rv_attention_type_from_name(const char *name, rv_attention_type *out);
const char *rv_attention_type_names(void);

typedef struct rv_attention_params
{
	rv_attention_type type;
	float scale;
	size_t num_heads;
	size_t block_size;
	size_t top_k;
	size_t n_experts;
	size_t window;
	int causal;
	float negative_slope;
	const float *gat_a;
	float curvature;
} rv_attention_params;
rv_status rv_attention_params_init(rv_attention_params *p, rv_attention_type t);
size_t rv_attention_scratch(const rv_attention_params *p, size_t m, size_t n,
							size_t d, size_t dv, const rv_exec *ex);
rv_status rv_attention(const rv_attention_params *p, const float *Q, size_t m,
					   const float *K, const float *V, size_t n, size_t d,
					   size_t dv, float *out, float *scratch, const rv_exec *ex);
size_t rv_attention_weights_scratch(const rv_attention_params *p, size_t m,
									size_t n, size_t d, const rv_exec *ex);
rv_status rv_attention_weights(const rv_attention_params *p, const float *Q,
							   size_t m, const float *K, size_t n, size_t d,
							   float *W, float *scratch, const rv_exec *ex);
rv_status rv_attention_logit(const rv_attention_params *p, const float *q,
							 const float *k, size_t d, float *out);
void rv_exp_f32(const float *x, size_t n, float *out);

/* internal test hook (csrc/rv_threads.h): the next k thread starts fail */
void rv__test_fail_thread_starts(int k);

/* binding helpers (_glue.h): the forward functions with their scratch
 * allocated in C (stack when small, else malloc) */
rv_status rvpy_scaled_dot_attention(const float *Q, size_t m, const float *K,
                                    const float *V, size_t n, size_t d, size_t dv,
                                    float scale, float *out, const rv_exec *ex);
rv_status rvpy_flash_attention(const float *Q, size_t m, const float *K, const float *V,
                               size_t n, size_t d, size_t dv, float scale,
                               size_t block_size, float *out, const rv_exec *ex);
rv_status rvpy_multi_head_attention(const float *Q, size_t m, const float *K,
                                    const float *V, size_t n, size_t d, size_t dv,
                                    size_t num_heads, float *out, float *avg_weights,
                                    const rv_exec *ex);
rv_status rvpy_attention(const rv_attention_params *p, const float *Q, size_t m,
                         const float *K, const float *V, size_t n, size_t d,
                         size_t dv, float *out, const rv_exec *ex);
rv_status rvpy_attention_weights(const rv_attention_params *p, const float *Q,
                                 size_t m, const float *K, size_t n, size_t d,
                                 float *W, const rv_exec *ex);
rv_status rvpy_linear_attention_summary(const float *K, const float *V, size_t n,
                                        size_t d, size_t dv, float *M,
                                        const rv_exec *ex);
rv_status rvpy_linear_attention_from_summary(const float *Q, size_t m,
                                             const float *M, size_t d, size_t dv,
                                             float *out, const rv_exec *ex);
