/*
 * kernels_neon.c: the aarch64 Advanced SIMD table (4 floats per register).
 *
 * NEON is baseline on aarch64, so no target attribute is needed.  With 32
 * registers the kernels keep more independent accumulators than the x86
 * ones (16 FMA chains in scores and in most weighted_sum tiles), which
 * cores with four FMA pipes need.  NEON has no masked loads: tails of 1..3
 * floats are read and written lane by lane, never past the buffer.
 */
#if defined(__aarch64__)

#include <arm_neon.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>

#include "rv_kernels.h"

#define RV_NEON_INLINE static inline __attribute__((always_inline))

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

/* rem (1..3) floats from p, the other lanes set to fill */
RV_NEON_INLINE float32x4_t
load_partial_f32x4(const float *p, size_t rem, float fill)
{
	float32x4_t v_f32x4 = vdupq_n_f32(fill);

	v_f32x4 = vld1q_lane_f32(p, v_f32x4, 0);
	if (rem > 1)
		v_f32x4 = vld1q_lane_f32(p + 1, v_f32x4, 1);
	if (rem > 2)
		v_f32x4 = vld1q_lane_f32(p + 2, v_f32x4, 2);
	return v_f32x4;
}

/* the first count (1..4) lanes of v to p */
RV_NEON_INLINE void
store_partial_f32x4(float *p, float32x4_t v_f32x4, size_t count)
{
	if (count >= 4)
	{
		vst1q_f32(p, v_f32x4);
		return;
	}
	vst1q_lane_f32(p, v_f32x4, 0);
	if (count > 1)
		vst1q_lane_f32(p + 1, v_f32x4, 1);
	if (count > 2)
		vst1q_lane_f32(p + 2, v_f32x4, 2);
}

/* all-ones in the first rem lanes */
RV_NEON_INLINE uint32x4_t
lane_mask_u32x4(size_t rem)
{
	static const uint32_t iota[4] = {0, 1, 2, 3};

	return vcltq_u32(vld1q_u32(iota), vdupq_n_u32((uint32_t) rem));
}

/*
 * The part of the exp algorithm of rv_kernels.h before 2^k, for xc in
 * [RV_EXP_LO, RV_EXP_HI]: returns p = exp(r) and sets *k_out_f32x4 to k.
 */
RV_NEON_INLINE float32x4_t
exp_poly_f32x4_neon(float32x4_t xc_f32x4, float32x4_t *k_out_f32x4)
{
	float32x4_t t_f32x4,
				k_f32x4,
				r_f32x4,
				r2_f32x4,
				p_f32x4;

	/* k = round(x * log2(e)) by the 1.5 * 2^23 trick, as the scalar code */
	t_f32x4 = vfmaq_f32(vdupq_n_f32(RV_ROUND_MAGIC), xc_f32x4, vdupq_n_f32(RV_LOG2E));
	k_f32x4 = vsubq_f32(t_f32x4, vdupq_n_f32(RV_ROUND_MAGIC));
	r_f32x4 = vfmsq_f32(xc_f32x4, k_f32x4, vdupq_n_f32(RV_LN2_HI));
	r_f32x4 = vfmsq_f32(r_f32x4, k_f32x4, vdupq_n_f32(RV_LN2_LO));

	p_f32x4 = vfmaq_f32(vdupq_n_f32(RV_EXP_P4), vdupq_n_f32(RV_EXP_P5), r_f32x4);
	p_f32x4 = vfmaq_f32(vdupq_n_f32(RV_EXP_P3), p_f32x4, r_f32x4);
	p_f32x4 = vfmaq_f32(vdupq_n_f32(RV_EXP_P2), p_f32x4, r_f32x4);
	p_f32x4 = vfmaq_f32(vdupq_n_f32(RV_EXP_P1), p_f32x4, r_f32x4);
	p_f32x4 = vfmaq_f32(vdupq_n_f32(RV_EXP_P0), p_f32x4, r_f32x4);
	r2_f32x4 = vmulq_f32(r_f32x4, r_f32x4);
	p_f32x4 = vfmaq_f32(r_f32x4, p_f32x4, r2_f32x4);
	*k_out_f32x4 = k_f32x4;
	return vaddq_f32(p_f32x4, vdupq_n_f32(1.0f));
}

/*
 * exp of 4 lanes with the algorithm of rv_kernels.h.  x is clamped to
 * [RV_EXP_LO, RV_EXP_HI] so that k stays in [-150, 128] and both 2^k
 * factors are normal floats; the clamp also gives the x < RV_EXP_LO case
 * for free, because at x = RV_EXP_LO the result is about 0.97 * 2^-150,
 * which rounds to exactly 0.  Above RV_EXP_HI the clamped value already
 * gives +Infinity (exp(RV_EXP_HI) itself is just above FLT_MAX and the
 * last product overflows), and NaN goes through fmax/fmin and the
 * arithmetic (fcvtzs makes its k 0), so the fix-up at the end only states
 * the rule of rv_expf_serial explicitly, as the x86 files must: x +
 * Infinity for NaN or x > RV_EXP_HI.
 */
RV_NEON_INLINE float32x4_t
exp_f32x4_neon(float32x4_t x_f32x4)
{
	float32x4_t xc_f32x4,
				k_f32x4,
				p_f32x4,
				result_f32x4;
	int32x4_t	k_i32x4,
				k1_i32x4,
				k2_i32x4,
				bias_i32x4 = vdupq_n_s32(127);
	uint32x4_t	over_u32x4;

	xc_f32x4 = vminq_f32(vmaxq_f32(x_f32x4, vdupq_n_f32(RV_EXP_LO)),
						 vdupq_n_f32(RV_EXP_HI));
	p_f32x4 = exp_poly_f32x4_neon(xc_f32x4, &k_f32x4);

	/* 2^k as 2^(k>>1) * 2^(k-(k>>1)): both factors normal for k in [-150, 128] */
	k_i32x4 = vcvtq_s32_f32(k_f32x4);
	k1_i32x4 = vshrq_n_s32(k_i32x4, 1);
	k2_i32x4 = vsubq_s32(k_i32x4, k1_i32x4);
	k1_i32x4 = vshlq_n_s32(vaddq_s32(k1_i32x4, bias_i32x4), 23);
	k2_i32x4 = vshlq_n_s32(vaddq_s32(k2_i32x4, bias_i32x4), 23);
	result_f32x4 = vmulq_f32(vmulq_f32(p_f32x4, vreinterpretq_f32_s32(k1_i32x4)),
							 vreinterpretq_f32_s32(k2_i32x4));

	over_u32x4 = vmvnq_u32(vcleq_f32(x_f32x4, vdupq_n_f32(RV_EXP_HI)));
	return vbslq_f32(over_u32x4, vaddq_f32(x_f32x4, vdupq_n_f32(INFINITY)), result_f32x4);
}

/*
 * exp of 4 lanes that are <= 0 or -Infinity (never NaN): softmax after the
 * max is subtracted.  Nothing overflows, so neither the upper clamp nor the
 * fix-up is needed, and for k in [-150, 0] one split of 2^k does:
 * p * 2^(k+25) is a normal float, so exact, and * 2^-25 then rounds the
 * exact p * 2^k once, as the two-factor product does (subnormal results
 * included): the same results as exp_f32x4_neon in 9 fewer instructions.
 */
RV_NEON_INLINE float32x4_t
exp_nonpos_f32x4_neon(float32x4_t x_f32x4)
{
	float32x4_t k_f32x4;
	float32x4_t p_f32x4 = exp_poly_f32x4_neon(vmaxq_f32(x_f32x4, vdupq_n_f32(RV_EXP_LO)),
											  &k_f32x4);
	int32x4_t	e_i32x4 = vshlq_n_s32(vaddq_s32(vcvtq_s32_f32(k_f32x4),
											vdupq_n_s32(127 + 25)), 23);

	return vmulq_n_f32(vmulq_f32(p_f32x4, vreinterpretq_f32_s32(e_i32x4)), 0x1p-25f);
}

/*
 * Dot products of q with `rows` rows (4 or 8, a constant after inlining),
 * reduced to one float per row in sum_f32x4[0] (rows 0..3) and
 * sum_f32x4[1] (rows 4..7).  Each pair of q chunks is loaded once and
 * FMA'd into two accumulators per row (16 FMA chains for 8 rows).  The d
 * tail of 1..3 floats is read lane by lane, zero-padded.  The reduction is
 * a pairwise-add tree: vpaddq of vpaddq gives 4 row sums in one register.
 */
RV_NEON_INLINE void
dot_rows_f32_neon(const float *q, const float *const *k, size_t d,
				  const int rows, float32x4_t *sum_f32x4)
{
	float32x4_t acc0_f32x4[8],
				acc1_f32x4[8];
	size_t		j = 0;

	RV_UNROLL
	for (int r = 0; r < rows; r++)
	{
		acc0_f32x4[r] = vdupq_n_f32(0.0f);
		acc1_f32x4[r] = vdupq_n_f32(0.0f);
	}
	for (; j + 8 <= d; j += 8)
	{
		float32x4_t q0_f32x4 = vld1q_f32(q + j);
		float32x4_t q1_f32x4 = vld1q_f32(q + j + 4);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
		{
			acc0_f32x4[r] = vfmaq_f32(acc0_f32x4[r], q0_f32x4, vld1q_f32(k[r] + j));
			acc1_f32x4[r] = vfmaq_f32(acc1_f32x4[r], q1_f32x4, vld1q_f32(k[r] + j + 4));
		}
	}
	if (j + 4 <= d)
	{
		float32x4_t q0_f32x4 = vld1q_f32(q + j);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			acc0_f32x4[r] = vfmaq_f32(acc0_f32x4[r], q0_f32x4, vld1q_f32(k[r] + j));
		j += 4;
	}
	if (j < d)
	{
		float32x4_t q1_f32x4 = load_partial_f32x4(q + j, d - j, 0.0f);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			acc1_f32x4[r] = vfmaq_f32(acc1_f32x4[r], q1_f32x4,
									  load_partial_f32x4(k[r] + j, d - j, 0.0f));
	}
	RV_UNROLL
	for (int r = 0; r < rows; r++)
		acc0_f32x4[r] = vaddq_f32(acc0_f32x4[r], acc1_f32x4[r]);
	RV_UNROLL
	for (int r = 0; r < rows; r += 4)
		sum_f32x4[r / 4] = vpaddq_f32(vpaddq_f32(acc0_f32x4[r], acc0_f32x4[r + 1]),
									  vpaddq_f32(acc0_f32x4[r + 2], acc0_f32x4[r + 3]));
}

/*
 * S[h lds + i] = scale * dot(q_h, K_i,h) for the heads h (dims
 * [h d, (h+1) d) of q and of each row of K), m[h] their max; scores is
 * one head.  For each head, a gemv streaming K once, 8 rows at a time
 * (one load of q per 8 rows, 16 FMA chains), a vector running max.  The 8
 * row slots of a block each walk their own contiguous stretch of n/8
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
 * duplicate lanes do not change the max); only the real lanes are
 * stored.  Heads go innermost, RV_HEAD_CHUNK at a time: a head's
 * arithmetic does not depend on the others, so head_scores equals scores
 * on each head bit for bit, and with one head (a constant after inlining)
 * this is the scores loop.
 */
RV_NEON_INLINE void
scores_heads_neon(const float *q, const float *K, size_t n, size_t d,
				  size_t heads, size_t ldk, float scale, float *S, size_t lds,
				  float *m)
{
	float32x4_t max_f32x4[RV_HEAD_CHUNK];
	float32x4_t sum_f32x4[2];
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
			max_f32x4[h] = vdupq_n_f32(-INFINITY);
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
				float32x4_t lo_f32x4,
							hi_f32x4;
				float		s8[8];

				RV_UNROLL
				for (int r = 0; r < 8; r++)
					k[r] = K + row[r] * ldk + off;
				dot_rows_f32_neon(q + off, k, d, 8, sum_f32x4);
				lo_f32x4 = vmulq_n_f32(sum_f32x4[0], scale);
				hi_f32x4 = vmulq_n_f32(sum_f32x4[1], scale);
				vst1q_f32(s8, lo_f32x4);
				vst1q_f32(s8 + 4, hi_f32x4);
				RV_UNROLL
				for (int r = 0; r < 8; r++)
					s[row[r]] = s8[r];
				max_f32x4[h] = vmaxq_f32(max_f32x4[h], vmaxq_f32(lo_f32x4, hi_f32x4));
			}
		}
		if (i < n)
		{
			size_t		rows = n - i;

			for (size_t h = 0; h < g; h++)
			{
				size_t		off = (h0 + h) * d;
				float	   *s = S + (h0 + h) * lds;
				float32x4_t lo_f32x4;

				for (size_t r = 0; r < 8; r++)
					k[r] = K + (i + (r < rows ? r : rows - 1)) * ldk + off;
				if (rows > 4)
				{
					float32x4_t hi_f32x4;

					dot_rows_f32_neon(q + off, k, d, 8, sum_f32x4);
					lo_f32x4 = vmulq_n_f32(sum_f32x4[0], scale);
					hi_f32x4 = vmulq_n_f32(sum_f32x4[1], scale);
					vst1q_f32(s + i, lo_f32x4);
					store_partial_f32x4(s + i + 4, hi_f32x4, rows - 4);
					max_f32x4[h] = vmaxq_f32(max_f32x4[h], hi_f32x4);
				}
				else
				{
					dot_rows_f32_neon(q + off, k, d, 4, sum_f32x4);
					lo_f32x4 = vmulq_n_f32(sum_f32x4[0], scale);
					store_partial_f32x4(s + i, lo_f32x4, rows);
				}
				max_f32x4[h] = vmaxq_f32(max_f32x4[h], lo_f32x4);
			}
		}
		for (size_t h = 0; h < g; h++)
			m[h0 + h] = vmaxvq_f32(max_f32x4[h]);
	}
}

