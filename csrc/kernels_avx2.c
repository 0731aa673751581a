/*
 * kernels_avx2.c: the AVX2 + FMA table (8 floats per register).
 *
 * The same kernels as kernels_avx512.c at half the width and with 16
 * registers instead of 32.  The file needs no -m flag: every function
 * carries __attribute__((target("avx2,fma"))) and the dispatcher only
 * selects the table after a CPUID + XGETBV check.  Tails use
 * vmaskmovps loads and stores, which do not touch memory outside the mask,
 * so no primitive reads or writes past the caller's buffers.
 */
#if defined(__x86_64__)

#include <immintrin.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "rv_kernels.h"

#define RV_AVX2 __attribute__((target("avx2,fma")))
#define RV_AVX2_INLINE static inline __attribute__((always_inline, target("avx2,fma")))

/* heads per pass of head_scores / head_weighted_sum (bounds their stack state) */
#define RV_HEAD_CHUNK 8

/*
 * Loops over registers (t < regs, r < rows) have constant trip counts once
 * the helpers are inlined, and must be fully unrolled so that arrays of
 * accumulators become registers.  gcc -O2 only does that when asked; clang
 * does it by itself and turns a GCC unroll count into a partial unroll.
 */
#if defined(__clang__)
#define RV_UNROLL
#else
#define RV_UNROLL _Pragma("GCC unroll 8")
#endif

/* a window of 8 entries starting at 8 - rem has rem leading all-ones lanes */
static const int32_t tail_mask_table_avx2[16] = {
	-1, -1, -1, -1, -1, -1, -1, -1, 0, 0, 0, 0, 0, 0, 0, 0
};

/* Mask (sign bits) of the first rem lanes, rem in [0, 8]. */
RV_AVX2_INLINE __m256i
tail_mask_avx2(size_t rem)
{
	return _mm256_loadu_si256((const __m256i *) (tail_mask_table_avx2 + 8 - rem));
}

/*
 * The part of the exp algorithm of rv_kernels.h before 2^k, for xc in
 * [RV_EXP_LO, RV_EXP_HI]: returns p = exp(r) and sets *k_out_f32x8 to k.
 */
RV_AVX2_INLINE __m256
exp_poly_f32x8_avx2(__m256 xc_f32x8, __m256 *k_out_f32x8)
{
	__m256		t_f32x8,
				k_f32x8,
				r_f32x8,
				r2_f32x8,
				p_f32x8;

	/* k = round(x * log2(e)) by the 1.5 * 2^23 trick, as the scalar code */
	t_f32x8 = _mm256_fmadd_ps(xc_f32x8, _mm256_set1_ps(RV_LOG2E),
							  _mm256_set1_ps(RV_ROUND_MAGIC));
	k_f32x8 = _mm256_sub_ps(t_f32x8, _mm256_set1_ps(RV_ROUND_MAGIC));
	r_f32x8 = _mm256_fnmadd_ps(k_f32x8, _mm256_set1_ps(RV_LN2_HI), xc_f32x8);
	r_f32x8 = _mm256_fnmadd_ps(k_f32x8, _mm256_set1_ps(RV_LN2_LO), r_f32x8);

	p_f32x8 = _mm256_fmadd_ps(_mm256_set1_ps(RV_EXP_P5), r_f32x8,
							  _mm256_set1_ps(RV_EXP_P4));
	p_f32x8 = _mm256_fmadd_ps(p_f32x8, r_f32x8, _mm256_set1_ps(RV_EXP_P3));
	p_f32x8 = _mm256_fmadd_ps(p_f32x8, r_f32x8, _mm256_set1_ps(RV_EXP_P2));
	p_f32x8 = _mm256_fmadd_ps(p_f32x8, r_f32x8, _mm256_set1_ps(RV_EXP_P1));
	p_f32x8 = _mm256_fmadd_ps(p_f32x8, r_f32x8, _mm256_set1_ps(RV_EXP_P0));
	r2_f32x8 = _mm256_mul_ps(r_f32x8, r_f32x8);
	p_f32x8 = _mm256_fmadd_ps(p_f32x8, r2_f32x8, r_f32x8);
	*k_out_f32x8 = k_f32x8;
	return _mm256_add_ps(p_f32x8, _mm256_set1_ps(1.0f));
}

/*
 * exp of 8 lanes with the algorithm of rv_kernels.h.  x is clamped to
 * [RV_EXP_LO, RV_EXP_HI] so that k stays in [-150, 128] and both 2^k
 * factors are normal floats; the clamp also gives the x < RV_EXP_LO case
 * for free, because at x = RV_EXP_LO the result is about 0.97 * 2^-150,
 * which rounds to exactly 0.  Above RV_EXP_HI the clamped value already
 * gives +Infinity (exp(RV_EXP_HI) itself is just above FLT_MAX and the
 * last product overflows), so the fix-up at the end matters for NaN
 * (maxps turns NaN into RV_EXP_LO); x + Infinity keeps the NaN, or
 * gives +Infinity, as rv_expf_serial does.
 */
RV_AVX2_INLINE __m256
exp_f32x8_avx2(__m256 x_f32x8)
{
	__m256		xc_f32x8,
				k_f32x8,
				p_f32x8,
				result_f32x8,
				over_f32x8;
	__m256i		k_i32x8,
				k1_i32x8,
				k2_i32x8,
				bias_i32x8 = _mm256_set1_epi32(127);

	xc_f32x8 = _mm256_min_ps(_mm256_max_ps(x_f32x8, _mm256_set1_ps(RV_EXP_LO)),
							 _mm256_set1_ps(RV_EXP_HI));
	p_f32x8 = exp_poly_f32x8_avx2(xc_f32x8, &k_f32x8);

	/* 2^k as 2^(k>>1) * 2^(k-(k>>1)): both factors normal for k in [-150, 128] */
	k_i32x8 = _mm256_cvtps_epi32(k_f32x8);
	k1_i32x8 = _mm256_srai_epi32(k_i32x8, 1);
	k2_i32x8 = _mm256_sub_epi32(k_i32x8, k1_i32x8);
	k1_i32x8 = _mm256_slli_epi32(_mm256_add_epi32(k1_i32x8, bias_i32x8), 23);
	k2_i32x8 = _mm256_slli_epi32(_mm256_add_epi32(k2_i32x8, bias_i32x8), 23);
	result_f32x8 = _mm256_mul_ps(_mm256_mul_ps(p_f32x8, _mm256_castsi256_ps(k1_i32x8)),
								 _mm256_castsi256_ps(k2_i32x8));

	over_f32x8 = _mm256_cmp_ps(x_f32x8, _mm256_set1_ps(RV_EXP_HI), _CMP_NLE_UQ);
	return _mm256_blendv_ps(result_f32x8,
							_mm256_add_ps(x_f32x8, _mm256_set1_ps(INFINITY)),
							over_f32x8);
}

/*
 * exp of 8 lanes that are <= 0 or -Infinity (never NaN): softmax after the
 * max is subtracted.  Nothing overflows, so neither the upper clamp nor the
 * fix-up is needed, and for k in [-150, 0] one split of 2^k does:
 * p * 2^(k+25) is a normal float, so exact, and * 2^-25 then rounds the
 * exact p * 2^k once, as the two-factor product does (subnormal results
 * included): the same results as exp_f32x8_avx2 in 8 fewer instructions.
 */
RV_AVX2_INLINE __m256
exp_nonpos_f32x8_avx2(__m256 x_f32x8)
{
	__m256		k_f32x8;
	__m256		p_f32x8 = exp_poly_f32x8_avx2(_mm256_max_ps(x_f32x8, _mm256_set1_ps(RV_EXP_LO)),
											  &k_f32x8);
	__m256i		e_i32x8 = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(k_f32x8),
															 _mm256_set1_epi32(127 + 25)), 23);

	return _mm256_mul_ps(_mm256_mul_ps(p_f32x8, _mm256_castsi256_ps(e_i32x8)),
						 _mm256_set1_ps(0x1p-25f));
}

/*
 * Partial dot products of q with `rows` rows (4 or 8, a constant after
 * inlining) in sum_f32x8[]: each q chunk is loaded once and FMA'd into one
 * accumulator per row (8 rows: 8 FMA chains, 9 of the 16 registers).  The
 * d tail is one masked chunk, which is also the whole loop when d < 8.
 */
RV_AVX2_INLINE void
dot_rows_f32_avx2(const float *q, const float *const *k, size_t d,
				  const int rows, __m256 *sum_f32x8)
{
	size_t		j = 0;

	RV_UNROLL
	for (int r = 0; r < rows; r++)
		sum_f32x8[r] = _mm256_setzero_ps();
	for (; j + 8 <= d; j += 8)
	{
		__m256		q_f32x8 = _mm256_loadu_ps(q + j);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			sum_f32x8[r] = _mm256_fmadd_ps(q_f32x8, _mm256_loadu_ps(k[r] + j), sum_f32x8[r]);
	}
	if (j < d)
	{
		__m256i		mask = tail_mask_avx2(d - j);
		__m256		q_f32x8 = _mm256_maskload_ps(q + j, mask);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			sum_f32x8[r] = _mm256_fmadd_ps(q_f32x8, _mm256_maskload_ps(k[r] + j, mask),
										   sum_f32x8[r]);
	}
}

/*
 * Within each 128-bit lane, sum rows a, b, c, d pairwise so that lane l ends
 * up holding [a_l, b_l, c_l, d_l] (each the sum of that lane's 4 floats):
 * the first two levels of the transpose-and-add tree.
 */
RV_AVX2_INLINE __m256
transpose_add4_f32x8(__m256 a, __m256 b, __m256 c, __m256 d)
{
	/* per lane [a0+a2, b0+b2, a1+a3, b1+b3] */
	__m256		ab_f32x8 = _mm256_add_ps(_mm256_unpacklo_ps(a, b), _mm256_unpackhi_ps(a, b));
	__m256		cd_f32x8 = _mm256_add_ps(_mm256_unpacklo_ps(c, d), _mm256_unpackhi_ps(c, d));

	return _mm256_add_ps(_mm256_shuffle_ps(ab_f32x8, cd_f32x8, _MM_SHUFFLE(1, 0, 1, 0)),
						 _mm256_shuffle_ps(ab_f32x8, cd_f32x8, _MM_SHUFFLE(3, 2, 3, 2)));
}

/*
 * Eight accumulators to eight row sums [s0..s7] with one tree of shuffles
 * and adds instead of eight horizontal reductions.
 */
RV_AVX2_INLINE __m256
reduce_rows8_f32x8(const __m256 *sum_f32x8)
{
	__m256		lo_f32x8 = transpose_add4_f32x8(sum_f32x8[0], sum_f32x8[1],
												sum_f32x8[2], sum_f32x8[3]);
	__m256		hi_f32x8 = transpose_add4_f32x8(sum_f32x8[4], sum_f32x8[5],
												sum_f32x8[6], sum_f32x8[7]);

	return _mm256_add_ps(_mm256_permute2f128_ps(lo_f32x8, hi_f32x8, 0x20),
						 _mm256_permute2f128_ps(lo_f32x8, hi_f32x8, 0x31));
}

/* Four accumulators to four row sums [s0..s3], same tree. */
RV_AVX2_INLINE __m128
reduce_rows4_f32x8(const __m256 *sum_f32x8)
{
	__m256		z_f32x8 = transpose_add4_f32x8(sum_f32x8[0], sum_f32x8[1],
											   sum_f32x8[2], sum_f32x8[3]);

	return _mm_add_ps(_mm256_castps256_ps128(z_f32x8), _mm256_extractf128_ps(z_f32x8, 1));
}

RV_AVX2_INLINE float
hmax_f32x8_avx2(__m256 v_f32x8)
{
	__m128		m_f32x4 = _mm_max_ps(_mm256_castps256_ps128(v_f32x8),
									 _mm256_extractf128_ps(v_f32x8, 1));

	m_f32x4 = _mm_max_ps(m_f32x4, _mm_movehl_ps(m_f32x4, m_f32x4));
	m_f32x4 = _mm_max_ss(m_f32x4, _mm_shuffle_ps(m_f32x4, m_f32x4, 1));
	return _mm_cvtss_f32(m_f32x4);
}

RV_AVX2_INLINE float
hsum_f32x8_avx2(__m256 v_f32x8)
{
	__m128		s_f32x4 = _mm_add_ps(_mm256_castps256_ps128(v_f32x8),
									 _mm256_extractf128_ps(v_f32x8, 1));

	s_f32x4 = _mm_add_ps(s_f32x4, _mm_movehl_ps(s_f32x4, s_f32x4));
	s_f32x4 = _mm_add_ss(s_f32x4, _mm_shuffle_ps(s_f32x4, s_f32x4, 1));
	return _mm_cvtss_f32(s_f32x4);
}

/*
 * S[h lds + i] = scale * dot(q_h, K_i,h) for the heads h (dims
 * [h d, (h+1) d) of q and of each row of K), m[h] their max; scores is
 * one head.  For each head, a gemv streaming K once.  Rows go 8 at a
 * time (8 FMA chains, one load of q per 8 rows); the 8 sums are reduced by
 * one transpose tree and scaled, and the running max is a vector max.  The
 * 8 row slots of a block each walk their own contiguous stretch of n/8
 * rows (slot r: rows [r n/8, (r+1) n/8)): eight sequential streams, which
 * the hardware prefetchers follow.  With 8 adjacent rows per block each
 * load instruction strides 8 rows at a time instead, which they do not
 * follow: on Zen 4 that streamed K from DRAM at 9 GB/s, this order at 25
 * GB/s.  Slot r starts r rows into its stretch and wraps around, so that
 * when n/8 rows are a multiple of 4 KiB the 8 rows read together do not
 * all fall in the same L1/L2 sets (that cost 10% from cache).  The price
 * is 8 scalar stores per block instead of one vector store.  The n % 8
 * leftover rows (the last ones) reuse the 8- or 4-row kernel with the
 * missing row pointers aimed at the last real row (valid memory;
 * duplicate lanes do not change the max) and a masked store.  Heads go
 * innermost, RV_HEAD_CHUNK at a time: a head's arithmetic does not depend
 * on the others, so head_scores equals scores on each head bit for bit,
 * and with one head (a constant after inlining) this is the scores loop.
 */
