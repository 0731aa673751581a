/*
 * test_kernels.c: every primitive of every SIMD table this build and this
 * CPU can run, checked against the scalar table and a float64 reference.
 *
 * Standalone (its own main, needs only the kernels_*.c files and -lm); see
 * tools/test-kernels.sh for the builds it runs under.  Prints one line per
 * failed check, a line with the exp accuracy of each table, and finally
 * "N passed, M failed"; exits nonzero when anything failed.
 *
 * Lengths cover every tail of every vector width (and of the 8- and 4-row
 * blocks of scores and the register tiles of weighted_sum), row strides
 * wider than the row, unaligned pointers, beta == 0 over garbage, and
 * NaN/Infinity at every position for the finiteness scans.  Buffers have a
 * guard zone in front (checked after each call) and, in one of the two
 * layouts, end exactly at the last element, so that AddressSanitizer builds
 * catch any read or write past the end; in the other layout a NaN-filled
 * tail guard catches writes past the end without a sanitizer.
 */
#include <float.h>

#include "kernel_test_util.h"

static const size_t lengths[] = {
	0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 127, 128, 1000, 4099
};
#define N_LENGTHS (sizeof lengths / sizeof lengths[0])

/* extra column counts so that every register-tile width, masked or not, runs */
static const size_t extra_dv[] = {32, 48, 64, 80, 96, 112, 144, 200, 256};
#define N_EXTRA_DV (sizeof extra_dv / sizeof extra_dv[0])

/* ---------------------------------------------------------------------- */
/* comparisons                                                            */

/*
 * First index where got is not within factor * tolerance of want (the
 * tolerance always comes from the float64 reference), or n.  NaN fails.
 */
static size_t
first_bad(const float *got, const double *want, const double *ref,
		  const double *abs_terms, size_t n, double factor)
{
	for (size_t i = 0; i < n; i++)
		if (!(fabs((double) got[i] - want[i]) <= factor * tolerance(ref[i], abs_terms[i])))
			return i;
	return n;
}

/*
 * Check got against the float64 reference and against the scalar table's
 * result (within twice the tolerance: both may err by it).
 */
static void
check_array(const char *what, const float *got, const float *scalar,
			const double *ref, const double *abs_terms, size_t n)
{
	double	   *scalar_d = xmalloc(n * sizeof(double));
	size_t		bad;

	bad = first_bad(got, ref, ref, abs_terms, n, 1.0);
	check(bad == n, "%s: [%zu] = %.9g, float64 reference %.9g", what, bad,
		  bad < n ? got[bad] : 0.0, bad < n ? ref[bad] : 0.0);
	for (size_t i = 0; i < n; i++)
		scalar_d[i] = scalar[i];
	bad = first_bad(got, scalar_d, ref, abs_terms, n, 2.0);
	check(bad == n, "%s: [%zu] = %.9g, scalar table %.9g", what, bad,
		  bad < n ? got[bad] : 0.0, bad < n ? scalar_d[bad] : 0.0);
	free(scalar_d);
}

/* ---------------------------------------------------------------------- */
/* scores                                                                 */

static void
test_scores_case(const test_table *t, size_t n, size_t d, size_t ldk,
				 int layout, float scale)
{
	char		what[160];
	test_buf	q = buf_new(d, layout);
	test_buf	K = buf_new(n ? (n - 1) * ldk + d : 0, layout);
	test_buf	s = buf_new(n, layout);
	float	   *s_scalar = xmalloc(n * sizeof(float));
	double	   *ref = xmalloc(n * sizeof(double));
	double	   *abs_terms = xmalloc(n * sizeof(double));
	float		m,
				m_scalar,
				m_written = -INFINITY;
	double		max_tol = 0.0;

	snprintf(what, sizeof what, "%s scores n=%zu d=%zu ldk=%zu layout=%d",
			 t->name, n, d, ldk, layout);
	for (size_t j = 0; j < d; j++)
		q.p[j] = rand_range(-1.0f, 1.0f);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < ldk && i * ldk + j < K.count; j++)
			K.p[i * ldk + j] = j < d ? rand_range(-1.0f, 1.0f) : NAN;
	for (size_t i = 0; i < n; i++)
	{
		double		dot = 0.0,
					abs_dot = 0.0;

		for (size_t j = 0; j < d; j++)
		{
			dot += (double) q.p[j] * K.p[i * ldk + j];
			abs_dot += fabs((double) q.p[j] * K.p[i * ldk + j]);
		}
		ref[i] = scale * dot;
		abs_terms[i] = fabs(scale) * abs_dot;
	}

	m = t->k->scores(q.p, K.p, n, d, ldk, scale, s.p);
	m_scalar = rv_kernels_scalar.scores(q.p, K.p, n, d, ldk, scale, s_scalar);

	check_array(what, s.p, s_scalar, ref, abs_terms, n);
	for (size_t i = 0; i < n; i++)
		if (s.p[i] > m_written)
			m_written = s.p[i];
	check(m == m_written, "%s: returned max %.9g, max of s %.9g", what, m, m_written);
	for (size_t i = 0; i < n; i++)
		max_tol = fmax(max_tol, 2.0 * tolerance(ref[i], abs_terms[i]));
	check(n == 0 || fabs((double) m - m_scalar) <= max_tol,
		  "%s: returned max %.9g, scalar table %.9g", what, m, m_scalar);
	check_guards(what, &s);

	buf_free(&q);
	buf_free(&K);
	buf_free(&s);
	free(s_scalar);
	free(ref);
	free(abs_terms);
}

