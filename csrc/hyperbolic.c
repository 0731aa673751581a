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
 *  - 1 - c |x|^2 near the boundary (where hierarchies live) needs |x|^2
 *    to more digits than a float has.  The norms of keys and values are
 *    summed in float in the same pass as the distances (RV_SQNORM_F32,
 *    with a proven error bound) and trusted only while that bound moves
 *    1 - c |x|^2 by at most RV_HYP_TOL relative (c |x|^2 below about
 *    0.73, trusted_norm_max); the other rows are summed again in double
 *    (RV_SQNORM, the test of rv_ball_check), which also decides whether
 *    they are inside, so the driver and rv_ball_check always agree.  When
 *    the first HYP_PROBE rows are mostly untrusted (points near the
 *    boundary, the usual case for hierarchies), every later row goes
 *    straight to its double norm, in the same pass as the distances
 *    (mostly_flagged);
 *  - the distance is taken as 2 asinh(t) / sqrt(c) with
 *    t = sinh(sqrt(c) d / 2), from X = t^2 (RV_DIST), which is accurate
 *    for small t and cannot overflow near the boundary; a logit is
 *    0 - distance, so +0 for equal points;
 *  - Lorentz: -c <q, k>_L - 1 = (c/2) (|q - k|^2 - (q0 - k0)^2) with
 *    q0 - k0 = (|q|^2 - |k|^2) / (q0 + k0) avoids the cancellation of
 *    q0 k0 - q.k; |q|^2 - |k|^2 is summed in float as (q - k).(q + k) and
 *    trusted where its error bound keeps the chord within RV_HYP_TOL
 *    (lorentz_chord), else taken from double norms; where the chord
 *    still cancels (q - k nearly lightlike: far out and in line with the
 *    origin) the primitive flags the row and it is recomputed here in
 *    double (lorentz_exact_logit);
 *  - the Lorentz centroid's norm -<u, u>_L = u0^2 - |u|^2 cancels the same
 *    way for values far out and close together: u0 is summed in double
 *    from float time coordinates, u in float, and when the norm cancels
 *    (u0^2 > HYP_LORENTZ_OUT_ILL (u0^2 - |u|^2)) both are summed again in
 *    double; the norm is never taken below its lower bound (sum w)^2 / c.
 *
 * The O(n d) passes stream K and V once per query, the norms coming out
 * of the same reads as the distances (keys), of the weighted sum itself
 * (Lorentz values), or of a block of rows still in cache when its
 * weighted sum reads it (Poincare values, whose factors come first).  With several
 * queries the key and value quantities (gaps or norms, Poincare log-map
 * factors) are computed once per call and shared, with the same
 * arithmetic, so that every row of a batch equals the one-query call bit
 * for bit.  Queries run in parallel as independent tasks.
 *
 * Errors: a query, key or value outside the ball is RV_ERR_OUTSIDE_BALL,
 * NaN/Infinity RV_ERR_NONFINITE; both show up on the fast path as a
 * non-finite logit, factor or output, and only then are the norms of the
 * block at fault examined in double (block_status, the test
 * rv_ball_check applies), so the status is that of the first bad row in
 * the order query, keys, values.
 */
#include <float.h>
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
 * Rows per key block and per value block of one query.  Key blocks are
 * about 256 KB, so that the rows whose norms are summed again in double
 * are still in L2; the norms and log-map factors of a value block (about
 * 128 KB) are computed just before its weighted sum reads it again.
 */
#define HYP_KEY_BLOCK_FLOATS ((size_t) 1 << 16)
#define HYP_VALUE_BLOCK_FLOATS ((size_t) 1 << 15)

