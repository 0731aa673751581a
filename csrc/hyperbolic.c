/*
 * hyperbolic.c: attention in hyperbolic space of curvature -c (c > 0), in
 * the Poincare ball and on the Lorentz hyperboloid.
 *
 * Both score a key by minus its hyperbolic distance to the query and
 * softmax the scores; they differ in how values are averaged:
 *   Poincare: out = exp0(sum_i w_i log0(v_i)) (the average in the tangent
 *             space at 0, mapped back into the ball);
 *   Lorentz:  out = the Lorentzian centroid of the values.
 *
 * The numbers are the hard part (the bar is 1e-5 against float64 on the
 * same float inputs), because the textbook formulas cancel:
 *  - |q - k|^2 is summed from the differences in float lanes (every term
 *    is >= 0, so the float sum keeps its relative accuracy) rather than
 *    from q.q + k.k - 2 q.k, so that q = k gives exactly 0;
 *  - 1 - c |x|^2 is formed in double from |x|^2 summed in double (exact
 *    products), because points near the boundary are where hierarchies
 *    live: c |x|^2 = 1 - 1e-7 still gives a good distance;
 *  - the distance is taken as 2 asinh(t) / sqrt(c) with
 *    t = sinh(sqrt(c) d / 2) (RV_ACOSH1P), which is accurate for small t
 *    and cannot overflow near the boundary;
 *  - Lorentz: -c <q, k>_L - 1 = (c/2) (|q - k|^2 - (q0 - k0)^2) with
 *    q0 - k0 = (|q|^2 - |k|^2) / (q0 + k0) avoids the cancellation of
 *    q0 k0 - q.k, but still cancels when q - k is nearly lightlike (points
 *    far out and in line with the origin): the primitive flags such rows
 *    and they are recomputed here in double (lorentz_exact_logit);
 *  - the Lorentz centroid's norm -<u, u>_L = u0^2 - |u|^2 cancels the same
 *    way for values far out and close together: u0 is summed in double
 *    from time coordinates in double, u in float unless the norm cancels
 *    (then again in double, weighted_sum_f64), and the norm is never
 *    taken below its lower bound (sum w)^2 / c.
 *
 * The O(n d) passes stream K and V once per query (for one query, key and
 * value norms come out of the same reads); with several queries the norms
 * and the Poincare log-map factors of the keys and values are computed
 * once per call and shared, with the same arithmetic, so that every row
 * of a batch equals the one-query call bit for bit.  Queries run in
 * parallel as independent tasks.
 *
 * Errors: a query, key or value outside the ball is RV_ERR_OUTSIDE_BALL,
 * NaN/Infinity RV_ERR_NONFINITE; both show up on the fast path as a
 * non-finite logit, factor or output, and only then are the norms of the
 * block at fault examined (ball_status, the test rv_ball_check applies),
 * so the status is that of the first bad row in the order query, keys,
 * values.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rv_internal.h"

typedef enum hyp_model
{
	HYP_POINCARE,
	HYP_LORENTZ
} hyp_model;

/*
 * Rows per Poincare value block for one query: their norms and log-map
 * factors are computed just before their weighted sum, so the block
 * (about 128 KB) is still in L2 when the sum reads it again.
 */
#define HYP_VALUE_BLOCK_FLOATS ((size_t) 1 << 15)

static size_t
value_block(size_t dv)
{
	size_t		b = HYP_VALUE_BLOCK_FLOATS / dv;

	return b < 8 ? 8 : b > RV_CANCEL_BLOCK ? RV_CANCEL_BLOCK : b;
}

static int
curvature_ok(float c)
{
	return c > 0.0f && isfinite(c);
}

/*
 * The ball test: |x|^2 (from sqnorm_rows) must be finite and give
 * 1 - c |x|^2 > 0, formed in double as the primitives form it (one
 * product, one difference; the build never fuses them).
 */