static void
test_scores(const test_table *t)
{
	static const size_t few_d[] = {1, 16, 19, 128};
	static const size_t few_n[] = {1, 5, 9, 33};

	for (int layout = 0; layout < N_LAYOUTS; layout++)
		for (size_t pad = 0; pad <= 3; pad += 3)
		{
			float		scale = pad ? -0.7f : 0.125f;

			for (size_t a = 0; a < N_LENGTHS; a++)
				for (size_t b = 0; b < sizeof few_d / sizeof few_d[0]; b++)
					test_scores_case(t, lengths[a], few_d[b], few_d[b] + pad, layout, scale);
			for (size_t a = 0; a < N_LENGTHS; a++)
				for (size_t b = 0; b < sizeof few_n / sizeof few_n[0]; b++)
					test_scores_case(t, few_n[b], lengths[a], lengths[a] + pad, layout, scale);
			for (size_t n = 0; n <= 40; n++)
				test_scores_case(t, n, 19, 19 + pad, layout, scale);
			for (size_t d = 0; d <= 70; d++)
				test_scores_case(t, 13, d, d + pad, layout, scale);
		}
}

/* ---------------------------------------------------------------------- */
/* weighted_sum                                                           */

static void
test_weighted_sum_case(const test_table *t, size_t n, size_t dv, size_t ldv,
					   float beta, int layout)
{
	char		what[160];
	test_buf	w = buf_new(n, layout);
	test_buf	V = buf_new(n ? (n - 1) * ldv + dv : 0, layout);
	test_buf	out = buf_new(dv, layout);
	float	   *out_scalar = xmalloc(dv * sizeof(float));
	float	   *out0 = xmalloc(dv * sizeof(float));
	double	   *ref = xmalloc(dv * sizeof(double));
	double	   *abs_terms = xmalloc(dv * sizeof(double));

	snprintf(what, sizeof what, "%s weighted_sum n=%zu dv=%zu ldv=%zu beta=%g layout=%d",
			 t->name, n, dv, ldv, beta, layout);
	for (size_t i = 0; i < n; i++)
		w.p[i] = rand_range(-0.25f, 1.0f);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < ldv && i * ldv + j < V.count; j++)
			V.p[i * ldv + j] = j < dv ? rand_range(-1.0f, 1.0f) : NAN;
	for (size_t j = 0; j < dv; j++)
		out0[j] = beta == 0.0f ? NAN : rand_range(-1.0f, 1.0f);
	for (size_t j = 0; j < dv; j++)
	{
		double		sum = beta == 0.0f ? 0.0 : (double) beta * out0[j];
		double		abs_sum = fabs(sum);

		for (size_t i = 0; i < n; i++)
		{
			sum += (double) w.p[i] * V.p[i * ldv + j];
			abs_sum += fabs((double) w.p[i] * V.p[i * ldv + j]);
		}
		ref[j] = sum;
		abs_terms[j] = abs_sum;
	}

	memcpy(out.p, out0, dv * sizeof(float));
	memcpy(out_scalar, out0, dv * sizeof(float));
	t->k->weighted_sum(w.p, V.p, n, dv, ldv, beta, out.p);
	rv_kernels_scalar.weighted_sum(w.p, V.p, n, dv, ldv, beta, out_scalar);

	check_array(what, out.p, out_scalar, ref, abs_terms, dv);
	check_guards(what, &out);

	buf_free(&w);
	buf_free(&V);
	buf_free(&out);
	free(out_scalar);
	free(out0);
	free(ref);
	free(abs_terms);
}

static void
test_weighted_sum(const test_table *t)
{
	static const size_t few_dv[] = {1, 16, 100, 128, 300};
	static const size_t few_n[] = {1, 2, 9, 33};
	static const float betas[] = {0.0f, 1.0f, 0.5f};

	for (int layout = 0; layout < N_LAYOUTS; layout++)
		for (size_t pad = 0; pad <= 5; pad += 5)
			for (size_t bi = 0; bi < sizeof betas / sizeof betas[0]; bi++)
			{
				float		beta = betas[bi];

				for (size_t a = 0; a < N_LENGTHS; a++)
					for (size_t b = 0; b < sizeof few_dv / sizeof few_dv[0]; b++)
						test_weighted_sum_case(t, lengths[a], few_dv[b], few_dv[b] + pad,
											   beta, layout);
				for (size_t b = 0; b < sizeof few_n / sizeof few_n[0]; b++)
				{
					for (size_t a = 0; a < N_LENGTHS; a++)
						test_weighted_sum_case(t, few_n[b], lengths[a], lengths[a] + pad,
											   beta, layout);
					for (size_t a = 0; a < N_EXTRA_DV; a++)
						test_weighted_sum_case(t, few_n[b], extra_dv[a], extra_dv[a] + pad,
											   beta, layout);
				}
				for (size_t dv = 1; dv <= 160; dv++)
					test_weighted_sum_case(t, 5, dv, dv + pad, beta, layout);
				/* the wide path's row slots, with n a multiple of 4 and not */
				test_weighted_sum_case(t, 4096, 384, 384 + pad, beta, layout);
				test_weighted_sum_case(t, 2051, 770, 770 + pad, beta, layout);
			}
}

