/*
 * kernels_scalar.c: the portable reference table (plain C11, no intrinsics).
 *
 * Every SIMD table is tested against this one.  It uses the same exp
 * algorithm (rv_expf_serial) as the vector tables, so ISAs differ only by
 * summation order and FMA rounding.
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rv_kernels.h"

/* 2^e for e in [-126, 127], built in the exponent bits */
static inline float
pow2i(int32_t e)
{
	uint32_t	bits = (uint32_t) (e + 127) << 23;
	float		f;

	memcpy(&f, &bits, sizeof f);
	return f;
}

float
rv_expf_serial(float x)
{
	float		k, r, p;
	int32_t		ki, k1;

	if (!(x <= RV_EXP_HI))
		return x + INFINITY;	/* +Infinity, or NaN stays NaN */
	if (x < RV_EXP_LO)
		return 0.0f;
	/* round to nearest even without libm: add and subtract 1.5 * 2^23 */
	k = (x * RV_LOG2E + RV_ROUND_MAGIC) - RV_ROUND_MAGIC;
	r = x - k * RV_LN2_HI;
	r = r - k * RV_LN2_LO;
	p = RV_EXP_P5;
	p = p * r + RV_EXP_P4;
	p = p * r + RV_EXP_P3;
	p = p * r + RV_EXP_P2;
	p = p * r + RV_EXP_P1;
	p = p * r + RV_EXP_P0;
	p = p * (r * r) + r + 1.0f;
	ki = (int32_t) k;
	k1 = ki >> 1;
	return (p * pow2i(k1)) * pow2i(ki - k1);
}

static float
scores_serial(const float *q, const float *K, size_t n, size_t d, size_t ldk,
			  float scale, float *s)
{
	float		m = -INFINITY;

	for (size_t i = 0; i < n; i++)
	{
		const float *k = K + i * ldk;
		float		a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
		size_t		j = 0;

		for (; j + 4 <= d; j += 4)
		{
			a0 += q[j] * k[j];
			a1 += q[j + 1] * k[j + 1];
			a2 += q[j + 2] * k[j + 2];
			a3 += q[j + 3] * k[j + 3];
		}
		for (; j < d; j++)
			a0 += q[j] * k[j];
		s[i] = ((a0 + a1) + (a2 + a3)) * scale;
		if (s[i] > m)
			m = s[i];
	}
	return m;
}

static void
weighted_sum_serial(const float *w, const float *V, size_t n, size_t dv,
					size_t ldv, float beta, float *out)
{
	if (beta == 0.0f)
		memset(out, 0, dv * sizeof(float));
	else if (beta != 1.0f)
		for (size_t j = 0; j < dv; j++)
			out[j] *= beta;
	for (size_t i = 0; i < n; i++)
	{
		const float *v = V + i * ldv;
		float		wi = w[i];

		for (size_t j = 0; j < dv; j++)
			out[j] += wi * v[j];
	}
}

static void
scale_serial(float *x, size_t n, float a)
{
	for (size_t i = 0; i < n; i++)
		x[i] *= a;
}

static int
all_finite_serial(const float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
		if (!isfinite(x[i]))
			return 0;
	return 1;
}

static void
exp_serial(const float *x, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = rv_expf_serial(x[i]);
}

/* the max, and *bad = 1 on NaN or +Infinity: !(x < +Infinity) is exactly those */
static float
max_checked_serial(const float *x, size_t n, int *bad)
{
	float		m = -INFINITY;
	int			b = 0;

	for (size_t i = 0; i < n; i++)
	{
		b |= !(x[i] < INFINITY);
		if (x[i] > m)
			m = x[i];
	}
	*bad = b;
	return m;
}

/* the one partial sum of this table is a double (see RV_SUM_BLOCK) */
static float
exp_sum_to_serial(const float *x, size_t n, float m, float *out)
{
	double		sum = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		out[i] = rv_expf_serial(x[i] - m);
		sum += out[i];
	}
	return (float) sum;
}

/* ==== primitives of linear.c, gat.c, sparse.c, moe.c ==== */