static size_t
block_rows(size_t floats, size_t d)
{
	size_t		b = floats / d;

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
 * The status of a block of rows X (len rows of d floats) whose logits or
 * factors are not all finite: the first row outside the ball or not
 * finite by the test of rv_ball_check, else RV_ERR_NONFINITE (a finite
 * input that overflowed).  dbl: len doubles.
 */
static rv_status
block_status(const rv_kernels *kern, const float *X, size_t len, size_t d,
			 float c, double *dbl)
{
	kern->sqnorm_rows(X, len, d, d, dbl);
	return first_bad_row(dbl, len, c, RV_ERR_NONFINITE, NULL);
}

/*
 * The largest float norm x that is trusted: with rho the bound of
 * RV_SQNORM_F32 (|x - x*| <= rho x*) and c x <= theta = (1 - rho) tau /
 * (rho + tau), tau = RV_HYP_TOL, the exact c x* is at most
 * theta' = theta / (1 - rho) = tau / (rho + tau) (about 0.736), so the
 * point is inside by any test, and the gap 1 - c x is off by at most
 * c rho x* / (1 - c x*) <= rho theta' / (1 - theta') = tau relative (plus
 * the rounding of the gap to float).  Rounded down, and finite, so that
 * an overflowed float norm is always checked in double.
 */
static float
trusted_norm_max(float c)
{
	double		rho = RV_GAMMA(RV_SQNORM_F32_DEPTH),
				tau = RV_HYP_TOL,
				x = (1.0 - rho) * tau / (rho + tau) / (double) c;
	float		f;

	if (!(x < (double) FLT_MAX))
		return FLT_MAX;
	f = (float) x;
	return (double) f > x ? nextafterf(f, 0.0f) : f;
}

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
	float		xmax;			/* trusted_norm_max(c) */
	float	   *out;			/* m x dv (forward) or W, m x n (weights) */
	int			forward;
	int			shared;			/* m > 1: the arrays below are filled */
	size_t		kb, vb, sb;		/* rows per key, value and shared block */
	float	   *ka;				/* n: key gaps (Poincare) */
	float	   *vf;				/* n: value log0 factors (Poincare), float norms (Lorentz) */
	size_t		k0, v0;			/* rows of the shared probes (run_shared) */
	int			heavy_k, heavy_v;	/* their modes (mostly_flagged) */
	float	   *slots;			/* per worker: slot floats */
	size_t		slot;
	size_t		w_off, dbl_off, f1_off, f2_off, o_off;	/* within a slot */
} hyp_args;

/* ---------------- trusted norms, and the rows checked in double ---------------- */

/*
 * Points near the boundary (the usual case for hierarchies) have
 * untrusted float norms, and then summing every norm in float first and
 * again in double costs more than the double design did.  So the first
 * HYP_PROBE keys and values decide: when more than an eighth of their
 * float norms were untrusted ("heavy"), every later row takes its gap
 * from its double norm, summed in the distance pass itself (sqdist_rows'
 * kd) or alone (values), and ball_gaps_f64.  The rule only depends on the
 * inputs, so a batch row still equals the one-query call bit for bit;
 * either way every gap is accurate and every ball test is the double one.
 */
#define HYP_PROBE 64

static int
mostly_flagged(size_t flagged, size_t len)
{
	return flagged > len / 8;
}

/* rows of the block at row b of n in blocks of blk: the probe comes first */
static size_t
block_len(size_t b, size_t n, size_t blk)
{
	size_t		len = b == 0 ? HYP_PROBE : blk;

	return n - b < len ? n - b : len;
}

/*
 * Poincare gaps of len rows X (d columns) from their float norms x: the
 * trusted ones by ball_gaps, the others (NaN in a) from their norms in
 * double (RV_SQNORM: the test of rv_ball_check), NaN when such a row is
 * outside the ball or not finite: many untrusted rows are summed in one
 * pass over the block, still in cache, into dbl (len doubles), a few one
 * by one.  With xf != NULL the float norm of a row checked in double is
 * replaced by the rounded double one.  a may equal x.  Returns how many
 * rows were untrusted.
 */
static size_t
poincare_gaps(const hyp_args *h, const float *X, size_t len, size_t d,
			  const float *x, float *a, float *xf, double *dbl)
{
	const rv_kernels *kern = h->kern;
	size_t		flagged = kern->ball_gaps(x, len, h->c, h->xmax, a),
				left = flagged;
	const double *kd = NULL;

	if (flagged == 0)
		return 0;
	if (mostly_flagged(flagged, len))
	{
		kern->sqnorm_rows(X, len, d, d, dbl);
		kd = dbl;
	}
	for (size_t i = 0; i < len && left > 0; i++)
	{
		double		xx;

		if (!isnan(a[i]))
			continue;
		left--;
		if (kd)
			xx = kd[i];
		else
			kern->sqnorm_rows(X + i * d, 1, d, d, &xx);
		if (ball_status(xx, h->c) == RV_OK)
		{
			a[i] = (float) (1.0 - (double) h->c * xx);
			if (xf)
				xf[i] = (float) xx;
		}
	}
	return flagged;
}

