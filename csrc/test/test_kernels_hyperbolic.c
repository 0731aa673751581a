/*
 * test_kernels_hyperbolic.c: the primitives of hyperbolic.c in every table
 * this build and CPU can run, against the scalar table and float64 over
 * lengths that exercise every tail, with guard zones in front of and
 * behind each output (and, in the second layout, outputs that end
 * exactly at the buffer end, for AddressSanitizer).
 *
 * sqnorm_rows must be bit-identical in every table (RV_SQNORM); the float
 * norms and pk must stay within the error bounds the driver's trust tests
 * rely on (RV_SQNORM_F32_DEPTH, RV_PK_F32_DEPTH, RV_CHORD), and be the
 * same bits wherever a table produces them; log1p's accuracy is swept and
 * its max ulp error printed.  Prints "N passed, M failed".
 */
#include <float.h>

/* the seed these tests were written with (the other kernel drivers share another) */
#define KERNEL_TEST_SEED 0x2545F4914F6CDD1Du
#include "kernel_test_util.h"

static const size_t lengths[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 127, 128, 1000, 4099};
#define N_LENGTHS (sizeof lengths / sizeof lengths[0])

/* ---------------- guarded buffers (bytes, so that doubles fit too) ---------------- */

#define GUARD_BYTE 0xA5
#define GUARD 64

/* layout 0: guard zones on both sides; layout 1: the data ends exactly at the allocation end */
typedef struct gbuf
{
	unsigned char *base;
	void	   *p;
	size_t		bytes, tail;
} gbuf;

static gbuf
gnew(size_t bytes, int layout)
{
	gbuf		b;

	b.bytes = bytes;
	b.tail = layout == 0 ? GUARD : 0;
	b.base = xmalloc(GUARD + bytes + b.tail + 1);
	memset(b.base, GUARD_BYTE, GUARD + bytes + b.tail + 1);
	b.p = b.base + GUARD;
	return b;
}

static int
gok(const gbuf *b)
{
	for (size_t i = 0; i < GUARD; i++)
		if (b->base[i] != GUARD_BYTE)
			return 0;
	for (size_t i = 0; i < b->tail; i++)
		if (b->base[GUARD + b->bytes + i] != GUARD_BYTE)
			return 0;
	return 1;
}

static void
gfree(gbuf *b)
{
	free(b->base);
}

/* ---------------- norms and distances ---------------- */

/* gamma_k of the contracts, in double */
static double
gamma_k(int k)
{
	return RV_GAMMA(k);
}

/*
 * sqnorm_rows (double, bit-identical in every table), sqnorm_rows_f32
 * (within RV_GAMMA(RV_SQNORM_F32_DEPTH) of the exact norm: the bound the
 * driver's trust test relies on) and sqdist_rows (d2 against float64; kk
 * bit for bit sqnorm_rows_f32; pk within RV_GAMMA(RV_PK_F32_DEPTH)
 * sum |q - k| |q + k|; no output depending on which others are asked
 * for), on rows of mixed magnitudes, some equal to q.
 */