/* phi(x) = elu(x) + 1; x - x is 0 for finite x and NaN otherwise */
static void
phi_serial(const float *x, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++)
	{
		float		v = x[i];

		out[i] = v >= 0.0f ? v + 1.0f : rv_expf_serial(v) + (v - v);
	}
}

static float
leaky_relu_serial(const float *x, size_t n, float bias, float slope,
				  float *out, int *bad)
{
	float		m = -INFINITY;
	int			b = 0;

	for (size_t i = 0; i < n; i++)
	{
		float		y = x[i] + bias;

		y = y > 0.0f ? y : slope * y;
		out[i] = y;
		b |= !(y - y == 0.0f);
		if (y > m)
			m = y;
	}
	*bad = b;
	return m;
}

/* ==== end of linear, gat, sparse, moe ==== */

/* ==== primitives of hyperbolic.c ==== */

float
rv_log1pf_serial(float x)
{
	float		u, m, f, kf, z, p, y, r, corr;
	uint32_t	ix;

	if (!(x > -1.0f && x < INFINITY))
		return x == -1.0f ? -INFINITY : (x > -1.0f ? x : NAN);
	u = 1.0f + x;
	memcpy(&ix, &u, sizeof ix);
	ix += RV_LOG1P_BIAS;
	kf = (float) ((int32_t) (ix >> 23) - 127);
	ix = (ix & 0x007fffffu) + RV_LOG1P_SQRTHF_BITS;
	memcpy(&m, &ix, sizeof m);
	f = m - 1.0f;
	corr = (x - (u - 1.0f)) / u;
	z = f * f;
	p = RV_LOG1P_P8;
	p = p * f + RV_LOG1P_P7;
	p = p * f + RV_LOG1P_P6;
	p = p * f + RV_LOG1P_P5;
	p = p * f + RV_LOG1P_P4;
	p = p * f + RV_LOG1P_P3;
	p = p * f + RV_LOG1P_P2;
	p = p * f + RV_LOG1P_P1;
	p = p * f + RV_LOG1P_P0;
	y = p * f * z;
	y = y + kf * RV_LN2_LO;
	y = y - 0.5f * z;
	y = y + corr;
	r = f + y;
	return r + kf * RV_LN2_HI;
}

float
rv_distf_serial(float X)
{
	float		y = X < RV_DIST_BIG ? X + sqrtf(X * X + X) : X + X;

	return rv_log1pf_serial(y + y);
}

/* RV_SQNORM's lane order: 8 double lanes, combined pairwise as documented */
static double
sqnorm_lanes_reduce(const double *acc)
{
	return ((acc[0] + acc[4]) + (acc[2] + acc[6])) + ((acc[1] + acc[5]) + (acc[3] + acc[7]));
}

static double
sqnorm_row_serial(const float *x, size_t d)
{
	double		acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};

	for (size_t j = 0; j < d; j++)
		acc[j % 8] += (double) x[j] * x[j];
	return sqnorm_lanes_reduce(acc);
}

static void
sqnorm_rows_serial(const float *X, size_t n, size_t d, size_t ldx, double *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = sqnorm_row_serial(X + i * ldx, d);
}

/*
 * RV_SQNORM_F32 over one row with 8 float lanes (the tree of the AVX2
 * table): the terms k_j^2, or with pk the terms (q_j - k_j)(q_j + k_j).
 */
static float
sq_f32_row_serial(const float *q, const float *k, size_t d, int pk)
{
	double		total = 0.0;

	for (size_t jb = 0; jb < d; jb += RV_SQNORM_F32_BLOCK)
	{
		size_t		je = d - jb < RV_SQNORM_F32_BLOCK ? d : jb + RV_SQNORM_F32_BLOCK;
		float		acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};

		for (size_t j = jb; j < je; j++)
			acc[(j - jb) % 8] += pk ? (q[j] - k[j]) * (q[j] + k[j]) : k[j] * k[j];
		total += (double) (((acc[0] + acc[2]) + (acc[1] + acc[3])) +
						   ((acc[4] + acc[6]) + (acc[5] + acc[7])));
	}
	return (float) total;
}