RV_AVX2_INLINE void
scores_heads_avx2(const float *q, const float *K, size_t n, size_t d,
				  size_t heads, size_t ldk, float scale, float *S, size_t lds,
				  float *m)
{
	__m256		scale_f32x8 = _mm256_set1_ps(scale);
	__m256		max_f32x8[RV_HEAD_CHUNK];
	__m256		sum_f32x8[8];
	const float *k[8];
	size_t		blocks = n / 8;
	size_t		i = blocks * 8;
	size_t		skew[8];

	for (size_t r = 0; r < 8 && blocks > 0; r++)
		skew[r] = r % blocks;
	for (size_t h0 = 0; h0 < heads; h0 += RV_HEAD_CHUNK)
	{
		size_t		g = heads - h0 < RV_HEAD_CHUNK ? heads - h0 : RV_HEAD_CHUNK;

		for (size_t h = 0; h < g; h++)
			max_f32x8[h] = _mm256_set1_ps(-INFINITY);
		for (size_t b = 0; b < blocks; b++)
		{
			size_t		row[8];

			RV_UNROLL
			for (int r = 0; r < 8; r++)
				row[r] = rv_stream_row(r, blocks, b, skew[r]);
			for (size_t h = 0; h < g; h++)
			{
				size_t		off = (h0 + h) * d;
				float	   *s = S + (h0 + h) * lds;
				__m256		s_f32x8;
				float		s8[8];

				RV_UNROLL
				for (int r = 0; r < 8; r++)
					k[r] = K + row[r] * ldk + off;
				dot_rows_f32_avx2(q + off, k, d, 8, sum_f32x8);
				s_f32x8 = _mm256_mul_ps(reduce_rows8_f32x8(sum_f32x8), scale_f32x8);
				_mm256_storeu_ps(s8, s_f32x8);
				RV_UNROLL
				for (int r = 0; r < 8; r++)
					s[row[r]] = s8[r];
				max_f32x8[h] = _mm256_max_ps(max_f32x8[h], s_f32x8);
			}
		}
		if (i < n)
		{
			size_t		rows = n - i;

			for (size_t h = 0; h < g; h++)
			{
				size_t		off = (h0 + h) * d;
				__m256		s_f32x8;

				for (size_t r = 0; r < 8; r++)
					k[r] = K + (i + (r < rows ? r : rows - 1)) * ldk + off;
				if (rows > 4)
				{
					dot_rows_f32_avx2(q + off, k, d, 8, sum_f32x8);
					s_f32x8 = _mm256_mul_ps(reduce_rows8_f32x8(sum_f32x8), scale_f32x8);
				}
				else
				{
					__m128		s_f32x4;

					dot_rows_f32_avx2(q + off, k, d, 4, sum_f32x8);
					s_f32x4 = _mm_mul_ps(reduce_rows4_f32x8(sum_f32x8),
										 _mm256_castps256_ps128(scale_f32x8));
					s_f32x8 = _mm256_set_m128(s_f32x4, s_f32x4);
				}
				_mm256_maskstore_ps(S + (h0 + h) * lds + i, tail_mask_avx2(rows), s_f32x8);
				max_f32x8[h] = _mm256_max_ps(max_f32x8[h], s_f32x8);
			}
		}
		for (size_t h = 0; h < g; h++)
			m[h0 + h] = hmax_f32x8_avx2(max_f32x8[h]);
	}
}

RV_AVX2 static float
scores_f32_avx2(const float *q, const float *K, size_t n, size_t d,
				size_t ldk, float scale, float *s)
{
	float		m;

	scores_heads_avx2(q, K, n, d, 1, ldk, scale, s, 0, &m);
	return m;
}

/*
 * head_scores: each block reads its 8 rows' heads*dh floats at once, 8
 * sequential streams over K instead of 8 strided ones per head.
 */
RV_AVX2 static void
head_scores_f32_avx2(const float *q, const float *K, size_t n, size_t d,
					 size_t heads, size_t ldk, float scale, float *S,
					 size_t lds, float *m)
{
	scores_heads_avx2(q, K, n, d, heads, ldk, scale, S, lds, m);
}

/* out[i] = exp(x[i]); each chunk is loaded before it is stored, so out == x works. */
RV_AVX2 static void
exp_f32_avx2(const float *x, size_t n, float *out)
{
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, exp_f32x8_avx2(_mm256_loadu_ps(x + i)));
	if (i < n)
	{
		__m256i		mask = tail_mask_avx2(n - i);

		_mm256_maskstore_ps(out + i, mask, exp_f32x8_avx2(_mm256_maskload_ps(x + i, mask)));
	}
}

/*
 * out[i] = exp(x[i] - m), returning the sum (four vector accumulators), with
 * the cheaper exp that x[i] - m <= 0 allows.  Each chunk is loaded before
 * it is stored, so out == x works.
 */
RV_AVX2 static float
exp_sum_to_f32_avx2(const float *x, size_t n, float m, float *out)
{
	__m256		m_f32x8 = _mm256_set1_ps(m);
	__m256		sum0_f32x8 = _mm256_setzero_ps(),
				sum1_f32x8 = _mm256_setzero_ps(),
				sum2_f32x8 = _mm256_setzero_ps(),
				sum3_f32x8 = _mm256_setzero_ps();
	size_t		i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m256		e0_f32x8 = exp_nonpos_f32x8_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), m_f32x8));
		__m256		e1_f32x8 = exp_nonpos_f32x8_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i + 8), m_f32x8));
		__m256		e2_f32x8 = exp_nonpos_f32x8_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i + 16), m_f32x8));
		__m256		e3_f32x8 = exp_nonpos_f32x8_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i + 24), m_f32x8));

		_mm256_storeu_ps(out + i, e0_f32x8);
		_mm256_storeu_ps(out + i + 8, e1_f32x8);
		_mm256_storeu_ps(out + i + 16, e2_f32x8);
		_mm256_storeu_ps(out + i + 24, e3_f32x8);
		sum0_f32x8 = _mm256_add_ps(sum0_f32x8, e0_f32x8);
		sum1_f32x8 = _mm256_add_ps(sum1_f32x8, e1_f32x8);
		sum2_f32x8 = _mm256_add_ps(sum2_f32x8, e2_f32x8);
		sum3_f32x8 = _mm256_add_ps(sum3_f32x8, e3_f32x8);
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		e_f32x8 = exp_nonpos_f32x8_avx2(_mm256_sub_ps(_mm256_loadu_ps(x + i), m_f32x8));

		_mm256_storeu_ps(out + i, e_f32x8);
		sum0_f32x8 = _mm256_add_ps(sum0_f32x8, e_f32x8);
	}
	if (i < n)
	{
		__m256i		mask = tail_mask_avx2(n - i);
		__m256		e_f32x8 = exp_nonpos_f32x8_avx2(_mm256_sub_ps(_mm256_maskload_ps(x + i, mask),
																  m_f32x8));

		_mm256_maskstore_ps(out + i, mask, e_f32x8);
		sum1_f32x8 = _mm256_add_ps(sum1_f32x8,
								   _mm256_and_ps(e_f32x8, _mm256_castsi256_ps(mask)));
	}
	sum0_f32x8 = _mm256_add_ps(_mm256_add_ps(sum0_f32x8, sum1_f32x8),
							   _mm256_add_ps(sum2_f32x8, sum3_f32x8));
	return hsum_f32x8_avx2(sum0_f32x8);
}

/*
 * The max and the NaN/+Infinity check in one pass: two max accumulators, and the OR
 * of the lanes where !(x < +Infinity), which is exactly NaN or +Infinity.
 * Tail lanes past n are replaced by -Infinity, which changes neither.
 * Each loaded register is pinned by an empty asm: otherwise gcc folds the
 * load into both the max and the compare, doubling the loads.
 */
RV_AVX2 static float
max_checked_f32_avx2(const float *x, size_t n, int *bad)
{
	__m256		neg_inf_f32x8 = _mm256_set1_ps(-INFINITY),
				inf_f32x8 = _mm256_set1_ps(INFINITY);
	__m256		max0_f32x8 = neg_inf_f32x8,
				max1_f32x8 = neg_inf_f32x8,
				bad_f32x8 = _mm256_setzero_ps();
	size_t		i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256		x0_f32x8 = _mm256_loadu_ps(x + i);
		__m256		x1_f32x8 = _mm256_loadu_ps(x + i + 8);

		__asm__("" : "+x"(x0_f32x8), "+x"(x1_f32x8));
		max0_f32x8 = _mm256_max_ps(max0_f32x8, x0_f32x8);
		max1_f32x8 = _mm256_max_ps(max1_f32x8, x1_f32x8);
		bad_f32x8 = _mm256_or_ps(bad_f32x8,
								 _mm256_or_ps(_mm256_cmp_ps(x0_f32x8, inf_f32x8, _CMP_NLT_UQ),
											  _mm256_cmp_ps(x1_f32x8, inf_f32x8, _CMP_NLT_UQ)));
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		x_f32x8 = _mm256_loadu_ps(x + i);

		__asm__("" : "+x"(x_f32x8));
		max0_f32x8 = _mm256_max_ps(max0_f32x8, x_f32x8);
		bad_f32x8 = _mm256_or_ps(bad_f32x8, _mm256_cmp_ps(x_f32x8, inf_f32x8, _CMP_NLT_UQ));
	}
	if (i < n)
	{
		__m256i		mask = tail_mask_avx2(n - i);
		__m256		x_f32x8 = _mm256_blendv_ps(neg_inf_f32x8, _mm256_maskload_ps(x + i, mask),
											   _mm256_castsi256_ps(mask));

		max1_f32x8 = _mm256_max_ps(max1_f32x8, x_f32x8);
		bad_f32x8 = _mm256_or_ps(bad_f32x8, _mm256_cmp_ps(x_f32x8, inf_f32x8, _CMP_NLT_UQ));
	}
	*bad = _mm256_movemask_ps(bad_f32x8) != 0;
	return hmax_f32x8_avx2(_mm256_max_ps(max0_f32x8, max1_f32x8));
}

/* to[0..8) += (double) x, the lanes of tail only when masked */
RV_AVX2_INLINE void
add_f32x8_to_f64_avx2(double *to, __m256 x_f32x8, const int masked, __m256i tail)
{
	__m256d		lo_f64x4 = _mm256_cvtps_pd(_mm256_castps256_ps128(x_f32x8));
	__m256d		hi_f64x4 = _mm256_cvtps_pd(_mm256_extractf128_ps(x_f32x8, 1));

	if (masked)
	{
		__m256i		lo_mask = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(tail));
		__m256i		hi_mask = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(tail, 1));

		_mm256_maskstore_pd(to, lo_mask, _mm256_add_pd(_mm256_maskload_pd(to, lo_mask), lo_f64x4));
		_mm256_maskstore_pd(to + 4, hi_mask,
							_mm256_add_pd(_mm256_maskload_pd(to + 4, hi_mask), hi_f64x4));
	}
	else
	{
		_mm256_storeu_pd(to, _mm256_add_pd(_mm256_loadu_pd(to), lo_f64x4));
		_mm256_storeu_pd(to + 4, _mm256_add_pd(_mm256_loadu_pd(to + 4), hi_f64x4));
	}
}

/*
 * The end of one float partial of weighted_tile's blocked form (acc not
 * NULL): the accumulator sets summed into set 0, set 0 added into acc
 * (regs * 8 doubles; the last register's lanes under tail when masked),
 * every set zeroed for the next partial.
 */
RV_AVX2_INLINE void
tile_to_f64_avx2(__m256 acc_f32x8[8][8], const int rows, const int regs,
				 const int masked, __m256i tail, double *acc)
{
	RV_UNROLL
	for (int u = 1; u < rows; u++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			acc_f32x8[0][t] = _mm256_add_ps(acc_f32x8[0][t], acc_f32x8[u][t]);
			acc_f32x8[u][t] = _mm256_setzero_ps();
		}
	RV_UNROLL
	for (int t = 0; t < regs; t++)
	{
		add_f32x8_to_f64_avx2(acc + 8 * t, acc_f32x8[0][t], masked && t == regs - 1, tail);
		acc_f32x8[0][t] = _mm256_setzero_ps();
	}
}

/*
 * One column tile of weighted_sum: `regs` registers (a constant 1..8 after
 * inlining) of out kept in registers across the whole row loop, the last
 * one masked when `masked`.  Narrow tiles process several rows per step
 * into separate accumulator sets (added at the end) so that there are
 * always about 8 independent FMA chains, within the 16 registers.
 * Each accumulator set u takes its rows from its own contiguous stretch of
 * V (rows [u n/rows, (u+1) n/rows), starting u rows in and wrapping around,
 * as the row slots of scores do), so that every set streams sequentially.
 * beta == 0 starts from zero without reading out, which may hold garbage.
 * With acc (weighted_sum_acc), the row loop runs in chunks of
 * RV_VALUE_BLOCK / rows steps, each chunk a float partial of at most
 * RV_VALUE_BLOCK rows that is added into acc (then the n % rows last rows
 * as one more), and out is not touched.
 */
RV_AVX2_INLINE void
weighted_tile_f32_avx2(const float *w, const float *V, size_t n, size_t ldv,
					   float beta, float *out, double *acc,
					   const int regs,
					   const int masked, __m256i tail)
{
	const int	rows = regs >= 5 ? 1 : regs >= 3 ? 2 : regs == 2 ? 4 : 8;
	__m256		acc_f32x8[8][8];
	__m256		beta_f32x8 = _mm256_set1_ps(beta);
	size_t		per_set = n / rows;
	size_t		chunk = acc ? RV_VALUE_BLOCK / (size_t) rows : per_set;
	size_t		skew[8];

	RV_UNROLL
	for (int u = 0; u < rows; u++)
		skew[u] = per_set > 0 ? (size_t) u % per_set : 0;
	RV_UNROLL
	for (int u = 0; u < rows; u++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
			acc_f32x8[u][t] = _mm256_setzero_ps();
	if (beta != 0.0f)
	{
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			__m256		o_f32x8 = (masked && t == regs - 1)
				? _mm256_maskload_ps(out + 8 * t, tail)
				: _mm256_loadu_ps(out + 8 * t);

			acc_f32x8[0][t] = _mm256_mul_ps(beta_f32x8, o_f32x8);
		}
	}

	for (size_t b0 = 0; b0 < per_set; b0 += chunk)
	{
		size_t		b1 = per_set - b0 < chunk ? per_set : b0 + chunk;

		for (size_t b = b0; b < b1; b++)
		{
			RV_UNROLL
			for (int u = 0; u < rows; u++)
			{
				size_t		row = rv_stream_row(u, per_set, b, skew[u]);
				__m256		w_f32x8 = _mm256_set1_ps(w[row]);
				const float *v = V + row * ldv;

				RV_UNROLL
				for (int t = 0; t < regs; t++)
				{
					__m256		v_f32x8 = (masked && t == regs - 1)
						? _mm256_maskload_ps(v + 8 * t, tail)
						: _mm256_loadu_ps(v + 8 * t);

					acc_f32x8[u][t] = _mm256_fmadd_ps(w_f32x8, v_f32x8, acc_f32x8[u][t]);
				}
			}
		}
		if (acc)
			tile_to_f64_avx2(acc_f32x8, rows, regs, masked, tail, acc);
	}
	for (size_t i = per_set * rows; i < n; i++)
	{
		__m256		w_f32x8 = _mm256_set1_ps(w[i]);
		const float *v = V + i * ldv;

		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			__m256		v_f32x8 = (masked && t == regs - 1)
				? _mm256_maskload_ps(v + 8 * t, tail)
				: _mm256_loadu_ps(v + 8 * t);

			acc_f32x8[0][t] = _mm256_fmadd_ps(w_f32x8, v_f32x8, acc_f32x8[0][t]);
		}
	}

	if (acc)
	{
		if (per_set * rows < n)
			tile_to_f64_avx2(acc_f32x8, rows, regs, masked, tail, acc);
		return;
	}
	RV_UNROLL
	for (int u = 1; u < rows; u++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
			acc_f32x8[0][t] = _mm256_add_ps(acc_f32x8[0][t], acc_f32x8[u][t]);
	RV_UNROLL
	for (int t = 0; t < regs; t++)
	{
		if (masked && t == regs - 1)
			_mm256_maskstore_ps(out + 8 * t, tail, acc_f32x8[0][t]);
		else
			_mm256_storeu_ps(out + 8 * t, acc_f32x8[0][t]);
	}
}

/*
 * One pass of weighted_sum: out = beta * out + sum_i w[i] * V_i for the
 * rows given, in column tiles of 64 floats (8 registers) so that out
 * never leaves registers inside a tile.  The last, narrower tile is
 * dispatched to a copy of the tile code specialised for its width.
 * acc: the blocked form of weighted_sum_acc (see weighted_tile), or NULL.
 */
