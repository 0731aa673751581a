/*
 * ruvector_pg.c: the PostgreSQL glue of ruvector (SQL functions and GUCs).
 *
 * The only file of the project that includes postgres.h.  Every SQL function
 * reads its real[] arguments in place, validates shapes and parameters once
 * (the SQLSTATEs are those of DESIGN.md section 4), sizes the result and any
 * scratch space before allocating them with palloc in the function's memory
 * context, and calls the C core (ruvector.h) for the arithmetic.  Core status
 * codes become SQL errors in one helper, ReportStatus.
 *
 * Threads: the core may run heads or query rows on worker threads.  They
 * never call into PostgreSQL: every buffer is allocated here before the call,
 * and the cancel callback handed to the core only reads PostgreSQL's
 * interrupt flags.  When the core stops on request it joins its threads and
 * returns RV_ERR_CANCELLED; only then do we call CHECK_FOR_INTERRUPTS().
 */
#include "postgres.h"

#include <math.h>

#include "catalog/pg_type.h"
#include "fmgr.h"
#include "funcapi.h"
#include "miscadmin.h"
#include "storage/shmem.h"
#include "utils/array.h"
#include "utils/builtins.h"
#include "utils/guc.h"

#include "ruvector.h"

PG_MODULE_MAGIC;

/* GUC ruvector.max_threads: threads (with the caller) one call may use */
static int	ruvector_max_threads = 4;

/* GUC ruvector.simd: an rv_backend value, RV_BACKEND_AUTO for "auto" */
static int	ruvector_simd = RV_BACKEND_AUTO;

/* what "auto" means: the backend the core chose when the library loaded */
static rv_backend load_time_backend = RV_BACKEND_SCALAR;

/* "auto" and every backend name, filled from the core in _PG_init */
static struct config_enum_entry simd_options[RV_BACKEND_COUNT + 2];

#define PLURAL_S(n) ((n) == 1 ? "" : "s")

#define HINT_VECTOR(what) \
	"Pass the " what " as a 1-D array such as ARRAY[1,0,0]::real[]."

/*
 * A real[] argument seen in place.  ndim is 0 for an empty array (whatever
 * its declared dimensions), 1 for a vector of cols floats (rows = 1) or 2
 * for rows x cols floats, row-major; arrays of more dimensions keep their
 * ndim so that the shape checks reject them by name.
 */
typedef struct RvArray
{
	const char *name;			/* SQL argument name, for messages */
	const float4 *data;
	int			ndim;
	size_t		rows;
	size_t		cols;
	bool		allow_neg_inf;	/* -Infinity is a valid value (softmax) */
} RvArray;

/*
 * Reject a non-real[] array (only reachable from C callers) and arrays that
 * contain NULL elements.
 */
static inline void
CheckFloat4Elements(ArrayType *a, const char *name)
{
	if (ARR_ELEMTYPE(a) != FLOAT4OID)
		ereport(ERROR,
				(errcode(ERRCODE_DATATYPE_MISMATCH),
				 errmsg("%s must be of type real[]", name)));
	if (ARR_HASNULL(a) && array_contains_nulls(a))
		ereport(ERROR,
				(errcode(ERRCODE_NULL_VALUE_NOT_ALLOWED),
				 errmsg("%s must not contain nulls", name)));
}

/* View a real[] argument in place; lower bounds are ignored. */
static RvArray
ReadArray(ArrayType *a, const char *name)
{
	RvArray		x;
	int			ndim = ARR_NDIM(a);
	int		   *dims = ARR_DIMS(a);

	CheckFloat4Elements(a, name);
	x.name = name;
	x.data = (const float4 *) ARR_DATA_PTR(a);
	x.ndim = ndim;
	x.rows = 0;
	x.cols = 0;
	x.allow_neg_inf = false;
	if (ArrayGetNItems(ndim, dims) == 0)
		x.ndim = 0;
	else if (ndim == 1)
	{
		x.rows = 1;
		x.cols = (size_t) dims[0];
	}
	else if (ndim == 2)
	{
		x.rows = (size_t) dims[0];
		x.cols = (size_t) dims[1];
	}
	return x;
}

/* A vector argument (query, key, scores): 1-D, or empty (callers decide). */
static inline void
CheckVector(const RvArray *x, const char *hint)
{
	if (x->ndim > 1)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must be a 1-D array, not %d-D", x->name, x->ndim),
				 errhint("%s", hint)));
}

/*
 * The query: not empty, 1-D, or 2-D (m queries of d dimensions) where the
 * function computes a batch.
 */
static inline void
CheckQuery(const RvArray *q, bool allow_batch)
{
	if (q->ndim == 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("query must not be empty")));
	if (!allow_batch)
		CheckVector(q, HINT_VECTOR("query"));
	else if (q->ndim > 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("query must be a 1-D or 2-D array, not %d-D", q->ndim),
				 errhint("Pass one query as a 1-D array such as ARRAY[1,0]::real[], "
						 "or m queries as an m x d array such as ARRAY[[1,0],[0,1]]::real[].")));
}

/* The one key of ruvector_attention_score: 1-D with the query's length. */
static inline void
CheckKeyVector(const RvArray *k, size_t d)
{
	CheckVector(k, HINT_VECTOR("key") " For several keys use ruvector_attention_scores.");
	if (k->cols != d)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("query has %zu dimension%s but key has %zu",
						d, PLURAL_S(d), k->cols)));
}