/*
 * The Lorentz t = q0 - k0 of the rows lorentz_chord did not trust
 * (`flagged` NaN entries of t), from the double norms of the keys:
 * (qq - kk) / (q0 + k0) in double, the formula of lorentz_chord_f64 (the
 * same bits).  NaN stays where the key is not finite.  dbl as for
 * poincare_gaps.
 */
static void
exact_chords(const hyp_args *h, const float *K, size_t len, double qq,
			 size_t flagged, float *t, double *dbl)
{
	const rv_kernels *kern = h->kern;
	size_t		d = h->d;
	double		ic = 1.0 / (double) h->c,
				q0 = sqrt(ic + qq);
	const double *kd = NULL;

	if (mostly_flagged(flagged, len))
	{
		kern->sqnorm_rows(K, len, d, d, dbl);
		kd = dbl;
	}
	for (size_t i = 0; i < len && flagged > 0; i++)
	{
		double		kk;

		if (!isnan(t[i]))
			continue;
		flagged--;
		if (kd)
			kk = kd[i];
		else
			kern->sqnorm_rows(K + i * d, 1, d, d, &kk);
		t[i] = (float) ((qq - kk) / (q0 + sqrt(ic + kk)));
	}
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
	return 0.0f - (float) (rv_log1pf_serial((float) (2.0 * s * (s + sqrt(1.0 + s * s)))) /
						   sqrt(cd));
}

/*
 * Poincare logits of q (aq = 1 - c |q|^2) against len keys K into s,
 * returning their max.  ka: the keys' gaps when shared, else NULL: then
 * they come from the norms of the same pass as the distances, into kf
 * (len floats): the float ones where trusted, or with `heavy` the double
 * ones (into dbl, len doubles).  *flagged (when not heavy): how many
 * float norms were untrusted.
 */
static float
poincare_block(const hyp_args *h, const float *q, float aq, const float *K,
			   size_t len, const float *ka, float *s, float *kf, double *dbl,
			   int heavy, size_t *flagged)
{
	const rv_kernels *kern = h->kern;

	if (ka)
		kern->sqdist_rows(q, K, len, h->d, h->d, s, NULL, NULL, NULL);
	else if (heavy)
	{
		kern->sqdist_rows(q, K, len, h->d, h->d, s, NULL, NULL, dbl);
		kern->ball_gaps_f64(dbl, len, h->c, kf, NULL);
		ka = kf;
	}
	else
	{
		kern->sqdist_rows(q, K, len, h->d, h->d, s, kf, NULL, NULL);
		*flagged = poincare_gaps(h, K, len, h->d, kf, kf, NULL, dbl);
		ka = kf;
	}
	return kern->poincare_logits(s, ka, len, aq, h->c, s);
}

/*
 * Lorentz logits of q (qq = |q|^2) against len keys K into s, returning
 * their max: t = q0 - k0 from |q|^2 - |k|^2 of the same pass as the
 * distances where lorentz_chord trusts it, else (and for every row with
 * `heavy`, decided by the query's probe block as for Poincare) from the
 * double norms, summed in the same pass into dbl.  pt: len floats; dbl:
 * len doubles.  *flagged (when not heavy): how many were untrusted.
 */