RV_AVX2 static void
weighted_pass_f32_avx2(const float *w, const float *V, size_t n, size_t dv,
					  size_t ldv, float beta, float *out, double *acc)
{
	__m256i		full = _mm256_set1_epi32(-1);
	size_t		j = 0;
	size_t		rem;

	for (; j + 64 <= dv; j += 64)
		weighted_tile_f32_avx2(w, V + j, n, ldv, beta, out + j, acc ? acc + j : NULL, 8, 0, full);
	rem = dv - j;
	if (rem == 0)
		return;
	V += j;
	out += j;
	if (acc)
		acc += j;
	if (rem % 8 == 0)
	{
		switch (rem / 8)
		{
			case 1:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 1, 0, full);
				break;
			case 2:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 2, 0, full);
				break;
			case 3:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 3, 0, full);
				break;
			case 4:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 4, 0, full);
				break;
			case 5:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 5, 0, full);
				break;
			case 6:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 6, 0, full);
				break;
			default:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 7, 0, full);
				break;
		}
	}
	else
	{
		__m256i		tail = tail_mask_avx2(rem % 8);

		switch (rem / 8 + 1)
		{
			case 1:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 1, 1, tail);
				break;
			case 2:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 2, 1, tail);
				break;
			case 3:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 3, 1, tail);
				break;
			case 4:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 4, 1, tail);
				break;
			case 5:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 5, 1, tail);
				break;
			case 6:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 6, 1, tail);
				break;
			case 7:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 7, 1, tail);
				break;
			default:
				weighted_tile_f32_avx2(w, V, n, ldv, beta, out, acc, 8, 1, tail);
				break;
		}
	}
}

/*
 * out[j] += sum_r w_r v_r[j] for `rows` rows (a constant 1 or 4 after
 * inlining) and j < full + rem (rem < 8 lanes under the mask tail): each
 * chunk of out is loaded and stored once per step, rows added in order.
 * The first step of a float partial of weighted_sum_acc starts from 0
 * instead of out (first), its last one adds the result into the doubles
 * `to` instead of storing it (to != NULL).
 */
RV_AVX2_INLINE void
add_rows_f32_avx2(const float *const *v, const __m256 *w_f32x8,
				  const int rows, size_t full, size_t rem, __m256i tail,
				  float *out, int first, double *to)
{
	size_t		j = 0;

	for (; j < full; j += 8)
	{
		__m256		acc_f32x8 = first ? _mm256_setzero_ps() : _mm256_loadu_ps(out + j);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			acc_f32x8 = _mm256_fmadd_ps(w_f32x8[r], _mm256_loadu_ps(v[r] + j), acc_f32x8);
		if (to)
			add_f32x8_to_f64_avx2(to + j, acc_f32x8, 0, tail);
		else
			_mm256_storeu_ps(out + j, acc_f32x8);
	}
	if (rem)
	{
		__m256		acc_f32x8 = first ? _mm256_setzero_ps() : _mm256_maskload_ps(out + j, tail);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			acc_f32x8 = _mm256_fmadd_ps(w_f32x8[r], _mm256_maskload_ps(v[r] + j, tail),
										acc_f32x8);
		if (to)
			add_f32x8_to_f64_avx2(to + j, acc_f32x8, 1, tail);
		else
			_mm256_maskstore_ps(out + j, tail, acc_f32x8);
	}
}

/* the 4 rows of step b of the wide kernel: slot u's row (skewed, wrapped), its weight */
RV_AVX2_INLINE void
wide_step_avx2(const float *w, const float *V, size_t ldv, size_t per_slot,
				const size_t *skew, size_t b, const float **v, __m256 *w_f32x8)
{
	RV_UNROLL
	for (int u = 0; u < 4; u++)
	{
		size_t		row = rv_stream_row(u, per_slot, b, skew[u]);

		v[u] = V + row * ldv;
		w_f32x8[u] = _mm256_set1_ps(w[row]);
	}
}

/*
 * weighted_sum for rows wider than one tile (dv > 64), as
 * weighted_wide_f32_avx512: out stays in L1, each step adds 4 whole rows
 * taken from 4 contiguous stretches of V, so that V is read as 4 long
 * sequential streams (column tiles over a block of rows read it in short
 * strided pieces, which the hardware prefetchers do not follow).
 * With acc (weighted_sum_acc), out holds a float partial of
 * RV_VALUE_BLOCK / 4 steps (4 rows each, one from each stream): its first
 * step starts from 0, its last adds it into acc; the n % 4 last rows make
 * one more partial.
 */
RV_AVX2 static void
weighted_wide_f32_avx2(const float *w, const float *V, size_t n, size_t dv,
					   size_t ldv, float beta, float *out, double *acc)
{
	size_t		rem = dv % 8;
	__m256i		tail = tail_mask_avx2(rem);
	size_t		full = dv - rem;
	size_t		per_slot = n / 4;
	size_t		skew[4];
	const float *v[4];
	__m256		w_f32x8[4];

	if (acc == NULL && beta != 1.0f)
	{
		__m256		beta_f32x8 = _mm256_set1_ps(beta);
		size_t		j = 0;

		for (; j < full; j += 8)
			_mm256_storeu_ps(out + j, beta == 0.0f ? _mm256_setzero_ps()
							 : _mm256_mul_ps(beta_f32x8, _mm256_loadu_ps(out + j)));
		if (rem)
			_mm256_maskstore_ps(out + j, tail, beta == 0.0f ? _mm256_setzero_ps()
								: _mm256_mul_ps(beta_f32x8, _mm256_maskload_ps(out + j, tail)));
	}
	for (size_t u = 0; u < 4; u++)
		skew[u] = per_slot > 0 ? u % per_slot : 0;
	if (acc == NULL)
		for (size_t b = 0; b < per_slot; b++)
		{
			wide_step_avx2(w, V, ldv, per_slot, skew, b, v, w_f32x8);
			add_rows_f32_avx2(v, w_f32x8, 4, full, rem, tail, out, 0, NULL);
		}
	else
		for (size_t b0 = 0; b0 < per_slot; b0 += RV_VALUE_BLOCK / 4)
		{
			size_t		b1 = per_slot - b0 < RV_VALUE_BLOCK / 4 ? per_slot : b0 + RV_VALUE_BLOCK / 4;

			/* a partial's first step starts from 0, its last adds it into acc */
			wide_step_avx2(w, V, ldv, per_slot, skew, b0, v, w_f32x8);
			add_rows_f32_avx2(v, w_f32x8, 4, full, rem, tail, out, 1, b1 == b0 + 1 ? acc : NULL);
			for (size_t b = b0 + 1; b + 1 < b1; b++)
			{
				wide_step_avx2(w, V, ldv, per_slot, skew, b, v, w_f32x8);
				add_rows_f32_avx2(v, w_f32x8, 4, full, rem, tail, out, 0, NULL);
			}
			if (b1 > b0 + 1)
			{
				wide_step_avx2(w, V, ldv, per_slot, skew, b1 - 1, v, w_f32x8);
				add_rows_f32_avx2(v, w_f32x8, 4, full, rem, tail, out, 0, acc);
			}
		}
	for (size_t i = per_slot * 4; i < n; i++)
	{
		v[0] = V + i * ldv;
		w_f32x8[0] = _mm256_set1_ps(w[i]);
		add_rows_f32_avx2(v, w_f32x8, 1, full, rem, tail, out,
						  acc && i == per_slot * 4, acc && i + 1 == n ? acc : NULL);
	}
}

/*
 * out = beta * out + sum_i w[i] * V_i over dv columns: one column tile
 * kept in registers over all rows when dv fits in it, else the wide
 * version, both streaming V sequentially.
 */
RV_AVX2 static void
weighted_sum_f32_avx2(const float *w, const float *V, size_t n, size_t dv,
					   size_t ldv, float beta, float *out)
{
	if (dv <= 64)
		weighted_pass_f32_avx2(w, V, n, dv, ldv, beta, out, NULL);
	else
		weighted_wide_f32_avx2(w, V, n, dv, ldv, beta, out, NULL);
}

/*
 * weighted_tile for g <= RV_HEAD_CHUNK heads at once (head h: weights
 * W + h ldw, columns V + h dvh, output out + h dvh): the same row sets,
 * skew and per-accumulator order of additions as weighted_tile, so each
 * head's result equals it bit for bit, but the heads are interleaved in
 * batches of 8 row steps so that V's rows are read whole (g dvh floats)
 * while they are in cache.  Accumulators wait in memory between batches.
 * With acc (head_weighted_sum_acc: acc + h dvh for head h), the partials
 * of weighted_tile's blocked form (chunks of RV_VALUE_BLOCK / rows steps,
 * a multiple of the batch of 8, then the n % rows last rows), each added
 * into acc as tile_to_f64 does; out is not touched.
 */
RV_AVX2_INLINE void
heads_to_f64_avx2(__m256 *a_f32x8, const int rows, const int regs,
				  const int masked, __m256i tail, double *acc)
{
	RV_UNROLL
	for (int u = 1; u < rows; u++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			a_f32x8[t] = _mm256_add_ps(a_f32x8[t], a_f32x8[u * regs + t]);
			a_f32x8[u * regs + t] = _mm256_setzero_ps();
		}
	RV_UNROLL
	for (int t = 0; t < regs; t++)
	{
		add_f32x8_to_f64_avx2(acc + 8 * t, a_f32x8[t], masked && t == regs - 1, tail);
		a_f32x8[t] = _mm256_setzero_ps();
	}
}

RV_AVX2_INLINE __m256
heads_load_avx2(const float *p, const int masked, __m256i tail)
{
	return masked ? _mm256_maskload_ps(p, tail) : _mm256_loadu_ps(p);
}

RV_AVX2_INLINE void
weighted_heads_tile_f32_avx2(const float *W, size_t ldw, const float *V,
							 size_t n, size_t dvh, size_t g, size_t ldv,
							 float beta, float *out, double *acc,
							 const int regs, const int masked, __m256i tail)
{
	const int	rows = regs >= 5 ? 1 : regs >= 3 ? 2 : regs == 2 ? 4 : 8;
	__m256		acc_f32x8[RV_HEAD_CHUNK][8];
	__m256		beta_f32x8 = _mm256_set1_ps(beta);
	size_t		per_set = n / rows;
	size_t		chunk = RV_VALUE_BLOCK / (size_t) rows;
	size_t		skew[8];

	RV_UNROLL
	for (int u = 0; u < rows; u++)
		skew[u] = per_set > 0 ? (size_t) u % per_set : 0;
	for (size_t h = 0; h < g; h++)
	{
		RV_UNROLL
		for (int a = 0; a < rows * regs; a++)
			acc_f32x8[h][a] = _mm256_setzero_ps();
		if (beta != 0.0f)
		{
			RV_UNROLL
			for (int t = 0; t < regs; t++)
				acc_f32x8[h][t] = _mm256_mul_ps(beta_f32x8,
												heads_load_avx2(out + h * dvh + 8 * t,
																masked && t == regs - 1, tail));
		}
	}
	for (size_t b0 = 0; b0 < per_set; b0 += 8)
	{
		size_t		b1 = per_set - b0 < 8 ? per_set : b0 + 8;

		for (size_t h = 0; h < g; h++)
		{
			__m256		a_f32x8[8];
			const float *w = W + h * ldw;
			const float *Vh = V + h * dvh;

			RV_UNROLL
			for (int a = 0; a < rows * regs; a++)
				a_f32x8[a] = acc_f32x8[h][a];
			for (size_t b = b0; b < b1; b++)
			{
				RV_UNROLL
				for (int u = 0; u < rows; u++)
				{
					size_t		row = rv_stream_row(u, per_set, b, skew[u]);
					__m256		w_f32x8 = _mm256_set1_ps(w[row]);
					const float *v = Vh + row * ldv;

					RV_UNROLL
					for (int t = 0; t < regs; t++)
						a_f32x8[u * regs + t] =
							_mm256_fmadd_ps(w_f32x8, heads_load_avx2(v + 8 * t, masked && t == regs - 1,
																	 tail),
											a_f32x8[u * regs + t]);
				}
			}
			if (acc && (b1 % chunk == 0 || b1 == per_set))
				heads_to_f64_avx2(a_f32x8, rows, regs, masked, tail, acc + h * dvh);
			RV_UNROLL
			for (int a = 0; a < rows * regs; a++)
				acc_f32x8[h][a] = a_f32x8[a];
		}
	}
	for (size_t h = 0; h < g; h++)
	{
		const float *w = W + h * ldw;

		for (size_t i = per_set * rows; i < n; i++)
		{
			__m256		w_f32x8 = _mm256_set1_ps(w[i]);
			const float *v = V + h * dvh + i * ldv;

			RV_UNROLL
			for (int t = 0; t < regs; t++)
				acc_f32x8[h][t] = _mm256_fmadd_ps(w_f32x8,
												  heads_load_avx2(v + 8 * t, masked && t == regs - 1, tail),
												  acc_f32x8[h][t]);
		}
		if (acc)
		{
			if (per_set * rows < n)
				heads_to_f64_avx2(acc_f32x8[h], rows, regs, masked, tail, acc + h * dvh);
			continue;
		}
		RV_UNROLL
		for (int u = 1; u < rows; u++)
			RV_UNROLL
			for (int t = 0; t < regs; t++)
				acc_f32x8[h][t] = _mm256_add_ps(acc_f32x8[h][t], acc_f32x8[h][u * regs + t]);
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			if (masked && t == regs - 1)
				_mm256_maskstore_ps(out + h * dvh + 8 * t, tail, acc_f32x8[h][t]);
			else
				_mm256_storeu_ps(out + h * dvh + 8 * t, acc_f32x8[h][t]);
		}
	}
}

/* one pass of heads of `regs` registers, the last masked when `masked` */
#define RV_HEADS_TILE(regs, masked) \
	weighted_heads_tile_f32_avx2(Wg, ldw, Vg, n, dvh, g, ldv, beta, og, ag, regs, masked, tail)

/*
 * head_weighted_sum (acc NULL) and head_weighted_sum_acc: heads of at most
 * one tile (dvh <= 64) go through the interleaved tile above,
 * RV_HEAD_CHUNK heads per pass; wider heads (already streamed row by row
 * by weighted_wide) one after the other.
 */
RV_AVX2 static void
heads_weighted_f32_avx2(const float *W, size_t ldw, const float *V,
						size_t n, size_t dvh, size_t heads, size_t ldv,
						float beta, float *out, double *acc)
{
	__m256i		tail;

	if (dvh == 0 || dvh > 64)
	{
		for (size_t h = 0; h < heads; h++)
			if (acc)
				weighted_wide_f32_avx2(W + h * ldw, V + h * dvh, n, dvh, ldv, 0.0f,
									   out + h * dvh, acc + h * dvh);
			else
				weighted_sum_f32_avx2(W + h * ldw, V + h * dvh, n, dvh, ldv,
									  beta, out + h * dvh);
		return;
	}
	tail = dvh % 8 ? tail_mask_avx2(dvh % 8) : _mm256_set1_epi32(-1);
	for (size_t h0 = 0; h0 < heads; h0 += RV_HEAD_CHUNK)
	{
		size_t		g = heads - h0 < RV_HEAD_CHUNK ? heads - h0 : RV_HEAD_CHUNK;
		const float *Wg = W + h0 * ldw;
		const float *Vg = V + h0 * dvh;
		float	   *og = out + h0 * dvh;
		double	   *ag = acc ? acc + h0 * dvh : NULL;

		if (dvh % 8 == 0)
			switch (dvh / 8)
			{
				case 1: RV_HEADS_TILE(1, 0); break;
				case 2: RV_HEADS_TILE(2, 0); break;
				case 3: RV_HEADS_TILE(3, 0); break;
				case 4: RV_HEADS_TILE(4, 0); break;
				case 5: RV_HEADS_TILE(5, 0); break;
				case 6: RV_HEADS_TILE(6, 0); break;
				case 7: RV_HEADS_TILE(7, 0); break;
				default: RV_HEADS_TILE(8, 0); break;
			}
		else
			switch (dvh / 8 + 1)
			{
				case 1: RV_HEADS_TILE(1, 1); break;
				case 2: RV_HEADS_TILE(2, 1); break;
				case 3: RV_HEADS_TILE(3, 1); break;
				case 4: RV_HEADS_TILE(4, 1); break;
				case 5: RV_HEADS_TILE(5, 1); break;
				case 6: RV_HEADS_TILE(6, 1); break;
				case 7: RV_HEADS_TILE(7, 1); break;
				default: RV_HEADS_TILE(8, 1); break;
			}
	}
}