/* ---------------------------------------------------------------------- */
/* head_scores and head_weighted_sum                                      */

static const size_t head_n[] = {0, 1, 7, 8, 9, 17, 40, 263};
static const size_t head_dh[] = {1, 3, 16, 19, 64, 128, 130};
static const size_t head_count[] = {1, 2, 3, 8, 9, 17};

/*
 * head_scores against scores on each head (bit for bit, same table), the
 * scalar table and float64; heads' rows of S are lds = n + 2 apart and the
 * gaps must keep their guard value.
 */
static void
test_head_scores_case(const test_table *t, size_t n, size_t dh, size_t heads,
					  size_t ldk, int layout, float scale)
{
	char		what[160];
	size_t		lds = n + 2;
	test_buf	q = buf_new(heads * dh, layout);
	test_buf	K = buf_new(n ? (n - 1) * ldk + heads * dh : 0, layout);
	test_buf	S = buf_new(heads * lds, layout);
	test_buf	m = buf_new(heads, layout);
	float	   *S_scalar = xmalloc(heads * lds * sizeof(float));
	float	   *m_scalar = xmalloc(heads * sizeof(float));
	float	   *s1 = xmalloc(n * sizeof(float));
	double	   *ref = xmalloc(n * sizeof(double));
	double	   *abs_terms = xmalloc(n * sizeof(double));
	int			same = 1;

	snprintf(what, sizeof what, "%s head_scores n=%zu dh=%zu heads=%zu ldk=%zu layout=%d",
			 t->name, n, dh, heads, ldk, layout);
	for (size_t j = 0; j < heads * dh; j++)
		q.p[j] = rand_range(-1.0f, 1.0f);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < ldk && i * ldk + j < K.count; j++)
			K.p[i * ldk + j] = j < heads * dh ? rand_range(-1.0f, 1.0f) : NAN;
	rv_head_scores(t->k, q.p, K.p, n, dh, heads, ldk, scale, S.p, lds, m.p);
	rv_head_scores(&rv_kernels_scalar, q.p, K.p, n, dh, heads, ldk, scale, S_scalar, lds, m_scalar);
	for (size_t h = 0; h < heads; h++)
	{
		float		m1 = t->k->scores(q.p + h * dh, K.p + h * dh, n, dh, ldk, scale, s1);

		if (memcmp(s1, S.p + h * lds, n * sizeof(float)) != 0 ||
			memcmp(&m1, &m.p[h], sizeof m1) != 0)
			same = 0;
		for (size_t i = 0; i < n; i++)
		{
			double		sum = 0.0,
						abs_sum = 0.0;

			for (size_t j = 0; j < dh; j++)
			{
				double		p = (double) q.p[h * dh + j] * K.p[i * ldk + h * dh + j];

				sum += p;
				abs_sum += fabs(p);
			}
			ref[i] = sum * scale;
			abs_terms[i] = abs_sum * fabs(scale);
		}
		check_array(what, S.p + h * lds, S_scalar + h * lds, ref, abs_terms, n);
		for (size_t i = n; i < lds && h + 1 < heads; i++)
		{
			uint32_t	bits;

			memcpy(&bits, &S.p[h * lds + i], sizeof bits);
			check(bits == GUARD_BITS, "%s: wrote into the gap after head %zu", what, h);
		}
	}
	check(same, "%s: differs from scores on each head", what);
	check_guards(what, &S);
	check_guards(what, &m);

	buf_free(&q);
	buf_free(&K);
	buf_free(&S);
	buf_free(&m);
	free(S_scalar);
	free(m_scalar);
	free(s1);
	free(ref);
	free(abs_terms);
}

static void
test_head_scores(const test_table *t)
{
	for (int layout = 0; layout < N_LAYOUTS; layout++)
		for (size_t pad = 0; pad <= 3; pad += 3)
			for (size_t a = 0; a < N_OF(head_n); a++)
				for (size_t b = 0; b < N_OF(head_dh); b++)
					for (size_t c = 0; c < N_OF(head_count); c++)
						test_head_scores_case(t, head_n[a], head_dh[b], head_count[c],
											  head_count[c] * head_dh[b] + pad, layout,
											  pad ? -0.7f : 0.125f);
	test_head_scores_case(t, 4099, 64, 8, 512, 0, 0.125f);
}

/*
 * head_weighted_sum against weighted_sum on each head (bit for bit, same
 * table), the scalar table and float64; W's heads are ldw = n + 1 apart.
 */