static float
lorentz_block(const hyp_args *h, const float *q, double qq, const float *K,
			  size_t len, float *s, float *pt, double *dbl, int heavy,
			  size_t *flagged)
{
	const rv_kernels *kern = h->kern;
	size_t		d = h->d;
	float		m;

	if (heavy)
	{
		kern->sqdist_rows(q, K, len, d, d, s, NULL, NULL, dbl);
		kern->lorentz_chord_f64(dbl, len, qq, h->c, pt);
	}
	else
	{
		kern->sqdist_rows(q, K, len, d, d, s, NULL, pt, NULL);
		*flagged = kern->lorentz_chord(s, pt, len, qq, h->c, pt);
		if (*flagged)
			exact_chords(h, K, len, qq, *flagged, pt, dbl);
	}
	m = kern->lorentz_logits(s, pt, len, h->c, s);
	if (m == INFINITY)
	{
		m = -INFINITY;
		for (size_t i = 0; i < len; i++)
		{
			if (s[i] == INFINITY)
			{
				double		kkd;

				if (heavy)
					kkd = dbl[i];
				else
					kern->sqnorm_rows(K + i * d, 1, d, d, &kkd);
				s[i] = lorentz_exact_logit(q, K + i * d, d, qq, kkd, h->c);
			}
			if (s[i] > m)
				m = s[i];
		}
	}
	return m;
}

/* ---------------------------------------------------------------------- */

/*
 * Scratch: a base aligned to 8 bytes (2 floats of slack), then the
 * shared arrays (m > 1: n floats for the keys, n for the values), then
 * one slot per worker: the n weights (unless they go straight to W), then
 * doubles (a block of norms, and the Lorentz accumulator u: dv), then
 * two blocks of floats, then dv floats (the Poincare output being
 * pulled inside the ball).
 */
typedef struct hyp_layout
{
	size_t		workers, shared, slot, w_off, dbl_off, f1_off, f2_off, o_off,
				total, kb, vb, sb;
} hyp_layout;

static int
add_size(size_t a, size_t b, size_t *out)
{
	return __builtin_add_overflow(a, b, out);
}

/* *out = x rounded up to even */
static int
even_size(size_t x, size_t *out)
{
	return add_size(x, x & 1, out);
}

static int
plan_layout(size_t m, size_t n, size_t d, size_t dv, int forward,
			const rv_exec *ex, hyp_layout *L)
{
	size_t		t,
				u,
				B;

	L->workers = rv_plan_threads(m, rv_query_work(n, d, forward ? dv : 0), ex);
	L->kb = block_rows(HYP_KEY_BLOCK_FLOATS, d);
	L->vb = forward ? block_rows(HYP_VALUE_BLOCK_FLOATS, dv) : 0;
	B = L->kb > L->vb ? L->kb : L->vb;
	if (B > n)
		B = n;
	L->sb = B;
	L->shared = 0;
	if (m > 1 && (even_size(n, &t) || rv_mul_size(t, forward ? 2 : 1, &L->shared)))
		return 1;
	L->w_off = 0;
	t = 0;
	if (forward && even_size(n, &t))
		return 1;
	L->dbl_off = t;
	/* B doubles, and dv for the Lorentz u */
	if ((forward ? add_size(B, dv, &u) : (u = B, 0)) || rv_mul_size(u, 2, &u) ||
		add_size(t, u, &t))
		return 1;
	L->f1_off = t;
	if (add_size(t, B + (B & 1), &t))
		return 1;
	L->f2_off = t;
	if (add_size(t, B + (B & 1), &t))
		return 1;
	L->o_off = t;
	if (forward && (even_size(dv, &u) || add_size(t, u, &t)))
		return 1;
	L->slot = t;
	if (rv_mul_size(L->workers, L->slot, &t) || add_size(t, L->shared, &t) ||
		add_size(t, 2, &L->total))
		return 1;
	/* the scratch must also be addressable in bytes */
	return L->total > SIZE_MAX / sizeof(float);
}

/* the shared arrays and slots of a layout in scratch */
static void
place(hyp_args *a, const hyp_layout *L, float *scratch, size_t n)
{
	float	   *base = scratch + (((uintptr_t) scratch & 7) ? 1 : 0);

	a->shared = L->shared > 0;
	a->ka = a->shared && a->model == HYP_POINCARE ? base : NULL;
	a->vf = a->shared && a->forward ? base + n + (n & 1) : NULL;
	a->slots = base + L->shared;
	a->slot = L->slot;
	a->w_off = L->w_off;
	a->dbl_off = L->dbl_off;
	a->f1_off = L->f1_off;
	a->f2_off = L->f2_off;
	a->o_off = L->o_off;
	a->kb = L->kb;
	a->vb = L->vb;
	a->sb = L->sb;
	a->xmax = trusted_norm_max(a->c);
}