#undef RV_HEADS_TILE

RV_AVX2 static void
head_weighted_sum_f32_avx2(const float *W, size_t ldw, const float *V,
						   size_t n, size_t dvh, size_t heads, size_t ldv,
						   float beta, float *out)
{
	heads_weighted_f32_avx2(W, ldw, V, n, dvh, heads, ldv, beta, out, NULL);
}

RV_AVX2 static void
head_weighted_sum_acc_f32_avx2(const float *W, size_t ldw, const float *V,
							   size_t n, size_t dvh, size_t heads, size_t ldv,
							   float *part, double *acc)
{
	heads_weighted_f32_avx2(W, ldw, V, n, dvh, heads, ldv, 0.0f, part, acc);
}

/* x[i] *= a */
RV_AVX2 static void
scale_f32_avx2(float *x, size_t n, float a)
{
	__m256		a_f32x8 = _mm256_set1_ps(a);
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(x + i, _mm256_mul_ps(_mm256_loadu_ps(x + i), a_f32x8));
	if (i < n)
	{
		__m256i		mask = tail_mask_avx2(n - i);

		_mm256_maskstore_ps(x + i, mask, _mm256_mul_ps(_mm256_maskload_ps(x + i, mask), a_f32x8));
	}
}

/*
 * 1 when every x[i] is finite: x - x is 0 for finite x and NaN for NaN or
 * +/-Infinity, and a sum of those stays 0 only if all of them were 0.
 */
RV_AVX2 static int
all_finite_f32_avx2(const float *x, size_t n)
{
	__m256		acc0_f32x8 = _mm256_setzero_ps(),
				acc1_f32x8 = _mm256_setzero_ps();
	size_t		i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256		x0_f32x8 = _mm256_loadu_ps(x + i);
		__m256		x1_f32x8 = _mm256_loadu_ps(x + i + 8);

		acc0_f32x8 = _mm256_add_ps(acc0_f32x8, _mm256_sub_ps(x0_f32x8, x0_f32x8));
		acc1_f32x8 = _mm256_add_ps(acc1_f32x8, _mm256_sub_ps(x1_f32x8, x1_f32x8));
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		x_f32x8 = _mm256_loadu_ps(x + i);

		acc0_f32x8 = _mm256_add_ps(acc0_f32x8, _mm256_sub_ps(x_f32x8, x_f32x8));
	}
	if (i < n)
	{
		__m256		x_f32x8 = _mm256_maskload_ps(x + i, tail_mask_avx2(n - i));

		acc1_f32x8 = _mm256_add_ps(acc1_f32x8, _mm256_sub_ps(x_f32x8, x_f32x8));
	}
	acc0_f32x8 = _mm256_add_ps(acc0_f32x8, acc1_f32x8);
	return _mm256_movemask_ps(_mm256_cmp_ps(acc0_f32x8, _mm256_setzero_ps(), _CMP_EQ_OQ)) == 0xFF;
}

/* ==== primitives of linear.c, gat.c, sparse.c, moe.c ==== */

/*
 * phi(x) = elu(x) + 1 on 8 lanes as exp(min(x, 0)) + max(x, 0): the exp
 * of x <= 0 gives exactly 1 at 0, so lanes >= 0 get x + 1 and the others
 * exp(x) + 0.  Adding x - x (0 for finite x, NaN otherwise) makes a
 * non-finite input non-finite (min and max would drop a NaN).
 */
RV_AVX2_INLINE __m256
phi_exp_f32x8_avx2(__m256 x_f32x8)
{
	__m256		zero_f32x8 = _mm256_setzero_ps();
	__m256		e_f32x8 = exp_nonpos_f32x8_avx2(_mm256_min_ps(x_f32x8, zero_f32x8));

	return _mm256_add_ps(_mm256_add_ps(e_f32x8, _mm256_max_ps(x_f32x8, zero_f32x8)),
						 _mm256_sub_ps(x_f32x8, x_f32x8));
}

/*
 * phi on 8 lanes, without the exp when no sign bit is set (every lane
 * >= +0, or NaN, for which x + 1 is right too).
 */
RV_AVX2_INLINE __m256
phi_f32x8_avx2(__m256 x_f32x8)
{
	if (_mm256_movemask_ps(x_f32x8) == 0)
		return _mm256_add_ps(x_f32x8, _mm256_set1_ps(1.0f));
	return phi_exp_f32x8_avx2(x_f32x8);
}

/*
 * out[i] = phi(x[i]), 32 floats per step with one sign test for the four
 * registers (a test per register made the loop a third slower on mixed
 * signs); each chunk is loaded before it is stored, so out == x works.
 */
RV_AVX2 static void
phi_f32_avx2(const float *x, size_t n, float *out)
{
	__m256		one_f32x8 = _mm256_set1_ps(1.0f);
	size_t		i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m256		x0_f32x8 = _mm256_loadu_ps(x + i);
		__m256		x1_f32x8 = _mm256_loadu_ps(x + i + 8);
		__m256		x2_f32x8 = _mm256_loadu_ps(x + i + 16);
		__m256		x3_f32x8 = _mm256_loadu_ps(x + i + 24);

		if (_mm256_movemask_ps(_mm256_or_ps(_mm256_or_ps(x0_f32x8, x1_f32x8),
											_mm256_or_ps(x2_f32x8, x3_f32x8))) == 0)
		{
			x0_f32x8 = _mm256_add_ps(x0_f32x8, one_f32x8);
			x1_f32x8 = _mm256_add_ps(x1_f32x8, one_f32x8);
			x2_f32x8 = _mm256_add_ps(x2_f32x8, one_f32x8);
			x3_f32x8 = _mm256_add_ps(x3_f32x8, one_f32x8);
		}
		else
		{
			x0_f32x8 = phi_exp_f32x8_avx2(x0_f32x8);
			x1_f32x8 = phi_exp_f32x8_avx2(x1_f32x8);
			x2_f32x8 = phi_exp_f32x8_avx2(x2_f32x8);
			x3_f32x8 = phi_exp_f32x8_avx2(x3_f32x8);
		}
		_mm256_storeu_ps(out + i, x0_f32x8);
		_mm256_storeu_ps(out + i + 8, x1_f32x8);
		_mm256_storeu_ps(out + i + 16, x2_f32x8);
		_mm256_storeu_ps(out + i + 24, x3_f32x8);
	}
	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, phi_f32x8_avx2(_mm256_loadu_ps(x + i)));
	if (i < n)
	{
		__m256i		mask = tail_mask_avx2(n - i);

		_mm256_maskstore_ps(out + i, mask, phi_f32x8_avx2(_mm256_maskload_ps(x + i, mask)));
	}
}

/* LeakyReLU of x + bias on 8 lanes */
RV_AVX2_INLINE __m256
leaky_f32x8_avx2(__m256 x_f32x8, __m256 bias_f32x8, __m256 slope_f32x8)
{
	__m256		y_f32x8 = _mm256_add_ps(x_f32x8, bias_f32x8);

	return _mm256_blendv_ps(_mm256_mul_ps(y_f32x8, slope_f32x8), y_f32x8,
							_mm256_cmp_ps(y_f32x8, _mm256_setzero_ps(), _CMP_GT_OQ));
}

/*
 * out[i] = LeakyReLU(x[i] + bias), the running max, and the lanes where
 * y - y is not 0 (NaN or +/-Infinity) OR'ed into one register.  Tail
 * lanes past n are left out of both through the mask.
 */
RV_AVX2 static float
leaky_relu_f32_avx2(const float *x, size_t n, float bias, float slope,
					float *out, int *bad)
{
	__m256		bias_f32x8 = _mm256_set1_ps(bias),
				slope_f32x8 = _mm256_set1_ps(slope),
				zero_f32x8 = _mm256_setzero_ps();
	__m256		max0_f32x8 = _mm256_set1_ps(-INFINITY),
				max1_f32x8 = max0_f32x8,
				bad_f32x8 = zero_f32x8;
	size_t		i = 0;

	for (; i + 16 <= n; i += 16)
	{
		__m256		y0_f32x8 = leaky_f32x8_avx2(_mm256_loadu_ps(x + i), bias_f32x8, slope_f32x8);
		__m256		y1_f32x8 = leaky_f32x8_avx2(_mm256_loadu_ps(x + i + 8), bias_f32x8, slope_f32x8);

		_mm256_storeu_ps(out + i, y0_f32x8);
		_mm256_storeu_ps(out + i + 8, y1_f32x8);
		max0_f32x8 = _mm256_max_ps(max0_f32x8, y0_f32x8);
		max1_f32x8 = _mm256_max_ps(max1_f32x8, y1_f32x8);
		bad_f32x8 = _mm256_or_ps(bad_f32x8,
								 _mm256_or_ps(_mm256_cmp_ps(_mm256_sub_ps(y0_f32x8, y0_f32x8),
															zero_f32x8, _CMP_NEQ_UQ),
											  _mm256_cmp_ps(_mm256_sub_ps(y1_f32x8, y1_f32x8),
															zero_f32x8, _CMP_NEQ_UQ)));
	}
	for (; i + 8 <= n; i += 8)
	{
		__m256		y_f32x8 = leaky_f32x8_avx2(_mm256_loadu_ps(x + i), bias_f32x8, slope_f32x8);

		_mm256_storeu_ps(out + i, y_f32x8);
		max0_f32x8 = _mm256_max_ps(max0_f32x8, y_f32x8);
		bad_f32x8 = _mm256_or_ps(bad_f32x8, _mm256_cmp_ps(_mm256_sub_ps(y_f32x8, y_f32x8),
														  zero_f32x8, _CMP_NEQ_UQ));
	}
	if (i < n)
	{
		__m256i		mask = tail_mask_avx2(n - i);
		__m256		y_f32x8 = leaky_f32x8_avx2(_mm256_maskload_ps(x + i, mask), bias_f32x8,
											   slope_f32x8);

		_mm256_maskstore_ps(out + i, mask, y_f32x8);
		max1_f32x8 = _mm256_max_ps(max1_f32x8, _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), y_f32x8,
																_mm256_castsi256_ps(mask)));
		bad_f32x8 = _mm256_or_ps(bad_f32x8,
								 _mm256_and_ps(_mm256_cmp_ps(_mm256_sub_ps(y_f32x8, y_f32x8),
															 zero_f32x8, _CMP_NEQ_UQ),
											   _mm256_castsi256_ps(mask)));
	}
	*bad = _mm256_movemask_ps(bad_f32x8) != 0;
	return hmax_f32x8_avx2(_mm256_max_ps(max0_f32x8, max1_f32x8));
}

/* ==== end of linear, gat, sparse, moe ==== */

/* ==== primitives of hyperbolic.c ==== */

/* a window of 4 entries starting at 4 - rem has rem leading all-ones 64-bit lanes */
static const int64_t tail_mask_pd_table_avx2[8] = {-1, -1, -1, -1, 0, 0, 0, 0};

/* Mask of the first rem (0..4) double lanes. */
RV_AVX2_INLINE __m256i
tail_mask_pd_avx2(size_t rem)
{
	return _mm256_loadu_si256((const __m256i *) (tail_mask_pd_table_avx2 + 4 - rem));
}

/* rem (0..8) doubles from p into lo, hi (zeros past rem), never reading past p + rem */
RV_AVX2_INLINE void
load_pd8_avx2(const double *p, size_t rem, __m256d *lo_f64x4, __m256d *hi_f64x4)
{
	if (rem >= 8)
	{
		*lo_f64x4 = _mm256_loadu_pd(p);
		*hi_f64x4 = _mm256_loadu_pd(p + 4);
		return;
	}
	*lo_f64x4 = _mm256_maskload_pd(p, tail_mask_pd_avx2(rem < 4 ? rem : 4));
	*hi_f64x4 = _mm256_maskload_pd(p + 4, tail_mask_pd_avx2(rem > 4 ? rem - 4 : 0));
}

/* 8 doubles (two registers) rounded to 8 floats, lanes in order */
RV_AVX2_INLINE __m256
cvt_pd8_ps_avx2(__m256d lo_f64x4, __m256d hi_f64x4)
{
	return _mm256_set_m128(_mm256_cvtpd_ps(hi_f64x4), _mm256_cvtpd_ps(lo_f64x4));
}

/* RV_LOG1P (rv_kernels.h) on 8 lanes, FMA in the polynomial */
RV_AVX2_INLINE __m256
log1p_f32x8_avx2(__m256 x_f32x8)
{
	__m256		one_f32x8 = _mm256_set1_ps(1.0f);
	__m256		u_f32x8 = _mm256_add_ps(x_f32x8, one_f32x8);
	__m256i		ix_i32x8 = _mm256_add_epi32(_mm256_castps_si256(u_f32x8),
											_mm256_set1_epi32(RV_LOG1P_BIAS));
	__m256		k_f32x8 = _mm256_cvtepi32_ps(_mm256_sub_epi32(_mm256_srli_epi32(ix_i32x8, 23),
															  _mm256_set1_epi32(127)));
	__m256		m_f32x8 = _mm256_castsi256_ps(_mm256_add_epi32(_mm256_and_si256(ix_i32x8,
																				_mm256_set1_epi32(0x007fffff)),
															   _mm256_set1_epi32(RV_LOG1P_SQRTHF_BITS)));
	__m256		f_f32x8 = _mm256_sub_ps(m_f32x8, one_f32x8);
	__m256		corr_f32x8 = _mm256_div_ps(_mm256_sub_ps(x_f32x8, _mm256_sub_ps(u_f32x8, one_f32x8)),
										   u_f32x8);
	__m256		z_f32x8 = _mm256_mul_ps(f_f32x8, f_f32x8);
	__m256		p_f32x8,
				y_f32x8,
				r_f32x8,
				special_f32x8,
				ok_f32x8;

	p_f32x8 = _mm256_fmadd_ps(_mm256_set1_ps(RV_LOG1P_P8), f_f32x8, _mm256_set1_ps(RV_LOG1P_P7));
	p_f32x8 = _mm256_fmadd_ps(p_f32x8, f_f32x8, _mm256_set1_ps(RV_LOG1P_P6));
	p_f32x8 = _mm256_fmadd_ps(p_f32x8, f_f32x8, _mm256_set1_ps(RV_LOG1P_P5));
	p_f32x8 = _mm256_fmadd_ps(p_f32x8, f_f32x8, _mm256_set1_ps(RV_LOG1P_P4));
	p_f32x8 = _mm256_fmadd_ps(p_f32x8, f_f32x8, _mm256_set1_ps(RV_LOG1P_P3));
	p_f32x8 = _mm256_fmadd_ps(p_f32x8, f_f32x8, _mm256_set1_ps(RV_LOG1P_P2));
	p_f32x8 = _mm256_fmadd_ps(p_f32x8, f_f32x8, _mm256_set1_ps(RV_LOG1P_P1));
	p_f32x8 = _mm256_fmadd_ps(p_f32x8, f_f32x8, _mm256_set1_ps(RV_LOG1P_P0));
	y_f32x8 = _mm256_mul_ps(_mm256_mul_ps(p_f32x8, f_f32x8), z_f32x8);
	y_f32x8 = _mm256_fmadd_ps(k_f32x8, _mm256_set1_ps(RV_LN2_LO), y_f32x8);
	y_f32x8 = _mm256_fnmadd_ps(_mm256_set1_ps(0.5f), z_f32x8, y_f32x8);
	y_f32x8 = _mm256_add_ps(y_f32x8, corr_f32x8);
	r_f32x8 = _mm256_add_ps(f_f32x8, y_f32x8);
	r_f32x8 = _mm256_fmadd_ps(k_f32x8, _mm256_set1_ps(RV_LN2_HI), r_f32x8);

	/* NaN and +Infinity give x, -1 gives -Infinity, below -1 NaN */
	ok_f32x8 = _mm256_and_ps(_mm256_cmp_ps(x_f32x8, _mm256_set1_ps(-1.0f), _CMP_GT_OQ),
							 _mm256_cmp_ps(x_f32x8, _mm256_set1_ps(INFINITY), _CMP_LT_OQ));
	special_f32x8 = _mm256_blendv_ps(_mm256_set1_ps(NAN), x_f32x8,
									 _mm256_cmp_ps(x_f32x8, _mm256_set1_ps(-1.0f), _CMP_GT_OQ));
	special_f32x8 = _mm256_blendv_ps(special_f32x8, _mm256_set1_ps(-INFINITY),
									 _mm256_cmp_ps(x_f32x8, _mm256_set1_ps(-1.0f), _CMP_EQ_OQ));
	return _mm256_blendv_ps(special_f32x8, r_f32x8, ok_f32x8);
}

