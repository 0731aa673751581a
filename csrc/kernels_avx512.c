/*
 * kernels_avx512.c: the AVX-512F table (16 floats per register).
 *
 * Only AVX-512F instructions are used (no BW/VL/DQ), so the table runs on
 * every AVX-512 CPU, including the first ones.  The file needs no -m flag:
 * every function carries __attribute__((target("avx512f"))) and the
 * dispatcher only selects the table after a CPUID + XGETBV check.  Tails
 * are done with masked loads and stores, which never touch memory outside
 * the mask, so no primitive reads or writes past the caller's buffers.
 * 128- and 256-bit operations that appear here (final reductions) are VEX
 * AVX/AVX2 encodings, which every AVX-512F CPU has.
 */
#if defined(__x86_64__)

#include <math.h>
#include <stddef.h>

#include "rv_kernels.h"

/*
 * RV_EMULATE_AVX512 is for the C tests only (tools/test-c.sh): the
 * intrinsics then come from portable C (csrc/test/avx512_emu.h) and the
 * target attributes are dropped, so that this table can be checked on a
 * CPU without AVX-512.  RV_AVX512_BARRIER(v) keeps v in a register (an
 * optimisation fence for the compiler, no instruction).
 */
#ifdef RV_EMULATE_AVX512
#include "test/avx512_emu.h"
#define RV_AVX512
#define RV_AVX512_INLINE static inline
#define RV_AVX512_BARRIER(v) __asm__("" : "+m"(v))
#else
#include <immintrin.h>
#define RV_AVX512 __attribute__((target("avx512f")))
#define RV_AVX512_INLINE static inline __attribute__((always_inline, target("avx512f")))
#define RV_AVX512_BARRIER(v) __asm__("" : "+v"(v))
#endif

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

/* Mask of the first rem lanes, rem in [0, 16]. */
RV_AVX512_INLINE __mmask16
tail_mask_avx512(size_t rem)
{
	return (__mmask16) ((1u << rem) - 1u);
}

/*
 * The part of the exp algorithm of rv_kernels.h before 2^k, for xc in
 * [RV_EXP_LO, RV_EXP_HI]: returns p = exp(r) and sets *k_f32x16 to k.
 */
RV_AVX512_INLINE __m512
exp_poly_f32x16_avx512(__m512 xc_f32x16, __m512 *k_out_f32x16)
{
	__m512		t_f32x16,
				k_f32x16,
				r_f32x16,
				r2_f32x16,
				p_f32x16;

	/* k = round(x * log2(e)) by the 1.5 * 2^23 trick, as the scalar code */
	t_f32x16 = _mm512_fmadd_ps(xc_f32x16, _mm512_set1_ps(RV_LOG2E),
							   _mm512_set1_ps(RV_ROUND_MAGIC));
	k_f32x16 = _mm512_sub_ps(t_f32x16, _mm512_set1_ps(RV_ROUND_MAGIC));
	r_f32x16 = _mm512_fnmadd_ps(k_f32x16, _mm512_set1_ps(RV_LN2_HI), xc_f32x16);
	r_f32x16 = _mm512_fnmadd_ps(k_f32x16, _mm512_set1_ps(RV_LN2_LO), r_f32x16);

	p_f32x16 = _mm512_fmadd_ps(_mm512_set1_ps(RV_EXP_P5), r_f32x16,
							   _mm512_set1_ps(RV_EXP_P4));
	p_f32x16 = _mm512_fmadd_ps(p_f32x16, r_f32x16, _mm512_set1_ps(RV_EXP_P3));
	p_f32x16 = _mm512_fmadd_ps(p_f32x16, r_f32x16, _mm512_set1_ps(RV_EXP_P2));
	p_f32x16 = _mm512_fmadd_ps(p_f32x16, r_f32x16, _mm512_set1_ps(RV_EXP_P1));
	p_f32x16 = _mm512_fmadd_ps(p_f32x16, r_f32x16, _mm512_set1_ps(RV_EXP_P0));
	r2_f32x16 = _mm512_mul_ps(r_f32x16, r_f32x16);
	p_f32x16 = _mm512_fmadd_ps(p_f32x16, r2_f32x16, r_f32x16);
	*k_out_f32x16 = k_f32x16;
	return _mm512_add_ps(p_f32x16, _mm512_set1_ps(1.0f));
}

/*
 * exp of 16 lanes with the algorithm of rv_kernels.h.  x is clamped to
 * [RV_EXP_LO, RV_EXP_HI] so that k stays in [-150, 128] and both 2^k
 * factors are normal floats; the clamp also gives the x < RV_EXP_LO case
 * for free, because at x = RV_EXP_LO the result is about 0.97 * 2^-150,
 * which rounds to exactly 0.  Above RV_EXP_HI the clamped value already
 * gives +Infinity (exp(RV_EXP_HI) itself is just above FLT_MAX and the
 * last product overflows), so the fix-up at the end matters for NaN
 * (maxps turns NaN into RV_EXP_LO); x + Infinity keeps the NaN, or
 * gives +Infinity, as rv_expf_serial does.
 */
RV_AVX512_INLINE __m512
exp_f32x16_avx512(__m512 x_f32x16)
{
	__m512		xc_f32x16,
				k_f32x16,
				p_f32x16,
				result_f32x16;
	__m512i		k_i32x16,
				k1_i32x16,
				k2_i32x16,
				bias_i32x16 = _mm512_set1_epi32(127);
	__mmask16	over;

	xc_f32x16 = _mm512_min_ps(_mm512_max_ps(x_f32x16, _mm512_set1_ps(RV_EXP_LO)),
							  _mm512_set1_ps(RV_EXP_HI));
	p_f32x16 = exp_poly_f32x16_avx512(xc_f32x16, &k_f32x16);

	/* 2^k as 2^(k>>1) * 2^(k-(k>>1)): both factors normal for k in [-150, 128] */
	k_i32x16 = _mm512_cvtps_epi32(k_f32x16);
	k1_i32x16 = _mm512_srai_epi32(k_i32x16, 1);
	k2_i32x16 = _mm512_sub_epi32(k_i32x16, k1_i32x16);
	k1_i32x16 = _mm512_slli_epi32(_mm512_add_epi32(k1_i32x16, bias_i32x16), 23);
	k2_i32x16 = _mm512_slli_epi32(_mm512_add_epi32(k2_i32x16, bias_i32x16), 23);
	result_f32x16 = _mm512_mul_ps(_mm512_mul_ps(p_f32x16, _mm512_castsi512_ps(k1_i32x16)),
								  _mm512_castsi512_ps(k2_i32x16));

	over = _mm512_cmp_ps_mask(x_f32x16, _mm512_set1_ps(RV_EXP_HI), _CMP_NLE_UQ);
	return _mm512_mask_add_ps(result_f32x16, over, x_f32x16,
							  _mm512_set1_ps(INFINITY));
}

/*
 * exp of 16 lanes that are <= 0 or -Infinity (never NaN): softmax after
 * the max is subtracted.  Nothing overflows, so neither the upper clamp
 * nor the fix-up is needed, and 2^k is one vscalefps, which rounds the
 * exact p * 2^k once, as the two-factor product does (subnormal results
 * included): the same results as exp_f32x16_avx512 in 11 fewer
 * instructions, which matters because softmax is bound by this exp.
 */
RV_AVX512_INLINE __m512
exp_nonpos_f32x16_avx512(__m512 x_f32x16)
{
	__m512		k_f32x16;
	__m512		p_f32x16 = exp_poly_f32x16_avx512(_mm512_max_ps(x_f32x16, _mm512_set1_ps(RV_EXP_LO)),
												  &k_f32x16);

	return _mm512_scalef_ps(p_f32x16, k_f32x16);
}

/*
 * Partial dot products of q with `rows` rows (4 or 8, a constant after
 * inlining) in sum_f32x16[]: each q chunk is loaded once and FMA'd into one
 * accumulator per row, so the rows give the independent FMA chains that hide
 * the FMA latency.  The d tail is one masked chunk, which is also the whole
 * loop when d < 16.
 */
RV_AVX512_INLINE void
dot_rows_f32_avx512(const float *q, const float *const *k, size_t d,
					const int rows, __m512 *sum_f32x16)
{
	size_t		j = 0;

	RV_UNROLL
	for (int r = 0; r < rows; r++)
		sum_f32x16[r] = _mm512_setzero_ps();
	for (; j + 16 <= d; j += 16)
	{
		__m512		q_f32x16 = _mm512_loadu_ps(q + j);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			sum_f32x16[r] = _mm512_fmadd_ps(q_f32x16, _mm512_loadu_ps(k[r] + j),
											sum_f32x16[r]);
	}
	if (j < d)
	{
		__mmask16	mask = tail_mask_avx512(d - j);
		__m512		q_f32x16 = _mm512_maskz_loadu_ps(mask, q + j);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			sum_f32x16[r] = _mm512_fmadd_ps(q_f32x16,
											_mm512_maskz_loadu_ps(mask, k[r] + j),
											sum_f32x16[r]);
	}
}

/*
 * Within each 128-bit lane, sum rows a, b, c, d pairwise so that lane l ends
 * up holding [a_l, b_l, c_l, d_l] (each the sum of that lane's 4 floats):
 * the first two levels of the transpose-and-add tree.
 */
RV_AVX512_INLINE __m512
transpose_add4_f32x16(__m512 a, __m512 b, __m512 c, __m512 d)
{
	/* per lane [a0+a2, b0+b2, a1+a3, b1+b3] */
	__m512		ab_f32x16 = _mm512_add_ps(_mm512_unpacklo_ps(a, b), _mm512_unpackhi_ps(a, b));
	__m512		cd_f32x16 = _mm512_add_ps(_mm512_unpacklo_ps(c, d), _mm512_unpackhi_ps(c, d));

	return _mm512_add_ps(_mm512_shuffle_ps(ab_f32x16, cd_f32x16, _MM_SHUFFLE(1, 0, 1, 0)),
						 _mm512_shuffle_ps(ab_f32x16, cd_f32x16, _MM_SHUFFLE(3, 2, 3, 2)));
}

/*
 * Eight accumulators to eight row sums [s0..s7] with one tree of shuffles
 * and adds instead of eight horizontal reductions: in-lane transposes first,
 * then the four 128-bit lanes of the two halves are folded together.
 */
RV_AVX512_INLINE __m256
reduce_rows8_f32x16(const __m512 *sum_f32x16)
{
	__m512		lo_f32x16 = transpose_add4_f32x16(sum_f32x16[0], sum_f32x16[1],
												  sum_f32x16[2], sum_f32x16[3]);
	__m512		hi_f32x16 = transpose_add4_f32x16(sum_f32x16[4], sum_f32x16[5],
												  sum_f32x16[6], sum_f32x16[7]);
	/* [lo.L0+lo.L2, lo.L1+lo.L3, hi.L0+hi.L2, hi.L1+hi.L3] */
	__m512		z_f32x16 = _mm512_add_ps(_mm512_shuffle_f32x4(lo_f32x16, hi_f32x16, _MM_SHUFFLE(1, 0, 1, 0)),
										 _mm512_shuffle_f32x4(lo_f32x16, hi_f32x16, _MM_SHUFFLE(3, 2, 3, 2)));

	z_f32x16 = _mm512_add_ps(_mm512_shuffle_f32x4(z_f32x16, z_f32x16, _MM_SHUFFLE(2, 0, 2, 0)),
							 _mm512_shuffle_f32x4(z_f32x16, z_f32x16, _MM_SHUFFLE(3, 1, 3, 1)));
	return _mm512_castps512_ps256(z_f32x16);
}

/* Four accumulators to four row sums [s0..s3], same tree. */
RV_AVX512_INLINE __m128
reduce_rows4_f32x16(const __m512 *sum_f32x16)
{
	__m512		z_f32x16 = transpose_add4_f32x16(sum_f32x16[0], sum_f32x16[1],
												 sum_f32x16[2], sum_f32x16[3]);

	z_f32x16 = _mm512_add_ps(z_f32x16, _mm512_shuffle_f32x4(z_f32x16, z_f32x16, _MM_SHUFFLE(1, 0, 3, 2)));
	z_f32x16 = _mm512_add_ps(z_f32x16, _mm512_shuffle_f32x4(z_f32x16, z_f32x16, _MM_SHUFFLE(2, 3, 0, 1)));
	return _mm512_castps512_ps128(z_f32x16);
}

/* Horizontal max of 8 floats (AVX only, no VL needed). */
RV_AVX512_INLINE float
hmax_f32x8_avx512(__m256 v_f32x8)
{
	__m128		m_f32x4 = _mm_max_ps(_mm256_castps256_ps128(v_f32x8),
									 _mm256_extractf128_ps(v_f32x8, 1));

	m_f32x4 = _mm_max_ps(m_f32x4, _mm_movehl_ps(m_f32x4, m_f32x4));
	m_f32x4 = _mm_max_ss(m_f32x4, _mm_shuffle_ps(m_f32x4, m_f32x4, 1));
	return _mm_cvtss_f32(m_f32x4);
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
RV_AVX512_INLINE void
scores_heads_avx512(const float *q, const float *K, size_t n, size_t d,
					size_t heads, size_t ldk, float scale, float *S, size_t lds,
					float *m)
{
	__m256		scale_f32x8 = _mm256_set1_ps(scale);
	__m256		max_f32x8[RV_HEAD_CHUNK];
	__m512		sum_f32x16[8];
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
				dot_rows_f32_avx512(q + off, k, d, 8, sum_f32x16);
				s_f32x8 = _mm256_mul_ps(reduce_rows8_f32x16(sum_f32x16), scale_f32x8);
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
			__mmask16	mask = tail_mask_avx512(rows);

			for (size_t h = 0; h < g; h++)
			{
				size_t		off = (h0 + h) * d;
				__m256		s_f32x8;

				for (size_t r = 0; r < 8; r++)
					k[r] = K + (i + (r < rows ? r : rows - 1)) * ldk + off;
				if (rows > 4)
				{
					dot_rows_f32_avx512(q + off, k, d, 8, sum_f32x16);
					s_f32x8 = _mm256_mul_ps(reduce_rows8_f32x16(sum_f32x16), scale_f32x8);
				}
				else
				{
					__m128		s_f32x4;

					dot_rows_f32_avx512(q + off, k, d, 4, sum_f32x16);
					s_f32x4 = _mm_mul_ps(reduce_rows4_f32x16(sum_f32x16),
										 _mm256_castps256_ps128(scale_f32x8));
					s_f32x8 = _mm256_set_m128(s_f32x4, s_f32x4);
				}
				_mm512_mask_storeu_ps(S + (h0 + h) * lds + i, mask,
									  _mm512_castps256_ps512(s_f32x8));
				max_f32x8[h] = _mm256_max_ps(max_f32x8[h], s_f32x8);
			}
		}
		for (size_t h = 0; h < g; h++)
			m[h0 + h] = hmax_f32x8_avx512(max_f32x8[h]);
	}
}

