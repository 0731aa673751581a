/*
 * avx512_emu.h: AVX-512F intrinsics in portable C, for tests only.
 *
 * Built with -DRV_EMULATE_AVX512, kernels_avx512.c includes this header
 * instead of <immintrin.h> and drops its target attributes, so that the
 * AVX-512 table runs (slowly, lane by lane) on a CPU without AVX-512 and
 * the C tests can check it there.  SIMDe (libsimde-dev) provides most
 * intrinsics; the few that SIMDe 0.7 lacks are written here on arrays of
 * 16 lanes.  Masked loads and stores touch only the selected lanes, as the
 * hardware does, so AddressSanitizer still sees out-of-bounds accesses.
 */
#ifndef RV_AVX512_EMU_H
#define RV_AVX512_EMU_H

#define SIMDE_ENABLE_NATIVE_ALIASES
#include <simde/x86/avx512.h>
#include <string.h>

typedef simde__mmask16 __mmask16;

static inline __m512
rv_emu_ps(const float *lanes)
{
	return _mm512_loadu_ps(lanes);
}

static inline void
rv_emu_lanes(__m512 v, float *lanes)
{
	_mm512_storeu_ps(lanes, v);
}

static inline __m512
_mm512_maskz_loadu_ps(__mmask16 k, const void *p)
{
	float		t[16];

	for (int i = 0; i < 16; i++)
		if ((k >> i) & 1)
			memcpy(&t[i], (const float *) p + i, sizeof(float));
		else
			t[i] = 0.0f;
	return rv_emu_ps(t);
}

static inline __m512
_mm512_mask_loadu_ps(__m512 src, __mmask16 k, const void *p)
{
	float		t[16];

	rv_emu_lanes(src, t);
	for (int i = 0; i < 16; i++)
		if ((k >> i) & 1)
			memcpy(&t[i], (const float *) p + i, sizeof(float));
	return rv_emu_ps(t);
}

static inline void
_mm512_mask_storeu_ps(void *p, __mmask16 k, __m512 v)
{
	float		t[16];

	rv_emu_lanes(v, t);
	for (int i = 0; i < 16; i++)
		if ((k >> i) & 1)
			memcpy((float *) p + i, &t[i], sizeof(float));
}

static inline float
_mm512_reduce_add_ps(__m512 v)
{
	float		t[16];

	/* the hardware sequence's pairing: halves, then quarters, ... */
	rv_emu_lanes(v, t);
	for (int w = 8; w >= 1; w /= 2)
		for (int i = 0; i < w; i++)
			t[i] = t[i] + t[i + w];
	return t[0];
}

static inline float
_mm512_reduce_max_ps(__m512 v)
{
	float		t[16];

	rv_emu_lanes(v, t);
	for (int w = 8; w >= 1; w /= 2)
		for (int i = 0; i < w; i++)
			t[i] = t[i] > t[i + w] ? t[i] : t[i + w];
	return t[0];
}

static inline __m512i
_mm512_cvtps_epi32(__m512 v)
{
	float		t[16];
	int32_t		r[16];

	rv_emu_lanes(v, t);
	for (int i = 0; i < 16; i++)
		r[i] = (t[i] != t[i] || t[i] >= 2147483648.0f || t[i] < -2147483648.0f)
			? INT32_MIN : (int32_t) __builtin_rintf(t[i]);
	return _mm512_loadu_si512(r);
}

static inline __m512i
_mm512_srai_epi32(__m512i v, unsigned int imm)
{
	int32_t		r[16];

	_mm512_storeu_si512(r, v);
	for (int i = 0; i < 16; i++)
		r[i] = imm > 31 ? (r[i] < 0 ? -1 : 0) : r[i] >> imm;
	return _mm512_loadu_si512(r);
}

#ifndef _mm512_shuffle_f32x4
#define _mm512_shuffle_f32x4(a, b, imm) simde_mm512_shuffle_f32x4(a, b, imm)
#endif

/* ---- added for the hyperbolic primitives (SIMDe 0.7 lacks them) ---- */

typedef simde__mmask8 __mmask8;

static inline __m512d
_mm512_maskz_loadu_pd(__mmask8 k, const void *p)
{
	double		t[8];

	for (int i = 0; i < 8; i++)
		if ((k >> i) & 1)
			memcpy(&t[i], (const double *) p + i, sizeof(double));
		else
			t[i] = 0.0;
	return _mm512_loadu_pd(t);
}

static inline void
_mm512_mask_storeu_pd(void *p, __mmask8 k, __m512d v)
{
	double		t[8];

	_mm512_storeu_pd(t, v);
	for (int i = 0; i < 8; i++)
		if ((k >> i) & 1)
			memcpy((double *) p + i, &t[i], sizeof(double));
}

static inline __m512d
_mm512_cvtps_pd(__m256 v)
{
	float		t[8];
	double		r[8];

	_mm256_storeu_ps(t, v);
	for (int i = 0; i < 8; i++)
		r[i] = (double) t[i];
	return _mm512_loadu_pd(r);
}

static inline __m256
_mm512_cvtpd_ps(__m512d v)
{
	double		t[8];
	float		r[8];

	_mm512_storeu_pd(t, v);
	for (int i = 0; i < 8; i++)
		r[i] = (float) t[i];	/* round to nearest, as the hardware */
	return _mm256_loadu_ps(r);
}

static inline __m512
_mm512_cvtepi32_ps(__m512i v)
{
	int32_t		t[16];
	float		r[16];

	_mm512_storeu_si512(t, v);
	for (int i = 0; i < 16; i++)
		r[i] = (float) t[i];
	return rv_emu_ps(r);
}

#endif
