/*
 * test_kernels_accum.c: the primitives of the driver sums
 * (accumulate_f64, finish_f64, weighted_sum_acc, head_weighted_sum_acc),
 * for every table this build and this CPU can run, against the scalar
 * table and float64 references.
 *
 * accumulate_f64 and finish_f64 promise the same bits in every table (and
 * finish_f64 works in place): lengths cover
 * every tail of every vector width; a takes the values the drivers use (1,
 * 0, powers of two, inexact factors); acc and x hold mixed signs and
 * magnitudes, and in one pass NaN and +/-Infinity (which a == 0 must not
 * clear).  weighted_sum_acc is checked against a float64 sum over row
 * counts around the partial length RV_VALUE_BLOCK and every column tail of
 * the register tiles and the wide kernels, with a row stride wider than
 * dv whose gap holds NaN (a read of it poisons the result); the case of
 * one dominant weight among thousands of tiny ones shows that the float
 * partials stay short.  Buffers have a guard zone in front and behind
 * (NaN floats, signalling-looking doubles), checked after each call; in a
 * second layout they end exactly at their last element, so that
 * AddressSanitizer builds catch any access past the end.  The float
 * guards are those of kernel_test_util.h.
 */
#include "kernel_test_util.h"

/* mixed signs, magnitudes over 2^-40 .. 2^40 */
static double
rand_mixed(void)
{
	double		m = ldexp(1.0 + rand01(), (int) (rand01() * 80.0) - 40);

	return rand01() < 0.5 ? -m : m;
}

/*
 * acc[i] and x[i] of rand_mixed, the two drawn in turn for each i (the
 * order the tests' data was first drawn in)
 */
static void
fill_mixed(double *acc, float *x, size_t n)
{
	for (size_t i = 0; i < n; i++)
	{
		acc[i] = rand_mixed();
		x[i] = (float) rand_mixed();
	}
}

/* ---------------------------------------------------------------------- */
/* guarded buffers of floats or doubles                                   */

/*
 * Not kernel_test_util.h's test_buf: these hold doubles too (acc, whose
 * guard is a double NaN: two float guards would make a finite double),
 * and take any front and tail length.
 */
#define GUARD 16
#define D_GUARD_BITS 0x7ff5a5a5a5a5a5a5ull

typedef struct guarded
{
	void	   *base;
	size_t		front,
				count,
				tail,
				elem;
} guarded;

/* count elements of elem bytes after front guard elements, tail after */
static guarded
guarded_new(size_t count, size_t elem, size_t front, size_t tail)
{
	guarded		g = {NULL, front, count, tail, elem};
	size_t		total = front + count + tail;
	unsigned char *p;

	g.base = xmalloc(total * elem);
	p = g.base;
	for (size_t i = 0; i < total; i++)
	{
		if (elem == sizeof(float))
		{
			uint32_t	bits = GUARD_BITS;

			memcpy(p + i * elem, &bits, elem);
		}
		else
		{
			uint64_t	bits = D_GUARD_BITS;

			memcpy(p + i * elem, &bits, elem);
		}
	}
	return g;
}

static void *
guarded_at(const guarded *g)
{
	return (unsigned char *) g->base + g->front * g->elem;
}

static int
guarded_ok(const guarded *g)
{
	const unsigned char *p = g->base;

	for (size_t i = 0; i < g->front + g->count + g->tail; i++)
	{
		if (i >= g->front && i < g->front + g->count)
			continue;
		if (g->elem == sizeof(float))
		{
			uint32_t	bits;

			memcpy(&bits, p + i * g->elem, sizeof bits);
			if (bits != GUARD_BITS)
				return 0;
		}
		else
		{
			uint64_t	bits;

			memcpy(&bits, p + i * g->elem, sizeof bits);
			if (bits != D_GUARD_BITS)
				return 0;
		}
	}
	return 1;
}

/* same double, NaN matching NaN */
static int
same_double(double a, double b)
{
	return (isnan(a) && isnan(b)) || a == b;
}