RV_AVX512 static float
scores_f32_avx512(const float *q, const float *K, size_t n, size_t d,
				  size_t ldk, float scale, float *s)
{
	float		m;

	scores_heads_avx512(q, K, n, d, 1, ldk, scale, s, 0, &m);
	return m;
}

/*
 * head_scores: each block reads its 8 rows' heads*dh floats at once, 8
 * sequential streams over K instead of 8 strided ones per head.
 */
RV_AVX512 static void
head_scores_f32_avx512(const float *q, const float *K, size_t n, size_t d,
					   size_t heads, size_t ldk, float scale, float *S,
					   size_t lds, float *m)
{
	scores_heads_avx512(q, K, n, d, heads, ldk, scale, S, lds, m);
}

/* out[i] = exp(x[i]); each chunk is loaded before it is stored, so out == x works. */
RV_AVX512 static void
exp_f32_avx512(const float *x, size_t n, float *out)
{
	size_t		i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(out + i, exp_f32x16_avx512(_mm512_loadu_ps(x + i)));
	if (i < n)
	{
		__mmask16	mask = tail_mask_avx512(n - i);

		_mm512_mask_storeu_ps(out + i, mask,
							  exp_f32x16_avx512(_mm512_maskz_loadu_ps(mask, x + i)));
	}
}

/*
 * out[i] = exp(x[i] - m), returning the sum (four vector accumulators), with
 * the cheaper exp that x[i] - m <= 0 allows.  Each chunk is loaded before
 * it is stored, so out == x works.
 */
RV_AVX512 static float
exp_sum_to_f32_avx512(const float *x, size_t n, float m, float *out)
{
	__m512		m_f32x16 = _mm512_set1_ps(m);
	__m512		sum0_f32x16 = _mm512_setzero_ps(),
				sum1_f32x16 = _mm512_setzero_ps(),
				sum2_f32x16 = _mm512_setzero_ps(),
				sum3_f32x16 = _mm512_setzero_ps();
	size_t		i = 0;

	for (; i + 64 <= n; i += 64)
	{
		__m512		e0_f32x16 = exp_nonpos_f32x16_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), m_f32x16));
		__m512		e1_f32x16 = exp_nonpos_f32x16_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 16), m_f32x16));
		__m512		e2_f32x16 = exp_nonpos_f32x16_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 32), m_f32x16));
		__m512		e3_f32x16 = exp_nonpos_f32x16_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i + 48), m_f32x16));

		_mm512_storeu_ps(out + i, e0_f32x16);
		_mm512_storeu_ps(out + i + 16, e1_f32x16);
		_mm512_storeu_ps(out + i + 32, e2_f32x16);
		_mm512_storeu_ps(out + i + 48, e3_f32x16);
		sum0_f32x16 = _mm512_add_ps(sum0_f32x16, e0_f32x16);
		sum1_f32x16 = _mm512_add_ps(sum1_f32x16, e1_f32x16);
		sum2_f32x16 = _mm512_add_ps(sum2_f32x16, e2_f32x16);
		sum3_f32x16 = _mm512_add_ps(sum3_f32x16, e3_f32x16);
	}
	for (; i + 16 <= n; i += 16)
	{
		__m512		e_f32x16 = exp_nonpos_f32x16_avx512(_mm512_sub_ps(_mm512_loadu_ps(x + i), m_f32x16));

		_mm512_storeu_ps(out + i, e_f32x16);
		sum0_f32x16 = _mm512_add_ps(sum0_f32x16, e_f32x16);
	}
	if (i < n)
	{
		__mmask16	mask = tail_mask_avx512(n - i);
		__m512		e_f32x16 = exp_nonpos_f32x16_avx512(_mm512_sub_ps(_mm512_maskz_loadu_ps(mask, x + i),
																	  m_f32x16));

		_mm512_mask_storeu_ps(out + i, mask, e_f32x16);
		sum0_f32x16 = _mm512_mask_add_ps(sum0_f32x16, mask, sum0_f32x16, e_f32x16);
	}
	sum0_f32x16 = _mm512_add_ps(_mm512_add_ps(sum0_f32x16, sum1_f32x16),
								_mm512_add_ps(sum2_f32x16, sum3_f32x16));
	return _mm512_reduce_add_ps(sum0_f32x16);
}

/*
 * The max and the NaN/+Infinity check in one pass: two max accumulators, and a mask
 * of the lanes where !(x < +Infinity), which is exactly NaN or +Infinity.
 * Masked-off tail lanes read as -Infinity, which changes neither.
 * Each loaded register is pinned by an empty asm: otherwise gcc folds the
 * load into both the max and the compare, and the doubled loads made the
 * pass 45% slower than max alone.
 */
RV_AVX512 static float
max_checked_f32_avx512(const float *x, size_t n, int *bad)
{
	__m512		neg_inf_f32x16 = _mm512_set1_ps(-INFINITY),
				inf_f32x16 = _mm512_set1_ps(INFINITY);
	__m512		max0_f32x16 = neg_inf_f32x16,
				max1_f32x16 = neg_inf_f32x16;
	__mmask16	bad_mask = 0;
	size_t		i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m512		x0_f32x16 = _mm512_loadu_ps(x + i);
		__m512		x1_f32x16 = _mm512_loadu_ps(x + i + 16);

		RV_AVX512_BARRIER(x0_f32x16);
		RV_AVX512_BARRIER(x1_f32x16);
		max0_f32x16 = _mm512_max_ps(max0_f32x16, x0_f32x16);
		max1_f32x16 = _mm512_max_ps(max1_f32x16, x1_f32x16);
		bad_mask |= _mm512_cmp_ps_mask(x0_f32x16, inf_f32x16, _CMP_NLT_UQ) |
			_mm512_cmp_ps_mask(x1_f32x16, inf_f32x16, _CMP_NLT_UQ);
	}
	for (; i + 16 <= n; i += 16)
	{
		__m512		x_f32x16 = _mm512_loadu_ps(x + i);

		RV_AVX512_BARRIER(x_f32x16);
		max0_f32x16 = _mm512_max_ps(max0_f32x16, x_f32x16);
		bad_mask |= _mm512_cmp_ps_mask(x_f32x16, inf_f32x16, _CMP_NLT_UQ);
	}
	if (i < n)
	{
		__m512		x_f32x16 = _mm512_mask_loadu_ps(neg_inf_f32x16, tail_mask_avx512(n - i), x + i);

		max1_f32x16 = _mm512_max_ps(max1_f32x16, x_f32x16);
		bad_mask |= _mm512_cmp_ps_mask(x_f32x16, inf_f32x16, _CMP_NLT_UQ);
	}
	*bad = bad_mask != 0;
	return _mm512_reduce_max_ps(_mm512_max_ps(max0_f32x16, max1_f32x16));
}

/* to[0..16) += (double) x, the lanes of mask only */
RV_AVX512_INLINE void
add_f32x16_to_f64_avx512(double *to, __m512 x_f32x16, __mmask16 mask)
{
	__m512d		lo_f64x8 = _mm512_cvtps_pd(_mm512_castps512_ps256(x_f32x16));
	__m512d		hi_f64x8 = _mm512_cvtps_pd(_mm256_castpd_ps(
		_mm512_extractf64x4_pd(_mm512_castps_pd(x_f32x16), 1)));
	__mmask8	lo_mask = (__mmask8) (mask & 0xFF),
				hi_mask = (__mmask8) (mask >> 8);

	_mm512_mask_storeu_pd(to, lo_mask, _mm512_add_pd(_mm512_maskz_loadu_pd(lo_mask, to), lo_f64x8));
	_mm512_mask_storeu_pd(to + 8, hi_mask,
						  _mm512_add_pd(_mm512_maskz_loadu_pd(hi_mask, to + 8), hi_f64x8));
}

/*
 * The end of one float partial of weighted_tile's blocked form (acc not
 * NULL): the accumulator sets summed into set 0, set 0 added into acc
 * (regs * 16 doubles; the last register's lanes under tail when masked),
 * every set zeroed for the next partial.
 */
RV_AVX512_INLINE void
tile_to_f64_avx512(__m512 acc_f32x16[8][8], const int rows, const int regs,
				   const int masked, __mmask16 tail, double *acc)
{
	RV_UNROLL
	for (int u = 1; u < rows; u++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			acc_f32x16[0][t] = _mm512_add_ps(acc_f32x16[0][t], acc_f32x16[u][t]);
			acc_f32x16[u][t] = _mm512_setzero_ps();
		}
	RV_UNROLL
	for (int t = 0; t < regs; t++)
	{
		add_f32x16_to_f64_avx512(acc + 16 * t, acc_f32x16[0][t],
								 (masked && t == regs - 1) ? tail : 0xFFFF);
		acc_f32x16[0][t] = _mm512_setzero_ps();
	}
}

/*
 * One column tile of weighted_sum: `regs` registers (a constant 1..8 after
 * inlining) of out kept in registers across the whole row loop, the last
 * one masked when `masked`.  Narrow tiles process several rows per step
 * into separate accumulator sets (added at the end) so that there are
 * always about 8 independent FMA chains.
 * Each accumulator set u takes its rows from its own contiguous stretch of
 * V (rows [u n/rows, (u+1) n/rows), starting u rows in and wrapping around,
 * as the row slots of scores do), so that every set streams sequentially.
 * beta == 0 starts from zero without reading out, which may hold garbage.
 * With acc (weighted_sum_acc), the row loop runs in chunks of
 * RV_VALUE_BLOCK / rows steps, each chunk a float partial of at most
 * RV_VALUE_BLOCK rows that is added into acc (then the n % rows last rows
 * as one more), and out is not touched.
 */
RV_AVX512_INLINE void
weighted_tile_f32_avx512(const float *w, const float *V, size_t n, size_t ldv,
						 float beta, float *out, double *acc,
					   const int regs,
						 const int masked, __mmask16 tail)
{
	const int	rows = regs >= 5 ? 1 : regs >= 3 ? 2 : regs == 2 ? 4 : 8;
	__m512		acc_f32x16[8][8];
	__m512		beta_f32x16 = _mm512_set1_ps(beta);
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
			acc_f32x16[u][t] = _mm512_setzero_ps();
	if (beta != 0.0f)
	{
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			__m512		o_f32x16 = (masked && t == regs - 1)
				? _mm512_maskz_loadu_ps(tail, out + 16 * t)
				: _mm512_loadu_ps(out + 16 * t);

			acc_f32x16[0][t] = _mm512_mul_ps(beta_f32x16, o_f32x16);
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
				__m512		w_f32x16 = _mm512_set1_ps(w[row]);
				const float *v = V + row * ldv;

				RV_UNROLL
				for (int t = 0; t < regs; t++)
				{
					__m512		v_f32x16 = (masked && t == regs - 1)
						? _mm512_maskz_loadu_ps(tail, v + 16 * t)
						: _mm512_loadu_ps(v + 16 * t);

					acc_f32x16[u][t] = _mm512_fmadd_ps(w_f32x16, v_f32x16, acc_f32x16[u][t]);
				}
			}
		}
		if (acc)
			tile_to_f64_avx512(acc_f32x16, rows, regs, masked, tail, acc);
	}
	for (size_t i = per_set * rows; i < n; i++)
	{
		__m512		w_f32x16 = _mm512_set1_ps(w[i]);
		const float *v = V + i * ldv;

		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			__m512		v_f32x16 = (masked && t == regs - 1)
				? _mm512_maskz_loadu_ps(tail, v + 16 * t)
				: _mm512_loadu_ps(v + 16 * t);

			acc_f32x16[0][t] = _mm512_fmadd_ps(w_f32x16, v_f32x16, acc_f32x16[0][t]);
		}
	}

	if (acc)
	{
		if (per_set * rows < n)
			tile_to_f64_avx512(acc_f32x16, rows, regs, masked, tail, acc);
		return;
	}
	RV_UNROLL
	for (int u = 1; u < rows; u++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
			acc_f32x16[0][t] = _mm512_add_ps(acc_f32x16[0][t], acc_f32x16[u][t]);
	RV_UNROLL
	for (int t = 0; t < regs; t++)
	{
		if (masked && t == regs - 1)
			_mm512_mask_storeu_ps(out + 16 * t, tail, acc_f32x16[0][t]);
		else
			_mm512_storeu_ps(out + 16 * t, acc_f32x16[0][t]);
	}
}

/*
 * One pass of weighted_sum: out = beta * out + sum_i w[i] * V_i for the
 * rows given, in column tiles of 128 floats (8 registers) so that out
 * never leaves registers inside a tile.  The last, narrower tile is
 * dispatched to a copy of the tile code specialised for its width.
 * acc: the blocked form of weighted_sum_acc (see weighted_tile), or NULL.
 */
RV_AVX512 static void
weighted_pass_f32_avx512(const float *w, const float *V, size_t n, size_t dv,
						  size_t ldv, float beta, float *out, double *acc)
{
	size_t		j = 0;
	size_t		rem;

	for (; j + 128 <= dv; j += 128)
		weighted_tile_f32_avx512(w, V + j, n, ldv, beta, out + j, acc ? acc + j : NULL, 8, 0, 0xFFFF);
	rem = dv - j;
	if (rem == 0)
		return;
	V += j;
	out += j;
	if (acc)
		acc += j;
	if (rem % 16 == 0)
	{
		switch (rem / 16)
		{
			case 1:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 1, 0, 0xFFFF);
				break;
			case 2:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 2, 0, 0xFFFF);
				break;
			case 3:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 3, 0, 0xFFFF);
				break;
			case 4:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 4, 0, 0xFFFF);
				break;
			case 5:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 5, 0, 0xFFFF);
				break;
			case 6:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 6, 0, 0xFFFF);
				break;
			default:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 7, 0, 0xFFFF);
				break;
		}
	}
	else
	{
		__mmask16	tail = tail_mask_avx512(rem % 16);

		switch (rem / 16 + 1)
		{
			case 1:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 1, 1, tail);
				break;
			case 2:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 2, 1, tail);
				break;
			case 3:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 3, 1, tail);
				break;
			case 4:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 4, 1, tail);
				break;
			case 5:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 5, 1, tail);
				break;
			case 6:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 6, 1, tail);
				break;
			case 7:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 7, 1, tail);
				break;
			default:
				weighted_tile_f32_avx512(w, V, n, ldv, beta, out, acc, 8, 1, tail);
				break;
		}
	}
}