static void
test_sq_case(const test_table *t, size_t n, size_t d, size_t ld, int layout)
{
	size_t		kfloats = n ? (n - 1) * ld + d : 0;
	gbuf		qb = gnew(d * sizeof(float), layout),
				Kb = gnew(kfloats * sizeof(float), layout),
				d2b = gnew(n * sizeof(float), layout),
				kkb = gnew(n * sizeof(float), layout),
				pkb = gnew(n * sizeof(float), layout),
				nfb = gnew(n * sizeof(float), layout),
				nb = gnew(n * sizeof(double), layout);
	float	   *q = qb.p,
			   *K = Kb.p,
			   *d2 = d2b.p,
			   *kk = kkb.p,
			   *pk = pkb.p,
			   *nf = nfb.p;
	double	   *nn = nb.p;
	double	   *kk_s = malloc((n + 1) * sizeof(double));
	gbuf		kdb = gnew(n * sizeof(double), layout),
				kd2b = gnew(n * sizeof(double), layout),
				kd3b = gnew(n * sizeof(double), layout);
	double	   *kd = kdb.p,
			   *kd2 = kd2b.p,
			   *kd3 = kd3b.p;
	float	   *d2_kd = malloc((n + 1) * sizeof(float)),
			   *kk_kd = malloc((n + 1) * sizeof(float)),
			   *pk_kd = malloc((n + 1) * sizeof(float)),
			   *nf_kd = malloc((n + 1) * sizeof(float));
	int			ok_kd = 1;
	float	   *d2_only = malloc((n + 1) * sizeof(float)),
			   *d2_kk = malloc((n + 1) * sizeof(float)),
			   *kk_only = malloc((n + 1) * sizeof(float)),
			   *pk_only = malloc((n + 1) * sizeof(float));
	int			bit_norm = 1,
				bit_fused = 1,
				ok_d2 = 1,
				ok_nn = 1,
				ok_nf = 1,
				ok_pk = 1,
				same = 1;

	for (size_t j = 0; j < d; j++)
		q[j] = rand_range(-1.0f, 1.0f) * (j % 7 == 3 ? 1e3f : 1.0f);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < ld && i * ld + j < kfloats; j++)
			K[i * ld + j] = j < d ? (i % 5 == 2 ? q[j] : rand_range(-1.0f, 1.0f) * (j % 7 == 3 ? 1e3f : 1.0f)) *
				(i % 3 ? 1.0f : 1e-3f) : NAN;
	t->k->sqnorm_rows(K, n, d, ld, nn);
	t->k->sqnorm_rows_f32(K, n, d, ld, nf);
	t->k->sqdist_rows(q, K, n, d, ld, d2, kk, pk, NULL);
	t->k->sqdist_rows(q, K, n, d, ld, d2_only, NULL, NULL, NULL);
	t->k->sqdist_rows(q, K, n, d, ld, d2_kk, kk_only, NULL, NULL);
	t->k->sqdist_rows(q, K, n, d, ld, d2_only + 0, NULL, pk_only, NULL);
	/* the double norms from the same passes: bit for bit sqnorm_rows, nothing else changed */
	t->k->sqdist_rows(q, K, n, d, ld, d2_kd, kk_kd, NULL, kd);
	t->k->sqdist_rows(q, K, n, d, ld, d2_kd, NULL, pk_kd, kd2);
	t->k->sqdist_rows(q, K, n, d, ld, nf_kd, NULL, NULL, kd3);
	for (size_t i = 0; i < n; i++)
		ok_kd &= memcmp(&kd[i], &nn[i], sizeof(double)) == 0 && memcmp(&kd2[i], &nn[i], sizeof(double)) == 0 &&
			memcmp(&kd3[i], &nn[i], sizeof(double)) == 0 && memcmp(&d2_kd[i], &d2_only[i], sizeof(float)) == 0 &&
			memcmp(&kk_kd[i], &nf[i], sizeof(float)) == 0 && memcmp(&pk_kd[i], &pk_only[i], sizeof(float)) == 0 &&
			memcmp(&nf_kd[i], &d2_only[i], sizeof(float)) == 0;
	rv_kernels_scalar.sqnorm_rows(K, n, d, ld, kk_s);
	for (size_t i = 0; i < n; i++)
	{
		double		r2 = 0.0,
					rn = 0.0,
					rp = 0.0,
					mp = 0.0;

		for (size_t j = 0; j < d; j++)
		{
			double		kj = K[i * ld + j],
						e = (double) q[j] - kj;

			r2 += e * e;
			rn += kj * kj;
			rp += (double) q[j] * q[j] - kj * kj;
			mp += fabs(e) * fabs((double) q[j] + kj);
		}
		bit_norm &= memcmp(&nn[i], &kk_s[i], sizeof(double)) == 0;
		ok_nn &= fabs(nn[i] - rn) <= 1e-15 * rn * (1.0 + (double) d / 8.0);
		ok_nf &= fabs((double) nf[i] - rn) <= gamma_k(RV_SQNORM_F32_DEPTH) * rn;
		bit_fused &= memcmp(&kk[i], &nf[i], sizeof(float)) == 0 &&
			memcmp(&kk_only[i], &nf[i], sizeof(float)) == 0;
		ok_pk &= fabs((double) pk[i] - rp) <= gamma_k(RV_PK_F32_DEPTH) * mp &&
			memcmp(&pk[i], &pk_only[i], sizeof(float)) == 0;
		ok_d2 &= fabs((double) d2[i] - r2) <= 1e-6 * r2 * (1.0 + sqrt((double) d) / 4.0);
		same &= memcmp(&d2[i], &d2_only[i], sizeof(float)) == 0 &&
			memcmp(&d2[i], &d2_kk[i], sizeof(float)) == 0;
		if (i % 5 == 2 && i % 3)
			ok_d2 &= d2[i] == 0.0f && pk[i] == 0.0f;
	}
	check(bit_norm, "%s sqnorm_rows n=%zu d=%zu ld=%zu: not bit-identical to the scalar table", t->name, n, d, ld);
	check(ok_nn, "%s sqnorm_rows n=%zu d=%zu: off the float64 reference", t->name, n, d);
	check(ok_nf, "%s sqnorm_rows_f32 n=%zu d=%zu: outside RV_GAMMA(RV_SQNORM_F32_DEPTH)", t->name, n, d);
	check(bit_fused, "%s sqdist_rows n=%zu d=%zu: kk differs from sqnorm_rows_f32", t->name, n, d);
	check(ok_pk, "%s sqdist_rows n=%zu d=%zu: pk outside its bound (or depends on kk)", t->name, n, d);
	check(ok_d2, "%s sqdist_rows n=%zu d=%zu: d2 off the float64 reference (or q == k not 0)", t->name, n, d);
	check(same, "%s sqdist_rows n=%zu d=%zu: d2 depends on kk, pk != NULL", t->name, n, d);
	check(ok_kd && gok(&kdb) && gok(&kd2b) && gok(&kd3b),
		  "%s sq n=%zu d=%zu: double norms with the float ones differ from sqnorm_rows (or change them)",
		  t->name, n, d);
	check(gok(&d2b) && gok(&kkb) && gok(&pkb) && gok(&nfb) && gok(&nb),
		  "%s sq n=%zu d=%zu: wrote outside its output", t->name, n, d);
	gfree(&qb);
	gfree(&Kb);
	gfree(&d2b);
	gfree(&kkb);
	gfree(&pkb);
	gfree(&nfb);
	gfree(&nb);
	free(kk_s);
	free(d2_only);
	free(d2_kk);
	free(kk_only);
	free(pk_only);
	gfree(&kdb);
	gfree(&kd2b);
	gfree(&kd3b);
	free(d2_kd);
	free(kk_kd);
	free(pk_kd);
	free(nf_kd);
}

