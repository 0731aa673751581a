/*
 * attention.c: scaled dot-product and multi-head attention drivers, and
 * the weights of the seed's types for the generic entry points.
 *
 * For one query q and one head: w = softmax(scale * K q) (rv_weights_one),
 * then out = sum_i w_i V_i (rv_weighted_rows: float partials of
 * RV_VALUE_BLOCK rows added in double), each pass streaming its matrix
 * once.  Work is split into tasks (a query row, or a query's group of
 * heads) that run on threads; a task's arithmetic never depends on the
 * thread running it, so results are bit-identical for any thread count.
 */
#include <math.h>
#include <string.h>

#include "rv_internal.h"

static rv_status
check_heads(size_t d, size_t dv, size_t num_heads)
{
	if (num_heads < 1 || d % num_heads != 0 || dv % num_heads != 0)
		return RV_ERR_NUM_HEADS;
	return RV_OK;
}

rv_status
rv_forward_init(rv_forward *f, const float *Q, size_t m, const float *K,
				const float *V, size_t n, size_t d, size_t dv,
				size_t num_heads, float scale, float *out, float *scratch,
				int *nothing)
{
	size_t		t;

	*nothing = 1;
	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (n == 0)
		return RV_ERR_NO_KEYS;
	if (dv == 0)
		return RV_ERR_EMPTY_VALUES;
	if (check_heads(d, dv, num_heads) != RV_OK)
		return RV_ERR_NUM_HEADS;
	if (m == 0)
		return RV_OK;
	if (Q == NULL || K == NULL || V == NULL || out == NULL || scratch == NULL)
		return RV_ERR_NULL_ARG;
	if (rv_mul_size(n, d, &t) || rv_mul_size(n, dv, &t) ||
		rv_mul_size(m, d, &t) || rv_mul_size(m, dv, &t) ||
		rv_mul_size(m, n, &t) || rv_mul_size(m, num_heads, &t))
		return RV_ERR_SIZE_OVERFLOW;
	if (!isfinite(scale))
		return RV_ERR_SCALE;
	f->kern = rv_active_kernels();
	f->Q = Q;
	f->K = K;
	f->V = V;
	f->n = n;
	f->d = d;
	f->dv = dv;
	f->scale = scale;
	f->out = out;
	f->scratch = scratch;
	*nothing = 0;
	return RV_OK;
}

/* ---------------- scaled dot-product attention ---------------- */

static rv_status
sdpa_task(rv_job *job, void *arg, size_t r, size_t worker)
{
	const rv_forward *a = arg;
	float	   *w = a->scratch + worker * rv_slot_f64(a->n, a->dv);	/* n weights, dv doubles */
	rv_status	st;

	st = rv_weights_one(a->kern, a->Q + r * a->d, a->K, a->n, a->d, a->d,
						a->scale, w, job);
	if (st != RV_OK)
		return st;
	return rv_weighted_rows(a->kern, w, a->V, a->n, a->dv, a->dv,
							a->out + r * a->dv, rv_f64_at(w + a->n), job);
}

size_t
rv_scaled_dot_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
								const rv_exec *ex)
{
	size_t		workers = rv_plan_threads(m, rv_query_work(n, d, dv), ex);
	size_t		slot = rv_slot_f64(n, dv),
				s;

	if (slot == (size_t) -1 || rv_mul_size(workers, slot, &s))
		return (size_t) -1;
	return s;
}

rv_status
rv_scaled_dot_attention(const float *Q, size_t m, const float *K,
						const float *V, size_t n, size_t d, size_t dv,
						float scale, float *out, float *scratch,
						const rv_exec *ex)
{
	rv_forward	a;
	int			nothing;
	rv_status	st;

	st = rv_forward_init(&a, Q, m, K, V, n, d, dv, 1, scale, out, scratch, &nothing);
	if (st != RV_OK || nothing)
		return st;
	if (rv_scaled_dot_attention_scratch(m, n, d, dv, ex) == (size_t) -1)
		return RV_ERR_SIZE_OVERFLOW;
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(n, d, dv), ex),
						sdpa_task, &a, ex);
}

