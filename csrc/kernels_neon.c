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
 * s[i] = scale * dot(q, K_i): a gemv streaming K once, 8 rows at a time
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
 * duplicate lanes do not change the max); only the real lanes are stored.
 */
static float
scores_f32_neon(const float *q, const float *K, size_t n, size_t d,
				size_t ldk, float scale, float *s)
{
	float32x4_t max_f32x4 = vdupq_n_f32(-INFINITY);
	float32x4_t sum_f32x4[2];
	const float *k[8];
	size_t		blocks = n / 8;
	size_t		i = blocks * 8;
	size_t		skew[8];

	for (size_t r = 0; r < 8 && blocks > 0; r++)
		skew[r] = r % blocks;
	for (size_t b = 0; b < blocks; b++)
	{
		float32x4_t lo_f32x4,
					hi_f32x4;
		float		s8[8];
		size_t		row[8];

		RV_UNROLL
		for (int r = 0; r < 8; r++)
		{
			size_t		in_slot = b + skew[r];

			row[r] = r * blocks + (in_slot < blocks ? in_slot : in_slot - blocks);
			k[r] = K + row[r] * ldk;
		}
		dot_rows_f32_neon(q, k, d, 8, sum_f32x4);
		lo_f32x4 = vmulq_n_f32(sum_f32x4[0], scale);
		hi_f32x4 = vmulq_n_f32(sum_f32x4[1], scale);
		vst1q_f32(s8, lo_f32x4);
		vst1q_f32(s8 + 4, hi_f32x4);
		RV_UNROLL
		for (int r = 0; r < 8; r++)
			s[row[r]] = s8[r];
		max_f32x4 = vmaxq_f32(max_f32x4, vmaxq_f32(lo_f32x4, hi_f32x4));
	}
	if (i < n)
	{
		size_t		rows = n - i;
		float32x4_t lo_f32x4;

		for (size_t r = 0; r < 8; r++)
			k[r] = K + (i + (r < rows ? r : rows - 1)) * ldk;
		if (rows > 4)
		{
			float32x4_t hi_f32x4;

			dot_rows_f32_neon(q, k, d, 8, sum_f32x4);
			lo_f32x4 = vmulq_n_f32(sum_f32x4[0], scale);
			hi_f32x4 = vmulq_n_f32(sum_f32x4[1], scale);
			vst1q_f32(s + i, lo_f32x4);
			store_partial_f32x4(s + i + 4, hi_f32x4, rows - 4);
			max_f32x4 = vmaxq_f32(max_f32x4, hi_f32x4);
		}
		else
		{
			dot_rows_f32_neon(q, k, d, 4, sum_f32x4);
			lo_f32x4 = vmulq_n_f32(sum_f32x4[0], scale);
			store_partial_f32x4(s + i, lo_f32x4, rows);
		}
		max_f32x4 = vmaxq_f32(max_f32x4, lo_f32x4);
	}
	return vmaxvq_f32(max_f32x4);
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
 */
RV_NEON_INLINE void
weighted_tile_f32_neon(const float *w, const float *V, size_t n, size_t ldv,
					   float beta, float *out, const int regs,
					   const int masked, size_t tail)
{
	const int	rows = regs >= 7 ? 1 : regs >= 5 ? 2 : regs >= 3 ? 4 : 8;
	float32x4_t acc_f32x4[8][8];
	size_t		per_set = n / rows;
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

	for (size_t b = 0; b < per_set; b++)
	{
		RV_UNROLL
		for (int u = 0; u < rows; u++)
		{
			size_t		in_set = b + skew[u];
			size_t		row = u * per_set + (in_set < per_set ? in_set : in_set - per_set);
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
 */
static void
weighted_pass_f32_neon(const float *w, const float *V, size_t n, size_t dv,
					  size_t ldv, float beta, float *out)
{
	size_t		j = 0;
	size_t		rem;

	for (; j + 32 <= dv; j += 32)
		weighted_tile_f32_neon(w, V + j, n, ldv, beta, out + j, 8, 0, 0);
	rem = dv - j;
	if (rem == 0)
		return;
	V += j;
	out += j;
	if (rem % 4 == 0)
	{
		switch (rem / 4)
		{
			case 1:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 1, 0, 0);
				break;
			case 2:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 2, 0, 0);
				break;
			case 3:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 3, 0, 0);
				break;
			case 4:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 4, 0, 0);
				break;
			case 5:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 5, 0, 0);
				break;
			case 6:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 6, 0, 0);
				break;
			default:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 7, 0, 0);
				break;
		}
	}
	else
	{
		size_t		tail = rem % 4;

		switch (rem / 4 + 1)
		{
			case 1:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 1, 1, tail);
				break;
			case 2:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 2, 1, tail);
				break;
			case 3:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 3, 1, tail);
				break;
			case 4:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 4, 1, tail);
				break;
			case 5:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 5, 1, tail);
				break;
			case 6:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 6, 1, tail);
				break;
			case 7:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 7, 1, tail);
				break;
			default:
				weighted_tile_f32_neon(w, V, n, ldv, beta, out, 8, 1, tail);
				break;
		}
	}
}

