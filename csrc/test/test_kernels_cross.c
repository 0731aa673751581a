/*
 * test_kernels_cross.c: the primitives of cross.c (cross_scores,
 * cross_exp, cross_pv) of every table this build and CPU can run, against
 * the scalar table and a float64 reference.
 *
 * Sizes cover every key-group and row-group tail of the micro-kernels
 * (groups of 6 and 8), every column tail of cross_pv, several column
 * blocks of RV_CROSS_PAD, dot products past one RV_CROSS_DOT_BLOCK,
 * leading dimensions wider than the data, alpha 0 over garbage, masked
 * (-Infinity) entries and columns without any key.  Buffers have a NaN
 * guard zone in front and, in layout 0, behind; in layout 1 they end
 * exactly at the last element the primitive may touch, so that
 * AddressSanitizer builds catch any access past the end.  Prints
 * "N passed, M failed".
 */
#include "kernel_test_util.h"

/* floats a rows x cols matrix with row stride ld spans (0 when empty) */
static size_t
span(size_t rows, size_t cols, size_t ld)
{
	return rows == 0 || cols == 0 ? 0 : (rows - 1) * ld + cols;
}

/* within factor times the accuracy bar */
static int
within(double got, double ref, double abs_terms, double factor)
{
	return fabs(got - ref) <= factor * tolerance(ref, abs_terms);
}

/* ---------------- cross_scores ---------------- */

static void
scores_case(const test_table *t, size_t nk, size_t dh, size_t w, size_t extra,
			int layout)
{
	size_t		ldq = w + extra,
				lds = w + 2 * extra,
				ldk = dh + extra;
	test_buf	Qt = buf_new(span(dh, w, ldq), layout);
	test_buf	K = buf_new(span(nk, dh, ldk), layout);
	test_buf	S = buf_new(span(nk, w, lds), layout);
	test_buf	S0 = buf_new(span(nk, w, lds), 0);
	float		scale = 0.37f;
	size_t		bad = (size_t) -1;
	int			gaps = 1;

	for (size_t k = 0; k < dh; k++)
		for (size_t c = 0; c < w; c++)
			Qt.p[k * ldq + c] = rand_range(-1, 1);
	for (size_t j = 0; j < nk; j++)
		for (size_t k = 0; k < dh; k++)
			K.p[j * ldk + k] = rand_range(-1, 1);
	check(t->k->cross_scores(Qt.p, ldq, K.p, ldk, nk, dh, w, scale, S.p, lds) == 1 &&
		  rv_kernels_scalar.cross_scores(Qt.p, ldq, K.p, ldk, nk, dh, w, scale, S0.p, lds) == 1,
		  "%s cross_scores nk=%zu dh=%zu w=%zu: finite tile reported non-finite", t->name, nk, dh, w);
	for (size_t j = 0; j < nk; j++)
	{
		for (size_t c = 0; c < w; c++)
		{
			double		ref = 0.0,
						mag = 0.0;

			for (size_t k = 0; k < dh; k++)
			{
				ref += (double) K.p[j * ldk + k] * Qt.p[k * ldq + c];
				mag += fabs((double) K.p[j * ldk + k] * Qt.p[k * ldq + c]);
			}
			ref *= scale;
			mag *= scale;
			if (bad == (size_t) -1 &&
				!(within(S.p[j * lds + c], ref, mag, 1.0) &&
				  within(S.p[j * lds + c], S0.p[j * lds + c], mag, 2.0)))
				bad = j * lds + c;
		}
		for (size_t c = w; c < lds && j + 1 < nk; c++)
			gaps &= is_guard(S.p[j * lds + c]);
	}
	check(bad == (size_t) -1, "%s cross_scores nk=%zu dh=%zu w=%zu extra=%zu: [%zu] = %.9g, scalar %.9g",
		  t->name, nk, dh, w, extra, bad, bad != (size_t) -1 ? S.p[bad] : 0.0,
		  bad != (size_t) -1 ? S0.p[bad] : 0.0);
	check(gaps && buf_guards_ok(&S) && buf_guards_ok(&Qt) && buf_guards_ok(&K),
		  "%s cross_scores nk=%zu dh=%zu w=%zu: wrote outside its columns", t->name, nk, dh, w);
	/* NaN or +/-Infinity in K or Qt, anywhere, is reported (also after a finite block) */
	if (nk > 0 && dh > 0)
	{
		const float bads[] = {NAN, INFINITY, -INFINITY};

		for (int b = 0; b < 3; b++)
			for (int which = 0; which < 2; which++)
			{
				size_t		at = which == 0 ? ((size_t) b * 7 % nk) * ldk + (dh - 1 - (size_t) b % dh)
					: (dh - 1) * ldq + ((size_t) b * 5 % w);
				float	   *x = which == 0 ? K.p + at : Qt.p + at;
				float		saved = *x;

				*x = bads[b];
				check(t->k->cross_scores(Qt.p, ldq, K.p, ldk, nk, dh, w, scale, S.p, lds) == 0,
					  "%s cross_scores nk=%zu dh=%zu w=%zu: %g in %s not reported", t->name, nk, dh,
					  w, bads[b], which == 0 ? "K" : "Qt");
				*x = saved;
			}
	}
	buf_free(&Qt);
	buf_free(&K);
	buf_free(&S);
	buf_free(&S0);
}