/* ---------------- multi-head attention ---------------- */

/*
 * Head average of H weight rows (each n floats, consecutive in `heads`):
 * avg = sum_h (1/H) w_h, in head order, through the weighted_sum kernel,
 * so that every caller averages with the same arithmetic.
 */
static void
average_heads(const rv_kernels *kern, const float *heads, size_t H, size_t n,
			  float *avg)
{
	float		coef[64];
	float		inv = (float) (1.0 / (double) H);

	for (size_t h0 = 0; h0 < H; h0 += 64)
	{
		size_t		len = H - h0 < 64 ? H - h0 : 64;

		for (size_t i = 0; i < len; i++)
			coef[i] = inv;
		kern->weighted_sum(coef, heads + h0 * n, len, n, n,
						   h0 == 0 ? 0.0f : 1.0f, avg);
	}
}

/*
 * How rv_multi_head_attention splits its work.  The threads are planned
 * on (query, head) pairs as if each were a task; then the heads of a
 * query are cut into groups of G consecutive heads, each group one task
 * that reads K and V once for all its heads (head_scores,
 * head_weighted_sum), with enough groups per query to keep the threads
 * busy.  A head's arithmetic does not depend on its group (the group
 * primitives compute each head exactly as the single-head ones), so G
 * may follow the thread count and results stay bit-identical.  G is also
 * kept <= RV_GROUP_MAX and so that G * n floats of scratch per worker
 * stay near RV_GROUP_FLOATS.
 *
 * Scratch: the weights (G n floats per worker, or with avg_weights every
 * (query, head)'s n floats), then per worker the value sums' G dv / H
 * doubles.
 */
#define RV_GROUP_FLOATS ((size_t) 1 << 20)

typedef struct mha_plan
{
	size_t		workers;		/* threads, including the caller */
	size_t		G;				/* heads per group */
	size_t		groups;			/* groups per query: ceil(H / G) */
	size_t		tasks;			/* m * groups */
} mha_plan;

static void
plan_heads(size_t m, size_t n, size_t d, size_t dv, size_t H,
		   const rv_exec *ex, mha_plan *p)
{
	size_t		tasks = m * H;	/* callers checked that it fits */
	size_t		per_query,
				G;

	p->workers = rv_plan_threads(tasks, rv_query_work(n, d / H, dv / H), ex);
	if (p->workers <= 1 || (m >= p->workers && (m % p->workers == 0 || m >= 4 * p->workers)))
		per_query = 1;
	else if (m >= p->workers)
		per_query = 2;
	else
		per_query = (p->workers + m - 1) / m;
	if (per_query > H)
		per_query = H;
	G = (H + per_query - 1) / per_query;
	if (G > RV_GROUP_MAX)
		G = RV_GROUP_MAX;
	if (n > 0 && G > 1 && G > RV_GROUP_FLOATS / n)
		G = RV_GROUP_FLOATS / n > 1 ? RV_GROUP_FLOATS / n : 1;
	p->G = G;
	p->groups = (H + G - 1) / G;
	p->tasks = m * p->groups;
	if (p->tasks > 0 && p->workers > p->tasks)
		p->workers = p->tasks;
}

typedef struct mha_args
{
	rv_forward	f;				/* scratch: the weights */
	size_t		H;
	mha_plan	plan;
	int			per_task;		/* keep every head's weights (averaging) */
	float	   *accs;			/* acc_slot floats per worker */
	size_t		acc_slot;
} mha_args;

/*
 * The scratch of a call: *weights floats of weights, then workers slots of
 * *acc_slot floats; the total, or (size_t) -1 on overflow.
 */