/*
 * out[j] += sum_r w[r] v_r[j] for `rows` rows (a constant 1 or 4 after
 * inlining) and j < full + rem (rem < 4): each chunk of out is loaded and
 * stored once per step, rows added in order.
 */
RV_NEON_INLINE void
add_rows_f32_neon(const float *const *v, const float *w, const int rows,
				  size_t full, size_t rem, float *out)
{
	size_t		j = 0;

	for (; j < full; j += 4)
	{
		float32x4_t acc_f32x4 = vld1q_f32(out + j);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			acc_f32x4 = vfmaq_n_f32(acc_f32x4, vld1q_f32(v[r] + j), w[r]);
		vst1q_f32(out + j, acc_f32x4);
	}
	if (rem)
	{
		float32x4_t acc_f32x4 = load_partial_f32x4(out + j, rem, 0.0f);

		RV_UNROLL
		for (int r = 0; r < rows; r++)
			acc_f32x4 = vfmaq_n_f32(acc_f32x4, load_partial_f32x4(v[r] + j, rem, 0.0f), w[r]);
		store_partial_f32x4(out + j, acc_f32x4, rem);
	}
}

/*
 * weighted_sum for rows wider than one tile (dv > 32), as
 * weighted_wide_f32_avx512: out stays in L1, each step adds 4 whole rows
 * taken from 4 contiguous stretches of V, so that V is read as 4 long
 * sequential streams (column tiles over a block of rows read it in short
 * strided pieces, which the hardware prefetchers do not follow).
 */
static void
weighted_wide_f32_neon(const float *w, const float *V, size_t n, size_t dv,
					   size_t ldv, float beta, float *out)
{
	size_t		rem = dv % 4;
	size_t		full = dv - rem;
	size_t		per_slot = n / 4;
	size_t		skew[4];
	const float *v[4];
	float		w4[4];

	if (beta != 1.0f)
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
	for (size_t b = 0; b < per_slot; b++)
	{
		RV_UNROLL
		for (int u = 0; u < 4; u++)
		{
			size_t		in_slot = b + skew[u];
			size_t		row = u * per_slot + (in_slot < per_slot ? in_slot : in_slot - per_slot);

			v[u] = V + row * ldv;
			w4[u] = w[row];
		}
		add_rows_f32_neon(v, w4, 4, full, rem, out);
	}
	for (size_t i = per_slot * 4; i < n; i++)
	{
		v[0] = V + i * ldv;
		add_rows_f32_neon(v, w + i, 1, full, rem, out);
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
		weighted_pass_f32_neon(w, V, n, dv, ldv, beta, out);
	else
		weighted_wide_f32_neon(w, V, n, dv, ldv, beta, out);
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

/* ==== end of linear, gat, sparse, moe ==== */

/* ==== primitives of hyperbolic.c ==== */

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

const rv_kernels rv_kernels_neon = {
	.backend = RV_BACKEND_NEON,
	.scores = scores_f32_neon,
	.weighted_sum = weighted_sum_f32_neon,
	.scale = scale_f32_neon,
	.all_finite = all_finite_f32_neon,
	.exp = exp_f32_neon,
	.max_checked = max_checked_f32_neon,
	.exp_sum_to = exp_sum_to_f32_neon,
	/* linear, gat, sparse, moe */

	/* hyperbolic */

	/* cross, sliding */
	.cross_scores = cross_scores_f32_neon,
	.cross_exp = cross_exp_f32_neon,
	.cross_pv = cross_pv_f32_neon,
};

#endif							/* __aarch64__ */