static float
scores_f32_neon(const float *q, const float *K, size_t n, size_t d,
				size_t ldk, float scale, float *s)
{
	float		m;

	scores_heads_neon(q, K, n, d, 1, ldk, scale, s, 0, &m);
	return m;
}

/*
 * head_scores: each block reads its 8 rows' heads*dh floats at once, 8
 * sequential streams over K instead of 8 strided ones per head.
 */
static void
head_scores_f32_neon(const float *q, const float *K, size_t n, size_t d,
					 size_t heads, size_t ldk, float scale, float *S,
					 size_t lds, float *m)
{
	scores_heads_neon(q, K, n, d, heads, ldk, scale, S, lds, m);
}

/* out[i] = exp(x[i]); each chunk is loaded before it is stored, so out == x works. */
static void
exp_f32_neon(const float *x, size_t n, float *out)
{
	size_t		i = 0;

	for (; i + 4 <= n; i += 4)
		vst1q_f32(out + i, exp_f32x4_neon(vld1q_f32(x + i)));
	if (i < n)
		store_partial_f32x4(out + i, exp_f32x4_neon(load_partial_f32x4(x + i, n - i, 0.0f)),
							n - i);
}

/*
 * out[i] = exp(x[i] - m), returning the sum (four vector accumulators), with
 * the cheaper exp that x[i] - m <= 0 allows.  Each chunk is loaded before
 * it is stored, so out == x works; tail lanes past n read as -Infinity,
 * whose exp 0 leaves the sum alone.
 */
static float
exp_sum_to_f32_neon(const float *x, size_t n, float m, float *out)
{
	float32x4_t m_f32x4 = vdupq_n_f32(m);
	float32x4_t sum0_f32x4 = vdupq_n_f32(0.0f),
				sum1_f32x4 = vdupq_n_f32(0.0f),
				sum2_f32x4 = vdupq_n_f32(0.0f),
				sum3_f32x4 = vdupq_n_f32(0.0f);
	size_t		i = 0;

	for (; i + 16 <= n; i += 16)
	{
		float32x4_t e0_f32x4 = exp_nonpos_f32x4_neon(vsubq_f32(vld1q_f32(x + i), m_f32x4));
		float32x4_t e1_f32x4 = exp_nonpos_f32x4_neon(vsubq_f32(vld1q_f32(x + i + 4), m_f32x4));
		float32x4_t e2_f32x4 = exp_nonpos_f32x4_neon(vsubq_f32(vld1q_f32(x + i + 8), m_f32x4));
		float32x4_t e3_f32x4 = exp_nonpos_f32x4_neon(vsubq_f32(vld1q_f32(x + i + 12), m_f32x4));

		vst1q_f32(out + i, e0_f32x4);
		vst1q_f32(out + i + 4, e1_f32x4);
		vst1q_f32(out + i + 8, e2_f32x4);
		vst1q_f32(out + i + 12, e3_f32x4);
		sum0_f32x4 = vaddq_f32(sum0_f32x4, e0_f32x4);
		sum1_f32x4 = vaddq_f32(sum1_f32x4, e1_f32x4);
		sum2_f32x4 = vaddq_f32(sum2_f32x4, e2_f32x4);
		sum3_f32x4 = vaddq_f32(sum3_f32x4, e3_f32x4);
	}
	for (; i + 4 <= n; i += 4)
	{
		float32x4_t e_f32x4 = exp_nonpos_f32x4_neon(vsubq_f32(vld1q_f32(x + i), m_f32x4));

		vst1q_f32(out + i, e_f32x4);
		sum0_f32x4 = vaddq_f32(sum0_f32x4, e_f32x4);
	}
	if (i < n)
	{
		float32x4_t e_f32x4 = exp_nonpos_f32x4_neon(vsubq_f32(load_partial_f32x4(x + i, n - i, -INFINITY),
															  m_f32x4));

		store_partial_f32x4(out + i, e_f32x4, n - i);
		sum1_f32x4 = vaddq_f32(sum1_f32x4, e_f32x4);
	}
	sum0_f32x4 = vaddq_f32(vaddq_f32(sum0_f32x4, sum1_f32x4), vaddq_f32(sum2_f32x4, sum3_f32x4));
	return vaddvq_f32(sum0_f32x4);
}

/*
 * The max and the NaN/+Infinity check in one pass: two max accumulators, and the AND
 * of the lanes where x < +Infinity, which is false for exactly NaN and
 * +Infinity.  Tail lanes past n read as -Infinity, which changes neither.
 */
static float
max_checked_f32_neon(const float *x, size_t n, int *bad)
{
	float32x4_t inf_f32x4 = vdupq_n_f32(INFINITY);
	float32x4_t max0_f32x4 = vdupq_n_f32(-INFINITY),
				max1_f32x4 = vdupq_n_f32(-INFINITY);
	uint32x4_t	ok_u32x4 = vdupq_n_u32(0xFFFFFFFFu);
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
	{
		float32x4_t x0_f32x4 = vld1q_f32(x + i);
		float32x4_t x1_f32x4 = vld1q_f32(x + i + 4);

		max0_f32x4 = vmaxq_f32(max0_f32x4, x0_f32x4);
		max1_f32x4 = vmaxq_f32(max1_f32x4, x1_f32x4);
		ok_u32x4 = vandq_u32(ok_u32x4, vandq_u32(vcltq_f32(x0_f32x4, inf_f32x4),
												 vcltq_f32(x1_f32x4, inf_f32x4)));
	}
	for (; i + 4 <= n; i += 4)
	{
		float32x4_t x_f32x4 = vld1q_f32(x + i);

		max0_f32x4 = vmaxq_f32(max0_f32x4, x_f32x4);
		ok_u32x4 = vandq_u32(ok_u32x4, vcltq_f32(x_f32x4, inf_f32x4));
	}
	if (i < n)
	{
		float32x4_t x_f32x4 = load_partial_f32x4(x + i, n - i, -INFINITY);

		max1_f32x4 = vmaxq_f32(max1_f32x4, x_f32x4);
		ok_u32x4 = vandq_u32(ok_u32x4, vcltq_f32(x_f32x4, inf_f32x4));
	}
	*bad = vminvq_u32(ok_u32x4) == 0;
	return vmaxvq_f32(vmaxq_f32(max0_f32x4, max1_f32x4));
}

/* to[0..count) += (double) x for the first count (1..4) lanes of x */
RV_NEON_INLINE void
add_f32x4_to_f64_neon(double *to, float32x4_t x_f32x4, size_t count)
{
	if (count >= 4)
	{
		vst1q_f64(to, vaddq_f64(vld1q_f64(to), vcvt_f64_f32(vget_low_f32(x_f32x4))));
		vst1q_f64(to + 2, vaddq_f64(vld1q_f64(to + 2), vcvt_high_f64_f32(x_f32x4)));
	}
	else
	{
		float		x[4];

		vst1q_f32(x, x_f32x4);
		for (size_t k = 0; k < count; k++)
			to[k] += (double) x[k];
	}
}

/*
 * The end of one float partial of weighted_tile's blocked form (acc not
 * NULL): the accumulator sets summed into set 0, set 0 added into acc
 * (regs * 4 doubles; only `tail` lanes of the last register when masked),
 * every set zeroed for the next partial.
 */
RV_NEON_INLINE void
tile_to_f64_neon(float32x4_t acc_f32x4[8][8], const int rows, const int regs,
				 const int masked, size_t tail, double *acc)
{
	RV_UNROLL
	for (int u = 1; u < rows; u++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			acc_f32x4[0][t] = vaddq_f32(acc_f32x4[0][t], acc_f32x4[u][t]);
			acc_f32x4[u][t] = vdupq_n_f32(0.0f);
		}
	RV_UNROLL
	for (int t = 0; t < regs; t++)
	{
		add_f32x4_to_f64_neon(acc + 4 * t, acc_f32x4[0][t], (masked && t == regs - 1) ? tail : 4);
		acc_f32x4[0][t] = vdupq_n_f32(0.0f);
	}
}

/*
 * One column tile of weighted_sum: `regs` registers (a constant 1..8 after
 * inlining) of out kept in registers across the whole row loop, the last
 * one holding only `tail` (1..3) floats when `masked`.  Narrower tiles
 * process several rows per step into separate accumulator sets (added at
 * the end), for 7 to 16 independent FMA chains.  Full tiles do one row per
 * step: two rows of 8 registers (16 accumulators plus 16 loads in flight)
 * made gcc spill an accumulator, which costs more than the extra chains.
 * Each accumulator set u takes its rows from its own contiguous stretch of
 * V (rows [u n/rows, (u+1) n/rows), starting u rows in and wrapping around,
 * as the row slots of scores do), so that every set streams sequentially.
 * beta == 0 starts from zero without reading out, which may hold garbage.
 * With acc (weighted_sum_acc), the row loop runs in chunks of
 * RV_VALUE_BLOCK / rows steps, each chunk a float partial of at most
 * RV_VALUE_BLOCK rows that is added into acc (then the n % rows last rows
 * as one more), and out is not touched.
 */
RV_NEON_INLINE void
weighted_tile_f32_neon(const float *w, const float *V, size_t n, size_t ldv,
					   float beta, float *out, double *acc,
					   const int regs,
					   const int masked, size_t tail)
{
	const int	rows = regs >= 7 ? 1 : regs >= 5 ? 2 : regs >= 3 ? 4 : 8;
	float32x4_t acc_f32x4[8][8];
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
			acc_f32x4[u][t] = vdupq_n_f32(0.0f);
	if (beta != 0.0f)
	{
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			float32x4_t o_f32x4 = (masked && t == regs - 1)
				? load_partial_f32x4(out + 4 * t, tail, 0.0f)
				: vld1q_f32(out + 4 * t);

			acc_f32x4[0][t] = vmulq_n_f32(o_f32x4, beta);
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
				float		wi = w[row];
				const float *v = V + row * ldv;

				RV_UNROLL
				for (int t = 0; t < regs; t++)
				{
					float32x4_t v_f32x4 = (masked && t == regs - 1)
						? load_partial_f32x4(v + 4 * t, tail, 0.0f)
						: vld1q_f32(v + 4 * t);

					acc_f32x4[u][t] = vfmaq_n_f32(acc_f32x4[u][t], v_f32x4, wi);
				}
			}
		}
		if (acc)
			tile_to_f64_neon(acc_f32x4, rows, regs, masked, tail, acc);
	}
	for (size_t i = per_set * rows; i < n; i++)
	{
		float		wi = w[i];
		const float *v = V + i * ldv;

		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			float32x4_t v_f32x4 = (masked && t == regs - 1)
				? load_partial_f32x4(v + 4 * t, tail, 0.0f)
				: vld1q_f32(v + 4 * t);

			acc_f32x4[0][t] = vfmaq_n_f32(acc_f32x4[0][t], v_f32x4, wi);
		}
	}

	if (acc)
	{
		if (per_set * rows < n)
			tile_to_f64_neon(acc_f32x4, rows, regs, masked, tail, acc);
		return;
	}
	RV_UNROLL
	for (int u = 1; u < rows; u++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
			acc_f32x4[0][t] = vaddq_f32(acc_f32x4[0][t], acc_f32x4[u][t]);
	RV_UNROLL
	for (int t = 0; t < regs; t++)
	{
		if (masked && t == regs - 1)
			store_partial_f32x4(out + 4 * t, acc_f32x4[0][t], tail);
		else
			vst1q_f32(out + 4 * t, acc_f32x4[0][t]);
	}
}

/*
 * One pass of weighted_sum: out = beta * out + sum_i w[i] * V_i for the
 * rows given, in column tiles of 32 floats (8 registers) so that out
 * never leaves registers inside a tile.  The last, narrower tile is
 * dispatched to a copy of the tile code specialised for its width.
 * acc: the blocked form of weighted_sum_acc (see weighted_tile), or NULL.
 */
static void
weighted_pass_f32_neon(const float *w, const float *V, size_t n, size_t dv,
					  size_t ldv, float beta, float *out, double *acc)
{
	size_t		j = 0;
	size_t		rem;

	for (; j + 32 <= dv; j += 32)
		weighted_tile_f32_neon(w, V + j, n, ldv, beta, out + j, acc ? acc + j : NULL, 8, 0, 0);
	rem = dv - j;
	if (rem == 0)
		return;
	V += j;
	out += j;
	if (acc)
		acc += j;
	if (rem % 4 == 0)
	{
		switch (rem / 4)
		{
			case 1:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 1, 0, 0);
				break;
			case 2:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 2, 0, 0);
				break;
			case 3:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 3, 0, 0);
				break;
			case 4:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 4, 0, 0);
				break;
			case 5:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 5, 0, 0);
				break;
			case 6:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 6, 0, 0);
				break;
			default:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 7, 0, 0);
				break;
		}
	}
	else
	{
		size_t		tail = rem % 4;

		switch (rem / 4 + 1)
		{
			case 1:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 1, 1, tail);
				break;
			case 2:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 2, 1, tail);
				break;
			case 3:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 3, 1, tail);
				break;
			case 4:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 4, 1, tail);
				break;
			case 5:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 5, 1, tail);
				break;
			case 6:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 6, 1, tail);
				break;
			case 7:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 7, 1, tail);
				break;
			default:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, acc, 8, 1, tail);
				break;
		}
	}
}