static void
test_head_weighted_sum_case(const test_table *t, size_t n, size_t dvh,
							size_t heads, size_t ldv, float beta, int layout)
{
	char		what[160];
	size_t		ldw = n + 1;
	size_t		dv = heads * dvh;
	test_buf	W = buf_new(heads * ldw, layout);
	test_buf	V = buf_new(n ? (n - 1) * ldv + dv : 0, layout);
	test_buf	out = buf_new(dv, layout);
	float	   *out_scalar = xmalloc(dv * sizeof(float));
	float	   *out1 = xmalloc(dv * sizeof(float));
	float	   *out0 = xmalloc(dv * sizeof(float));
	double	   *ref = xmalloc(dv * sizeof(double));
	double	   *abs_terms = xmalloc(dv * sizeof(double));

	snprintf(what, sizeof what, "%s head_weighted_sum n=%zu dvh=%zu heads=%zu ldv=%zu beta=%g layout=%d",
			 t->name, n, dvh, heads, ldv, beta, layout);
	for (size_t i = 0; i < heads * ldw; i++)
		W.p[i] = i % ldw < n ? rand_range(-0.25f, 1.0f) : NAN;
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < ldv && i * ldv + j < V.count; j++)
			V.p[i * ldv + j] = j < dv ? rand_range(-1.0f, 1.0f) : NAN;
	for (size_t j = 0; j < dv; j++)
		out0[j] = beta == 0.0f ? NAN : rand_range(-1.0f, 1.0f);
	for (size_t j = 0; j < dv; j++)
	{
		size_t		h = j / dvh;
		double		sum = beta == 0.0f ? 0.0 : (double) beta * out0[j];
		double		abs_sum = fabs(sum);

		for (size_t i = 0; i < n; i++)
		{
			double		p = (double) W.p[h * ldw + i] * V.p[i * ldv + j];

			sum += p;
			abs_sum += fabs(p);
		}
		ref[j] = sum;
		abs_terms[j] = abs_sum;
	}
	memcpy(out.p, out0, dv * sizeof(float));
	memcpy(out_scalar, out0, dv * sizeof(float));
	memcpy(out1, out0, dv * sizeof(float));
	rv_head_weighted_sum(t->k, W.p, ldw, V.p, n, dvh, heads, ldv, beta, out.p);
	rv_head_weighted_sum(&rv_kernels_scalar, W.p, ldw, V.p, n, dvh, heads, ldv, beta, out_scalar);
	for (size_t h = 0; h < heads; h++)
		t->k->weighted_sum(W.p + h * ldw, V.p + h * dvh, n, dvh, ldv, beta, out1 + h * dvh);

	check_array(what, out.p, out_scalar, ref, abs_terms, dv);
	check(memcmp(out.p, out1, dv * sizeof(float)) == 0,
		  "%s: differs from weighted_sum on each head", what);
	check_guards(what, &out);

	buf_free(&W);
	buf_free(&V);
	buf_free(&out);
	free(out_scalar);
	free(out1);
	free(out0);
	free(ref);
	free(abs_terms);
}

static void
test_head_weighted_sum(const test_table *t)
{
	static const float betas[] = {0.0f, 1.0f, 0.5f};

	for (int layout = 0; layout < N_LAYOUTS; layout++)
		for (size_t pad = 0; pad <= 5; pad += 5)
			for (size_t bi = 0; bi < N_OF(betas); bi++)
				for (size_t a = 0; a < N_OF(head_n); a++)
					for (size_t b = 0; b < N_OF(head_dh); b++)
						for (size_t c = 0; c < N_OF(head_count); c++)
							test_head_weighted_sum_case(t, head_n[a], head_dh[b], head_count[c],
														head_count[c] * head_dh[b] + pad,
														betas[bi], layout);
	for (size_t dvh = 1; dvh <= 130; dvh++)
		test_head_weighted_sum_case(t, 37, dvh, 3, 3 * dvh + 1, 0.0f, 0);
	test_head_weighted_sum_case(t, 4099, 64, 8, 512, 0.0f, 0);
}

/* ---------------------------------------------------------------------- */
/* exp_sum_to and exp                                                     */

/*
 * exp_sum_to as softmax calls it: m the max of x (6.5 when all of x is
 * -Infinity), out a separate buffer or x itself.  masked: -Infinity at
 * index 0, the last index and every third one, whose exp must be exactly 0.
 */