/* ---------------- the key and value quantities ---------------- */

/*
 * The Poincare log-map factors of len values V into f (len floats) from
 * their gaps (into gb, len floats): the float norms where trusted, or
 * with `heavy` the double ones (into dbl, len doubles).  first != NULL:
 * the probe, whose untrusted count decides *first (mostly_flagged).
 */
static void
value_factors(const hyp_args *a, const float *V, size_t len, int heavy,
			  float *f, float *gb, double *dbl, int *first)
{
	const rv_kernels *kern = a->kern;

	if (heavy)
	{
		kern->sqnorm_rows(V, len, a->dv, a->dv, dbl);
		kern->ball_gaps_f64(dbl, len, a->c, gb, f);
	}
	else
	{
		size_t		flagged;

		kern->sqnorm_rows_f32(V, len, a->dv, a->dv, f);
		flagged = poincare_gaps(a, V, len, a->dv, f, gb, f, dbl);
		if (first)
			*first = mostly_flagged(flagged, len);
	}
	kern->poincare_log0(f, gb, len, a->c, f);
}

/*
 * The gaps of len Poincare keys K into ka, as a query's pass forms them
 * (poincare_block); first as for value_factors.
 */
static void
key_gaps(const hyp_args *a, const float *K, size_t len, int heavy, float *ka,
		 double *dbl, int *first)
{
	const rv_kernels *kern = a->kern;

	if (heavy)
	{
		kern->sqnorm_rows(K, len, a->d, a->d, dbl);
		kern->ball_gaps_f64(dbl, len, a->c, ka, NULL);
	}
	else
	{
		size_t		flagged;

		kern->sqnorm_rows_f32(K, len, a->d, a->d, ka);
		flagged = poincare_gaps(a, K, len, a->d, ka, ka, NULL, dbl);
		if (first)
			*first = mostly_flagged(flagged, len);
	}
}

/*
 * Block b of sb rows of the batch's shared quantities after the probes
 * (run_shared): the Poincare gaps of the keys from row k0 on and log-map
 * factors of the values from v0 on, in the modes the probes chose (NaN
 * for a bad row, which the query tasks report, in their order), or the
 * Lorentz values' float norms.
 */
static rv_status
shared_task(rv_job *job, void *arg, size_t b, size_t worker)
{
	const hyp_args *a = arg;
	float	   *slot = a->slots + worker * a->slot;
	double	   *dbl = (double *) (void *) (slot + a->dbl_off);
	size_t		i0 = a->k0 + b * a->sb,
				j0 = a->v0 + b * a->sb;

	(void) job;
	if (a->ka && i0 < a->n)
		key_gaps(a, a->K + i0 * a->d, a->n - i0 < a->sb ? a->n - i0 : a->sb, a->heavy_k,
				 a->ka + i0, dbl, NULL);
	if (a->vf && j0 < a->n)
	{
		const float *V = a->V + j0 * a->dv;
		size_t		len = a->n - j0 < a->sb ? a->n - j0 : a->sb;

		if (a->model == HYP_POINCARE)
			value_factors(a, V, len, a->heavy_v, a->vf + j0, slot + a->f2_off, dbl, NULL);
		else
			a->kern->sqnorm_rows_f32(V, len, a->dv, a->dv, a->vf + j0);
	}
	return RV_OK;
}

/*
 * The shared quantities of a batch: the probes of keys and values
 * (HYP_PROBE rows) here, deciding the modes, with worker 0's slot, then
 * the rest threaded over blocks of sb rows.
 */
static rv_status
run_shared(hyp_args *a, size_t workers, const rv_exec *ex)
{
	float	   *slot = a->slots;
	double	   *dbl = (double *) (void *) (slot + a->dbl_off);
	size_t		rest;

	a->k0 = a->v0 = 0;
	if (a->ka)
	{
		a->k0 = block_len(0, a->n, a->kb);
		key_gaps(a, a->K, a->k0, 0, a->ka, dbl, &a->heavy_k);
	}
	if (a->vf && a->model == HYP_POINCARE)
	{
		a->v0 = block_len(0, a->n, a->vb);
		value_factors(a, a->V, a->v0, 0, a->vf, slot + a->f2_off, dbl, &a->heavy_v);
	}
	rest = a->n - (a->ka ? a->k0 : a->n);
	if (a->vf && a->n - a->v0 > rest)
		rest = a->n - a->v0;
	if (rest == 0)
		return RV_OK;
	return rv_run_tasks((rest + a->sb - 1) / a->sb, workers, shared_task, a, ex);
}