static rv_status
ball_status(double xx, float c)
{
	if (!isfinite(xx))
		return RV_ERR_NONFINITE;
	if (!(1.0 - (double) c * xx > 0.0))
		return RV_ERR_OUTSIDE_BALL;
	return RV_OK;
}

/* The status of the first bad row among norms xx[0..n), else dflt. */
static rv_status
first_bad_row(const double *xx, size_t n, float c, rv_status dflt,
			  size_t *row)
{
	for (size_t i = 0; i < n; i++)
	{
		rv_status	st = ball_status(xx[i], c);

		if (st != RV_OK)
		{
			if (row)
				*row = i;
			return st;
		}
	}
	return dflt;
}

/*
 * The Lorentz logit of one pair in double, for the rows lorentz_logits
 * flags: the Minkowski chord y = |q - k|^2 - (q0 - k0)^2 with the
 * differences exact in double, so the cancellation costs only double
 * rounding.
 */
static float
lorentz_exact_logit(const float *q, const float *k, size_t d, double qq,
					double kk, float c)
{
	double		cd = c,
				e2 = 0.0,
				q0 = sqrt(1.0 / cd + qq),
				k0 = sqrt(1.0 / cd + kk),
				t = (qq - kk) / (q0 + k0),
				y,
				s;

	for (size_t j = 0; j < d; j++)
	{
		double		e = (double) q[j] - (double) k[j];

		e2 += e * e;
	}
	y = e2 - t * t;
	s = sqrt(cd * (y > 0.0 ? y : 0.0)) / 2.0;
	return (float) -(rv_log1pf_serial((float) (2.0 * s * (s + sqrt(1.0 + s * s)))) /
					 sqrt(cd));
}

/* ---------------------------------------------------------------------- */

/*
 * Everything a call's tasks share.  With m > 1 the key and value
 * quantities are computed once (shared_*); with m == 1 the query's task
 * computes them block by block from the same reads as its distances.
 */
typedef struct hyp_args
{
	const rv_kernels *kern;
	hyp_model	model;
	const float *Q, *K, *V;
	size_t		n, d, dv;
	float		c;
	float	   *out;			/* m x dv (forward) or W, m x n (weights) */
	int			forward;
	int			shared;			/* m > 1: the arrays below are filled */
	double	   *kk;				/* n: |k_i|^2 */
	double	   *vv;				/* n: |v_i|^2, then (Lorentz) v_i0 */
	float	   *vf;				/* n: Poincare log0 factors */
	float	   *slots;			/* per worker: slot floats */
	size_t		slot;
	size_t		w_off, dbl_off, f_off;	/* within a slot */
} hyp_args;

/*
 * Scratch: a base aligned to 8 bytes (2 floats of slack), then the
 * shared arrays (m > 1), then one slot per worker: the n weights (unless
 * they go straight to W), then doubles (a block of key or value norms,
 * and the Lorentz accumulator u), then a block of Poincare factors.
 */
typedef struct hyp_layout
{
	size_t		workers, shared, slot, w_off, dbl_off, f_off, total;
} hyp_layout;

static size_t
even(size_t x)
{
	return x + (x & 1);
}

static int
add_size(size_t a, size_t b, size_t *out)
{
	return __builtin_add_overflow(a, b, out);
}

static int
plan_layout(size_t m, size_t n, size_t d, size_t dv, int forward,
			const rv_exec *ex, hyp_layout *L)
{
	size_t		blk = n < RV_CANCEL_BLOCK ? n : RV_CANCEL_BLOCK;
	size_t		t, dbl, sh = 0;

	L->workers = rv_plan_threads(m, rv_query_work(n, d, forward ? dv : 0), ex);
	if (m > 1)
	{
		/* kk and vv: n doubles each, vf: n floats */
		if (rv_mul_size(n, forward ? 5 : 2, &sh))
			return 1;
		sh = even(sh);
	}
	L->shared = sh;
	L->w_off = 0;
	t = forward ? even(n) : 0;
	L->dbl_off = t;
	dbl = m > 1 ? 0 : blk;
	if (forward && add_size(dbl, dv, &dbl))
		return 1;
	if (rv_mul_size(dbl, 2, &dbl) || add_size(t, dbl, &t))
		return 1;
	L->f_off = t;
	if (forward && m == 1 && add_size(t, even(n < value_block(dv) ? n : value_block(dv)), &t))
		return 1;
	L->slot = t;
	if (rv_mul_size(L->workers, L->slot, &t) || add_size(t, sh, &t) ||
		add_size(t, 2, &L->total))
		return 1;
	return 0;
}