static void
test_exp_sum_to_case(const test_table *t, size_t n, int masked, int in_place, int layout)
{
	char		what[160];
	test_buf	x = buf_new(n, layout);
	test_buf	out = buf_new(n, layout);
	float	   *dst = in_place ? x.p : out.p;
	float	   *x0 = xmalloc(n * sizeof(float));
	float	   *out_scalar = xmalloc(n * sizeof(float));
	double	   *ref = xmalloc(n * sizeof(double));
	float		m = -INFINITY,
				sum,
				sum_scalar;
	double		ref_sum = 0.0;
	size_t		bad = n;

	snprintf(what, sizeof what, "%s exp_sum_to n=%zu masked=%d in_place=%d layout=%d",
			 t->name, n, masked, in_place, layout);
	for (size_t i = 0; i < n; i++)
	{
		x0[i] = rand_range(-20.0f, 5.0f);
		if (masked && (i == 0 || i + 1 == n || i % 3 == 0))
			x0[i] = -INFINITY;
		if (x0[i] > m)
			m = x0[i];
	}
	if (!(m > -INFINITY))
		m = 6.5f;
	for (size_t i = 0; i < n; i++)
	{
		ref[i] = exp((double) x0[i] - (double) m);
		ref_sum += ref[i];
	}

	memcpy(x.p, x0, n * sizeof(float));
	sum = t->k->exp_sum_to(x.p, n, m, dst);
	sum_scalar = rv_kernels_scalar.exp_sum_to(x0, n, m, out_scalar);

	check_array(what, dst, out_scalar, ref, ref, n);
	for (size_t i = 0; i < n && bad == n; i++)
		if (x0[i] == -INFINITY && !(dst[i] == 0.0f))
			bad = i;
	check(bad == n, "%s: exp(-Infinity) at [%zu] gave %.9g", what, bad,
		  bad < n ? dst[bad] : 0.0);
	check(in_place || memcmp(x.p, x0, n * sizeof(float)) == 0, "%s: changed x", what);
	check(fabs(sum - ref_sum) <= tolerance(ref_sum, ref_sum),
		  "%s: sum %.9g, float64 reference %.9g", what, sum, ref_sum);
	check(fabs(sum - sum_scalar) <= 2.0 * tolerance(ref_sum, ref_sum),
		  "%s: sum %.9g, scalar table %.9g", what, sum, sum_scalar);
	check_guards(what, &x);
	check_guards(what, &out);

	buf_free(&x);
	buf_free(&out);
	free(x0);
	free(out_scalar);
	free(ref);
}

static void
test_exp_case(const test_table *t, size_t n, int in_place, int layout)
{
	char		what[160];
	test_buf	x = buf_new(n, layout);
	test_buf	out = buf_new(n, layout);
	float	   *dst = in_place ? x.p : out.p;
	float	   *out_scalar = xmalloc(n * sizeof(float));
	double	   *ref = xmalloc(n * sizeof(double));

	snprintf(what, sizeof what, "%s exp n=%zu in_place=%d layout=%d",
			 t->name, n, in_place, layout);
	for (size_t i = 0; i < n; i++)
	{
		x.p[i] = rand_range(-80.0f, 80.0f);
		ref[i] = exp((double) x.p[i]);
	}
	rv_kernels_scalar.exp(x.p, n, out_scalar);
	t->k->exp(x.p, n, dst);

	check_array(what, dst, out_scalar, ref, ref, n);
	check_guards(what, &x);
	check_guards(what, &out);

	buf_free(&x);
	buf_free(&out);
	free(out_scalar);
	free(ref);
}

static void
test_exp_primitives(const test_table *t)
{
	for (int layout = 0; layout < N_LAYOUTS; layout++)
		for (int variant = 0; variant < 4; variant++)
		{
			if (variant < 2)
			{
				for (size_t a = 0; a < N_LENGTHS; a++)
					test_exp_case(t, lengths[a], variant, layout);
				for (size_t n = 0; n <= 40; n++)
					test_exp_case(t, n, variant, layout);
			}
			for (size_t a = 0; a < N_LENGTHS; a++)
				test_exp_sum_to_case(t, lengths[a], variant & 1, variant >> 1, layout);
			for (size_t n = 0; n <= 70; n++)
				test_exp_sum_to_case(t, n, variant & 1, variant >> 1, layout);
		}
}

/*
 * exp accuracy: a dense sweep of [RV_EXP_LO, 88.8] plus [-2, 2], against
 * the correctly rounded (float) exp((double) x).  Normal results must be
 * within 2 ulp, subnormal and zero results within the smallest subnormal,
 * and results past RV_EXP_HI +Infinity.  Also within 2 ulp of the scalar
 * table.  Then the edges and the special values one by one.
 */
#define SWEEP_POINTS 2000001
#define SWEEP_SMALL_POINTS 1000001

/*
 * The accuracy bar of an exp sweep: got[i] (one table) and scalar[i] (the
 * scalar table) for x[i], against the correctly rounded (float) exp(x[i]).
 * Normal results within 2 ulp of it and of the scalar table, subnormal
 * results within the smallest subnormal, results past RV_EXP_HI +Infinity,
 * and exactly 0 where the contract says so (x < RV_EXP_LO, or an exp that
 * rounds to 0).  what names the primitive in the messages.
 */