/*
 * out[j] += sum_r w_r v_r[j] for `rows` rows (a constant 1 or 4 after
 * inlining) and j < full + popcount(tail): each chunk of out is loaded
 * and stored once per step, rows added in slot order.  The first step of
 * a float partial of weighted_sum_acc starts from 0 instead of out
 * (first), its last one adds the result into the doubles `to` instead of
 * storing it (to != NULL).
 */
RV_AVX512_INLINE void
add_rows_f32_avx512(const float *const *v, const __m512 *w_f32x16,
					const int rows, size_t full, __mmask16 tail, float *out,
					int first, double *to)
{
	size_t		j = 0;

	for (; j < full; j += 16)
	{
		__m512		acc_f32x16 = first ? _mm512_setzero_ps() : _mm512_loadu_ps(out + j);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			acc_f32x16 = _mm512_fmadd_ps(w_f32x16[r], _mm512_loadu_ps(v[r] + j), acc_f32x16);
		if (to)
			add_f32x16_to_f64_avx512(to + j, acc_f32x16, 0xFFFF);
		else
			_mm512_storeu_ps(out + j, acc_f32x16);
	}
	if (tail)
	{
		__m512		acc_f32x16 = first ? _mm512_setzero_ps() : _mm512_maskz_loadu_ps(tail, out + j);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			acc_f32x16 = _mm512_fmadd_ps(w_f32x16[r], _mm512_maskz_loadu_ps(tail, v[r] + j),
										 acc_f32x16);
		if (to)
			add_f32x16_to_f64_avx512(to + j, acc_f32x16, tail);
		else
			_mm512_mask_storeu_ps(out + j, tail, acc_f32x16);
	}
}

/* the 4 rows of step b of the wide kernel: slot u's row (skewed, wrapped), its weight */
RV_AVX512_INLINE void
wide_step_avx512(const float *w, const float *V, size_t ldv, size_t per_slot,
				  const size_t *skew, size_t b, const float **v, __m512 *w_f32x16)
{
	RV_UNROLL
	for (int u = 0; u < 4; u++)
	{
		size_t		row = rv_stream_row(u, per_slot, b, skew[u]);

		v[u] = V + row * ldv;
		w_f32x16[u] = _mm512_set1_ps(w[row]);
	}
}

/*
 * weighted_sum for rows wider than one tile (dv > 128).  Column tiles
 * kept in registers over a block of rows would read V in short strided
 * pieces (a tile's columns of each row), which the hardware prefetchers do
 * not follow: from DRAM that ran at 10-14 GB/s where a sequential read
 * gets 25.  Here out stays in L1 instead and each step adds 4 whole rows
 * to it, each read from start to end; the 4 rows come from 4 contiguous
 * stretches of V (slot u: rows [u n/4, (u+1) n/4), skewed and wrapped as
 * the row slots of scores), so V is read as 4 long sequential streams.
 * Loading and storing out once per 4 rows keeps it as fast from cache.
 * The n % 4 last rows are added one at a time.  beta == 0 overwrites out
 * without reading it.
 * With acc (weighted_sum_acc), out holds a float partial of
 * RV_VALUE_BLOCK / 4 steps (4 rows each, one from each stream): its first
 * step starts from 0, its last adds it into acc; the n % 4 last rows make
 * one more partial.
 */
RV_AVX512 static void
weighted_wide_f32_avx512(const float *w, const float *V, size_t n, size_t dv,
						 size_t ldv, float beta, float *out, double *acc)
{
	__mmask16	tail = tail_mask_avx512(dv % 16);
	size_t		full = dv - dv % 16;
	size_t		per_slot = n / 4;
	size_t		skew[4];
	const float *v[4];
	__m512		w_f32x16[4];

	if (acc == NULL && beta != 1.0f)
	{
		__m512		beta_f32x16 = _mm512_set1_ps(beta);
		size_t		j = 0;

		for (; j < full; j += 16)
			_mm512_storeu_ps(out + j, beta == 0.0f ? _mm512_setzero_ps()
							 : _mm512_mul_ps(beta_f32x16, _mm512_loadu_ps(out + j)));
		if (tail)
			_mm512_mask_storeu_ps(out + j, tail, beta == 0.0f ? _mm512_setzero_ps()
								  : _mm512_mul_ps(beta_f32x16, _mm512_maskz_loadu_ps(tail, out + j)));
	}
	for (size_t u = 0; u < 4; u++)
		skew[u] = per_slot > 0 ? u % per_slot : 0;
	if (acc == NULL)
		for (size_t b = 0; b < per_slot; b++)
		{
			wide_step_avx512(w, V, ldv, per_slot, skew, b, v, w_f32x16);
			add_rows_f32_avx512(v, w_f32x16, 4, full, tail, out, 0, NULL);
		}
	else
		for (size_t b0 = 0; b0 < per_slot; b0 += RV_VALUE_BLOCK / 4)
		{
			size_t		b1 = per_slot - b0 < RV_VALUE_BLOCK / 4 ? per_slot : b0 + RV_VALUE_BLOCK / 4;

			/* a partial's first step starts from 0, its last adds it into acc */
			wide_step_avx512(w, V, ldv, per_slot, skew, b0, v, w_f32x16);
			add_rows_f32_avx512(v, w_f32x16, 4, full, tail, out, 1, b1 == b0 + 1 ? acc : NULL);
			for (size_t b = b0 + 1; b + 1 < b1; b++)
			{
				wide_step_avx512(w, V, ldv, per_slot, skew, b, v, w_f32x16);
				add_rows_f32_avx512(v, w_f32x16, 4, full, tail, out, 0, NULL);
			}
			if (b1 > b0 + 1)
			{
				wide_step_avx512(w, V, ldv, per_slot, skew, b1 - 1, v, w_f32x16);
				add_rows_f32_avx512(v, w_f32x16, 4, full, tail, out, 0, acc);
			}
		}
	for (size_t i = per_slot * 4; i < n; i++)
	{
		v[0] = V + i * ldv;
		w_f32x16[0] = _mm512_set1_ps(w[i]);
		add_rows_f32_avx512(v, w_f32x16, 1, full, tail, out,
						  acc && i == per_slot * 4, acc && i + 1 == n ? acc : NULL);
	}
}

/*
 * out = beta * out + sum_i w[i] * V_i over dv columns: one column tile
 * kept in registers over all rows when dv fits in it, else the wide
 * version, both streaming V sequentially.
 */
RV_AVX512 static void
weighted_sum_f32_avx512(const float *w, const float *V, size_t n, size_t dv,
						 size_t ldv, float beta, float *out)
{
	if (dv <= 128)
		weighted_pass_f32_avx512(w, V, n, dv, ldv, beta, out, NULL);
	else
		weighted_wide_f32_avx512(w, V, n, dv, ldv, beta, out, NULL);
}

/*
 * weighted_tile for g <= RV_HEAD_CHUNK heads at once (head h: weights
 * W + h ldw, columns V + h dvh, output out + h dvh): the same row sets,
 * skew and per-accumulator order of additions as weighted_tile, so each
 * head's result equals it bit for bit, but the heads are interleaved in
 * batches of 8 row steps so that V's rows are read whole (g dvh floats)
 * while they are in cache.  Accumulators wait in memory between batches.
 * The last register is always loaded under the tail mask (0xFFFF when
 * full), which gives the same values as a plain load.
 * With acc (head_weighted_sum_acc: acc + h dvh for head h), the partials
 * of weighted_tile's blocked form (chunks of RV_VALUE_BLOCK / rows steps,
 * a multiple of the batch of 8, then the n % rows last rows), each added
 * into acc as tile_to_f64 does; out is not touched.
 */
RV_AVX512_INLINE void
heads_to_f64_avx512(__m512 *a_f32x16, const int rows, const int regs,
					__mmask16 tail, double *acc)
{
	RV_UNROLL
	for (int u = 1; u < rows; u++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			a_f32x16[t] = _mm512_add_ps(a_f32x16[t], a_f32x16[u * regs + t]);
			a_f32x16[u * regs + t] = _mm512_setzero_ps();
		}
	RV_UNROLL
	for (int t = 0; t < regs; t++)
	{
		add_f32x16_to_f64_avx512(acc + 16 * t, a_f32x16[t], t == regs - 1 ? tail : 0xFFFF);
		a_f32x16[t] = _mm512_setzero_ps();
	}
}

RV_AVX512_INLINE void
weighted_heads_tile_f32_avx512(const float *W, size_t ldw, const float *V,
							   size_t n, size_t dvh, size_t g, size_t ldv,
							   float beta, float *out, double *acc,
							   const int regs, __mmask16 tail)
{
	const int	rows = regs >= 5 ? 1 : regs >= 3 ? 2 : regs == 2 ? 4 : 8;
	__m512		acc_f32x16[RV_HEAD_CHUNK][8];
	__m512		beta_f32x16 = _mm512_set1_ps(beta);
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
			acc_f32x16[h][a] = _mm512_setzero_ps();
		if (beta != 0.0f)
		{
			RV_UNROLL
			for (int t = 0; t < regs; t++)
			{
				__m512		o_f32x16 = t == regs - 1
					? _mm512_maskz_loadu_ps(tail, out + h * dvh + 16 * t)
					: _mm512_loadu_ps(out + h * dvh + 16 * t);

				acc_f32x16[h][t] = _mm512_mul_ps(beta_f32x16, o_f32x16);
			}
		}
	}
	for (size_t b0 = 0; b0 < per_set; b0 += 8)
	{
		size_t		b1 = per_set - b0 < 8 ? per_set : b0 + 8;

		for (size_t h = 0; h < g; h++)
		{
			__m512		a_f32x16[8];
			const float *w = W + h * ldw;
			const float *Vh = V + h * dvh;

			RV_UNROLL
			for (int a = 0; a < rows * regs; a++)
				a_f32x16[a] = acc_f32x16[h][a];
			for (size_t b = b0; b < b1; b++)
			{
				RV_UNROLL
				for (int u = 0; u < rows; u++)
				{
					size_t		row = rv_stream_row(u, per_set, b, skew[u]);
					__m512		w_f32x16 = _mm512_set1_ps(w[row]);
					const float *v = Vh + row * ldv;

					RV_UNROLL
					for (int t = 0; t < regs; t++)
					{
						__m512		v_f32x16 = t == regs - 1
							? _mm512_maskz_loadu_ps(tail, v + 16 * t)
							: _mm512_loadu_ps(v + 16 * t);

						a_f32x16[u * regs + t] = _mm512_fmadd_ps(w_f32x16, v_f32x16,
																 a_f32x16[u * regs + t]);
					}
				}
			}
			if (acc && (b1 % chunk == 0 || b1 == per_set))
				heads_to_f64_avx512(a_f32x16, rows, regs, tail, acc + h * dvh);
			RV_UNROLL
			for (int a = 0; a < rows * regs; a++)
				acc_f32x16[h][a] = a_f32x16[a];
		}
	}
	for (size_t h = 0; h < g; h++)
	{
		const float *w = W + h * ldw;

		for (size_t i = per_set * rows; i < n; i++)
		{
			__m512		w_f32x16 = _mm512_set1_ps(w[i]);
			const float *v = V + h * dvh + i * ldv;

			RV_UNROLL
			for (int t = 0; t < regs; t++)
			{
				__m512		v_f32x16 = t == regs - 1
					? _mm512_maskz_loadu_ps(tail, v + 16 * t)
					: _mm512_loadu_ps(v + 16 * t);

				acc_f32x16[h][t] = _mm512_fmadd_ps(w_f32x16, v_f32x16, acc_f32x16[h][t]);
			}
		}
		if (acc)
		{
			if (per_set * rows < n)
				heads_to_f64_avx512(acc_f32x16[h], rows, regs, tail, acc + h * dvh);
			continue;
		}
		RV_UNROLL
		for (int u = 1; u < rows; u++)
			RV_UNROLL
			for (int t = 0; t < regs; t++)
				acc_f32x16[h][t] = _mm512_add_ps(acc_f32x16[h][t], acc_f32x16[h][u * regs + t]);
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			if (t == regs - 1)
				_mm512_mask_storeu_ps(out + h * dvh + 16 * t, tail, acc_f32x16[h][t]);
			else
				_mm512_storeu_ps(out + h * dvh + 16 * t, acc_f32x16[h][t]);
		}
	}
}

/*
 * head_weighted_sum (acc NULL) and head_weighted_sum_acc: heads of at most
 * one tile (dvh <= 128) go through the interleaved tile above,
 * RV_HEAD_CHUNK heads per pass; wider heads (already streamed row by row
 * by weighted_wide) one after the other.
 */
RV_AVX512 static void
heads_weighted_f32_avx512(const float *W, size_t ldw, const float *V,
						  size_t n, size_t dvh, size_t heads, size_t ldv,
						  float beta, float *out, double *acc)
{
	__mmask16	tail;

	if (dvh == 0 || dvh > 128)
	{
		for (size_t h = 0; h < heads; h++)
			if (acc)
				weighted_wide_f32_avx512(W + h * ldw, V + h * dvh, n, dvh, ldv, 0.0f,
										 out + h * dvh, acc + h * dvh);
			else
				weighted_sum_f32_avx512(W + h * ldw, V + h * dvh, n, dvh, ldv,
										beta, out + h * dvh);
		return;
	}
	tail = dvh % 16 ? tail_mask_avx512(dvh % 16) : 0xFFFF;
	for (size_t h0 = 0; h0 < heads; h0 += RV_HEAD_CHUNK)
	{
		size_t		g = heads - h0 < RV_HEAD_CHUNK ? heads - h0 : RV_HEAD_CHUNK;
		const float *Wg = W + h0 * ldw;
		const float *Vg = V + h0 * dvh;
		float	   *og = out + h0 * dvh;
		double	   *ag = acc ? acc + h0 * dvh : NULL;

		switch ((dvh + 15) / 16)
		{
			case 1:
				weighted_heads_tile_f32_avx512(Wg, ldw, Vg, n, dvh, g, ldv, beta, og, ag, 1, tail);
				break;
			case 2:
				weighted_heads_tile_f32_avx512(Wg, ldw, Vg, n, dvh, g, ldv, beta, og, ag, 2, tail);
				break;
			case 3:
				weighted_heads_tile_f32_avx512(Wg, ldw, Vg, n, dvh, g, ldv, beta, og, ag, 3, tail);
				break;
			case 4:
				weighted_heads_tile_f32_avx512(Wg, ldw, Vg, n, dvh, g, ldv, beta, og, ag, 4, tail);
				break;
			case 5:
				weighted_heads_tile_f32_avx512(Wg, ldw, Vg, n, dvh, g, ldv, beta, og, ag, 5, tail);
				break;
			case 6:
				weighted_heads_tile_f32_avx512(Wg, ldw, Vg, n, dvh, g, ldv, beta, og, ag, 6, tail);
				break;
			case 7:
				weighted_heads_tile_f32_avx512(Wg, ldw, Vg, n, dvh, g, ldv, beta, og, ag, 7, tail);
				break;
			default:
				weighted_heads_tile_f32_avx512(Wg, ldw, Vg, n, dvh, g, ldv, beta, og, ag, 8, tail);
				break;
		}
	}
}

