/*
 * test_hyperbolic.c: Poincare and Lorentz attention (rv_poincare_attention,
 * rv_lorentz_attention, rv_ball_check and the generic-entry functions
 * rv_{poincare,lorentz}_{weights,logit}) against float64 references
 * written here (plain loops in double with libm), for every backend:
 * tails in n, d and dv, batches (each row equal to the one-query call),
 * 1 vs 4 threads bit for bit, cancellation, every error, and the hard
 * numerical cases: points at the boundary of the ball, tiny and huge
 * curvature, a query equal to a key, Lorentz points far out (the
 * nearly-lightlike differences of d = 1), all-zero vectors; logits of
 * equal points are +0, and Poincare outputs are inside the ball (by the
 * test of rv_ball_check) even for values as far out as floats get.
 */
#include <float.h>
#include <stdatomic.h>

#include "rv_internal.h"
#include "test_util.h"

typedef enum
{
	POINCARE,
	LORENTZ
} model;

static const char *const model_names[] = {"poincare", "lorentz"};

/* ---------------- float64 references ---------------- */

static double
dnorm2(const float *x, size_t d)
{
	double		s = 0.0;

	for (size_t j = 0; j < d; j++)
		s += (double) x[j] * x[j];
	return s;
}

static double
ddist2(const float *x, const float *y, size_t d)
{
	double		s = 0.0;

	for (size_t j = 0; j < d; j++)
	{
		double		e = (double) x[j] - (double) y[j];

		s += e * e;
	}
	return s;
}

/* arcosh(1 + X) without the cancellation of 1 + X for small X */
static double
acosh1p(double X)
{
	return log1p(X + sqrt(X * (X + 2.0)));
}

static double
ref_dist(model mo, const float *q, const float *k, size_t d, double c)
{
	double		qq = dnorm2(q, d),
				kk = dnorm2(k, d),
				e2 = ddist2(q, k, d);

	if (mo == POINCARE)
		return acosh1p(2.0 * c * e2 / ((1.0 - c * qq) * (1.0 - c * kk))) / sqrt(c);
	else
	{
		/* -c<q,k>_L - 1 = (c/2)(|q-k|^2 - (q0-k0)^2), q0-k0 = (qq-kk)/(q0+k0) */
		double		q0 = sqrt(1.0 / c + qq),
					k0 = sqrt(1.0 / c + kk),
					t = (qq - kk) / (q0 + k0),
					X = 0.5 * c * (e2 - t * t);

		return acosh1p(X > 0.0 ? X : 0.0) / sqrt(c);
	}
}

/* w = softmax(-dist) over n keys */
static void
ref_weights_h(model mo, const float *q, const float *K, size_t n, size_t d,
			  double c, double *w)
{
	double		m = -INFINITY,
				sum = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		w[i] = -ref_dist(mo, q, K + i * d, d, c);
		if (w[i] > m)
			m = w[i];
	}
	for (size_t i = 0; i < n; i++)
		sum += (w[i] = exp(w[i] - m));
	for (size_t i = 0; i < n; i++)
		w[i] /= sum;
}

/*
 * The output of one query, and mag[j], the magnitude of the terms that
 * out[j] sums (the scale of the absolute part of the accuracy bar).
 */
static void
ref_output(model mo, const float *q, const float *K, const float *V,
		   size_t n, size_t d, size_t dv, double c, double *out, double *mag)
{
	double	   *w = malloc(n * sizeof(double));
	double		u0 = 0.0,
				uu = 0.0,
				g;

	ref_weights_h(mo, q, K, n, d, c, w);
	for (size_t j = 0; j < dv; j++)
		out[j] = mag[j] = 0.0;
	for (size_t i = 0; i < n; i++)
	{
		const float *v = V + i * dv;
		double		vv = dnorm2(v, dv),
					f = 1.0;

		if (mo == POINCARE)
		{
			double		y = sqrt(c * vv);

			f = y > 0.0 ? atanh(y) / y : 1.0;
		}
		else
			u0 += w[i] * sqrt(1.0 / c + vv);
		for (size_t j = 0; j < dv; j++)
		{
			out[j] += w[i] * f * v[j];
			mag[j] += w[i] * f * fabs(v[j]);
		}
	}
	for (size_t j = 0; j < dv; j++)
		uu += out[j] * out[j];
	if (mo == POINCARE)
	{
		double		s = sqrt(c * uu);

		g = s > 0.0 ? tanh(s) / s : 1.0;
	}
	else
		g = 1.0 / (sqrt(c) * sqrt(u0 * u0 - uu));
	for (size_t j = 0; j < dv; j++)
	{
		out[j] *= g;
		mag[j] *= g;
	}
	free(w);
}

/* the worst error seen, as a fraction of the bar (printed with HYP_VERBOSE) */
static double worst_ratio;
static char worst_what[160];

static void
note(double got, double ref, double mag, const char *what)
{
	double		tol = 1e-5 * fabs(ref) + 1e-6 * (mag > 0.0 ? mag : 1.0);
	double		r = fabs(got - ref) / tol;

	if (r > worst_ratio)
	{
		worst_ratio = r;
		snprintf(worst_what, sizeof worst_what, "%s got %.9g ref %.9g", what, got, ref);
	}
}

/* ---------------- data ---------------- */

/* a point of the Poincare ball with c |x|^2 = rho^2 (shrunk if float rounding put it outside) */
static void
ball_point(float *x, size_t d, double c, double rho)
{
	double		s = 0.0;

	for (size_t j = 0; j < d; j++)
	{
		x[j] = nrand();
		s += (double) x[j] * x[j];
	}
	if (s == 0.0)
	{
		x[0] = 1.0f;
		s = 1.0;
	}
	for (size_t j = 0; j < d; j++)
		x[j] = (float) (x[j] * rho / sqrt(s * c));
	while (!(1.0 - c * dnorm2(x, d) > 0.0))
		for (size_t j = 0; j < d; j++)
			x[j] = nextafterf(x[j], 0.0f);
}