static void
check_exp_sweep(const test_table *t, const char *what, const float *x,
				const float *got, const float *scalar, size_t count)
{
	int64_t		max_ulp = 0,
				max_ulp_scalar = 0;
	double		max_sub = 0.0;
	size_t		worst = 0,
				worst_sub = 0,
				worst_scalar = 0,
				bad_inf = count;

	for (size_t i = 0; i < count; i++)
	{
		float		reff = x[i] < RV_EXP_LO ? 0.0f : (float) exp((double) x[i]);

		if (isinf(reff))
		{
			if (!(got[i] == INFINITY) && bad_inf == count)
				bad_inf = i;
		}
		else if (reff >= FLT_MIN)
		{
			int64_t		u = isfinite(got[i]) ? ulp_distance(got[i], reff) : INT64_MAX;
			int64_t		us = ulp_distance(got[i], scalar[i]);

			if (u > max_ulp)
			{
				max_ulp = u;
				worst = i;
			}
			if (us > max_ulp_scalar)
			{
				max_ulp_scalar = us;
				worst_scalar = i;
			}
		}
		else
		{
			double		e = fabs((double) got[i] - (double) reff) / 0x1p-149;

			if (reff == 0.0f && got[i] != 0.0f)
				e = INFINITY;
			if (!(e <= max_sub))
			{
				max_sub = isnan(e) ? INFINITY : e;
				worst_sub = i;
			}
		}
	}
	printf("%s: %s max error %lld ulp (normal results), %.3g x 2^-149 (subnormal), "
		   "%lld ulp from the scalar table\n",
		   t->name, what, (long long) max_ulp, max_sub, (long long) max_ulp_scalar);
	check(max_ulp <= 2, "%s %s: %lld ulp at x=%.9g (got %.9g, correctly rounded %.9g)",
		  t->name, what, (long long) max_ulp, x[worst], got[worst], (float) exp((double) x[worst]));
	check(max_sub <= 1.0, "%s %s: subnormal or zero result off by %.3g x 2^-149 at x=%.9g (got %.9g)",
		  t->name, what, max_sub, x[worst_sub], got[worst_sub]);
	check(bad_inf == count, "%s %s: x=%.9g gave %.9g, want +Infinity", t->name, what,
		  bad_inf < count ? x[bad_inf] : 0.0, bad_inf < count ? got[bad_inf] : 0.0);
	check(max_ulp_scalar <= 2, "%s %s: %lld ulp from the scalar table at x=%.9g (%.9g vs %.9g)",
		  t->name, what, (long long) max_ulp_scalar, x[worst_scalar], got[worst_scalar],
		  scalar[worst_scalar]);
}

static void
test_exp_accuracy(const test_table *t)
{
	size_t		count = SWEEP_POINTS + SWEEP_SMALL_POINTS;
	float	   *x = xmalloc(count * sizeof(float));
	float	   *got = xmalloc(count * sizeof(float));
	float	   *scalar = xmalloc(count * sizeof(float));
	for (size_t i = 0; i < SWEEP_POINTS; i++)
		x[i] = (float) (RV_EXP_LO + (88.8 - RV_EXP_LO) * (double) i / (SWEEP_POINTS - 1));
	for (size_t i = 0; i < SWEEP_SMALL_POINTS; i++)
		x[SWEEP_POINTS + i] = (float) (-2.0 + 4.0 * (double) i / (SWEEP_SMALL_POINTS - 1));
	t->k->exp(x, count, got);
	rv_kernels_scalar.exp(x, count, scalar);

	check_exp_sweep(t, "exp", x, got, scalar, count);

	/* edges and specials, each in every lane position of a short vector */
	{
		const float edges[] = {
			RV_EXP_HI, nextafterf(RV_EXP_HI, INFINITY), RV_EXP_LO,
			nextafterf(RV_EXP_LO, -INFINITY), -INFINITY, INFINITY, NAN,
			-NAN, 0.0f, -0.0f, FLT_MAX, -FLT_MAX, -1000.0f, 1000.0f,
			-87.33654f, -103.9f, 88.0f
		};
		float		v[37],
					r[37];

		for (size_t e = 0; e < sizeof edges / sizeof edges[0]; e++)
		{
			float		xe = edges[e];
			double		refd = exp((double) xe);
			float		reff = (float) refd;
			size_t		bad = 37,
						bad_other = 37;
			float		got_bad = 0.0f;

			for (size_t pos = 0; pos < 37; pos++)
			{
				int			ok;

				for (size_t i = 0; i < 37; i++)
					v[i] = 0.5f;
				v[pos] = xe;
				t->k->exp(v, 37, r);
				if (isnan(xe))
					ok = isnan(r[pos]);
				else if (isinf(reff))
					ok = r[pos] == INFINITY;
				else if (xe < RV_EXP_LO)
					ok = r[pos] == 0.0f && !signbit(r[pos]);
				else if (reff >= FLT_MIN)
					ok = isfinite(r[pos]) && ulp_distance(r[pos], reff) <= 2;
				else
					ok = fabs((double) r[pos] - reff) <= 0x1p-149;
				if (!ok && bad == 37)
				{
					bad = pos;
					got_bad = r[pos];
				}
				for (size_t i = 0; i < 37; i++)
					if (i != pos && ulp_distance(r[i], (float) exp(0.5)) > 2 && bad_other == 37)
						bad_other = pos;
			}
			check(bad == 37, "%s exp(%.9g) at lane %zu gave %.9g, want %.9g", t->name,
				  xe, bad, got_bad, reff);
			check(bad_other == 37, "%s exp: exp(0.5) wrong next to exp(%.9g) at lane %zu",
				  t->name, xe, bad_other);
		}
	}
	free(x);
	free(got);
	free(scalar);
}