/* RV_SQNORM's lane combination of lanes lo = [l0..l3], hi = [l4..l7] */
RV_AVX2_INLINE double
sqnorm_reduce_avx2(__m256d lo_f64x4, __m256d hi_f64x4)
{
	__m256d		s_f64x4 = _mm256_add_pd(lo_f64x4, hi_f64x4);
	__m128d		h_f64x2 = _mm_add_pd(_mm256_castpd256_pd128(s_f64x4),
									 _mm256_extractf128_pd(s_f64x4, 1));

	return _mm_cvtsd_f64(_mm_add_sd(h_f64x2, _mm_unpackhi_pd(h_f64x2, h_f64x2)));
}

/*
 * For `rows` rows k[r] (a constant 4 or 8 after inlining), over d columns,
 * the double-norm kernel of sqnorm_rows: kk_f64x4[2r], kk_f64x4[2r + 1]
 * accumulate k_r^2 in the 8 double lanes of RV_SQNORM (columns j, j + 4
 * of each chunk of 8 as lanes 0..3, 4..7).  The d tail is one masked
 * chunk of zeros past d.
 */
RV_AVX2_INLINE void
sqnorm_f64_rows_avx2(const float *const *k, size_t d, const int rows,
					 __m256d *kk_f64x4)
{
	size_t		j = 0;

	RV_UNROLL
	for (int r = 0; r < rows; r++)
		kk_f64x4[2 * r] = kk_f64x4[2 * r + 1] = _mm256_setzero_pd();
	for (; j + 8 <= d; j += 8)
		RV_UNROLL
		for (int r = 0; r < rows; r++)
		{
			/* converted straight from memory: no extract of the high half */
			__m256d		lo_f64x4 = _mm256_cvtps_pd(_mm_loadu_ps(k[r] + j));
			__m256d		hi_f64x4 = _mm256_cvtps_pd(_mm_loadu_ps(k[r] + j + 4));

			kk_f64x4[2 * r] = _mm256_fmadd_pd(lo_f64x4, lo_f64x4, kk_f64x4[2 * r]);
			kk_f64x4[2 * r + 1] = _mm256_fmadd_pd(hi_f64x4, hi_f64x4, kk_f64x4[2 * r + 1]);
		}
	if (j < d)
	{
		__m256i		mask = tail_mask_avx2(d - j);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
		{
			__m256		k_f32x8 = _mm256_maskload_ps(k[r] + j, mask);
			__m256d		lo_f64x4 = _mm256_cvtps_pd(_mm256_castps256_ps128(k_f32x8));
			__m256d		hi_f64x4 = _mm256_cvtps_pd(_mm256_extractf128_ps(k_f32x8, 1));

			kk_f64x4[2 * r] = _mm256_fmadd_pd(lo_f64x4, lo_f64x4, kk_f64x4[2 * r]);
			kk_f64x4[2 * r + 1] = _mm256_fmadd_pd(hi_f64x4, hi_f64x4, kk_f64x4[2 * r + 1]);
		}
	}
}

/*
 * The float kernel of sqdist_rows and sqnorm_rows_f32 for `rows` rows k[r]
 * (a constant 4 or 8 after inlining; with pk or kd, 4): when want_d2,
 * d2_f32x8[r] accumulates (q - k_r)^2 in 8 float lanes over all d; when
 * want_kk (want_pk), the 8 float lanes of k_r^2 ((q - k_r)(q + k_r))
 * run over a block of RV_SQNORM_F32_BLOCK columns, are reduced by the
 * transpose tree of four rows and added in double to kk_f64x4[r / 4]
 * (pk_f64x4[r / 4]), lane r % 4: RV_SQNORM_F32 with 8 lanes and FMA;
 * when want_kd, kd_f64x4[2r], kd_f64x4[2r + 1] accumulate k_r^2 in the 8
 * double lanes of RV_SQNORM, exactly as sqnorm_f64_rows_avx2.  The d tail
 * is one masked chunk of zeros past d.
 */
RV_AVX2_INLINE void
sq_rows_f32_avx2(const float *q, const float *const *k, size_t d,
				 const int rows, const int want_d2, const int want_kk,
				 const int want_pk, const int want_kd, __m256 *d2_f32x8,
				 __m256d *kk_f64x4, __m256d *pk_f64x4, __m256d *kd_f64x4)
{
	__m256		kk_f32x8[8],
				pk_f32x8[8];

	RV_UNROLL
	for (int r = 0; r < rows; r++)
	{
		d2_f32x8[r] = kk_f32x8[r] = pk_f32x8[r] = _mm256_setzero_ps();
		if (want_kd)
			kd_f64x4[2 * r] = kd_f64x4[2 * r + 1] = _mm256_setzero_pd();
	}
	RV_UNROLL
	for (int g = 0; g < rows / 4; g++)
		kk_f64x4[g] = pk_f64x4[g] = _mm256_setzero_pd();
	for (size_t jb = 0; jb < d; jb += RV_SQNORM_F32_BLOCK)
	{
		size_t		je = d - jb < RV_SQNORM_F32_BLOCK ? d : jb + RV_SQNORM_F32_BLOCK;
		size_t		j = jb;

		for (; j + 8 <= je; j += 8)
		{
			__m256		q_f32x8 = want_d2 || want_pk ? _mm256_loadu_ps(q + j) : _mm256_setzero_ps();

			RV_UNROLL
			for (int r = 0; r < rows; r++)
			{
				__m256		k_f32x8 = _mm256_loadu_ps(k[r] + j);
				__m256		e_f32x8;

				/* one load per chunk: folded into both the sub and the add, a misaligned row costs two split loads */
				if (want_pk)
					__asm__("" : "+x"(k_f32x8));
				e_f32x8 = _mm256_sub_ps(q_f32x8, k_f32x8);

				if (want_d2)
					d2_f32x8[r] = _mm256_fmadd_ps(e_f32x8, e_f32x8, d2_f32x8[r]);
				if (want_kk)
					kk_f32x8[r] = _mm256_fmadd_ps(k_f32x8, k_f32x8, kk_f32x8[r]);
				if (want_pk)
					pk_f32x8[r] = _mm256_fmadd_ps(e_f32x8, _mm256_add_ps(q_f32x8, k_f32x8), pk_f32x8[r]);
				if (want_kd)
				{
					/* converted straight from memory: no extract of the high half */
					__m256d		lo_f64x4 = _mm256_cvtps_pd(_mm_loadu_ps(k[r] + j));
					__m256d		hi_f64x4 = _mm256_cvtps_pd(_mm_loadu_ps(k[r] + j + 4));

					kd_f64x4[2 * r] = _mm256_fmadd_pd(lo_f64x4, lo_f64x4, kd_f64x4[2 * r]);
					kd_f64x4[2 * r + 1] = _mm256_fmadd_pd(hi_f64x4, hi_f64x4, kd_f64x4[2 * r + 1]);
				}
			}
		}
		if (j < je)
		{
			__m256i		mask = tail_mask_avx2(je - j);
			__m256		q_f32x8 = want_d2 || want_pk ? _mm256_maskload_ps(q + j, mask) : _mm256_setzero_ps();

			RV_UNROLL
			for (int r = 0; r < rows; r++)
			{
				__m256		k_f32x8 = _mm256_maskload_ps(k[r] + j, mask);
				__m256		e_f32x8 = _mm256_sub_ps(q_f32x8, k_f32x8);

				if (want_d2)
					d2_f32x8[r] = _mm256_fmadd_ps(e_f32x8, e_f32x8, d2_f32x8[r]);
				if (want_kk)
					kk_f32x8[r] = _mm256_fmadd_ps(k_f32x8, k_f32x8, kk_f32x8[r]);
				if (want_pk)
					pk_f32x8[r] = _mm256_fmadd_ps(e_f32x8, _mm256_add_ps(q_f32x8, k_f32x8), pk_f32x8[r]);
				if (want_kd)
				{
					__m256d		lo_f64x4 = _mm256_cvtps_pd(_mm256_castps256_ps128(k_f32x8));
					__m256d		hi_f64x4 = _mm256_cvtps_pd(_mm256_extractf128_ps(k_f32x8, 1));

					kd_f64x4[2 * r] = _mm256_fmadd_pd(lo_f64x4, lo_f64x4, kd_f64x4[2 * r]);
					kd_f64x4[2 * r + 1] = _mm256_fmadd_pd(hi_f64x4, hi_f64x4, kd_f64x4[2 * r + 1]);
				}
			}
		}
		RV_UNROLL
		for (int g = 0; g < rows / 4; g++)
		{
			if (want_kk)
				kk_f64x4[g] = _mm256_add_pd(kk_f64x4[g], _mm256_cvtps_pd(reduce_rows4_f32x8(kk_f32x8 + 4 * g)));
			if (want_pk)
				pk_f64x4[g] = _mm256_add_pd(pk_f64x4[g], _mm256_cvtps_pd(reduce_rows4_f32x8(pk_f32x8 + 4 * g)));
		}
		RV_UNROLL
		for (int r = 0; r < rows; r++)
			kk_f32x8[r] = pk_f32x8[r] = _mm256_setzero_ps();
	}
}

/*
 * The row loop of sqdist_rows, sqnorm_rows_f32 and sqnorm_rows: `rows`
 * row slots (a constant 4 or 8), each walking its own contiguous, skewed
 * stretch of rows as in scores_f32_avx2, so that K streams from DRAM as
 * `rows` sequential streams; the n % rows last rows reuse the kernel with
 * the missing slots aimed at the last real row and only the real results
 * stored.  With only want_kd: the double kernel of sqnorm_rows.
 */
RV_AVX2_INLINE void
sq_rows_loop_f32_avx2(const float *q, const float *K, size_t n, size_t d,
					  size_t ldk, float *d2, float *kk, float *pk, double *kd,
					  const int rows, const int want_d2, const int want_kk,
					  const int want_pk, const int want_kd)
{
	__m256		d2_f32x8[8];
	__m256d		kk_f64x4[16],
				pk_f64x4[2],
				kd_f64x4[8];
	const float *k[8];
	size_t		blocks = n / rows;
	size_t		skew[8];
	size_t		row[8];

	for (int r = 0; r < rows && blocks > 0; r++)
		skew[r] = (size_t) r % blocks;
	for (size_t b = 0; b <= blocks; b++)
	{
		int			real = rows;

		if (b == blocks)
		{
			real = (int) (n - blocks * rows);
			if (real == 0)
				break;
			for (int r = 0; r < rows; r++)
				row[r] = blocks * rows + (size_t) (r < real ? r : real - 1);
		}
		else
			RV_UNROLL
			for (int r = 0; r < rows; r++)
				row[r] = rv_stream_row(r, blocks, b, skew[r]);
		RV_UNROLL
		for (int r = 0; r < rows; r++)
			k[r] = K + row[r] * ldk;
		if (want_kd && !want_d2 && !want_kk && !want_pk)
		{
			sqnorm_f64_rows_avx2(k, d, rows, kk_f64x4);
			for (int r = 0; r < real; r++)
				kd[row[r]] = sqnorm_reduce_avx2(kk_f64x4[2 * r], kk_f64x4[2 * r + 1]);
			continue;
		}
		sq_rows_f32_avx2(q, k, d, rows, want_d2, want_kk, want_pk, want_kd,
						 d2_f32x8, kk_f64x4, pk_f64x4, kd_f64x4);
		if (want_kd)
			for (int r = 0; r < real; r++)
				kd[row[r]] = sqnorm_reduce_avx2(kd_f64x4[2 * r], kd_f64x4[2 * r + 1]);
		if (want_d2)
		{
			float		s8[8];

			if (rows == 8)
				_mm256_storeu_ps(s8, reduce_rows8_f32x8(d2_f32x8));
			else
				_mm_storeu_ps(s8, reduce_rows4_f32x8(d2_f32x8));
			for (int r = 0; r < real; r++)
				d2[row[r]] = s8[r];
		}
		if (want_kk)
		{
			float		s8[8];

			_mm_storeu_ps(s8, _mm256_cvtpd_ps(kk_f64x4[0]));
			if (rows == 8)
				_mm_storeu_ps(s8 + 4, _mm256_cvtpd_ps(kk_f64x4[1]));
			for (int r = 0; r < real; r++)
				kk[row[r]] = s8[r];
		}
		if (want_pk)
		{
			float		s4[4];

			_mm_storeu_ps(s4, _mm256_cvtpd_ps(pk_f64x4[0]));
			for (int r = 0; r < real; r++)
				pk[row[r]] = s4[r];
		}
	}
}

/*
 * One specialised loop per combination of outputs (noinline: inlined into
 * one function, gcc merged them into one body with run-time tests and
 * spilled accumulators).  Rows per step: 4 with any norm (the
 * accumulators fit the 16 registers), 8 for distances alone.
 */
#define RV_AVX2_LOOP __attribute__((noinline, target("avx2,fma"))) static void

RV_AVX2_LOOP
sq_loop_d2_avx2(const float *q, const float *K, size_t n, size_t d, size_t ldk, float *d2)
{
	sq_rows_loop_f32_avx2(q, K, n, d, ldk, d2, NULL, NULL, NULL, 8, 1, 0, 0, 0);
}

RV_AVX2_LOOP
sq_loop_d2_kk_avx2(const float *q, const float *K, size_t n, size_t d, size_t ldk,
				   float *d2, float *kk)
{
	sq_rows_loop_f32_avx2(q, K, n, d, ldk, d2, kk, NULL, NULL, 4, 1, 1, 0, 0);
}

RV_AVX2_LOOP
sq_loop_d2_pk_avx2(const float *q, const float *K, size_t n, size_t d, size_t ldk,
				   float *d2, float *pk)
{
	sq_rows_loop_f32_avx2(q, K, n, d, ldk, d2, NULL, pk, NULL, 4, 1, 0, 1, 0);
}