static void
test_sq(const test_table *t)
{
	static const size_t few[] = {1, 5, 9, 33};

	for (int layout = 0; layout < 2; layout++)
		for (size_t pad = 0; pad <= 3; pad += 3)
		{
			for (size_t a = 0; a < N_LENGTHS; a++)
				for (size_t b = 0; b < N_OF(few); b++)
				{
					test_sq_case(t, lengths[a], few[b] * 3 + 1, few[b] * 3 + 1 + pad, layout);
					test_sq_case(t, few[b], lengths[a], lengths[a] + pad, layout);
				}
			for (size_t d = 0; d <= 40; d++)
				test_sq_case(t, 11, d, d + pad, layout);
		}
}

/*
 * The worst case of RV_SQNORM_F32's bound is when every rounding goes the
 * same way: all-equal entries whose squares round up, in the longest
 * lanes.  The float norm must stay within the bound there too.
 */
static void
test_sq_worst(const test_table *t)
{
	size_t		ds[] = {128, 129, 1024, 4099, 65536};
	float		vals[] = {1.0f + 0x1p-12f, 1.1f, 0.7071068f, 3.3333333f};

	for (size_t a = 0; a < N_OF(ds); a++)
		for (size_t b = 0; b < N_OF(vals); b++)
		{
			size_t		d = ds[a];
			float	   *x = malloc(d * sizeof(float)),
						nf;
			double		rn = 0.0;

			for (size_t j = 0; j < d; j++)
			{
				x[j] = vals[b];
				rn += (double) x[j] * x[j];
			}
			t->k->sqnorm_rows_f32(x, 1, d, d, &nf);
			check(fabs((double) nf - rn) <= gamma_k(RV_SQNORM_F32_DEPTH) * rn,
				  "%s sqnorm_rows_f32 d=%zu x=%.9g: %.9g vs %.17g beyond the bound", t->name, d, vals[b], nf, rn);
			free(x);
		}
}

/* ---------------- Poincare: gaps, logits, log0 ---------------- */

static void
test_gaps_case(const test_table *t, size_t n, float c, int layout)
{
	gbuf		ab = gnew(n * sizeof(float), layout);
	float	   *a = ab.p;
	float	   *x = calloc(n + 1, sizeof(float)),
			   *ai = calloc(n + 1, sizeof(float));
	float		xmax = (float) (0.7 / c);
	size_t		want = 0,
				got;
	int			ok = 1;

	for (size_t i = 0; i < n; i++)
	{
		x[i] = i % 13 == 5 ? NAN : i % 11 == 3 ? xmax : i % 11 == 4 ? nextafterf(xmax, INFINITY)
			: (float) (rand01() * (i % 3 ? 0.8 : 1.5) / c);
		want += !(x[i] <= xmax);
	}
	got = t->k->ball_gaps(x, n, c, xmax, a);
	for (size_t i = 0; i < n; i++)
	{
		if (x[i] <= xmax)
		{
			float		r = (float) (1.0 - (double) c * (double) x[i]);

			ok &= memcmp(&a[i], &r, sizeof(float)) == 0;
		}
		else
			ok &= isnan(a[i]);
	}
	check(ok && got == want, "%s ball_gaps n=%zu c=%g: wrong gaps or count (%zu, want %zu)", t->name, n, c,
		  got, want);
	check(gok(&ab), "%s ball_gaps n=%zu: wrote outside a", t->name, n);
	memcpy(ai, x, n * sizeof(float));
	t->k->ball_gaps(ai, n, c, xmax, ai);
	check(n == 0 || memcmp(ai, a, n * sizeof(float)) == 0, "%s ball_gaps n=%zu: in place differs", t->name, n);
	gfree(&ab);
	free(x);
	free(ai);
}