/* keys or values: empty (no rows) or 2-D */
static inline void
CheckMatrix(const RvArray *x)
{
	if (x->ndim != 0 && x->ndim != 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must be a 2-D array, not %d-D", x->name, x->ndim),
				 errhint("Pass %s as a 2-D array with one row per key, such as ARRAY[[1,0],[0,1]]::real[].",
						 x->name)));
}

/* keys: n x d, with the query's d; n may be 0 */
static inline void
CheckKeys(const RvArray *keys, size_t d)
{
	CheckMatrix(keys);
	if (keys->ndim != 0 && keys->cols != d)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("query has %zu dimension%s but keys have %zu column%s",
						d, PLURAL_S(d), keys->cols, PLURAL_S(keys->cols))));
}

/* values: one row per key */
static inline void
CheckValues(const RvArray *values, const RvArray *keys)
{
	CheckMatrix(values);
	if (values->rows != keys->rows)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("keys have %zu row%s but values have %zu row%s",
						keys->rows, PLURAL_S(keys->rows),
						values->rows, PLURAL_S(values->rows))));
}

/*
 * num_heads must be positive and divide d and dv (dv == 0: not known yet).
 * implicit: the caller did not choose num_heads (the multi_head attention
 * type of the score functions uses RV_DEFAULT_NUM_HEADS).
 */
static inline void
CheckHeads(int num_heads, size_t d, size_t dv, bool implicit)
{
	if (num_heads < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("num_heads must be at least 1, not %d", num_heads)));
	if (d % (size_t) num_heads != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 implicit ?
				 errmsg("attention type \"multi_head\" needs a query dimension divisible by %d, not %zu",
						num_heads, d) :
				 errmsg("num_heads (%d) must divide the query dimension (%zu)",
						num_heads, d)));
	if (dv % (size_t) num_heads != 0)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("num_heads (%d) must divide the value dimension (%zu)",
						num_heads, dv)));
}

static inline void
CheckBlockSize(int block_size)
{
	if (block_size < 1 || block_size > RV_MAX_BLOCK_SIZE)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("block_size must be between 1 and %d, not %d",
						RV_MAX_BLOCK_SIZE, block_size)));
}

/*
 * Parse attention_type (case-insensitive names and aliases) for a query of
 * d dimensions.  Unknown names are 22023 with the list of names; never
 * falls back to scaled_dot.  multi_head uses RV_DEFAULT_NUM_HEADS heads
 * here, which must divide d.
 */
static rv_attention_type
GetAttentionType(text *name_text, size_t d)
{
	char	   *name = text_to_cstring(name_text);
	rv_attention_type t;

	if (rv_attention_type_from_name(name, &t) != RV_OK)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown attention type \"%s\"", name),
				 errhint("Valid attention types are: %s (case-insensitive).",
						 rv_attention_type_names())));
	if (t == RV_ATTN_MULTI_HEAD)
		CheckHeads(RV_DEFAULT_NUM_HEADS, d, 0, true);
	pfree(name);
	return t;
}

/* An integer parameter that must be at least 1 (top_k, n_experts, window_size). */
static inline size_t
CheckPositive(int value, const char *name)
{
	if (value < 1)
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("%s must be at least 1, not %d", name, value)));
	return (size_t) value;
}

static inline float4
CheckSlope(float4 slope)
{
	if (!isfinite(slope))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("negative_slope must be a finite number, not %g", slope)));
	return slope;
}

static inline float4
CheckCurvature(float4 c)
{
	if (!(c > 0.0f) || !isfinite(c))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("curvature must be a positive finite number, not %g", c),
				 errhint("The Poincare ball of curvature c has radius 1/sqrt(c); c = 1 is the unit ball.")));
	return c;
}

/* The hyperbolic model of ruvector_hyperbolic_attention: poincare or lorentz. */
static rv_attention_type
GetHyperbolicModel(text *name_text)
{
	char	   *name = text_to_cstring(name_text);
	rv_attention_type t;

	if (rv_attention_type_from_name(name, &t) != RV_OK ||
		(t != RV_ATTN_POINCARE && t != RV_ATTN_LORENTZ))
		ereport(ERROR,
				(errcode(ERRCODE_INVALID_PARAMETER_VALUE),
				 errmsg("unknown hyperbolic model \"%s\"", name),
				 errhint("Valid models are poincare (the Poincare ball) and lorentz (the hyperboloid), case-insensitive.")));
	pfree(name);
	return t;
}

/*
 * Allocate a real[] result of rows x cols (ndim 2) or cols (ndim 1) floats,
 * lower bounds 1, for the core to write into ARR_DATA_PTR directly.  Sizes
 * are checked before allocating: PostgreSQL arrays hold at most MaxArraySize
 * elements (which also keeps the allocation under MaxAllocSize).
 */