/* the shared arrays and slots of a layout in scratch */
static void
place(hyp_args *a, const hyp_layout *L, float *scratch, size_t n)
{
	float	   *base = scratch + (((uintptr_t) scratch & 7) ? 1 : 0);

	a->shared = L->shared > 0;
	a->kk = a->shared ? (double *) (void *) base : NULL;
	a->vv = a->shared && a->forward ? a->kk + n : NULL;
	a->vf = a->shared && a->forward ? (float *) (void *) (a->vv + n) : NULL;
	a->slots = base + L->shared;
	a->slot = L->slot;
	a->w_off = L->w_off;
	a->dbl_off = L->dbl_off;
	a->f_off = L->f_off;
}

/* ---------------- the key and value quantities of a batch ---------------- */

/* block b of RV_CANCEL_BLOCK keys and values: norms, then v0 or factors */
static rv_status
shared_task(rv_job *job, void *arg, size_t b, size_t worker)
{
	const hyp_args *a = arg;
	size_t		i0 = b * RV_CANCEL_BLOCK;
	size_t		len = a->n - i0 < RV_CANCEL_BLOCK ? a->n - i0 : RV_CANCEL_BLOCK;

	(void) job;
	(void) worker;
	a->kern->sqnorm_rows(a->K + i0 * a->d, len, a->d, a->d, a->kk + i0);
	if (!a->forward)
		return RV_OK;
	a->kern->sqnorm_rows(a->V + i0 * a->dv, len, a->dv, a->dv, a->vv + i0);
	if (a->model == HYP_POINCARE)
		a->kern->poincare_log0(a->vv + i0, len, a->c, a->vf + i0);
	else
	{
		double		ic = 1.0 / (double) a->c;

		for (size_t i = i0; i < i0 + len; i++)
			a->vv[i] = sqrt(ic + a->vv[i]);
	}
	return RV_OK;
}

/* ---------------- one query ---------------- */

/*
 * The logits of query q over all keys into s (n floats), in blocks of
 * RV_CANCEL_BLOCK keys with a poll between blocks; *max gets their max.
 * kb: RV_CANCEL_BLOCK doubles for the block's key norms when they are
 * not shared.  qq: |q|^2, already checked.
 */
static rv_status
query_logits(const hyp_args *a, const float *q, double qq, float *s,
			 double *kb, float *max, rv_job *job)
{
	const rv_kernels *kern = a->kern;
	float		m = -INFINITY;
	double		aq = 1.0 - (double) a->c * qq;

	for (size_t b = 0; b < a->n; b += RV_CANCEL_BLOCK)
	{
		size_t		len = a->n - b < RV_CANCEL_BLOCK ? a->n - b : RV_CANCEL_BLOCK;
		const float *K = a->K + b * a->d;
		double	   *kk = a->shared ? a->kk + b : kb;
		float		mb;

		kern->sqdist_rows(q, K, len, a->d, a->d, s + b, a->shared ? NULL : kb);
		if (a->model == HYP_POINCARE)
			mb = kern->poincare_logits(s + b, kk, len, aq, a->c, s + b);
		else
		{
			mb = kern->lorentz_logits(s + b, kk, len, qq, a->c, s + b);
			if (mb == INFINITY)
			{
				mb = -INFINITY;
				for (size_t i = 0; i < len; i++)
				{
					if (s[b + i] == INFINITY)
						s[b + i] = lorentz_exact_logit(q, K + i * a->d, a->d, qq,
													   kk[i], a->c);
					if (s[b + i] > mb)
						mb = s[b + i];
				}
			}
		}
		if (!kern->all_finite(s + b, len))
			return a->model == HYP_POINCARE
				? first_bad_row(kk, len, a->c, RV_ERR_NONFINITE, NULL)
				: RV_ERR_NONFINITE;
		if (mb > m)
			m = mb;
		if (rv_job_should_stop(job))
			return RV_ERR_CANCELLED;
	}
	*max = m;
	return RV_OK;
}