/* ---------------------------------------------------------------------- */
/* accumulate_f64                                                         */

static const double factors[] = {1.0, 0.0, 0.5, 0x1p-20, 0.7310585786300049, -3.0, 1e300};
#define N_FACTORS (sizeof factors / sizeof factors[0])

/*
 * kind 0: finite values; kind 1: also NaN and +/-Infinity in acc and x
 * (at every few positions), which must come out non-finite whatever a.
 */
static void
test_accumulate(const test_table *t)
{
	size_t		lengths[80];
	size_t		nl = 0;

	for (size_t n = 0; n <= 40; n++)
		lengths[nl++] = n;
	lengths[nl++] = 63;
	lengths[nl++] = 64;
	lengths[nl++] = 65;
	lengths[nl++] = 127;
	lengths[nl++] = 1000;
	lengths[nl++] = 4099;

	for (size_t li = 0; li < nl; li++)
		for (int kind = 0; kind < 2; kind++)
			for (int layout = 0; layout < 2; layout++)
				for (size_t fi = 0; fi < N_FACTORS; fi++)
				{
					size_t		n = lengths[li];
					double		a = factors[fi];
					guarded		gx = guarded_new(n, sizeof(float), GUARD + (size_t) layout,
												 layout ? 0 : GUARD);
					guarded		gacc = guarded_new(n, sizeof(double), GUARD + (size_t) layout,
												   layout ? 0 : GUARD);
					float	   *x = guarded_at(&gx);
					double	   *acc = guarded_at(&gacc);
					double	   *init = xmalloc((n + 1) * sizeof(double));
					double	   *mine = xmalloc((n + 1) * sizeof(double));
					int			same = 1,
								exact = 1,
								kept = 1;

					fill_mixed(init, x, n);
					for (size_t i = 0; kind == 1 && i < n; i++)
					{
						if (i % 5 == 1)
							init[i] = i % 3 == 0 ? NAN : (i % 3 == 1 ? INFINITY : -INFINITY);
						if (i % 7 == 3)
							x[i] = i % 2 ? NAN : INFINITY;
					}
					memcpy(acc, init, n * sizeof(double));
					memcpy(mine, init, n * sizeof(double));
					rv_kernels_scalar.accumulate_f64(mine, a, x, n);
					t->k->accumulate_f64(acc, a, x, n);
					for (size_t i = 0; i < n; i++)
					{
						volatile double prod = a * init[i];
						double		want = prod + (double) x[i];

						same &= same_double(acc[i], mine[i]);
						exact &= same_double(acc[i], want);
						if (!isfinite(init[i]) || !isfinite(x[i]))
							kept &= !isfinite(acc[i]);
					}
					check(same, "%s accumulate_f64 n=%zu a=%g kind %d layout %d: differs from scalar",
						  t->name, n, a, kind, layout);
					check(exact, "%s accumulate_f64 n=%zu a=%g kind %d layout %d: not a*acc + x",
						  t->name, n, a, kind, layout);
					check(kept, "%s accumulate_f64 n=%zu a=%g kind %d: a non-finite input was lost",
						  t->name, n, a, kind);
					check(guarded_ok(&gx) && guarded_ok(&gacc),
						  "%s accumulate_f64 n=%zu layout %d: guard overwritten", t->name, n, layout);
					free(gx.base);
					free(gacc.base);
					free(init);
					free(mine);
				}
}

/* ---------------------------------------------------------------------- */
/* finish_f64                                                             */

/*
 * out = (float) ((a acc + x) mul): the same bits as the scalar table and
 * as the formula, out of place and in place (out == x), non-finite inputs
 * staying non-finite, guards intact.
 */