/* x scaled onto c |x|^2 = 1, then shrunk one float step at a time until inside */
static void
ball_point_scaled(float *x, size_t d, double c)
{
	double		s = dnorm2(x, d);

	for (size_t j = 0; j < d; j++)
		x[j] = (float) (x[j] / sqrt(s * c));
	while (rv_ball_check(x, 1, d, (float) c, NULL) != RV_OK)
		for (size_t j = 0; j < d; j++)
			x[j] = nextafterf(x[j], 0.0f);
}

/* rows points: Poincare radii spread over [0, 0.97), Lorentz |x| ~ scale */
static float *
points(model mo, size_t rows, size_t d, double c, double scale)
{
	float	   *X = malloc((rows * d + 1) * sizeof(float));

	for (size_t i = 0; i < rows; i++)
	{
		if (mo == POINCARE)
			ball_point(X + i * d, d, c, 0.97 * urand());
		else
			for (size_t j = 0; j < d; j++)
				X[i * d + j] = (float) (nrand() * scale / sqrt((double) d));
	}
	return X;
}

static rv_status
attention(model mo, const float *Q, size_t m, const float *K, const float *V,
		  size_t n, size_t d, size_t dv, float c, float *out, float *scratch,
		  const rv_exec *ex)
{
	return mo == POINCARE
		? rv_poincare_attention(Q, m, K, V, n, d, dv, c, out, scratch, ex)
		: rv_lorentz_attention(Q, m, K, V, n, d, dv, c, out, scratch, ex);
}

static float *
scratch_for(size_t m, size_t n, size_t d, size_t dv, const rv_exec *ex)
{
	size_t		s = rv_hyperbolic_attention_scratch(m, n, d, dv, ex);

	return malloc((s ? s : 1) * sizeof(float));
}

/* out (m x dv) of a call against the reference; returns 1 when all within the bar */
static int
check_output(model mo, const float *Q, size_t m, const float *K, const float *V,
			 size_t n, size_t d, size_t dv, double c, const float *out,
			 const char *what)
{
	double	   *ref = malloc(dv * sizeof(double)),
			   *mag = malloc(dv * sizeof(double));
	int			ok = 1;

	for (size_t r = 0; r < m && ok; r++)
	{
		ref_output(mo, Q + r * d, K, V, n, d, dv, c, ref, mag);
		for (size_t j = 0; j < dv && ok; j++)
			if (note(out[r * dv + j], ref[j], mag[j], what), !close_to(out[r * dv + j], ref[j], mag[j]))
			{
				ok = 0;
				CHECK(0, "%s %s: out[%zu][%zu] = %.9g, float64 %.9g (mag %.3g)",
					  model_names[mo], what, r, j, out[r * dv + j], ref[j], mag[j]);
			}
	}
	free(ref);
	free(mag);
	return ok;
}

/* ---------------- tests ---------------- */

/*
 * Tails in n, d, dv, for m = 1 and m = 3 (the batch path, whose rows must
 * equal the one-query calls bit for bit), with the reference.
 */
static void
test_forward_tails(model mo)
{
	static const size_t few[] = {1, 3, 8, 17, 64};
	double		c = mo == POINCARE ? 1.0 : 0.5;

	for (int axis = 0; axis < 3; axis++)
		for (size_t t = 0; t < NTAILS; t++)
			for (size_t f = 0; f < sizeof few / sizeof few[0]; f += 2)
			{
				size_t		n = axis == 0 ? tails[t] : few[f],
							d = axis == 1 ? tails[t] : few[(f + 1) % 5],
							dv = axis == 2 ? tails[t] : few[(f + 3) % 5],
							m = 3;
				float	   *Q = points(mo, m, d, c, 2.0);
				float	   *K = points(mo, n, d, c, 2.0);
				float	   *V = points(mo, n, dv, c, 2.0);
				float	   *out = malloc(m * dv * sizeof(float));
				float	   *one = malloc(dv * sizeof(float));
				float	   *s = scratch_for(m, n, d, dv, NULL);
				float	   *s1 = scratch_for(1, n, d, dv, NULL);
				char		what[64];
				int			same = 1;

				snprintf(what, sizeof what, "n=%zu d=%zu dv=%zu", n, d, dv);
				CHECK_STATUS(attention(mo, Q, m, K, V, n, d, dv, (float) c, out, s, NULL), RV_OK);
				check_output(mo, Q, m, K, V, n, d, dv, c, out, what);
				for (size_t r = 0; r < m; r++)
				{
					CHECK_STATUS(attention(mo, Q + r * d, 1, K, V, n, d, dv, (float) c, one, s1, NULL), RV_OK);
					same &= memcmp(one, out + r * dv, dv * sizeof(float)) == 0;
				}
				CHECK(same, "%s %s: a batch row differs from its one-query call", model_names[mo], what);
				free(Q);
				free(K);
				free(V);
				free(out);
				free(one);
				free(s);
				free(s1);
			}
}