/* ---------------- one query ---------------- */

/*
 * Whether to poll the job now: every RV_CANCEL_BLOCK rows (*since counts
 * them) and after the last block.
 */
static int
poll_due(size_t *since, size_t rows, int last)
{
	*since += rows;
	if (*since < RV_CANCEL_BLOCK && !last)
		return 0;
	*since = 0;
	return 1;
}

/*
 * The logits of query q over all keys into s (n floats), in blocks of kb
 * keys after the probe (block_len); *max gets their max.  qq: |q|^2,
 * already checked.
 */
static rv_status
query_logits(const hyp_args *a, const float *q, double qq, float *s,
			 float *slot, float *max, rv_job *job)
{
	const rv_kernels *kern = a->kern;
	double	   *dbl = (double *) (void *) (slot + a->dbl_off);
	float	   *f1 = slot + a->f1_off;
	float		m = -INFINITY,
				aq = (float) (1.0 - (double) a->c * qq);
	size_t		since_poll = 0,
				flagged = 0;
	int			heavy = 0;

	for (size_t b = 0, len; b < a->n; b += len)
	{
		const float *K = a->K + b * a->d;
		const float *ka = a->ka ? a->ka + b : NULL;
		float		mb;

		len = block_len(b, a->n, a->kb);
		mb = a->model == HYP_POINCARE
			? poincare_block(a, q, aq, K, len, ka, s + b, f1, dbl, heavy, &flagged)
			: lorentz_block(a, q, qq, K, len, s + b, f1, dbl, heavy, &flagged);

		if (b == 0)
			heavy = mostly_flagged(flagged, len);
		if (!kern->all_finite(s + b, len))
			return a->model == HYP_POINCARE
				? block_status(kern, K, len, a->d, a->c, dbl)
				: RV_ERR_NONFINITE;
		if (mb > m)
			m = mb;
		if (poll_due(&since_poll, len, b + len == a->n) && rv_job_should_stop(job))
			return RV_ERR_CANCELLED;
	}
	*max = m;
	return RV_OK;
}

/*
 * Float rounding can leave exp0's result on the boundary or just outside
 * (tanh(r) rounds to 1 from r = 9 on, values at the boundary): then out is
 * scaled by the largest float below 1 that brings it inside by the test of
 * rv_ball_check (RV_SQNORM in double, 1 - c |x|^2 > 0), so that the output
 * is always a valid input.  In practice that is 1 - 2^-24 or the next
 * float; the loop ends in any case (s halves after 64 steps and reaches
 * 0, which is inside).  tmp: dv floats.
 */
static void
pull_inside(const rv_kernels *kern, float *out, size_t dv, float c, float *tmp)
{
	double		oo;
	float		s = 1.0f;

	kern->sqnorm_rows(out, 1, dv, dv, &oo);
	if (ball_status(oo, c) == RV_OK)
		return;
	memcpy(tmp, out, dv * sizeof(float));
	for (int k = 0;; k++)
	{
		s = k < 64 ? nextafterf(s, 0.0f) : s * 0.5f;
		memcpy(out, tmp, dv * sizeof(float));
		kern->scale(out, dv, s);
		kern->sqnorm_rows(out, 1, dv, dv, &oo);
		if (ball_status(oo, c) == RV_OK)
			return;
	}
}

/*
 * Poincare output of one query from its exponentials e (n floats, sum
 * `sum`): u = sum_i e_i f_i v_i / sum with f_i the log0 factors, then
 * out = exp0(u) = tanh(sqrt(c) |u|) u / (sqrt(c) |u|), pulled inside the
 * ball.  Values go in blocks of vb rows: their norms, gaps and factors
 * (value_factors) just before their weighted sum (an rv_vsum: float
 * partials added in double) reads them again from L2.  e is overwritten
 * by e_i f_i.
 */
