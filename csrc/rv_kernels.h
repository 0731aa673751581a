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

	/*
	 * head_weighted_sum into double accumulators (optional: NULL makes
	 * rv_vsum go one head after the other through weighted_sum_acc,
	 * which gives the same bits): for h < heads,
	 *   weighted_sum_acc(W + h*ldw, V + h*dvh, n, dvh, ldv, part + h*dvh,
	 *                    acc + h*dvh)
	 * bit for bit, reading each row's heads*dvh floats together.
	 */
	void		(*head_weighted_sum_acc) (const float *W, size_t ldw,
										  const float *V, size_t n,
										  size_t dvh, size_t heads,
										  size_t ldv, float *part,
										  double *acc);

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
	 * keep n <= RV_SUM_BLOCK and add block sums in double
	 * (rv_exp_sum_blocked): a lane that adds many terms far below its
	 * running sum loses them (one term of 1 and 4095 of e^-17 in one float
	 * sum lose 1.7e-4 of it), so the float part of a sum stays short.
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

	/*
	 * Squared norms in double: out[i] = sum_j X_i[j]^2 for n rows (row i
	 * at X + i * ldx, d columns).  Every table follows RV_SQNORM (below)
	 * exactly, so the results are bit-identical across tables: the
	 * Poincare ball test 1 - c |x|^2 > 0 (rv_ball_check) then decides the
	 * same everywhere.
	 */
	void		(*sqnorm_rows) (const float *X, size_t n, size_t d, size_t ldx,
								double *out);

	/*
	 * Squared norms in float: out[i] = |X_i|^2 by RV_SQNORM_F32 (below),
	 * within RV_GAMMA(RV_SQNORM_F32_DEPTH) |X_i|^2 of the exact value in
	 * every table (the bits may differ between tables).
	 */
	void		(*sqnorm_rows_f32) (const float *X, size_t n, size_t d,
									size_t ldx, float *out);

	/*
	 * Squared distances of one point to n rows, reading each row once:
	 * d2[i] = |q - K_i|^2 summed in float lanes (every term is >= 0, so
	 * the float sum keeps its relative accuracy); when kk != NULL also
	 * kk[i] = |K_i|^2, bit for bit sqnorm_rows_f32; when pk != NULL also
	 * pk[i] = |q|^2 - |K_i|^2 summed as (q_j - k_j)(q_j + k_j) (float
	 * difference and sum) in RV_SQNORM_F32's order, within
	 * RV_GAMMA(RV_PK_F32_DEPTH) sum_j |q_j - k_j| |q_j + k_j|; when
	 * kd != NULL also kd[i] = |K_i|^2 in double, bit for bit sqnorm_rows
	 * (for keys near the boundary, whose float norms are not trusted).
	 * No output depends on which others are asked for.
	 */
	void		(*sqdist_rows) (const float *q, const float *K, size_t n,
								size_t d, size_t ldk, float *d2, float *kk,
								float *pk, double *kd);

	/*
	 * Poincare ball gaps from float norms x[i] = |x_i|^2: a[i] = 1 - c x[i]
	 * (the product exact in double, the difference rounded once to float)
	 * where x[i] <= xmax, else NaN (x[i] > xmax, or NaN); returns how many
	 * are NaN.  hyperbolic.c picks xmax so that the float norm's error
	 * cannot matter (and the point is surely inside); it recomputes the
	 * NaN rows from double norms.  a may equal x.
	 */
	size_t		(*ball_gaps) (const float *x, size_t n, float c, float xmax,
							  float *a);

	/*
	 * Poincare ball gaps from double norms kd[i] (RV_SQNORM): a[i] =
	 * 1 - c kd[i] (product, then difference, in double, never fused: the
	 * test of rv_ball_check) rounded to float where that is > 0, else NaN;
	 * when xf != NULL also xf[i] = kd[i] rounded to float.
	 */
	void		(*ball_gaps_f64) (const double *kd, size_t n, float c, float *a,
								  float *xf);

	/*
	 * Poincare logits -d_c(q, k_i) from d2[i] = |q - k_i|^2, the gaps
	 * a[i] = 1 - c |k_i|^2 and aq = 1 - c |q|^2 > 0:
	 *   X = c d2[i] / (aq a[i]),  s[i] = 0 - RV_DIST(X) / sqrt(c)
	 * (so +0 at d2 = 0), NaN where a[i] is not > 0.  Returns max_i s[i]
	 * (-INFINITY for n == 0; NaN propagation not required).  s may equal
	 * d2.
	 */
	float		(*poincare_logits) (const float *d2, const float *a, size_t n,
									float aq, float c, float *s);

	/*
	 * Factors of the Poincare log map at 0 from vv[i] = |v_i|^2 and the
	 * gaps a[i] = 1 - c |v_i|^2: with r = sqrt(c vv[i]),
	 * f[i] = log1p(2 r (1 + r) / a[i]) / (2 r) = artanh(r) / r (1 at r = 0),
	 * so that log0_c(v_i) = f[i] v_i; NaN where a[i] is not > 0.  Near
	 * the boundary the accuracy comes from a (taken as given, not from
	 * vv), while a relative error of vv moves f by about as much.  f may
	 * equal vv or a.
	 */
	void		(*poincare_log0) (const float *vv, const float *a, size_t n,
								  float c, float *f);

	/* out[i] = x[i] * y[i]; out may equal x or y */
	void		(*mul) (const float *x, const float *y, size_t n, float *out);

	/*
	 * The Lorentz q0 - k_i0 from pk[i] = |q|^2 - |k_i|^2 (sqdist_rows) and
	 * qq = |q|^2 (double): in float, q0 = sqrt(1/c + qq) and
	 * q0^2 = 1/c + qq rounded from double, k0 = sqrt(q0^2 - pk[i]) and
	 * t = pk[i] / (q0 + k0).  t[i] = t where RV_CHORD's bound (below) on
	 * the error of t^2 is at most RV_HYP_TOL (d2[i] - t^2), else NaN (also
	 * for NaN inputs, and where k0 is not finite); returns how many are
	 * NaN.  hyperbolic.c recomputes the NaN rows from double norms.  t may
	 * equal pk.
	 */
	size_t		(*lorentz_chord) (const float *d2, const float *pk, size_t n,
								  double qq, float c, float *t);

	/*
	 * The Lorentz q0 - k_i0 from double norms kd[i] = |k_i|^2 (rows whose
	 * pk is not trusted): t[i] = (qq - kd[i]) / (q0 + sqrt(1/c + kd[i]))
	 * with q0 = sqrt(1/c + qq), in double (IEEE operations in this order,
	 * no FMA: the same bits as the scalar formula), rounded to float.
	 */
	void		(*lorentz_chord_f64) (const double *kd, size_t n, double qq,
									  float c, float *t);

	/*
	 * Lorentz logits -(1/sqrt c) arcosh(-c <q, k_i>_L) from d2[i] =
	 * |q - k_i|^2 and t[i] = q0 - k_i0: the Minkowski chord
	 * y = d2[i] - t[i]^2 (clamped at 0), s[i] = 0 - RV_DIST(c y / 4) /
	 * sqrt(c).  y cancels where q - k_i is nearly lightlike (far out,
	 * radial): rows where d2[i] > RV_LORENTZ_ILL * y get s[i] = +Infinity
	 * (which no logit can be) and the caller recomputes them in double.
	 * NaN t gives NaN.  Returns max_i s[i] (+Infinity when a row needs
	 * that).  s may equal d2 or t.
	 */
	float		(*lorentz_logits) (const float *d2, const float *t, size_t n,
								   float c, float *s);

	/*
	 * Lorentz time coordinates, weighted: sum_i w[i] sqrt(1/c + vv[i]),
	 * the root in float (1/c rounded to float), the products (exact) and
	 * their sum in double lanes; the order of additions depends on n only.
	 */
	double		(*lorentz_time) (const float *w, const float *vv, size_t n,
								 float c);

	/*
	 * A weighted sum and, in the same pass, the float norms of the rows
	 * it sums: out[j] += sum_{i < n} w[i] V_i[j] for j < dv (V_i at
	 * V + i * ldv; the order of additions depends on n and dv only), and
	 * when vv != NULL vv[i] = |V_i|^2, bit for bit sqnorm_rows_f32 (the
	 * Lorentz values need the norms of the rows they sum).
	 */
	void		(*weighted_sum_sqnorm) (const float *w, const float *V, size_t n,
										size_t dv, size_t ldv, float *out,
										float *vv);

	/*
	 * weighted_sum accumulated in double: out[j] += sum_i w[i] V_i[j] for
	 * j < dv (out: dv doubles, V_i at V + i * ldv), the products exact.
	 * The order of additions depends on n only.
	 */
	void		(*weighted_sum_f64) (const float *w, const float *V, size_t n,
									 size_t dv, size_t ldv, double *out);

	/* out[i] = log1p(x[i]) by the RV_LOG1P algorithm below; out may equal x */
	void		(*log1p) (const float *x, size_t n, float *out);

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

	/* ---- primitives of the driver sums (softmax.c, flash.c, cross.c) ---- */

	/*
	 * A float partial sum added into its double accumulator, which
	 * carries a pending rescale a: acc[i] = a * acc[i] + x[i] for i < n,
	 * x[i] converted to double (exactly), the product and the sum each
	 * rounded to double and never fused, so that every table gives the
	 * same bits.  a == 0 does not clear acc (a NaN or +/-Infinity there
	 * stays non-finite), and a == 1 is exact.
	 */
	void		(*accumulate_f64) (double *acc, double a, const float *x,
								   size_t n);

	/*
	 * The end of a sum held as a acc + x (accumulate_f64's operands):
	 * out[i] = (float) ((a * acc[i] + x[i]) * mul) for i < n, each step
	 * rounded to double as in accumulate_f64 (a == 1 exact, never fused),
	 * then one rounding to float, so that every table gives the same
	 * bits.  out may equal x.
	 */
	void		(*finish_f64) (const double *acc, double a, const float *x,
							   double mul, size_t n, float *out);

	/*
	 * weighted_sum into a double accumulator: acc[j] += sum_i w[i] V_i[j]
	 * for j < dv (V_i at V + i * ldv), the sum formed as float partial
	 * sums over at most RV_VALUE_BLOCK rows each, every partial added into
	 * acc in double.  Which rows make up a partial depends on n and dv
	 * only (not necessarily consecutive rows: a table keeps the long
	 * sequential streams over V of its weighted_sum, which from DRAM run
	 * far faster than a weighted_sum call per block of rows).  part: dv
	 * floats of scratch, garbage on entry and on return.
	 */
	void		(*weighted_sum_acc) (const float *w, const float *V, size_t n,
									 size_t dv, size_t ldv, float *part,
									 double *acc);
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

