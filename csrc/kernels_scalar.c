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

static float
exp_sum_to_serial(const float *x, size_t n, float m, float *out)
{
	float		sum = 0.0f;

	for (size_t i = 0; i < n; i++)
	{
		out[i] = rv_expf_serial(x[i] - m);
		sum += out[i];
	}
	return sum;
}

/* ==== primitives of linear.c, gat.c, sparse.c, moe.c ==== */

/* ==== end of linear, gat, sparse, moe ==== */

/* ==== primitives of hyperbolic.c ==== */

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

	/* hyperbolic */

	/* cross, sliding */
	.cross_scores = cross_scores_serial,
	.cross_exp = cross_exp_serial,
	.cross_pv = cross_pv_serial,
};