static void
test_scores(const test_table *t)
{
	static const size_t nks[] = {0, 1, 2, 3, 5, 6, 7, 8, 9, 13, 16, 17, 64, 65};
	static const size_t dhs[] = {0, 1, 3, 8, 17, 63, 64, 65, 129, 300};
	static const size_t ws[] = {16, 32, 48, 80};

	for (int layout = 0; layout < 2; layout++)
		for (size_t a = 0; a < sizeof nks / sizeof nks[0]; a++)
			for (size_t b = 0; b < sizeof dhs / sizeof dhs[0]; b++)
				for (size_t c = 0; c < sizeof ws / sizeof ws[0]; c++)
					scores_case(t, nks[a], dhs[b], ws[c], (a + b + c) % 3 == 0 ? 0 : 5, layout);
}

/* ---------------- cross_exp ---------------- */

static void
exp_case(const test_table *t, size_t nk, size_t w, size_t extra, int layout)
{
	size_t		lds = w + extra;
	test_buf	S = buf_new(span(nk, w, lds), layout);
	test_buf	S0 = buf_new(span(nk, w, lds), 0);
	test_buf	m = buf_new(w, layout),
				m0 = buf_new(w, 0),
				l = buf_new(w, layout),
				l0 = buf_new(w, 0);
	double	   *in = malloc((nk * w + 1) * sizeof(double));
	int			ok_m = 1,
				ok_s = 1,
				ok_l = 1,
				gaps = 1;

	for (size_t c = 0; c < w; c++)
	{
		/* the running max: none yet, below the tile, or above it */
		m.p[c] = c % 3 == 0 ? -INFINITY : c % 3 == 1 ? -20.0f : 3.0f;
		for (size_t j = 0; j < nk; j++)
		{
			float		v = rand_range(-10, 2);

			/* masked entries, and column 5 masked entirely */
			if (c == 5 || (j + c) % 7 == 3)
				v = -INFINITY;
			if (c == 9 && j == nk / 2)
				v = -200.0f;	/* exp underflows to 0 */
			S.p[j * lds + c] = S0.p[j * lds + c] = v;
			in[j * w + c] = v;
		}
	}
	memcpy(m0.p, m.p, w * sizeof(float));
	t->k->cross_exp(S.p, lds, nk, w, m.p, l.p);
	rv_kernels_scalar.cross_exp(S0.p, lds, nk, w, m0.p, l0.p);
	for (size_t c = 0; c < w; c++)
	{
		double		mx = c % 3 == 0 ? -INFINITY : c % 3 == 1 ? -20.0 : 3.0,
					b,
					sum = 0.0;

		for (size_t j = 0; j < nk; j++)
			mx = in[j * w + c] > mx ? in[j * w + c] : mx;
		ok_m &= m.p[c] == (float) mx && m0.p[c] == (float) mx;
		b = mx == -INFINITY ? 0.0 : mx;
		for (size_t j = 0; j < nk; j++)
		{
			double		e = exp(in[j * w + c] - b);
			float		got = S.p[j * lds + c];

			sum += e;
			/* below the normal range float keeps no relative accuracy */
			ok_s &= in[j * w + c] == -INFINITY ? got == 0.0f
				: e < 1e-37 ? got < 1e-37f && S0.p[j * lds + c] < 1e-37f
				: within(got, e, 0.0, 1.0) && within(got, S0.p[j * lds + c], 0.0, 2.0);
		}
		ok_l &= within(l.p[c], sum, 0.0, 1.0) && within(l.p[c], l0.p[c], 0.0, 2.0);
	}
	for (size_t j = 0; j + 1 < nk; j++)
		for (size_t c = w; c < lds; c++)
			gaps &= is_guard(S.p[j * lds + c]);
	check(ok_m && ok_s && ok_l, "%s cross_exp nk=%zu w=%zu: max %d exp %d sum %d",
		  t->name, nk, w, ok_m, ok_s, ok_l);
	check(gaps && buf_guards_ok(&S) && buf_guards_ok(&m) && buf_guards_ok(&l),
		  "%s cross_exp nk=%zu w=%zu: wrote outside its columns", t->name, nk, w);
	buf_free(&S);
	buf_free(&S0);
	buf_free(&m);
	buf_free(&m0);
	buf_free(&l);
	buf_free(&l0);
	free(in);
}

static void
test_exp(const test_table *t)
{
	static const size_t nks[] = {0, 1, 2, 3, 7, 8, 9, 17, 64, 65, 130};
	static const size_t ws[] = {16, 32, 48, 64, 80};

	for (int layout = 0; layout < 2; layout++)
		for (size_t a = 0; a < sizeof nks / sizeof nks[0]; a++)
			for (size_t c = 0; c < sizeof ws / sizeof ws[0]; c++)
				exp_case(t, nks[a], ws[c], (a + c) % 2 ? 3 : 0, layout);
}