static rv_status
poincare_output(const hyp_args *a, float *e, double sum, float *slot,
				float *out, rv_job *job)
{
	const rv_kernels *kern = a->kern;
	double	   *dbl = (double *) (void *) (slot + a->dbl_off);
	float	   *fb = slot + a->f1_off,
			   *gb = slot + a->f2_off;
	size_t		since_poll = 0;
	double		uu,
				r;
	int			heavy = 0;
	rv_vsum		u;
	rv_status	st;

	rv_vsum_init(&u, kern, a->dv, 1, out, dbl + a->sb, NULL);	/* polled here */
	for (size_t b = 0, len; b < a->n; b += len)
	{
		const float *V = a->V + b * a->dv;
		const float *f = a->shared ? a->vf + b : fb;

		len = block_len(b, a->n, a->vb);
		if (!a->shared)
			value_factors(a, V, len, heavy, fb, gb, dbl, b == 0 ? &heavy : NULL);
		if (!kern->all_finite(f, len))
			return block_status(kern, V, len, a->dv, a->c, dbl);
		kern->mul(e + b, f, len, e + b);
		(void) rv_vsum_add(&u, e + b, 0, V, len, a->dv);
		if (poll_due(&since_poll, len, b + len == a->n) && rv_job_should_stop(job))
			return RV_ERR_CANCELLED;
	}
	if ((st = rv_vsum_finish(&u, 1.0 / sum, out)) != RV_OK)
		return st;
	kern->sqnorm_rows(out, 1, a->dv, a->dv, &uu);
	if (!isfinite(uu))
		return RV_ERR_NONFINITE;
	r = sqrt((double) a->c * uu);
	kern->scale(out, a->dv, r > 0.0 ? (float) (tanh(r) / r) : 1.0f);
	if (!kern->all_finite(out, a->dv))
		return RV_ERR_NONFINITE;
	pull_inside(kern, out, a->dv, a->c, slot + a->o_off);
	return RV_OK;
}

/*
 * Lorentz output of one query from its exponentials e (sum `sum`):
 * u = sum_i e_i (v_i0, v_i), out = u / (sqrt(c) sqrt(-<u, u>_L)) with
 * -<u, u>_L = u0^2 - |u|^2 kept >= its lower bound sum^2 / c.  u0 sums in
 * double from float time coordinates (lorentz_time, from the values'
 * float norms: within RV_GAMMA(RV_SQNORM_F32_DEPTH) / 2 + 1.25 u of the
 * exact ones), the spatial u in double from float partials of at most
 * RV_VALUE_BLOCK rows (weighted_sum_sqnorm, which also gives the values'
 * float norms), over blocks of vb values.  Both errors move u0^2 - |u|^2 by
 * a fraction of u0^2; while u0^2 <= HYP_LORENTZ_OUT_ILL (u0^2 - |u|^2)
 * that stays below 4 (RV_GAMMA(23) / 2 + 1.25 u) = 3.2e-6 of the norm for
 * the time coordinates; beyond (values far out and close together, the
 * norm cancels) u and u0 are summed again in double from double norms.
 */
#define HYP_LORENTZ_OUT_ILL 2.0

/* |u|^2 of dv doubles, in order */
static double
sqnorm_f64(const double *u, size_t dv)
{
	double		uu = 0.0;

	for (size_t j = 0; j < dv; j++)
		uu += u[j] * u[j];
	return uu;
}