/* ball_gaps_f64: the ball test's arithmetic, bit for bit, NaN outside or not finite */
static void
test_gaps64_case(const test_table *t, size_t n, float c, int layout)
{
	gbuf		ab = gnew(n * sizeof(float), layout),
				xb = gnew(n * sizeof(float), layout);
	float	   *a = ab.p,
			   *xf = xb.p,
			   *a2 = calloc(n + 1, sizeof(float));
	double	   *kd = calloc(n + 1, sizeof(double));
	int			ok = 1;

	for (size_t i = 0; i < n; i++)
		kd[i] = i % 13 == 5 ? NAN : i % 17 == 4 ? INFINITY : i % 11 == 3 ? 1.0 / c
			: i % 11 == 4 ? nextafter(1.0 / c, 0.0) : rand01() * 1.2 / c;
	t->k->ball_gaps_f64(kd, n, c, a, xf);
	t->k->ball_gaps_f64(kd, n, c, a2, NULL);
	for (size_t i = 0; i < n; i++)
	{
		double		g = 1.0 - (double) c * kd[i];
		float		want = (float) g,
					wx = (float) kd[i];

		if (g > 0.0)
			ok &= memcmp(&a[i], &want, sizeof(float)) == 0 && isfinite(kd[i]);
		else
			ok &= isnan(a[i]);
		ok &= memcmp(&a2[i], &a[i], sizeof(float)) == 0;
		ok &= memcmp(&xf[i], &wx, sizeof(float)) == 0 || (isnan(wx) && isnan(xf[i]));
	}
	check(ok && gok(&ab) && gok(&xb), "%s ball_gaps_f64 n=%zu c=%g", t->name, n, c);
	gfree(&ab);
	gfree(&xb);
	free(a2);
	free(kd);
}

/*
 * poincare_logits from d2 and gaps of real points (some gaps NaN or <= 0,
 * which must give NaN), against the formula in double from the same
 * float inputs; d2 = 0 must give +0.
 */
static void
test_plogits_case(const test_table *t, size_t n, float c, int layout)
{
	gbuf		sb = gnew(n * sizeof(float), layout);
	float	   *s = sb.p;
	float	   *d2 = calloc(n + 1, sizeof(float)),
			   *a = calloc(n + 1, sizeof(float));
	double		cd = c;
	float		aq = (float) (1.0 - 0.3),
				m,
				want_max = -INFINITY;
	int			ok = 1,
				nan_ok = 1,
				zero_ok = 1,
				any_nan = 0;
	double		worst = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		a[i] = i % 7 == 0 ? (float) (1e-7 * (1.0 + rand01())) : i % 17 == 3 ? 0.0f : i % 19 == 4 ? NAN
			: (float) (0.05 + 0.95 * rand01());
		d2[i] = i % 9 == 1 ? 0.0f : (float) (rand01() * (i % 4 == 0 ? 1e-6 : 4.0) / cd);
	}
	m = t->k->poincare_logits(d2, a, n, aq, c, s);
	for (size_t i = 0; i < n; i++)
	{
		double		ref;

		if (!(a[i] > 0.0f))
		{
			nan_ok &= isnan(s[i]);
			any_nan = 1;
			continue;
		}
		ref = -2.0 * asinh(sqrt(cd * d2[i] / ((double) aq * a[i]))) / sqrt(cd);
		if (d2[i] == 0.0f)
			zero_ok &= s[i] == 0.0f && !signbit(s[i]);
		if (s[i] > want_max)
			want_max = s[i];
		if (!(fabs(s[i] - ref) <= 2e-6 * fabs(ref) + 1e-30))
			ok = 0;
		if (ref != 0.0 && fabs(s[i] - ref) / fabs(ref) > worst)
			worst = fabs(s[i] - ref) / fabs(ref);
	}
	check(ok, "%s poincare_logits n=%zu c=%g: off the float64 reference by %.3g relative", t->name, n, c, worst);
	check(nan_ok, "%s poincare_logits n=%zu c=%g: a gap <= 0 or NaN is not NaN", t->name, n, c);
	check(zero_ok, "%s poincare_logits n=%zu c=%g: d2 = 0 is not +0", t->name, n, c);
	check(n == 0 || any_nan || m == want_max, "%s poincare_logits n=%zu: returned max %.9g, want %.9g",
		  t->name, n, m, want_max);
	check(gok(&sb), "%s poincare_logits n=%zu: wrote outside s", t->name, n);
	gfree(&sb);
	free(d2);
	free(a);
}

static void
test_log0_case(const test_table *t, size_t n, float c, int layout)
{
	gbuf		fb = gnew(n * sizeof(float), layout);
	float	   *f = fb.p;
	float	   *vv = calloc(n + 1, sizeof(float)),
			   *a = calloc(n + 1, sizeof(float)),
			   *g = calloc(n + 1, sizeof(float));
	double		cd = c;
	int			ok = 1;

	for (size_t i = 0; i < n; i++)
	{
		/* the gap from the double norm, rounded, as the driver forms it */
		double		x = (i % 9 == 0 ? 0.0 : i % 7 == 0 ? 1.0 - 1e-7 * rand01() : i % 11 == 0 ? 1.5 : rand01()) / cd;

		vv[i] = (float) x;
		a[i] = 1.0 - cd * x > 0.0 ? (float) (1.0 - cd * x) : (i % 2 ? NAN : -0.5f);
	}
	t->k->poincare_log0(vv, a, n, c, f);
	for (size_t i = 0; i < n; i++)
	{
		double		r = sqrt(cd * vv[i]),
					ar = a[i];

		if (!(a[i] > 0.0f))
			ok &= isnan(f[i]);
		else if (vv[i] == 0.0f)
			ok &= f[i] == 1.0f;
		else
			/* artanh(r) from the same gap: log1p(2 r (1 + r) / a) / 2 */
			ok &= fabs(f[i] - log1p(2.0 * r * (1.0 + r) / ar) / (2.0 * r)) <= 2e-6 * (atanh(r < 1.0 ? r : 0.5) / r + 1.0);
	}
	check(ok, "%s poincare_log0 n=%zu c=%g", t->name, n, c);
	check(gok(&fb), "%s poincare_log0 n=%zu: wrote outside f", t->name, n);
	memcpy(g, vv, n * sizeof(float));
	t->k->poincare_log0(g, a, n, c, g);
	check(n == 0 || memcmp(g, f, n * sizeof(float)) == 0, "%s poincare_log0 n=%zu: in place differs", t->name, n);
	gfree(&fb);
	free(vv);
	free(a);
	free(g);
}