/* distances and double norms: keys near the boundary (the loop of the earlier double design) */
RV_AVX2_LOOP
sq_loop_d2_kd_avx2(const float *q, const float *K, size_t n, size_t d, size_t ldk,
				   float *d2, double *kd)
{
	sq_rows_loop_f32_avx2(q, K, n, d, ldk, d2, NULL, NULL, kd, 4, 1, 0, 0, 1);
}

/* the combinations no driver asks for: correct, not tuned (they spill) */
RV_AVX2_LOOP
sq_loop_any_avx2(const float *q, const float *K, size_t n, size_t d, size_t ldk,
				 float *d2, float *kk, float *pk, double *kd)
{
	if (kk && pk && kd)
		sq_rows_loop_f32_avx2(q, K, n, d, ldk, d2, kk, pk, kd, 4, 1, 1, 1, 1);
	else if (kk && pk)
		sq_rows_loop_f32_avx2(q, K, n, d, ldk, d2, kk, pk, NULL, 4, 1, 1, 1, 0);
	else if (kk)
		sq_rows_loop_f32_avx2(q, K, n, d, ldk, d2, kk, NULL, kd, 4, 1, 1, 0, 1);
	else
		sq_rows_loop_f32_avx2(q, K, n, d, ldk, d2, NULL, pk, kd, 4, 1, 0, 1, 1);
}

RV_AVX2 static void
sqnorm_rows_f64_avx2(const float *X, size_t n, size_t d, size_t ldx, double *out)
{
	sq_rows_loop_f32_avx2(NULL, X, n, d, ldx, NULL, NULL, NULL, out, 4, 0, 0, 0, 1);
}

RV_AVX2 static void
sqnorm_rows_f32_avx2(const float *X, size_t n, size_t d, size_t ldx, float *out)
{
	sq_rows_loop_f32_avx2(NULL, X, n, d, ldx, NULL, out, NULL, NULL, 4, 0, 1, 0, 0);
}

RV_AVX2 static void
sqdist_rows_f32_avx2(const float *q, const float *K, size_t n, size_t d,
					 size_t ldk, float *d2, float *kk, float *pk, double *kd)
{
	if (kd && !kk && !pk)
		sq_loop_d2_kd_avx2(q, K, n, d, ldk, d2, kd);
	else if (kd || (kk && pk))
		sq_loop_any_avx2(q, K, n, d, ldk, d2, kk, pk, kd);
	else if (kk)
		sq_loop_d2_kk_avx2(q, K, n, d, ldk, d2, kk);
	else if (pk)
		sq_loop_d2_pk_avx2(q, K, n, d, ldk, d2, pk);
	else
		sq_loop_d2_avx2(q, K, n, d, ldk, d2);
}

/* the rem (0..8) first floats at p, zeros past rem, never reading past p + rem */
RV_AVX2_INLINE __m256
load_ps8_avx2(const float *p, size_t rem)
{
	return rem >= 8 ? _mm256_loadu_ps(p) : _mm256_maskload_ps(p, tail_mask_avx2(rem));
}

/* the rem (1..8) first lanes of v to p */
RV_AVX2_INLINE void
store_ps8_avx2(float *p, size_t rem, __m256 v_f32x8)
{
	if (rem >= 8)
		_mm256_storeu_ps(p, v_f32x8);
	else
		_mm256_maskstore_ps(p, tail_mask_avx2(rem), v_f32x8);
}

RV_AVX2 static size_t
ball_gaps_f32_avx2(const float *x, size_t n, float c, float xmax, float *a)
{
	__m256d		c_f64x4 = _mm256_set1_pd(c),
				one_f64x4 = _mm256_set1_pd(1.0);
	__m256		xmax_f32x8 = _mm256_set1_ps(xmax);
	size_t		flagged = 0;

	for (size_t i = 0; i < n; i += 8)
	{
		size_t		rem = n - i < 8 ? n - i : 8;
		__m256		x_f32x8 = load_ps8_avx2(x + i, rem);
		__m256		ok_f32x8 = _mm256_cmp_ps(x_f32x8, xmax_f32x8, _CMP_LE_OQ);
		__m256		a_f32x8 = cvt_pd8_ps_avx2(
			_mm256_fnmadd_pd(c_f64x4, _mm256_cvtps_pd(_mm256_castps256_ps128(x_f32x8)), one_f64x4),
			_mm256_fnmadd_pd(c_f64x4, _mm256_cvtps_pd(_mm256_extractf128_ps(x_f32x8, 1)), one_f64x4));
		unsigned	bad = (unsigned) ~_mm256_movemask_ps(ok_f32x8) & ((1u << rem) - 1u);

		flagged += (size_t) __builtin_popcount(bad);
		store_ps8_avx2(a + i, rem, _mm256_blendv_ps(_mm256_set1_ps(NAN), a_f32x8, ok_f32x8));
	}
	return flagged;
}

RV_AVX2 static void
ball_gaps_f64_avx2(const double *kd, size_t n, float c, float *a, float *xf)
{
	__m256d		c_f64x4 = _mm256_set1_pd(c),
				one_f64x4 = _mm256_set1_pd(1.0),
				zero_f64x4 = _mm256_setzero_pd();

	for (size_t i = 0; i < n; i += 8)
	{
		size_t		rem = n - i < 8 ? n - i : 8;
		__m256d		lo_f64x4,
					hi_f64x4,
					glo_f64x4,
					ghi_f64x4;

		load_pd8_avx2(kd + i, rem, &lo_f64x4, &hi_f64x4);
		/* a product, then a difference: the ball test */
		glo_f64x4 = _mm256_sub_pd(one_f64x4, _mm256_mul_pd(c_f64x4, lo_f64x4));
		ghi_f64x4 = _mm256_sub_pd(one_f64x4, _mm256_mul_pd(c_f64x4, hi_f64x4));
		glo_f64x4 = _mm256_blendv_pd(_mm256_set1_pd(NAN), glo_f64x4, _mm256_cmp_pd(glo_f64x4, zero_f64x4, _CMP_GT_OQ));
		ghi_f64x4 = _mm256_blendv_pd(_mm256_set1_pd(NAN), ghi_f64x4, _mm256_cmp_pd(ghi_f64x4, zero_f64x4, _CMP_GT_OQ));
		store_ps8_avx2(a + i, rem, cvt_pd8_ps_avx2(glo_f64x4, ghi_f64x4));
		if (xf)
			store_ps8_avx2(xf + i, rem, cvt_pd8_ps_avx2(lo_f64x4, hi_f64x4));
	}
}

/* 0 - RV_DIST(X) * rc on 8 lanes (+0 at X = 0; NaN stays NaN) */
RV_AVX2_INLINE __m256
neg_dist_f32x8_avx2(__m256 X_f32x8, __m256 rc_f32x8)
{
	__m256		y_f32x8 = _mm256_add_ps(X_f32x8, _mm256_sqrt_ps(_mm256_fmadd_ps(X_f32x8, X_f32x8, X_f32x8)));

	y_f32x8 = _mm256_blendv_ps(_mm256_add_ps(X_f32x8, X_f32x8), y_f32x8,
							   _mm256_cmp_ps(X_f32x8, _mm256_set1_ps(RV_DIST_BIG), _CMP_LT_OQ));
	return _mm256_sub_ps(_mm256_setzero_ps(),
						 _mm256_mul_ps(log1p_f32x8_avx2(_mm256_add_ps(y_f32x8, y_f32x8)), rc_f32x8));
}

RV_AVX2 static float
poincare_logits_f32_avx2(const float *d2, const float *a, size_t n, float aq,
						 float c, float *s)
{
	__m256		c_f32x8 = _mm256_set1_ps(c),
				rc_f32x8 = _mm256_set1_ps((float) (1.0 / sqrt((double) c))),
				aq_f32x8 = _mm256_set1_ps(aq),
				max_f32x8 = _mm256_set1_ps(-INFINITY);

	for (size_t i = 0; i < n; i += 8)
	{
		size_t		rem = n - i < 8 ? n - i : 8;
		__m256		a_f32x8 = load_ps8_avx2(a + i, rem);
		__m256		X_f32x8 = _mm256_div_ps(_mm256_mul_ps(c_f32x8, load_ps8_avx2(d2 + i, rem)),
											_mm256_mul_ps(aq_f32x8, a_f32x8));
		__m256		s_f32x8 = _mm256_blendv_ps(_mm256_set1_ps(NAN), neg_dist_f32x8_avx2(X_f32x8, rc_f32x8),
											   _mm256_cmp_ps(a_f32x8, _mm256_setzero_ps(), _CMP_GT_OQ));

		store_ps8_avx2(s + i, rem, s_f32x8);
		if (rem < 8)
			s_f32x8 = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), s_f32x8,
									   _mm256_castsi256_ps(tail_mask_avx2(rem)));
		max_f32x8 = _mm256_max_ps(max_f32x8, s_f32x8);
	}
	return hmax_f32x8_avx2(max_f32x8);
}

RV_AVX2 static void
poincare_log0_f32_avx2(const float *vv, const float *a, size_t n, float c, float *f)
{
	__m256		c_f32x8 = _mm256_set1_ps(c),
				one_f32x8 = _mm256_set1_ps(1.0f);

	for (size_t i = 0; i < n; i += 8)
	{
		size_t		rem = n - i < 8 ? n - i : 8;
		__m256		a_f32x8 = load_ps8_avx2(a + i, rem);
		__m256		r_f32x8 = _mm256_sqrt_ps(_mm256_mul_ps(c_f32x8, load_ps8_avx2(vv + i, rem)));
		__m256		r2_f32x8 = _mm256_add_ps(r_f32x8, r_f32x8);
		__m256		t_f32x8 = _mm256_div_ps(_mm256_mul_ps(r2_f32x8, _mm256_add_ps(one_f32x8, r_f32x8)),
											a_f32x8);
		__m256		f_f32x8 = _mm256_div_ps(log1p_f32x8_avx2(t_f32x8), r2_f32x8);

		f_f32x8 = _mm256_blendv_ps(f_f32x8, one_f32x8,
								   _mm256_cmp_ps(r_f32x8, _mm256_setzero_ps(), _CMP_EQ_OQ));
		f_f32x8 = _mm256_blendv_ps(_mm256_set1_ps(NAN), f_f32x8,
								   _mm256_cmp_ps(a_f32x8, _mm256_setzero_ps(), _CMP_GT_OQ));
		store_ps8_avx2(f + i, rem, f_f32x8);
	}
}

RV_AVX2 static void
mul_f32_avx2(const float *x, const float *y, size_t n, float *out)
{
	for (size_t i = 0; i < n; i += 8)
	{
		size_t		rem = n - i < 8 ? n - i : 8;

		store_ps8_avx2(out + i, rem, _mm256_mul_ps(load_ps8_avx2(x + i, rem), load_ps8_avx2(y + i, rem)));
	}
}

RV_AVX2 static size_t
lorentz_chord_f32_avx2(const float *d2, const float *pk, size_t n, double qq,
					   float c, float *t)
{
	double		ic = 1.0 / (double) c;
	__m256		q0_f32x8 = _mm256_set1_ps((float) sqrt(ic + qq)),
				q0sq_f32x8 = _mm256_set1_ps((float) (ic + qq)),
				abs_f32x8 = _mm256_castsi256_ps(_mm256_set1_epi32(0x7fffffff));
	size_t		flagged = 0;

	for (size_t i = 0; i < n; i += 8)
	{
		size_t		rem = n - i < 8 ? n - i : 8;
		__m256		d2_f32x8 = load_ps8_avx2(d2 + i, rem);
		__m256		pk_f32x8 = load_ps8_avx2(pk + i, rem);
		__m256		k0_f32x8 = _mm256_sqrt_ps(_mm256_sub_ps(q0sq_f32x8, pk_f32x8));
		__m256		den_f32x8 = _mm256_add_ps(q0_f32x8, k0_f32x8);
		__m256		t_f32x8 = _mm256_div_ps(pk_f32x8, den_f32x8);
		__m256		t2_f32x8 = _mm256_mul_ps(t_f32x8, t_f32x8);
		__m256		sd_f32x8 = _mm256_sqrt_ps(d2_f32x8);
		__m256		p_f32x8 = _mm256_fmadd_ps(_mm256_set1_ps(RV_CHORD_G), sd_f32x8,
											  _mm256_mul_ps(_mm256_set1_ps(RV_CHORD_UH), den_f32x8));
		__m256		kb_f32x8 = _mm256_fmadd_ps(_mm256_set1_ps(RV_CHORD_U3), k0_f32x8, p_f32x8);
		__m256		y_f32x8 = _mm256_sub_ps(d2_f32x8, t2_f32x8);
		__m256		in_f32x8 = _mm256_fmadd_ps(_mm256_mul_ps(_mm256_set1_ps(RV_CHORD_A),
															 _mm256_and_ps(t_f32x8, abs_f32x8)), sd_f32x8,
											   _mm256_fnmadd_ps(_mm256_set1_ps((float) RV_HYP_TOL), y_f32x8,
																_mm256_mul_ps(_mm256_set1_ps(RV_CHORD_C), d2_f32x8)));
		__m256		lhs_f32x8 = _mm256_fmadd_ps(k0_f32x8, in_f32x8,
												_mm256_mul_ps(_mm256_mul_ps(_mm256_set1_ps(RV_CHORD_D), kb_f32x8),
															  t2_f32x8));
		__m256		ok_f32x8 = _mm256_and_ps(_mm256_and_ps(_mm256_cmp_ps(k0_f32x8, _mm256_set1_ps(INFINITY), _CMP_LT_OQ),
														   _mm256_cmp_ps(kb_f32x8,
																		 _mm256_mul_ps(_mm256_set1_ps(RV_CHORD_BMAX), k0_f32x8),
																		 _CMP_LE_OQ)),
											 _mm256_cmp_ps(lhs_f32x8, _mm256_setzero_ps(), _CMP_LE_OQ));
		unsigned	bad = (unsigned) ~_mm256_movemask_ps(ok_f32x8) & ((1u << rem) - 1u);

		flagged += (size_t) __builtin_popcount(bad);
		store_ps8_avx2(t + i, rem, _mm256_blendv_ps(_mm256_set1_ps(NAN), t_f32x8, ok_f32x8));
	}
	return flagged;
}

RV_AVX2 static void
lorentz_chord_f64_avx2(const double *kd, size_t n, double qq, float c, float *t)
{
	double		ic = 1.0 / (double) c;
	__m256d		ic_f64x4 = _mm256_set1_pd(ic),
				qq_f64x4 = _mm256_set1_pd(qq),
				q0_f64x4 = _mm256_set1_pd(sqrt(ic + qq));

	for (size_t i = 0; i < n; i += 8)
	{
		size_t		rem = n - i < 8 ? n - i : 8;
		__m256d		lo_f64x4,
					hi_f64x4;

		load_pd8_avx2(kd + i, rem, &lo_f64x4, &hi_f64x4);
		lo_f64x4 = _mm256_div_pd(_mm256_sub_pd(qq_f64x4, lo_f64x4),
								 _mm256_add_pd(q0_f64x4, _mm256_sqrt_pd(_mm256_add_pd(ic_f64x4, lo_f64x4))));
		hi_f64x4 = _mm256_div_pd(_mm256_sub_pd(qq_f64x4, hi_f64x4),
								 _mm256_add_pd(q0_f64x4, _mm256_sqrt_pd(_mm256_add_pd(ic_f64x4, hi_f64x4))));
		store_ps8_avx2(t + i, rem, cvt_pd8_ps_avx2(lo_f64x4, hi_f64x4));
	}
}