/* weights and logits through the generic-entry functions */
static void
test_weights_logits(model mo)
{
	static const size_t ns[] = {1, 7, 9, 33, 1000, 4099, 9000};
	static const float cs[] = {1e-4f, 0.3f, 1.0f, 7.0f, 1e4f};
	rv_attention_params p;

	rv_attention_params_init(&p, mo == POINCARE ? RV_ATTN_POINCARE : RV_ATTN_LORENTZ);
	CHECK(p.curvature == 1.0f, "default curvature %g", p.curvature);
	for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
		for (size_t b = 0; b < sizeof cs / sizeof cs[0]; b++)
		{
			size_t		n = ns[a],
						d = 1 + (a * 7) % 19,
						m = 2;
			double		c = cs[b];
			float	   *Q = points(mo, m, d, c, 3.0 / sqrt(c));
			float	   *K = points(mo, n, d, c, 3.0 / sqrt(c));
			float	   *W = malloc(m * n * sizeof(float));
			float	   *W1 = malloc(n * sizeof(float));
			double	   *ref = malloc(n * sizeof(double));
			size_t		ss = mo == POINCARE ? rv_poincare_weights_scratch(&p, m, n, d, NULL)
				: rv_lorentz_weights_scratch(&p, m, n, d, NULL);
			float	   *s = malloc(ss * sizeof(float));
			int			okw = 1,
						okl = 1,
						same = 1;

			p.curvature = (float) c;
			CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(&p, Q, m, K, n, d, W, s, NULL)
						 : rv_lorentz_weights(&p, Q, m, K, n, d, W, s, NULL), RV_OK);
			for (size_t r = 0; r < m; r++)
			{
				double		sum = 0.0;

				double		lmax = INFINITY;

				ref_weights_h(mo, Q + r * d, K, n, d, c, ref);
				for (size_t i = 0; i < n; i++)
					lmax = fmin(lmax, ref_dist(mo, Q + r * d, K + i * d, d, c));
				for (size_t i = 0; i < n; i++)
				{
					/*
					 * Float logits: w_i = exp(s_i - s_max) / sum inherits the
					 * relative error of s_i and s_max times their size, so the
					 * absolute part of the bar scales with w_i (|s_i| + |s_max|).
					 */
					double		mag = fmax(1.0, ref[i] * (ref_dist(mo, Q + r * d, K + i * d, d, c) + lmax));

					note(W[r * n + i], ref[i], mag, "weights");
					okw &= close_to(W[r * n + i], ref[i], mag);
					sum += W[r * n + i];
				}
				okw &= fabs(sum - 1.0) < 1e-5;
				CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(&p, Q + r * d, 1, K, n, d, W1, s, NULL)
							 : rv_lorentz_weights(&p, Q + r * d, 1, K, n, d, W1, s, NULL), RV_OK);
				same &= memcmp(W1, W + r * n, n * sizeof(float)) == 0;
			}
			for (size_t i = 0; i < n && i < 200; i++)
			{
				float		l;
				double		lr = -ref_dist(mo, Q, K + i * d, d, c);

				CHECK_STATUS(mo == POINCARE ? rv_poincare_logit(&p, Q, K + i * d, d, &l)
							 : rv_lorentz_logit(&p, Q, K + i * d, d, &l), RV_OK);
				note(l, lr, 0.0, "logit");
				if (okl && !close_to(l, lr, 0.0))
				{
					okl = 0;
					CHECK(0, "%s logit c=%g d=%zu key %zu: %.9g, float64 %.9g", model_names[mo], c, d, i, l, lr);
				}
			}
			CHECK(okw, "%s weights n=%zu d=%zu c=%g", model_names[mo], n, d, c);
			CHECK(same, "%s weights n=%zu: batch row differs from one-query call", model_names[mo], n);
			free(Q);
			free(K);
			free(W);
			free(W1);
			free(ref);
			free(s);
		}
}

/*
 * The hard inputs.  Poincare: every point at c |x|^2 = 1 - 1e-6 or at
 * |x| = (1 - 1e-7) / sqrt(c) in float, for curvatures from 1e-4 to 1e4,
 * a query equal to a key (logit 0), values at the boundary.  Lorentz:
 * points far out (|x| up to 1e3 / sqrt(c)), in d = 1 (every difference
 * nearly lightlike) and in line with the origin in d = 16.  Both: d = 1,
 * all-zero vectors.
 */