static void
test_mul_case(const test_table *t, size_t n, int layout)
{
	gbuf		ob = gnew(n * sizeof(float), layout);
	float	   *o = ob.p;
	float	   *x = calloc(n + 1, sizeof(float)),
			   *y = calloc(n + 1, sizeof(float));
	int			ok = 1;

	for (size_t i = 0; i < n; i++)
	{
		x[i] = rand_range(-3.0f, 3.0f);
		y[i] = rand_range(-3.0f, 3.0f);
	}
	t->k->mul(x, y, n, o);
	for (size_t i = 0; i < n; i++)
		ok &= o[i] == x[i] * y[i];
	t->k->mul(x, y, n, x);
	for (size_t i = 0; i < n; i++)
		ok &= x[i] == o[i];
	check(ok && gok(&ob), "%s mul n=%zu", t->name, n);
	gfree(&ob);
	free(x);
	free(y);
}

/* ---------------- Lorentz: chord, logits, time coordinates ---------------- */

/*
 * lorentz_chord on real points (pk from sqdist_rows): every trusted row's
 * t^2 is within RV_HYP_TOL (d2 - t^2) of the exact (q0 - k0)^2 (the
 * bound the driver relies on), untrusted rows are NaN and counted, and
 * well-conditioned rows (points near the origin, or of similar norms) are
 * mostly trusted.  far: points out to |x| ~ 1e3 / sqrt(c), some in line
 * with the origin.
 */
static void
test_chord_case(const test_table *t, size_t n, size_t d, float c, int far, int layout)
{
	gbuf		tb = gnew(n * sizeof(float), layout);
	float	   *tt = tb.p;
	float	   *q = malloc(d * sizeof(float)),
			   *K = malloc((n * d + 1) * sizeof(float)),
			   *d2 = malloc((n + 1) * sizeof(float)),
			   *pk = malloc((n + 1) * sizeof(float));
	double		cd = c,
				qq = 0.0,
				scale = far ? 1e3 / sqrt(cd) : 0.5 / sqrt(cd);
	size_t		want = 0,
				got,
				trusted = 0;
	int			ok = 1;

	for (size_t j = 0; j < d; j++)
	{
		q[j] = (float) (scale * (2.0 * rand01() - 1.0) / sqrt((double) d));
		qq += (double) q[j] * q[j];
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < d; j++)
			K[i * d + j] = far && i % 3 == 0 ? (float) (q[j] * (1.0 + 1e-3 * (double) i))
				: (float) (scale * (2.0 * rand01() - 1.0) / sqrt((double) d));
	t->k->sqdist_rows(q, K, n, d, d, d2, NULL, pk, NULL);
	got = t->k->lorentz_chord(d2, pk, n, qq, c, tt);
	for (size_t i = 0; i < n; i++)
	{
		double		kk = 0.0,
					ts,
					y;

		if (isnan(tt[i]))
		{
			want++;
			continue;
		}
		trusted++;
		for (size_t j = 0; j < d; j++)
			kk += (double) K[i * d + j] * K[i * d + j];
		ts = (qq - kk) / (sqrt(1.0 / cd + qq) + sqrt(1.0 / cd + kk));
		y = (double) d2[i] - (double) tt[i] * tt[i];
		ok &= fabs((double) tt[i] * tt[i] - ts * ts) <= RV_HYP_TOL * y * (1.0 + 1e-6) + 1e-300;
	}
	check(ok, "%s lorentz_chord n=%zu d=%zu c=%g far=%d: a trusted t off its bound", t->name, n, d, c, far);
	check(got == want, "%s lorentz_chord n=%zu: counted %zu, %zu are NaN", t->name, n, got, want);
	check(far || n < 8 || trusted * 10 >= n * 9, "%s lorentz_chord n=%zu d=%zu c=%g: only %zu trusted",
		  t->name, n, d, c, trusted);
	check(gok(&tb), "%s lorentz_chord n=%zu: wrote outside t", t->name, n);
	gfree(&tb);
	free(q);
	free(K);
	free(d2);
	free(pk);
}