static size_t
mha_layout(size_t m, size_t n, size_t d, size_t dv, size_t H, int want_weights,
		   const rv_exec *ex, mha_plan *p, size_t *weights, size_t *acc_slot)
{
	size_t		tasks, slots, accs, s;

	if (H < 1 || rv_mul_size(m, H, &tasks))
		return (size_t) -1;
	plan_heads(m, n, d, dv, H, ex, p);
	if (want_weights)
		slots = tasks;
	else if (rv_mul_size(p->workers, p->G, &slots))
		return (size_t) -1;
	if (rv_mul_size(slots, n, weights) ||
		(*acc_slot = rv_slot_f64(0, p->G * (dv / H))) == (size_t) -1 ||
		rv_mul_size(p->workers, *acc_slot, &accs) || __builtin_add_overflow(*weights, accs, &s))
		return (size_t) -1;
	return s;
}

static rv_status
mha_task(rv_job *job, void *arg, size_t t, size_t worker)
{
	const mha_args *a = arg;
	size_t		r = t / a->plan.groups,
				h0 = (t % a->plan.groups) * a->plan.G;
	size_t		g = a->H - h0 < a->plan.G ? a->H - h0 : a->plan.G;
	size_t		dh = a->f.d / a->H,
				dvh = a->f.dv / a->H,
				n = a->f.n;
	float	   *W = a->per_task ? a->f.scratch + (r * a->H + h0) * n
		: a->f.scratch + worker * a->plan.G * n;
	float	   *out = a->f.out + r * a->f.dv + h0 * dvh;
	const float *V = a->f.V + h0 * dvh;
	rv_vsum		sum;
	rv_status	st;

	st = rv_weights_heads(a->f.kern, a->f.Q + r * a->f.d + h0 * dh, a->f.K + h0 * dh,
						  n, dh, g, a->f.d, rv_default_scale(dh), W, job);
	if (st != RV_OK)
		return st;
	/* as rv_weighted_rows, for the g heads at once */
	rv_vsum_init(&sum, a->f.kern, dvh, g, out, rv_f64_at(a->accs + worker * a->acc_slot), job);
	st = rv_vsum_add(&sum, W, n, V, n, a->f.dv);
	if (st != RV_OK)
		return st;
	return rv_vsum_finish(&sum, 1.0, out);
}

size_t
rv_multi_head_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
								size_t num_heads, int want_weights,
								const rv_exec *ex)
{
	mha_plan	p;
	size_t		weights, acc_slot;

	return mha_layout(m, n, d, dv, num_heads, want_weights, ex, &p, &weights, &acc_slot);
}

rv_status
rv_multi_head_attention(const float *Q, size_t m, const float *K,
						const float *V, size_t n, size_t d, size_t dv,
						size_t num_heads, float *out, float *avg_weights,
						float *scratch, const rv_exec *ex)
{
	mha_args	a;
	int			nothing;
	rv_status	st;

	/* heads use their own scale, 1/sqrt(d/H): the shared one is unused */
	size_t		weights;

	st = rv_forward_init(&a.f, Q, m, K, V, n, d, dv, num_heads, 1.0f, out,
						 scratch, &nothing);
	if (st != RV_OK || nothing)
		return st;
	if (mha_layout(m, n, d, dv, num_heads, avg_weights != NULL, ex, &a.plan, &weights,
				   &a.acc_slot) == (size_t) -1)
		return RV_ERR_SIZE_OVERFLOW;
	a.H = num_heads;
	a.per_task = avg_weights != NULL;
	a.accs = scratch + weights;
	st = rv_run_tasks(a.plan.tasks, a.plan.workers, mha_task, &a, ex);
	if (st != RV_OK || avg_weights == NULL)
		return st;
	for (size_t r = 0; r < m; r++)
		average_heads(a.f.kern, scratch + r * num_heads * n, num_heads, n,
					  avg_weights + r * n);
	return RV_OK;
}

/*
 * The head-averaged weights of one query (H heads of d / H dims, each
 * with scale 1/sqrt(d/H)): the heads' weights in scratch (n H floats), in
 * groups of RV_GROUP_MAX heads, then averaged into w.
 */