RV_AVX512 static void
head_weighted_sum_f32_avx512(const float *W, size_t ldw, const float *V,
							 size_t n, size_t dvh, size_t heads, size_t ldv,
							 float beta, float *out)
{
	heads_weighted_f32_avx512(W, ldw, V, n, dvh, heads, ldv, beta, out, NULL);
}

RV_AVX512 static void
head_weighted_sum_acc_f32_avx512(const float *W, size_t ldw, const float *V,
								 size_t n, size_t dvh, size_t heads, size_t ldv,
								 float *part, double *acc)
{
	heads_weighted_f32_avx512(W, ldw, V, n, dvh, heads, ldv, 0.0f, part, acc);
}

/* x[i] *= a */
RV_AVX512 static void
scale_f32_avx512(float *x, size_t n, float a)
{
	__m512		a_f32x16 = _mm512_set1_ps(a);
	size_t		i = 0;

	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(x + i, _mm512_mul_ps(_mm512_loadu_ps(x + i), a_f32x16));
	if (i < n)
	{
		__mmask16	mask = tail_mask_avx512(n - i);

		_mm512_mask_storeu_ps(x + i, mask,
							  _mm512_mul_ps(_mm512_maskz_loadu_ps(mask, x + i), a_f32x16));
	}
}

/*
 * 1 when every x[i] is finite: x - x is 0 for finite x and NaN for NaN or
 * +/-Infinity, and a sum of those stays 0 only if all of them were 0.
 */
RV_AVX512 static int
all_finite_f32_avx512(const float *x, size_t n)
{
	__m512		acc0_f32x16 = _mm512_setzero_ps(),
				acc1_f32x16 = _mm512_setzero_ps();
	size_t		i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m512		x0_f32x16 = _mm512_loadu_ps(x + i);
		__m512		x1_f32x16 = _mm512_loadu_ps(x + i + 16);

		acc0_f32x16 = _mm512_add_ps(acc0_f32x16, _mm512_sub_ps(x0_f32x16, x0_f32x16));
		acc1_f32x16 = _mm512_add_ps(acc1_f32x16, _mm512_sub_ps(x1_f32x16, x1_f32x16));
	}
	for (; i + 16 <= n; i += 16)
	{
		__m512		x_f32x16 = _mm512_loadu_ps(x + i);

		acc0_f32x16 = _mm512_add_ps(acc0_f32x16, _mm512_sub_ps(x_f32x16, x_f32x16));
	}
	if (i < n)
	{
		__m512		x_f32x16 = _mm512_maskz_loadu_ps(tail_mask_avx512(n - i), x + i);

		acc1_f32x16 = _mm512_add_ps(acc1_f32x16, _mm512_sub_ps(x_f32x16, x_f32x16));
	}
	acc0_f32x16 = _mm512_add_ps(acc0_f32x16, acc1_f32x16);
	return _mm512_cmp_ps_mask(acc0_f32x16, _mm512_setzero_ps(), _CMP_EQ_OQ) == 0xFFFF;
}

/* ==== primitives of linear.c, gat.c, sparse.c, moe.c ==== */

/*
 * phi(x) = elu(x) + 1 on 16 lanes as exp(min(x, 0)) + max(x, 0): the exp
 * of x <= 0 gives exactly 1 at 0, so lanes >= 0 get x + 1 and the others
 * exp(x) + 0.  Adding x - x (0 for finite x, NaN otherwise) makes a
 * non-finite input non-finite (min and max would drop a NaN).
 */
RV_AVX512_INLINE __m512
phi_exp_f32x16_avx512(__m512 x_f32x16)
{
	__m512		zero_f32x16 = _mm512_setzero_ps();
	__m512		e_f32x16 = exp_nonpos_f32x16_avx512(_mm512_min_ps(x_f32x16, zero_f32x16));

	return _mm512_add_ps(_mm512_add_ps(e_f32x16, _mm512_max_ps(x_f32x16, zero_f32x16)),
						 _mm512_sub_ps(x_f32x16, x_f32x16));
}

/* the lanes of v with the sign bit set */
RV_AVX512_INLINE __mmask16
sign_mask_avx512(__m512 v_f32x16)
{
	return _mm512_test_epi32_mask(_mm512_castps_si512(v_f32x16),
								  _mm512_set1_epi32((int) 0x80000000u));
}

/*
 * phi on 16 lanes, without the exp when no sign bit is set (every lane
 * >= +0, or NaN, for which x + 1 is right too).
 */
RV_AVX512_INLINE __m512
phi_f32x16_avx512(__m512 x_f32x16)
{
	if (sign_mask_avx512(x_f32x16) == 0)
		return _mm512_add_ps(x_f32x16, _mm512_set1_ps(1.0f));
	return phi_exp_f32x16_avx512(x_f32x16);
}

/*
 * out[i] = phi(x[i]), 64 floats per step with one sign test for the four
 * registers (a branch per register slows the mixed-sign loop down); each
 * chunk is loaded before it is stored, so out == x works.
 */
RV_AVX512 static void
phi_f32_avx512(const float *x, size_t n, float *out)
{
	__m512		one_f32x16 = _mm512_set1_ps(1.0f);
	size_t		i = 0;

	for (; i + 64 <= n; i += 64)
	{
		__m512		x0_f32x16 = _mm512_loadu_ps(x + i);
		__m512		x1_f32x16 = _mm512_loadu_ps(x + i + 16);
		__m512		x2_f32x16 = _mm512_loadu_ps(x + i + 32);
		__m512		x3_f32x16 = _mm512_loadu_ps(x + i + 48);

		if ((sign_mask_avx512(x0_f32x16) | sign_mask_avx512(x1_f32x16) |
			 sign_mask_avx512(x2_f32x16) | sign_mask_avx512(x3_f32x16)) == 0)
		{
			x0_f32x16 = _mm512_add_ps(x0_f32x16, one_f32x16);
			x1_f32x16 = _mm512_add_ps(x1_f32x16, one_f32x16);
			x2_f32x16 = _mm512_add_ps(x2_f32x16, one_f32x16);
			x3_f32x16 = _mm512_add_ps(x3_f32x16, one_f32x16);
		}
		else
		{
			x0_f32x16 = phi_exp_f32x16_avx512(x0_f32x16);
			x1_f32x16 = phi_exp_f32x16_avx512(x1_f32x16);
			x2_f32x16 = phi_exp_f32x16_avx512(x2_f32x16);
			x3_f32x16 = phi_exp_f32x16_avx512(x3_f32x16);
		}
		_mm512_storeu_ps(out + i, x0_f32x16);
		_mm512_storeu_ps(out + i + 16, x1_f32x16);
		_mm512_storeu_ps(out + i + 32, x2_f32x16);
		_mm512_storeu_ps(out + i + 48, x3_f32x16);
	}
	for (; i + 16 <= n; i += 16)
		_mm512_storeu_ps(out + i, phi_f32x16_avx512(_mm512_loadu_ps(x + i)));
	if (i < n)
	{
		__mmask16	mask = tail_mask_avx512(n - i);

		_mm512_mask_storeu_ps(out + i, mask,
							  phi_f32x16_avx512(_mm512_maskz_loadu_ps(mask, x + i)));
	}
}

/* LeakyReLU of x + bias on 16 lanes: slope * y where y is not > 0 */
RV_AVX512_INLINE __m512
leaky_f32x16_avx512(__m512 x_f32x16, __m512 bias_f32x16, __m512 slope_f32x16)
{
	__m512		y_f32x16 = _mm512_add_ps(x_f32x16, bias_f32x16);
	__mmask16	le = _mm512_cmp_ps_mask(y_f32x16, _mm512_setzero_ps(), _CMP_NGT_UQ);

	return _mm512_mask_mul_ps(y_f32x16, le, y_f32x16, slope_f32x16);
}

/* lanes where y - y is not 0: NaN or +/-Infinity */
RV_AVX512_INLINE __mmask16
nonfinite_mask_avx512(__m512 y_f32x16)
{
	return _mm512_cmp_ps_mask(_mm512_sub_ps(y_f32x16, y_f32x16), _mm512_setzero_ps(),
							  _CMP_NEQ_UQ);
}

/*
 * out[i] = LeakyReLU(x[i] + bias), the running max, and a mask of the
 * non-finite results.  Tail lanes past n are left out of both.
 */
RV_AVX512 static float
leaky_relu_f32_avx512(const float *x, size_t n, float bias, float slope,
					  float *out, int *bad)
{
	__m512		bias_f32x16 = _mm512_set1_ps(bias),
				slope_f32x16 = _mm512_set1_ps(slope);
	__m512		max0_f32x16 = _mm512_set1_ps(-INFINITY),
				max1_f32x16 = max0_f32x16;
	__mmask16	bad_mask = 0;
	size_t		i = 0;

	for (; i + 32 <= n; i += 32)
	{
		__m512		y0_f32x16 = leaky_f32x16_avx512(_mm512_loadu_ps(x + i), bias_f32x16, slope_f32x16);
		__m512		y1_f32x16 = leaky_f32x16_avx512(_mm512_loadu_ps(x + i + 16), bias_f32x16, slope_f32x16);

		_mm512_storeu_ps(out + i, y0_f32x16);
		_mm512_storeu_ps(out + i + 16, y1_f32x16);
		max0_f32x16 = _mm512_max_ps(max0_f32x16, y0_f32x16);
		max1_f32x16 = _mm512_max_ps(max1_f32x16, y1_f32x16);
		bad_mask |= nonfinite_mask_avx512(y0_f32x16) | nonfinite_mask_avx512(y1_f32x16);
	}
	for (; i + 16 <= n; i += 16)
	{
		__m512		y_f32x16 = leaky_f32x16_avx512(_mm512_loadu_ps(x + i), bias_f32x16, slope_f32x16);

		_mm512_storeu_ps(out + i, y_f32x16);
		max0_f32x16 = _mm512_max_ps(max0_f32x16, y_f32x16);
		bad_mask |= nonfinite_mask_avx512(y_f32x16);
	}
	if (i < n)
	{
		__mmask16	mask = tail_mask_avx512(n - i);
		__m512		y_f32x16 = leaky_f32x16_avx512(_mm512_maskz_loadu_ps(mask, x + i), bias_f32x16,
												   slope_f32x16);

		_mm512_mask_storeu_ps(out + i, mask, y_f32x16);
		max1_f32x16 = _mm512_mask_max_ps(max1_f32x16, mask, max1_f32x16, y_f32x16);
		bad_mask |= nonfinite_mask_avx512(y_f32x16) & mask;
	}
	*bad = bad_mask != 0;
	return _mm512_reduce_max_ps(_mm512_max_ps(max0_f32x16, max1_f32x16));
}

/* ==== end of linear, gat, sparse, moe ==== */

/* ==== primitives of hyperbolic.c ==== */

/* 16 floats from two halves of 8 (lanes 0..7 from lo) */
RV_AVX512_INLINE __m512
join_f32x8_avx512(__m256 lo_f32x8, __m256 hi_f32x8)
{
	return _mm512_castpd_ps(_mm512_insertf64x4(_mm512_castps_pd(_mm512_castps256_ps512(lo_f32x8)),
											   _mm256_castps_pd(hi_f32x8), 1));
}

/* the high 8 floats of 16 */
RV_AVX512_INLINE __m256
high_f32x8_avx512(__m512 v_f32x16)
{
	return _mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(v_f32x16), 1));
}

/* rem (0..16) doubles from p into lo, hi (zeros past rem), never reading past p + rem */
RV_AVX512_INLINE void
load_pd16_avx512(const double *p, size_t rem, __m512d *lo_f64x8, __m512d *hi_f64x8)
{
	if (rem >= 16)
	{
		*lo_f64x8 = _mm512_loadu_pd(p);
		*hi_f64x8 = _mm512_loadu_pd(p + 8);
		return;
	}
	*lo_f64x8 = _mm512_maskz_loadu_pd((__mmask8) ((1u << (rem < 8 ? rem : 8)) - 1u), p);
	*hi_f64x8 = _mm512_maskz_loadu_pd((__mmask8) ((1u << (rem > 8 ? rem - 8 : 0)) - 1u), p + 8);
}