/*
 * out[j] += sum_r w[r] v_r[j] for `rows` rows (a constant 1 or 4 after
 * inlining) and j < full + rem (rem < 4): each chunk of out is loaded and
 * stored once per step, rows added in order.  The first step of a float
 * partial of weighted_sum_acc starts from 0 instead of out (first), its
 * last one adds the result into the doubles `to` instead of storing it
 * (to != NULL).
 */
RV_NEON_INLINE void
add_rows_f32_neon(const float *const *v, const float *w, const int rows,
				  size_t full, size_t rem, float *out, int first, double *to)
{
	size_t		j = 0;

	for (; j < full; j += 4)
	{
		float32x4_t acc_f32x4 = first ? vdupq_n_f32(0.0f) : vld1q_f32(out + j);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			acc_f32x4 = vfmaq_n_f32(acc_f32x4, vld1q_f32(v[r] + j), w[r]);
		if (to)
			add_f32x4_to_f64_neon(to + j, acc_f32x4, 4);
		else
			vst1q_f32(out + j, acc_f32x4);
	}
	if (rem)
	{
		float32x4_t acc_f32x4 = first ? vdupq_n_f32(0.0f) : load_partial_f32x4(out + j, rem, 0.0f);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			acc_f32x4 = vfmaq_n_f32(acc_f32x4, load_partial_f32x4(v[r] + j, rem, 0.0f), w[r]);
		if (to)
			add_f32x4_to_f64_neon(to + j, acc_f32x4, rem);
		else
			store_partial_f32x4(out + j, acc_f32x4, rem);
	}
}

/* the 4 rows of step b of the wide kernel: slot u's row (skewed, wrapped), its weight */
RV_NEON_INLINE void
wide_step_neon(const float *w, const float *V, size_t ldv, size_t per_slot,
				const size_t *skew, size_t b, const float **v, float *w4)
{
	RV_UNROLL
	for (int u = 0; u < 4; u++)
	{
		size_t		row = rv_stream_row(u, per_slot, b, skew[u]);

		v[u] = V + row * ldv;
		w4[u] = w[row];
	}
}

/*
 * weighted_sum for rows wider than one tile (dv > 32), as
 * weighted_wide_f32_avx512: out stays in L1, each step adds 4 whole rows
 * taken from 4 contiguous stretches of V, so that V is read as 4 long
 * sequential streams (column tiles over a block of rows read it in short
 * strided pieces, which the hardware prefetchers do not follow).
 * With acc (weighted_sum_acc), out holds a float partial of
 * RV_VALUE_BLOCK / 4 steps (4 rows each, one from each stream): its first
 * step starts from 0, its last adds it into acc; the n % 4 last rows make
 * one more partial.
 */
static void
weighted_wide_f32_neon(const float *w, const float *V, size_t n, size_t dv,
					   size_t ldv, float beta, float *out, double *acc)
{
	size_t		rem = dv % 4;
	size_t		full = dv - rem;
	size_t		per_slot = n / 4;
	size_t		skew[4];
	const float *v[4];
	float		w4[4];

	if (acc == NULL && beta != 1.0f)
	{
		size_t		j = 0;

		for (; j < full; j += 4)
			vst1q_f32(out + j, beta == 0.0f ? vdupq_n_f32(0.0f)
					  : vmulq_n_f32(vld1q_f32(out + j), beta));
		if (rem)
			store_partial_f32x4(out + j, beta == 0.0f ? vdupq_n_f32(0.0f)
								: vmulq_n_f32(load_partial_f32x4(out + j, rem, 0.0f), beta),
								rem);
	}
	for (size_t u = 0; u < 4; u++)
		skew[u] = per_slot > 0 ? u % per_slot : 0;
	if (acc == NULL)
		for (size_t b = 0; b < per_slot; b++)
		{
			wide_step_neon(w, V, ldv, per_slot, skew, b, v, w4);
			add_rows_f32_neon(v, w4, 4, full, rem, out, 0, NULL);
		}
	else
		for (size_t b0 = 0; b0 < per_slot; b0 += RV_VALUE_BLOCK / 4)
		{
			size_t		b1 = per_slot - b0 < RV_VALUE_BLOCK / 4 ? per_slot : b0 + RV_VALUE_BLOCK / 4;

			/* a partial's first step starts from 0, its last adds it into acc */
			wide_step_neon(w, V, ldv, per_slot, skew, b0, v, w4);
			add_rows_f32_neon(v, w4, 4, full, rem, out, 1, b1 == b0 + 1 ? acc : NULL);
			for (size_t b = b0 + 1; b + 1 < b1; b++)
			{
				wide_step_neon(w, V, ldv, per_slot, skew, b, v, w4);
				add_rows_f32_neon(v, w4, 4, full, rem, out, 0, NULL);
			}
			if (b1 > b0 + 1)
			{
				wide_step_neon(w, V, ldv, per_slot, skew, b1 - 1, v, w4);
				add_rows_f32_neon(v, w4, 4, full, rem, out, 0, acc);
			}
		}
	for (size_t i = per_slot * 4; i < n; i++)
	{
		v[0] = V + i * ldv;
		add_rows_f32_neon(v, w + i, 1, full, rem, out,
						  acc && i == per_slot * 4, acc && i + 1 == n ? acc : NULL);
	}
}

/*
 * out = beta * out + sum_i w[i] * V_i over dv columns: one column tile
 * kept in registers over all rows when dv fits in it, else the wide
 * version, both streaming V sequentially.
 */
static void
weighted_sum_f32_neon(const float *w, const float *V, size_t n, size_t dv,
					   size_t ldv, float beta, float *out)
{
	if (dv <= 32)
		weighted_pass_f32_neon(w, V, n, dv, ldv, beta, out, NULL);
	else
		weighted_wide_f32_neon(w, V, n, dv, ldv, beta, out, NULL);
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
RV_NEON_INLINE void
heads_to_f64_neon(float32x4_t *a_f32x4, const int rows, const int regs,
				  const int masked, size_t tail, double *acc)
{
	RV_UNROLL
	for (int u = 1; u < rows; u++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			a_f32x4[t] = vaddq_f32(a_f32x4[t], a_f32x4[u * regs + t]);
			a_f32x4[u * regs + t] = vdupq_n_f32(0.0f);
		}
	RV_UNROLL
	for (int t = 0; t < regs; t++)
	{
		add_f32x4_to_f64_neon(acc + 4 * t, a_f32x4[t], (masked && t == regs - 1) ? tail : 4);
		a_f32x4[t] = vdupq_n_f32(0.0f);
	}
}

RV_NEON_INLINE float32x4_t
heads_load_neon(const float *p, const int masked, size_t tail)
{
	return masked ? load_partial_f32x4(p, tail, 0.0f) : vld1q_f32(p);
}

RV_NEON_INLINE void
weighted_heads_tile_f32_neon(const float *W, size_t ldw, const float *V,
							 size_t n, size_t dvh, size_t g, size_t ldv,
							 float beta, float *out, double *acc,
							 const int regs, const int masked, size_t tail)
{
	const int	rows = regs >= 7 ? 1 : regs >= 5 ? 2 : regs >= 3 ? 4 : 8;
	float32x4_t acc_f32x4[RV_HEAD_CHUNK][16];	/* rows * regs <= 16 */
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
			acc_f32x4[h][a] = vdupq_n_f32(0.0f);
		if (beta != 0.0f)
		{
			RV_UNROLL
			for (int t = 0; t < regs; t++)
				acc_f32x4[h][t] = vmulq_n_f32(heads_load_neon(out + h * dvh + 4 * t,
															  masked && t == regs - 1, tail),
											  beta);
		}
	}
	for (size_t b0 = 0; b0 < per_set; b0 += 8)
	{
		size_t		b1 = per_set - b0 < 8 ? per_set : b0 + 8;

		for (size_t h = 0; h < g; h++)
		{
			float32x4_t a_f32x4[16];
			const float *w = W + h * ldw;
			const float *Vh = V + h * dvh;

			RV_UNROLL
			for (int a = 0; a < rows * regs; a++)
				a_f32x4[a] = acc_f32x4[h][a];
			for (size_t b = b0; b < b1; b++)
			{
				RV_UNROLL
				for (int u = 0; u < rows; u++)
				{
					size_t		row = rv_stream_row(u, per_set, b, skew[u]);
					float		wi = w[row];
					const float *v = Vh + row * ldv;

					RV_UNROLL
					for (int t = 0; t < regs; t++)
						a_f32x4[u * regs + t] =
							vfmaq_n_f32(a_f32x4[u * regs + t],
										heads_load_neon(v + 4 * t, masked && t == regs - 1, tail), wi);
				}
			}
			if (acc && (b1 % chunk == 0 || b1 == per_set))
				heads_to_f64_neon(a_f32x4, rows, regs, masked, tail, acc + h * dvh);
			RV_UNROLL
			for (int a = 0; a < rows * regs; a++)
				acc_f32x4[h][a] = a_f32x4[a];
		}
	}
	for (size_t h = 0; h < g; h++)
	{
		const float *w = W + h * ldw;

		for (size_t i = per_set * rows; i < n; i++)
		{
			float		wi = w[i];
			const float *v = V + h * dvh + i * ldv;

			RV_UNROLL
			for (int t = 0; t < regs; t++)
				acc_f32x4[h][t] = vfmaq_n_f32(acc_f32x4[h][t],
											  heads_load_neon(v + 4 * t, masked && t == regs - 1, tail),
											  wi);
		}
		if (acc)
		{
			if (per_set * rows < n)
				heads_to_f64_neon(acc_f32x4[h], rows, regs, masked, tail, acc + h * dvh);
			continue;
		}
		RV_UNROLL
		for (int u = 1; u < rows; u++)
			RV_UNROLL
			for (int t = 0; t < regs; t++)
				acc_f32x4[h][t] = vaddq_f32(acc_f32x4[h][t], acc_f32x4[h][u * regs + t]);
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			if (masked && t == regs - 1)
				store_partial_f32x4(out + h * dvh + 4 * t, acc_f32x4[h][t], tail);
			else
				vst1q_f32(out + h * dvh + 4 * t, acc_f32x4[h][t]);
		}
	}
}

/* one pass of heads of `regs` registers, the last masked when `masked` */
#define RV_HEADS_TILE(regs, masked) \
	weighted_heads_tile_f32_neon(Wg, ldw, Vg, n, dvh, g, ldv, beta, og, ag, regs, masked, tail)

/*
 * head_weighted_sum (acc NULL) and head_weighted_sum_acc: heads of at most
 * one tile (dvh <= 32) go through the interleaved tile above,
 * RV_HEAD_CHUNK heads per pass; wider heads (already streamed row by row
 * by weighted_wide) one after the other.
 */
