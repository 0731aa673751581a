/*
 * test_kernels_hyperbolic.c: the primitives of hyperbolic.c in every table
 * this build and CPU can run, against the scalar table and float64 over
 * lengths that exercise every tail, with guard zones in front of and
 * behind each output (and, in the second layout, outputs that end
 * exactly at the buffer end, for AddressSanitizer).
 *
 * sqnorm_rows (and the norms of sqdist_rows) must be bit-identical in
 * every table (RV_SQNORM); log1p's accuracy is swept and its max ulp
 * error printed.  Prints "N passed, M failed".
 */
#include <float.h>
#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv_kernels.h"

static const size_t lengths[] = {0, 1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 127, 128, 1000, 4099};
#define N_LENGTHS (sizeof lengths / sizeof lengths[0])
#define N_OF(a) (sizeof (a) / sizeof (a)[0])

static unsigned long n_passed, n_failed;

static void check(int ok, const char *fmt,...) __attribute__((format(printf, 2, 3)));

static void
check(int ok, const char *fmt,...)
{
	va_list		ap;

	if (ok)
	{
		n_passed++;
		return;
	}
	n_failed++;
	printf("FAIL: ");
	va_start(ap, fmt);
	vprintf(fmt, ap);
	va_end(ap);
	printf("\n");
}

typedef struct test_table
{
	const char *name;
	const rv_kernels *k;
} test_table;

static uint64_t rng_state = 0x2545F4914F6CDD1Du;

static double
rand01(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double) ((rng_state * 2685821657736338717u) >> 11) * 0x1p-53;
}

static float
rand_range(float lo, float hi)
{
	return (float) (lo + (hi - lo) * rand01());
}

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
	b.base = malloc(GUARD + bytes + b.tail + 1);
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

static int64_t
ulp_distance(float a, float b)
{
	int32_t		ia, ib;
	int64_t		va, vb;

	memcpy(&ia, &a, sizeof ia);
	memcpy(&ib, &b, sizeof ib);
	va = ia < 0 ? -(int64_t) (ia & 0x7fffffff) : ia;
	vb = ib < 0 ? -(int64_t) (ib & 0x7fffffff) : ib;
	return va > vb ? va - vb : vb - va;
}

/* ---------------- sqnorm_rows and sqdist_rows ---------------- */

static void
test_sq_case(const test_table *t, size_t n, size_t d, size_t ld, int layout)
{
	gbuf		qb = gnew(d * sizeof(float), layout),
				Kb = gnew((n ? (n - 1) * ld + d : 0) * sizeof(float), layout),
				d2b = gnew(n * sizeof(float), layout),
				kkb = gnew(n * sizeof(double), layout),
				nb = gnew(n * sizeof(double), layout);
	float	   *q = qb.p,
			   *K = Kb.p,
			   *d2 = d2b.p;
	double	   *kk = kkb.p,
			   *nn = nb.p;
	double	   *kk_s = malloc((n + 1) * sizeof(double));
	float	   *d2_only = malloc((n + 1) * sizeof(float));
	int			bit_norm = 1,
				bit_fused = 1,
				ok_d2 = 1,
				ok_nn = 1,
				same_d2 = 1;

	for (size_t j = 0; j < d; j++)
		q[j] = rand_range(-1.0f, 1.0f);
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < ld && i * ld + j < Kb.bytes / sizeof(float); j++)
			K[i * ld + j] = j < d ? (i % 5 == 2 ? q[j] : rand_range(-1.0f, 1.0f)) * (i % 3 ? 1.0f : 1e-3f) : NAN;
	t->k->sqnorm_rows(K, n, d, ld, nn);
	t->k->sqdist_rows(q, K, n, d, ld, d2, kk);
	t->k->sqdist_rows(q, K, n, d, ld, d2_only, NULL);
	rv_kernels_scalar.sqnorm_rows(K, n, d, ld, kk_s);
	for (size_t i = 0; i < n; i++)
	{
		double		r2 = 0.0,
					rn = 0.0;

		for (size_t j = 0; j < d; j++)
		{
			double		e = (double) q[j] - K[i * ld + j];

			r2 += e * e;
			rn += (double) K[i * ld + j] * K[i * ld + j];
		}
		bit_norm &= memcmp(&nn[i], &kk_s[i], sizeof(double)) == 0;
		bit_fused &= memcmp(&kk[i], &nn[i], sizeof(double)) == 0;
		ok_nn &= fabs(nn[i] - rn) <= 1e-15 * rn * (1.0 + (double) d / 8.0);
		ok_d2 &= fabs((double) d2[i] - r2) <= 1e-6 * r2 * (1.0 + sqrt((double) d) / 4.0);
		same_d2 &= memcmp(&d2[i], &d2_only[i], sizeof(float)) == 0;
		if (i % 5 == 2 && i % 3)
			ok_d2 &= d2[i] == 0.0f;
	}
	check(bit_norm, "%s sqnorm_rows n=%zu d=%zu ld=%zu: not bit-identical to the scalar table", t->name, n, d, ld);
	check(bit_fused, "%s sqdist_rows n=%zu d=%zu: norms differ from sqnorm_rows", t->name, n, d);
	check(ok_nn, "%s sqnorm_rows n=%zu d=%zu: off the float64 reference", t->name, n, d);
	check(ok_d2, "%s sqdist_rows n=%zu d=%zu: d2 off the float64 reference (or q == k not 0)", t->name, n, d);
	check(same_d2, "%s sqdist_rows n=%zu d=%zu: d2 depends on kk != NULL", t->name, n, d);
	check(gok(&d2b) && gok(&kkb) && gok(&nb), "%s sq n=%zu d=%zu: wrote outside its output", t->name, n, d);
	gfree(&qb);
	gfree(&Kb);
	gfree(&d2b);
	gfree(&kkb);
	gfree(&nb);
	free(kk_s);
	free(d2_only);
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