static rv_status
lorentz_output(const hyp_args *a, const float *e, double sum, float *slot,
			   float *out, rv_job *job)
{
	const rv_kernels *kern = a->kern;
	double	   *dbl = (double *) (void *) (slot + a->dbl_off);
	double	   *u = dbl + a->sb;
	float	   *fb = slot + a->f1_off;
	size_t		since_poll = 0;
	double		ic = 1.0 / (double) a->c,
				t0 = 0.0,
				uu,
				nd,
				r;
	int			ill;

	memset(u, 0, a->dv * sizeof(double));
	for (size_t b = 0; b < a->n; b += a->vb)
	{
		size_t		len = a->n - b < a->vb ? a->n - b : a->vb;
		const float *V = a->V + b * a->dv;
		const float *vv = a->shared ? a->vf + b : fb;

		/* u: float partials of at most RV_VALUE_BLOCK rows added in double */
		for (size_t i = 0, pl; i < len; i += pl)
		{
			pl = len - i < RV_VALUE_BLOCK ? len - i : RV_VALUE_BLOCK;
			memset(out, 0, a->dv * sizeof(float));
			kern->weighted_sum_sqnorm(e + b + i, V + i * a->dv, pl, a->dv, a->dv, out,
									  a->shared ? NULL : fb + i);
			kern->accumulate_f64(u, 1.0, out, a->dv);
		}
		t0 += kern->lorentz_time(e + b, vv, len, a->c);
		if (poll_due(&since_poll, len, b + len == a->n) && rv_job_should_stop(job))
			return RV_ERR_CANCELLED;
	}
	uu = sqnorm_f64(u, a->dv);
	if (!isfinite(t0) || !isfinite(uu))
		return RV_ERR_NONFINITE;
	nd = t0 * t0 - uu;
	ill = !(t0 * t0 <= HYP_LORENTZ_OUT_ILL * nd);
	if (ill)
	{
		memset(u, 0, a->dv * sizeof(double));
		t0 = 0.0;
		for (size_t b = 0; b < a->n; b += a->vb)
		{
			size_t		len = a->n - b < a->vb ? a->n - b : a->vb;
			const float *V = a->V + b * a->dv;

			kern->weighted_sum_f64(e + b, V, len, a->dv, a->dv, u);
			kern->sqnorm_rows(V, len, a->dv, a->dv, dbl);
			for (size_t i = 0; i < len; i++)
				t0 += (double) e[b + i] * sqrt(ic + dbl[i]);
			if (poll_due(&since_poll, len, b + len == a->n) && rv_job_should_stop(job))
				return RV_ERR_CANCELLED;
		}
		nd = t0 * t0 - sqnorm_f64(u, a->dv);
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
	st = query_logits(a, q, qq, w, slot, &m, job);
	if (st != RV_OK)
		return st;
	sum = rv_exp_sum_blocked(kern, w, a->n, m, w);
	if (!a->forward)
	{
		kern->scale(w, a->n, (float) (1.0 / sum));
		return RV_OK;
	}
	if (a->model == HYP_POINCARE)
		return poincare_output(a, w, sum, slot, a->out + r * a->dv, job);
	return lorentz_output(a, w, sum, slot, a->out + r * a->dv, job);
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
	if (a->ka || a->vf)
	{
		st = run_shared(a, L.workers, ex);
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

/* the logit of one pair: the same code as a call with n = 1 */
static rv_status
logit(hyp_model model, const rv_attention_params *p, const float *q,
	  const float *k, size_t d, float *out)
{
	hyp_args	h;
	double		qq,
				dbl;
	float		kf,
				pt,
				s;
	size_t		flagged;
	rv_status	st;

	if (p == NULL || q == NULL || k == NULL || out == NULL)
		return RV_ERR_NULL_ARG;
	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (!curvature_ok(p->curvature))
		return RV_ERR_CURVATURE;
	memset(&h, 0, sizeof h);
	h.kern = rv_active_kernels();
	h.model = model;
	h.d = d;
	h.c = p->curvature;
	h.xmax = trusted_norm_max(h.c);
	h.kern->sqnorm_rows(q, 1, d, d, &qq);
	st = model == HYP_POINCARE ? ball_status(qq, h.c)
		: isfinite(qq) ? RV_OK : RV_ERR_NONFINITE;
	if (st != RV_OK)
		return st;
	if (model == HYP_POINCARE)
		poincare_block(&h, q, (float) (1.0 - (double) h.c * qq), k, 1, NULL, &s, &kf, &dbl, 0, &flagged);
	else
		lorentz_block(&h, q, qq, k, 1, &s, &pt, &dbl, 0, &flagged);
	if (!isfinite(s))
		return model == HYP_POINCARE ? block_status(h.kern, k, 1, d, h.c, &dbl)
			: RV_ERR_NONFINITE;
	*out = s;
	return RV_OK;
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