static void
test_hard(model mo)
{
	static const float cs[] = {1e-4f, 1e-2f, 1.0f, 1e2f, 1e4f};
	static const size_t ds[] = {1, 2, 16, 129};

	for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++)
		for (size_t di = 0; di < sizeof ds / sizeof ds[0]; di++)
			for (int kind = 0; kind < 3; kind++)
			{
				double		c = cs[ci];
				size_t		d = ds[di],
							dv = d,
							n = 37,
							m = 2;
				float	   *Q = malloc(m * d * sizeof(float));
				float	   *K = malloc(n * d * sizeof(float));
				float	   *V = malloc(n * dv * sizeof(float));
				float	   *out = malloc(m * dv * sizeof(float));
				float	   *s = scratch_for(m, n, d, dv, NULL);
				float		l;
				double		lr;
				rv_attention_params p;
				char		what[80];

				rv_attention_params_init(&p, mo == POINCARE ? RV_ATTN_POINCARE : RV_ATTN_LORENTZ);
				p.curvature = (float) c;
				for (size_t i = 0; i < n; i++)
				{
					if (mo == POINCARE)
					{
						if (kind == 0)
							ball_point(K + i * d, d, c, sqrt(1.0 - 1e-6));
						else if (kind == 1)
							ball_point(K + i * d, d, c, 1.0 - 1e-7);
						else
							ball_point(K + i * d, d, c, i % 2 ? 1.0 - 1e-7 : 0.5 * urand());
						if (kind == 0)
							ball_point(V + i * dv, dv, c, 1.0 - 1e-7);
						else
							ball_point(V + i * dv, dv, c, i % 3 ? sqrt(1.0 - 1e-6) : 0.9 * urand());
					}
					else
					{
						double		R = kind == 0 ? 1e3 : kind == 1 ? 30.0 : 1e3 * urand();
						float		dir = 1.0f;

						for (size_t j = 0; j < d; j++)
						{
							/* kind 0: in line with the origin (radial differences) */
							K[i * d + j] = (float) ((kind == 0 ? dir : nrand()) * R / sqrt(c * d) *
													(kind == 0 ? 1.0 + 1e-3 * i : 1.0));
							V[i * dv + j] = (float) ((kind == 0 ? dir : nrand()) * R / sqrt(c * d) *
													 (kind == 0 ? 1.0 + 1e-3 * (i % 5) : 1.0));
						}
					}
				}
				/* query 0 equals key 5; query 1 is near key 9 */
				memcpy(Q, K + 5 * d, d * sizeof(float));
				memcpy(Q + d, K + 9 * d, d * sizeof(float));
				Q[d] = nextafterf(Q[d], 0.0f);
				snprintf(what, sizeof what, "hard c=%g d=%zu kind=%d", c, d, kind);

				CHECK_STATUS(attention(mo, Q, m, K, V, n, d, dv, (float) c, out, s, NULL), RV_OK);
				check_output(mo, Q, m, K, V, n, d, dv, c, out, what);
				CHECK_STATUS(mo == POINCARE ? rv_poincare_logit(&p, Q, K + 5 * d, d, &l)
							 : rv_lorentz_logit(&p, Q, K + 5 * d, d, &l), RV_OK);
				CHECK(fabsf(l) <= 1e-6f, "%s %s: logit of q == k is %.9g", model_names[mo], what, l);
				CHECK(l == 0.0f && !signbit(l), "%s %s: logit of q == k is %.9g, not +0", model_names[mo], what, l);
				if (mo == POINCARE)
					CHECK_STATUS(rv_ball_check(out, m, dv, (float) c, NULL), RV_OK);
				for (size_t i = 0; i < n; i++)
				{
					for (size_t r = 0; r < m; r++)
					{
						CHECK_STATUS(mo == POINCARE ? rv_poincare_logit(&p, Q + r * d, K + i * d, d, &l)
									 : rv_lorentz_logit(&p, Q + r * d, K + i * d, d, &l), RV_OK);
						lr = -ref_dist(mo, Q + r * d, K + i * d, d, c);
						note(l, lr, 0.0, what);
						if (!close_to(l, lr, 0.0))
						{
							CHECK(0, "%s %s: logit q%zu k%zu %.9g, float64 %.9g", model_names[mo], what, r, i, l, lr);
							i = n;
							break;
						}
					}
				}
				free(Q);
				free(K);
				free(V);
				free(out);
				free(s);
			}

	/* all-zero vectors: out = 0, logits 0, uniform weights */
	{
		size_t		n = 9, d = 5, dv = 3;
		float	   *Z = calloc(n * (d + dv), sizeof(float));
		float		out[3] = {1, 1, 1};
		float	   *s = scratch_for(1, n, d, dv, NULL);

		CHECK_STATUS(attention(mo, Z, 1, Z, Z, n, d, dv, 1.0f, out, s, NULL), RV_OK);
		CHECK(out[0] == 0.0f && out[1] == 0.0f && out[2] == 0.0f, "%s zero vectors: %g %g %g",
			  model_names[mo], out[0], out[1], out[2]);
		{
			rv_attention_params p;
			float		l = -1.0f;

			rv_attention_params_init(&p, mo == POINCARE ? RV_ATTN_POINCARE : RV_ATTN_LORENTZ);
			CHECK_STATUS(mo == POINCARE ? rv_poincare_logit(&p, Z, Z, d, &l) : rv_lorentz_logit(&p, Z, Z, d, &l), RV_OK);
			CHECK(l == 0.0f && !signbit(l), "%s zero vectors: logit %g, not +0", model_names[mo], l);
		}
		free(Z);
		free(s);
	}
}

/*
 * Poincare outputs stay inside the ball by the test of rv_ball_check even
 * when every value is as far out as floats get (tanh rounds to 1 there,
 * and without the pull back inside some outputs land on the boundary).
 */
static void
test_output_inside(void)
{
	static const float cs[] = {1e-4f, 0.3f, 1.0f, 7.0f, 1e4f};
	int			inside = 1;

	for (size_t ci = 0; ci < sizeof cs / sizeof cs[0]; ci++)
		for (size_t dv = 1; dv <= 129; dv = dv * 2 + 1)
			for (int trial = 0; trial < 20; trial++)
			{
				float		c = cs[ci];
				size_t		n = 5, d = 3;
				float		K[15], Q[3] = {0.1f / sqrtf(c), 0.0f, 0.0f};
				float	   *V = malloc(n * dv * sizeof(float)),
						   *out = malloc(dv * sizeof(float)),
						   *sc = scratch_for(1, n, d, dv, NULL);

				for (size_t i = 0; i < 15; i++)
					K[i] = 0.01f * (float) i / sqrtf(c);
				for (size_t i = 0; i < n; i++)
				{
					float	   *v = V + i * dv;

					for (size_t j = 0; j < dv; j++)
						v[j] = j == (size_t) trial % dv ? 1.0f : 1e-3f * (float) (trial + 1);
					ball_point_scaled(v, dv, c);
					/* as far out as floats get: nudge up while still inside */
					for (int k = 0; k < 50; k++)
					{
						size_t		j = (size_t) (k + trial) % dv;
						float		o = v[j];

						v[j] = nextafterf(o, o >= 0.0f ? INFINITY : -INFINITY);
						if (rv_ball_check(v, 1, dv, c, NULL) != RV_OK)
							v[j] = o;
					}
				}
				CHECK_STATUS(rv_poincare_attention(Q, 1, K, V, n, d, dv, c, out, sc, NULL), RV_OK);
				inside &= rv_ball_check(out, 1, dv, c, NULL) == RV_OK;
				free(V);
				free(out);
				free(sc);
			}
	CHECK(inside, "poincare: an output of values at the boundary is not inside the ball");
}