static void
test_finish(const test_table *t)
{
	static const size_t lengths[] = {0, 1, 2, 3, 4, 5, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 127, 1000, 4099};
	static const double muls[] = {1.0, 0.25, 1.0 / 3.0, 1e-30, 1e30};

	for (size_t li = 0; li < sizeof lengths / sizeof lengths[0]; li++)
		for (int kind = 0; kind < 2; kind++)
			for (int in_place = 0; in_place < 2; in_place++)
				for (size_t fi = 0; fi < N_FACTORS; fi++)
				{
					size_t		n = lengths[li];
					double		a = factors[fi],
								mul = muls[(li + fi) % (sizeof muls / sizeof muls[0])];
					guarded		gx = guarded_new(n, sizeof(float), GUARD, in_place ? 0 : GUARD);
					guarded		go = guarded_new(n, sizeof(float), GUARD, in_place ? GUARD : 0);
					guarded		gacc = guarded_new(n, sizeof(double), GUARD, GUARD);
					float	   *x = guarded_at(&gx);
					float	   *out = in_place ? x : guarded_at(&go);
					double	   *acc = guarded_at(&gacc);
					float	   *xs = xmalloc((n + 1) * sizeof(float));
					float	   *mine = xmalloc((n + 1) * sizeof(float));
					int			same = 1,
								exact = 1,
								kept = 1;

					fill_mixed(acc, x, n);
					for (size_t i = 0; kind == 1 && i < n; i++)
					{
						if (i % 5 == 2)
							acc[i] = i % 2 ? NAN : -INFINITY;
						if (i % 7 == 4)
							x[i] = INFINITY;
					}
					memcpy(xs, x, n * sizeof(float));
					rv_kernels_scalar.finish_f64(acc, a, xs, mul, n, mine);
					t->k->finish_f64(acc, a, x, mul, n, out);
					for (size_t i = 0; i < n; i++)
					{
						volatile double prod = a * acc[i];
						volatile double sum = prod + (double) xs[i];
						float		want = (float) (sum * mul);

						same &= (isnan(out[i]) && isnan(mine[i])) || out[i] == mine[i];
						exact &= (isnan(out[i]) && isnan(want)) || out[i] == want;
						if (!isfinite(acc[i]) || !isfinite(xs[i]))
							kept &= !isfinite(out[i]);
					}
					check(same, "%s finish_f64 n=%zu a=%g mul=%g kind %d in place %d: differs from scalar",
						  t->name, n, a, mul, kind, in_place);
					check(exact, "%s finish_f64 n=%zu a=%g mul=%g kind %d: not (float) ((a acc + x) mul)",
						  t->name, n, a, mul, kind);
					check(kept, "%s finish_f64 n=%zu kind %d: a non-finite input was lost", t->name, n, kind);
					check(guarded_ok(&gx) && guarded_ok(&gacc) && (in_place || guarded_ok(&go)),
						  "%s finish_f64 n=%zu in place %d: guard overwritten", t->name, n, in_place);
					free(gx.base);
					free(go.base);
					free(gacc.base);
					free(xs);
					free(mine);
				}
}

/* ---------------------------------------------------------------------- */
/* weighted_sum_acc                                                       */

/*
 * acc = init + sum_i w_i V_i over n rows of dv columns (stride ldv = dv +
 * 3, the gap NaN), against float64: within 1e-5 relative plus 1e-6 of the
 * magnitude sum_i |w_i V_i[j]| (each partial is a float sum of at most
 * RV_VALUE_BLOCK terms).
 */