/* RV_LOG1P (rv_kernels.h) on 16 lanes, FMA in the polynomial */
RV_AVX512_INLINE __m512
log1p_f32x16_avx512(__m512 x_f32x16)
{
	__m512		one_f32x16 = _mm512_set1_ps(1.0f);
	__m512		u_f32x16 = _mm512_add_ps(x_f32x16, one_f32x16);
	__m512i		ix_i32x16 = _mm512_add_epi32(_mm512_castps_si512(u_f32x16),
											 _mm512_set1_epi32(RV_LOG1P_BIAS));
	__m512		k_f32x16 = _mm512_cvtepi32_ps(_mm512_sub_epi32(_mm512_srli_epi32(ix_i32x16, 23),
															   _mm512_set1_epi32(127)));
	__m512		m_f32x16 = _mm512_castsi512_ps(_mm512_add_epi32(_mm512_and_epi32(ix_i32x16,
																				 _mm512_set1_epi32(0x007fffff)),
																_mm512_set1_epi32(RV_LOG1P_SQRTHF_BITS)));
	__m512		f_f32x16 = _mm512_sub_ps(m_f32x16, one_f32x16);
	__m512		corr_f32x16 = _mm512_div_ps(_mm512_sub_ps(x_f32x16, _mm512_sub_ps(u_f32x16, one_f32x16)),
											u_f32x16);
	__m512		z_f32x16 = _mm512_mul_ps(f_f32x16, f_f32x16);
	__m512		p_f32x16,
				y_f32x16,
				r_f32x16,
				special_f32x16;
	__mmask16	gt,
				ok;

	p_f32x16 = _mm512_fmadd_ps(_mm512_set1_ps(RV_LOG1P_P8), f_f32x16, _mm512_set1_ps(RV_LOG1P_P7));
	p_f32x16 = _mm512_fmadd_ps(p_f32x16, f_f32x16, _mm512_set1_ps(RV_LOG1P_P6));
	p_f32x16 = _mm512_fmadd_ps(p_f32x16, f_f32x16, _mm512_set1_ps(RV_LOG1P_P5));
	p_f32x16 = _mm512_fmadd_ps(p_f32x16, f_f32x16, _mm512_set1_ps(RV_LOG1P_P4));
	p_f32x16 = _mm512_fmadd_ps(p_f32x16, f_f32x16, _mm512_set1_ps(RV_LOG1P_P3));
	p_f32x16 = _mm512_fmadd_ps(p_f32x16, f_f32x16, _mm512_set1_ps(RV_LOG1P_P2));
	p_f32x16 = _mm512_fmadd_ps(p_f32x16, f_f32x16, _mm512_set1_ps(RV_LOG1P_P1));
	p_f32x16 = _mm512_fmadd_ps(p_f32x16, f_f32x16, _mm512_set1_ps(RV_LOG1P_P0));
	y_f32x16 = _mm512_mul_ps(_mm512_mul_ps(p_f32x16, f_f32x16), z_f32x16);
	y_f32x16 = _mm512_fmadd_ps(k_f32x16, _mm512_set1_ps(RV_LN2_LO), y_f32x16);
	y_f32x16 = _mm512_fnmadd_ps(_mm512_set1_ps(0.5f), z_f32x16, y_f32x16);
	y_f32x16 = _mm512_add_ps(y_f32x16, corr_f32x16);
	r_f32x16 = _mm512_add_ps(f_f32x16, y_f32x16);
	r_f32x16 = _mm512_fmadd_ps(k_f32x16, _mm512_set1_ps(RV_LN2_HI), r_f32x16);

	/* NaN and +Infinity give x, -1 gives -Infinity, below -1 NaN */
	gt = _mm512_cmp_ps_mask(x_f32x16, _mm512_set1_ps(-1.0f), _CMP_GT_OQ);
	ok = gt & _mm512_cmp_ps_mask(x_f32x16, _mm512_set1_ps(INFINITY), _CMP_LT_OQ);
	special_f32x16 = _mm512_mask_mov_ps(_mm512_set1_ps(NAN), gt, x_f32x16);
	special_f32x16 = _mm512_mask_mov_ps(special_f32x16,
										_mm512_cmp_ps_mask(x_f32x16, _mm512_set1_ps(-1.0f), _CMP_EQ_OQ),
										_mm512_set1_ps(-INFINITY));
	return _mm512_mask_mov_ps(special_f32x16, ok, r_f32x16);
}

/* RV_SQNORM's lane combination of lanes [l0..l7] */
RV_AVX512_INLINE double
sqnorm_reduce_avx512(__m512d v_f64x8)
{
	__m256d		s_f64x4 = _mm256_add_pd(_mm512_castpd512_pd256(v_f64x8),
										_mm512_extractf64x4_pd(v_f64x8, 1));
	__m128d		h_f64x2 = _mm_add_pd(_mm256_castpd256_pd128(s_f64x4),
									 _mm256_extractf128_pd(s_f64x4, 1));

	return _mm_cvtsd_f64(_mm_add_sd(h_f64x2, _mm_unpackhi_pd(h_f64x2, h_f64x2)));
}

/*
 * The double-norm kernel of sqnorm_rows for 8 rows k[r]: kk_f64x8[r]
 * accumulates k_r^2 in the 8 double lanes of RV_SQNORM (columns j..j+7
 * of a chunk, then j+8..j+15, in that order).  The d tail is one masked
 * chunk of zeros past d.
 */
RV_AVX512_INLINE void
sqnorm_f64_rows_avx512(const float *const *k, size_t d, __m512d *kk_f64x8)
{
	size_t		j = 0;

	RV_UNROLL
	for (int r = 0; r < 8; r++)
		kk_f64x8[r] = _mm512_setzero_pd();
	for (; j + 16 <= d; j += 16)
		RV_UNROLL
		for (int r = 0; r < 8; r++)
		{
			__m512d		lo_f64x8 = _mm512_cvtps_pd(_mm256_loadu_ps(k[r] + j));
			__m512d		hi_f64x8 = _mm512_cvtps_pd(_mm256_loadu_ps(k[r] + j + 8));

			kk_f64x8[r] = _mm512_fmadd_pd(lo_f64x8, lo_f64x8, kk_f64x8[r]);
			kk_f64x8[r] = _mm512_fmadd_pd(hi_f64x8, hi_f64x8, kk_f64x8[r]);
		}
	if (j < d)
	{
		__mmask16	mask = tail_mask_avx512(d - j);

		RV_UNROLL
		for (int r = 0; r < 8; r++)
		{
			__m512		k_f32x16 = _mm512_maskz_loadu_ps(mask, k[r] + j);
			__m512d		lo_f64x8 = _mm512_cvtps_pd(_mm512_castps512_ps256(k_f32x16));
			__m512d		hi_f64x8 = _mm512_cvtps_pd(high_f32x8_avx512(k_f32x16));

			kk_f64x8[r] = _mm512_fmadd_pd(lo_f64x8, lo_f64x8, kk_f64x8[r]);
			kk_f64x8[r] = _mm512_fmadd_pd(hi_f64x8, hi_f64x8, kk_f64x8[r]);
		}
	}
}

/*
 * The float kernel of sqdist_rows and sqnorm_rows_f32 for 8 rows k[r]:
 * when want_d2, d2_f32x16[r] accumulates (q - k_r)^2 in 16 float lanes
 * over all d; when want_kk (want_pk), the 16 float lanes of k_r^2
 * ((q - k_r)(q + k_r)) run over a block of RV_SQNORM_F32_BLOCK columns,
 * are reduced by the transpose tree of eight rows and added in double to
 * *kk_f64x8 (*pk_f64x8), lane r: RV_SQNORM_F32 with 16 lanes and FMA;
 * when want_kd, kd_f64x8[r] accumulates k_r^2 in the 8 double lanes of
 * RV_SQNORM, exactly as sqnorm_f64_rows_avx512.  The d tail is one masked
 * chunk of zeros past d.
 */
RV_AVX512_INLINE void
sq_rows_f32_avx512(const float *q, const float *const *k, size_t d,
				   const int want_d2, const int want_kk, const int want_pk,
				   const int want_kd, __m512 *d2_f32x16, __m512d *kk_f64x8,
				   __m512d *pk_f64x8, __m512d *kd_f64x8)
{
	__m512		kk_f32x16[8],
				pk_f32x16[8];

	RV_UNROLL
	for (int r = 0; r < 8; r++)
	{
		d2_f32x16[r] = kk_f32x16[r] = pk_f32x16[r] = _mm512_setzero_ps();
		if (want_kd)
			kd_f64x8[r] = _mm512_setzero_pd();
	}
	*kk_f64x8 = *pk_f64x8 = _mm512_setzero_pd();
	for (size_t jb = 0; jb < d; jb += RV_SQNORM_F32_BLOCK)
	{
		size_t		je = d - jb < RV_SQNORM_F32_BLOCK ? d : jb + RV_SQNORM_F32_BLOCK;
		size_t		j = jb;

		for (; j + 16 <= je; j += 16)
		{
			__m512		q_f32x16 = want_d2 || want_pk ? _mm512_loadu_ps(q + j) : _mm512_setzero_ps();

			RV_UNROLL
			for (int r = 0; r < 8; r++)
			{
				__m512		k_f32x16 = _mm512_loadu_ps(k[r] + j);
				__m512		e_f32x16;

				/* one load per chunk, also when used twice */
				if (want_pk)
					RV_AVX512_BARRIER(k_f32x16);
				e_f32x16 = _mm512_sub_ps(q_f32x16, k_f32x16);
				if (want_d2)
					d2_f32x16[r] = _mm512_fmadd_ps(e_f32x16, e_f32x16, d2_f32x16[r]);
				if (want_kk)
					kk_f32x16[r] = _mm512_fmadd_ps(k_f32x16, k_f32x16, kk_f32x16[r]);
				if (want_pk)
					pk_f32x16[r] = _mm512_fmadd_ps(e_f32x16, _mm512_add_ps(q_f32x16, k_f32x16),
												   pk_f32x16[r]);
				if (want_kd)
				{
					__m512d		lo_f64x8 = _mm512_cvtps_pd(_mm256_loadu_ps(k[r] + j));
					__m512d		hi_f64x8 = _mm512_cvtps_pd(_mm256_loadu_ps(k[r] + j + 8));

					kd_f64x8[r] = _mm512_fmadd_pd(lo_f64x8, lo_f64x8, kd_f64x8[r]);
					kd_f64x8[r] = _mm512_fmadd_pd(hi_f64x8, hi_f64x8, kd_f64x8[r]);
				}
			}
		}
		if (j < je)
		{
			__mmask16	mask = tail_mask_avx512(je - j);
			__m512		q_f32x16 = want_d2 || want_pk ? _mm512_maskz_loadu_ps(mask, q + j) : _mm512_setzero_ps();

			RV_UNROLL
			for (int r = 0; r < 8; r++)
			{
				__m512		k_f32x16 = _mm512_maskz_loadu_ps(mask, k[r] + j);
				__m512		e_f32x16 = _mm512_sub_ps(q_f32x16, k_f32x16);

				if (want_d2)
					d2_f32x16[r] = _mm512_fmadd_ps(e_f32x16, e_f32x16, d2_f32x16[r]);
				if (want_kk)
					kk_f32x16[r] = _mm512_fmadd_ps(k_f32x16, k_f32x16, kk_f32x16[r]);
				if (want_pk)
					pk_f32x16[r] = _mm512_fmadd_ps(e_f32x16, _mm512_add_ps(q_f32x16, k_f32x16),
												   pk_f32x16[r]);
				if (want_kd)
				{
					__m512d		lo_f64x8 = _mm512_cvtps_pd(_mm512_castps512_ps256(k_f32x16));
					__m512d		hi_f64x8 = _mm512_cvtps_pd(high_f32x8_avx512(k_f32x16));

					kd_f64x8[r] = _mm512_fmadd_pd(lo_f64x8, lo_f64x8, kd_f64x8[r]);
					kd_f64x8[r] = _mm512_fmadd_pd(hi_f64x8, hi_f64x8, kd_f64x8[r]);
				}
			}
		}
		if (want_kk)
			*kk_f64x8 = _mm512_add_pd(*kk_f64x8, _mm512_cvtps_pd(reduce_rows8_f32x16(kk_f32x16)));
		if (want_pk)
			*pk_f64x8 = _mm512_add_pd(*pk_f64x8, _mm512_cvtps_pd(reduce_rows8_f32x16(pk_f32x16)));
		RV_UNROLL
		for (int r = 0; r < 8; r++)
			kk_f32x16[r] = pk_f32x16[r] = _mm512_setzero_ps();
	}
}

/*
 * The row loop of sqdist_rows, sqnorm_rows_f32 and sqnorm_rows: 8 row
 * slots, each walking its own contiguous, skewed stretch of rows as in
 * scores_f32_avx512; the n % 8 last rows reuse the kernel with the
 * missing slots aimed at the last real row, only the real results stored.
 * With only want_kd: the double kernel of sqnorm_rows.
 */
RV_AVX512_INLINE void
sq_rows_loop_f32_avx512(const float *q, const float *K, size_t n, size_t d,
						size_t ldk, float *d2, float *kk, float *pk, double *kd,
						const int want_d2, const int want_kk, const int want_pk,
						const int want_kd)
{
	__m512		d2_f32x16[8];
	__m512d		kk_f64x8[8],
				pk_f64x8,
				kd_f64x8[8];
	const float *k[8];
	size_t		blocks = n / 8;
	size_t		skew[8];
	size_t		row[8];

	for (size_t r = 0; r < 8 && blocks > 0; r++)
		skew[r] = r % blocks;
	for (size_t b = 0; b <= blocks; b++)
	{
		size_t		real = 8;

		if (b == blocks)
		{
			real = n - blocks * 8;
			if (real == 0)
				break;
			for (size_t r = 0; r < 8; r++)
				row[r] = blocks * 8 + (r < real ? r : real - 1);
		}
		else
			RV_UNROLL
			for (int r = 0; r < 8; r++)
				row[r] = rv_stream_row(r, blocks, b, skew[r]);
		RV_UNROLL
		for (int r = 0; r < 8; r++)
			k[r] = K + row[r] * ldk;
		if (want_kd && !want_d2 && !want_kk && !want_pk)
		{
			sqnorm_f64_rows_avx512(k, d, kk_f64x8);
			for (size_t r = 0; r < real; r++)
				kd[row[r]] = sqnorm_reduce_avx512(kk_f64x8[r]);
			continue;
		}
		sq_rows_f32_avx512(q, k, d, want_d2, want_kk, want_pk, want_kd, d2_f32x16, kk_f64x8,
						   &pk_f64x8, kd_f64x8);
		if (want_kd)
			for (size_t r = 0; r < real; r++)
				kd[row[r]] = sqnorm_reduce_avx512(kd_f64x8[r]);
		if (want_d2)
		{
			float		s8[8];

			_mm256_storeu_ps(s8, reduce_rows8_f32x16(d2_f32x16));
			for (size_t r = 0; r < real; r++)
				d2[row[r]] = s8[r];
		}
		if (want_kk)
		{
			float		s8[8];

			_mm256_storeu_ps(s8, _mm512_cvtpd_ps(kk_f64x8[0]));
			for (size_t r = 0; r < real; r++)
				kk[row[r]] = s8[r];
		}
		if (want_pk)
		{
			float		s8[8];

			_mm256_storeu_ps(s8, _mm512_cvtpd_ps(pk_f64x8));
			for (size_t r = 0; r < real; r++)
				pk[row[r]] = s8[r];
		}
	}
}

