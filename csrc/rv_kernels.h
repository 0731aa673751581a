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

	/*
	 * The feature map of linear attention, phi(x) = elu(x) + 1:
	 * out[i] = x[i] + 1 for x[i] >= 0, else exp(x[i]) (the exp algorithm
	 * below; 0 below RV_EXP_LO).  A non-finite x[i] gives a non-finite
	 * out[i] (NaN, or +Infinity for +Infinity), also for -Infinity whose
	 * exp would be a finite 0, so that a bad input shows up in the
	 * logits.  out may equal x.  Tables may skip the exp of registers
	 * whose lanes are all >= 0 (phi(0) = 1 either way).
	 */
	void		(*phi) (const float *x, size_t n, float *out);

	/*
	 * GAT logits: out[i] = y > 0 ? y : slope * y with y = x[i] + bias (the
	 * float sum), returning max_i out[i] (-INFINITY for n == 0; unspecified
	 * when *bad), and *bad = 1 when some out[i] is NaN or +/-Infinity, else
	 * 0 (the finiteness check of the logits in the same pass).  out may
	 * equal x.
	 */
	float		(*leaky_relu) (const float *x, size_t n, float bias, float slope,
							   float *out, int *bad);

	/* ---- primitives of hyperbolic.c ---- */

	/* ---- primitives of cross.c (cross, sliding) ---- */
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
