/*
 * test_util.h: what the API test drivers (test_core.c and the per-type
 * drivers) share: CHECK macros that count and report, deterministic random
 * data, float64 references of softmax attention, and the accuracy bar.
 * Header-only (static inline), one copy per driver; each driver has its own
 * main, which loops over the backends with FOR_EACH_BACKEND.
 */
#ifndef RV_TEST_UTIL_H
#define RV_TEST_UTIL_H

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ruvector.h"

static int	passed, failed;
static const char *current_backend = "?";

#define CHECK(cond, ...) \
	do { \
		if (cond) \
			passed++; \
		else \
		{ \
			failed++; \
			printf("FAIL [%s] %s:%d: ", current_backend, __FILE__, __LINE__); \
			printf(__VA_ARGS__); \
			printf("\n"); \
		} \
	} while (0)

#define CHECK_STATUS(expr, want) \
	do { \
		rv_status st_ = (expr); \
		CHECK(st_ == (want), "%s returned %d (%s), want %d (%s)", #expr, \
			  (int) st_, rv_strerror(st_), (int) (want), rv_strerror(want)); \
	} while (0)

/* ---------------- deterministic random data ---------------- */

static uint64_t rng_state = 0x9e3779b97f4a7c15ULL;

static inline double
urand(void)
{
	rng_state ^= rng_state << 13;
	rng_state ^= rng_state >> 7;
	rng_state ^= rng_state << 17;
	return (double) (rng_state >> 11) / 9007199254740992.0;
}

static inline float
nrand(void)
{
	double		u1 = urand() + 1e-300,
				u2 = urand();

	return (float) (sqrt(-2.0 * log(u1)) * cos(6.283185307179586 * u2));
}

static inline float *
rand_array(size_t n, float sd)
{
	float	   *x = malloc((n ? n : 1) * sizeof(float));

	for (size_t i = 0; i < n; i++)
		x[i] = nrand() * sd;
	return x;
}

/* ---------------- double references ---------------- */

static inline void
ref_weights(const float *q, const float *K, size_t n, size_t d, size_t ldk,
			double scale, double *w)
{
	double		m = -INFINITY,
				sum = 0.0;

	for (size_t i = 0; i < n; i++)
	{
		double		s = 0.0;

		for (size_t j = 0; j < d; j++)
			s += (double) q[j] * K[i * ldk + j];
		w[i] = s * scale;
		if (w[i] > m)
			m = w[i];
	}
	for (size_t i = 0; i < n; i++)
		sum += (w[i] = exp(w[i] - m));
	for (size_t i = 0; i < n; i++)
		w[i] /= sum;
}

/* out[j] = sum_i w_i V[i*ldv + j]; mag[j] = sum_i w_i |V[i*ldv + j]| */
static inline void
ref_weighted(const double *w, const float *V, size_t n, size_t dv, size_t ldv,
			 double *out, double *mag)
{
	for (size_t j = 0; j < dv; j++)
	{
		out[j] = 0.0;
		mag[j] = 0.0;
	}
	for (size_t i = 0; i < n; i++)
		for (size_t j = 0; j < dv; j++)
		{
			out[j] += w[i] * V[i * ldv + j];
			mag[j] += w[i] * fabs(V[i * ldv + j]);
		}
}

/*
 * The accuracy bar: 1e-5 relative, plus 1e-6 absolute scaled by the
 * magnitude of the terms summed (so that cancellation near zero is judged
 * against the inputs, not against a tiny result).
 */
static inline int
close_to(double got, double ref, double mag)
{
	return isfinite(got) &&
		fabs(got - ref) <= 1e-5 * fabs(ref) + 1e-6 * (mag > 0.0 ? mag : 1.0);
}

static const size_t tails[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 65, 127, 1000, 4099};
#define NTAILS (sizeof tails / sizeof tails[0])

/*
 * Run the statements that follow once per backend this CPU supports (and
 * the emulated AVX-512 of test builds), with current_backend naming it:
 *   FOR_EACH_BACKEND { test_a(); test_b(); }
 */
#define FOR_EACH_BACKEND \
	for (int b_ = 0; b_ < RV_BACKEND_COUNT; b_++) \
		if ((rv_supported_backends() & (1u << b_)) && \
			rv_set_backend((rv_backend) b_) == RV_OK && \
			(current_backend = rv_backend_name((rv_backend) b_)) != NULL)

/* the last line every driver prints, and its exit status */
static inline int
test_summary(void)
{
	printf("%d passed, %d failed\n", passed, failed);
	return failed != 0;
}

#endif							/* RV_TEST_UTIL_H */