/*
 * Many blocks of keys and values near the boundary (Poincare) or far out
 * and in line with the query (Lorentz): their float norms are not trusted,
 * the first block then makes every later row use double norms (the
 * driver's "heavy" mode); `mixed`: only the later blocks are so, the first
 * one trusted.  Against the reference, batch rows equal to the one-query
 * calls and 1 vs 4 threads bit for bit, weights too.
 */
static void
test_heavy(model mo, int mixed)
{
	size_t		n = 1300, d = 128, dv = 64, m = 3;
	double		c = mo == POINCARE ? 1.0 : 0.5;
	float	   *Q = malloc(m * d * sizeof(float)),
			   *K = malloc(n * d * sizeof(float)),
			   *V = malloc(n * dv * sizeof(float)),
			   *out = malloc(m * dv * sizeof(float)),
			   *out4 = malloc(m * dv * sizeof(float)),
			   *one = malloc(dv * sizeof(float)),
			   *W = malloc(m * n * sizeof(float)),
			   *W1 = malloc(n * sizeof(float));
	rv_exec		ex4 = {.max_threads = 4, .min_work_per_thread = 1};
	float	   *s = scratch_for(m, n, d, dv, &ex4),
			   *s1 = scratch_for(1, n, d, dv, NULL);
	rv_attention_params p;
	size_t		ws;
	float	   *sw;
	int			same = 1;
	char		what[64];

	rv_attention_params_init(&p, mo == POINCARE ? RV_ATTN_POINCARE : RV_ATTN_LORENTZ);
	p.curvature = (float) c;
	ws = mo == POINCARE ? rv_poincare_weights_scratch(&p, m, n, d, &ex4) : rv_lorentz_weights_scratch(&p, m, n, d, &ex4);
	sw = malloc(ws * sizeof(float));
	for (size_t r = 0; r < m; r++)
	{
		if (mo == POINCARE)
			ball_point(Q + r * d, d, c, sqrt(0.5 + 0.4 * urand()));
		else
			for (size_t j = 0; j < d; j++)
				Q[r * d + j] = (float) (nrand() * 30.0 / sqrt(c * d));
	}
	for (size_t i = 0; i < n; i++)
	{
		int			far = !(mixed && i < 512);

		if (mo == POINCARE)
		{
			ball_point(K + i * d, d, c, far ? sqrt(0.8 + 0.2 * urand()) : 0.5 * urand());
			ball_point(V + i * dv, dv, c, far ? sqrt(1.0 - 1e-6 * urand() - 0.19 * (i % 2)) : 0.5 * urand());
		}
		else
		{
			for (size_t j = 0; j < d; j++)
				K[i * d + j] = far && i % 4 ? (float) (Q[(i % m) * d + j] * (1.0 + 1e-3 * (double) (i % 97)))
					: (float) (nrand() * 30.0 / sqrt(c * d));
			for (size_t j = 0; j < dv; j++)
				V[i * dv + j] = (float) (nrand() * 30.0 / sqrt(c * dv));
		}
	}
	snprintf(what, sizeof what, "heavy%s n=%zu d=%zu dv=%zu", mixed ? " mixed" : "", n, d, dv);
	CHECK_STATUS(attention(mo, Q, m, K, V, n, d, dv, (float) c, out, s, NULL), RV_OK);
	check_output(mo, Q, m, K, V, n, d, dv, c, out, what);
	CHECK_STATUS(attention(mo, Q, m, K, V, n, d, dv, (float) c, out4, s, &ex4), RV_OK);
	same &= memcmp(out, out4, m * dv * sizeof(float)) == 0;
	for (size_t r = 0; r < m; r++)
	{
		CHECK_STATUS(attention(mo, Q + r * d, 1, K, V, n, d, dv, (float) c, one, s1, NULL), RV_OK);
		same &= memcmp(one, out + r * dv, dv * sizeof(float)) == 0;
	}
	CHECK(same, "%s %s: batch rows, one-query calls and threads differ", model_names[mo], what);
	same = 1;
	CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(&p, Q, m, K, n, d, W, sw, &ex4)
				 : rv_lorentz_weights(&p, Q, m, K, n, d, W, sw, &ex4), RV_OK);
	for (size_t r = 0; r < m; r++)
	{
		CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(&p, Q + r * d, 1, K, n, d, W1, sw, NULL)
					 : rv_lorentz_weights(&p, Q + r * d, 1, K, n, d, W1, sw, NULL), RV_OK);
		same &= memcmp(W1, W + r * n, n * sizeof(float)) == 0;
	}
	CHECK(same, "%s %s: weights of a batch row differ from the one-query call", model_names[mo], what);
	if (mo == POINCARE)
		CHECK_STATUS(rv_ball_check(out, m, dv, (float) c, NULL), RV_OK);
	free(Q);
	free(K);
	free(V);
	free(out);
	free(out4);
	free(one);
	free(W);
	free(W1);
	free(s);
	free(s1);
	free(sw);
}