static void
check_wsa(const test_table *t, size_t n, size_t dv, int layout)
{
	size_t		ldv = dv + 3;
	guarded		gw = guarded_new(n, sizeof(float), GUARD, layout ? 0 : GUARD);
	guarded		gv = guarded_new(n * ldv, sizeof(float), GUARD, layout ? 0 : GUARD);
	guarded		gp = guarded_new(dv, sizeof(float), GUARD, layout ? 0 : GUARD);
	guarded		ga = guarded_new(dv, sizeof(double), GUARD + (size_t) layout, layout ? 0 : GUARD);
	float	   *w = guarded_at(&gw),
			   *V = guarded_at(&gv),
			   *part = guarded_at(&gp);
	double	   *acc = guarded_at(&ga);
	double	   *ref = xmalloc((dv + 1) * sizeof(double));
	double	   *mag = xmalloc((dv + 1) * sizeof(double));
	int			ok = 1;
	size_t		bad_j = 0;

	for (size_t i = 0; i < n; i++)
	{
		w[i] = (float) rand01();
		for (size_t j = 0; j < dv; j++)
			V[i * ldv + j] = (float) (rand01() * 4.0 - 2.0);
		/* the gap between rows keeps its guard NaN, except after the last row */
	}
	for (size_t j = 0; j < dv; j++)
	{
		acc[j] = ref[j] = rand01() - 0.5;
		mag[j] = fabs(ref[j]);
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < dv; j++)
		{
			ref[j] += (double) w[i] * V[i * ldv + j];
			mag[j] += fabs((double) w[i] * V[i * ldv + j]);
		}
	t->k->weighted_sum_acc(w, V, n, dv, ldv, part, acc);
	for (size_t j = 0; j < dv; j++)
		if (!(fabs(acc[j] - ref[j]) <= 1e-5 * fabs(ref[j]) + 1e-6 * mag[j]))
		{
			ok = 0;
			bad_j = j;
			break;
		}
	check(ok, "%s weighted_sum_acc n=%zu dv=%zu layout %d: column %zu is %.9g, want %.9g",
		  t->name, n, dv, layout, bad_j, ok ? 0.0 : acc[bad_j], ok ? 0.0 : ref[bad_j]);
	/* part is scratch (any content), the rest must be untouched */
	check(guarded_ok(&gw) && guarded_ok(&ga) && guarded_ok(&gp),
		  "%s weighted_sum_acc n=%zu dv=%zu layout %d: guard overwritten", t->name, n, dv, layout);
	{
		/* the gaps of V still hold the guard (a NaN, so compare bits) */
		int			gaps = 1;

		for (size_t i = 0; i + 1 < n; i++)
			for (size_t j = dv; j < ldv; j++)
				gaps &= is_guard(V[i * ldv + j]);
		check(gaps && guarded_ok(&gv), "%s weighted_sum_acc n=%zu dv=%zu: V written", t->name, n, dv);
	}
	free(gw.base);
	free(gv.base);
	free(gp.base);
	free(ga.base);
	free(ref);
	free(mag);
}

/*
 * One weight of 1 and n - 1 tiny ones, values 1: tiny = 2^-25, below half
 * an ulp of a float running sum at 1, is rounded away; tiny just above
 * 2^-24 (half an ulp) rounds up to a whole ulp, which gains 2^-24 per term
 * (the worst case).  A single float sum would be off by (n - 1) 2^-25 or
 * 2^-24 (1.2e-4, 2.4e-4 at n = 4096); partials of RV_VALUE_BLOCK = 128
 * rows keep it under 127 * 2^-24 = 7.6e-6 (256 would give 1.5e-5).  Also
 * with the dominant row last.
 */
static void
check_wsa_dominant(const test_table *t, size_t n, size_t dv, int last, float tiny)
{
	float	   *w = xmalloc(n * sizeof(float));
	float	   *V = xmalloc(n * dv * sizeof(float));
	float	   *part = xmalloc(dv * sizeof(float));
	double	   *acc = xmalloc(dv * sizeof(double));
	double		want = 1.0 + (double) (n - 1) * tiny;
	int			ok = 1;

	for (size_t i = 0; i < n; i++)
		w[i] = tiny;
	w[last ? n - 1 : 0] = 1.0f;
	for (size_t i = 0; i < n * dv; i++)
		V[i] = 1.0f;
	for (size_t j = 0; j < dv; j++)
		acc[j] = 0.0;
	t->k->weighted_sum_acc(w, V, n, dv, dv, part, acc);
	for (size_t j = 0; j < dv; j++)
		ok &= fabs(acc[j] - want) <= 1e-5 * want;
	check(ok, "%s weighted_sum_acc dominant n=%zu dv=%zu last %d tiny %g: %.9g, want %.9g",
		  t->name, n, dv, last, tiny, acc[0], want);
	free(w);
	free(V);
	free(part);
	free(acc);
}