static void
heads_weighted_f32_neon(const float *W, size_t ldw, const float *V,
						size_t n, size_t dvh, size_t heads, size_t ldv,
						float beta, float *out, double *acc)
{
	size_t		tail = dvh % 4;

	if (dvh == 0 || dvh > 32)
	{
		for (size_t h = 0; h < heads; h++)
			if (acc)
				weighted_wide_f32_neon(W + h * ldw, V + h * dvh, n, dvh, ldv, 0.0f,
									   out + h * dvh, acc + h * dvh);
			else
				weighted_sum_f32_neon(W + h * ldw, V + h * dvh, n, dvh, ldv,
									  beta, out + h * dvh);
		return;
	}
	for (size_t h0 = 0; h0 < heads; h0 += RV_HEAD_CHUNK)
	{
		size_t		g = heads - h0 < RV_HEAD_CHUNK ? heads - h0 : RV_HEAD_CHUNK;
		const float *Wg = W + h0 * ldw;
		const float *Vg = V + h0 * dvh;
		float	   *og = out + h0 * dvh;
		double	   *ag = acc ? acc + h0 * dvh : NULL;

		if (tail == 0)
			switch (dvh / 4)
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
			switch (dvh / 4 + 1)
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

static void
head_weighted_sum_f32_neon(const float *W, size_t ldw, const float *V,
						   size_t n, size_t dvh, size_t heads, size_t ldv,
						   float beta, float *out)
{
	heads_weighted_f32_neon(W, ldw, V, n, dvh, heads, ldv, beta, out, NULL);
}

static void
head_weighted_sum_acc_f32_neon(const float *W, size_t ldw, const float *V,
							   size_t n, size_t dvh, size_t heads, size_t ldv,
							   float *part, double *acc)
{
	heads_weighted_f32_neon(W, ldw, V, n, dvh, heads, ldv, 0.0f, part, acc);
}

/* x[i] *= a */
static void
scale_f32_neon(float *x, size_t n, float a)
{
	size_t		i = 0;

	for (; i + 4 <= n; i += 4)
		vst1q_f32(x + i, vmulq_n_f32(vld1q_f32(x + i), a));
	if (i < n)
		store_partial_f32x4(x + i, vmulq_n_f32(load_partial_f32x4(x + i, n - i, 0.0f), a),
							n - i);
}

/*
 * 1 when every x[i] is finite: x - x is 0 for finite x and NaN for NaN or
 * +/-Infinity, and a sum of those stays 0 only if all of them were 0.
 */
static int
all_finite_f32_neon(const float *x, size_t n)
{
	float32x4_t acc0_f32x4 = vdupq_n_f32(0.0f),
				acc1_f32x4 = vdupq_n_f32(0.0f);
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
	{
		float32x4_t x0_f32x4 = vld1q_f32(x + i);
		float32x4_t x1_f32x4 = vld1q_f32(x + i + 4);

		acc0_f32x4 = vaddq_f32(acc0_f32x4, vsubq_f32(x0_f32x4, x0_f32x4));
		acc1_f32x4 = vaddq_f32(acc1_f32x4, vsubq_f32(x1_f32x4, x1_f32x4));
	}
	for (; i + 4 <= n; i += 4)
	{
		float32x4_t x_f32x4 = vld1q_f32(x + i);

		acc0_f32x4 = vaddq_f32(acc0_f32x4, vsubq_f32(x_f32x4, x_f32x4));
	}
	if (i < n)
	{
		float32x4_t x_f32x4 = load_partial_f32x4(x + i, n - i, 0.0f);

		acc1_f32x4 = vaddq_f32(acc1_f32x4, vsubq_f32(x_f32x4, x_f32x4));
	}
	acc0_f32x4 = vaddq_f32(acc0_f32x4, acc1_f32x4);
	return vminvq_u32(vceqq_f32(acc0_f32x4, vdupq_n_f32(0.0f))) != 0;
}

/* ==== primitives of linear.c, gat.c, sparse.c, moe.c ==== */

/*
 * phi(x) = elu(x) + 1 on 4 lanes as exp(min(x, 0)) + max(x, 0): the exp
 * of x <= 0 gives exactly 1 at 0, so lanes >= 0 get x + 1 and the others
 * exp(x) + 0.  Adding x - x (0 for finite x, NaN otherwise) makes a
 * non-finite input non-finite.
 */
RV_NEON_INLINE float32x4_t
phi_exp_f32x4_neon(float32x4_t x_f32x4)
{
	float32x4_t zero_f32x4 = vdupq_n_f32(0.0f);
	float32x4_t e_f32x4 = exp_nonpos_f32x4_neon(vminq_f32(x_f32x4, zero_f32x4));

	return vaddq_f32(vaddq_f32(e_f32x4, vmaxq_f32(x_f32x4, zero_f32x4)),
					 vsubq_f32(x_f32x4, x_f32x4));
}

/* nonzero when no lane of v has its sign bit set */
RV_NEON_INLINE int
no_sign_f32x4_neon(float32x4_t v_f32x4)
{
	return vminvq_s32(vreinterpretq_s32_f32(v_f32x4)) >= 0;
}

/*
 * phi on 4 lanes, without the exp when no sign bit is set (every lane
 * >= +0, or NaN, for which x + 1 is right too).
 */
RV_NEON_INLINE float32x4_t
phi_f32x4_neon(float32x4_t x_f32x4)
{
	if (no_sign_f32x4_neon(x_f32x4))
		return vaddq_f32(x_f32x4, vdupq_n_f32(1.0f));
	return phi_exp_f32x4_neon(x_f32x4);
}

/*
 * out[i] = phi(x[i]), 16 floats per step with one sign test for the four
 * registers; each chunk is loaded before it is stored, so out == x works.
 */
static void
phi_f32_neon(const float *x, size_t n, float *out)
{
	float32x4_t one_f32x4 = vdupq_n_f32(1.0f);
	size_t		i = 0;

	for (; i + 16 <= n; i += 16)
	{
		float32x4_t x0_f32x4 = vld1q_f32(x + i);
		float32x4_t x1_f32x4 = vld1q_f32(x + i + 4);
		float32x4_t x2_f32x4 = vld1q_f32(x + i + 8);
		float32x4_t x3_f32x4 = vld1q_f32(x + i + 12);
		uint32x4_t	or_u32x4 = vorrq_u32(vorrq_u32(vreinterpretq_u32_f32(x0_f32x4),
												   vreinterpretq_u32_f32(x1_f32x4)),
										 vorrq_u32(vreinterpretq_u32_f32(x2_f32x4),
												   vreinterpretq_u32_f32(x3_f32x4)));

		if (no_sign_f32x4_neon(vreinterpretq_f32_u32(or_u32x4)))
		{
			x0_f32x4 = vaddq_f32(x0_f32x4, one_f32x4);
			x1_f32x4 = vaddq_f32(x1_f32x4, one_f32x4);
			x2_f32x4 = vaddq_f32(x2_f32x4, one_f32x4);
			x3_f32x4 = vaddq_f32(x3_f32x4, one_f32x4);
		}
		else
		{
			x0_f32x4 = phi_exp_f32x4_neon(x0_f32x4);
			x1_f32x4 = phi_exp_f32x4_neon(x1_f32x4);
			x2_f32x4 = phi_exp_f32x4_neon(x2_f32x4);
			x3_f32x4 = phi_exp_f32x4_neon(x3_f32x4);
		}
		vst1q_f32(out + i, x0_f32x4);
		vst1q_f32(out + i + 4, x1_f32x4);
		vst1q_f32(out + i + 8, x2_f32x4);
		vst1q_f32(out + i + 12, x3_f32x4);
	}
	for (; i + 4 <= n; i += 4)
		vst1q_f32(out + i, phi_f32x4_neon(vld1q_f32(x + i)));
	if (i < n)
		store_partial_f32x4(out + i, phi_f32x4_neon(load_partial_f32x4(x + i, n - i, 0.0f)),
							n - i);
}

/* LeakyReLU of x + bias on 4 lanes */
RV_NEON_INLINE float32x4_t
leaky_f32x4_neon(float32x4_t x_f32x4, float32x4_t bias_f32x4, float32x4_t slope_f32x4)
{
	float32x4_t y_f32x4 = vaddq_f32(x_f32x4, bias_f32x4);

	return vbslq_f32(vcgtq_f32(y_f32x4, vdupq_n_f32(0.0f)), y_f32x4,
					 vmulq_f32(y_f32x4, slope_f32x4));
}

/* all-ones in the lanes where y - y is 0 (finite y) */
RV_NEON_INLINE uint32x4_t
finite_u32x4_neon(float32x4_t y_f32x4)
{
	return vceqq_f32(vsubq_f32(y_f32x4, y_f32x4), vdupq_n_f32(0.0f));
}

/*
 * out[i] = LeakyReLU(x[i] + bias), the running max, and the AND of the
 * finite lanes.  Tail lanes past n are replaced by -Infinity for the max
 * and count as finite.
 */
static float
leaky_relu_f32_neon(const float *x, size_t n, float bias, float slope,
					float *out, int *bad)
{
	float32x4_t bias_f32x4 = vdupq_n_f32(bias),
				slope_f32x4 = vdupq_n_f32(slope);
	float32x4_t max0_f32x4 = vdupq_n_f32(-INFINITY),
				max1_f32x4 = max0_f32x4;
	uint32x4_t	ok_u32x4 = vdupq_n_u32(0xFFFFFFFFu);
	size_t		i = 0;

	for (; i + 8 <= n; i += 8)
	{
		float32x4_t y0_f32x4 = leaky_f32x4_neon(vld1q_f32(x + i), bias_f32x4, slope_f32x4);
		float32x4_t y1_f32x4 = leaky_f32x4_neon(vld1q_f32(x + i + 4), bias_f32x4, slope_f32x4);

		vst1q_f32(out + i, y0_f32x4);
		vst1q_f32(out + i + 4, y1_f32x4);
		max0_f32x4 = vmaxq_f32(max0_f32x4, y0_f32x4);
		max1_f32x4 = vmaxq_f32(max1_f32x4, y1_f32x4);
		ok_u32x4 = vandq_u32(ok_u32x4, vandq_u32(finite_u32x4_neon(y0_f32x4),
												 finite_u32x4_neon(y1_f32x4)));
	}
	for (; i + 4 <= n; i += 4)
	{
		float32x4_t y_f32x4 = leaky_f32x4_neon(vld1q_f32(x + i), bias_f32x4, slope_f32x4);

		vst1q_f32(out + i, y_f32x4);
		max0_f32x4 = vmaxq_f32(max0_f32x4, y_f32x4);
		ok_u32x4 = vandq_u32(ok_u32x4, finite_u32x4_neon(y_f32x4));
	}
	if (i < n)
	{
		uint32x4_t	lanes_u32x4 = lane_mask_u32x4(n - i);
		float32x4_t y_f32x4 = leaky_f32x4_neon(load_partial_f32x4(x + i, n - i, 0.0f),
											   bias_f32x4, slope_f32x4);

		store_partial_f32x4(out + i, y_f32x4, n - i);
		max1_f32x4 = vmaxq_f32(max1_f32x4, vbslq_f32(lanes_u32x4, y_f32x4,
													 vdupq_n_f32(-INFINITY)));
		ok_u32x4 = vandq_u32(ok_u32x4, vornq_u32(finite_u32x4_neon(y_f32x4), lanes_u32x4));
	}
	*bad = vminvq_u32(ok_u32x4) == 0;
	return vmaxvq_f32(vmaxq_f32(max0_f32x4, max1_f32x4));
}

/* ==== end of linear, gat, sparse, moe ==== */

/* ==== primitives of hyperbolic.c ==== */

/* rem (0..4) doubles from p as two registers (zeros past rem), never past p + rem */
RV_NEON_INLINE void
load_pd4_neon(const double *p, size_t rem, float64x2_t *lo_f64x2, float64x2_t *hi_f64x2)
{
	float64x2_t z_f64x2 = vdupq_n_f64(0.0);

	if (rem >= 4)
	{
		*lo_f64x2 = vld1q_f64(p);
		*hi_f64x2 = vld1q_f64(p + 2);
		return;
	}
	*lo_f64x2 = rem >= 2 ? vld1q_f64(p) : rem == 1 ? vld1q_lane_f64(p, z_f64x2, 0) : z_f64x2;
	*hi_f64x2 = rem == 3 ? vld1q_lane_f64(p + 2, z_f64x2, 0) : z_f64x2;
}

/* two doubles registers rounded to 4 floats, lanes in order */
RV_NEON_INLINE float32x4_t
cvt_pd4_ps_neon(float64x2_t lo_f64x2, float64x2_t hi_f64x2)
{
	return vcvt_high_f32_f64(vcvt_f32_f64(lo_f64x2), hi_f64x2);
}

/* RV_LOG1P (rv_kernels.h) on 4 lanes, FMA in the polynomial */
RV_NEON_INLINE float32x4_t
log1p_f32x4_neon(float32x4_t x_f32x4)
{
	float32x4_t one_f32x4 = vdupq_n_f32(1.0f);
	float32x4_t u_f32x4 = vaddq_f32(x_f32x4, one_f32x4);
	uint32x4_t	ix_u32x4 = vaddq_u32(vreinterpretq_u32_f32(u_f32x4), vdupq_n_u32(RV_LOG1P_BIAS));
	float32x4_t k_f32x4 = vcvtq_f32_s32(vsubq_s32(vreinterpretq_s32_u32(vshrq_n_u32(ix_u32x4, 23)),
												  vdupq_n_s32(127)));
	float32x4_t m_f32x4 = vreinterpretq_f32_u32(vaddq_u32(vandq_u32(ix_u32x4, vdupq_n_u32(0x007fffff)),
														  vdupq_n_u32(RV_LOG1P_SQRTHF_BITS)));
	float32x4_t f_f32x4 = vsubq_f32(m_f32x4, one_f32x4);
	float32x4_t corr_f32x4 = vdivq_f32(vsubq_f32(x_f32x4, vsubq_f32(u_f32x4, one_f32x4)), u_f32x4);
	float32x4_t z_f32x4 = vmulq_f32(f_f32x4, f_f32x4);
	float32x4_t p_f32x4,
				y_f32x4,
				r_f32x4,
				special_f32x4;
	uint32x4_t	gt_u32x4,
				ok_u32x4;

	p_f32x4 = vfmaq_f32(vdupq_n_f32(RV_LOG1P_P7), vdupq_n_f32(RV_LOG1P_P8), f_f32x4);
	p_f32x4 = vfmaq_f32(vdupq_n_f32(RV_LOG1P_P6), p_f32x4, f_f32x4);
	p_f32x4 = vfmaq_f32(vdupq_n_f32(RV_LOG1P_P5), p_f32x4, f_f32x4);
	p_f32x4 = vfmaq_f32(vdupq_n_f32(RV_LOG1P_P4), p_f32x4, f_f32x4);
	p_f32x4 = vfmaq_f32(vdupq_n_f32(RV_LOG1P_P3), p_f32x4, f_f32x4);
	p_f32x4 = vfmaq_f32(vdupq_n_f32(RV_LOG1P_P2), p_f32x4, f_f32x4);
	p_f32x4 = vfmaq_f32(vdupq_n_f32(RV_LOG1P_P1), p_f32x4, f_f32x4);
	p_f32x4 = vfmaq_f32(vdupq_n_f32(RV_LOG1P_P0), p_f32x4, f_f32x4);
	y_f32x4 = vmulq_f32(vmulq_f32(p_f32x4, f_f32x4), z_f32x4);
	y_f32x4 = vfmaq_f32(y_f32x4, k_f32x4, vdupq_n_f32(RV_LN2_LO));
	y_f32x4 = vfmsq_f32(y_f32x4, vdupq_n_f32(0.5f), z_f32x4);
	y_f32x4 = vaddq_f32(y_f32x4, corr_f32x4);
	r_f32x4 = vaddq_f32(f_f32x4, y_f32x4);
	r_f32x4 = vfmaq_f32(r_f32x4, k_f32x4, vdupq_n_f32(RV_LN2_HI));

	/* NaN and +Infinity give x, -1 gives -Infinity, below -1 NaN */
	gt_u32x4 = vcgtq_f32(x_f32x4, vdupq_n_f32(-1.0f));
	ok_u32x4 = vandq_u32(gt_u32x4, vcltq_f32(x_f32x4, vdupq_n_f32(INFINITY)));
	special_f32x4 = vbslq_f32(gt_u32x4, x_f32x4, vdupq_n_f32(NAN));
	special_f32x4 = vbslq_f32(vceqq_f32(x_f32x4, vdupq_n_f32(-1.0f)), vdupq_n_f32(-INFINITY),
							  special_f32x4);
	return vbslq_f32(ok_u32x4, r_f32x4, special_f32x4);
}

/* RV_SQNORM's lane combination of lanes (l0,l1), (l2,l3), (l4,l5), (l6,l7) */
RV_NEON_INLINE double
sqnorm_reduce_neon(const float64x2_t *acc_f64x2)
{
	/* (l0 + l4, l1 + l5) + (l2 + l6, l3 + l7), then the two lanes */
	float64x2_t s_f64x2 = vaddq_f64(vaddq_f64(acc_f64x2[0], acc_f64x2[2]),
									vaddq_f64(acc_f64x2[1], acc_f64x2[3]));

	return vgetq_lane_f64(s_f64x2, 0) + vgetq_lane_f64(s_f64x2, 1);
}

/* 8 floats at p (rem of them real, 1..8, zeros past) as two registers */
RV_NEON_INLINE void
load_ps8_neon(const float *p, size_t rem, float32x4_t *lo_f32x4, float32x4_t *hi_f32x4)
{
	if (rem >= 8)
	{
		*lo_f32x4 = vld1q_f32(p);
		*hi_f32x4 = vld1q_f32(p + 4);
		return;
	}
	*lo_f32x4 = rem >= 4 ? vld1q_f32(p) : load_partial_f32x4(p, rem, 0.0f);
	*hi_f32x4 = rem > 4 ? load_partial_f32x4(p + 4, rem - 4, 0.0f) : vdupq_n_f32(0.0f);
}

/* the first rem (1..8) floats of lo, hi to p */
RV_NEON_INLINE void
store_ps8_neon(float *p, size_t rem, float32x4_t lo_f32x4, float32x4_t hi_f32x4)
{
	if (rem >= 8)
	{
		vst1q_f32(p, lo_f32x4);
		vst1q_f32(p + 4, hi_f32x4);
		return;
	}
	store_partial_f32x4(p, lo_f32x4, rem < 4 ? rem : 4);
	if (rem > 4)
		store_partial_f32x4(p + 4, hi_f32x4, rem - 4);
}

/* the four row sums of 8-lane accumulators acc[2r] (lanes 0..3), acc[2r + 1] (4..7) */
RV_NEON_INLINE float32x4_t
reduce_rows4_neon(const float32x4_t *acc_f32x4)
{
	return vpaddq_f32(vpaddq_f32(vaddq_f32(acc_f32x4[0], acc_f32x4[1]),
								 vaddq_f32(acc_f32x4[2], acc_f32x4[3])),
					  vpaddq_f32(vaddq_f32(acc_f32x4[4], acc_f32x4[5]),
								 vaddq_f32(acc_f32x4[6], acc_f32x4[7])));
}

/* four floats added in double to two accumulators (lanes 0, 1 and 2, 3) */
RV_NEON_INLINE void
add_f64x4_neon(float64x2_t *acc_f64x2, float32x4_t v_f32x4)
{
	acc_f64x2[0] = vaddq_f64(acc_f64x2[0], vcvt_f64_f32(vget_low_f32(v_f32x4)));
	acc_f64x2[1] = vaddq_f64(acc_f64x2[1], vcvt_high_f64_f32(v_f32x4));
}

/*
 * The double-norm kernel of sqnorm_rows for 4 rows k[r], in chunks of 8
 * columns: kk_f64x2[4r .. 4r + 3] accumulate k_r^2 in the 8 double lanes
 * of RV_SQNORM.  The d tail is one chunk with zeros past d.
 */
RV_NEON_INLINE void
sqnorm_f64_rows_neon(const float *const *k, size_t d, float64x2_t *kk_f64x2)
{
	RV_UNROLL
	for (int r = 0; r < 16; r++)
		kk_f64x2[r] = vdupq_n_f64(0.0);
	for (size_t j = 0; j < d; j += 8)
	{
		size_t		rem = d - j < 8 ? d - j : 8;

		RV_UNROLL
		for (int r = 0; r < 4; r++)
		{
			float32x4_t klo_f32x4,
						khi_f32x4;
			float64x2_t x0_f64x2,
						x1_f64x2,
						x2_f64x2,
						x3_f64x2;

			load_ps8_neon(k[r] + j, rem, &klo_f32x4, &khi_f32x4);
			x0_f64x2 = vcvt_f64_f32(vget_low_f32(klo_f32x4));
			x1_f64x2 = vcvt_high_f64_f32(klo_f32x4);
			x2_f64x2 = vcvt_f64_f32(vget_low_f32(khi_f32x4));
			x3_f64x2 = vcvt_high_f64_f32(khi_f32x4);
			kk_f64x2[4 * r] = vfmaq_f64(kk_f64x2[4 * r], x0_f64x2, x0_f64x2);
			kk_f64x2[4 * r + 1] = vfmaq_f64(kk_f64x2[4 * r + 1], x1_f64x2, x1_f64x2);
			kk_f64x2[4 * r + 2] = vfmaq_f64(kk_f64x2[4 * r + 2], x2_f64x2, x2_f64x2);
			kk_f64x2[4 * r + 3] = vfmaq_f64(kk_f64x2[4 * r + 3], x3_f64x2, x3_f64x2);
		}
	}
}

/*
 * The float kernel of sqdist_rows and sqnorm_rows_f32 for 4 rows k[r], in
 * chunks of 8 columns: when want_d2, d2_f32x4[2r], [2r + 1] accumulate
 * (q - k_r)^2 in 8 float lanes over all d; when want_kk (want_pk), the 8
 * float lanes of k_r^2 ((q - k_r)(q + k_r)) run over a block of
 * RV_SQNORM_F32_BLOCK columns, are reduced by reduce_rows4_neon and added
 * in double to kk_f64x2[0..1] (pk_f64x2[0..1]): RV_SQNORM_F32 with 8
 * lanes and FMA.  The d tail is one chunk with zeros past d.
 */
RV_NEON_INLINE void
sq_rows_f32_neon(const float *q, const float *const *k, size_t d,
				 const int want_d2, const int want_kk, const int want_pk,
				 float32x4_t *d2_f32x4, float64x2_t *kk_f64x2, float64x2_t *pk_f64x2)
{
	float32x4_t kk_f32x4[8],
				pk_f32x4[8];

	RV_UNROLL
	for (int r = 0; r < 8; r++)
		d2_f32x4[r] = kk_f32x4[r] = pk_f32x4[r] = vdupq_n_f32(0.0f);
	kk_f64x2[0] = kk_f64x2[1] = pk_f64x2[0] = pk_f64x2[1] = vdupq_n_f64(0.0);
	for (size_t jb = 0; jb < d; jb += RV_SQNORM_F32_BLOCK)
	{
		size_t		je = d - jb < RV_SQNORM_F32_BLOCK ? d : jb + RV_SQNORM_F32_BLOCK;

		for (size_t j = jb; j < je; j += 8)
		{
			size_t		rem = je - j < 8 ? je - j : 8;
			float32x4_t qlo_f32x4 = vdupq_n_f32(0.0f),
						qhi_f32x4 = vdupq_n_f32(0.0f);

			if (want_d2 || want_pk)
				load_ps8_neon(q + j, rem, &qlo_f32x4, &qhi_f32x4);
			RV_UNROLL
			for (int r = 0; r < 4; r++)
			{
				float32x4_t klo_f32x4,
							khi_f32x4,
							elo_f32x4,
							ehi_f32x4;

				load_ps8_neon(k[r] + j, rem, &klo_f32x4, &khi_f32x4);
				elo_f32x4 = vsubq_f32(qlo_f32x4, klo_f32x4);
				ehi_f32x4 = vsubq_f32(qhi_f32x4, khi_f32x4);
				if (want_d2)
				{
					d2_f32x4[2 * r] = vfmaq_f32(d2_f32x4[2 * r], elo_f32x4, elo_f32x4);
					d2_f32x4[2 * r + 1] = vfmaq_f32(d2_f32x4[2 * r + 1], ehi_f32x4, ehi_f32x4);
				}
				if (want_kk)
				{
					kk_f32x4[2 * r] = vfmaq_f32(kk_f32x4[2 * r], klo_f32x4, klo_f32x4);
					kk_f32x4[2 * r + 1] = vfmaq_f32(kk_f32x4[2 * r + 1], khi_f32x4, khi_f32x4);
				}
				if (want_pk)
				{
					pk_f32x4[2 * r] = vfmaq_f32(pk_f32x4[2 * r], elo_f32x4, vaddq_f32(qlo_f32x4, klo_f32x4));
					pk_f32x4[2 * r + 1] = vfmaq_f32(pk_f32x4[2 * r + 1], ehi_f32x4,
													vaddq_f32(qhi_f32x4, khi_f32x4));
				}
			}
		}
		if (want_kk)
			add_f64x4_neon(kk_f64x2, reduce_rows4_neon(kk_f32x4));
		if (want_pk)
			add_f64x4_neon(pk_f64x2, reduce_rows4_neon(pk_f32x4));
		RV_UNROLL
		for (int r = 0; r < 8; r++)
			kk_f32x4[r] = pk_f32x4[r] = vdupq_n_f32(0.0f);
	}
}

/*
 * The row loop of sqdist_rows, sqnorm_rows_f32 and sqnorm_rows: 4 row
 * slots, each walking its own contiguous, skewed stretch of rows as in
 * scores_f32_neon; the n % 4 last rows reuse the kernel with the missing
 * slots aimed at the last real row, only the real results stored.
 * want_kd: the double norms of sqnorm_rows into kd (then nothing else).
 */
RV_NEON_INLINE void
sq_rows_loop_f32_neon(const float *q, const float *K, size_t n, size_t d,
					  size_t ldk, float *d2, float *kk, float *pk, double *kd,
					  const int want_d2, const int want_kk, const int want_pk,
					  const int want_kd)
{
	float32x4_t d2_f32x4[8];
	float64x2_t kk_f64x2[16],
				pk_f64x2[2];
	const float *k[4];
	size_t		blocks = n / 4;
	size_t		skew[4];
	size_t		row[4];

	for (size_t r = 0; r < 4 && blocks > 0; r++)
		skew[r] = r % blocks;
	for (size_t b = 0; b <= blocks; b++)
	{
		size_t		real = 4;
		float		s4[4];

		if (b == blocks)
		{
			real = n - blocks * 4;
			if (real == 0)
				break;
			for (size_t r = 0; r < 4; r++)
				row[r] = blocks * 4 + (r < real ? r : real - 1);
		}
		else
			RV_UNROLL
			for (int r = 0; r < 4; r++)
				row[r] = rv_stream_row(r, blocks, b, skew[r]);
		RV_UNROLL
		for (int r = 0; r < 4; r++)
			k[r] = K + row[r] * ldk;
		if (want_kd)
		{
			sqnorm_f64_rows_neon(k, d, kk_f64x2);
			for (size_t r = 0; r < real; r++)
				kd[row[r]] = sqnorm_reduce_neon(kk_f64x2 + 4 * r);
			continue;
		}
		sq_rows_f32_neon(q, k, d, want_d2, want_kk, want_pk, d2_f32x4, kk_f64x2, pk_f64x2);
		if (want_d2)
		{
			vst1q_f32(s4, reduce_rows4_neon(d2_f32x4));
			for (size_t r = 0; r < real; r++)
				d2[row[r]] = s4[r];
		}
		if (want_kk)
		{
			vst1q_f32(s4, cvt_pd4_ps_neon(kk_f64x2[0], kk_f64x2[1]));
			for (size_t r = 0; r < real; r++)
				kk[row[r]] = s4[r];
		}
		if (want_pk)
		{
			vst1q_f32(s4, cvt_pd4_ps_neon(pk_f64x2[0], pk_f64x2[1]));
			for (size_t r = 0; r < real; r++)
				pk[row[r]] = s4[r];
		}
	}
}

static void
sqnorm_rows_f64_neon(const float *X, size_t n, size_t d, size_t ldx, double *out)
{
	sq_rows_loop_f32_neon(NULL, X, n, d, ldx, NULL, NULL, NULL, out, 0, 0, 0, 1);
}

static void
sqnorm_rows_f32_neon(const float *X, size_t n, size_t d, size_t ldx, float *out)
{
	sq_rows_loop_f32_neon(NULL, X, n, d, ldx, NULL, out, NULL, NULL, 0, 1, 0, 0);
}

/* with kd, the double norms in a second pass over the same rows (still in cache) */
static void
sqdist_rows_f32_neon(const float *q, const float *K, size_t n, size_t d,
					 size_t ldk, float *d2, float *kk, float *pk, double *kd)
{
	if (kk && pk)
		sq_rows_loop_f32_neon(q, K, n, d, ldk, d2, kk, pk, NULL, 1, 1, 1, 0);
	else if (kk)
		sq_rows_loop_f32_neon(q, K, n, d, ldk, d2, kk, NULL, NULL, 1, 1, 0, 0);
	else if (pk)
		sq_rows_loop_f32_neon(q, K, n, d, ldk, d2, NULL, pk, NULL, 1, 0, 1, 0);
	else
		sq_rows_loop_f32_neon(q, K, n, d, ldk, d2, NULL, NULL, NULL, 1, 0, 0, 0);
	if (kd)
		sqnorm_rows_f64_neon(K, n, d, ldk, kd);
}

/* the rem (1..4) first floats at p, zeros past */
RV_NEON_INLINE float32x4_t
load_ps4_neon(const float *p, size_t rem)
{
	return rem >= 4 ? vld1q_f32(p) : load_partial_f32x4(p, rem, 0.0f);
}

/* how many of the rem first lanes are not set in ok */
RV_NEON_INLINE size_t
count_unset_neon(uint32x4_t ok_u32x4, size_t rem)
{
	return (size_t) vaddvq_u32(vshrq_n_u32(vbicq_u32(lane_mask_u32x4(rem), ok_u32x4), 31));
}

static size_t
ball_gaps_f32_neon(const float *x, size_t n, float c, float xmax, float *a)
{
	float64x2_t c_f64x2 = vdupq_n_f64(c),
				one_f64x2 = vdupq_n_f64(1.0);
	size_t		flagged = 0;

	for (size_t i = 0; i < n; i += 4)
	{
		size_t		rem = n - i < 4 ? n - i : 4;
		float32x4_t x_f32x4 = load_ps4_neon(x + i, rem);
		uint32x4_t	ok_u32x4 = vcleq_f32(x_f32x4, vdupq_n_f32(xmax));
		float32x4_t a_f32x4 = cvt_pd4_ps_neon(vfmsq_f64(one_f64x2, c_f64x2, vcvt_f64_f32(vget_low_f32(x_f32x4))),
											  vfmsq_f64(one_f64x2, c_f64x2, vcvt_high_f64_f32(x_f32x4)));

		flagged += count_unset_neon(ok_u32x4, rem);
		store_partial_f32x4(a + i, vbslq_f32(ok_u32x4, a_f32x4, vdupq_n_f32(NAN)), rem);
	}
	return flagged;
}

static void
ball_gaps_f64_neon(const double *kd, size_t n, float c, float *a, float *xf)
{
	float64x2_t c_f64x2 = vdupq_n_f64(c),
				one_f64x2 = vdupq_n_f64(1.0),
				zero_f64x2 = vdupq_n_f64(0.0);

	for (size_t i = 0; i < n; i += 4)
	{
		size_t		rem = n - i < 4 ? n - i : 4;
		float64x2_t lo_f64x2,
					hi_f64x2,
					glo_f64x2,
					ghi_f64x2;

		load_pd4_neon(kd + i, rem, &lo_f64x2, &hi_f64x2);
		/* a product, then a difference: the ball test */
		glo_f64x2 = vsubq_f64(one_f64x2, vmulq_f64(c_f64x2, lo_f64x2));
		ghi_f64x2 = vsubq_f64(one_f64x2, vmulq_f64(c_f64x2, hi_f64x2));
		glo_f64x2 = vbslq_f64(vcgtq_f64(glo_f64x2, zero_f64x2), glo_f64x2, vdupq_n_f64(NAN));
		ghi_f64x2 = vbslq_f64(vcgtq_f64(ghi_f64x2, zero_f64x2), ghi_f64x2, vdupq_n_f64(NAN));
		store_partial_f32x4(a + i, cvt_pd4_ps_neon(glo_f64x2, ghi_f64x2), rem);
		if (xf)
			store_partial_f32x4(xf + i, cvt_pd4_ps_neon(lo_f64x2, hi_f64x2), rem);
	}
}

/* 0 - RV_DIST(X) * rc on 4 lanes (+0 at X = 0; NaN stays NaN) */
RV_NEON_INLINE float32x4_t
neg_dist_f32x4_neon(float32x4_t X_f32x4, float32x4_t rc_f32x4)
{
	float32x4_t y_f32x4 = vaddq_f32(X_f32x4, vsqrtq_f32(vfmaq_f32(X_f32x4, X_f32x4, X_f32x4)));

	y_f32x4 = vbslq_f32(vcltq_f32(X_f32x4, vdupq_n_f32(RV_DIST_BIG)), y_f32x4, vaddq_f32(X_f32x4, X_f32x4));
	return vsubq_f32(vdupq_n_f32(0.0f), vmulq_f32(log1p_f32x4_neon(vaddq_f32(y_f32x4, y_f32x4)), rc_f32x4));
}

static float
poincare_logits_f32_neon(const float *d2, const float *a, size_t n, float aq,
						 float c, float *s)
{
	float32x4_t c_f32x4 = vdupq_n_f32(c),
				rc_f32x4 = vdupq_n_f32((float) (1.0 / sqrt((double) c))),
				aq_f32x4 = vdupq_n_f32(aq),
				max_f32x4 = vdupq_n_f32(-INFINITY);

	for (size_t i = 0; i < n; i += 4)
	{
		size_t		rem = n - i < 4 ? n - i : 4;
		float32x4_t a_f32x4 = load_ps4_neon(a + i, rem);
		float32x4_t X_f32x4 = vdivq_f32(vmulq_f32(c_f32x4, load_ps4_neon(d2 + i, rem)),
										vmulq_f32(aq_f32x4, a_f32x4));
		float32x4_t s_f32x4 = vbslq_f32(vcgtq_f32(a_f32x4, vdupq_n_f32(0.0f)),
										neg_dist_f32x4_neon(X_f32x4, rc_f32x4), vdupq_n_f32(NAN));

		store_partial_f32x4(s + i, s_f32x4, rem);
		max_f32x4 = vmaxq_f32(max_f32x4, vbslq_f32(lane_mask_u32x4(rem), s_f32x4, vdupq_n_f32(-INFINITY)));
	}
	return vmaxvq_f32(max_f32x4);
}

static void
poincare_log0_f32_neon(const float *vv, const float *a, size_t n, float c, float *f)
{
	float32x4_t c_f32x4 = vdupq_n_f32(c),
				one_f32x4 = vdupq_n_f32(1.0f);

	for (size_t i = 0; i < n; i += 4)
	{
		size_t		rem = n - i < 4 ? n - i : 4;
		float32x4_t a_f32x4 = load_ps4_neon(a + i, rem);
		float32x4_t r_f32x4 = vsqrtq_f32(vmulq_f32(c_f32x4, load_ps4_neon(vv + i, rem)));
		float32x4_t r2_f32x4 = vaddq_f32(r_f32x4, r_f32x4);
		float32x4_t t_f32x4 = vdivq_f32(vmulq_f32(r2_f32x4, vaddq_f32(one_f32x4, r_f32x4)), a_f32x4);
		float32x4_t f_f32x4 = vdivq_f32(log1p_f32x4_neon(t_f32x4), r2_f32x4);

		f_f32x4 = vbslq_f32(vceqq_f32(r_f32x4, vdupq_n_f32(0.0f)), one_f32x4, f_f32x4);
		f_f32x4 = vbslq_f32(vcgtq_f32(a_f32x4, vdupq_n_f32(0.0f)), f_f32x4, vdupq_n_f32(NAN));
		store_partial_f32x4(f + i, f_f32x4, rem);
	}
}

static void
mul_f32_neon(const float *x, const float *y, size_t n, float *out)
{
	for (size_t i = 0; i < n; i += 4)
	{
		size_t		rem = n - i < 4 ? n - i : 4;

		store_partial_f32x4(out + i, vmulq_f32(load_ps4_neon(x + i, rem), load_ps4_neon(y + i, rem)), rem);
	}
}

static size_t
lorentz_chord_f32_neon(const float *d2, const float *pk, size_t n, double qq,
					   float c, float *t)
{
	double		ic = 1.0 / (double) c;
	float32x4_t q0_f32x4 = vdupq_n_f32((float) sqrt(ic + qq)),
				q0sq_f32x4 = vdupq_n_f32((float) (ic + qq));
	size_t		flagged = 0;

	for (size_t i = 0; i < n; i += 4)
	{
		size_t		rem = n - i < 4 ? n - i : 4;
		float32x4_t d2_f32x4 = load_ps4_neon(d2 + i, rem);
		float32x4_t pk_f32x4 = load_ps4_neon(pk + i, rem);
		float32x4_t k0_f32x4 = vsqrtq_f32(vsubq_f32(q0sq_f32x4, pk_f32x4));
		float32x4_t den_f32x4 = vaddq_f32(q0_f32x4, k0_f32x4);
		float32x4_t t_f32x4 = vdivq_f32(pk_f32x4, den_f32x4);
		float32x4_t t2_f32x4 = vmulq_f32(t_f32x4, t_f32x4);
		float32x4_t sd_f32x4 = vsqrtq_f32(d2_f32x4);
		float32x4_t p_f32x4 = vfmaq_f32(vmulq_n_f32(den_f32x4, RV_CHORD_UH), sd_f32x4, vdupq_n_f32(RV_CHORD_G));
		float32x4_t kb_f32x4 = vfmaq_f32(p_f32x4, k0_f32x4, vdupq_n_f32(RV_CHORD_U3));
		float32x4_t y_f32x4 = vsubq_f32(d2_f32x4, t2_f32x4);
		float32x4_t in_f32x4 = vfmaq_f32(vfmsq_f32(vmulq_n_f32(d2_f32x4, RV_CHORD_C), y_f32x4,
												   vdupq_n_f32((float) RV_HYP_TOL)),
										 vmulq_n_f32(vabsq_f32(t_f32x4), RV_CHORD_A), sd_f32x4);
		float32x4_t lhs_f32x4 = vfmaq_f32(vmulq_f32(vmulq_n_f32(kb_f32x4, RV_CHORD_D), t2_f32x4),
										  k0_f32x4, in_f32x4);
		uint32x4_t	ok_u32x4 = vandq_u32(vandq_u32(vcltq_f32(k0_f32x4, vdupq_n_f32(INFINITY)),
											   vcleq_f32(kb_f32x4, vmulq_n_f32(k0_f32x4, RV_CHORD_BMAX))),
									 vcleq_f32(lhs_f32x4, vdupq_n_f32(0.0f)));

		flagged += count_unset_neon(ok_u32x4, rem);
		store_partial_f32x4(t + i, vbslq_f32(ok_u32x4, t_f32x4, vdupq_n_f32(NAN)), rem);
	}
	return flagged;
}

static void
lorentz_chord_f64_neon(const double *kd, size_t n, double qq, float c, float *t)
{
	double		ic = 1.0 / (double) c;
	float64x2_t ic_f64x2 = vdupq_n_f64(ic),
				qq_f64x2 = vdupq_n_f64(qq),
				q0_f64x2 = vdupq_n_f64(sqrt(ic + qq));

	for (size_t i = 0; i < n; i += 4)
	{
		size_t		rem = n - i < 4 ? n - i : 4;
		float64x2_t lo_f64x2,
					hi_f64x2;

		load_pd4_neon(kd + i, rem, &lo_f64x2, &hi_f64x2);
		lo_f64x2 = vdivq_f64(vsubq_f64(qq_f64x2, lo_f64x2),
							 vaddq_f64(q0_f64x2, vsqrtq_f64(vaddq_f64(ic_f64x2, lo_f64x2))));
		hi_f64x2 = vdivq_f64(vsubq_f64(qq_f64x2, hi_f64x2),
							 vaddq_f64(q0_f64x2, vsqrtq_f64(vaddq_f64(ic_f64x2, hi_f64x2))));
		store_partial_f32x4(t + i, cvt_pd4_ps_neon(lo_f64x2, hi_f64x2), rem);
	}
}

static float
lorentz_logits_f32_neon(const float *d2, const float *t, size_t n, float c,
						float *s)
{
	float32x4_t qc_f32x4 = vdupq_n_f32((float) ((double) c / 4.0)),
				rc_f32x4 = vdupq_n_f32((float) (1.0 / sqrt((double) c))),
				max_f32x4 = vdupq_n_f32(-INFINITY);

	for (size_t i = 0; i < n; i += 4)
	{
		size_t		rem = n - i < 4 ? n - i : 4;
		float32x4_t d2_f32x4 = load_ps4_neon(d2 + i, rem);
		float32x4_t t_f32x4 = load_ps4_neon(t + i, rem);
		float32x4_t y_f32x4 = vsubq_f32(d2_f32x4, vmulq_f32(t_f32x4, t_f32x4));
		/* y < 0 becomes 0; NaN stays NaN */
		float32x4_t X_f32x4 = vmulq_f32(qc_f32x4, vbslq_f32(vcltq_f32(y_f32x4, vdupq_n_f32(0.0f)),
															vdupq_n_f32(0.0f), y_f32x4));
		float32x4_t s_f32x4 = vbslq_f32(vcgtq_f32(d2_f32x4, vmulq_n_f32(y_f32x4, RV_LORENTZ_ILL)),
										vdupq_n_f32(INFINITY), neg_dist_f32x4_neon(X_f32x4, rc_f32x4));

		store_partial_f32x4(s + i, s_f32x4, rem);
		max_f32x4 = vmaxq_f32(max_f32x4, vbslq_f32(lane_mask_u32x4(rem), s_f32x4, vdupq_n_f32(-INFINITY)));
	}
	return vmaxvq_f32(max_f32x4);
}

/* 4 double lanes (i % 4, as two registers), combined as (l0 + l2) + (l1 + l3) */
static double
lorentz_time_f32_neon(const float *w, const float *vv, size_t n, float c)
{
	float32x4_t ic_f32x4 = vdupq_n_f32((float) (1.0 / (double) c));
	float64x2_t lo_f64x2 = vdupq_n_f64(0.0),
				hi_f64x2 = vdupq_n_f64(0.0),
				s_f64x2;

	for (size_t i = 0; i < n; i += 4)
	{
		size_t		rem = n - i < 4 ? n - i : 4;
		/* lanes past n: weight 0 and root sqrt(1/c), finite */
		float32x4_t w_f32x4 = load_ps4_neon(w + i, rem);
		float32x4_t v0_f32x4 = vsqrtq_f32(vaddq_f32(ic_f32x4, load_ps4_neon(vv + i, rem)));

		lo_f64x2 = vfmaq_f64(lo_f64x2, vcvt_f64_f32(vget_low_f32(w_f32x4)), vcvt_f64_f32(vget_low_f32(v0_f32x4)));
		hi_f64x2 = vfmaq_f64(hi_f64x2, vcvt_high_f64_f32(w_f32x4), vcvt_high_f64_f32(v0_f32x4));
	}
	s_f64x2 = vaddq_f64(lo_f64x2, hi_f64x2);
	return vgetq_lane_f64(s_f64x2, 0) + vgetq_lane_f64(s_f64x2, 1);
}

/*
 * One step of weighted_sum_sqnorm over all dv columns in chunks of 8:
 * out += the `rows` (1 or 4, a constant) rows v[r] weighted by w[r],
 * added in row order per chunk, and when want_vv (4 rows) their
 * RV_SQNORM_F32 norms, from the same registers, into vv_f64x2[0..1]
 * (lane r of 4), exactly as sq_rows_f32_neon sums them.
 */
RV_NEON_INLINE void
ws_norm_step_neon(const float *const *v, const float *w, const int rows,
				  const int want_vv, size_t dv, float *out, float64x2_t *vv_f64x2)
{
	float32x4_t n_f32x4[8];

	RV_UNROLL
	for (int r = 0; r < 8; r++)
		n_f32x4[r] = vdupq_n_f32(0.0f);
	vv_f64x2[0] = vv_f64x2[1] = vdupq_n_f64(0.0);
	for (size_t jb = 0; jb < dv; jb += RV_SQNORM_F32_BLOCK)
	{
		size_t		je = dv - jb < RV_SQNORM_F32_BLOCK ? dv : jb + RV_SQNORM_F32_BLOCK;

		for (size_t j = jb; j < je; j += 8)
		{
			size_t		rem = je - j < 8 ? je - j : 8;
			float32x4_t alo_f32x4,
						ahi_f32x4;

			load_ps8_neon(out + j, rem, &alo_f32x4, &ahi_f32x4);
			RV_UNROLL
			for (int r = 0; r < rows; r++)
			{
				float32x4_t vlo_f32x4,
							vhi_f32x4;

				load_ps8_neon(v[r] + j, rem, &vlo_f32x4, &vhi_f32x4);
				alo_f32x4 = vfmaq_n_f32(alo_f32x4, vlo_f32x4, w[r]);
				ahi_f32x4 = vfmaq_n_f32(ahi_f32x4, vhi_f32x4, w[r]);
				if (want_vv)
				{
					n_f32x4[2 * r] = vfmaq_f32(n_f32x4[2 * r], vlo_f32x4, vlo_f32x4);
					n_f32x4[2 * r + 1] = vfmaq_f32(n_f32x4[2 * r + 1], vhi_f32x4, vhi_f32x4);
				}
			}
			store_ps8_neon(out + j, rem, alo_f32x4, ahi_f32x4);
		}
		if (want_vv)
		{
			add_f64x4_neon(vv_f64x2, reduce_rows4_neon(n_f32x4));
			RV_UNROLL
			for (int r = 0; r < 8; r++)
				n_f32x4[r] = vdupq_n_f32(0.0f);
		}
	}
}

/*
 * weighted_sum_sqnorm: steps of 4 rows from 4 contiguous, skewed
 * stretches of V (out stays in L1), then the n % 4 last rows one at a
 * time (their norms by sqnorm_rows_f32's kernel: the rows are in cache);
 * the order of additions into out depends on n only.
 */
static void
weighted_sum_sqnorm_f32_neon(const float *w, const float *V, size_t n,
							 size_t dv, size_t ldv, float *out, float *vv)
{
	size_t		per_slot = n / 4;
	size_t		skew[4];
	const float *v[4] = {V, V, V, V};
	float		wr[4] = {0.0f, 0.0f, 0.0f, 0.0f};
	float64x2_t vv_f64x2[2];

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
			wr[u] = w[row[u]];
		}
		if (vv)
		{
			float		s4[4];

			ws_norm_step_neon(v, wr, 4, 1, dv, out, vv_f64x2);
			vst1q_f32(s4, cvt_pd4_ps_neon(vv_f64x2[0], vv_f64x2[1]));
			for (int u = 0; u < 4; u++)
				vv[row[u]] = s4[u];
		}
		else
			ws_norm_step_neon(v, wr, 4, 0, dv, out, vv_f64x2);
	}
	for (size_t i = per_slot * 4; i < n; i++)
	{
		v[0] = V + i * ldv;
		wr[0] = w[i];
		ws_norm_step_neon(v, wr, 1, 0, dv, out, vv_f64x2);
	}
	if (vv && per_slot * 4 < n)
		sqnorm_rows_f32_neon(V + per_slot * 4 * ldv, n - per_slot * 4, dv, ldv, vv + per_slot * 4);
}