/* lorentz_chord_f64: the double formula, bit for bit, in every table */
static void
test_chord64_case(const test_table *t, size_t n, float c, int layout)
{
	gbuf		tb = gnew(n * sizeof(float), layout);
	float	   *tt = tb.p;
	double	   *kd = calloc(n + 1, sizeof(double));
	double		ic = 1.0 / (double) c,
				qq = 3.0 * rand01() / c,
				q0 = sqrt(ic + qq);
	int			ok = 1;

	for (size_t i = 0; i < n; i++)
		kd[i] = i % 17 == 3 ? NAN : i % 19 == 5 ? INFINITY : rand01() * (i % 3 ? 1e6 : 1e-3) / c;
	t->k->lorentz_chord_f64(kd, n, qq, c, tt);
	for (size_t i = 0; i < n; i++)
	{
		float		want = (float) ((qq - kd[i]) / (q0 + sqrt(ic + kd[i])));

		ok &= memcmp(&want, &tt[i], sizeof(float)) == 0 || (isnan(want) && isnan(tt[i]));
	}
	check(ok && gok(&tb), "%s lorentz_chord_f64 n=%zu c=%g", t->name, n, c);
	gfree(&tb);
	free(kd);
}

static void
test_llogits_case(const test_table *t, size_t n, float c, int layout)
{
	gbuf		sb = gnew(n * sizeof(float), layout);
	float	   *s = sb.p;
	float	   *d2 = calloc(n + 1, sizeof(float)),
			   *tt = calloc(n + 1, sizeof(float));
	double		cd = c;
	float		m,
				want_max = -INFINITY;
	int			ok = 1,
				flags_ok = 1,
				zero_ok = 1,
				any_nan = 0;
	double		worst = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		d2[i] = i % 9 == 1 ? 0.0f : (float) (rand01() * (i % 4 == 0 ? 1e-6 : 900.0) / cd);
		/* t^2 <= d2, close to it (nearly lightlike) for some rows */
		tt[i] = i % 13 == 6 ? NAN : (float) (sqrt((double) d2[i]) * (i % 6 == 1 ? 1.0 - 1e-4 * rand01() : rand01()) *
											 (i % 2 ? 1.0 : -1.0));
	}
	m = t->k->lorentz_logits(d2, tt, n, c, s);
	for (size_t i = 0; i < n; i++)
	{
		double		y = (double) d2[i] - (double) tt[i] * tt[i],
					ref;

		if (isnan(tt[i]))
		{
			ok &= isnan(s[i]);
			any_nan = 1;
			continue;
		}
		if (s[i] == INFINITY)
		{
			/* flagged: only where the float y really cancels */
			flags_ok &= !((double) d2[i] < 2.0 * y);
			continue;
		}
		flags_ok &= !((double) d2[i] > 8.0 * y);
		ref = -2.0 * asinh(sqrt(cd * (y > 0 ? y : 0)) / 2.0) / sqrt(cd);
		if (d2[i] == 0.0f)
			zero_ok &= s[i] == 0.0f && !signbit(s[i]);
		if (s[i] > want_max)
			want_max = s[i];
		if (!(fabs(s[i] - ref) <= 2e-6 * fabs(ref) + 1e-30))
			ok = 0;
		if (ref != 0.0 && fabs(s[i] - ref) / fabs(ref) > worst)
			worst = fabs(s[i] - ref) / fabs(ref);
	}
	for (size_t i = 0; i < n; i++)
		if (s[i] > want_max)
			want_max = s[i];
	check(ok, "%s lorentz_logits n=%zu c=%g: off the float64 reference by %.3g relative", t->name, n, c, worst);
	check(flags_ok, "%s lorentz_logits n=%zu c=%g: ill-conditioned rows flagged wrongly", t->name, n, c);
	check(zero_ok, "%s lorentz_logits n=%zu c=%g: d2 = 0 is not +0", t->name, n, c);
	check(n == 0 || any_nan || m == want_max, "%s lorentz_logits n=%zu: returned max %.9g, want %.9g",
		  t->name, n, m, want_max);
	check(gok(&sb), "%s lorentz_logits n=%zu: wrote outside s", t->name, n);
	gfree(&sb);
	free(d2);
	free(tt);
}

static void
test_time_case(const test_table *t, size_t n, float c)
{
	float	   *w = calloc(n + 1, sizeof(float)),
			   *vv = calloc(n + 1, sizeof(float));
	float		icf = (float) (1.0 / (double) c);
	double		ref = 0.0,
				got,
				sc;

	for (size_t i = 0; i < n; i++)
	{
		w[i] = rand_range(0.0f, 1.0f);
		vv[i] = (float) (rand01() * 1e6 / c);
		ref += (double) w[i] * (double) sqrtf(icf + vv[i]);
	}
	got = t->k->lorentz_time(w, vv, n, c);
	sc = rv_kernels_scalar.lorentz_time(w, vv, n, c);
	check(fabs(got - ref) <= 1e-13 * ref && fabs(got - sc) <= 1e-13 * ref,
		  "%s lorentz_time n=%zu c=%g: %.17g, float64 %.17g", t->name, n, c, got, ref);
	free(w);
	free(vv);
}