RV_AVX2 static float
lorentz_logits_f32_avx2(const float *d2, const float *t, size_t n, float c,
						float *s)
{
	__m256		qc_f32x8 = _mm256_set1_ps((float) ((double) c / 4.0)),
				rc_f32x8 = _mm256_set1_ps((float) (1.0 / sqrt((double) c))),
				ill_f32x8 = _mm256_set1_ps(RV_LORENTZ_ILL),
				max_f32x8 = _mm256_set1_ps(-INFINITY);

	for (size_t i = 0; i < n; i += 8)
	{
		size_t		rem = n - i < 8 ? n - i : 8;
		__m256		d2_f32x8 = load_ps8_avx2(d2 + i, rem);
		__m256		t_f32x8 = load_ps8_avx2(t + i, rem);
		__m256		y_f32x8 = _mm256_sub_ps(d2_f32x8, _mm256_mul_ps(t_f32x8, t_f32x8));
		/* y < 0 becomes 0; NaN stays NaN (maxps returns its second operand) */
		__m256		X_f32x8 = _mm256_mul_ps(qc_f32x8, _mm256_max_ps(_mm256_setzero_ps(), y_f32x8));
		__m256		s_f32x8 = _mm256_blendv_ps(neg_dist_f32x8_avx2(X_f32x8, rc_f32x8), _mm256_set1_ps(INFINITY),
											   _mm256_cmp_ps(d2_f32x8, _mm256_mul_ps(ill_f32x8, y_f32x8),
															 _CMP_GT_OQ));

		store_ps8_avx2(s + i, rem, s_f32x8);
		if (rem < 8)
			s_f32x8 = _mm256_blendv_ps(_mm256_set1_ps(-INFINITY), s_f32x8,
									   _mm256_castsi256_ps(tail_mask_avx2(rem)));
		max_f32x8 = _mm256_max_ps(max_f32x8, s_f32x8);
	}
	return hmax_f32x8_avx2(max_f32x8);
}

/* 8 double lanes (i % 8, as two registers), combined as RV_SQNORM's lanes */
RV_AVX2 static double
lorentz_time_f32_avx2(const float *w, const float *vv, size_t n, float c)
{
	__m256		ic_f32x8 = _mm256_set1_ps((float) (1.0 / (double) c));
	__m256d		lo_f64x4 = _mm256_setzero_pd(),
				hi_f64x4 = _mm256_setzero_pd();

	for (size_t i = 0; i < n; i += 8)
	{
		size_t		rem = n - i < 8 ? n - i : 8;
		/* lanes past rem: weight 0 and root sqrt(1/c), finite */
		__m256		w_f32x8 = load_ps8_avx2(w + i, rem);
		__m256		v0_f32x8 = _mm256_sqrt_ps(_mm256_add_ps(ic_f32x8, load_ps8_avx2(vv + i, rem)));

		lo_f64x4 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_castps256_ps128(w_f32x8)),
								   _mm256_cvtps_pd(_mm256_castps256_ps128(v0_f32x8)), lo_f64x4);
		hi_f64x4 = _mm256_fmadd_pd(_mm256_cvtps_pd(_mm256_extractf128_ps(w_f32x8, 1)),
								   _mm256_cvtps_pd(_mm256_extractf128_ps(v0_f32x8, 1)), hi_f64x4);
	}
	return sqnorm_reduce_avx2(lo_f64x4, hi_f64x4);
}

/*
 * One step of weighted_sum_sqnorm over all dv columns: out += the `rows`
 * (1 or 4, a constant) rows v[r] weighted by w_f32x8[r], added in row
 * order per chunk of out (as add_rows_f32_avx2), and when want_vv (4
 * rows) their RV_SQNORM_F32 norms, from the same registers, into
 * *vv_f64x4 (lane r), exactly as sq_rows_f32_avx2 sums them.
 */
RV_AVX2_INLINE void
ws_norm_step_avx2(const float *const *v, const __m256 *w_f32x8, const int rows,
				  const int want_vv, size_t dv, float *out, __m256d *vv_f64x4)
{
	__m256		n_f32x8[4];

	RV_UNROLL
	for (int r = 0; r < 4; r++)
		n_f32x8[r] = _mm256_setzero_ps();
	*vv_f64x4 = _mm256_setzero_pd();
	for (size_t jb = 0; jb < dv; jb += RV_SQNORM_F32_BLOCK)
	{
		size_t		je = dv - jb < RV_SQNORM_F32_BLOCK ? dv : jb + RV_SQNORM_F32_BLOCK;
		size_t		j = jb;

		for (; j + 8 <= je; j += 8)
		{
			__m256		acc_f32x8 = _mm256_loadu_ps(out + j);

			RV_UNROLL
			for (int r = 0; r < rows; r++)
			{
				__m256		v_f32x8 = _mm256_loadu_ps(v[r] + j);

				/* one load: folded into both FMAs, a misaligned row costs two split loads */
				if (want_vv)
					__asm__("" : "+x"(v_f32x8));
				acc_f32x8 = _mm256_fmadd_ps(w_f32x8[r], v_f32x8, acc_f32x8);
				if (want_vv)
					n_f32x8[r] = _mm256_fmadd_ps(v_f32x8, v_f32x8, n_f32x8[r]);
			}
			_mm256_storeu_ps(out + j, acc_f32x8);
		}
		if (j < je)
		{
			__m256i		mask = tail_mask_avx2(je - j);
			__m256		acc_f32x8 = _mm256_maskload_ps(out + j, mask);

			RV_UNROLL
			for (int r = 0; r < rows; r++)
			{
				__m256		v_f32x8 = _mm256_maskload_ps(v[r] + j, mask);

				acc_f32x8 = _mm256_fmadd_ps(w_f32x8[r], v_f32x8, acc_f32x8);
				if (want_vv)
					n_f32x8[r] = _mm256_fmadd_ps(v_f32x8, v_f32x8, n_f32x8[r]);
			}
			_mm256_maskstore_ps(out + j, mask, acc_f32x8);
		}
		if (want_vv)
		{
			*vv_f64x4 = _mm256_add_pd(*vv_f64x4, _mm256_cvtps_pd(reduce_rows4_f32x8(n_f32x8)));
			RV_UNROLL
			for (int r = 0; r < 4; r++)
				n_f32x8[r] = _mm256_setzero_ps();
		}
	}
}

/*
 * weighted_sum_sqnorm: steps of 4 rows from 4 contiguous, skewed
 * stretches of V (as weighted_wide_f32_avx2; out stays in L1), then the
 * n % 4 last rows one at a time (their norms by sqnorm_rows_f32's kernel:
 * the rows are in cache); the order of additions into out depends on n
 * only.  Without norms and for dv > 64 that is weighted_wide_f32_avx2's
 * arithmetic exactly (the same rows per step, the same chunks, the same
 * order), and its loop is faster, so it is called.
 */
RV_AVX2 static void
weighted_sum_sqnorm_f32_avx2(const float *w, const float *V, size_t n,
							 size_t dv, size_t ldv, float *out, float *vv)
{
	size_t		per_slot = n / 4;
	size_t		skew[4];
	const float *v[4] = {V, V, V, V};
	__m256		w_f32x8[4] = {_mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps(), _mm256_setzero_ps()};
	__m256d		vv_f64x4;

	if (!vv && dv > 64)
	{
		weighted_wide_f32_avx2(w, V, n, dv, ldv, 1.0f, out, NULL);
		return;
	}
	for (size_t u = 0; u < 4; u++)
		skew[u] = per_slot > 0 ? u % per_slot : 0;
	for (size_t b = 0; b < per_slot; b++)
	{
		size_t		row[4];

		RV_UNROLL
		for (int u = 0; u < 4; u++)
		{
			row[u] = rv_stream_row(u, per_slot, b, skew[u]);
			v[u] = V + row[u] * ldv;
			w_f32x8[u] = _mm256_set1_ps(w[row[u]]);
		}
		if (vv)
		{
			float		s4[4];

			ws_norm_step_avx2(v, w_f32x8, 4, 1, dv, out, &vv_f64x4);
			_mm_storeu_ps(s4, _mm256_cvtpd_ps(vv_f64x4));
			for (int u = 0; u < 4; u++)
				vv[row[u]] = s4[u];
		}
		else
			ws_norm_step_avx2(v, w_f32x8, 4, 0, dv, out, &vv_f64x4);
	}
	for (size_t i = per_slot * 4; i < n; i++)
	{
		v[0] = V + i * ldv;
		w_f32x8[0] = _mm256_set1_ps(w[i]);
		ws_norm_step_avx2(v, w_f32x8, 1, 0, dv, out, &vv_f64x4);
	}
	if (vv && per_slot * 4 < n)
		sqnorm_rows_f32_avx2(V + per_slot * 4 * ldv, n - per_slot * 4, dv, ldv, vv + per_slot * 4);
}

/*
 * out[j..j+8) += sum_r w_r v_r[j..j+8) in double for `rows` rows (a
 * constant 1 or 4), rows added in order; chunk j has rem (1..8) real
 * columns.
 */
RV_AVX2_INLINE void
add_rows_f64_avx2(const float *const *v, const __m256d *w_f64x4, const int rows,
				  size_t j, size_t rem, double *out)
{
	__m256i		mask = tail_mask_avx2(rem);
	__m256d		lo_f64x4,
				hi_f64x4;

	load_pd8_avx2(out + j, rem, &lo_f64x4, &hi_f64x4);
	RV_UNROLL
	for (int r = 0; r < rows; r++)
	{
		__m256		v_f32x8 = rem == 8 ? _mm256_loadu_ps(v[r] + j) : _mm256_maskload_ps(v[r] + j, mask);

		lo_f64x4 = _mm256_fmadd_pd(w_f64x4[r], _mm256_cvtps_pd(_mm256_castps256_ps128(v_f32x8)), lo_f64x4);
		hi_f64x4 = _mm256_fmadd_pd(w_f64x4[r], _mm256_cvtps_pd(_mm256_extractf128_ps(v_f32x8, 1)), hi_f64x4);
	}
	if (rem == 8)
	{
		_mm256_storeu_pd(out + j, lo_f64x4);
		_mm256_storeu_pd(out + j + 4, hi_f64x4);
	}
	else
	{
		_mm256_maskstore_pd(out + j, tail_mask_pd_avx2(rem < 4 ? rem : 4), lo_f64x4);
		_mm256_maskstore_pd(out + j + 4, tail_mask_pd_avx2(rem > 4 ? rem - 4 : 0), hi_f64x4);
	}
}

/*
 * weighted_sum_f64: out stays in L1 and each step adds 4 whole rows from
 * 4 contiguous, skewed stretches of V (as weighted_wide_f32_avx2), so V
 * streams as 4 sequential reads; the n % 4 last rows one at a time.
 */
RV_AVX2 static void
weighted_sum_f64_avx2(const float *w, const float *V, size_t n, size_t dv,
					  size_t ldv, double *out)
{
	size_t		per_slot = n / 4;
	size_t		skew[4];
	const float *v[4];
	__m256d		w_f64x4[4];

	for (size_t u = 0; u < 4; u++)
		skew[u] = per_slot > 0 ? u % per_slot : 0;
	for (size_t b = 0; b < per_slot; b++)
	{
		RV_UNROLL
		for (int u = 0; u < 4; u++)
		{
			size_t		row = rv_stream_row(u, per_slot, b, skew[u]);

			v[u] = V + row * ldv;
			w_f64x4[u] = _mm256_set1_pd(w[row]);
		}
		for (size_t j = 0; j < dv; j += 8)
			add_rows_f64_avx2(v, w_f64x4, 4, j, dv - j < 8 ? dv - j : 8, out);
	}
	for (size_t i = per_slot * 4; i < n; i++)
	{
		v[0] = V + i * ldv;
		w_f64x4[0] = _mm256_set1_pd(w[i]);
		for (size_t j = 0; j < dv; j += 8)
			add_rows_f64_avx2(v, w_f64x4, 1, j, dv - j < 8 ? dv - j : 8, out);
	}
}

RV_AVX2 static void
log1p_f32_avx2(const float *x, size_t n, float *out)
{
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
		_mm256_storeu_ps(out + i, log1p_f32x8_avx2(_mm256_loadu_ps(x + i)));
	if (i < n)
	{
		__m256i		mask = tail_mask_avx2(n - i);

		_mm256_maskstore_ps(out + i, mask, log1p_f32x8_avx2(_mm256_maskload_ps(x + i, mask)));
	}
}

/* ==== end of hyperbolic ==== */

/* ==== primitives of cross.c (cross, sliding) ==== */

/*
 * One micro-tile of cross_scores: `keys` keys (1..6, a constant after
 * inlining) x 16 query columns, 12 accumulators in registers.  Each step
 * of the dh loop loads one 16-float row of Qt (2 registers) and broadcasts
 * one element of each key: 12 FMAs for 2 loads and 6 broadcasts, within
 * the 16 registers.  Blocks of RV_CROSS_DOT_BLOCK steps are added to S.
 */
RV_AVX2_INLINE void
cross_scores_tile_avx2(const float *Qt, size_t ldq, const float *K,
					   size_t ldk, size_t dh, __m256 scale_f32x8, float *S,
					   size_t lds, __m256 *fin_f32x8, const int keys)
{
	__m256		acc_f32x8[6][2];
	const float *k[6];
	size_t		k0 = 0;

	RV_UNROLL
	for (int j = 0; j < keys; j++)
		k[j] = K + j * ldk;
	do
	{
		size_t		k1 = dh - k0 < RV_CROSS_DOT_BLOCK ? dh : k0 + RV_CROSS_DOT_BLOCK;

		RV_UNROLL
		for (int j = 0; j < keys; j++)
		{
			acc_f32x8[j][0] = _mm256_setzero_ps();
			acc_f32x8[j][1] = _mm256_setzero_ps();
		}
		for (size_t t = k0; t < k1; t++)
		{
			__m256		q0_f32x8 = _mm256_loadu_ps(Qt + t * ldq);
			__m256		q1_f32x8 = _mm256_loadu_ps(Qt + t * ldq + 8);

			RV_UNROLL
			for (int j = 0; j < keys; j++)
			{
				__m256		k_f32x8 = _mm256_broadcast_ss(k[j] + t);

				acc_f32x8[j][0] = _mm256_fmadd_ps(k_f32x8, q0_f32x8, acc_f32x8[j][0]);
				acc_f32x8[j][1] = _mm256_fmadd_ps(k_f32x8, q1_f32x8, acc_f32x8[j][1]);
			}
		}
		RV_UNROLL
		for (int j = 0; j < keys; j++)
			RV_UNROLL
			for (int t = 0; t < 2; t++)
			{
				float	   *s = S + j * lds + 8 * t;
				__m256		s_f32x8 = _mm256_mul_ps(acc_f32x8[j][t], scale_f32x8);

				if (k0 != 0)
					s_f32x8 = _mm256_add_ps(_mm256_loadu_ps(s), s_f32x8);
				_mm256_storeu_ps(s, s_f32x8);
				/* s - s is 0, or NaN for NaN/Infinity (which later blocks keep) */
				*fin_f32x8 = _mm256_add_ps(*fin_f32x8, _mm256_sub_ps(s_f32x8, s_f32x8));
			}
		k0 = k1;
	} while (k0 < dh);
}

/*
 * S = scale * K Qt over a tile: column blocks of 16 outside, keys in
 * groups of 6 inside (the 16 columns of Qt, dh x 16 floats, stay in L1
 * while every key of the tile passes), the key tail by a narrower copy.
 */