/*
 * out[j..j+4) += sum_r w_r v_r[j..j+4) in double for `rows` rows (a
 * constant 1 or 4), rows added in order; chunk j has rem (1..4) real
 * columns.
 */
RV_NEON_INLINE void
add_rows_f64_neon(const float *const *v, const float64x2_t *w_f64x2, const int rows,
				  size_t j, size_t rem, double *out)
{
	float64x2_t lo_f64x2,
				hi_f64x2;

	load_pd4_neon(out + j, rem, &lo_f64x2, &hi_f64x2);
	RV_UNROLL
	for (int r = 0; r < rows; r++)
	{
		float32x4_t v_f32x4 = rem == 4 ? vld1q_f32(v[r] + j) : load_partial_f32x4(v[r] + j, rem, 0.0f);

		lo_f64x2 = vfmaq_f64(lo_f64x2, w_f64x2[r], vcvt_f64_f32(vget_low_f32(v_f32x4)));
		hi_f64x2 = vfmaq_f64(hi_f64x2, w_f64x2[r], vcvt_high_f64_f32(v_f32x4));
	}
	if (rem == 4)
	{
		vst1q_f64(out + j, lo_f64x2);
		vst1q_f64(out + j + 2, hi_f64x2);
		return;
	}
	vst1q_lane_f64(out + j, lo_f64x2, 0);
	if (rem >= 2)
		vst1q_lane_f64(out + j + 1, lo_f64x2, 1);
	if (rem == 3)
		vst1q_lane_f64(out + j + 2, hi_f64x2, 0);
}

