/*
 * kernel_test_util.h: what the kernel test drivers (test_kernels.c,
 * test_kernels_types.c, test_kernels_cross.c, test_kernels_hyperbolic.c,
 * test_kernels_accum.c) share: the pass/fail counters and check(), the
 * list of kernel tables this build and CPU can run, a deterministic
 * xorshift64* generator, xmalloc, float buffers with NaN guard zones, the
 * accuracy bar and the ulp distance, and a main loop over the tables.
 * The API drivers use test_util.h instead (they go through rv_* and the
 * backend switch, these call the rv_kernels tables directly).
 *
 * Header-only (static inline, so that a driver not using a helper gets no
 * warning), one copy per driver.  A driver that wants another random
 * sequence defines KERNEL_TEST_SEED before including it.
 */
#ifndef RV_KERNEL_TEST_UTIL_H
#define RV_KERNEL_TEST_UTIL_H

#include <math.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "rv_kernels.h"

#define N_OF(a) (sizeof (a) / sizeof (a)[0])

/* ---------------------------------------------------------------------- */
/* counting checks                                                        */

static unsigned long n_passed;
static unsigned long n_failed;

static inline void check(int ok, const char *fmt,...) __attribute__((format(printf, 2, 3)));

/* counts ok; prints one FAIL line (the message formatted) when not */
static inline void
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

/* ---------------------------------------------------------------------- */
/* deterministic random numbers (xorshift64*)                             */

/*
 * Every driver's data comes from this one sequence, so a failure is
 * reproducible; test_kernels_hyperbolic.c was written with its own seed
 * (0x2545F4914F6CDD1D) and keeps it.
 */
#ifndef KERNEL_TEST_SEED
#define KERNEL_TEST_SEED 0x9E3779B97F4A7C15u
#endif

static uint64_t rng_state = KERNEL_TEST_SEED;

/* uniform in [0, 1), 53 bits */
static inline double
rand01(void)
{
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return (double) ((rng_state * 2685821657736338717u) >> 11) * 0x1p-53;
}

static inline float
rand_range(float lo, float hi)
{
	return (float) (lo + (hi - lo) * rand01());
}

/* zeroed, never NULL (even for 0 bytes): out of memory ends the test */
static inline void *
xmalloc(size_t bytes)
{
	void	   *p = calloc(1, bytes ? bytes : 1);

	if (p == NULL)
	{
		fprintf(stderr, "out of memory\n");
		exit(2);
	}
	return p;
}

/* ---------------------------------------------------------------------- */
/* guarded float buffers                                                  */

#define GUARD_BITS 0x7fa5a5a5u	/* a NaN: reading it poisons a result */
#define FRONT_GUARD 16
#define TAIL_GUARD 16
#define N_LAYOUTS 2

/*
 * layout 0: p 16 floats into the block, NaN tail guard of 16 floats;
 * layout 1: p 17 floats in (unaligned by one float), no tail guard: the
 * buffer ends exactly at p + count, for AddressSanitizer.
 */
typedef struct test_buf
{
	float	   *base;
	float	   *p;
	size_t		count;
	size_t		front;
	size_t		tail;
} test_buf;

static inline float
guard_value(void)
{
	uint32_t	bits = GUARD_BITS;
	float		f;

	memcpy(&f, &bits, sizeof f);
	return f;
}

/* the guard NaN, bit for bit (a NaN compares unequal to itself) */
static inline int
is_guard(float f)
{
	uint32_t	bits;

	memcpy(&bits, &f, sizeof bits);
	return bits == GUARD_BITS;
}

/* count floats, all of them guard values until the test fills them */
static inline test_buf
buf_new(size_t count, int layout)
{
	test_buf	b;
	size_t		total;

	b.count = count;
	b.front = FRONT_GUARD + (size_t) layout;
	b.tail = layout == 0 ? TAIL_GUARD : 0;
	total = b.front + count + b.tail;
	b.base = xmalloc(total * sizeof(float));
	for (size_t i = 0; i < total; i++)
		b.base[i] = guard_value();
	b.p = b.base + b.front;
	return b;
}