/*
 * Poincare output of one query from its exponentials e (n floats, sum
 * `sum`): u = sum_i e_i f_i v_i / sum with f_i the log0 factors, then
 * out = exp0(u) = tanh(sqrt(c) |u|) u / (sqrt(c) |u|).  Values go in
 * blocks of value_block(dv) rows; e is overwritten by e_i f_i.
 */
static rv_status
poincare_output(const hyp_args *a, float *e, double sum, double *vb,
				float *fb, float *out, rv_job *job)
{
	const rv_kernels *kern = a->kern;
	size_t		B = value_block(a->dv),
				since_poll = 0;
	double		uu,
				r;

	for (size_t b = 0; b < a->n; b += B)
	{
		size_t		len = a->n - b < B ? a->n - b : B;
		const float *V = a->V + b * a->dv;
		const float *f = a->shared ? a->vf + b : fb;
		const double *vv = a->shared ? a->vv + b : vb;

		if (!a->shared)
		{
			kern->sqnorm_rows(V, len, a->dv, a->dv, vb);
			kern->poincare_log0(vb, len, a->c, fb);
		}
		if (!kern->all_finite(f, len))
			return first_bad_row(vv, len, a->c, RV_ERR_NONFINITE, NULL);
		for (size_t i = 0; i < len; i++)
			e[b + i] *= f[i];
		kern->weighted_sum(e + b, V, len, a->dv, a->dv, b == 0 ? 0.0f : 1.0f, out);
		since_poll += len;
		if (since_poll >= RV_CANCEL_BLOCK)
		{
			since_poll = 0;
			if (rv_job_should_stop(job))
				return RV_ERR_CANCELLED;
		}
	}
	kern->scale(out, a->dv, (float) (1.0 / sum));
	kern->sqnorm_rows(out, 1, a->dv, a->dv, &uu);
	if (!isfinite(uu))
		return RV_ERR_NONFINITE;
	r = sqrt((double) a->c * uu);
	kern->scale(out, a->dv, r > 0.0 ? (float) (tanh(r) / r) : 1.0f);
	return kern->all_finite(out, a->dv) ? RV_OK : RV_ERR_NONFINITE;
}

/*
 * Lorentz output of one query from its exponentials e (sum `sum`):
 * u = sum_i e_i (v_i0, v_i), out = u / (sqrt(c) sqrt(-<u, u>_L)) with
 * -<u, u>_L = u0^2 - |u|^2 kept >= its lower bound sum^2 / c.  u0 sums in
 * double from the time coordinates (from norms in double); the spatial u
 * first in float, by the weighted_sum of scaled-dot attention over the
 * same blocks as Poincare; only when u0^2 > HYP_LORENTZ_OUT_ILL (u0^2 -
 * |u|^2), i.e. the norm cancels (values far out and close together), is
 * u summed again in double.  vb: a block of doubles, u: dv doubles.
 */
#define HYP_LORENTZ_OUT_ILL 2.0