/*
 * Most terms a float partial sum of the drivers adds before it is added
 * into a double.  A term far below a float running sum is rounded away
 * (one term of 1 and 4095 of e^-17 lose 1.7e-4 of their sum), and each
 * addition is off by up to half an ulp of the running sum: 2^-24 of it.
 *
 * RV_SUM_BLOCK: the exp sums of a softmax (exp_sum_to calls in
 * rv_exp_sum_blocked); over 256 terms the loss stays near 1e-6 even when
 * one term dominates, because exp_sum_to's lanes split a block further
 * (the scalar table's one exp partial is a double).
 *
 * RV_VALUE_BLOCK: the weighted sums of value rows (weighted_sum_acc,
 * rv_vsum, cross's O), where every output column is one float chain over
 * the rows of a partial (the lanes are columns): with one dominant weight
 * and the others near half an ulp of the running sum, 128 rows keep the
 * error within 128 2^-24 = 7.6e-6 of the result, 256 would not (1.5e-5).
 */
#define RV_SUM_BLOCK 256
#define RV_VALUE_BLOCK 128

/* Scalar version of the algorithm above; used by drivers and the scalar table. */
float		rv_expf_serial(float x);

/*
 * The streaming order of the SIMD kernels' row loops (scores and
 * weighted_sum, in every ISA file): the rows are cut into `slots`
 * contiguous stretches of `per` rows, slot u (its own sequential stream,
 * which the hardware prefetchers follow) starting skew = u % per rows in
 * and wrapping around, so that the rows read together do not fall in the
 * same cache sets when per rows are a multiple of 4 KiB.  The row of slot
 * u at step b (b < per):
 */