/* the guard zones still hold GUARD_BITS (compared in memory, as bits) */
static inline int
buf_guards_ok(const test_buf *b)
{
	uint32_t	bits;

	for (size_t i = 0; i < b->front; i++)
	{
		memcpy(&bits, &b->base[i], sizeof bits);
		if (bits != GUARD_BITS)
			return 0;
	}
	for (size_t i = 0; i < b->tail; i++)
	{
		memcpy(&bits, &b->p[b->count + i], sizeof bits);
		if (bits != GUARD_BITS)
			return 0;
	}
	return 1;
}

static inline void
check_guards(const char *what, const test_buf *b)
{
	check(buf_guards_ok(b), "%s: wrote outside the buffer", what);
}

static inline void
buf_free(test_buf *b)
{
	free(b->base);
	b->base = b->p = NULL;
}

/* ---------------------------------------------------------------------- */
/* comparisons                                                            */

/* the accuracy bar: 1e-5 relative plus 1e-6 of the sum of |terms| */
static inline double
tolerance(double ref, double abs_terms)
{
	return 1e-5 * fabs(ref) + 1e-6 * abs_terms;
}

/* distance in ulps between two floats of the same sign */
static inline int64_t
ulp_distance(float a, float b)
{
	int32_t		ia,
				ib;
	int64_t		va,
				vb;

	memcpy(&ia, &a, sizeof ia);
	memcpy(&ib, &b, sizeof ib);
	va = ia < 0 ? -(int64_t) (ia & 0x7fffffff) : ia;
	vb = ib < 0 ? -(int64_t) (ib & 0x7fffffff) : ib;
	return va > vb ? va - vb : vb - va;
}

/* ---------------------------------------------------------------------- */
/* the tables and main                                                    */

typedef struct test_table
{
	const char *name;
	const rv_kernels *k;
} test_table;

/* the tables this build and CPU can run, scalar first; says which it skips */
static inline size_t
collect_tables(test_table *tables)
{
	size_t		count = 0;

	tables[count++] = (test_table) {"scalar", &rv_kernels_scalar};
#if defined(__x86_64__)
	if (rv_supported_backends() & (1u << RV_BACKEND_AVX2))
		tables[count++] = (test_table) {"avx2", &rv_kernels_avx2};
	else
		printf("avx2: not supported by this CPU, skipped\n");
	if (rv_supported_backends() & (1u << RV_BACKEND_AVX512))	/* or emulated */
		tables[count++] = (test_table) {"avx512", &rv_kernels_avx512};
	else
		printf("avx512: not supported by this CPU, skipped\n");
#endif
#if defined(__aarch64__)
	tables[count++] = (test_table) {"neon", &rv_kernels_neon};
#endif
	return count;
}

typedef void (*kernel_test) (const test_table *t);

/*
 * A driver's main: each table in turn runs every test, in order (so the
 * random data is the same from run to run), then says "NAME: ok" or
 * "NAME: FAILED"; last "N passed, M failed", and the exit status is
 * nonzero when anything failed.
 */
static inline int
run_kernel_tests(const kernel_test *tests, size_t ntests)
{
	test_table	tables[4];
	size_t		count = collect_tables(tables);

	for (size_t i = 0; i < count; i++)
	{
		unsigned long failed_before = n_failed;

		for (size_t j = 0; j < ntests; j++)
			tests[j] (&tables[i]);
		printf("%s: %s\n", tables[i].name, n_failed == failed_before ? "ok" : "FAILED");
	}
	printf("%lu passed, %lu failed\n", n_passed, n_failed);
	return n_failed != 0;
}

#endif							/* RV_KERNEL_TEST_UTIL_H */