static rv_status
lorentz_output(const hyp_args *a, const float *e, double sum, double *vb,
			   double *u, float *out, rv_job *job)
{
	const rv_kernels *kern = a->kern;
	size_t		B = value_block(a->dv),
				since_poll = 0;
	double		ic = 1.0 / (double) a->c;
	double		u0[4] = {0.0, 0.0, 0.0, 0.0},
				t0,
				uu = 0.0,
				nd,
				r;

	for (size_t b = 0; b < a->n; b += B)
	{
		size_t		len = a->n - b < B ? a->n - b : B;
		const float *V = a->V + b * a->dv;
		const double *v0 = a->shared ? a->vv + b : vb;
		size_t		i = 0;

		if (!a->shared)
		{
			kern->sqnorm_rows(V, len, a->dv, a->dv, vb);
			for (size_t j = 0; j < len; j++)
				vb[j] = sqrt(ic + vb[j]);
		}
		for (; i + 4 <= len; i += 4)
			for (int l = 0; l < 4; l++)
				u0[l] += (double) e[b + i + l] * v0[i + l];
		for (; i < len; i++)
			u0[0] += (double) e[b + i] * v0[i];
		kern->weighted_sum(e + b, V, len, a->dv, a->dv, b == 0 ? 0.0f : 1.0f, out);
		since_poll += len;
		if (since_poll >= RV_CANCEL_BLOCK)
		{
			since_poll = 0;
			if (rv_job_should_stop(job))
				return RV_ERR_CANCELLED;
		}
	}
	t0 = (u0[0] + u0[1]) + (u0[2] + u0[3]);
	for (size_t j = 0; j < a->dv; j++)
	{
		u[j] = out[j];
		uu += u[j] * u[j];
	}
	if (!isfinite(t0) || !isfinite(uu))
		return RV_ERR_NONFINITE;
	nd = t0 * t0 - uu;
	if (!(t0 * t0 <= HYP_LORENTZ_OUT_ILL * nd))
	{
		memset(u, 0, a->dv * sizeof(double));
		for (size_t b = 0; b < a->n; b += RV_CANCEL_BLOCK)
		{
			size_t		len = a->n - b < RV_CANCEL_BLOCK ? a->n - b : RV_CANCEL_BLOCK;

			kern->weighted_sum_f64(e + b, a->V + b * a->dv, len, a->dv, a->dv, u);
			if (rv_job_should_stop(job))
				return RV_ERR_CANCELLED;
		}
		uu = 0.0;
		for (size_t j = 0; j < a->dv; j++)
			uu += u[j] * u[j];
		nd = t0 * t0 - uu;
	}
	if (!(nd >= sum * sum * ic))
		nd = sum * sum * ic;
	r = 1.0 / (sqrt((double) a->c) * sqrt(nd));
	for (size_t j = 0; j < a->dv; j++)
		out[j] = (float) (u[j] * r);
	return kern->all_finite(out, a->dv) ? RV_OK : RV_ERR_NONFINITE;
}

/* query row r: logits, softmax, then the weights (W) or the output */
static rv_status
query_task(rv_job *job, void *arg, size_t r, size_t worker)
{
	const hyp_args *a = arg;
	const rv_kernels *kern = a->kern;
	const float *q = a->Q + r * a->d;
	float	   *slot = a->slots + worker * a->slot;
	float	   *w = a->forward ? slot + a->w_off : a->out + r * a->n;
	double	   *dbl = (double *) (void *) (slot + a->dbl_off);
	double		qq,
				sum;
	float		m;
	rv_status	st;

	kern->sqnorm_rows(q, 1, a->d, a->d, &qq);
	if (a->model == HYP_POINCARE)
		st = ball_status(qq, a->c);
	else
		st = isfinite(qq) ? RV_OK : RV_ERR_NONFINITE;
	if (st != RV_OK)
		return st;
	st = query_logits(a, q, qq, w, dbl, &m, job);
	if (st != RV_OK)
		return st;
	sum = rv_exp_sum_blocked(kern, w, a->n, m, w);
	if (!a->forward)
	{
		kern->scale(w, a->n, (float) (1.0 / sum));
		return RV_OK;
	}
	if (a->model == HYP_POINCARE)
		return poincare_output(a, w, sum, dbl, slot + a->f_off,
							   a->out + r * a->dv, job);
	return lorentz_output(a, w, sum, dbl,
						  dbl + (a->shared ? 0 : (a->n < value_block(a->dv) ? a->n : value_block(a->dv))),
						  a->out + r * a->dv, job);
}

/*
 * A whole call: the shared key/value quantities when m > 1 (threaded over
 * blocks of rows), then one task per query row.
 */