/*
 * The same accuracy bar for exp_sum_to, whose exp takes shortcuts that only
 * arguments <= 0 allow: a dense sweep of [RV_EXP_LO - 2, 0] plus [-2, 0]
 * with m = 0 (so x - m is exact), in blocks of RV_CANCEL_BLOCK as callers
 * do.  Below RV_EXP_LO the result must be exactly 0.
 */
static void
test_exp_sum_to_accuracy(const test_table *t)
{
	size_t		count = SWEEP_POINTS + SWEEP_SMALL_POINTS;
	float	   *x = xmalloc(count * sizeof(float));
	float	   *got = xmalloc(count * sizeof(float));
	float	   *scalar = xmalloc(count * sizeof(float));
	for (size_t i = 0; i < SWEEP_POINTS; i++)
		x[i] = (float) ((RV_EXP_LO - 2.0) * (double) i / (SWEEP_POINTS - 1));
	for (size_t i = 0; i < SWEEP_SMALL_POINTS; i++)
		x[SWEEP_POINTS + i] = (float) (-2.0 * (double) i / (SWEEP_SMALL_POINTS - 1));
	for (size_t b = 0; b < count; b += RV_CANCEL_BLOCK)
	{
		size_t		len = count - b < RV_CANCEL_BLOCK ? count - b : RV_CANCEL_BLOCK;

		t->k->exp_sum_to(x + b, len, 0.0f, got + b);
		rv_kernels_scalar.exp_sum_to(x + b, len, 0.0f, scalar + b);
	}

	check_exp_sweep(t, "exp_sum_to", x, got, scalar, count);
	free(x);
	free(got);
	free(scalar);
}

/* ---------------------------------------------------------------------- */
/* max_checked and scale                                                  */

/*
 * variant 0: random values; 1: with -Infinity entries; 2: all -Infinity;
 * 3: the maximum planted at position `pos` of values all below it.
 */
static void
test_max_case(const test_table *t, size_t n, int variant, size_t pos, int layout)
{
	char		what[160];
	test_buf	x = buf_new(n, layout);
	float		want = -INFINITY,
				got,
				got_scalar;

	snprintf(what, sizeof what, "%s max n=%zu variant=%d pos=%zu layout=%d",
			 t->name, n, variant, pos, layout);
	for (size_t i = 0; i < n; i++)
	{
		x.p[i] = rand_range(-100.0f, 100.0f);
		if (variant == 1 && i % 4 == 1)
			x.p[i] = -INFINITY;
		if (variant == 2)
			x.p[i] = -INFINITY;
		if (variant == 3)
			x.p[i] = i == pos ? -1.0f : rand_range(-1000.0f, -2.0f);
		if (x.p[i] > want)
			want = x.p[i];
	}
	{
		int			bad = -1,
					bad_scalar = -1;

		got = t->k->max_checked(x.p, n, &bad);
		got_scalar = rv_kernels_scalar.max_checked(x.p, n, &bad_scalar);
		check(got == want && bad == 0, "%s: max_checked got %.9g bad=%d, want %.9g bad=0",
			  what, got, bad, want);
		check(got == got_scalar && bad_scalar == 0, "%s: got %.9g, scalar table %.9g",
			  what, got, got_scalar);
	}
	check_guards(what, &x);
	buf_free(&x);
}

static void
test_scale_case(const test_table *t, size_t n, float a, int layout)
{
	char		what[160];
	test_buf	x = buf_new(n, layout);
	float	   *x0 = xmalloc(n * sizeof(float));
	float	   *x_scalar = xmalloc(n * sizeof(float));
	size_t		bad = n,
				bad_scalar = n;

	snprintf(what, sizeof what, "%s scale n=%zu a=%g layout=%d", t->name, n, a, layout);
	for (size_t i = 0; i < n; i++)
		x0[i] = rand_range(-1e3f, 1e3f);
	memcpy(x.p, x0, n * sizeof(float));
	memcpy(x_scalar, x0, n * sizeof(float));
	t->k->scale(x.p, n, a);
	rv_kernels_scalar.scale(x_scalar, n, a);
	/* one rounding of an exact double product: must match bit for bit */
	for (size_t i = 0; i < n; i++)
	{
		if (bad == n && x.p[i] != (float) ((double) x0[i] * a))
			bad = i;
		if (bad_scalar == n && x.p[i] != x_scalar[i])
			bad_scalar = i;
	}
	check(bad == n, "%s: [%zu] = %.9g, float64 reference %.9g", what, bad,
		  bad < n ? x.p[bad] : 0.0, bad < n ? (double) x0[bad] * a : 0.0);
	check(bad_scalar == n, "%s: [%zu] = %.9g, scalar table %.9g", what, bad_scalar,
		  bad_scalar < n ? x.p[bad_scalar] : 0.0, bad_scalar < n ? x_scalar[bad_scalar] : 0.0);
	check_guards(what, &x);
	buf_free(&x);
	free(x0);
	free(x_scalar);
}