/* weighted_sum_f64: as weighted_wide_f32_neon, 4 whole rows per step from 4 skewed stretches */
static void
weighted_sum_f64_neon(const float *w, const float *V, size_t n, size_t dv,
					  size_t ldv, double *out)
{
	size_t		per_slot = n / 4;
	size_t		skew[4];
	const float *v[4];
	float64x2_t w_f64x2[4];

	for (size_t u = 0; u < 4; u++)
		skew[u] = per_slot > 0 ? u % per_slot : 0;
	for (size_t b = 0; b < per_slot; b++)
	{
		RV_UNROLL
		for (int u = 0; u < 4; u++)
		{
			size_t		row = rv_stream_row(u, per_slot, b, skew[u]);

			v[u] = V + row * ldv;
			w_f64x2[u] = vdupq_n_f64(w[row]);
		}
		for (size_t j = 0; j < dv; j += 4)
			add_rows_f64_neon(v, w_f64x2, 4, j, dv - j < 4 ? dv - j : 4, out);
	}
	for (size_t i = per_slot * 4; i < n; i++)
	{
		v[0] = V + i * ldv;
		w_f64x2[0] = vdupq_n_f64(w[i]);
		for (size_t j = 0; j < dv; j += 4)
			add_rows_f64_neon(v, w_f64x2, 1, j, dv - j < 4 ? dv - j : 4, out);
	}
}