static void
sqnorm_rows_f32_serial(const float *X, size_t n, size_t d, size_t ldx, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = sq_f32_row_serial(NULL, X + i * ldx, d, 0);
}

static void
sqdist_rows_serial(const float *q, const float *K, size_t n, size_t d,
				   size_t ldk, float *d2, float *kk, float *pk, double *kd)
{
	for (size_t i = 0; i < n; i++)
	{
		const float *k = K + i * ldk;
		float		a0 = 0.0f, a1 = 0.0f, a2 = 0.0f, a3 = 0.0f;
		size_t		j = 0;

		for (; j + 4 <= d; j += 4)
		{
			float		e0 = q[j] - k[j], e1 = q[j + 1] - k[j + 1],
						e2 = q[j + 2] - k[j + 2], e3 = q[j + 3] - k[j + 3];

			a0 += e0 * e0;
			a1 += e1 * e1;
			a2 += e2 * e2;
			a3 += e3 * e3;
		}
		for (; j < d; j++)
			a0 += (q[j] - k[j]) * (q[j] - k[j]);
		d2[i] = (a0 + a1) + (a2 + a3);
		if (kk)
			kk[i] = sq_f32_row_serial(NULL, k, d, 0);
		if (pk)
			pk[i] = sq_f32_row_serial(q, k, d, 1);
		if (kd)
			kd[i] = sqnorm_row_serial(k, d);
	}
}

static size_t
ball_gaps_serial(const float *x, size_t n, float c, float xmax, float *a)
{
	size_t		flagged = 0;

	for (size_t i = 0; i < n; i++)
	{
		if (x[i] <= xmax)
			a[i] = (float) (1.0 - (double) c * (double) x[i]);
		else
		{
			a[i] = NAN;
			flagged++;
		}
	}
	return flagged;
}

static void
ball_gaps_f64_serial(const double *kd, size_t n, float c, float *a, float *xf)
{
	for (size_t i = 0; i < n; i++)
	{
		double		g = 1.0 - (double) c * kd[i];

		a[i] = g > 0.0 ? (float) g : NAN;
		if (xf)
			xf[i] = (float) kd[i];
	}
}

static float
poincare_logits_serial(const float *d2, const float *a, size_t n, float aq,
					   float c, float *s)
{
	float		rc = (float) (1.0 / sqrt((double) c));
	float		m = -INFINITY;

	for (size_t i = 0; i < n; i++)
	{
		float		X = c * d2[i] / (aq * a[i]);

		s[i] = a[i] > 0.0f ? 0.0f - rv_distf_serial(X) * rc : NAN;
		if (s[i] > m)
			m = s[i];
	}
	return m;
}

static void
poincare_log0_serial(const float *vv, const float *a, size_t n, float c, float *f)
{
	for (size_t i = 0; i < n; i++)
	{
		float		r = sqrtf(c * vv[i]);
		float		ai = a[i];

		if (!(ai > 0.0f))
			f[i] = NAN;
		else if (r == 0.0f)
			f[i] = 1.0f;
		else
			f[i] = rv_log1pf_serial(2.0f * r * (1.0f + r) / ai) / (2.0f * r);
	}
}

static void
mul_serial(const float *x, const float *y, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = x[i] * y[i];
}

static size_t
lorentz_chord_serial(const float *d2, const float *pk, size_t n, double qq,
					 float c, float *t)
{
	double		ic = 1.0 / (double) c;
	float		q0 = (float) sqrt(ic + qq),
				q0sq = (float) (ic + qq);
	size_t		flagged = 0;

	for (size_t i = 0; i < n; i++)
	{
		float		k0 = sqrtf(q0sq - pk[i]);
		float		den = q0 + k0;
		float		ti = pk[i] / den;
		float		sd = sqrtf(d2[i]);
		float		p = RV_CHORD_G * sd + RV_CHORD_UH * den;
		float		kb = p + RV_CHORD_U3 * k0;
		float		y = d2[i] - ti * ti;
		float		lhs = k0 * (RV_CHORD_A * fabsf(ti) * sd + RV_CHORD_C * d2[i] - (float) RV_HYP_TOL * y) +
			RV_CHORD_D * kb * (ti * ti);

		if (k0 < INFINITY && kb <= RV_CHORD_BMAX * k0 && lhs <= 0.0f)
			t[i] = ti;
		else
		{
			t[i] = NAN;
			flagged++;
		}
	}
	return flagged;
}