static ArrayType *
NewFloat4Array(int ndim, size_t rows, size_t cols)
{
	size_t		nitems = mul_size(rows, cols);
	Size		nbytes;
	ArrayType  *a;

	Assert(ndim == 1 ? rows == 1 : ndim == 2);
	if (nitems > MaxArraySize)
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("result array size exceeds the maximum allowed (%zu)",
						(size_t) MaxArraySize),
				 errdetail("The result would have %zu x %zu elements.", rows, cols)));
	nbytes = add_size(ARR_OVERHEAD_NONULLS(ndim), mul_size(nitems, sizeof(float4)));
	a = (ArrayType *) palloc0(nbytes);
	SET_VARSIZE(a, nbytes);
	a->ndim = ndim;
	a->dataoffset = 0;
	a->elemtype = FLOAT4OID;
	ARR_DIMS(a)[ndim - 1] = (int) cols;
	ARR_LBOUND(a)[ndim - 1] = 1;
	if (ndim == 2)
	{
		ARR_DIMS(a)[0] = (int) rows;
		ARR_LBOUND(a)[0] = 1;
	}
	return a;
}

/*
 * Scratch space of nfloats floats, as reported by an rv_*_scratch function
 * ((size_t) -1 when its size computation overflowed).  Checked before
 * allocating; the caller pfrees it.
 */
static float *
AllocScratch(size_t nfloats)
{
	if (nfloats > MaxAllocSize / sizeof(float))
		ereport(ERROR,
				(errcode(ERRCODE_PROGRAM_LIMIT_EXCEEDED),
				 errmsg("attention scratch space exceeds the maximum allocation size"),
				 nfloats == (size_t) -1 ?
				 errdetail("The scratch size overflows.") :
				 errdetail("The call would need scratch space for %zu floats.",
						   nfloats)));
	return (float *) palloc(Max(nfloats, 1) * sizeof(float));
}

static const char *
NonFiniteName(float4 v)
{
	return isnan(v) ? "NaN" : v > 0 ? "Infinity" : "-Infinity";
}

/*
 * Error path of RV_ERR_NONFINITE: name the first input, row and column that
 * holds NaN or an infinity (-Infinity is valid where allow_neg_inf says so).
 * When every input is finite, a logit or an output overflowed instead.
 */
static _Noreturn void
ReportNonFinite(const RvArray *const *inputs, int ninputs)
{
	for (int a = 0; a < ninputs; a++)
	{
		const RvArray *x = inputs[a];

		for (size_t i = 0; i < x->rows * x->cols; i++)
		{
			float4		v = x->data[i];

			if (isfinite(v) || (x->allow_neg_inf && v == -INFINITY))
				continue;
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 x->allow_neg_inf ?
					 errmsg("%s must not contain NaN or +Infinity", x->name) :
					 errmsg("%s must not contain NaN or infinity", x->name),
					 x->ndim == 2 ?
					 errdetail("Row %zu, column %zu of %s is %s.",
							   i / x->cols + 1, i % x->cols + 1, x->name,
							   NonFiniteName(v)) :
					 errdetail("Element %zu of %s is %s.",
							   i + 1, x->name, NonFiniteName(v)),
					 x->allow_neg_inf ?
					 errhint("Use -Infinity to mask a score.") : 0));
		}
	}
	ereport(ERROR,
			(errcode(ERRCODE_NUMERIC_VALUE_OUT_OF_RANGE),
			 errmsg("attention result is out of range for type real"),
			 errdetail("All inputs are finite, but an attention logit or output value overflowed, or every attention weight underflowed to 0.")));
}

/*
 * The one mapping from a core status to an SQL error.  inputs are the arrays
 * of the call, scanned only to explain RV_ERR_NONFINITE.  A cancelled call
 * has already stopped and joined its threads: CHECK_FOR_INTERRUPTS() raises
 * the cancel or timeout error PostgreSQL has pending; if it returns (the
 * interrupt cannot be serviced right now), the call still fails with 57014.
 */
static _Noreturn void
ReportStatus(rv_status st, const RvArray *const *inputs, int ninputs)
{
	int			code;

	if (st == RV_ERR_NONFINITE)
		ReportNonFinite(inputs, ninputs);
	if (st == RV_ERR_ALL_MASKED)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s", rv_strerror(st)),
				 errhint("At least one score must be greater than -Infinity.")));
	if (st == RV_ERR_CANCELLED)
		CHECK_FOR_INTERRUPTS();

	switch (st)
	{
		case RV_ERR_CANCELLED:
			code = ERRCODE_QUERY_CANCELED;
			break;
		case RV_ERR_EMPTY_QUERY:
		case RV_ERR_NO_KEYS:
		case RV_ERR_EMPTY_VALUES:
		case RV_ERR_NUM_HEADS:
		case RV_ERR_BLOCK_SIZE:
		case RV_ERR_SCALE:
		case RV_ERR_UNKNOWN_BACKEND:
		case RV_ERR_UNKNOWN_TYPE:
		case RV_ERR_TOP_K:
		case RV_ERR_N_EXPERTS:
		case RV_ERR_WINDOW:
		case RV_ERR_SLOPE:
		case RV_ERR_CURVATURE:
			code = ERRCODE_INVALID_PARAMETER_VALUE;
			break;
		case RV_ERR_OUTSIDE_BALL:
			code = ERRCODE_DATA_EXCEPTION;
			break;
		case RV_ERR_SIZE_OVERFLOW:
			code = ERRCODE_PROGRAM_LIMIT_EXCEEDED;
			break;
		case RV_ERR_NOMEM:
			code = ERRCODE_OUT_OF_MEMORY;
			break;
		case RV_ERR_THREAD:
			code = ERRCODE_INSUFFICIENT_RESOURCES;
			break;
		case RV_ERR_UNSUPPORTED_BACKEND:
			code = ERRCODE_FEATURE_NOT_SUPPORTED;
			break;
		default:				/* RV_ERR_NULL_ARG, RV_OK: a bug here */
			code = ERRCODE_INTERNAL_ERROR;
			break;
	}
	ereport(ERROR, (errcode(code), errmsg("%s", rv_strerror(st))));
	pg_unreachable();
}

