/*
 * rv_kernels.h: the per-ISA primitive table (internal to the core).
 *
 * Each ISA file (kernels_scalar.c, kernels_avx2.c, kernels_avx512.c,
 * kernels_neon.c) fills one rv_kernels table with the same primitives; the
 * attention drivers (attention.c, softmax.c) are written once against this
 * table.  Adding an ISA means one new file and one line in dispatch.c.
 *
 * Contract shared by every primitive:
 *  - lengths may be 0 and any value (tails are handled inside);
 *  - pointers need no particular alignment;
 *  - no allocation, no libm call per element, no error: they compute;
 *  - results may differ from the scalar table only by float rounding
 *    (the accuracy bar is 1e-5 relative against a float64 reference).
 */
#ifndef RV_KERNELS_H
#define RV_KERNELS_H

#include <stddef.h>
#include "ruvector.h"

typedef struct rv_kernels
{
	rv_backend	backend;

	/*
	 * Logits of one query against n rows: s[i] = scale * dot(q, K_i, d)
	 * where row i starts at K + i * ldk (ldk >= d lets a head be a column
	 * slice of a wider matrix).  Returns max_i s[i] (-INFINITY for n == 0;
	 * NaN propagation is not required, callers check s with all_finite).
	 */
	float		(*scores) (const float *q, const float *K, size_t n, size_t d,
						   size_t ldk, float scale, float *s);

	/*
	 * Weighted sum of rows: out[j] = beta * out[j] + sum_i w[i] * V_i[j] for
	 * j < dv, V_i starting at V + i * ldv.  beta == 0 overwrites out without
	 * reading it (out may hold garbage).
	 */
	void		(*weighted_sum) (const float *w, const float *V, size_t n,
								 size_t dv, size_t ldv, float beta,
								 float *out);

	/*
	 * Optional fused multi-head primitives (NULL: drivers call
	 * rv_head_scores / rv_head_weighted_sum below, which then go one head
	 * after the other through scores / weighted_sum).
	 *
	 * scores for a group of heads at once: for h < heads,
	 *   m[h] = scores(q + h*dh, K + h*dh, n, dh, ldk, scale, S + h*lds)
	 * bit for bit (same arithmetic per head whatever the group, so drivers
	 * may group heads freely), reading each row's heads*dh floats together
	 * so that K streams sequentially.  ldk >= heads * dh.
	 */
	void		(*head_scores) (const float *q, const float *K, size_t n,
								size_t dh, size_t heads, size_t ldk,
								float scale, float *S, size_t lds, float *m);

	/*
	 * weighted_sum for a group of heads: for h < heads,
	 *   weighted_sum(W + h*ldw, V + h*dvh, n, dvh, ldv, beta, out + h*dvh)
	 * bit for bit, reading each row's heads*dvh floats together.
	 * ldv >= heads * dvh.
	 */
	void		(*head_weighted_sum) (const float *W, size_t ldw,
									  const float *V, size_t n, size_t dvh,
									  size_t heads, size_t ldv, float beta,
									  float *out);

	/* x[i] *= a */
	void		(*scale) (float *x, size_t n, float a);

	/* 1 when every x[i] is finite (no NaN, no +/-Infinity), else 0 */
	int			(*all_finite) (const float *x, size_t n);

	/* out[i] = exp(x[i]) over the whole float range; out may equal x */
	void		(*exp) (const float *x, size_t n, float *out);

	/*
	 * max_i x[i] (-INFINITY for n == 0) in the same pass as a check:
	 * *bad = 1 when some x[i] is NaN or +Infinity (the returned max is then
	 * unspecified), else 0.  -Infinity is allowed.
	 */
	float		(*max_checked) (const float *x, size_t n, int *bad);

	/*
	 * The exponentials of a softmax: out[i] = exp(x[i] - m), returning the
	 * float sum of the out[i].  m is finite and m >= every x[i], which has
	 * no NaN (so no exp overflows and no NaN fix-up is needed); -Infinity
	 * gives 0.  Same accuracy as exp; out may equal x (in place).  Callers
	 * keep n <= RV_CANCEL_BLOCK so that a float sum is accurate and add
	 * block sums in double (rv_exp_sum_blocked).
	 */
	float		(*exp_sum_to) (const float *x, size_t n, float m, float *out);

	/* ---- primitives of linear.c, gat.c, sparse.c, moe.c ---- */

	/* ---- primitives of hyperbolic.c ---- */

	/* ---- primitives of cross.c (cross, sliding) ---- */

/* The column counts w of cross_scores and cross_exp are multiples of this. */
#define RV_CROSS_PAD 16
/* Terms per block of the dot products of cross_scores. */
#define RV_CROSS_DOT_BLOCK 64

	/*
	 * The three steps of one FlashAttention-2 tile, on a block of queries
	 * held transposed (column c = query row c), so that every step is a
	 * broadcast-FMA micro-kernel or a vertical (per-column) vector op.
	 * Column counts w are multiples of RV_CROSS_PAD (the driver pads
	 * its query block); everything else takes any length.
	 *
	 * cross_scores: the logit tile, transposed:
	 *   S[j*lds + c] = scale * sum_{k<dh} K[j*ldk + k] * Qt[k*ldq + c]
	 * for j < nk keys, c < w; ldq, lds >= w.  dh may be 0 (S = 0).  The
	 * sum runs in blocks of RV_CROSS_DOT_BLOCK terms (one float
	 * accumulator each, scaled and added to S in order), which keeps long
	 * dot products accurate.  Returns 1 when every S entry written is
	 * finite, else 0 (NaN/Infinity in Qt or K, or an overflow), which
	 * spares callers a pass of all_finite over the tile.
	 */
	int			(*cross_scores) (const float *Qt, size_t ldq, const float *K,
								 size_t ldk, size_t nk, size_t dh, size_t w,
								 float scale, float *S, size_t lds);

	/*
	 * cross_exp: the online-softmax step of a tile, per column c < w:
	 *   mx = max(m[c], max_{j<nk} S[j*lds + c]); m[c] = mx;
	 *   b = mx == -Infinity ? 0 : mx;
	 *   S[j*lds + c] = exp(S[j*lds + c] - b); l[c] = sum_j S[j*lds + c]
	 * (l overwritten; a float sum in j order per column).  S holds no NaN
	 * and no +Infinity (cross_scores reported the tile finite); -Infinity
	 * marks a masked entry and gives 0.  Same exp algorithm and accuracy as
	 * exp_sum_to.
	 */
	void		(*cross_exp) (float *S, size_t lds, size_t nk, size_t w,
							  float *m, float *l);

	/*
	 * cross_pv: O += P V for a tile, with the per-row rescale folded in:
	 *   O[r*ldo + c] = alpha[r] * O[r*ldo + c]
	 *                  + sum_{j<nk} P[j*ldp + r] * V[j*ldv + c]
	 * for r < rows, c < dv (any rows, any dv; ldp >= rows).  alpha[r] == 0
	 * overwrites row r without reading it (it may hold garbage).
	 */
	void		(*cross_pv) (const float *P, size_t ldp, const float *V,
							 size_t ldv, size_t nk, size_t rows, size_t dv,
							 const float *alpha, float *O, size_t ldo);
} rv_kernels;