static void
log1p_f32_neon(const float *x, size_t n, float *out)
{
	size_t		i = 0;

	for (; i + 4 <= n; i += 4)
		vst1q_f32(out + i, log1p_f32x4_neon(vld1q_f32(x + i)));
	if (i < n)
		store_partial_f32x4(out + i, log1p_f32x4_neon(load_partial_f32x4(x + i, n - i, 0.0f)), n - i);
}

/* ==== end of hyperbolic ==== */

/* ==== primitives of cross.c (cross, sliding) ==== */

/*
 * One micro-tile of cross_scores: `keys` keys (1..6, a constant after
 * inlining) x 16 query columns (4 registers), 24 accumulators of the 32
 * registers: per step of dh, 4 loads of Qt and `keys` broadcasts.
 * Blocks of RV_CROSS_DOT_BLOCK steps are added to S.
 */
RV_NEON_INLINE void
cross_scores_tile_neon(const float *Qt, size_t ldq, const float *K,
					   size_t ldk, size_t dh, float scale, float *S,
					   size_t lds, float32x4_t *fin_f32x4, const int keys)
{
	float32x4_t acc_f32x4[6][4];
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
			RV_UNROLL
			for (int t = 0; t < 4; t++)
				acc_f32x4[j][t] = vdupq_n_f32(0.0f);
		for (size_t i = k0; i < k1; i++)
		{
			float32x4_t q_f32x4[4];

			RV_UNROLL
			for (int t = 0; t < 4; t++)
				q_f32x4[t] = vld1q_f32(Qt + i * ldq + 4 * t);
			RV_UNROLL
			for (int j = 0; j < keys; j++)
			{
				float32x4_t k_f32x4 = vld1q_dup_f32(k[j] + i);

				RV_UNROLL
				for (int t = 0; t < 4; t++)
					acc_f32x4[j][t] = vfmaq_f32(acc_f32x4[j][t], k_f32x4, q_f32x4[t]);
			}
		}
		RV_UNROLL
		for (int j = 0; j < keys; j++)
			RV_UNROLL
			for (int t = 0; t < 4; t++)
			{
				float	   *s = S + j * lds + 4 * t;
				float32x4_t s_f32x4 = vmulq_n_f32(acc_f32x4[j][t], scale);

				if (k0 != 0)
					s_f32x4 = vaddq_f32(vld1q_f32(s), s_f32x4);
				vst1q_f32(s, s_f32x4);
				/* s - s is 0, or NaN for NaN/Infinity (which later blocks keep) */
				*fin_f32x4 = vaddq_f32(*fin_f32x4, vsubq_f32(s_f32x4, s_f32x4));
			}
		k0 = k1;
	} while (k0 < dh);
}

/* S = scale * K Qt: column blocks of 16, keys in groups of 6, then the tail */
static int
cross_scores_f32_neon(const float *Qt, size_t ldq, const float *K, size_t ldk,
					  size_t nk, size_t dh, size_t w, float scale, float *S,
					  size_t lds)
{
	float32x4_t fin_f32x4 = vdupq_n_f32(0.0f);

	for (size_t c = 0; c + 16 <= w; c += 16)
	{
		size_t		j = 0;
		const float *Kj;
		float	   *Sj;

		for (; j + 6 <= nk; j += 6)
			cross_scores_tile_neon(Qt + c, ldq, K + j * ldk, ldk, dh, scale,
								   S + j * lds + c, lds, &fin_f32x4, 6);
		Kj = K + j * ldk;
		Sj = S + j * lds + c;
		switch (nk - j)
		{
			case 1:
				cross_scores_tile_neon(Qt + c, ldq, Kj, ldk, dh, scale, Sj, lds, &fin_f32x4, 1);
				break;
			case 2:
				cross_scores_tile_neon(Qt + c, ldq, Kj, ldk, dh, scale, Sj, lds, &fin_f32x4, 2);
				break;
			case 3:
				cross_scores_tile_neon(Qt + c, ldq, Kj, ldk, dh, scale, Sj, lds, &fin_f32x4, 3);
				break;
			case 4:
				cross_scores_tile_neon(Qt + c, ldq, Kj, ldk, dh, scale, Sj, lds, &fin_f32x4, 4);
				break;
			case 5:
				cross_scores_tile_neon(Qt + c, ldq, Kj, ldk, dh, scale, Sj, lds, &fin_f32x4, 5);
				break;
			default:
				break;
		}
	}
	return vminvq_u32(vceqq_f32(fin_f32x4, vdupq_n_f32(0.0f))) != 0;
}