static rv_status
run(hyp_args *a, size_t m, float *scratch, const rv_exec *ex)
{
	hyp_layout	L;
	rv_status	st;

	if (plan_layout(m, a->n, a->d, a->dv, a->forward, ex, &L))
		return RV_ERR_SIZE_OVERFLOW;
	place(a, &L, scratch, a->n);
	if (a->shared)
	{
		size_t		blocks = (a->n + RV_CANCEL_BLOCK - 1) / RV_CANCEL_BLOCK;

		st = rv_run_tasks(blocks, L.workers, shared_task, a, ex);
		if (st != RV_OK)
			return st;
	}
	return rv_run_tasks(m, L.workers, query_task, a, ex);
}

size_t
rv_hyperbolic_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
								const rv_exec *ex)
{
	hyp_layout	L;

	if (plan_layout(m, n, d, dv, 1, ex, &L))
		return (size_t) -1;
	return L.total;
}

static rv_status
forward(hyp_model model, const float *Q, size_t m, const float *K,
		const float *V, size_t n, size_t d, size_t dv, float c, float *out,
		float *scratch, const rv_exec *ex)
{
	rv_forward	f;
	hyp_args	a;
	int			nothing;
	rv_status	st;

	if (!curvature_ok(c))
		return RV_ERR_CURVATURE;
	st = rv_forward_init(&f, Q, m, K, V, n, d, dv, 1, 1.0f, out, scratch, &nothing);
	if (st != RV_OK || nothing)
		return st;
	memset(&a, 0, sizeof a);
	a.kern = f.kern;
	a.model = model;
	a.Q = Q;
	a.K = K;
	a.V = V;
	a.n = n;
	a.d = d;
	a.dv = dv;
	a.c = c;
	a.out = out;
	a.forward = 1;
	return run(&a, m, scratch, ex);
}

rv_status
rv_poincare_attention(const float *Q, size_t m, const float *K,
					  const float *V, size_t n, size_t d, size_t dv,
					  float curvature, float *out, float *scratch,
					  const rv_exec *ex)
{
	return forward(HYP_POINCARE, Q, m, K, V, n, d, dv, curvature, out,
				   scratch, ex);
}

rv_status
rv_lorentz_attention(const float *Q, size_t m, const float *K,
					 const float *V, size_t n, size_t d, size_t dv,
					 float curvature, float *out, float *scratch,
					 const rv_exec *ex)
{
	return forward(HYP_LORENTZ, Q, m, K, V, n, d, dv, curvature, out,
				   scratch, ex);
}

rv_status
rv_ball_check(const float *X, size_t rows, size_t d, float curvature,
			  size_t *bad_row)
{
	const rv_kernels *kern = rv_active_kernels();
	double		xx[256];
	size_t		t;

	if (!curvature_ok(curvature))
		return RV_ERR_CURVATURE;
	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (rows == 0)
		return RV_OK;
	if (X == NULL)
		return RV_ERR_NULL_ARG;
	if (rv_mul_size(rows, d, &t))
		return RV_ERR_SIZE_OVERFLOW;
	for (size_t b = 0; b < rows; b += 256)
	{
		size_t		len = rows - b < 256 ? rows - b : 256;
		size_t		i;
		rv_status	st;

		kern->sqnorm_rows(X + b * d, len, d, d, xx);
		st = first_bad_row(xx, len, curvature, RV_OK, &i);
		if (st != RV_OK)
		{
			if (bad_row)
				*bad_row = b + i;
			return st;
		}
	}
	return RV_OK;
}

/* ---------------- the generic entry points (rv_internal.h) ---------------- */

static size_t
weights_scratch(const rv_attention_params *p, size_t m, size_t n, size_t d,
				const rv_exec *ex)
{
	hyp_layout	L;

	if (p == NULL || !curvature_ok(p->curvature) ||
		plan_layout(m, n, d, 0, 0, ex, &L))
		return (size_t) -1;
	return L.total;
}

