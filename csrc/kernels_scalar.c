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
rv_acosh1pf_serial(float t)
{
	return rv_log1pf_serial(2.0f * t * (t + sqrtf(1.0f + t * t)));
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

static void
sqdist_rows_serial(const float *q, const float *K, size_t n, size_t d,
				   size_t ldk, float *d2, double *kk)
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
			kk[i] = sqnorm_row_serial(k, d);
	}
}

static float
poincare_logits_serial(const float *d2, const double *kk, size_t n,
					   double aq, float c, float *s)
{
	double		cd = c;
	float		sc = (float) sqrt(cd),
				rc = (float) (1.0 / sqrt(cd)),
				aqf = (float) aq;
	float		m = -INFINITY;

	for (size_t i = 0; i < n; i++)
	{
		double		a = 1.0 - cd * kk[i];
		float		t = sc * sqrtf(d2[i]) / sqrtf(aqf * (float) a);

		s[i] = a > 0.0 ? -(rv_acosh1pf_serial(t) * rc) : NAN;
		if (s[i] > m)
			m = s[i];
	}
	return m;
}

static float
lorentz_logits_serial(const float *d2, const double *kk, size_t n,
					  double qq, float c, float *s)
{
	double		cd = c,
				ic = 1.0 / cd;
	float		icf = (float) ic,
				q0 = (float) sqrt(ic + qq),
				hc = (float) (sqrt(cd) / 2.0),
				rc = (float) (1.0 / sqrt(cd));
	float		m = -INFINITY;

	for (size_t i = 0; i < n; i++)
	{
		float		t = (float) (qq - kk[i]) / (q0 + sqrtf(icf + (float) kk[i]));
		float		y = d2[i] - t * t;

		if (d2[i] > RV_LORENTZ_ILL * y)
			s[i] = INFINITY;
		else
			s[i] = -(rv_acosh1pf_serial(hc * sqrtf(y < 0.0f ? 0.0f : y)) * rc);
		if (s[i] > m)
			m = s[i];
	}
	return m;
}

static void
poincare_log0_serial(const double *vv, size_t n, float c, float *f)
{
	double		cd = c;

	for (size_t i = 0; i < n; i++)
	{
		double		a = 1.0 - cd * vv[i];
		float		r = sqrtf((float) (cd * vv[i]));
		float		t = 2.0f * r * (1.0f + r) / (float) a;

		if (!(a > 0.0))
			f[i] = NAN;
		else if (r == 0.0f)
			f[i] = 1.0f;
		else
			f[i] = rv_log1pf_serial(t) / (2.0f * r);
	}
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
	.sqdist_rows = sqdist_rows_serial,
	.poincare_logits = poincare_logits_serial,
	.lorentz_logits = lorentz_logits_serial,
	.poincare_log0 = poincare_log0_serial,
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