static void
test_max_scale(const test_table *t)
{
	for (int layout = 0; layout < N_LAYOUTS; layout++)
	{
		for (size_t a = 0; a < N_LENGTHS; a++)
			for (int variant = 0; variant < 4; variant++)
				test_max_case(t, lengths[a], variant, lengths[a] / 2, layout);
		for (size_t n = 0; n <= 40; n++)
		{
			for (int variant = 0; variant < 3; variant++)
				test_max_case(t, n, variant, 0, layout);
			for (size_t pos = 0; pos < n; pos++)
				test_max_case(t, n, 3, pos, layout);
		}
		for (size_t a = 0; a < N_LENGTHS; a++)
		{
			test_scale_case(t, lengths[a], 0.5f, layout);
			test_scale_case(t, lengths[a], -3.25f, layout);
		}
		for (size_t n = 0; n <= 40; n++)
			test_scale_case(t, n, 0.1f, layout);
	}
}

/* ---------------------------------------------------------------------- */
/* all_finite and the check of max_checked                                */

/*
 * For each special value, put it at every position in turn (one check per
 * length and value, naming the first position that went wrong).
 */
static void
test_finite_case(const test_table *t, size_t n, int layout)
{
	const float specials[] = {NAN, -NAN, INFINITY, -INFINITY};
	const char *special_names[] = {"NaN", "-NaN", "+Infinity", "-Infinity"};
	char		what[160];
	test_buf	x = buf_new(n, layout);

	snprintf(what, sizeof what, "%s finiteness n=%zu layout=%d", t->name, n, layout);
	for (size_t i = 0; i < n; i++)
	{
		x.p[i] = rand_range(-1e30f, 1e30f);
		if (i % 5 == 2)
			x.p[i] = (i % 2) ? FLT_MAX : -FLT_MAX;
		if (i % 7 == 3)
			x.p[i] = 0x1p-140f;	/* subnormal */
	}
	check(t->k->all_finite(x.p, n) == 1 && rv_kernels_scalar.all_finite(x.p, n) == 1,
		  "%s: all_finite of finite values is not 1", what);

	for (size_t sv = 0; sv < sizeof specials / sizeof specials[0]; sv++)
	{
		int			allowed = specials[sv] == -INFINITY;	/* by max_checked */
		size_t		bad_af = n,
					bad_mc = n,
					bad_scalar = n;

		for (size_t pos = 0; pos < n; pos++)
		{
			float		saved = x.p[pos];
			int			af,
						mc_bad = -1,
						mc_bad_scalar = -1;
			float		mc,
						mc_scalar,
						want_max = -INFINITY;

			x.p[pos] = specials[sv];
			for (size_t i = 0; i < n; i++)
				if (x.p[i] > want_max)
					want_max = x.p[i];
			af = t->k->all_finite(x.p, n);
			mc = t->k->max_checked(x.p, n, &mc_bad);
			mc_scalar = rv_kernels_scalar.max_checked(x.p, n, &mc_bad_scalar);
			if (af != 0 && bad_af == n)
				bad_af = pos;
			/* when nothing is bad, the max is that of the finite values */
			if ((mc_bad != !allowed || mc_bad_scalar != !allowed ||
				 (allowed && (mc != want_max || mc_scalar != mc))) && bad_mc == n)
				bad_mc = pos;
			if (af != rv_kernels_scalar.all_finite(x.p, n) && bad_scalar == n)
				bad_scalar = pos;
			x.p[pos] = saved;
		}
		check(bad_af == n, "%s: all_finite missed %s at [%zu]", what,
			  special_names[sv], bad_af);
		check(bad_mc == n, "%s: max_checked wrong with %s at [%zu]", what,
			  special_names[sv], bad_mc);
		check(bad_scalar == n, "%s: differs from the scalar table with %s at [%zu]", what,
			  special_names[sv], bad_scalar);
	}
	/* -Infinity everywhere is allowed by max_checked only */
	for (size_t i = 0; i < n; i++)
		x.p[i] = -INFINITY;
	check(t->k->all_finite(x.p, n) == (n == 0), "%s: all_finite of all -Infinity is wrong",
		  what);
	{
		int			bad = -1;
		float		m = t->k->max_checked(x.p, n, &bad);

		check(bad == 0 && m == -INFINITY, "%s: max_checked of all -Infinity: %.9g bad=%d",
			  what, m, bad);
	}
	check_guards(what, &x);
	buf_free(&x);
}

static void
test_finite(const test_table *t)
{
	for (int layout = 0; layout < N_LAYOUTS; layout++)
	{
		for (size_t a = 0; a < N_LENGTHS; a++)
			test_finite_case(t, lengths[a], layout);
		for (size_t n = 0; n <= 40; n++)
			test_finite_case(t, n, layout);
	}
}

/* ---------------------------------------------------------------------- */

int
main(void)
{
	static const kernel_test tests[] = {
		test_scores, test_weighted_sum, test_head_scores, test_head_weighted_sum,
		test_exp_primitives, test_exp_accuracy, test_exp_sum_to_accuracy, test_max_scale,
		test_finite
	};

	return run_kernel_tests(tests, N_OF(tests));
}