RV_AVX512 static void
sqnorm_rows_f64_avx512(const float *X, size_t n, size_t d, size_t ldx, double *out)
{
	sq_rows_loop_f32_avx512(NULL, X, n, d, ldx, NULL, NULL, NULL, out, 0, 0, 0, 1);
}

RV_AVX512 static void
sqnorm_rows_f32_avx512(const float *X, size_t n, size_t d, size_t ldx, float *out)
{
	sq_rows_loop_f32_avx512(NULL, X, n, d, ldx, NULL, out, NULL, NULL, 0, 1, 0, 0);
}

RV_AVX512 static void
sqdist_rows_f32_avx512(const float *q, const float *K, size_t n, size_t d,
					   size_t ldk, float *d2, float *kk, float *pk, double *kd)
{
	if (kd)
		sq_rows_loop_f32_avx512(q, K, n, d, ldk, d2, kk, pk, kd, 1, kk != NULL, pk != NULL, 1);
	else if (kk && pk)
		sq_rows_loop_f32_avx512(q, K, n, d, ldk, d2, kk, pk, NULL, 1, 1, 1, 0);
	else if (kk)
		sq_rows_loop_f32_avx512(q, K, n, d, ldk, d2, kk, NULL, NULL, 1, 1, 0, 0);
	else if (pk)
		sq_rows_loop_f32_avx512(q, K, n, d, ldk, d2, NULL, pk, NULL, 1, 0, 1, 0);
	else
		sq_rows_loop_f32_avx512(q, K, n, d, ldk, d2, NULL, NULL, NULL, 1, 0, 0, 0);
}

/* the lanes of v below rem (16 bits set from 0), as a count of the others */
RV_AVX512_INLINE size_t
count_unset_avx512(__mmask16 ok, __mmask16 lanes)
{
	return (size_t) __builtin_popcount((unsigned) (~ok & lanes) & 0xffffu);
}

RV_AVX512 static size_t
ball_gaps_f32_avx512(const float *x, size_t n, float c, float xmax, float *a)
{
	__m512d		c_f64x8 = _mm512_set1_pd(c),
				one_f64x8 = _mm512_set1_pd(1.0);
	size_t		flagged = 0;

	for (size_t i = 0; i < n; i += 16)
	{
		__mmask16	lanes = tail_mask_avx512(n - i < 16 ? n - i : 16);
		__m512		x_f32x16 = _mm512_maskz_loadu_ps(lanes, x + i);
		__mmask16	ok = _mm512_cmp_ps_mask(x_f32x16, _mm512_set1_ps(xmax), _CMP_LE_OQ);
		__m512		a_f32x16 = join_f32x8_avx512(
			_mm512_cvtpd_ps(_mm512_fnmadd_pd(c_f64x8, _mm512_cvtps_pd(_mm512_castps512_ps256(x_f32x16)), one_f64x8)),
			_mm512_cvtpd_ps(_mm512_fnmadd_pd(c_f64x8, _mm512_cvtps_pd(high_f32x8_avx512(x_f32x16)), one_f64x8)));

		flagged += count_unset_avx512(ok, lanes);
		_mm512_mask_storeu_ps(a + i, lanes, _mm512_mask_mov_ps(_mm512_set1_ps(NAN), ok, a_f32x16));
	}
	return flagged;
}

RV_AVX512 static void
ball_gaps_f64_avx512(const double *kd, size_t n, float c, float *a, float *xf)
{
	__m512d		c_f64x8 = _mm512_set1_pd(c),
				one_f64x8 = _mm512_set1_pd(1.0);

	for (size_t i = 0; i < n; i += 16)
	{
		size_t		rem = n - i < 16 ? n - i : 16;
		__mmask16	lanes = tail_mask_avx512(rem);
		__m512d		lo_f64x8,
					hi_f64x8,
					glo_f64x8,
					ghi_f64x8;

		load_pd16_avx512(kd + i, rem, &lo_f64x8, &hi_f64x8);
		/* a product, then a difference: the ball test */
		glo_f64x8 = _mm512_sub_pd(one_f64x8, _mm512_mul_pd(c_f64x8, lo_f64x8));
		ghi_f64x8 = _mm512_sub_pd(one_f64x8, _mm512_mul_pd(c_f64x8, hi_f64x8));
		glo_f64x8 = _mm512_mask_mov_pd(_mm512_set1_pd(NAN),
									   _mm512_cmp_pd_mask(glo_f64x8, _mm512_setzero_pd(), _CMP_GT_OQ), glo_f64x8);
		ghi_f64x8 = _mm512_mask_mov_pd(_mm512_set1_pd(NAN),
									   _mm512_cmp_pd_mask(ghi_f64x8, _mm512_setzero_pd(), _CMP_GT_OQ), ghi_f64x8);
		_mm512_mask_storeu_ps(a + i, lanes, join_f32x8_avx512(_mm512_cvtpd_ps(glo_f64x8), _mm512_cvtpd_ps(ghi_f64x8)));
		if (xf)
			_mm512_mask_storeu_ps(xf + i, lanes, join_f32x8_avx512(_mm512_cvtpd_ps(lo_f64x8), _mm512_cvtpd_ps(hi_f64x8)));
	}
}

/* 0 - RV_DIST(X) * rc on 16 lanes (+0 at X = 0; NaN stays NaN) */
RV_AVX512_INLINE __m512
neg_dist_f32x16_avx512(__m512 X_f32x16, __m512 rc_f32x16)
{
	__m512		y_f32x16 = _mm512_add_ps(X_f32x16, _mm512_sqrt_ps(_mm512_fmadd_ps(X_f32x16, X_f32x16, X_f32x16)));

	y_f32x16 = _mm512_mask_mov_ps(_mm512_add_ps(X_f32x16, X_f32x16),
								  _mm512_cmp_ps_mask(X_f32x16, _mm512_set1_ps(RV_DIST_BIG), _CMP_LT_OQ),
								  y_f32x16);
	return _mm512_sub_ps(_mm512_setzero_ps(),
						 _mm512_mul_ps(log1p_f32x16_avx512(_mm512_add_ps(y_f32x16, y_f32x16)), rc_f32x16));
}

/* max of the first 16 lanes of a running max */
RV_AVX512_INLINE float
hmax_f32x16_avx512(__m512 v_f32x16)
{
	return hmax_f32x8_avx512(_mm256_max_ps(_mm512_castps512_ps256(v_f32x16), high_f32x8_avx512(v_f32x16)));
}

RV_AVX512 static float
poincare_logits_f32_avx512(const float *d2, const float *a, size_t n, float aq,
						   float c, float *s)
{
	__m512		c_f32x16 = _mm512_set1_ps(c),
				rc_f32x16 = _mm512_set1_ps((float) (1.0 / sqrt((double) c))),
				aq_f32x16 = _mm512_set1_ps(aq),
				max_f32x16 = _mm512_set1_ps(-INFINITY);

	for (size_t i = 0; i < n; i += 16)
	{
		__mmask16	lanes = tail_mask_avx512(n - i < 16 ? n - i : 16);
		__m512		a_f32x16 = _mm512_maskz_loadu_ps(lanes, a + i);
		__m512		X_f32x16 = _mm512_div_ps(_mm512_mul_ps(c_f32x16, _mm512_maskz_loadu_ps(lanes, d2 + i)),
											 _mm512_mul_ps(aq_f32x16, a_f32x16));
		__m512		s_f32x16 = _mm512_mask_mov_ps(_mm512_set1_ps(NAN),
												  _mm512_cmp_ps_mask(a_f32x16, _mm512_setzero_ps(), _CMP_GT_OQ),
												  neg_dist_f32x16_avx512(X_f32x16, rc_f32x16));

		_mm512_mask_storeu_ps(s + i, lanes, s_f32x16);
		max_f32x16 = _mm512_mask_max_ps(max_f32x16, lanes, max_f32x16, s_f32x16);
	}
	return hmax_f32x16_avx512(max_f32x16);
}

RV_AVX512 static void
poincare_log0_f32_avx512(const float *vv, const float *a, size_t n, float c, float *f)
{
	__m512		c_f32x16 = _mm512_set1_ps(c),
				one_f32x16 = _mm512_set1_ps(1.0f);

	for (size_t i = 0; i < n; i += 16)
	{
		__mmask16	lanes = tail_mask_avx512(n - i < 16 ? n - i : 16);
		__m512		a_f32x16 = _mm512_maskz_loadu_ps(lanes, a + i);
		__m512		r_f32x16 = _mm512_sqrt_ps(_mm512_mul_ps(c_f32x16, _mm512_maskz_loadu_ps(lanes, vv + i)));
		__m512		r2_f32x16 = _mm512_add_ps(r_f32x16, r_f32x16);
		__m512		t_f32x16 = _mm512_div_ps(_mm512_mul_ps(r2_f32x16, _mm512_add_ps(one_f32x16, r_f32x16)),
											 a_f32x16);
		__m512		f_f32x16 = _mm512_div_ps(log1p_f32x16_avx512(t_f32x16), r2_f32x16);

		f_f32x16 = _mm512_mask_mov_ps(f_f32x16, _mm512_cmp_ps_mask(r_f32x16, _mm512_setzero_ps(), _CMP_EQ_OQ),
									  one_f32x16);
		f_f32x16 = _mm512_mask_mov_ps(_mm512_set1_ps(NAN),
									  _mm512_cmp_ps_mask(a_f32x16, _mm512_setzero_ps(), _CMP_GT_OQ), f_f32x16);
		_mm512_mask_storeu_ps(f + i, lanes, f_f32x16);
	}
}

RV_AVX512 static void
mul_f32_avx512(const float *x, const float *y, size_t n, float *out)
{
	for (size_t i = 0; i < n; i += 16)
	{
		__mmask16	lanes = tail_mask_avx512(n - i < 16 ? n - i : 16);

		_mm512_mask_storeu_ps(out + i, lanes, _mm512_mul_ps(_mm512_maskz_loadu_ps(lanes, x + i),
															_mm512_maskz_loadu_ps(lanes, y + i)));
	}
}

RV_AVX512 static size_t
lorentz_chord_f32_avx512(const float *d2, const float *pk, size_t n, double qq,
						 float c, float *t)
{
	double		ic = 1.0 / (double) c;
	__m512		q0_f32x16 = _mm512_set1_ps((float) sqrt(ic + qq)),
				q0sq_f32x16 = _mm512_set1_ps((float) (ic + qq));
	size_t		flagged = 0;

	for (size_t i = 0; i < n; i += 16)
	{
		__mmask16	lanes = tail_mask_avx512(n - i < 16 ? n - i : 16);
		__m512		d2_f32x16 = _mm512_maskz_loadu_ps(lanes, d2 + i);
		__m512		pk_f32x16 = _mm512_maskz_loadu_ps(lanes, pk + i);
		__m512		k0_f32x16 = _mm512_sqrt_ps(_mm512_sub_ps(q0sq_f32x16, pk_f32x16));
		__m512		den_f32x16 = _mm512_add_ps(q0_f32x16, k0_f32x16);
		__m512		t_f32x16 = _mm512_div_ps(pk_f32x16, den_f32x16);
		__m512		t2_f32x16 = _mm512_mul_ps(t_f32x16, t_f32x16);
		__m512		sd_f32x16 = _mm512_sqrt_ps(d2_f32x16);
		__m512		p_f32x16 = _mm512_fmadd_ps(_mm512_set1_ps(RV_CHORD_G), sd_f32x16,
											   _mm512_mul_ps(_mm512_set1_ps(RV_CHORD_UH), den_f32x16));
		__m512		kb_f32x16 = _mm512_fmadd_ps(_mm512_set1_ps(RV_CHORD_U3), k0_f32x16, p_f32x16);
		__m512		y_f32x16 = _mm512_sub_ps(d2_f32x16, t2_f32x16);
		__m512		in_f32x16 = _mm512_fmadd_ps(_mm512_mul_ps(_mm512_set1_ps(RV_CHORD_A), _mm512_abs_ps(t_f32x16)),
												sd_f32x16,
												_mm512_fnmadd_ps(_mm512_set1_ps((float) RV_HYP_TOL), y_f32x16,
																 _mm512_mul_ps(_mm512_set1_ps(RV_CHORD_C), d2_f32x16)));
		__m512		lhs_f32x16 = _mm512_fmadd_ps(k0_f32x16, in_f32x16,
												 _mm512_mul_ps(_mm512_mul_ps(_mm512_set1_ps(RV_CHORD_D), kb_f32x16),
															   t2_f32x16));
		__mmask16	ok = _mm512_cmp_ps_mask(k0_f32x16, _mm512_set1_ps(INFINITY), _CMP_LT_OQ) &
			_mm512_cmp_ps_mask(kb_f32x16, _mm512_mul_ps(_mm512_set1_ps(RV_CHORD_BMAX), k0_f32x16), _CMP_LE_OQ) &
			_mm512_cmp_ps_mask(lhs_f32x16, _mm512_setzero_ps(), _CMP_LE_OQ);

		flagged += count_unset_avx512(ok, lanes);
		_mm512_mask_storeu_ps(t + i, lanes, _mm512_mask_mov_ps(_mm512_set1_ps(NAN), ok, t_f32x16));
	}
	return flagged;
}

RV_AVX512 static void
lorentz_chord_f64_avx512(const double *kd, size_t n, double qq, float c, float *t)
{
	double		ic = 1.0 / (double) c;
	__m512d		ic_f64x8 = _mm512_set1_pd(ic),
				qq_f64x8 = _mm512_set1_pd(qq),
				q0_f64x8 = _mm512_set1_pd(sqrt(ic + qq));

	for (size_t i = 0; i < n; i += 16)
	{
		size_t		rem = n - i < 16 ? n - i : 16;
		__m512d		lo_f64x8,
					hi_f64x8;

		load_pd16_avx512(kd + i, rem, &lo_f64x8, &hi_f64x8);
		lo_f64x8 = _mm512_div_pd(_mm512_sub_pd(qq_f64x8, lo_f64x8),
								 _mm512_add_pd(q0_f64x8, _mm512_sqrt_pd(_mm512_add_pd(ic_f64x8, lo_f64x8))));
		hi_f64x8 = _mm512_div_pd(_mm512_sub_pd(qq_f64x8, hi_f64x8),
								 _mm512_add_pd(q0_f64x8, _mm512_sqrt_pd(_mm512_add_pd(ic_f64x8, hi_f64x8))));
		_mm512_mask_storeu_ps(t + i, tail_mask_avx512(rem),
							  join_f32x8_avx512(_mm512_cvtpd_ps(lo_f64x8), _mm512_cvtpd_ps(hi_f64x8)));
	}
}