/* 1 vs 2 vs 4 threads, m = 1 and m > 1: bit-identical */
static void
test_threads(model mo)
{
	static const size_t ms[] = {1, 2, 7};
	size_t		n = 9000, d = 24, dv = 20;
	float	   *K = points(mo, n, d, 1.0, 2.0);
	float	   *V = points(mo, n, dv, 1.0, 2.0);
	float	   *Q = points(mo, 7, d, 1.0, 2.0);
	float	   *ref = malloc(7 * dv * sizeof(float));
	float	   *out = malloc(7 * dv * sizeof(float));
	rv_attention_params p;

	rv_attention_params_init(&p, mo == POINCARE ? RV_ATTN_POINCARE : RV_ATTN_LORENTZ);
	for (size_t a = 0; a < sizeof ms / sizeof ms[0]; a++)
		for (int t = 1; t <= 4; t *= 2)
		{
			size_t		m = ms[a];
			rv_exec		ex = {.max_threads = t, .min_work_per_thread = 1};
			float	   *s = scratch_for(m, n, d, dv, &ex);
			float	   *W = malloc(m * n * sizeof(float));
			float	   *W1 = malloc(m * n * sizeof(float));
			size_t		ws = mo == POINCARE ? rv_poincare_weights_scratch(&p, m, n, d, &ex)
				: rv_lorentz_weights_scratch(&p, m, n, d, &ex);
			float	   *s2 = malloc(ws * sizeof(float));

			CHECK_STATUS(attention(mo, Q, m, K, V, n, d, dv, 1.0f, t == 1 ? ref : out, s, &ex), RV_OK);
			CHECK(t == 1 || memcmp(ref, out, m * dv * sizeof(float)) == 0,
				  "%s m=%zu: %d threads differ from 1", model_names[mo], m, t);
			CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(&p, Q, m, K, n, d, W, s2, &ex)
						 : rv_lorentz_weights(&p, Q, m, K, n, d, W, s2, &ex), RV_OK);
			CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(&p, Q, m, K, n, d, W1, s2, NULL)
						 : rv_lorentz_weights(&p, Q, m, K, n, d, W1, s2, NULL), RV_OK);
			CHECK(memcmp(W, W1, m * n * sizeof(float)) == 0, "%s weights m=%zu: %d threads differ",
				  model_names[mo], m, t);
			free(s);
			free(s2);
			free(W);
			free(W1);
		}
	free(K);
	free(V);
	free(Q);
	free(ref);
	free(out);
}

static atomic_int cancel_polls;
static int	cancel_after;

static int
cancel_cb(void *arg)
{
	(void) arg;
	return atomic_fetch_add(&cancel_polls, 1) + 1 >= cancel_after;
}

static void
test_cancel(model mo)
{
	size_t		n = 5 * RV_CANCEL_BLOCK, d = 8, dv = 8;
	float	   *K = points(mo, n, d, 1.0, 1.0);
	float	   *V = points(mo, n, dv, 1.0, 1.0);
	float	   *Q = points(mo, 4, d, 1.0, 1.0);
	float	   *out = malloc(4 * dv * sizeof(float));

	for (int after = 1; after <= 3; after++)
		for (int threads = 1; threads <= 4; threads *= 4)
			for (size_t m = 1; m <= 4; m += 3)
			{
				rv_exec		ex = {.max_threads = threads, .min_work_per_thread = 1, .cancel = cancel_cb};
				float	   *s = scratch_for(m, n, d, dv, &ex);

				cancel_after = after;
				atomic_store(&cancel_polls, 0);
				CHECK_STATUS(attention(mo, Q, m, K, V, n, d, dv, 1.0f, out, s, &ex), RV_ERR_CANCELLED);
				cancel_after = 1 << 30;
				CHECK_STATUS(attention(mo, Q, m, K, V, n, d, dv, 1.0f, out, s, &ex), RV_OK);
				free(s);
			}
	/* cancelled in the value pass: after the key blocks' polls */
	{
		rv_exec		ex = {.max_threads = 1, .cancel = cancel_cb};
		float	   *s = scratch_for(1, n, d, dv, &ex);

		cancel_after = 7;
		atomic_store(&cancel_polls, 0);
		CHECK_STATUS(attention(mo, Q, 1, K, V, n, d, dv, 1.0f, out, s, &ex), RV_ERR_CANCELLED);
		free(s);
	}
	free(K);
	free(V);
	free(Q);
	free(out);
}