/* ---------------- cross_pv ---------------- */

static void
pv_case(const test_table *t, size_t nk, size_t rows, size_t dv, size_t extra,
		int layout)
{
	size_t		ldp = rows + extra,
				ldv = dv + extra,
				ldo = dv + 2 * extra;
	test_buf	P = buf_new(span(nk, rows, ldp), layout);
	test_buf	V = buf_new(span(nk, dv, ldv), layout);
	test_buf	O = buf_new(span(rows, dv, ldo), layout);
	test_buf	O0 = buf_new(span(rows, dv, ldo), 0);
	float	   *alpha = malloc((rows + 1) * sizeof(float));
	double	   *O_in = malloc((rows * dv + 1) * sizeof(double));
	size_t		bad = (size_t) -1;
	int			gaps = 1;

	for (size_t j = 0; j < nk; j++)
	{
		for (size_t r = 0; r < rows; r++)
			P.p[j * ldp + r] = (j + r) % 5 == 2 ? 0.0f : rand_range(0, 1);
		for (size_t c = 0; c < dv; c++)
			V.p[j * ldv + c] = rand_range(-2, 2);
	}
	for (size_t r = 0; r < rows; r++)
	{
		/* alpha 0 rows keep their guard NaNs: they must not be read */
		alpha[r] = r % 3 == 0 ? 0.0f : r % 3 == 1 ? 1.0f : 0.25f;
		for (size_t c = 0; c < dv; c++)
		{
			if (alpha[r] != 0.0f)
				O.p[r * ldo + c] = O0.p[r * ldo + c] = rand_range(-1, 1);
			else
				O0.p[r * ldo + c] = O.p[r * ldo + c];
			O_in[r * dv + c] = O.p[r * ldo + c];
		}
	}
	t->k->cross_pv(P.p, ldp, V.p, ldv, nk, rows, dv, alpha, O.p, ldo);
	rv_kernels_scalar.cross_pv(P.p, ldp, V.p, ldv, nk, rows, dv, alpha, O0.p, ldo);
	for (size_t r = 0; r < rows; r++)
	{
		for (size_t c = 0; c < dv; c++)
		{
			double		ref = alpha[r] == 0.0f ? 0.0 : alpha[r] * O_in[r * dv + c],
						mag = fabs(ref);

			for (size_t j = 0; j < nk; j++)
			{
				ref += (double) P.p[j * ldp + r] * V.p[j * ldv + c];
				mag += fabs((double) P.p[j * ldp + r] * V.p[j * ldv + c]);
			}
			if (bad == (size_t) -1 &&
				!(within(O.p[r * ldo + c], ref, mag, 1.0) &&
				  within(O.p[r * ldo + c], O0.p[r * ldo + c], mag, 2.0)))
				bad = r * ldo + c;
		}
		for (size_t c = dv; c < ldo && r + 1 < rows; c++)
			gaps &= is_guard(O.p[r * ldo + c]);
	}
	check(bad == (size_t) -1, "%s cross_pv nk=%zu rows=%zu dv=%zu extra=%zu: [%zu] = %.9g, scalar %.9g",
		  t->name, nk, rows, dv, extra, bad, bad != (size_t) -1 ? O.p[bad] : 0.0,
		  bad != (size_t) -1 ? O0.p[bad] : 0.0);
	check(gaps && buf_guards_ok(&O) && buf_guards_ok(&P) && buf_guards_ok(&V),
		  "%s cross_pv nk=%zu rows=%zu dv=%zu: wrote outside its columns", t->name, nk, rows, dv);
	buf_free(&P);
	buf_free(&V);
	buf_free(&O);
	buf_free(&O0);
	free(alpha);
	free(O_in);
}

static void
test_pv(const test_table *t)
{
	static const size_t nks[] = {0, 1, 3, 8, 9, 64, 65};
	static const size_t rowss[] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 12, 13, 16, 17, 64};
	static const size_t dvs[] = {1, 3, 4, 5, 7, 8, 9, 12, 13, 15, 16, 17, 24, 31, 32, 33, 48, 63, 65, 127};

	for (int layout = 0; layout < 2; layout++)
		for (size_t a = 0; a < sizeof nks / sizeof nks[0]; a++)
			for (size_t b = 0; b < sizeof rowss / sizeof rowss[0]; b++)
				for (size_t c = 0; c < sizeof dvs / sizeof dvs[0]; c++)
					pv_case(t, nks[a], rowss[b], dvs[c], (a + b + c) % 3 == 0 ? 0 : 3, layout);
}

/* ---------------------------------------------------------------------- */

int
main(void)
{
	static const kernel_test tests[] = {test_scores, test_exp, test_pv};

	return run_kernel_tests(tests, N_OF(tests));
}