/*
 * The core's cancel callback.  It runs on worker threads too, so it only
 * reads the volatile sig_atomic_t flags that PostgreSQL's signal handlers
 * set (statement_timeout and pg_cancel_backend set QueryCancelPending,
 * pg_terminate_backend ProcDiePending), and never jumps.
 */
static int
CancelRequested(void *arg)
{
	(void) arg;
	return QueryCancelPending || ProcDiePending;
}

static void
InitExec(rv_exec *ex)
{
	ex->max_threads = ruvector_max_threads;
	ex->min_work_per_thread = 0;
	ex->cancel = CancelRequested;
	ex->cancel_arg = NULL;
}

/*
 * Error path of RV_ERR_OUTSIDE_BALL (Poincare inputs): name the first
 * input and row with c |x|^2 >= 1, as the core decides it (rv_ball_check).
 */
static _Noreturn void
ReportOutsideBall(const RvArray *const *inputs, int ninputs, float curvature)
{
	/* a NaN or infinity is outside every ball: report it as what it is */
	for (int a = 0; a < ninputs; a++)
		if (inputs[a] != NULL && inputs[a]->ndim != 0 &&
			rv_ball_check(inputs[a]->data, inputs[a]->rows, inputs[a]->cols,
						  curvature, NULL) == RV_ERR_NONFINITE)
			ReportNonFinite(inputs, ninputs);
	for (int a = 0; a < ninputs; a++)
	{
		const RvArray *x = inputs[a];
		size_t		row;

		if (x == NULL || x->ndim == 0 ||
			rv_ball_check(x->data, x->rows, x->cols, curvature, &row) != RV_ERR_OUTSIDE_BALL)
			continue;
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("%s must lie inside the Poincare ball of curvature %g", x->name, curvature),
				 x->ndim == 2 ?
				 errdetail("Row %zu of %s has c |x|^2 >= 1.", row + 1, x->name) :
				 errdetail("The %s has c |x|^2 >= 1.", x->name),
				 errhint("Points of the Poincare ball of curvature c have norm below 1/sqrt(c) = %g; "
						 "scale them, or use model => 'lorentz', which takes any point.",
						 1.0 / sqrt((double) curvature))));
	}
	ReportStatus(RV_ERR_OUTSIDE_BALL, inputs, 0);
}

/* ReportStatus for a call made with parameters p (the ball's curvature). */
static _Noreturn void
ReportCallStatus(rv_status st, const RvArray *const *inputs, int ninputs,
				 const rv_attention_params *p)
{
	if (st == RV_ERR_OUTSIDE_BALL)
		ReportOutsideBall(inputs, ninputs, p->curvature);
	ReportStatus(st, inputs, ninputs);
}

/* The defaults of type t (t comes from the core's catalogue: always valid). */
static void
InitParams(rv_attention_params *p, rv_attention_type t)
{
	rv_status	st = rv_attention_params_init(p, t);

	if (st != RV_OK)
		ReportStatus(st, NULL, 0);
}

PG_FUNCTION_INFO_V1(ruvector_attention_score);
PG_FUNCTION_INFO_V1(ruvector_softmax);
PG_FUNCTION_INFO_V1(ruvector_attention_scores);
PG_FUNCTION_INFO_V1(ruvector_attention);
PG_FUNCTION_INFO_V1(ruvector_multi_head_attention);
PG_FUNCTION_INFO_V1(ruvector_flash_attention);
PG_FUNCTION_INFO_V1(ruvector_linear_attention);
PG_FUNCTION_INFO_V1(ruvector_linear_attention_summary);
PG_FUNCTION_INFO_V1(ruvector_linear_attention_from_summary);
PG_FUNCTION_INFO_V1(ruvector_gat_attention);
PG_FUNCTION_INFO_V1(ruvector_sparse_attention);
PG_FUNCTION_INFO_V1(ruvector_moe_attention);
PG_FUNCTION_INFO_V1(ruvector_cross_attention);
PG_FUNCTION_INFO_V1(ruvector_sliding_window_attention);
PG_FUNCTION_INFO_V1(ruvector_hyperbolic_attention);
PG_FUNCTION_INFO_V1(ruvector_attention_types);
PG_FUNCTION_INFO_V1(ruvector_simd_info);

/*
 * ruvector_attention_score(query real[], key real[], attention_type text)
 * The raw score of one pair under the type's rule with its default
 * parameters (rv_attention_logit): q.k/sqrt(d) for scaled_dot and most
 * types, the mean of RV_DEFAULT_NUM_HEADS heads' logits for multi_head,
 * phi(q).phi(k) for linear, LeakyReLU for gat, -distance for the
 * hyperbolic types.
 */