static inline size_t
rv_stream_row(size_t u, size_t per, size_t b, size_t skew)
{
	size_t		in_slot = b + skew;

	return u * per + (in_slot < per ? in_slot : in_slot - per);
}

/* ------------------------------------------------------------------------
 * hyperbolic.c: the algorithms its primitives share (every table follows
 * them, so that ISAs agree closely).
 *
 * RV_SQNORM, |x|^2 in double: x[j]^2 is exact in double (24-bit
 *   mantissas), so FMA or not makes no difference; lane l = j % 8 sums
 *   its squares in column order starting from +0 (columns past d add
 *   exact zeros), and the lanes are combined as
 *   ((l0 + l4) + (l2 + l6)) + ((l1 + l5) + (l3 + l7)).
 *
 * RV_SQNORM_F32, |x|^2 in float with a proven error bound: the columns go
 *   in blocks of RV_SQNORM_F32_BLOCK; inside a block each of the table's
 *   L <= 16 float lanes sums the squares of its columns in column order
 *   from +0 (products fused or rounded), and the lanes are added by a
 *   tree of at most 4 levels; the block sums are added in double, in
 *   order from +0, and the total is rounded to float.  A term x_j^2 goes
 *   through at most 1 (product) + 16 (its lane) + 4 (tree) float
 *   roundings, the double sum adds at most nblocks 2^-53 <= 2^-25
 *   (d < 2^35) and the last rounding 2^-25 relative, so the result is
 *   within RV_GAMMA(21 + 2) |x|^2 of the exact value, whatever d
 *   (RV_SQNORM_F32_DEPTH).  The same order with the terms
 *   (q_j - k_j)(q_j + k_j) gives sqdist_rows' pk, two more roundings per
 *   term (the difference and the sum): within RV_GAMMA(RV_PK_F32_DEPTH)
 *   sum_j |q_j - k_j| |q_j + k_j|.
 *
 * RV_LOG1P, log1p(x) in float: u = 1 + x rounded; u = 2^k m with m in
 *   [sqrt(1/2), sqrt(2)) from the bits (u + 0x004afb0d, then the
 *   mantissa back on 0x3f3504f3), f = m - 1 (exact);
 *   log1p(x) = k ln2 + log1p(f) + (x - (u - 1)) / u, the last term the
 *   rounding of u; log1p(f) = f - f^2/2 + f^3 P(f), P of degree 8
 *   (Cephes logf; k ln2 split as RV_LN2_HI + RV_LN2_LO).  Specials:
 *   NaN and +Infinity give x, -1 gives -Infinity, x < -1 NaN.
 *
 * RV_ACOSH1P(t) = log1p(2 t (t + sqrt(1 + t^2))) = 2 asinh(t)
 *   = arcosh(1 + 2 t^2): the hyperbolic distance times sqrt(c) from
 *   t = sinh(sqrt(c) d / 2), without cancellation for small t and
 *   without overflow for t below 2^63.
 *
 * RV_DIST(X) = RV_ACOSH1P(sqrt(X)) from X = t^2, with one square root:
 *   log1p(2 (X + sqrt(X + X^2))) (X + X^2 fused or rounded twice) for
 *   X < RV_DIST_BIG, log1p(4 X) above (where sqrt(X + X^2) = X + 1/2 to
 *   far better than float precision, and X^2 would overflow).  The logit
 *   primitives return 0 - RV_DIST(X) / sqrt(c), so +0 at X = 0.
 * ---------------------------------------------------------------------- */