static rv_status
multi_head_weights(const rv_kernels *kern, const float *q, const float *K,
				   size_t n, size_t d, size_t H, float *w, float *scratch,
				   rv_job *job)
{
	size_t		dh = d / H;

	for (size_t h = 0; h < H; h += RV_GROUP_MAX)
	{
		size_t		g = H - h < RV_GROUP_MAX ? H - h : RV_GROUP_MAX;
		rv_status	st = rv_weights_heads(kern, q + h * dh, K + h * dh, n, dh, g,
										  d, rv_default_scale(dh),
										  scratch + h * n, job);

		if (st != RV_OK)
			return st;
	}
	average_heads(kern, scratch, H, n, w);
	return RV_OK;
}

rv_status
rv_multi_head_scores(const float *q, const float *K, size_t n, size_t d,
					 size_t num_heads, float *w, float *scratch)
{
	size_t		t;

	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (num_heads < 1 || d % num_heads != 0)
		return RV_ERR_NUM_HEADS;
	if (n == 0)
		return RV_OK;
	if (q == NULL || K == NULL || w == NULL || scratch == NULL)
		return RV_ERR_NULL_ARG;
	if (rv_mul_size(n, d, &t) || rv_mul_size(n, num_heads, &t))
		return RV_ERR_SIZE_OVERFLOW;
	return multi_head_weights(rv_active_kernels(), q, K, n, d, num_heads, w, scratch, NULL);
}

/* ---------------- the weights of the generic entry points ---------------- */

typedef struct dense_args
{
	rv_forward	f;				/* scratch: n H floats per worker (H > 1) */
	size_t		H;
	float	   *W;
} dense_args;

static rv_status
dense_weights_task(rv_job *job, void *arg, size_t r, size_t worker)
{
	const dense_args *a = arg;
	const float *q = a->f.Q + r * a->f.d;
	float	   *w = a->W + r * a->f.n;

	if (a->H == 1)
		return rv_weights_one(a->f.kern, q, a->f.K, a->f.n, a->f.d, a->f.d, a->f.scale,
							  w, job);
	return multi_head_weights(a->f.kern, q, a->f.K, a->f.n, a->f.d, a->H, w,
							  a->f.scratch + worker * a->f.n * a->H, job);
}

size_t
rv_dense_weights_scratch(size_t m, size_t n, size_t d, size_t H,
						 const rv_exec *ex)
{
	size_t		s;

	if (H < 1)
		return (size_t) -1;
	if (H == 1)
		return 0;
	if (rv_mul_size(n, H, &s) ||
		rv_mul_size(rv_plan_threads(m, rv_query_work(n, d, 0), ex), s, &s))
		return (size_t) -1;
	return s;
}

rv_status
rv_dense_weights(const float *Q, size_t m, const float *K, size_t n,
				 size_t d, size_t H, float scale, float *W, float *scratch,
				 const rv_exec *ex)
{
	dense_args	a;
	int			nothing;
	rv_status	st;

	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (H < 1 || d % H != 0)
		return RV_ERR_NUM_HEADS;
	if (H > 1 || isnan(scale))
		scale = rv_default_scale(d / H);
	st = rv_weights_init(&a.f, Q, m, K, n, d, scale, W, scratch, H > 1, &nothing);
	if (st != RV_OK || nothing)
		return st;
	if (rv_dense_weights_scratch(m, n, d, H, ex) == (size_t) -1)
		return RV_ERR_SIZE_OVERFLOW;
	a.H = H;
	a.W = W;
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(n, d, 0), ex),
						dense_weights_task, &a, ex);
}

rv_status
rv_multi_head_score(const float *q, const float *k, size_t d,
					size_t num_heads, float *out)
{
	const rv_kernels *kern = rv_active_kernels();
	size_t		dh;
	double		sum = 0.0;

	if (q == NULL || k == NULL || out == NULL)
		return RV_ERR_NULL_ARG;
	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (num_heads < 1 || d % num_heads != 0)
		return RV_ERR_NUM_HEADS;
	dh = d / num_heads;
	for (size_t h = 0; h < num_heads; h++)
	{
		float		s;

		kern->scores(q + h * dh, k + h * dh, 1, dh, dh, rv_default_scale(dh), &s);
		sum += s;
	}
	*out = (float) (sum / (double) num_heads);
	if (!isfinite(*out))
		return RV_ERR_NONFINITE;
	return RV_OK;
}