static void
lorentz_chord_f64_serial(const double *kd, size_t n, double qq, float c, float *t)
{
	double		ic = 1.0 / (double) c,
				q0 = sqrt(ic + qq);

	for (size_t i = 0; i < n; i++)
		t[i] = (float) ((qq - kd[i]) / (q0 + sqrt(ic + kd[i])));
}

static float
lorentz_logits_serial(const float *d2, const float *t, size_t n, float c,
					  float *s)
{
	float		qc = (float) ((double) c / 4.0),
				rc = (float) (1.0 / sqrt((double) c));
	float		m = -INFINITY;

	for (size_t i = 0; i < n; i++)
	{
		float		y = d2[i] - t[i] * t[i];

		if (d2[i] > RV_LORENTZ_ILL * y)
			s[i] = INFINITY;
		else
			s[i] = 0.0f - rv_distf_serial(qc * (y < 0.0f ? 0.0f : y)) * rc;
		if (s[i] > m)
			m = s[i];
	}
	return m;
}

/* 4 double lanes (i % 4), combined as (l0 + l2) + (l1 + l3) */
static double
lorentz_time_serial(const float *w, const float *vv, size_t n, float c)
{
	float		icf = (float) (1.0 / (double) c);
	double		acc[4] = {0.0, 0.0, 0.0, 0.0};

	for (size_t i = 0; i < n; i++)
		acc[i % 4] += (double) w[i] * (double) sqrtf(icf + vv[i]);
	return (acc[0] + acc[2]) + (acc[1] + acc[3]);
}

static void
weighted_sum_sqnorm_serial(const float *w, const float *V, size_t n, size_t dv,
						   size_t ldv, float *out, float *vv)
{
	for (size_t i = 0; i < n; i++)
	{
		const float *v = V + i * ldv;

		for (size_t j = 0; j < dv; j++)
			out[j] += w[i] * v[j];
	}
	if (vv)
		sqnorm_rows_f32_serial(V, n, dv, ldv, vv);
}

static void
weighted_sum_f64_serial(const float *w, const float *V, size_t n, size_t dv,
						size_t ldv, double *out)
{
	for (size_t i = 0; i < n; i++)
	{
		const float *v = V + i * ldv;
		double		wi = w[i];

		for (size_t j = 0; j < dv; j++)
			out[j] += wi * v[j];
	}
}

static void
log1p_serial(const float *x, size_t n, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = rv_log1pf_serial(x[i]);
}

/* ==== end of hyperbolic ==== */

/* ==== primitives of cross.c (cross, sliding) ==== */

static int
cross_scores_serial(const float *Qt, size_t ldq, const float *K, size_t ldk,
					size_t nk, size_t dh, size_t w, float scale, float *S,
					size_t lds)
{
	int			finite = 1;

	for (size_t j = 0; j < nk; j++)
		for (size_t c = 0; c < w; c++)
		{
			size_t		k0 = 0;

			do
			{
				size_t		k1 = dh - k0 < RV_CROSS_DOT_BLOCK ? dh : k0 + RV_CROSS_DOT_BLOCK;
				float		t = 0.0f;

				for (size_t k = k0; k < k1; k++)
					t += K[j * ldk + k] * Qt[k * ldq + c];
				S[j * lds + c] = k0 == 0 ? t * scale : S[j * lds + c] + t * scale;
				k0 = k1;
			} while (k0 < dh);
			finite &= isfinite(S[j * lds + c]) != 0;
		}
	return finite;
}

static void
cross_exp_serial(float *S, size_t lds, size_t nk, size_t w, float *m,
				 float *l)
{
	for (size_t c = 0; c < w; c++)
	{
		float		mx = m[c],
					b,
					sum = 0.0f;

		for (size_t j = 0; j < nk; j++)
			if (S[j * lds + c] > mx)
				mx = S[j * lds + c];
		m[c] = mx;
		b = mx == -INFINITY ? 0.0f : mx;
		for (size_t j = 0; j < nk; j++)
		{
			float		e = rv_expf_serial(S[j * lds + c] - b);

			S[j * lds + c] = e;
			sum += e;
		}
		l[c] = sum;
	}
}