static void
test_logits(const test_table *t)
{
	static const float cs[] = {1e-4f, 1.0f, 37.0f, 1e4f};

	for (int layout = 0; layout < 2; layout++)
		for (size_t ci = 0; ci < N_OF(cs); ci++)
		{
			for (size_t a = 0; a < N_LENGTHS; a++)
			{
				test_gaps_case(t, lengths[a], cs[ci], layout);
				test_gaps64_case(t, lengths[a], cs[ci], layout);
				test_plogits_case(t, lengths[a], cs[ci], layout);
				test_log0_case(t, lengths[a], cs[ci], layout);
				test_mul_case(t, lengths[a], layout);
				test_llogits_case(t, lengths[a], cs[ci], layout);
				test_chord64_case(t, lengths[a], cs[ci], layout);
				test_chord_case(t, lengths[a], 1 + a % 40, cs[ci], 0, layout);
				test_chord_case(t, lengths[a], 1 + (a * 7) % 130, cs[ci], 1, layout);
				test_time_case(t, lengths[a], cs[ci]);
			}
			for (size_t n = 0; n <= 40; n++)
			{
				test_gaps_case(t, n, cs[ci], layout);
				test_gaps64_case(t, n, cs[ci], layout);
				test_plogits_case(t, n, cs[ci], layout);
				test_log0_case(t, n, cs[ci], layout);
				test_llogits_case(t, n, cs[ci], layout);
				test_chord64_case(t, n, cs[ci], layout);
				test_chord_case(t, n, 16, cs[ci], n % 2, layout);
				test_time_case(t, n, cs[ci]);
			}
		}
}

/* ---------------- weighted_sum_sqnorm ---------------- */

/*
 * The shapes both weighted sums (sqnorm and f64) run over: every length
 * but 0 as n against a few column counts, every length as dv against a
 * few row counts, and dv 1..40 over 7 rows; rows packed and 5 floats
 * apart.
 */
typedef void (*ws_case) (const test_table *t, size_t n, size_t dv, size_t ldv, int layout);

static void
sweep_ws(const test_table *t, ws_case one)
{
	static const size_t few[] = {1, 2, 9, 33};

	for (int layout = 0; layout < 2; layout++)
		for (size_t pad = 0; pad <= 5; pad += 5)
		{
			for (size_t a = 0; a < N_LENGTHS; a++)
				for (size_t b = 0; b < N_OF(few); b++)
				{
					if (lengths[a] > 0)
						one(t, lengths[a], few[b] * 5, few[b] * 5 + pad, layout);
					one(t, few[b], lengths[a], lengths[a] + pad, layout);
				}
			for (size_t dv = 1; dv <= 40; dv++)
				one(t, 7, dv, dv + pad, layout);
		}
}

static void
test_wsn_case(const test_table *t, size_t n, size_t dv, size_t ldv, int layout)
{
	gbuf		ob = gnew(dv * sizeof(float), layout),
				vb = gnew(n * sizeof(float), layout);
	float	   *out = ob.p,
			   *vv = vb.p;
	float	   *o2 = malloc((dv + 1) * sizeof(float)),
			   *nf = malloc((n + 1) * sizeof(float));
	float	   *w = malloc((n + 1) * sizeof(float));
	size_t		vfloats = n ? (n - 1) * ldv + dv : 0;
	float	   *V = malloc((vfloats + 1) * sizeof(float));
	int			ok = 1;

	for (size_t i = 0; i < n; i++)
		w[i] = rand_range(0.0f, 1.0f);
	for (size_t i = 0; i < vfloats; i++)
		V[i] = i % ldv < dv ? rand_range(-2.0f, 2.0f) : NAN;
	for (size_t j = 0; j < dv; j++)
		out[j] = o2[j] = 0.25f * (float) j;
	t->k->weighted_sum_sqnorm(w, V, n, dv, ldv, out, vv);
	t->k->weighted_sum_sqnorm(w, V, n, dv, ldv, o2, NULL);
	t->k->sqnorm_rows_f32(V, n, dv, ldv, nf);
	for (size_t j = 0; j < dv; j++)
	{
		double		ref = 0.25 * (double) j,
					mag = fabs(ref);

		for (size_t i = 0; i < n; i++)
		{
			ref += (double) w[i] * V[i * ldv + j];
			mag += fabs((double) w[i] * V[i * ldv + j]);
		}
		ok &= fabs(out[j] - ref) <= 1e-6 * mag * (1.0 + sqrt((double) n) / 4.0);
	}
	check(ok, "%s weighted_sum_sqnorm n=%zu dv=%zu: off the float64 reference", t->name, n, dv);
	check(dv == 0 || memcmp(out, o2, dv * sizeof(float)) == 0,
		  "%s weighted_sum_sqnorm n=%zu dv=%zu: the sum depends on vv", t->name, n, dv);
	check(n == 0 || memcmp(vv, nf, n * sizeof(float)) == 0,
		  "%s weighted_sum_sqnorm n=%zu dv=%zu: norms differ from sqnorm_rows_f32", t->name, n, dv);
	check(gok(&ob) && gok(&vb), "%s weighted_sum_sqnorm n=%zu dv=%zu: wrote outside", t->name, n, dv);
	gfree(&ob);
	gfree(&vb);
	free(o2);
	free(nf);
	free(w);
	free(V);
}

static void
test_wsn(const test_table *t)
{
	sweep_ws(t, test_wsn_case);
}

/* ---------------- weighted_sum_f64 ---------------- */