/* ---------------- logits ---------------- */

/*
 * poincare_logits and lorentz_logits from d2 and kk of real points (some
 * Poincare keys outside the ball, which must give NaN), against the same
 * formulas in double from the same d2 and kk.
 */
static void
test_logits_case(const test_table *t, size_t n, float c, int lorentz, int layout)
{
	gbuf		sb = gnew(n * sizeof(float), layout);
	float	   *s = sb.p;
	float	   *d2 = calloc(n + 1, sizeof(float));
	double	   *kk = calloc(n + 1, sizeof(double));
	double		cd = c,
				qq = lorentz ? 2.0 / cd : 0.3 / cd,
				aq = 1.0 - cd * qq;
	float		m,
				want_max = -INFINITY;
	int			ok = 1,
				nan_ok = 1,
				flags_ok = 1;
	double		worst = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		/* Poincare: c kk in [0, 1.1) with some at the boundary; Lorentz: |k| up to 30 / sqrt(c) */
		double		r = lorentz ? 900.0 * rand01() : (i % 7 == 0 ? 1.0 - 1e-7 * rand01() : 1.1 * rand01());

		kk[i] = r / cd;
		d2[i] = (float) (rand01() * (i % 4 == 0 ? 1e-6 : 4.0) / cd);
		if (lorentz && i % 6 == 1)	/* nearly lightlike: d2 close to (q0 - k0)^2 */
		{
			double		q0 = sqrt(1.0 / cd + qq), k0 = sqrt(1.0 / cd + kk[i]), tt = (qq - kk[i]) / (q0 + k0);

			d2[i] = (float) (tt * tt * (1.0 + 1e-4));
		}
	}
	m = lorentz ? t->k->lorentz_logits(d2, kk, n, qq, c, s) : t->k->poincare_logits(d2, kk, n, aq, c, s);
	for (size_t i = 0; i < n; i++)
	{
		double		ref,
					a = 1.0 - cd * kk[i];

		if (lorentz)
		{
			double		q0 = sqrt(1.0 / cd + qq), k0 = sqrt(1.0 / cd + kk[i]), tt = (qq - kk[i]) / (q0 + k0);
			double		y = (double) d2[i] - tt * tt;

			if (s[i] == INFINITY)
			{
				/* flagged: only where the float y really cancels */
				flags_ok &= !((double) d2[i] < 2.0 * y);
				continue;
			}
			flags_ok &= !((double) d2[i] > 8.0 * y);
			ref = -2.0 * asinh(sqrt(cd * (y > 0 ? y : 0)) / 2.0) / sqrt(cd);
		}
		else
		{
			if (!(a > 0.0))
			{
				nan_ok &= isnan(s[i]);
				continue;
			}
			ref = -2.0 * asinh(sqrt(cd * d2[i] / (aq * a))) / sqrt(cd);
		}
		if (s[i] > want_max)
			want_max = s[i];
		if (!(fabs(s[i] - ref) <= 2e-6 * fabs(ref) + 1e-30))
			ok = 0;
		if (ref != 0.0 && fabs(s[i] - ref) / fabs(ref) > worst)
			worst = fabs(s[i] - ref) / fabs(ref);
	}
	if (lorentz)
		for (size_t i = 0; i < n; i++)
			if (s[i] > want_max)
				want_max = s[i];
	check(ok, "%s %s_logits n=%zu c=%g: off the float64 reference by %.3g relative", t->name,
		  lorentz ? "lorentz" : "poincare", n, c, worst);
	check(nan_ok, "%s poincare_logits n=%zu c=%g: a key outside the ball is not NaN", t->name, n, c);
	check(flags_ok, "%s lorentz_logits n=%zu c=%g: ill-conditioned rows flagged wrongly", t->name, n, c);
	for (size_t i = 0; i < n; i++)
		if (isnan(s[i]))	/* the max is unspecified then (callers check s) */
			want_max = m;
	check(n == 0 || m == want_max || (isnan(m) && isnan(want_max)),
		  "%s logits n=%zu: returned max %.9g, want %.9g", t->name, n, m, want_max);
	check(gok(&sb), "%s logits n=%zu: wrote outside s", t->name, n);
	gfree(&sb);
	free(d2);
	free(kk);
}