static void
test_errors(model mo)
{
	size_t		n = 20, d = 6, dv = 4;
	float	   *K = points(mo, n, d, 1.0, 1.0);
	float	   *V = points(mo, n, dv, 1.0, 1.0);
	float	   *Q = points(mo, 3, d, 1.0, 1.0);
	float	   *out = malloc(3 * dv * sizeof(float));
	size_t		s1 = rv_hyperbolic_attention_scratch(1, n, d, dv, NULL),
				s3 = rv_hyperbolic_attention_scratch(3, n, d, dv, NULL);
	float	   *s = malloc((s1 > s3 ? s1 : s3) * sizeof(float));
	float	   *s_edge = scratch_for(1, 1, 7, 4, NULL);
	float		bad_c[] = {0.0f, -0.0f, -1.0f, NAN, INFINITY, -INFINITY};
	rv_attention_params p;
	float		l;
	float		W[3 * 20];
	float	   *ws;

	rv_attention_params_init(&p, mo == POINCARE ? RV_ATTN_POINCARE : RV_ATTN_LORENTZ);
	ws = malloc((mo == POINCARE ? rv_poincare_weights_scratch(&p, 3, n, d, NULL)
				 : rv_lorentz_weights_scratch(&p, 3, n, d, NULL)) * sizeof(float));
	for (size_t i = 0; i < sizeof bad_c / sizeof bad_c[0]; i++)
	{
		p.curvature = bad_c[i];
		CHECK_STATUS(attention(mo, Q, 3, K, V, n, d, dv, bad_c[i], out, s, NULL), RV_ERR_CURVATURE);
		CHECK_STATUS(attention(mo, Q, 0, K, V, n, d, dv, bad_c[i], out, s, NULL), RV_ERR_CURVATURE);
		CHECK_STATUS(rv_ball_check(Q, 3, d, bad_c[i], NULL), RV_ERR_CURVATURE);
		CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(&p, Q, 3, K, n, d, W, ws, NULL)
					 : rv_lorentz_weights(&p, Q, 3, K, n, d, W, ws, NULL), RV_ERR_CURVATURE);
		CHECK_STATUS(mo == POINCARE ? rv_poincare_logit(&p, Q, K, d, &l)
					 : rv_lorentz_logit(&p, Q, K, d, &l), RV_ERR_CURVATURE);
		CHECK((mo == POINCARE ? rv_poincare_weights_scratch(&p, 3, n, d, NULL)
			   : rv_lorentz_weights_scratch(&p, 3, n, d, NULL)) == (size_t) -1,
			  "weights scratch accepts curvature %g", bad_c[i]);
	}
	p.curvature = 1.0f;
	/* sizes, NULL, m = 0 */
	CHECK_STATUS(attention(mo, Q, 3, K, V, n, 0, dv, 1.0f, out, s, NULL), RV_ERR_EMPTY_QUERY);
	CHECK_STATUS(attention(mo, Q, 3, K, V, 0, d, dv, 1.0f, out, s, NULL), RV_ERR_NO_KEYS);
	CHECK_STATUS(attention(mo, Q, 3, K, V, n, d, 0, 1.0f, out, s, NULL), RV_ERR_EMPTY_VALUES);
	CHECK_STATUS(attention(mo, Q, 0, K, V, n, d, dv, 1.0f, NULL, NULL, NULL), RV_OK);
	CHECK_STATUS(attention(mo, NULL, 3, K, V, n, d, dv, 1.0f, out, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(attention(mo, Q, 3, NULL, V, n, d, dv, 1.0f, out, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(attention(mo, Q, 3, K, NULL, n, d, dv, 1.0f, out, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(attention(mo, Q, 3, K, V, n, d, dv, 1.0f, NULL, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(attention(mo, Q, 3, K, V, n, d, dv, 1.0f, out, NULL, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(attention(mo, Q, 3, K, V, (size_t) -1 / 2, d, dv, 1.0f, out, s, NULL), RV_ERR_SIZE_OVERFLOW);
	CHECK(rv_hyperbolic_attention_scratch(3, (size_t) -1 / 4, d, dv, NULL) == (size_t) -1, "scratch overflow");
	CHECK(rv_hyperbolic_attention_scratch(1, (size_t) -1 - 100, d, dv, NULL) == (size_t) -1, "scratch overflow m=1");
	CHECK((mo == POINCARE ? rv_poincare_weights_scratch(NULL, 1, n, d, NULL)
		   : rv_lorentz_weights_scratch(NULL, 1, n, d, NULL)) == (size_t) -1, "weights scratch NULL params");
	CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(&p, Q, 3, K, 0, d, W, ws, NULL)
				 : rv_lorentz_weights(&p, Q, 3, K, 0, d, W, ws, NULL), RV_OK);
	CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(&p, Q, 0, K, n, d, W, ws, NULL)
				 : rv_lorentz_weights(&p, Q, 0, K, n, d, W, ws, NULL), RV_OK);
	CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(&p, Q, 3, K, n, 0, W, ws, NULL)
				 : rv_lorentz_weights(&p, Q, 3, K, n, 0, W, ws, NULL), RV_ERR_EMPTY_QUERY);
	CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(NULL, Q, 3, K, n, d, W, ws, NULL)
				 : rv_lorentz_weights(NULL, Q, 3, K, n, d, W, ws, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(&p, Q, 3, NULL, n, d, W, ws, NULL)
				 : rv_lorentz_weights(&p, Q, 3, NULL, n, d, W, ws, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(&p, Q, 3, K, n, d, W, NULL, NULL)
				 : rv_lorentz_weights(&p, Q, 3, K, n, d, W, NULL, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(mo == POINCARE ? rv_poincare_logit(&p, Q, K, 0, &l)
				 : rv_lorentz_logit(&p, Q, K, 0, &l), RV_ERR_EMPTY_QUERY);
	CHECK_STATUS(mo == POINCARE ? rv_poincare_logit(&p, NULL, K, d, &l)
				 : rv_lorentz_logit(&p, NULL, K, d, &l), RV_ERR_NULL_ARG);
	CHECK_STATUS(mo == POINCARE ? rv_poincare_logit(&p, Q, K, d, NULL)
				 : rv_lorentz_logit(&p, Q, K, d, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(mo == POINCARE ? rv_poincare_logit(NULL, Q, K, d, &l)
				 : rv_lorentz_logit(NULL, Q, K, d, &l), RV_ERR_NULL_ARG);

	/* NaN / Infinity in a query, a key, a value (each m = 1 and m = 3) */
	{
		float	   *mats[3] = {Q, K, V};
		size_t		rowlen[3] = {d, d, dv};
		float		specials[3] = {NAN, INFINITY, -INFINITY};

		for (int which = 0; which < 3; which++)
			for (int sp = 0; sp < 3; sp++)
				for (size_t m = 1; m <= 3; m += 2)
				{
					size_t		row = which == 0 ? m - 1 : 13,
								pos = row * rowlen[which] + 1;
					float		saved = mats[which][pos];

					mats[which][pos] = specials[sp];
					CHECK_STATUS(attention(mo, Q, m, K, V, n, d, dv, 1.0f, out, s, NULL), RV_ERR_NONFINITE);
					if (which < 2)
					{
						CHECK_STATUS(mo == POINCARE ? rv_poincare_weights(&p, Q, m, K, n, d, W, ws, NULL)
									 : rv_lorentz_weights(&p, Q, m, K, n, d, W, ws, NULL), RV_ERR_NONFINITE);
						CHECK_STATUS(mo == POINCARE ? rv_poincare_logit(&p, Q + (m - 1) * d, K + (which ? 13 * d : 0), d, &l)
									 : rv_lorentz_logit(&p, Q + (m - 1) * d, K + (which ? 13 * d : 0), d, &l),
									 RV_ERR_NONFINITE);
					}
					if (mo == POINCARE)
					{
						size_t		bad = 99;

						CHECK_STATUS(rv_ball_check(mats[which], which ? n : 3, rowlen[which], 1.0f, &bad),
									 RV_ERR_NONFINITE);
						CHECK(bad == row, "ball_check NaN row %zu, want %zu", bad, row);
					}
					mats[which][pos] = saved;
				}
	}

	/* outside the ball (Poincare): a query, a key row, a value row */
	if (mo == POINCARE)
	{
		float	   *mats[3] = {Q, K, V};
		size_t		rowlen[3] = {d, d, dv};
		size_t		bad;

		for (int which = 0; which < 3; which++)
			for (int how = 0; how < 2; how++)
				for (size_t m = 1; m <= 3; m += 2)
				{
					size_t		row = which == 0 ? m - 1 : 11;
					float	   *x = mats[which] + row * rowlen[which];
					float	   *saved = malloc(rowlen[which] * sizeof(float));

					memcpy(saved, x, rowlen[which] * sizeof(float));
					/* how 0: far outside; how 1: c |x|^2 == 1 exactly */
					memset(x, 0, rowlen[which] * sizeof(float));
					x[0] = how ? 1.0f : 3.0f;
					if (which > 0)	/* a later bad row: the first one is reported */
						memset(mats[which] + 17 * rowlen[which], 0, sizeof(float)), mats[which][17 * rowlen[which]] = 5.0f;
					CHECK_STATUS(attention(mo, Q, m, K, V, n, d, dv, 1.0f, out, s, NULL), RV_ERR_OUTSIDE_BALL);
					bad = 99;
					CHECK_STATUS(rv_ball_check(mats[which], which ? n : m, rowlen[which], 1.0f, &bad),
								 RV_ERR_OUTSIDE_BALL);
					CHECK(bad == row, "ball_check row %zu, want %zu", bad, row);
					if (which < 2)
					{
						CHECK_STATUS(rv_poincare_weights(&p, Q, m, K, n, d, W, ws, NULL), RV_ERR_OUTSIDE_BALL);
						CHECK_STATUS(rv_poincare_logit(&p, Q + (m - 1) * d, K + (which ? 11 * d : 0), d, &l),
									 RV_ERR_OUTSIDE_BALL);
					}
					memcpy(x, saved, rowlen[which] * sizeof(float));
					if (which > 0)
						ball_point(mats[which] + 17 * rowlen[which], rowlen[which], 1.0, 0.5);
					free(saved);
				}
		/* the check agrees with the driver at the edge, for points as close as floats get */
		CHECK_STATUS(rv_ball_check(K, n, d, 1.0f, NULL), RV_OK);
		CHECK_STATUS(rv_ball_check(K, 0, d, 1.0f, NULL), RV_OK);
		CHECK_STATUS(rv_ball_check(NULL, 3, d, 1.0f, NULL), RV_ERR_NULL_ARG);
		CHECK_STATUS(rv_ball_check(K, 3, 0, 1.0f, NULL), RV_ERR_EMPTY_QUERY);
		for (int trial = 0; trial < 200; trial++)
		{
			size_t		dd = 1 + trial % 7;
			float		x[7];
			double		cc = trial % 3 == 0 ? 1.0 : trial % 3 == 1 ? 1e-4 : 1e4;
			rv_status	want;

			ball_point(x, dd, cc, 1.0);
			/* nudge outwards until the boundary is crossed, checking each step */
			for (int step = 0; step < 8; step++)
			{
				float		o[4];

				want = rv_ball_check(x, 1, dd, (float) cc, NULL);
				memcpy(K, x, dd * sizeof(float));
				CHECK_STATUS(rv_poincare_attention(x, 1, K, K, 1, dd, dd < 4 ? dd : 4, (float) cc, o, s_edge, NULL) ==
							 RV_ERR_OUTSIDE_BALL ? RV_ERR_OUTSIDE_BALL : RV_OK, want);
				x[step % dd] = nextafterf(x[step % dd], x[step % dd] >= 0 ? INFINITY : -INFINITY);
			}
		}
	}
	free(K);
	free(V);
	free(Q);
	free(out);
	free(s);
	free(s_edge);
	free(ws);
}

/* the float64 reference of the Lorentz distance against long double, where that is exact enough */
static void
test_reference(void)
{
	for (int t = 0; t < 100; t++)
	{
		size_t		d = 1 + t % 5;
		float		q[5], k[5];
		double		c = t % 2 ? 1.0 : 0.01;
		long double qq = 0, kk = 0, qk = 0;

		for (size_t j = 0; j < d; j++)
		{
			q[j] = nrand() * 3.0f;
			k[j] = nrand() * 3.0f;
			qq += (long double) q[j] * q[j];
			kk += (long double) k[j] * k[j];
			qk += (long double) q[j] * k[j];
		}
		{
			long double q0 = sqrtl(1.0L / c + qq), k0 = sqrtl(1.0L / c + kk);
			double		ld = (double) (acoshl(c * (q0 * k0 - qk)) / sqrtl(c));

			CHECK(fabs(ref_dist(LORENTZ, q, k, d, c) - ld) <= 1e-9 * ld + 1e-12,
				  "lorentz reference %.17g vs long double %.17g", ref_dist(LORENTZ, q, k, d, c), ld);
		}
	}
}

int
main(void)
{
	test_reference();
	FOR_EACH_BACKEND
	{
		for (int mo = 0; mo < 2; mo++)
		{
			worst_ratio = 0.0;
			test_forward_tails((model) mo);
			test_weights_logits((model) mo);
			test_hard((model) mo);
			if (mo == POINCARE)
				test_output_inside();
			test_heavy((model) mo, 0);
			test_heavy((model) mo, 1);
			printf("%s %s: worst error %.3g of the bar (%s)\n", current_backend, model_names[mo],
				   worst_ratio, worst_what);
			test_threads((model) mo);
			test_cancel((model) mo);
			test_errors((model) mo);
		}
	}
	return test_summary();
}