static void
cross_pv_serial(const float *P, size_t ldp, const float *V, size_t ldv,
				size_t nk, size_t rows, size_t dv, const float *alpha,
				float *O, size_t ldo)
{
	for (size_t r = 0; r < rows; r++)
	{
		float	   *o = O + r * ldo;

		if (alpha[r] == 0.0f)
			memset(o, 0, dv * sizeof(float));
		else
			for (size_t c = 0; c < dv; c++)
				o[c] *= alpha[r];
		for (size_t j = 0; j < nk; j++)
		{
			float		p = P[j * ldp + r];
			const float *v = V + j * ldv;

			for (size_t c = 0; c < dv; c++)
				o[c] += p * v[c];
		}
	}
}

/* ==== end of cross ==== */

/* ==== primitives of the driver sums ==== */

static void
accumulate_f64_serial(double *acc, double a, const float *x, size_t n)
{
	if (a == 1.0)				/* the same bits without the product */
		for (size_t i = 0; i < n; i++)
			acc[i] = acc[i] + (double) x[i];
	else
		for (size_t i = 0; i < n; i++)
			acc[i] = a * acc[i] + (double) x[i];
}

static void
finish_f64_serial(const double *acc, double a, const float *x, double mul,
				  size_t n, float *out)
{
	for (size_t i = 0; i < n; i++)
		out[i] = (float) ((a * acc[i] + (double) x[i]) * mul);
}

/* blocks of RV_VALUE_BLOCK consecutive rows, each summed into part, then added into acc */
static void
weighted_sum_acc_serial(const float *w, const float *V, size_t n, size_t dv,
						size_t ldv, float *part, double *acc)
{
	for (size_t b = 0; b < n; b += RV_VALUE_BLOCK)
	{
		size_t		len = n - b < RV_VALUE_BLOCK ? n - b : RV_VALUE_BLOCK;

		weighted_sum_serial(w + b, V + b * ldv, len, dv, ldv, 0.0f, part);
		accumulate_f64_serial(acc, 1.0, part, dv);
	}
}

/* ==== end of driver sums ==== */

const rv_kernels rv_kernels_scalar = {
	.backend = RV_BACKEND_SCALAR,
	.scores = scores_serial,
	.weighted_sum = weighted_sum_serial,
	.scale = scale_serial,
	.all_finite = all_finite_serial,
	.exp = exp_serial,
	.max_checked = max_checked_serial,
	.exp_sum_to = exp_sum_to_serial,
	/* linear, gat, sparse, moe */
	.phi = phi_serial,
	.leaky_relu = leaky_relu_serial,

	/* hyperbolic */
	.sqnorm_rows = sqnorm_rows_serial,
	.sqnorm_rows_f32 = sqnorm_rows_f32_serial,
	.sqdist_rows = sqdist_rows_serial,
	.ball_gaps = ball_gaps_serial,
	.ball_gaps_f64 = ball_gaps_f64_serial,
	.poincare_logits = poincare_logits_serial,
	.poincare_log0 = poincare_log0_serial,
	.mul = mul_serial,
	.lorentz_chord = lorentz_chord_serial,
	.lorentz_chord_f64 = lorentz_chord_f64_serial,
	.lorentz_logits = lorentz_logits_serial,
	.lorentz_time = lorentz_time_serial,
	.weighted_sum_sqnorm = weighted_sum_sqnorm_serial,
	.weighted_sum_f64 = weighted_sum_f64_serial,
	.log1p = log1p_serial,

	/* cross, sliding */
	.cross_scores = cross_scores_serial,
	.cross_exp = cross_exp_serial,
	.cross_pv = cross_pv_serial,

	/* driver sums */
	.accumulate_f64 = accumulate_f64_serial,
	.finish_f64 = finish_f64_serial,
	.weighted_sum_acc = weighted_sum_acc_serial,
};