RV_AVX2 static int
cross_scores_f32_avx2(const float *Qt, size_t ldq, const float *K, size_t ldk,
					  size_t nk, size_t dh, size_t w, float scale, float *S,
					  size_t lds)
{
	__m256		scale_f32x8 = _mm256_set1_ps(scale);
	__m256		fin_f32x8 = _mm256_setzero_ps();

	for (size_t c = 0; c + 16 <= w; c += 16)
	{
		size_t		j = 0;

		for (; j + 6 <= nk; j += 6)
			cross_scores_tile_avx2(Qt + c, ldq, K + j * ldk, ldk, dh, scale_f32x8,
								   S + j * lds + c, lds, &fin_f32x8, 6);
		switch (nk - j)
		{
			case 1:
				cross_scores_tile_avx2(Qt + c, ldq, K + j * ldk, ldk, dh, scale_f32x8,
									   S + j * lds + c, lds, &fin_f32x8, 1);
				break;
			case 2:
				cross_scores_tile_avx2(Qt + c, ldq, K + j * ldk, ldk, dh, scale_f32x8,
									   S + j * lds + c, lds, &fin_f32x8, 2);
				break;
			case 3:
				cross_scores_tile_avx2(Qt + c, ldq, K + j * ldk, ldk, dh, scale_f32x8,
									   S + j * lds + c, lds, &fin_f32x8, 3);
				break;
			case 4:
				cross_scores_tile_avx2(Qt + c, ldq, K + j * ldk, ldk, dh, scale_f32x8,
									   S + j * lds + c, lds, &fin_f32x8, 4);
				break;
			case 5:
				cross_scores_tile_avx2(Qt + c, ldq, K + j * ldk, ldk, dh, scale_f32x8,
									   S + j * lds + c, lds, &fin_f32x8, 5);
				break;
			default:
				break;
		}
	}
	return _mm256_movemask_ps(_mm256_cmp_ps(fin_f32x8, _mm256_setzero_ps(), _CMP_EQ_OQ)) == 0xFF;
}

/*
 * The online-softmax step per column, 16 columns at a time: a max pass
 * down the tile, then exp(S - b) down the tile with a vertical sum.
 * Entries are <= b (or -Infinity), so the cheaper nonpositive exp does.
 */
RV_AVX2 static void
cross_exp_f32_avx2(float *S, size_t lds, size_t nk, size_t w, float *m,
				   float *l)
{
	__m256		neg_inf_f32x8 = _mm256_set1_ps(-INFINITY);

	for (size_t c = 0; c + 16 <= w; c += 16)
	{
		__m256		m0_f32x8 = _mm256_loadu_ps(m + c),
					m1_f32x8 = _mm256_loadu_ps(m + c + 8);
		__m256		l0_f32x8 = _mm256_setzero_ps(),
					l1_f32x8 = _mm256_setzero_ps();
		__m256		b0_f32x8, b1_f32x8;

		for (size_t j = 0; j < nk; j++)
		{
			m0_f32x8 = _mm256_max_ps(m0_f32x8, _mm256_loadu_ps(S + j * lds + c));
			m1_f32x8 = _mm256_max_ps(m1_f32x8, _mm256_loadu_ps(S + j * lds + c + 8));
		}
		_mm256_storeu_ps(m + c, m0_f32x8);
		_mm256_storeu_ps(m + c + 8, m1_f32x8);
		/* b = m, or 0 where m is -Infinity (a column with no key yet) */
		b0_f32x8 = _mm256_andnot_ps(_mm256_cmp_ps(m0_f32x8, neg_inf_f32x8, _CMP_EQ_OQ), m0_f32x8);
		b1_f32x8 = _mm256_andnot_ps(_mm256_cmp_ps(m1_f32x8, neg_inf_f32x8, _CMP_EQ_OQ), m1_f32x8);
		for (size_t j = 0; j < nk; j++)
		{
			float	   *s = S + j * lds + c;
			__m256		e0_f32x8 = exp_nonpos_f32x8_avx2(_mm256_sub_ps(_mm256_loadu_ps(s), b0_f32x8));
			__m256		e1_f32x8 = exp_nonpos_f32x8_avx2(_mm256_sub_ps(_mm256_loadu_ps(s + 8), b1_f32x8));

			_mm256_storeu_ps(s, e0_f32x8);
			_mm256_storeu_ps(s + 8, e1_f32x8);
			l0_f32x8 = _mm256_add_ps(l0_f32x8, e0_f32x8);
			l1_f32x8 = _mm256_add_ps(l1_f32x8, e1_f32x8);
		}
		_mm256_storeu_ps(l + c, l0_f32x8);
		_mm256_storeu_ps(l + c + 8, l1_f32x8);
	}
}

/*
 * One micro-tile of cross_pv: `rows` output rows (1..6) x `regs` registers
 * (1 or 2) of columns, the last one masked when `masked`, in registers
 * over all nk keys: per key 1-2 loads of V and `rows` broadcasts of P for
 * up to 12 FMAs.  Rows with alpha 0 start from 0 without reading O.
 */
RV_AVX2_INLINE void
cross_pv_tile_avx2(const float *P, size_t ldp, const float *V, size_t ldv,
				   size_t nk, const float *alpha, float *O, size_t ldo,
				   const int rows, const int regs, const int masked,
				   __m256i tail)
{
	__m256		acc_f32x8[6][2];

	RV_UNROLL
	for (int r = 0; r < rows; r++)
	{
		__m256		a_f32x8 = _mm256_set1_ps(alpha[r]);

		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			if (alpha[r] == 0.0f)
				acc_f32x8[r][t] = _mm256_setzero_ps();
			else
				acc_f32x8[r][t] = _mm256_mul_ps(a_f32x8, (masked && t == regs - 1)
												? _mm256_maskload_ps(O + r * ldo + 8 * t, tail)
												: _mm256_loadu_ps(O + r * ldo + 8 * t));
		}
	}
	for (size_t j = 0; j < nk; j++)
	{
		const float *v = V + j * ldv;
		const float *p = P + j * ldp;
		__m256		v_f32x8[2];

		RV_UNROLL
		for (int t = 0; t < regs; t++)
			v_f32x8[t] = (masked && t == regs - 1) ? _mm256_maskload_ps(v + 8 * t, tail)
				: _mm256_loadu_ps(v + 8 * t);
		RV_UNROLL
		for (int r = 0; r < rows; r++)
		{
			__m256		p_f32x8 = _mm256_broadcast_ss(p + r);

			RV_UNROLL
			for (int t = 0; t < regs; t++)
				acc_f32x8[r][t] = _mm256_fmadd_ps(p_f32x8, v_f32x8[t], acc_f32x8[r][t]);
		}
	}
	RV_UNROLL
	for (int r = 0; r < rows; r++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			if (masked && t == regs - 1)
				_mm256_maskstore_ps(O + r * ldo + 8 * t, tail, acc_f32x8[r][t]);
			else
				_mm256_storeu_ps(O + r * ldo + 8 * t, acc_f32x8[r][t]);
		}
}

/* cross_pv for `rows` rows (a constant): column blocks of 16, then the tail */
RV_AVX2_INLINE void
cross_pv_rows_avx2(const float *P, size_t ldp, const float *V, size_t ldv,
				   size_t nk, size_t dv, const float *alpha, float *O,
				   size_t ldo, const int rows)
{
	__m256i		full = _mm256_set1_epi32(-1);
	size_t		c = 0,
				rem;

	for (; c + 16 <= dv; c += 16)
		cross_pv_tile_avx2(P, ldp, V + c, ldv, nk, alpha, O + c, ldo, rows, 2, 0, full);
	rem = dv - c;
	if (rem > 8)
		cross_pv_tile_avx2(P, ldp, V + c, ldv, nk, alpha, O + c, ldo, rows, 2, 1,
						   tail_mask_avx2(rem - 8));
	else if (rem == 8)
		cross_pv_tile_avx2(P, ldp, V + c, ldv, nk, alpha, O + c, ldo, rows, 1, 0, full);
	else if (rem > 0)
		cross_pv_tile_avx2(P, ldp, V + c, ldv, nk, alpha, O + c, ldo, rows, 1, 1,
						   tail_mask_avx2(rem));
}

RV_AVX2 static void
cross_pv_f32_avx2(const float *P, size_t ldp, const float *V, size_t ldv,
				  size_t nk, size_t rows, size_t dv, const float *alpha,
				  float *O, size_t ldo)
{
	size_t		r = 0;

	for (; r + 6 <= rows; r += 6)
		cross_pv_rows_avx2(P + r, ldp, V, ldv, nk, dv, alpha + r, O + r * ldo, ldo, 6);
	switch (rows - r)
	{
		case 1:
			cross_pv_rows_avx2(P + r, ldp, V, ldv, nk, dv, alpha + r, O + r * ldo, ldo, 1);
			break;
		case 2:
			cross_pv_rows_avx2(P + r, ldp, V, ldv, nk, dv, alpha + r, O + r * ldo, ldo, 2);
			break;
		case 3:
			cross_pv_rows_avx2(P + r, ldp, V, ldv, nk, dv, alpha + r, O + r * ldo, ldo, 3);
			break;
		case 4:
			cross_pv_rows_avx2(P + r, ldp, V, ldv, nk, dv, alpha + r, O + r * ldo, ldo, 4);
			break;
		case 5:
			cross_pv_rows_avx2(P + r, ldp, V, ldv, nk, dv, alpha + r, O + r * ldo, ldo, 5);
			break;
		default:
			break;
	}
}

/* ==== end of cross ==== */

/* ==== primitives of the driver sums ==== */

/*
 * a acc + x for 4 doubles of acc and 4 floats of x (mul then add, as the
 * scalar table: the same bits; scaled: a != 1, else the product is
 * skipped, which is exact)
 */
RV_AVX2_INLINE __m256d
scaled_sum_f64x4_avx2(__m256d acc_f64x4, __m256d a_f64x4, __m128 x_f32x4, const int scaled)
{
	if (scaled)
		acc_f64x4 = _mm256_mul_pd(a_f64x4, acc_f64x4);
	return _mm256_add_pd(acc_f64x4, _mm256_cvtps_pd(x_f32x4));
}

/* accumulate_f64 for a != 1 (scaled) or a == 1: 8 doubles per step, a tail of 1..7 */
RV_AVX2_INLINE void
accumulate_f64_body_avx2(double *acc, double a, const float *x, size_t n, const int scaled)
{
	__m256d		a_f64x4 = _mm256_set1_pd(a);
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
	{
		_mm256_storeu_pd(acc + i, scaled_sum_f64x4_avx2(_mm256_loadu_pd(acc + i), a_f64x4,
														_mm_loadu_ps(x + i), scaled));
		_mm256_storeu_pd(acc + i + 4, scaled_sum_f64x4_avx2(_mm256_loadu_pd(acc + i + 4), a_f64x4,
															_mm_loadu_ps(x + i + 4), scaled));
	}
	for (; i < n; i += 4)
	{
		__m128i		mask_i32x4 = _mm256_castsi256_si128(tail_mask_avx2(n - i < 4 ? n - i : 4));
		__m256i		mask_i64x4 = _mm256_cvtepi32_epi64(mask_i32x4);

		_mm256_maskstore_pd(acc + i, mask_i64x4,
							scaled_sum_f64x4_avx2(_mm256_maskload_pd(acc + i, mask_i64x4), a_f64x4,
												  _mm_maskload_ps(x + i, mask_i32x4), scaled));
	}
}

RV_AVX2 static void
accumulate_f64_avx2(double *acc, double a, const float *x, size_t n)
{
	if (a == 1.0)
		accumulate_f64_body_avx2(acc, a, x, n, 0);
	else
		accumulate_f64_body_avx2(acc, a, x, n, 1);
}

/* out = (float) ((a acc + x) mul), 4 per step, a tail of 1..3 under masks */
RV_AVX2 static void
finish_f64_avx2(const double *acc, double a, const float *x, double mul,
				size_t n, float *out)
{
	__m256d		a_f64x4 = _mm256_set1_pd(a),
				mul_f64x4 = _mm256_set1_pd(mul);
	size_t		i = 0;

	for (; i + 4 <= n; i += 4)
	{
		__m256d		s_f64x4 = scaled_sum_f64x4_avx2(_mm256_loadu_pd(acc + i), a_f64x4,
													_mm_loadu_ps(x + i), 1);

		_mm_storeu_ps(out + i, _mm256_cvtpd_ps(_mm256_mul_pd(s_f64x4, mul_f64x4)));
	}
	if (i < n)
	{
		__m128i		mask_i32x4 = _mm256_castsi256_si128(tail_mask_avx2(n - i));
		__m256i		mask_i64x4 = _mm256_cvtepi32_epi64(mask_i32x4);
		__m256d		s_f64x4 = scaled_sum_f64x4_avx2(_mm256_maskload_pd(acc + i, mask_i64x4), a_f64x4,
													_mm_maskload_ps(x + i, mask_i32x4), 1);

		_mm_maskstore_ps(out + i, mask_i32x4, _mm256_cvtpd_ps(_mm256_mul_pd(s_f64x4, mul_f64x4)));
	}
}

/*
 * weighted_sum_acc: weighted_sum's kernels in their blocked form (float
 * partials of at most RV_VALUE_BLOCK rows added into acc), which keeps the
 * same long streams over V: a tile of registers over all rows when dv
 * fits in it, else part as the float partial of the wide kernel.
 */
RV_AVX2 static void
weighted_sum_acc_f32_avx2(const float *w, const float *V, size_t n, size_t dv,
						 size_t ldv, float *part, double *acc)
{
	if (dv <= 64)
		weighted_pass_f32_avx2(w, V, n, dv, ldv, 0.0f, part, acc);
	else
		weighted_wide_f32_avx2(w, V, n, dv, ldv, 0.0f, part, acc);
}

/* ==== end of driver sums ==== */

const rv_kernels rv_kernels_avx2 = {
	.backend = RV_BACKEND_AVX2,
	.scores = scores_f32_avx2,
	.weighted_sum = weighted_sum_f32_avx2,
	.head_scores = head_scores_f32_avx2,
	.head_weighted_sum = head_weighted_sum_f32_avx2,
	.head_weighted_sum_acc = head_weighted_sum_acc_f32_avx2,
	.scale = scale_f32_avx2,
	.all_finite = all_finite_f32_avx2,
	.exp = exp_f32_avx2,
	.max_checked = max_checked_f32_avx2,
	.exp_sum_to = exp_sum_to_f32_avx2,
	/* linear, gat, sparse, moe */
	.phi = phi_f32_avx2,
	.leaky_relu = leaky_relu_f32_avx2,

	/* hyperbolic */
	.sqnorm_rows = sqnorm_rows_f64_avx2,
	.sqnorm_rows_f32 = sqnorm_rows_f32_avx2,
	.sqdist_rows = sqdist_rows_f32_avx2,
	.ball_gaps = ball_gaps_f32_avx2,
	.ball_gaps_f64 = ball_gaps_f64_avx2,
	.poincare_logits = poincare_logits_f32_avx2,
	.poincare_log0 = poincare_log0_f32_avx2,
	.mul = mul_f32_avx2,
	.lorentz_chord = lorentz_chord_f32_avx2,
	.lorentz_chord_f64 = lorentz_chord_f64_avx2,
	.lorentz_logits = lorentz_logits_f32_avx2,
	.lorentz_time = lorentz_time_f32_avx2,
	.weighted_sum_sqnorm = weighted_sum_sqnorm_f32_avx2,
	.weighted_sum_f64 = weighted_sum_f64_avx2,
	.log1p = log1p_f32_avx2,

	/* cross, sliding */
	.cross_scores = cross_scores_f32_avx2,
	.cross_exp = cross_exp_f32_avx2,
	.cross_pv = cross_pv_f32_avx2,

	/* driver sums */
	.accumulate_f64 = accumulate_f64_avx2,
	.finish_f64 = finish_f64_avx2,
	.weighted_sum_acc = weighted_sum_acc_f32_avx2,
};

#endif							/* __x86_64__ */