#define RV_LOG1P_BIAS 0x004afb0d		/* 0x3f800000 - 0x3f3504f3 */
#define RV_LOG1P_SQRTHF_BITS 0x3f3504f3 /* sqrt(1/2) */
#define RV_LOG1P_P0 3.3333331174E-1f
#define RV_LOG1P_P1 -2.4999993993E-1f
#define RV_LOG1P_P2 2.0000714765E-1f
#define RV_LOG1P_P3 -1.6668057665E-1f
#define RV_LOG1P_P4 1.4249322787E-1f
#define RV_LOG1P_P5 -1.2420140846E-1f
#define RV_LOG1P_P6 1.1676998740E-1f
#define RV_LOG1P_P7 -1.1514610310E-1f
#define RV_LOG1P_P8 7.0376836292E-2f

/* gamma_k = k u / (1 - k u), u = 2^-24: the bound of k float roundings */
#define RV_GAMMA(k) ((k) * 0x1p-24 / (1.0 - (k) * 0x1p-24))
#define RV_SQNORM_F32_BLOCK 128
#define RV_SQNORM_F32_DEPTH 23
#define RV_PK_F32_DEPTH 25

/*
 * What the float norms may cost in accuracy: hyperbolic.c trusts a float
 * norm (or pk) only where its error bound moves the quantity it feeds (the
 * ball gap 1 - c|x|^2, the Lorentz chord y) by at most RV_HYP_TOL
 * relative, which moves a logit by at most half that (a fifth of the
 * 1e-5 bar of DESIGN 2, leaving room for the float distances and log1p);
 * other rows are recomputed from double norms.
 */