/*
 * The tables.  A table for an ISA the compiler cannot target is NULL-free
 * but never selected: rv_isa_compiled() says which exist in this build.
 */
extern const rv_kernels rv_kernels_scalar;
#if defined(__x86_64__) || defined(_M_X64)
#define RV_HAVE_X86 1
extern const rv_kernels rv_kernels_avx2;
extern const rv_kernels rv_kernels_avx512;
#endif
#if defined(__aarch64__)
#define RV_HAVE_NEON 1
extern const rv_kernels rv_kernels_neon;
#endif

/* The active table; never NULL. */
const rv_kernels *rv_active_kernels(void);

/* head_scores of a table, or its definition when the table has none */
static inline void
rv_head_scores(const rv_kernels *k, const float *q, const float *K, size_t n,
			   size_t dh, size_t heads, size_t ldk, float scale, float *S,
			   size_t lds, float *m)
{
	if (k->head_scores)
		k->head_scores(q, K, n, dh, heads, ldk, scale, S, lds, m);
	else
		for (size_t h = 0; h < heads; h++)
			m[h] = k->scores(q + h * dh, K + h * dh, n, dh, ldk, scale, S + h * lds);
}

/* head_weighted_sum of a table, or its definition when the table has none */
static inline void
rv_head_weighted_sum(const rv_kernels *k, const float *W, size_t ldw,
					 const float *V, size_t n, size_t dvh, size_t heads,
					 size_t ldv, float beta, float *out)
{
	if (k->head_weighted_sum)
		k->head_weighted_sum(W, ldw, V, n, dvh, heads, ldv, beta, out);
	else
		for (size_t h = 0; h < heads; h++)
			k->weighted_sum(W + h * ldw, V + h * dvh, n, dvh, ldv, beta, out + h * dvh);
}

/* ------------------------------------------------------------------------
 * The exp algorithm every table uses (so that ISAs agree closely):
 *   x > RV_EXP_HI gives +Infinity, x < RV_EXP_LO gives 0 (so does
 *   -Infinity), NaN stays NaN; otherwise
 *   k = round(x * log2(e)); r = x - k*LN2_HI - k*LN2_LO (Cody-Waite);
 *   p = 1 + r + r^2 * (P0 + r*(P1 + r*(P2 + r*(P3 + r*(P4 + r*P5)))))
 *   result = (p * 2^(k>>1)) * 2^(k - (k>>1)), two exact power-of-two
 *   factors built in the exponent bits, so that k = 128 and subnormal
 *   results (k down to -150) need no special case.
 * Coefficients: Cephes expf (max error about 1 ulp on [-ln2/2, ln2/2]).
 * ---------------------------------------------------------------------- */
#define RV_EXP_HI 88.72283935546875f	/* first float above ln(FLT_MAX) */
#define RV_EXP_LO (-104.0f)			/* exp(x) < 2^-150 rounds to 0 */
#define RV_LOG2E 1.44269504088896341f
#define RV_ROUND_MAGIC 12582912.0f		/* 1.5 * 2^23 */
#define RV_LN2_HI 0.693359375f
#define RV_LN2_LO (-2.12194440e-4f)
#define RV_EXP_P0 5.0000001201E-1f
#define RV_EXP_P1 1.6666665459E-1f
#define RV_EXP_P2 4.1665795894E-2f
#define RV_EXP_P3 8.3334519073E-3f
#define RV_EXP_P4 1.3981999507E-3f
#define RV_EXP_P5 1.9875691500E-4f

/* Scalar version of the algorithm above; used by drivers and the scalar table. */
float		rv_expf_serial(float x);

#endif							/* RV_KERNELS_H */
