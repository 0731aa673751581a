/*
 * readbw.c: the read-bandwidth probe of the benchmarks (not part of ruvector).
 *
 * The anchor every decode number is compared with: how fast this machine can
 * read an array of a given size, measured in the same run.  The loop is the
 * simplest one that streams at the hardware's rate: eight independent vector
 * accumulators of 32 bytes (two cache lines per step), so neither add latency
 * nor the loop limits it.  32 bytes is one AVX2 register: with 64-byte
 * vectors GCC's AVX2 clone kept the 16 register halves in memory and read
 * 17 GB/s where numpy's sdot reads 68 (a Zen 4 VM that exposes AVX2 only).
 * The AVX-512 clone uses the same 32-byte vectors (Zen 4 executes 64-byte
 * ones as two halves anyway).  numpy's and torch's reductions (sdot, sum)
 * are measured next to it by bench/common.py; for cache-resident arrays they
 * stay below this loop (AVX2: sdot 68 GB/s, this loop 78).
 *
 * Built by bench/common.py with the system compiler into bench/results/.build
 * and loaded with ctypes, which releases the GIL during the call.  x86-64 gets
 * an AVX-512F, an AVX2 and a baseline clone chosen at load time through GCC's
 * target_clones; other architectures get the baseline (NEON on aarch64).
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <stddef.h>
#include <string.h>

typedef float v8f __attribute__((vector_size(32)));

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define RB_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define RB_CLONES
#endif

static inline v8f
load8(const float *p)
{
	v8f			x;

	memcpy(&x, p, sizeof x);
	return x;
}

/* Sum of a[0..n) read `reps` times; n is rounded down to 64 floats. */
RB_CLONES float
rb_read(const float *a, size_t n, size_t reps)
{
	v8f			s0 = {0}, s1 = {0}, s2 = {0}, s3 = {0},
				s4 = {0}, s5 = {0}, s6 = {0}, s7 = {0};
	float		total = 0.0f;

	n -= n % 64;
	for (size_t r = 0; r < reps; r++)
	{
		for (size_t i = 0; i < n; i += 64)
		{
			s0 += load8(a + i);
			s1 += load8(a + i + 8);
			s2 += load8(a + i + 16);
			s3 += load8(a + i + 24);
			s4 += load8(a + i + 32);
			s5 += load8(a + i + 40);
			s6 += load8(a + i + 48);
			s7 += load8(a + i + 56);
		}
	}
	s0 = (s0 + s1) + (s2 + s3) + ((s4 + s5) + (s6 + s7));
	for (int l = 0; l < 8; l++)
		total += s0[l];
	return total;
}

typedef struct rb_slice
{
	const float *a;
	size_t		n,
				reps;
	float		sum;
} rb_slice;

static void *
rb_worker(void *arg)
{
	rb_slice   *s = arg;

	s->sum = rb_read(s->a, s->n, s->reps);
	return NULL;
}

/*
 * The same read split over `threads` threads (at most 64), each reading its
 * contiguous slice `reps` times: threads start once per call, so their cost
 * is amortised over the repetitions.  Returns -1 if a thread cannot start.
 */
float
rb_read_mt(const float *a, size_t n, size_t reps, int threads)
{
	pthread_t	tid[64];
	rb_slice	s[64];
	size_t		per,
				i;
	int			t,
				started = 0;
	float		total = 0.0f;

	if (threads < 1)
		threads = 1;
	if (threads > 64)
		threads = 64;
	per = (n / (size_t) threads) & ~(size_t) 127;
	for (t = 0, i = 0; t < threads; t++, i += per)
	{
		s[t].a = a + i;
		s[t].n = t == threads - 1 ? n - i : per;
		s[t].reps = reps;
		s[t].sum = 0.0f;
	}
	for (t = 1; t < threads; t++, started++)
		if (pthread_create(&tid[t], NULL, rb_worker, &s[t]) != 0)
			break;
	rb_worker(&s[0]);
	for (t = 1; t <= started; t++)
		pthread_join(tid[t], NULL);
	if (started != threads - 1)
		return -1.0f;
	for (t = 0; t < threads; t++)
		total += s[t].sum;
	return total;
}