#define RV_HYP_TOL 0x1p-18

/*
 * RV_CHORD, lorentz_chord's bound (u = 2^-24, and every bound below has
 * 2^-6 of slack for the roundings of the test itself and of sqrt(d2)
 * against the exact distance, good for d < 2^20).  With the float d2 (its
 * own rounding aside): |pk - pk*| <= g |q - k| |q + k| with
 * g = RV_GAMMA(RV_PK_F32_DEPTH) and |q + k| <= q0 + k0 = den, so
 *   |k0^2 - k0*^2| <= g sqrt(d2) den + (u/2) den^2   (with the roundings
 *   of q0^2 and of the difference), and den is off by at most
 *   beta = (g sqrt(d2) + (u/2) den) / k0 + u relative;
 *   t = pk / den is off by at most e = g sqrt(d2) + (beta + u/2) |t|,
 *   t^2 by 2 |t| e + e^2 <= |t| (A sqrt(d2) + B |t|) + C d2 with
 *   A = 2 g, C = 2 g^2 and, while beta + u/2 <= 2^-10,
 *   B = 2 (1 + 2^-10) (beta + u/2).
 * Writing P = G sqrt(d2) + UH den and k0 (beta + u/2) = P + U3 k0 (the
 * constants with their slack, rounded up), a row is trusted when
 *   P + U3 k0 <= 2^-10 k0  and
 *   k0 (A |t| sqrt(d2) + C d2 - RV_HYP_TOL y) + D (P + U3 k0) t^2 <= 0,
 * y = d2 - t^2, D = 2 (1 + 2^-10): no division.  Overflow or NaN anywhere
 * makes a comparison false, so such rows are flagged.
 */
#define RV_CHORD_SLACK (1.0 + 0x1p-6)
#define RV_CHORD_UP(x) ((float) ((x) * (1.0 + 0x1p-20)))
#define RV_CHORD_G RV_CHORD_UP(RV_GAMMA(RV_PK_F32_DEPTH) * RV_CHORD_SLACK)
#define RV_CHORD_UH RV_CHORD_UP(0x1p-25 * RV_CHORD_SLACK)
#define RV_CHORD_U3 RV_CHORD_UP(1.5 * 0x1p-24 * RV_CHORD_SLACK)
#define RV_CHORD_A RV_CHORD_UP(2.0 * RV_GAMMA(RV_PK_F32_DEPTH) * RV_CHORD_SLACK)
#define RV_CHORD_C RV_CHORD_UP(2.0 * RV_GAMMA(RV_PK_F32_DEPTH) * RV_GAMMA(RV_PK_F32_DEPTH) * \
							   RV_CHORD_SLACK * RV_CHORD_SLACK)
#define RV_CHORD_D RV_CHORD_UP(2.0 * (1.0 + 0x1p-10))
#define RV_CHORD_BMAX 0x1p-10f

/* Lorentz rows with d2 > RV_LORENTZ_ILL * y are recomputed in double */
#define RV_LORENTZ_ILL 4.0f

#define RV_DIST_BIG 0x1p62f

/* Scalar versions of RV_LOG1P and RV_DIST, for drivers and the scalar table. */
float		rv_log1pf_serial(float x);
float		rv_distf_serial(float X);

#endif							/* RV_KERNELS_H */