/*
 * The online-softmax step per column, 8 columns at a time: a max pass
 * down the tile, then exp(S - b) down the tile with a vertical sum.
 */
static void
cross_exp_f32_neon(float *S, size_t lds, size_t nk, size_t w, float *m,
				   float *l)
{
	float32x4_t neg_inf_f32x4 = vdupq_n_f32(-INFINITY);

	for (size_t c = 0; c + 8 <= w; c += 8)
	{
		float32x4_t m0_f32x4 = vld1q_f32(m + c),
					m1_f32x4 = vld1q_f32(m + c + 4);
		float32x4_t l0_f32x4 = vdupq_n_f32(0.0f),
					l1_f32x4 = vdupq_n_f32(0.0f);
		float32x4_t b0_f32x4, b1_f32x4;

		for (size_t j = 0; j < nk; j++)
		{
			m0_f32x4 = vmaxq_f32(m0_f32x4, vld1q_f32(S + j * lds + c));
			m1_f32x4 = vmaxq_f32(m1_f32x4, vld1q_f32(S + j * lds + c + 4));
		}
		vst1q_f32(m + c, m0_f32x4);
		vst1q_f32(m + c + 4, m1_f32x4);
		/* b = m, or 0 where m is -Infinity (a column with no key yet) */
		b0_f32x4 = vbslq_f32(vceqq_f32(m0_f32x4, neg_inf_f32x4), vdupq_n_f32(0.0f), m0_f32x4);
		b1_f32x4 = vbslq_f32(vceqq_f32(m1_f32x4, neg_inf_f32x4), vdupq_n_f32(0.0f), m1_f32x4);
		for (size_t j = 0; j < nk; j++)
		{
			float	   *s = S + j * lds + c;
			float32x4_t e0_f32x4 = exp_nonpos_f32x4_neon(vsubq_f32(vld1q_f32(s), b0_f32x4));
			float32x4_t e1_f32x4 = exp_nonpos_f32x4_neon(vsubq_f32(vld1q_f32(s + 4), b1_f32x4));

			vst1q_f32(s, e0_f32x4);
			vst1q_f32(s + 4, e1_f32x4);
			l0_f32x4 = vaddq_f32(l0_f32x4, e0_f32x4);
			l1_f32x4 = vaddq_f32(l1_f32x4, e1_f32x4);
		}
		vst1q_f32(l + c, l0_f32x4);
		vst1q_f32(l + c + 4, l1_f32x4);
	}
}

/*
 * One micro-tile of cross_pv: `rows` output rows (1..6) x `regs` (1..4)
 * registers of columns, the last one holding `last` (1..4) columns, in
 * registers over all nk keys.  Rows with alpha 0 start from 0 without
 * reading O.
 */
RV_NEON_INLINE void
cross_pv_tile_neon(const float *P, size_t ldp, const float *V, size_t ldv,
				   size_t nk, const float *alpha, float *O, size_t ldo,
				   const int rows, const int regs, size_t last)
{
	float32x4_t acc_f32x4[6][4];

	RV_UNROLL
	for (int r = 0; r < rows; r++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
		{
			const float *o = O + r * ldo + 4 * t;

			acc_f32x4[r][t] = alpha[r] == 0.0f ? vdupq_n_f32(0.0f)
				: vmulq_n_f32(t == regs - 1 && last < 4 ? load_partial_f32x4(o, last, 0.0f)
							  : vld1q_f32(o), alpha[r]);
		}
	for (size_t j = 0; j < nk; j++)
	{
		const float *v = V + j * ldv;
		const float *p = P + j * ldp;
		float32x4_t v_f32x4[4];

		RV_UNROLL
		for (int t = 0; t < regs; t++)
			v_f32x4[t] = t == regs - 1 && last < 4 ? load_partial_f32x4(v + 4 * t, last, 0.0f)
				: vld1q_f32(v + 4 * t);
		RV_UNROLL
		for (int r = 0; r < rows; r++)
		{
			float32x4_t p_f32x4 = vld1q_dup_f32(p + r);

			RV_UNROLL
			for (int t = 0; t < regs; t++)
				acc_f32x4[r][t] = vfmaq_f32(acc_f32x4[r][t], p_f32x4, v_f32x4[t]);
		}
	}
	RV_UNROLL
	for (int r = 0; r < rows; r++)
		RV_UNROLL
		for (int t = 0; t < regs; t++)
			store_partial_f32x4(O + r * ldo + 4 * t, acc_f32x4[r][t],
								t == regs - 1 ? last : 4);
}

/* cross_pv for `rows` rows (a constant): column blocks of 16, then the tail */
RV_NEON_INLINE void
cross_pv_rows_neon(const float *P, size_t ldp, const float *V, size_t ldv,
				   size_t nk, size_t dv, const float *alpha, float *O,
				   size_t ldo, const int rows)
{
	size_t		c = 0,
				rem;

	for (; c + 16 <= dv; c += 16)
		cross_pv_tile_neon(P, ldp, V + c, ldv, nk, alpha, O + c, ldo, rows, 4, 4);
	rem = dv - c;
	V += c;
	O += c;
	switch ((rem + 3) / 4)
	{
		case 1:
			cross_pv_tile_neon(P, ldp, V, ldv, nk, alpha, O, ldo, rows, 1, rem);
			break;
		case 2:
			cross_pv_tile_neon(P, ldp, V, ldv, nk, alpha, O, ldo, rows, 2, rem - 4);
			break;
		case 3:
			cross_pv_tile_neon(P, ldp, V, ldv, nk, alpha, O, ldo, rows, 3, rem - 8);
			break;
		case 4:
			cross_pv_tile_neon(P, ldp, V, ldv, nk, alpha, O, ldo, rows, 4, rem - 12);
			break;
		default:
			break;
	}
}

static void
cross_pv_f32_neon(const float *P, size_t ldp, const float *V, size_t ldv,
				  size_t nk, size_t rows, size_t dv, const float *alpha,
				  float *O, size_t ldo)
{
	size_t		r = 0;

	for (; r + 6 <= rows; r += 6)
		cross_pv_rows_neon(P + r, ldp, V, ldv, nk, dv, alpha + r, O + r * ldo, ldo, 6);
	P += r;
	alpha += r;
	O += r * ldo;
	switch (rows - r)
	{
		case 1:
			cross_pv_rows_neon(P, ldp, V, ldv, nk, dv, alpha, O, ldo, 1);
			break;
		case 2:
			cross_pv_rows_neon(P, ldp, V, ldv, nk, dv, alpha, O, ldo, 2);
			break;
		case 3:
			cross_pv_rows_neon(P, ldp, V, ldv, nk, dv, alpha, O, ldo, 3);
			break;
		case 4:
			cross_pv_rows_neon(P, ldp, V, ldv, nk, dv, alpha, O, ldo, 4);
			break;
		case 5:
			cross_pv_rows_neon(P, ldp, V, ldv, nk, dv, alpha, O, ldo, 5);
			break;
		default:
			break;
	}
}

/* ==== end of cross ==== */

/* ==== primitives of the driver sums ==== */

/*
 * a acc + x for 2 doubles of acc and 2 floats of x (vmulq then vaddq, as
 * the scalar table: the same bits; scaled: a != 1, else the product is
 * skipped, which is exact)
 */
RV_NEON_INLINE float64x2_t
scaled_sum_f64x2_neon(float64x2_t acc_f64x2, float64x2_t a_f64x2, float32x2_t x_f32x2,
					  const int scaled)
{
	if (scaled)
		acc_f64x2 = vmulq_f64(a_f64x2, acc_f64x2);
	return vaddq_f64(acc_f64x2, vcvt_f64_f32(x_f32x2));
}

/* accumulate_f64 for a != 1 (scaled) or a == 1: 4 doubles per step, a tail of 1..3 */
RV_NEON_INLINE void
accumulate_f64_body_neon(double *acc, double a, const float *x, size_t n, const int scaled)
{
	float64x2_t a_f64x2 = vdupq_n_f64(a);
	size_t		i = 0;

	for (; i + 4 <= n; i += 4)
	{
		float32x4_t x_f32x4 = vld1q_f32(x + i);

		vst1q_f64(acc + i, scaled_sum_f64x2_neon(vld1q_f64(acc + i), a_f64x2,
												 vget_low_f32(x_f32x4), scaled));
		vst1q_f64(acc + i + 2, scaled_sum_f64x2_neon(vld1q_f64(acc + i + 2), a_f64x2,
													 vget_high_f32(x_f32x4), scaled));
	}
	for (; i + 2 <= n; i += 2)
		vst1q_f64(acc + i, scaled_sum_f64x2_neon(vld1q_f64(acc + i), a_f64x2, vld1_f32(x + i),
												 scaled));
	if (i < n)
	{
		float32x2_t x_f32x2 = vld1_lane_f32(x + i, vdup_n_f32(0.0f), 0);
		float64x2_t s_f64x2 = scaled_sum_f64x2_neon(vld1q_lane_f64(acc + i, vdupq_n_f64(0.0), 0),
													a_f64x2, x_f32x2, scaled);

		vst1q_lane_f64(acc + i, s_f64x2, 0);
	}
}

static void
accumulate_f64_neon(double *acc, double a, const float *x, size_t n)
{
	if (a == 1.0)
		accumulate_f64_body_neon(acc, a, x, n, 0);
	else
		accumulate_f64_body_neon(acc, a, x, n, 1);
}

/* out = (float) ((a acc + x) mul), 2 per step, a tail of 1 */
static void
finish_f64_neon(const double *acc, double a, const float *x, double mul,
				size_t n, float *out)
{
	float64x2_t a_f64x2 = vdupq_n_f64(a),
				mul_f64x2 = vdupq_n_f64(mul);
	size_t		i = 0;

	for (; i + 2 <= n; i += 2)
	{
		float64x2_t s_f64x2 = scaled_sum_f64x2_neon(vld1q_f64(acc + i), a_f64x2, vld1_f32(x + i), 1);

		vst1_f32(out + i, vcvt_f32_f64(vmulq_f64(s_f64x2, mul_f64x2)));
	}
	if (i < n)
	{
		float32x2_t x_f32x2 = vld1_lane_f32(x + i, vdup_n_f32(0.0f), 0);
		float64x2_t s_f64x2 = scaled_sum_f64x2_neon(vld1q_lane_f64(acc + i, vdupq_n_f64(0.0), 0),
													a_f64x2, x_f32x2, 1);

		vst1_lane_f32(out + i, vcvt_f32_f64(vmulq_f64(s_f64x2, mul_f64x2)), 0);
	}
}

/*
 * weighted_sum_acc: weighted_sum's kernels in their blocked form (float
 * partials of at most RV_VALUE_BLOCK rows added into acc), which keeps the
 * same long streams over V: a tile of registers over all rows when dv
 * fits in it, else part as the float partial of the wide kernel.
 */
static void
weighted_sum_acc_f32_neon(const float *w, const float *V, size_t n, size_t dv,
						 size_t ldv, float *part, double *acc)
{
	if (dv <= 32)
		weighted_pass_f32_neon(w, V, n, dv, ldv, 0.0f, part, acc);
	else
		weighted_wide_f32_neon(w, V, n, dv, ldv, 0.0f, part, acc);
}

/* ==== end of driver sums ==== */

const rv_kernels rv_kernels_neon = {
	.backend = RV_BACKEND_NEON,
	.scores = scores_f32_neon,
	.weighted_sum = weighted_sum_f32_neon,
	.head_scores = head_scores_f32_neon,
	.head_weighted_sum = head_weighted_sum_f32_neon,
	.head_weighted_sum_acc = head_weighted_sum_acc_f32_neon,
	.scale = scale_f32_neon,
	.all_finite = all_finite_f32_neon,
	.exp = exp_f32_neon,
	.max_checked = max_checked_f32_neon,
	.exp_sum_to = exp_sum_to_f32_neon,
	/* linear, gat, sparse, moe */
	.phi = phi_f32_neon,
	.leaky_relu = leaky_relu_f32_neon,

	/* hyperbolic */
	.sqnorm_rows = sqnorm_rows_f64_neon,
	.sqnorm_rows_f32 = sqnorm_rows_f32_neon,
	.sqdist_rows = sqdist_rows_f32_neon,
	.ball_gaps = ball_gaps_f32_neon,
	.ball_gaps_f64 = ball_gaps_f64_neon,
	.poincare_logits = poincare_logits_f32_neon,
	.poincare_log0 = poincare_log0_f32_neon,
	.mul = mul_f32_neon,
	.lorentz_chord = lorentz_chord_f32_neon,
	.lorentz_chord_f64 = lorentz_chord_f64_neon,
	.lorentz_logits = lorentz_logits_f32_neon,
	.lorentz_time = lorentz_time_f32_neon,
	.weighted_sum_sqnorm = weighted_sum_sqnorm_f32_neon,
	.weighted_sum_f64 = weighted_sum_f64_neon,
	.log1p = log1p_f32_neon,

	/* cross, sliding */
	.cross_scores = cross_scores_f32_neon,
	.cross_exp = cross_exp_f32_neon,
	.cross_pv = cross_pv_f32_neon,

	/* driver sums */
	.accumulate_f64 = accumulate_f64_neon,
	.finish_f64 = finish_f64_neon,
	.weighted_sum_acc = weighted_sum_acc_f32_neon,
};

#endif							/* __aarch64__ */