static void
test_weighted_sum_acc(const test_table *t)
{
	static const size_t ns[] = {0, 1, 3, 7, 64, 127, 128, 129, 255, 256, 257, 513, 1000, 1027, 4099};
	static const size_t dvs[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 127, 128, 129, 200};

	for (size_t a = 0; a < sizeof ns / sizeof ns[0]; a++)
		for (size_t b = 0; b < sizeof dvs / sizeof dvs[0]; b++)
			for (int layout = 0; layout < 2; layout++)
				check_wsa(t, ns[a], dvs[b], layout);
	for (size_t b = 0; b < sizeof dvs / sizeof dvs[0]; b += 4)
		for (int last = 0; last < 2; last++)
		{
			check_wsa_dominant(t, 4096, dvs[b], last, 0x1p-25f);
			check_wsa_dominant(t, 4099, dvs[b], last, 0x1.0002p-24f);
		}
}

/*
 * head_weighted_sum_acc (tables that have it): equal, bit for bit, to
 * weighted_sum_acc on each head's weights and columns, for head counts
 * below, at and above one pass of heads, heads narrower and wider than a
 * register tile, and row counts around the partials' length.
 */
static void
check_head_wsa(const test_table *t, size_t n, size_t dvh, size_t heads)
{
	size_t		dv = heads * dvh,
				ldv = dv + 3,
				ldw = n + 1;
	float	   *W = xmalloc(heads * ldw * sizeof(float));
	float	   *V = xmalloc(n * ldv * sizeof(float));
	guarded		gp = guarded_new(dv, sizeof(float), GUARD, GUARD);
	guarded		ga = guarded_new(dv, sizeof(double), GUARD, GUARD);
	float	   *part = guarded_at(&gp);
	double	   *acc = guarded_at(&ga);
	double	   *want = xmalloc(dv * sizeof(double));

	for (size_t i = 0; i < heads * ldw; i++)
		W[i] = (float) rand01();
	for (size_t i = 0; i < n * ldv; i++)
		V[i] = (float) (rand01() * 4.0 - 2.0);
	for (size_t j = 0; j < dv; j++)
		acc[j] = want[j] = rand01() - 0.5;
	for (size_t h = 0; h < heads; h++)
		t->k->weighted_sum_acc(W + h * ldw, V + h * dvh, n, dvh, ldv, part, want + h * dvh);
	t->k->head_weighted_sum_acc(W, ldw, V, n, dvh, heads, ldv, part, acc);
	check(memcmp(acc, want, dv * sizeof(double)) == 0,
		  "%s head_weighted_sum_acc n=%zu dvh=%zu heads=%zu: differs from weighted_sum_acc per head",
		  t->name, n, dvh, heads);
	check(guarded_ok(&gp) && guarded_ok(&ga),
		  "%s head_weighted_sum_acc n=%zu dvh=%zu heads=%zu: wrote outside part or acc",
		  t->name, n, dvh, heads);
	free(W);
	free(V);
	free(gp.base);
	free(ga.base);
	free(want);
}

static void
test_head_weighted_sum_acc(const test_table *t)
{
	static const size_t ns[] = {0, 1, 7, 127, 128, 129, 257, 1000, 2048};
	static const size_t dvhs[] = {1, 8, 17, 32, 64, 65, 128, 129};
	static const size_t heads[] = {1, 2, 5, 8, 9, 20};

	if (t->k->head_weighted_sum_acc == NULL)
		return;
	for (size_t a = 0; a < N_OF(ns); a++)
		for (size_t b = 0; b < N_OF(dvhs); b++)
			for (size_t c = 0; c < N_OF(heads); c++)
				check_head_wsa(t, ns[a], dvhs[b], heads[c]);
}

/* ---------------------------------------------------------------------- */

int
main(void)
{
	static const kernel_test tests[] = {test_accumulate, test_finish, test_weighted_sum_acc,
	test_head_weighted_sum_acc};

	return run_kernel_tests(tests, N_OF(tests));
}