static void
test_wsum_case(const test_table *t, size_t n, size_t dv, size_t ldv, int layout)
{
	gbuf		ob = gnew(dv * sizeof(double), layout);
	double	   *out = ob.p;
	float	   *w = malloc((n + 1) * sizeof(float));
	float	   *V = malloc(((n ? (n - 1) * ldv + dv : 0) + 1) * sizeof(float));
	int			ok = 1;

	for (size_t i = 0; i < n; i++)
		w[i] = rand_range(-0.25f, 1.0f);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < ldv && i * ldv + j < (n - 1) * ldv + dv; j++)
			V[i * ldv + j] = j < dv ? rand_range(-1e3f, 1e3f) : NAN;
	for (size_t j = 0; j < dv; j++)
		out[j] = 0.5 * j;
	t->k->weighted_sum_f64(w, V, n, dv, ldv, out);
	for (size_t j = 0; j < dv; j++)
	{
		double		ref = 0.5 * j,
					mag = fabs(ref);

		for (size_t i = 0; i < n; i++)
		{
			ref += (double) w[i] * V[i * ldv + j];
			mag += fabs((double) w[i] * V[i * ldv + j]);
		}
		ok &= fabs(out[j] - ref) <= 1e-14 * mag * (1.0 + n / 64.0);
	}
	check(ok, "%s weighted_sum_f64 n=%zu dv=%zu ldv=%zu", t->name, n, dv, ldv);
	check(gok(&ob), "%s weighted_sum_f64 n=%zu dv=%zu: wrote outside out", t->name, n, dv);
	gfree(&ob);
	free(w);
	free(V);
}

static void
test_wsum(const test_table *t)
{
	sweep_ws(t, test_wsum_case);
}

/* ---------------- log1p ---------------- */

/*
 * Accuracy against the correctly rounded (float) log1p((double) x): a
 * dense sweep of [-0.999, 4], a log-spaced one of [1e-30, 1e38], and the
 * specials in every lane position of a short vector.
 */
static void
test_log1p(const test_table *t)
{
	size_t		dense = 2000001,
				logs = 1000001,
				count = dense + logs;
	float	   *x = malloc(count * sizeof(float)),
			   *got = malloc(count * sizeof(float)),
			   *sc = malloc(count * sizeof(float));
	int64_t		max_ulp = 0,
				max_ulp_s = 0;
	size_t		worst = 0;

	for (size_t i = 0; i < dense; i++)
		x[i] = (float) (-0.999 + 4.999 * (double) i / (dense - 1));
	for (size_t i = 0; i < logs; i++)
		x[dense + i] = (float) pow(10.0, -30.0 + 68.0 * (double) i / (logs - 1));
	t->k->log1p(x, count, got);
	rv_kernels_scalar.log1p(x, count, sc);
	for (size_t i = 0; i < count; i++)
	{
		int64_t		u = ulp_distance(got[i], (float) log1p((double) x[i]));
		int64_t		us = ulp_distance(got[i], sc[i]);

		if (u > max_ulp)
		{
			max_ulp = u;
			worst = i;
		}
		if (us > max_ulp_s)
			max_ulp_s = us;
	}
	printf("%s: log1p max error %lld ulp (at x = %.9g), %lld ulp from the scalar table\n", t->name,
		   (long long) max_ulp, x[worst], (long long) max_ulp_s);
	check(max_ulp <= 2, "%s log1p: %lld ulp at x=%.9g", t->name, (long long) max_ulp, x[worst]);
	check(max_ulp_s <= 2, "%s log1p: %lld ulp from the scalar table", t->name, (long long) max_ulp_s);
	{
		const float specials[] = {NAN, INFINITY, -1.0f, -2.0f, -INFINITY, 0.0f, -0.0f, 0x1p-149f, FLT_MAX};
		float		v[37],
					r[37];

		for (size_t e = 0; e < N_OF(specials); e++)
		{
			int			ok = 1;

			for (size_t pos = 0; pos < 37; pos++)
			{
				float		want;

				for (size_t i = 0; i < 37; i++)
					v[i] = 0.5f;
				v[pos] = specials[e];
				t->k->log1p(v, 37, r);
				want = specials[e] == -1.0f ? -INFINITY : specials[e] < -1.0f ? NAN
					: (float) log1p((double) specials[e]);
				ok &= isnan(want) ? isnan(r[pos]) : (r[pos] == want);
				for (size_t i = 0; i < 37; i++)
					ok &= i == pos || ulp_distance(r[i], (float) log1p(0.5)) <= 2;
			}
			check(ok, "%s log1p(%.9g) in some lane", t->name, specials[e]);
		}
	}
	/* in place */
	{
		float		v[19],
					r[19];

		for (size_t i = 0; i < 19; i++)
			v[i] = (float) i * 0.37f;
		t->k->log1p(v, 19, r);
		t->k->log1p(v, 19, v);
		check(memcmp(v, r, sizeof v) == 0, "%s log1p in place differs", t->name);
	}
	free(x);
	free(got);
	free(sc);
}

int
main(void)
{
	static const kernel_test tests[] = {test_sq, test_sq_worst, test_logits, test_wsn, test_wsum, test_log1p};

	return run_kernel_tests(tests, N_OF(tests));
}