RV_AVX512 static float
lorentz_logits_f32_avx512(const float *d2, const float *t, size_t n, float c,
						  float *s)
{
	__m512		qc_f32x16 = _mm512_set1_ps((float) ((double) c / 4.0)),
				rc_f32x16 = _mm512_set1_ps((float) (1.0 / sqrt((double) c))),
				max_f32x16 = _mm512_set1_ps(-INFINITY);

	for (size_t i = 0; i < n; i += 16)
	{
		__mmask16	lanes = tail_mask_avx512(n - i < 16 ? n - i : 16);
		__m512		d2_f32x16 = _mm512_maskz_loadu_ps(lanes, d2 + i);
		__m512		t_f32x16 = _mm512_maskz_loadu_ps(lanes, t + i);
		__m512		y_f32x16 = _mm512_sub_ps(d2_f32x16, _mm512_mul_ps(t_f32x16, t_f32x16));
		/* y < 0 becomes 0; NaN stays NaN (maxps returns its second operand) */
		__m512		X_f32x16 = _mm512_mul_ps(qc_f32x16, _mm512_max_ps(_mm512_setzero_ps(), y_f32x16));
		__m512		s_f32x16 = _mm512_mask_mov_ps(neg_dist_f32x16_avx512(X_f32x16, rc_f32x16),
												  _mm512_cmp_ps_mask(d2_f32x16,
																	 _mm512_mul_ps(_mm512_set1_ps(RV_LORENTZ_ILL), y_f32x16),
																	 _CMP_GT_OQ),
												  _mm512_set1_ps(INFINITY));

		_mm512_mask_storeu_ps(s + i, lanes, s_f32x16);
		max_f32x16 = _mm512_mask_max_ps(max_f32x16, lanes, max_f32x16, s_f32x16);
	}
	return hmax_f32x16_avx512(max_f32x16);
}

/* 16 double lanes (i % 16, as two registers), combined as lo + hi, then RV_SQNORM's lanes */
RV_AVX512 static double
lorentz_time_f32_avx512(const float *w, const float *vv, size_t n, float c)
{
	__m512		ic_f32x16 = _mm512_set1_ps((float) (1.0 / (double) c));
	__m512d		lo_f64x8 = _mm512_setzero_pd(),
				hi_f64x8 = _mm512_setzero_pd();

	for (size_t i = 0; i < n; i += 16)
	{
		__mmask16	lanes = tail_mask_avx512(n - i < 16 ? n - i : 16);
		/* lanes past n: weight 0 and root sqrt(1/c), finite */
		__m512		w_f32x16 = _mm512_maskz_loadu_ps(lanes, w + i);
		__m512		v0_f32x16 = _mm512_sqrt_ps(_mm512_add_ps(ic_f32x16, _mm512_maskz_loadu_ps(lanes, vv + i)));

		lo_f64x8 = _mm512_fmadd_pd(_mm512_cvtps_pd(_mm512_castps512_ps256(w_f32x16)),
								   _mm512_cvtps_pd(_mm512_castps512_ps256(v0_f32x16)), lo_f64x8);
		hi_f64x8 = _mm512_fmadd_pd(_mm512_cvtps_pd(high_f32x8_avx512(w_f32x16)),
								   _mm512_cvtps_pd(high_f32x8_avx512(v0_f32x16)), hi_f64x8);
	}
	return sqnorm_reduce_avx512(_mm512_add_pd(lo_f64x8, hi_f64x8));
}

/*
 * One step of weighted_sum_sqnorm over all dv columns: out += the `rows`
 * (1 or 8, a constant) rows v[r] weighted by w_f32x16[r], added in row
 * order per chunk of out, and when want_vv (8 rows) their RV_SQNORM_F32
 * norms, from the same registers, into *vv_f64x8 (lane r), exactly as
 * sq_rows_f32_avx512 sums them.
 */
RV_AVX512_INLINE void
ws_norm_step_avx512(const float *const *v, const __m512 *w_f32x16, const int rows,
					const int want_vv, size_t dv, float *out, __m512d *vv_f64x8)
{
	__m512		n_f32x16[8];

	RV_UNROLL
	for (int r = 0; r < 8; r++)
		n_f32x16[r] = _mm512_setzero_ps();
	*vv_f64x8 = _mm512_setzero_pd();
	for (size_t jb = 0; jb < dv; jb += RV_SQNORM_F32_BLOCK)
	{
		size_t		je = dv - jb < RV_SQNORM_F32_BLOCK ? dv : jb + RV_SQNORM_F32_BLOCK;

		for (size_t j = jb; j < je; j += 16)
		{
			__mmask16	mask = tail_mask_avx512(je - j < 16 ? je - j : 16);
			__m512		acc_f32x16 = _mm512_maskz_loadu_ps(mask, out + j);

			RV_UNROLL
			for (int r = 0; r < rows; r++)
			{
				__m512		v_f32x16 = _mm512_maskz_loadu_ps(mask, v[r] + j);

				if (want_vv)
					RV_AVX512_BARRIER(v_f32x16);
				acc_f32x16 = _mm512_fmadd_ps(w_f32x16[r], v_f32x16, acc_f32x16);
				if (want_vv)
					n_f32x16[r] = _mm512_fmadd_ps(v_f32x16, v_f32x16, n_f32x16[r]);
			}
			_mm512_mask_storeu_ps(out + j, mask, acc_f32x16);
		}
		if (want_vv)
		{
			*vv_f64x8 = _mm512_add_pd(*vv_f64x8, _mm512_cvtps_pd(reduce_rows8_f32x16(n_f32x16)));
			RV_UNROLL
			for (int r = 0; r < 8; r++)
				n_f32x16[r] = _mm512_setzero_ps();
		}
	}
}

/*
 * weighted_sum_sqnorm: steps of 8 rows from 8 contiguous, skewed
 * stretches of V (out stays in L1), then the n % 8 last rows one at a
 * time (their norms by sqnorm_rows_f32's kernel: the rows are in cache);
 * the order of additions into out depends on n only.
 */
RV_AVX512 static void
weighted_sum_sqnorm_f32_avx512(const float *w, const float *V, size_t n,
							   size_t dv, size_t ldv, float *out, float *vv)
{
	size_t		per_slot = n / 8;
	size_t		skew[8];
	const float *v[8] = {V, V, V, V, V, V, V, V};
	__m512		w_f32x16[8];
	__m512d		vv_f64x8;

	RV_UNROLL
	for (int u = 0; u < 8; u++)
		w_f32x16[u] = _mm512_setzero_ps();
	for (size_t u = 0; u < 8; u++)
		skew[u] = per_slot > 0 ? u % per_slot : 0;
	for (size_t b = 0; b < per_slot; b++)
	{
		size_t		row[8];

		RV_UNROLL
		for (int u = 0; u < 8; u++)
		{
			row[u] = rv_stream_row(u, per_slot, b, skew[u]);
			v[u] = V + row[u] * ldv;
			w_f32x16[u] = _mm512_set1_ps(w[row[u]]);
		}
		if (vv)
		{
			float		s8[8];

			ws_norm_step_avx512(v, w_f32x16, 8, 1, dv, out, &vv_f64x8);
			_mm256_storeu_ps(s8, _mm512_cvtpd_ps(vv_f64x8));
			for (int u = 0; u < 8; u++)
				vv[row[u]] = s8[u];
		}
		else
			ws_norm_step_avx512(v, w_f32x16, 8, 0, dv, out, &vv_f64x8);
	}
	for (size_t i = per_slot * 8; i < n; i++)
	{
		v[0] = V + i * ldv;
		w_f32x16[0] = _mm512_set1_ps(w[i]);
		ws_norm_step_avx512(v, w_f32x16, 1, 0, dv, out, &vv_f64x8);
	}
	if (vv && per_slot * 8 < n)
		sqnorm_rows_f32_avx512(V + per_slot * 8 * ldv, n - per_slot * 8, dv, ldv, vv + per_slot * 8);
}

/*
 * out[j..j+16) += sum_r w_r v_r[j..j+16) in double for `rows` rows (a
 * constant 1 or 4), rows added in order; chunk j has rem (1..16) real
 * columns.
 */
RV_AVX512_INLINE void
add_rows_f64_avx512(const float *const *v, const __m512d *w_f64x8, const int rows,
					size_t j, size_t rem, double *out)
{
	__mmask16	mask = tail_mask_avx512(rem);
	__m512d		lo_f64x8,
				hi_f64x8;

	load_pd16_avx512(out + j, rem, &lo_f64x8, &hi_f64x8);
	RV_UNROLL
	for (int r = 0; r < rows; r++)
	{
		__m512		v_f32x16 = _mm512_maskz_loadu_ps(mask, v[r] + j);

		lo_f64x8 = _mm512_fmadd_pd(w_f64x8[r], _mm512_cvtps_pd(_mm512_castps512_ps256(v_f32x16)), lo_f64x8);
		hi_f64x8 = _mm512_fmadd_pd(w_f64x8[r], _mm512_cvtps_pd(high_f32x8_avx512(v_f32x16)), hi_f64x8);
	}
	_mm512_mask_storeu_pd(out + j, (__mmask8) ((1u << (rem < 8 ? rem : 8)) - 1u), lo_f64x8);
	_mm512_mask_storeu_pd(out + j + 8, (__mmask8) ((1u << (rem > 8 ? rem - 8 : 0)) - 1u), hi_f64x8);
}

/*
 * weighted_sum_f64: out stays in L1 and each step adds 4 whole rows from
 * 4 contiguous, skewed stretches of V (as weighted_wide_f32_avx512); the
 * n % 4 last rows one at a time.
 */
RV_AVX512 static void
weighted_sum_f64_avx512(const float *w, const float *V, size_t n, size_t dv,
						size_t ldv, double *out)
{
	size_t		per_slot = n / 4;
	size_t		skew[4];
	const float *v[4];
	__m512d		w_f64x8[4];

	for (size_t u = 0; u < 4; u++)
		skew[u] = per_slot > 0 ? u % per_slot : 0;
	for (size_t b = 0; b < per_slot; b++)
	{
		RV_UNROLL
		for (int u = 0; u < 4; u++)
		{
			size_t		row = rv_stream_row(u, per_slot, b, skew[u]);

			v[u] = V + row * ldv;
			w_f64x8[u] = _mm512_set1_pd(w[row]);
		}
		for (size_t j = 0; j < dv; j += 16)
			add_rows_f64_avx512(v, w_f64x8, 4, j, dv - j < 16 ? dv - j : 16, out);
	}
	for (size_t i = per_slot * 4; i < n; i++)
	{
		v[0] = V + i * ldv;
		w_f64x8[0] = _mm512_set1_pd(w[i]);
		for (size_t j = 0; j < dv; j += 16)
			add_rows_f64_avx512(v, w_f64x8, 1, j, dv - j < 16 ? dv - j : 16, out);
	}
}

RV_AVX512 static void
log1p_f32_avx512(const float *x, size_t n, float *out)
{
	for (size_t i = 0; i < n; i += 16)
	{
		__mmask16	mask = tail_mask_avx512(n - i < 16 ? n - i : 16);

		_mm512_mask_storeu_ps(out + i, mask, log1p_f32x16_avx512(_mm512_maskz_loadu_ps(mask, x + i)));
	}
}

/* ==== end of hyperbolic ==== */

/* ==== primitives of cross.c (cross, sliding) ==== */

/*
 * One micro-tile of cross_scores: `keys` keys (1..8, a constant after
 * inlining) x `regs` (1 or 2) registers of 16 query columns, up to 16
 * accumulators: per step of dh, `regs` loads of Qt and `keys`
 * broadcasts for keys * regs FMAs.  Blocks of RV_CROSS_DOT_BLOCK steps
 * are added to S.
 */
RV_AVX512_INLINE void
cross_scores_tile_avx512(const float *Qt, size_t ldq, const float *K,
						 size_t ldk, size_t dh, __m512 scale_f32x16, float *S,
						 size_t lds, __m512 *fin_f32x16, const int keys,
						 const int regs)
{
	__m512		acc_f32x16[8][2];
	const float *k[8];
	size_t		k0 = 0;

	RV_UNROLL
	for (int j = 0; j < keys; j++)
		k[j] = K + j * ldk;
	do
	{
		size_t		k1 = dh - k0 < RV_CROSS_DOT_BLOCK ? dh : k0 + RV_CROSS_DOT_BLOCK;

		RV_UNROLL
		for (int j = 0; j < keys; j++)
			RV_UNROLL
			for (int t = 0; t < regs; t++)
				acc_f32x16[j][t] = _mm512_setzero_ps();
		for (size_t i = k0; i < k1; i++)
		{
			__m512		q_f32x16[2];

			RV_UNROLL
			for (int t = 0; t < regs; t++)
				q_f32x16[t] = _mm512_loadu_ps(Qt + i * ldq + 16 * t);
			RV_UNROLL
			for (int j = 0; j < keys; j++)
			{
				__m512		k_f32x16 = _mm512_set1_ps(k[j][i]);

				RV_UNROLL
				for (int t = 0; t < regs; t++)
					acc_f32x16[j][t] = _mm512_fmadd_ps(k_f32x16, q_f32x16[t], acc_f32x16[j][t]);
			}
		}
		RV_UNROLL
		for (int j = 0; j < keys; j++)
			RV_UNROLL
			for (int t = 0; t < regs; t++)
			{
				float	   *s = S + j * lds + 16 * t;
				__m512		s_f32x16 = _mm512_mul_ps(acc_f32x16[j][t], scale_f32x16);

				if (k0 != 0)
					s_f32x16 = _mm512_add_ps(_mm512_loadu_ps(s), s_f32x16);
				_mm512_storeu_ps(s, s_f32x16);
				/* s - s is 0, or NaN for NaN/Infinity (which later blocks keep) */
				*fin_f32x16 = _mm512_add_ps(*fin_f32x16, _mm512_sub_ps(s_f32x16, s_f32x16));
			}
		k0 = k1;
	} while (k0 < dh);
}

