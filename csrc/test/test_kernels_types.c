/*
 * test_kernels_types.c: the primitives that linear, gat, sparse and moe
 * attention added to the kernel tables (phi, leaky_relu), for every table
 * this build and this CPU can run, against the scalar table and a float64
 * reference.
 *
 * Lengths cover every tail of every vector width; inputs are mixed-sign,
 * all non-negative (phi's skipped exp) and all negative, with NaN and
 * +/-Infinity at every position; out of place and in place.  Buffers have
 * a guard zone in front (checked after each call) and, in one of the two
 * layouts, end exactly at the last element, so that AddressSanitizer
 * builds catch any access past the end; in the other layout a NaN-filled
 * tail guard catches writes past the end (and poisons a result that reads
 * it).  The guard-buffer helpers are those of kernel_test_util.h.
 */
#include <float.h>

#include "kernel_test_util.h"

static const size_t lengths[] = {
	0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 127, 128, 1000, 4099
};
#define N_LENGTHS (sizeof lengths / sizeof lengths[0])

/* same float value, NaN matching NaN */
static int
same_value(float a, float b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

/* ---------------------------------------------------------------------- */
/* phi                                                                    */

static double
ref_phi(float x)
{
	return x >= 0.0f ? (double) x + 1.0 : exp((double) x);
}

/*
 * kind 0: mixed signs over [-110, 10] (exp underflow included), 1: all >= 0
 * (some exactly 0 or -0), 2: all < 0.
 */
static void
fill_phi_input(float *x, size_t n, int kind)
{
	for (size_t i = 0; i < n; i++)
	{
		if (kind == 0)
			x[i] = i % 11 == 5 ? rand_range(-1.0f, 1.0f) : rand_range(-110.0f, 10.0f);
		else if (kind == 1)
			x[i] = i % 9 == 4 ? (i % 2 ? 0.0f : -0.0f) : rand_range(0.0f, 1e6f);
		else
			x[i] = -rand_range(1e-30f, 30.0f);
	}
}

static void
test_phi_case(const test_table *t, size_t n, int kind, int in_place, int layout)
{
	char		what[160];
	test_buf	x = buf_new(n, layout);
	test_buf	out = buf_new(n, layout);
	float	   *dst = in_place ? x.p : out.p;
	float	   *x0 = xmalloc(n * sizeof(float));
	float	   *out_scalar = xmalloc(n * sizeof(float));
	size_t		bad_ref = n,
				bad_scalar = n,
				bad_exact = n;

	snprintf(what, sizeof what, "%s phi n=%zu kind=%d in_place=%d layout=%d",
			 t->name, n, kind, in_place, layout);
	fill_phi_input(x0, n, kind);
	memcpy(x.p, x0, n * sizeof(float));
	t->k->phi(x.p, n, dst);
	rv_kernels_scalar.phi(x0, n, out_scalar);
	for (size_t i = 0; i < n; i++)
	{
		double		ref = ref_phi(x0[i]);
		/* subnormal and underflowed results: an absolute floor far below any weight */
		double		tol = tolerance(ref, ref) + 0x1p-140;

		if (!(fabs(dst[i] - ref) <= tol) && bad_ref == n)
			bad_ref = i;
		if (!(fabs((double) dst[i] - out_scalar[i]) <= 2.0 * tol) && bad_scalar == n)
			bad_scalar = i;
		/* x + 1 for x >= 0 and exactly 0 below RV_EXP_LO, in every table */
		if (((x0[i] >= 0.0f && dst[i] != x0[i] + 1.0f) ||
			 (x0[i] < RV_EXP_LO && dst[i] != 0.0f)) && bad_exact == n)
			bad_exact = i;
	}
	check(bad_ref == n, "%s: [%zu] phi(%.9g) = %.9g, float64 reference %.9g", what, bad_ref,
		  bad_ref < n ? x0[bad_ref] : 0.0f, bad_ref < n ? dst[bad_ref] : 0.0f,
		  bad_ref < n ? ref_phi(x0[bad_ref]) : 0.0);
	check(bad_scalar == n, "%s: [%zu] = %.9g, scalar table %.9g", what, bad_scalar,
		  bad_scalar < n ? dst[bad_scalar] : 0.0f, bad_scalar < n ? out_scalar[bad_scalar] : 0.0f);
	check(bad_exact == n, "%s: [%zu] phi(%.9g) = %.9g is not exact", what, bad_exact,
		  bad_exact < n ? x0[bad_exact] : 0.0f, bad_exact < n ? dst[bad_exact] : 0.0f);
	check(in_place || memcmp(x.p, x0, n * sizeof(float)) == 0, "%s: changed x", what);
	check(buf_guards_ok(&x) && buf_guards_ok(&out), "%s: wrote outside the buffer", what);
	buf_free(&x);
	buf_free(&out);
	free(x0);
	free(out_scalar);
}

/* a NaN or +/-Infinity at each position: non-finite there, the rest unchanged */
static void
test_phi_specials(const test_table *t, size_t n, int layout)
{
	const float specials[] = {NAN, INFINITY, -INFINITY};
	char		what[160];
	test_buf	x = buf_new(n, layout);
	test_buf	out = buf_new(n, layout);
	float	   *clean = xmalloc(n * sizeof(float));

	snprintf(what, sizeof what, "%s phi specials n=%zu layout=%d", t->name, n, layout);
	fill_phi_input(x.p, n, 0);
	t->k->phi(x.p, n, clean);
	for (size_t sv = 0; sv < 3; sv++)
	{
		size_t		bad = n;

		for (size_t pos = 0; pos < n; pos++)
		{
			float		saved = x.p[pos];
			int			ok = 1;

			x.p[pos] = specials[sv];
			t->k->phi(x.p, n, out.p);
			for (size_t i = 0; i < n; i++)
				ok &= i == pos ? !isfinite(out.p[i]) : same_value(out.p[i], clean[i]);
			if (!ok && bad == n)
				bad = pos;
			x.p[pos] = saved;
		}
		check(bad == n, "%s: wrong with %g at [%zu]", what, specials[sv], bad);
	}
	check(buf_guards_ok(&x) && buf_guards_ok(&out), "%s: wrote outside the buffer", what);
	buf_free(&x);
	buf_free(&out);
	free(clean);
}

static void
test_phi(const test_table *t)
{
	for (int layout = 0; layout < N_LAYOUTS; layout++)
	{
		for (int kind = 0; kind < 3; kind++)
			for (int in_place = 0; in_place <= 1; in_place++)
			{
				for (size_t a = 0; a < N_LENGTHS; a++)
					test_phi_case(t, lengths[a], kind, in_place, layout);
				for (size_t n = 0; n <= 40; n++)
					test_phi_case(t, n, kind, in_place, layout);
			}
		for (size_t n = 0; n <= 40; n++)
			test_phi_specials(t, n, layout);
		test_phi_specials(t, 127, layout);
	}
}

/* ---------------------------------------------------------------------- */
/* leaky_relu                                                             */

static float
serial_leaky(float x, float bias, float slope)
{
	float		y = x + bias;

	return y > 0.0f ? y : slope * y;
}

/*
 * Against the float64 LeakyReLU of the float sum y = x + bias, bit for bit
 * against the scalar table (both are one float add and one multiply), and
 * the returned max and bad flag.  neg: every x in [-10, -5] so that, with
 * a positive bias, a tail lane read as 0 would raise the max.
 */
static void
test_leaky_case(const test_table *t, size_t n, float bias, float slope, int neg,
				int in_place, int layout)
{
	char		what[200];
	test_buf	x = buf_new(n, layout);
	test_buf	out = buf_new(n, layout);
	float	   *dst = in_place ? x.p : out.p;
	float	   *x0 = xmalloc(n * sizeof(float));
	float	   *out_scalar = xmalloc(n * sizeof(float));
	float		m, m_scalar, m_written = -INFINITY;
	int			bad = -1, bad_scalar = -1;
	size_t		bad_ref = n;

	snprintf(what, sizeof what, "%s leaky_relu n=%zu bias=%g slope=%g neg=%d in_place=%d layout=%d",
			 t->name, n, bias, slope, neg, in_place, layout);
	for (size_t i = 0; i < n; i++)
		x0[i] = neg ? rand_range(-10.0f, -5.0f) : rand_range(-10.0f, 10.0f);
	memcpy(x.p, x0, n * sizeof(float));
	m = t->k->leaky_relu(x.p, n, bias, slope, dst, &bad);
	m_scalar = rv_kernels_scalar.leaky_relu(x0, n, bias, slope, out_scalar, &bad_scalar);
	for (size_t i = 0; i < n; i++)
	{
		double		y = (double) (x0[i] + bias);
		double		ref = y > 0.0 ? y : (double) slope * y;

		if (!(fabs(dst[i] - ref) <= tolerance(ref, fabs(ref))) && bad_ref == n)
			bad_ref = i;
		if (dst[i] > m_written)
			m_written = dst[i];
	}
	check(bad_ref == n, "%s: [%zu] = %.9g, float64 reference", what, bad_ref,
		  bad_ref < n ? dst[bad_ref] : 0.0f);
	check(memcmp(dst, out_scalar, n * sizeof(float)) == 0, "%s: differs from the scalar table", what);
	check(m == m_written && m == m_scalar, "%s: max %.9g, max of out %.9g, scalar %.9g", what,
		  m, m_written, m_scalar);
	check(bad == 0 && bad_scalar == 0, "%s: bad = %d (scalar %d) for finite results", what, bad,
		  bad_scalar);
	check(in_place || memcmp(x.p, x0, n * sizeof(float)) == 0, "%s: changed x", what);
	check(buf_guards_ok(&x) && buf_guards_ok(&out), "%s: wrote outside the buffer", what);
	buf_free(&x);
	buf_free(&out);
	free(x0);
	free(out_scalar);
}

/*
 * Non-finite results at each position: NaN and +/-Infinity inputs, and
 * finite inputs whose sum or product overflows.  bad must be 1 and the
 * results equal the scalar table's; without them, bad 0.
 */
static void
test_leaky_specials(const test_table *t, size_t n, int layout)
{
	const float specials[] = {NAN, INFINITY, -INFINITY, FLT_MAX, -FLT_MAX};
	char		what[160];
	test_buf	x = buf_new(n, layout);
	test_buf	out = buf_new(n, layout);
	float	   *out_scalar = xmalloc(n * sizeof(float));

	snprintf(what, sizeof what, "%s leaky_relu specials n=%zu layout=%d", t->name, n, layout);
	for (size_t i = 0; i < n; i++)
		x.p[i] = rand_range(-10.0f, 10.0f);
	for (size_t sv = 0; sv < sizeof specials / sizeof specials[0]; sv++)
	{
		/* FLT_MAX + FLT_MAX overflows; -FLT_MAX * 3 too */
		float		bias = specials[sv] == FLT_MAX ? FLT_MAX : 0.5f;
		float		slope = specials[sv] == -FLT_MAX ? 3.0f : 0.2f;
		size_t		bad_pos = n;

		for (size_t pos = 0; pos < n; pos++)
		{
			float		saved = x.p[pos];
			int			bad = -1, bad_scalar = -1;
			int			ok = 1;

			x.p[pos] = specials[sv];
			t->k->leaky_relu(x.p, n, bias, slope, out.p, &bad);
			rv_kernels_scalar.leaky_relu(x.p, n, bias, slope, out_scalar, &bad_scalar);
			for (size_t i = 0; i < n; i++)
				ok &= same_value(out.p[i], out_scalar[i]);
			ok &= isfinite(serial_leaky(specials[sv], bias, slope)) ? 1 : (bad == 1 && bad_scalar == 1);
			if (!ok && bad_pos == n)
				bad_pos = pos;
			x.p[pos] = saved;
		}
		check(bad_pos == n, "%s: wrong with %g at [%zu]", what, specials[sv], bad_pos);
	}
	check(buf_guards_ok(&x) && buf_guards_ok(&out), "%s: wrote outside the buffer", what);
	buf_free(&x);
	buf_free(&out);
	free(out_scalar);
}

static void
test_leaky(const test_table *t)
{
	static const float biases[] = {0.0f, 1.5f, -2.25f};
	static const float slopes[] = {0.2f, 0.0f, 1.0f, -0.5f, 3.0f};

	for (int layout = 0; layout < N_LAYOUTS; layout++)
	{
		for (size_t b = 0; b < sizeof biases / sizeof biases[0]; b++)
			for (size_t s = 0; s < sizeof slopes / sizeof slopes[0]; s++)
				for (int in_place = 0; in_place <= 1; in_place++)
					for (size_t a = 0; a < N_LENGTHS; a++)
						test_leaky_case(t, lengths[a], biases[b], slopes[s], 0, in_place, layout);
		for (size_t n = 0; n <= 40; n++)
		{
			test_leaky_case(t, n, 0.2f, 0.1f, 0, 0, layout);
			test_leaky_case(t, n, 2.0f, 1.0f, 1, 1, layout);
			test_leaky_specials(t, n, layout);
		}
		test_leaky_specials(t, 127, layout);
	}
	{
		int			bad = -1;
		float		m = t->k->leaky_relu(NULL, 0, 1.0f, 0.2f, NULL, &bad);

		check(m == -INFINITY && bad == 0, "%s leaky_relu n=0: max %g bad %d", t->name, m, bad);
	}
}

/* ---------------------------------------------------------------------- */

int
main(void)
{
	static const kernel_test tests[] = {test_phi, test_leaky};

	return run_kernel_tests(tests, N_OF(tests));
}