static rv_status
weights(hyp_model model, const rv_attention_params *p, const float *Q,
		size_t m, const float *K, size_t n, size_t d, float *W,
		float *scratch, const rv_exec *ex)
{
	hyp_args	a;
	size_t		t;

	if (p == NULL)
		return RV_ERR_NULL_ARG;
	if (!curvature_ok(p->curvature))
		return RV_ERR_CURVATURE;
	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (m == 0 || n == 0)
		return RV_OK;
	if (Q == NULL || K == NULL || W == NULL || scratch == NULL)
		return RV_ERR_NULL_ARG;
	if (rv_mul_size(m, n, &t) || rv_mul_size(m, d, &t) || rv_mul_size(n, d, &t))
		return RV_ERR_SIZE_OVERFLOW;
	memset(&a, 0, sizeof a);
	a.kern = rv_active_kernels();
	a.model = model;
	a.Q = Q;
	a.K = K;
	a.n = n;
	a.d = d;
	a.c = p->curvature;
	a.out = W;
	a.forward = 0;
	return run(&a, m, scratch, ex);
}

/* the logit of one pair: the same primitives as a call with n = 1 */
static rv_status
logit(hyp_model model, const rv_attention_params *p, const float *q,
	  const float *k, size_t d, float *out)
{
	const rv_kernels *kern = rv_active_kernels();
	double		qq,
				kk;
	float		d2,
				c;
	rv_status	st;

	if (p == NULL || q == NULL || k == NULL || out == NULL)
		return RV_ERR_NULL_ARG;
	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	c = p->curvature;
	if (!curvature_ok(c))
		return RV_ERR_CURVATURE;
	kern->sqnorm_rows(q, 1, d, d, &qq);
	st = model == HYP_POINCARE ? ball_status(qq, c)
		: isfinite(qq) ? RV_OK : RV_ERR_NONFINITE;
	if (st != RV_OK)
		return st;
	kern->sqdist_rows(q, k, 1, d, d, &d2, &kk);
	if (model == HYP_POINCARE)
	{
		kern->poincare_logits(&d2, &kk, 1, 1.0 - (double) c * qq, c, out);
		if (!isfinite(*out))
			return first_bad_row(&kk, 1, c, RV_ERR_NONFINITE, NULL);
		return RV_OK;
	}
	kern->lorentz_logits(&d2, &kk, 1, qq, c, out);
	if (*out == INFINITY)
		*out = lorentz_exact_logit(q, k, d, qq, kk, c);
	return isfinite(*out) ? RV_OK : RV_ERR_NONFINITE;
}

size_t
rv_poincare_weights_scratch(const rv_attention_params *p, size_t m, size_t n,
							size_t d, const rv_exec *ex)
{
	return weights_scratch(p, m, n, d, ex);
}

rv_status
rv_poincare_weights(const rv_attention_params *p, const float *Q, size_t m,
					const float *K, size_t n, size_t d, float *W,
					float *scratch, const rv_exec *ex)
{
	return weights(HYP_POINCARE, p, Q, m, K, n, d, W, scratch, ex);
}

rv_status
rv_poincare_logit(const rv_attention_params *p, const float *q,
				  const float *k, size_t d, float *out)
{
	return logit(HYP_POINCARE, p, q, k, d, out);
}

size_t
rv_lorentz_weights_scratch(const rv_attention_params *p, size_t m, size_t n,
						   size_t d, const rv_exec *ex)
{
	return weights_scratch(p, m, n, d, ex);
}

rv_status
rv_lorentz_weights(const rv_attention_params *p, const float *Q, size_t m,
				   const float *K, size_t n, size_t d, float *W,
				   float *scratch, const rv_exec *ex)
{
	return weights(HYP_LORENTZ, p, Q, m, K, n, d, W, scratch, ex);
}

rv_status
rv_lorentz_logit(const rv_attention_params *p, const float *q,
				 const float *k, size_t d, float *out)
{
	return logit(HYP_LORENTZ, p, q, k, d, out);
}