/* all keys of a tile for one column block of 16 * regs (a constant) */
RV_AVX512_INLINE void
cross_scores_cols_avx512(const float *Qt, size_t ldq, const float *K,
						 size_t ldk, size_t nk, size_t dh, __m512 scale_f32x16,
						 float *S, size_t lds, __m512 *fin_f32x16, const int regs)
{
	size_t		j = 0;

	for (; j + 8 <= nk; j += 8)
		cross_scores_tile_avx512(Qt, ldq, K + j * ldk, ldk, dh, scale_f32x16,
								 S + j * lds, lds, fin_f32x16, 8, regs);
	K += j * ldk;
	S += j * lds;
	switch (nk - j)
	{
		case 1:
			cross_scores_tile_avx512(Qt, ldq, K, ldk, dh, scale_f32x16, S, lds, fin_f32x16, 1, regs);
			break;
		case 2:
			cross_scores_tile_avx512(Qt, ldq, K, ldk, dh, scale_f32x16, S, lds, fin_f32x16, 2, regs);
			break;
		case 3:
			cross_scores_tile_avx512(Qt, ldq, K, ldk, dh, scale_f32x16, S, lds, fin_f32x16, 3, regs);
			break;
		case 4:
			cross_scores_tile_avx512(Qt, ldq, K, ldk, dh, scale_f32x16, S, lds, fin_f32x16, 4, regs);
			break;
		case 5:
			cross_scores_tile_avx512(Qt, ldq, K, ldk, dh, scale_f32x16, S, lds, fin_f32x16, 5, regs);
			break;
		case 6:
			cross_scores_tile_avx512(Qt, ldq, K, ldk, dh, scale_f32x16, S, lds, fin_f32x16, 6, regs);
			break;
		case 7:
			cross_scores_tile_avx512(Qt, ldq, K, ldk, dh, scale_f32x16, S, lds, fin_f32x16, 7, regs);
			break;
		default:
			break;
	}
}

/* S = scale * K Qt: column blocks of 32, then one of 16 */
RV_AVX512 static int
cross_scores_f32_avx512(const float *Qt, size_t ldq, const float *K,
						size_t ldk, size_t nk, size_t dh, size_t w,
						float scale, float *S, size_t lds)
{
	__m512		scale_f32x16 = _mm512_set1_ps(scale);
	__m512		fin_f32x16 = _mm512_setzero_ps();
	size_t		c = 0;

	for (; c + 32 <= w; c += 32)
		cross_scores_cols_avx512(Qt + c, ldq, K, ldk, nk, dh, scale_f32x16, S + c, lds,
								 &fin_f32x16, 2);
	if (c < w)
		cross_scores_cols_avx512(Qt + c, ldq, K, ldk, nk, dh, scale_f32x16, S + c, lds,
								 &fin_f32x16, 1);
	return _mm512_cmp_ps_mask(fin_f32x16, _mm512_setzero_ps(), _CMP_EQ_OQ) == 0xFFFF;
}

/*
 * The online-softmax step per column, 16 columns at a time: a max pass
 * down the tile, then exp(S - b) down the tile with a vertical sum.
 */
RV_AVX512 static void
cross_exp_f32_avx512(float *S, size_t lds, size_t nk, size_t w, float *m,
					 float *l)
{
	for (size_t c = 0; c + 16 <= w; c += 16)
	{
		__m512		m_f32x16 = _mm512_loadu_ps(m + c);
		__m512		l_f32x16 = _mm512_setzero_ps();
		__m512		b_f32x16;
		__mmask16	none;

		for (size_t j = 0; j < nk; j++)
			m_f32x16 = _mm512_max_ps(m_f32x16, _mm512_loadu_ps(S + j * lds + c));
		_mm512_storeu_ps(m + c, m_f32x16);
		/* b = m, or 0 where m is -Infinity (a column with no key yet) */
		none = _mm512_cmp_ps_mask(m_f32x16, _mm512_set1_ps(-INFINITY), _CMP_EQ_OQ);
		b_f32x16 = _mm512_mask_mov_ps(m_f32x16, none, _mm512_setzero_ps());
		for (size_t j = 0; j < nk; j++)
		{
			float	   *s = S + j * lds + c;
			__m512		e_f32x16 = exp_nonpos_f32x16_avx512(_mm512_sub_ps(_mm512_loadu_ps(s), b_f32x16));

			_mm512_storeu_ps(s, e_f32x16);
			l_f32x16 = _mm512_add_ps(l_f32x16, e_f32x16);
		}
		_mm512_storeu_ps(l + c, l_f32x16);
	}
}

/*
 * One micro-tile of cross_pv: `rows` output rows (1..8) x `regs` (1 or 2)
 * registers of columns under the masks m0, m1 (all ones but the last
 * column tile's), in registers over all nk keys.  Rows with alpha 0 start
 * from 0 without reading O.
 */
RV_AVX512_INLINE void
cross_pv_tile_avx512(const float *P, size_t ldp, const float *V, size_t ldv,
					 size_t nk, const float *alpha, float *O, size_t ldo,
					 const int rows, const int regs, __mmask16 m0,
					 __mmask16 m1)
{
	__m512		acc_f32x16[8][2];
	__mmask16	mask[2] = {m0, m1};

	RV_UNROLL
	for (int r = 0; r < rows; r++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
			acc_f32x16[r][t] = alpha[r] == 0.0f ? _mm512_setzero_ps()
				: _mm512_mul_ps(_mm512_set1_ps(alpha[r]),
								_mm512_maskz_loadu_ps(mask[t], O + r * ldo + 16 * t));
	for (size_t j = 0; j < nk; j++)
	{
		const float *v = V + j * ldv;
		const float *p = P + j * ldp;
		__m512		v_f32x16[2];

		RV_UNROLL
		for (int t = 0; t < regs; t++)
			v_f32x16[t] = _mm512_maskz_loadu_ps(mask[t], v + 16 * t);
		RV_UNROLL
		for (int r = 0; r < rows; r++)
		{
			__m512		p_f32x16 = _mm512_set1_ps(p[r]);

			RV_UNROLL
			for (int t = 0; t < regs; t++)
				acc_f32x16[r][t] = _mm512_fmadd_ps(p_f32x16, v_f32x16[t], acc_f32x16[r][t]);
		}
	}
	RV_UNROLL
	for (int r = 0; r < rows; r++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
			_mm512_mask_storeu_ps(O + r * ldo + 16 * t, mask[t], acc_f32x16[r][t]);
}

/* cross_pv for `rows` rows (a constant): column blocks of 32, then the tail */
RV_AVX512_INLINE void
cross_pv_rows_avx512(const float *P, size_t ldp, const float *V, size_t ldv,
					 size_t nk, size_t dv, const float *alpha, float *O,
					 size_t ldo, const int rows)
{
	size_t		c = 0,
				rem;

	for (; c + 32 <= dv; c += 32)
		cross_pv_tile_avx512(P, ldp, V + c, ldv, nk, alpha, O + c, ldo, rows, 2,
							 0xFFFF, 0xFFFF);
	rem = dv - c;
	if (rem > 16)
		cross_pv_tile_avx512(P, ldp, V + c, ldv, nk, alpha, O + c, ldo, rows, 2,
							 0xFFFF, tail_mask_avx512(rem - 16));
	else if (rem > 0)
		cross_pv_tile_avx512(P, ldp, V + c, ldv, nk, alpha, O + c, ldo, rows, 1,
							 rem == 16 ? 0xFFFF : tail_mask_avx512(rem), 0);
}

RV_AVX512 static void
cross_pv_f32_avx512(const float *P, size_t ldp, const float *V, size_t ldv,
					size_t nk, size_t rows, size_t dv, const float *alpha,
					float *O, size_t ldo)
{
	size_t		r = 0;

	for (; r + 8 <= rows; r += 8)
		cross_pv_rows_avx512(P + r, ldp, V, ldv, nk, dv, alpha + r, O + r * ldo, ldo, 8);
	P += r;
	alpha += r;
	O += r * ldo;
	switch (rows - r)
	{
		case 1:
			cross_pv_rows_avx512(P, ldp, V, ldv, nk, dv, alpha, O, ldo, 1);
			break;
		case 2:
			cross_pv_rows_avx512(P, ldp, V, ldv, nk, dv, alpha, O, ldo, 2);
			break;
		case 3:
			cross_pv_rows_avx512(P, ldp, V, ldv, nk, dv, alpha, O, ldo, 3);
			break;
		case 4:
			cross_pv_rows_avx512(P, ldp, V, ldv, nk, dv, alpha, O, ldo, 4);
			break;
		case 5:
			cross_pv_rows_avx512(P, ldp, V, ldv, nk, dv, alpha, O, ldo, 5);
			break;
		case 6:
			cross_pv_rows_avx512(P, ldp, V, ldv, nk, dv, alpha, O, ldo, 6);
			break;
		case 7:
			cross_pv_rows_avx512(P, ldp, V, ldv, nk, dv, alpha, O, ldo, 7);
			break;
		default:
			break;
	}
}

/* ==== end of cross ==== */

/* ==== primitives of the driver sums ==== */

/*
 * a acc + x for 8 doubles of acc and 8 floats of x (mul then add, as the
 * scalar table: the same bits; scaled: a != 1, else the product is
 * skipped, which is exact)
 */
RV_AVX512_INLINE __m512d
scaled_sum_f64x8_avx512(__m512d acc_f64x8, __m512d a_f64x8, __m256 x_f32x8, const int scaled)
{
	if (scaled)
		acc_f64x8 = _mm512_mul_pd(a_f64x8, acc_f64x8);
	return _mm512_add_pd(acc_f64x8, _mm512_cvtps_pd(x_f32x8));
}

/* the 8 floats of x at i, under a mask of the lanes below n */
RV_AVX512_INLINE __m256
load8_f32_avx512(const float *x, size_t i, size_t n)
{
	__m512		x_f32x16 = _mm512_maskz_loadu_ps(tail_mask_avx512(n - i < 8 ? n - i : 8), x + i);

	return _mm512_castps512_ps256(x_f32x16);
}

/* accumulate_f64 for a != 1 (scaled) or a == 1: 8 doubles per step, the tail under masks */
RV_AVX512_INLINE void
accumulate_f64_body_avx512(double *acc, double a, const float *x, size_t n, const int scaled)
{
	__m512d		a_f64x8 = _mm512_set1_pd(a);

	for (size_t i = 0; i < n; i += 8)
	{
		__mmask8	mask = (__mmask8) ((1u << (n - i < 8 ? n - i : 8)) - 1u);

		_mm512_mask_storeu_pd(acc + i, mask,
							  scaled_sum_f64x8_avx512(_mm512_maskz_loadu_pd(mask, acc + i), a_f64x8,
													  load8_f32_avx512(x, i, n), scaled));
	}
}

RV_AVX512 static void
accumulate_f64_avx512(double *acc, double a, const float *x, size_t n)
{
	if (a == 1.0)
		accumulate_f64_body_avx512(acc, a, x, n, 0);
	else
		accumulate_f64_body_avx512(acc, a, x, n, 1);
}

/* out = (float) ((a acc + x) mul), 8 per step (the tail under masks) */
RV_AVX512 static void
finish_f64_avx512(const double *acc, double a, const float *x, double mul,
				  size_t n, float *out)
{
	__m512d		a_f64x8 = _mm512_set1_pd(a),
				mul_f64x8 = _mm512_set1_pd(mul);

	for (size_t i = 0; i < n; i += 8)
	{
		size_t		len = n - i < 8 ? n - i : 8;
		__m512d		s_f64x8 = scaled_sum_f64x8_avx512(_mm512_maskz_loadu_pd((__mmask8) ((1u << len) - 1u),
																		  acc + i),
													  a_f64x8, load8_f32_avx512(x, i, n), 1);

		_mm512_mask_storeu_ps(out + i, tail_mask_avx512(len),
							  _mm512_castps256_ps512(_mm512_cvtpd_ps(_mm512_mul_pd(s_f64x8, mul_f64x8))));
	}
}

/*
 * weighted_sum_acc: weighted_sum's kernels in their blocked form (float
 * partials of at most RV_VALUE_BLOCK rows added into acc), which keeps the
 * same long streams over V: a tile of registers over all rows when dv
 * fits in it, else part as the float partial of the wide kernel.
 */
RV_AVX512 static void
weighted_sum_acc_f32_avx512(const float *w, const float *V, size_t n, size_t dv,
						   size_t ldv, float *part, double *acc)
{
	if (dv <= 128)
		weighted_pass_f32_avx512(w, V, n, dv, ldv, 0.0f, part, acc);
	else
		weighted_wide_f32_avx512(w, V, n, dv, ldv, 0.0f, part, acc);
}

/* ==== end of driver sums ==== */

const rv_kernels rv_kernels_avx512 = {
	.backend = RV_BACKEND_AVX512,
	.scores = scores_f32_avx512,
	.weighted_sum = weighted_sum_f32_avx512,
	.head_scores = head_scores_f32_avx512,
	.head_weighted_sum = head_weighted_sum_f32_avx512,
	.head_weighted_sum_acc = head_weighted_sum_acc_f32_avx512,
	.scale = scale_f32_avx512,
	.all_finite = all_finite_f32_avx512,
	.exp = exp_f32_avx512,
	.max_checked = max_checked_f32_avx512,
	.exp_sum_to = exp_sum_to_f32_avx512,
	/* linear, gat, sparse, moe */
	.phi = phi_f32_avx512,
	.leaky_relu = leaky_relu_f32_avx512,

	/* hyperbolic */
	.sqnorm_rows = sqnorm_rows_f64_avx512,
	.sqnorm_rows_f32 = sqnorm_rows_f32_avx512,
	.sqdist_rows = sqdist_rows_f32_avx512,
	.ball_gaps = ball_gaps_f32_avx512,
	.ball_gaps_f64 = ball_gaps_f64_avx512,
	.poincare_logits = poincare_logits_f32_avx512,
	.poincare_log0 = poincare_log0_f32_avx512,
	.mul = mul_f32_avx512,
	.lorentz_chord = lorentz_chord_f32_avx512,
	.lorentz_chord_f64 = lorentz_chord_f64_avx512,
	.lorentz_logits = lorentz_logits_f32_avx512,
	.lorentz_time = lorentz_time_f32_avx512,
	.weighted_sum_sqnorm = weighted_sum_sqnorm_f32_avx512,
	.weighted_sum_f64 = weighted_sum_f64_avx512,
	.log1p = log1p_f32_avx512,

	/* cross, sliding */
	.cross_scores = cross_scores_f32_avx512,
	.cross_exp = cross_exp_f32_avx512,
	.cross_pv = cross_pv_f32_avx512,

	/* driver sums */
	.accumulate_f64 = accumulate_f64_avx512,
	.finish_f64 = finish_f64_avx512,
	.weighted_sum_acc = weighted_sum_acc_f32_avx512,
};

#endif							/* __x86_64__ */