static void
test_log0_case(const test_table *t, size_t n, float c, int layout)
{
	gbuf		fb = gnew(n * sizeof(float), layout);
	float	   *f = fb.p;
	double	   *vv = calloc(n + 1, sizeof(double));
	double		cd = c;
	int			ok = 1;

	for (size_t i = 0; i < n; i++)
		vv[i] = (i % 9 == 0 ? 0.0 : i % 7 == 0 ? 1.0 - 1e-7 * rand01() : i % 11 == 0 ? 1.5 : rand01()) / cd;
	t->k->poincare_log0(vv, n, c, f);
	for (size_t i = 0; i < n; i++)
	{
		double		r = sqrt(cd * vv[i]);

		if (!(1.0 - cd * vv[i] > 0.0))
			ok &= isnan(f[i]);
		else if (vv[i] == 0.0)
			ok &= f[i] == 1.0f;
		else
			ok &= fabs(f[i] - atanh(r) / r) <= 2e-6 * (atanh(r) / r);
	}
	check(ok, "%s poincare_log0 n=%zu c=%g", t->name, n, c);
	check(gok(&fb), "%s poincare_log0 n=%zu: wrote outside f", t->name, n);
	gfree(&fb);
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
				test_logits_case(t, lengths[a], cs[ci], 0, layout);
				test_logits_case(t, lengths[a], cs[ci], 1, layout);
				test_log0_case(t, lengths[a], cs[ci], layout);
			}
			for (size_t n = 0; n <= 40; n++)
			{
				test_logits_case(t, n, cs[ci], 0, layout);
				test_logits_case(t, n, cs[ci], 1, layout);
				test_log0_case(t, n, cs[ci], layout);
			}
		}
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
	static const size_t few[] = {1, 2, 9, 33};

	for (int layout = 0; layout < 2; layout++)
		for (size_t pad = 0; pad <= 5; pad += 5)
		{
			for (size_t a = 0; a < N_LENGTHS; a++)
				for (size_t b = 0; b < N_OF(few); b++)
				{
					if (lengths[a] > 0)
						test_wsum_case(t, lengths[a], few[b] * 5, few[b] * 5 + pad, layout);
					test_wsum_case(t, few[b], lengths[a], lengths[a] + pad, layout);
				}
			for (size_t dv = 1; dv <= 40; dv++)
				test_wsum_case(t, 7, dv, dv + pad, layout);
		}
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
	test_table	tables[4];
	size_t		count = 0;

	tables[count++] = (test_table) {"scalar", &rv_kernels_scalar};
#if defined(__x86_64__)
	if (rv_supported_backends() & (1u << RV_BACKEND_AVX2))
		tables[count++] = (test_table) {"avx2", &rv_kernels_avx2};
	if (rv_supported_backends() & (1u << RV_BACKEND_AVX512))
		tables[count++] = (test_table) {"avx512", &rv_kernels_avx512};
#endif
#if defined(__aarch64__)
	tables[count++] = (test_table) {"neon", &rv_kernels_neon};
#endif
	for (size_t i = 0; i < count; i++)
	{
		unsigned long before = n_failed;

		test_sq(&tables[i]);
		test_logits(&tables[i]);
		test_wsum(&tables[i]);
		test_log1p(&tables[i]);
		printf("%s: %s\n", tables[i].name, n_failed == before ? "ok" : "FAILED");
	}
	printf("%lu passed, %lu failed\n", n_passed, n_failed);
	return n_failed != 0;
}