Datum
ruvector_attention_score(PG_FUNCTION_ARGS)
{
	RvArray		q = ReadArray(PG_GETARG_ARRAYTYPE_P(0), "query");
	RvArray		k = ReadArray(PG_GETARG_ARRAYTYPE_P(1), "key");
	const RvArray *in[] = {&q, &k};
	rv_attention_params p;
	float4		score;
	rv_status	st;

	CheckQuery(&q, false);
	CheckKeyVector(&k, q.cols);
	InitParams(&p, GetAttentionType(PG_GETARG_TEXT_PP(2), q.cols));
	st = rv_attention_logit(&p, q.data, k.data, q.cols, &score);
	if (st != RV_OK)
		ReportCallStatus(st, in, lengthof(in), &p);
	PG_RETURN_FLOAT4(score);
}

/*
 * ruvector_softmax(scores real[]) -> real[] of the same length.
 * '{}' gives '{}'; -Infinity entries get weight 0.
 */
Datum
ruvector_softmax(PG_FUNCTION_ARGS)
{
	RvArray		x = ReadArray(PG_GETARG_ARRAYTYPE_P(0), "scores");
	const RvArray *in[] = {&x};
	ArrayType  *result;
	rv_status	st;

	x.allow_neg_inf = true;
	if (x.ndim == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(FLOAT4OID));
	CheckVector(&x, "Pass the scores as a 1-D array such as ARRAY[1,2,3]::real[].");
	result = NewFloat4Array(1, 1, x.cols);
	st = rv_softmax(x.data, x.cols, (float *) ARR_DATA_PTR(result));
	if (st != RV_OK)
		ReportStatus(st, in, lengthof(in));
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * ruvector_attention_scores(query real[], keys real[], attention_type text)
 * Weights of each query over the n keys (n x d) under the type with its
 * default parameters (rv_attention_weights): n floats for a 1-D query,
 * m x n for m queries.  No keys: '{}'.
 */
Datum
ruvector_attention_scores(PG_FUNCTION_ARGS)
{
	RvArray		q = ReadArray(PG_GETARG_ARRAYTYPE_P(0), "query");
	RvArray		keys = ReadArray(PG_GETARG_ARRAYTYPE_P(1), "keys");
	const RvArray *in[] = {&q, &keys};
	rv_attention_params p;
	rv_exec		ex;
	ArrayType  *result;
	float	   *scratch;
	rv_status	st;

	CheckQuery(&q, true);
	CheckKeys(&keys, q.cols);
	InitParams(&p, GetAttentionType(PG_GETARG_TEXT_PP(2), q.cols));
	if (keys.rows == 0)
		PG_RETURN_ARRAYTYPE_P(construct_empty_array(FLOAT4OID));

	InitExec(&ex);
	result = NewFloat4Array(q.ndim, q.rows, keys.rows);
	scratch = AllocScratch(rv_attention_weights_scratch(&p, q.rows, keys.rows, q.cols, &ex));
	st = rv_attention_weights(&p, q.data, q.rows, keys.data, keys.rows, q.cols,
							  (float *) ARR_DATA_PTR(result), scratch, &ex);
	pfree(scratch);
	if (st != RV_OK)
		ReportCallStatus(st, in, lengthof(in), &p);
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * The arrays of the forward functions, read and checked: query d (or m x d),
 * keys n x d, values n x dv, where n may be 0 (both empty).
 */
static void
ReadForwardArgs(FunctionCallInfo fcinfo, RvArray *q, RvArray *keys,
				RvArray *values)
{
	*q = ReadArray(PG_GETARG_ARRAYTYPE_P(0), "query");
	*keys = ReadArray(PG_GETARG_ARRAYTYPE_P(1), "keys");
	*values = ReadArray(PG_GETARG_ARRAYTYPE_P(2), "values");
	CheckQuery(q, true);
	CheckKeys(keys, q->cols);
	CheckValues(values, keys);
}

/*
 * The forward pass shared by every function that returns attention
 * outputs, once the arrays are read and checked and p holds the checked
 * parameters: dv floats for a 1-D query, m x dv for m queries, NULL when
 * there are no keys.  extra is a further input array of the call (the gat
 * attention vector), scanned only to explain an error; may be NULL.
 */
static Datum
ForwardResult(FunctionCallInfo fcinfo, const rv_attention_params *p,
			  const RvArray *q, const RvArray *keys, const RvArray *values,
			  const RvArray *extra)
{
	const RvArray *in[] = {q, keys, values, extra};
	rv_exec		ex;
	ArrayType  *result;
	float	   *scratch;
	rv_status	st;

	if (keys->rows == 0)
		PG_RETURN_NULL();
	InitExec(&ex);
	result = NewFloat4Array(q->ndim, q->rows, values->cols);
	scratch = AllocScratch(rv_attention_scratch(p, q->rows, keys->rows, q->cols,
												values->cols, &ex));
	st = rv_attention(p, q->data, q->rows, keys->data, values->data, keys->rows,
					  q->cols, values->cols, (float *) ARR_DATA_PTR(result),
					  scratch, &ex);
	pfree(scratch);
	if (st != RV_OK)
		ReportCallStatus(st, in, extra ? 4 : 3, p);
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * ruvector_attention(query, keys, values, attention_type)
 * Any attention type with its default parameters.
 */
Datum
ruvector_attention(PG_FUNCTION_ARGS)
{
	RvArray		q,
				keys,
				values;
	rv_attention_params p;

	ReadForwardArgs(fcinfo, &q, &keys, &values);
	InitParams(&p, GetAttentionType(PG_GETARG_TEXT_PP(3), q.cols));
	if (p.type == RV_ATTN_MULTI_HEAD)
		CheckHeads((int) p.num_heads, q.cols, values.cols, true);
	return ForwardResult(fcinfo, &p, &q, &keys, &values, NULL);
}

/*
 * ruvector_multi_head_attention(query, keys, values, num_heads)
 * keys n x d, values n x dv; head h takes query/key dims [h*d/H, (h+1)*d/H)
 * and value dims [h*dv/H, (h+1)*dv/H).
 */
Datum
ruvector_multi_head_attention(PG_FUNCTION_ARGS)
{
	RvArray		q,
				keys,
				values;
	rv_attention_params p;

	ReadForwardArgs(fcinfo, &q, &keys, &values);
	InitParams(&p, RV_ATTN_MULTI_HEAD);
	CheckHeads(PG_GETARG_INT32(3), q.cols, values.cols, false);
	p.num_heads = (size_t) PG_GETARG_INT32(3);
	return ForwardResult(fcinfo, &p, &q, &keys, &values, NULL);
}

/*
 * ruvector_flash_attention(query, keys, values, block_size)
 * Single-head scaled dot-product attention (scale 1/sqrt(d)) over tiles of
 * block_size keys; scratch does not grow with n.
 */
Datum
ruvector_flash_attention(PG_FUNCTION_ARGS)
{
	RvArray		q,
				keys,
				values;
	rv_attention_params p;

	ReadForwardArgs(fcinfo, &q, &keys, &values);
	InitParams(&p, RV_ATTN_FLASH_V2);
	CheckBlockSize(PG_GETARG_INT32(3));
	p.block_size = (size_t) PG_GETARG_INT32(3);
	return ForwardResult(fcinfo, &p, &q, &keys, &values, NULL);
}

/* ruvector_linear_attention(query, keys, values): phi(x) = elu(x) + 1 */
Datum
ruvector_linear_attention(PG_FUNCTION_ARGS)
{
	RvArray		q,
				keys,
				values;
	rv_attention_params p;

	ReadForwardArgs(fcinfo, &q, &keys, &values);
	InitParams(&p, RV_ATTN_LINEAR);
	return ForwardResult(fcinfo, &p, &q, &keys, &values, NULL);
}

/*
 * ruvector_linear_attention_summary(keys, values) -> d x (dv + 1)
 * [S | z] with S = sum_i phi(k_i) v_i^T and z = sum_i phi(k_i), for
 * ruvector_linear_attention_from_summary.  NULL when there are no keys.
 */
Datum
ruvector_linear_attention_summary(PG_FUNCTION_ARGS)
{
	RvArray		keys = ReadArray(PG_GETARG_ARRAYTYPE_P(0), "keys");
	RvArray		values = ReadArray(PG_GETARG_ARRAYTYPE_P(1), "values");
	const RvArray *in[] = {&keys, &values};
	rv_exec		ex;
	ArrayType  *result;
	float	   *scratch;
	rv_status	st;

	CheckMatrix(&keys);
	CheckValues(&values, &keys);
	if (keys.rows == 0)
		PG_RETURN_NULL();
	InitExec(&ex);
	result = NewFloat4Array(2, keys.cols, add_size(values.cols, 1));
	scratch = AllocScratch(rv_linear_summary_scratch(keys.rows, keys.cols, values.cols, &ex));
	st = rv_linear_attention_summary(keys.data, values.data, keys.rows, keys.cols,
									 values.cols, (float *) ARR_DATA_PTR(result),
									 scratch, &ex);
	pfree(scratch);
	if (st != RV_OK)
		ReportStatus(st, in, lengthof(in));
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * ruvector_linear_attention_from_summary(query, summary)
 * Linear attention of a query (or m x d queries) from the d x (dv + 1)
 * summary of ruvector_linear_attention_summary, in O(d dv) per query.
 */
Datum
ruvector_linear_attention_from_summary(PG_FUNCTION_ARGS)
{
	RvArray		q = ReadArray(PG_GETARG_ARRAYTYPE_P(0), "query");
	RvArray		summary = ReadArray(PG_GETARG_ARRAYTYPE_P(1), "summary");
	const RvArray *in[] = {&q, &summary};
	rv_exec		ex;
	ArrayType  *result;
	float	   *scratch;
	rv_status	st;

	CheckQuery(&q, true);
	if (summary.ndim != 2 || summary.cols < 2)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("summary must be a 2-D array of d rows and dv + 1 columns"),
				 errhint("Pass the result of ruvector_linear_attention_summary(keys, \"values\").")));
	if (summary.rows != q.cols)
		ereport(ERROR,
				(errcode(ERRCODE_DATA_EXCEPTION),
				 errmsg("query has %zu dimension%s but summary has %zu row%s",
						q.cols, PLURAL_S(q.cols), summary.rows, PLURAL_S(summary.rows))));
	InitExec(&ex);
	result = NewFloat4Array(q.ndim, q.rows, summary.cols - 1);
	scratch = AllocScratch(rv_linear_from_summary_scratch(q.rows, q.cols, summary.cols - 1, &ex));
	st = rv_linear_attention_from_summary(q.data, q.rows, summary.data, q.cols,
										  summary.cols - 1,
										  (float *) ARR_DATA_PTR(result), scratch, &ex);
	pfree(scratch);
	if (st != RV_OK)
		ReportStatus(st, in, lengthof(in));
	PG_RETURN_ARRAYTYPE_P(result);
}

/*
 * ruvector_gat_attention(query, keys, values, negative_slope, attention_vector)
 * attention_vector '{}' (the default): e_i = LeakyReLU(q.k_i/sqrt(d));
 * otherwise a = [a1; a2] of 2d floats and e_i = LeakyReLU(a1.q + a2.k_i).
 */
Datum
ruvector_gat_attention(PG_FUNCTION_ARGS)
{
	RvArray		q,
				keys,
				values,
				a;
	rv_attention_params p;

	ReadForwardArgs(fcinfo, &q, &keys, &values);
	InitParams(&p, RV_ATTN_GAT);
	p.negative_slope = CheckSlope(PG_GETARG_FLOAT4(3));
	a = ReadArray(PG_GETARG_ARRAYTYPE_P(4), "attention_vector");
	if (a.ndim != 0)
	{
		CheckVector(&a, "Pass a = [a1; a2] as a 1-D array of twice the query's length, "
					"or '{}' for LeakyReLU(q.k/sqrt(d)).");
		if (a.cols != 2 * q.cols)
			ereport(ERROR,
					(errcode(ERRCODE_DATA_EXCEPTION),
					 errmsg("attention_vector has %zu element%s but must have 2 x %zu (twice the query dimension)",
							a.cols, PLURAL_S(a.cols), q.cols)));
		p.gat_a = a.data;
	}
	return ForwardResult(fcinfo, &p, &q, &keys, &values, &a);
}

/* ruvector_sparse_attention(query, keys, values, top_k) */
Datum
ruvector_sparse_attention(PG_FUNCTION_ARGS)
{
	RvArray		q,
				keys,
				values;
	rv_attention_params p;

	ReadForwardArgs(fcinfo, &q, &keys, &values);
	InitParams(&p, RV_ATTN_SPARSE);
	p.top_k = CheckPositive(PG_GETARG_INT32(3), "top_k");
	return ForwardResult(fcinfo, &p, &q, &keys, &values, NULL);
}

/* ruvector_moe_attention(query, keys, values, n_experts, top_k) */
Datum
ruvector_moe_attention(PG_FUNCTION_ARGS)
{
	RvArray		q,
				keys,
				values;
	rv_attention_params p;

	ReadForwardArgs(fcinfo, &q, &keys, &values);
	InitParams(&p, RV_ATTN_MOE);
	p.n_experts = CheckPositive(PG_GETARG_INT32(3), "n_experts");
	p.top_k = CheckPositive(PG_GETARG_INT32(4), "top_k");
	return ForwardResult(fcinfo, &p, &q, &keys, &values, NULL);
}

/* ruvector_cross_attention(query, keys, values, causal, num_heads) */
Datum
ruvector_cross_attention(PG_FUNCTION_ARGS)
{
	RvArray		q,
				keys,
				values;
	rv_attention_params p;

	ReadForwardArgs(fcinfo, &q, &keys, &values);
	InitParams(&p, RV_ATTN_CROSS);
	p.causal = PG_GETARG_BOOL(3);
	CheckHeads(PG_GETARG_INT32(4), q.cols, values.cols, false);
	p.num_heads = (size_t) PG_GETARG_INT32(4);
	return ForwardResult(fcinfo, &p, &q, &keys, &values, NULL);
}

/* ruvector_sliding_window_attention(query, keys, values, window_size) */
Datum
ruvector_sliding_window_attention(PG_FUNCTION_ARGS)
{
	RvArray		q,
				keys,
				values;
	rv_attention_params p;

	ReadForwardArgs(fcinfo, &q, &keys, &values);
	InitParams(&p, RV_ATTN_SLIDING);
	p.window = CheckPositive(PG_GETARG_INT32(3), "window_size");
	return ForwardResult(fcinfo, &p, &q, &keys, &values, NULL);
}

/* ruvector_hyperbolic_attention(query, keys, values, model, curvature) */
Datum
ruvector_hyperbolic_attention(PG_FUNCTION_ARGS)
{
	RvArray		q,
				keys,
				values;
	rv_attention_params p;

	ReadForwardArgs(fcinfo, &q, &keys, &values);
	InitParams(&p, GetHyperbolicModel(PG_GETARG_TEXT_PP(3)));
	p.curvature = CheckCurvature(PG_GETARG_FLOAT4(4));
	return ForwardResult(fcinfo, &p, &q, &keys, &values, NULL);
}

/* ruvector_attention_types(): one row per entry of the core's catalogue. */
Datum
ruvector_attention_types(PG_FUNCTION_ARGS)
{
	FuncCallContext *funcctx;

	if (SRF_IS_FIRSTCALL())
	{
		MemoryContext oldcontext;
		TupleDesc	tupdesc;

		funcctx = SRF_FIRSTCALL_INIT();
		oldcontext = MemoryContextSwitchTo(funcctx->multi_call_memory_ctx);
		if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
			elog(ERROR, "return type must be a row type");
		funcctx->tuple_desc = BlessTupleDesc(tupdesc);
		funcctx->max_calls = RV_ATTN_TYPE_COUNT;
		MemoryContextSwitchTo(oldcontext);
	}
	funcctx = SRF_PERCALL_SETUP();
	if (funcctx->call_cntr < funcctx->max_calls)
	{
		const rv_attention_type_info *info =
			rv_attention_type_get((rv_attention_type) funcctx->call_cntr);
		Datum		values[3];
		bool		nulls[3] = {false, false, false};

		values[0] = CStringGetTextDatum(info->name);
		values[1] = CStringGetTextDatum(info->complexity);
		values[2] = CStringGetTextDatum(info->best_for);
		SRF_RETURN_NEXT(funcctx,
						HeapTupleGetDatum(heap_form_tuple(funcctx->tuple_desc,
														  values, nulls)));
	}
	SRF_RETURN_DONE(funcctx);
}

/*
 * ruvector_simd_info(OUT active text, OUT best text, OUT supported text[]):
 * the backend in use, the best one this CPU supports, and all it supports.
 */
Datum
ruvector_simd_info(PG_FUNCTION_ARGS)
{
	TupleDesc	tupdesc;
	Datum		names[RV_BACKEND_COUNT];
	int			nnames = 0;
	unsigned	mask = rv_supported_backends();
	Datum		values[3];
	bool		nulls[3] = {false, false, false};

	if (get_call_result_type(fcinfo, NULL, &tupdesc) != TYPEFUNC_COMPOSITE)
		elog(ERROR, "return type must be a row type");
	for (int b = 0; b < RV_BACKEND_COUNT; b++)
		if (mask & (1u << b))
			names[nnames++] = CStringGetTextDatum(rv_backend_name((rv_backend) b));
	values[0] = CStringGetTextDatum(rv_backend_name(rv_simd_backend()));
	values[1] = CStringGetTextDatum(rv_backend_name(rv_best_backend()));
	values[2] = PointerGetDatum(construct_array(names, nnames, TEXTOID, -1,
												false, TYPALIGN_INT));
	PG_RETURN_DATUM(HeapTupleGetDatum(heap_form_tuple(BlessTupleDesc(tupdesc),
													  values, nulls)));
}

/*
 * ruvector.simd check hook: "auto" or a backend this CPU (and build) can
 * run; forcing another one is an error rather than a crash later.
 */
static bool
CheckSimdBackend(int *newval, void **extra, GucSource source)
{
	unsigned	mask = rv_supported_backends();
	char		supported[64] = "";

	if (*newval == RV_BACKEND_AUTO || (mask & (1u << *newval)))
		return true;
	for (int b = 0; b < RV_BACKEND_COUNT; b++)
		if (mask & (1u << b))
		{
			if (supported[0])
				strlcat(supported, ", ", sizeof(supported));
			strlcat(supported, rv_backend_name((rv_backend) b), sizeof(supported));
		}
	GUC_check_errdetail("This CPU does not support the \"%s\" SIMD backend.",
						rv_backend_name((rv_backend) *newval));
	GUC_check_errhint("Supported backends here: auto, %s.", supported);
	return false;
}

/* ruvector.simd assign hook: switch the core's backend for this process. */
static void
AssignSimdBackend(int newval, void *extra)
{
	(void) rv_set_backend(newval == RV_BACKEND_AUTO ? load_time_backend
						  : (rv_backend) newval);
}

void		_PG_init(void);

void
_PG_init(void)
{
	/* before the GUC's assign hook runs: honours RUVECTOR_SIMD, else best */
	load_time_backend = rv_simd_backend();

	/* "auto", then the core's backend names; the last entry stays zeroed */
	simd_options[0].name = "auto";
	simd_options[0].val = RV_BACKEND_AUTO;
	for (int b = 0; b < RV_BACKEND_COUNT; b++)
	{
		simd_options[b + 1].name = rv_backend_name((rv_backend) b);
		simd_options[b + 1].val = b;
	}

	DefineCustomIntVariable("ruvector.max_threads",
							"Maximum number of threads, the calling backend included, that one ruvector call may use.",
							"1 computes on the calling backend only. Threads split the work by head or query row, "
							"so results do not depend on this setting; small calls never start threads.",
							&ruvector_max_threads,
							4, 1, 64,
							PGC_USERSET, 0,
							NULL, NULL, NULL);

	DefineCustomEnumVariable("ruvector.simd",
							 "SIMD backend of the ruvector functions.",
							 "auto is the backend chosen when the library was loaded: the one named by "
							 "the RUVECTOR_SIMD environment variable if this CPU supports it, otherwise "
							 "the best one this CPU supports.",
							 &ruvector_simd,
							 RV_BACKEND_AUTO, simd_options,
							 PGC_USERSET, 0,
							 CheckSimdBackend, AssignSimdBackend, NULL);

	MarkGUCPrefixReserved("ruvector");
}
