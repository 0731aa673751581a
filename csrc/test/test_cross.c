/*
 * test_cross.c: cross attention and sliding-window attention (cross.c)
 * against float64 references written here (plain loops), for every
 * backend: tails in m, n, d, dv, heads, the causal mask with m > n,
 * m == n, m < n, windows, both paths of the driver (FlashAttention-2 tiles
 * for many rows, one row at a time for few rows or narrow windows),
 * threads, cancellation, errors, non-finite inputs, and the weights and
 * logits behind the generic entry points.  Prints "N passed, M failed".
 */
#include <stdatomic.h>

#include "rv_internal.h"
#include "test_util.h"

/* ---------------- the float64 reference ---------------- */

/* keys [lo, hi) of row r: all n, or ending at r + 1 + n - m (causal, window) */
static void
ref_range(size_t r, size_t m, size_t n, int banded, size_t window,
		  size_t *lo, size_t *hi)
{
	long long	end = (long long) r + 1 + (long long) n - (long long) m;

	*hi = !banded ? n : end > 0 ? (size_t) end : 0;
	*lo = window && *hi > window ? *hi - window : 0;
}

/*
 * out (m x dv) and mag (sum_i w_i |v_i| per element) of attention with H
 * heads as contiguous slices, scale per head (NAN: 1/sqrt(d/H)), keys of
 * row r restricted to ref_range.  An empty range gives 0 (mag 0).
 */
static void
ref_attention(const float *Q, size_t m, const float *K, const float *V,
			  size_t n, size_t d, size_t dv, size_t H, int banded,
			  size_t window, float scale, double *out, double *mag)
{
	size_t		dh = d / H,
				dvh = dv / H;
	double		s = isnan(scale) ? 1.0 / sqrt((double) dh) : scale;
	double	   *w = malloc((n ? n : 1) * sizeof(double));

	for (size_t r = 0; r < m; r++)
	{
		size_t		lo, hi;

		ref_range(r, m, n, banded, window, &lo, &hi);
		for (size_t h = 0; h < H; h++)
		{
			double	   *o = out + r * dv + h * dvh,
					   *g = mag + r * dv + h * dvh;

			if (lo == hi)
			{
				for (size_t j = 0; j < dvh; j++)
					o[j] = g[j] = 0.0;
				continue;
			}
			ref_weights(Q + r * d + h * dh, K + lo * d + h * dh, hi - lo, dh, d, s, w);
			ref_weighted(w, V + lo * dv + h * dvh, hi - lo, dvh, dv, o, g);
		}
	}
	free(w);
}

/* head-averaged weights (m x n), 0 outside each row's range */
static void
ref_weights_avg(const float *Q, size_t m, const float *K, size_t n, size_t d,
				size_t H, int banded, size_t window, float scale, double *W)
{
	size_t		dh = d / H;
	double		s = isnan(scale) ? 1.0 / sqrt((double) dh) : scale;
	double	   *w = malloc((n ? n : 1) * sizeof(double));

	for (size_t r = 0; r < m; r++)
	{
		size_t		lo, hi;

		ref_range(r, m, n, banded, window, &lo, &hi);
		for (size_t i = 0; i < n; i++)
			W[r * n + i] = 0.0;
		for (size_t h = 0; h < H && lo < hi; h++)
		{
			ref_weights(Q + r * d + h * dh, K + lo * d + h * dh, hi - lo, dh, d, s, w);
			for (size_t i = lo; i < hi; i++)
				W[r * n + i] += w[i - lo] / (double) H;
		}
	}
	free(w);
}

/* ---------------- calling the core ---------------- */

/* window 0: rv_cross_attention (H heads, causal); else sliding (H 1) */
static size_t
scratch_for(size_t m, size_t n, size_t d, size_t dv, size_t H, size_t window,
			const rv_exec *ex)
{
	return window ? rv_sliding_window_attention_scratch(m, n, d, dv, window, ex)
		: rv_cross_attention_scratch(m, n, d, dv, H, ex);
}

static rv_status
call(const float *Q, size_t m, const float *K, const float *V, size_t n,
	 size_t d, size_t dv, size_t H, int causal, size_t window, float scale,
	 float *out, const rv_exec *ex)
{
	size_t		s = scratch_for(m, n, d, dv, H, window, ex);
	float	   *scratch = malloc((s ? s : 1) * sizeof(float));
	rv_status	st;

	st = window ? rv_sliding_window_attention(Q, m, K, V, n, d, dv, window, scale, out, scratch, ex)
		: rv_cross_attention(Q, m, K, V, n, d, dv, H, causal, scale, out, scratch, ex);
	free(scratch);
	return st;
}

/*
 * One case against the reference: every element within the bar, rows
 * with no key exactly 0.  Returns the output (caller frees) for further
 * comparisons.
 */
static float *
check_case(const char *what, const float *Q, size_t m, const float *K,
		   const float *V, size_t n, size_t d, size_t dv, size_t H,
		   int causal, size_t window, float scale, const rv_exec *ex)
{
	double	   *ref = malloc(m * dv * sizeof(double));
	double	   *mag = malloc(m * dv * sizeof(double));
	float	   *out = malloc(m * dv * sizeof(float));
	rv_status	st;
	size_t		bad = m * dv;

	for (size_t i = 0; i < m * dv; i++)
		out[i] = NAN;
	st = call(Q, m, K, V, n, d, dv, H, causal, window, scale, out, ex);
	ref_attention(Q, m, K, V, n, d, dv, H, causal || window, window, scale, ref, mag);
	for (size_t i = 0; i < m * dv && bad == m * dv; i++)
		if (mag[i] == 0.0 ? out[i] != 0.0f : !close_to(out[i], ref[i], mag[i]))
			bad = i;
	CHECK(st == RV_OK && bad == m * dv,
		  "%s m=%zu n=%zu d=%zu dv=%zu H=%zu causal=%d window=%zu: status %d, "
		  "[%zu] = %.9g, reference %.9g", what, m, n, d, dv, H, causal, window, st,
		  bad, bad < m * dv ? out[bad] : 0.0, bad < m * dv ? ref[bad] : 0.0);
	free(ref);
	free(mag);
	return out;
}

static void
run_case(const char *what, size_t m, size_t n, size_t d, size_t dv, size_t H,
		 int causal, size_t window, float scale)
{
	float	   *Q = rand_array(m * d, 1.0f);
	float	   *K = rand_array(n * d, 1.0f);
	float	   *V = rand_array(n * dv, 1.0f);

	free(check_case(what, Q, m, K, V, n, d, dv, H, causal, window, scale, NULL));
	free(Q);
	free(K);
	free(V);
}

/* ---------------- tests ---------------- */

static void
test_tails(void)
{
	static const size_t ms[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 63, 64, 65, 127, 129, 1000};

	for (size_t t = 0; t < NTAILS; t++)
		for (int causal = 0; causal <= 1; causal++)
		{
			size_t		x = tails[t];

			/* n: the tiled path (m >= 8) and the per-row path */
			run_case("tails n", 20, x, 16, 16, 2, causal, 0, NAN);
			run_case("tails n", 3, x, 8, 12, 1, causal, 0, NAN);
			run_case("tails d", 17, 33, x, 8, 1, causal, 0, NAN);
			run_case("tails dv", 17, 33, 8, x, 1, causal, 0, NAN);
			run_case("tails d dv", 70, 9, x, x, 1, causal, 0, NAN);
		}
	for (size_t t = 0; t < sizeof ms / sizeof ms[0]; t++)
		for (int causal = 0; causal <= 1; causal++)
		{
			run_case("tails m", ms[t], 65, 8, 8, 1, causal, 0, NAN);
			run_case("tails m", ms[t], 130, 24, 40, 8, causal, 0, NAN);
		}
	/* m past many blocks, a long n, the shapes of the benchmark */
	run_case("tails m", 4099, 17, 4, 4, 1, 1, 0, NAN);
	run_case("tails m", 4099, 17, 4, 4, 1, 0, 0, NAN);
	run_case("long n", 9, 4099, 8, 8, 1, 0, 0, NAN);
	run_case("long n", 33, 4099, 16, 16, 2, 1, 0, NAN);
}

static void
test_heads_causal_window(void)
{
	static const size_t heads[] = {1, 2, 8};
	/* m > n, m == n, m < n; one and several blocks of rows */
	static const size_t shapes[][2] = {{100, 37}, {37, 100}, {70, 70}, {200, 64}, {5, 3}, {3, 5}, {64, 200}};

	for (size_t h = 0; h < 3; h++)
		for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
			for (int causal = 0; causal <= 1; causal++)
			{
				run_case("heads", shapes[s][0], shapes[s][1], 8 * heads[h], 4 * heads[h],
						 heads[h], causal, 0, NAN);
				run_case("heads scale", shapes[s][0], shapes[s][1], 3 * heads[h], 5 * heads[h],
						 heads[h], causal, 0, 0.7f);
			}
	/* windows: 1, narrow (per-row path), wide (tiles), > n, with m > n */
	{
		static const size_t windows[] = {1, 2, 7, 31, 32, 33, 64, 100, 1000};

		for (size_t w = 0; w < sizeof windows / sizeof windows[0]; w++)
			for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
			{
				run_case("window", shapes[s][0], shapes[s][1], 16, 8, 1, 0, windows[w], NAN);
				run_case("window scale", shapes[s][0], shapes[s][1], 9, 17, 1, 0, windows[w], 0.25f);
			}
		run_case("window m=1", 1, 500, 16, 16, 1, 0, 7, NAN);
		run_case("window long", 40, 4099, 8, 8, 1, 0, 300, NAN);
	}
}

/* rows that attend no key are exactly 0 (causal m > n, window) */
static void
test_empty_rows(void)
{
	size_t		m = 50,
				n = 20,
				d = 8,
				dv = 8;
	float	   *Q = rand_array(m * d, 1.0f);
	float	   *K = rand_array(n * d, 1.0f);
	float	   *V = rand_array(n * dv, 1.0f);
	float	   *out = malloc(m * dv * sizeof(float));
	int			zero = 1;

	for (size_t mm = 3; mm <= m; mm += 47)	/* per-row path, tiled path */
	{
		size_t		nn = mm == 3 ? 1 : n;

		CHECK_STATUS(call(Q, mm, K, V, nn, d, dv, 1, 1, 0, NAN, out, NULL), RV_OK);
		for (size_t i = 0; i < (mm - nn) * dv; i++)
			zero &= out[i] == 0.0f;
		CHECK(zero, "causal m=%zu n=%zu: rows without keys are not 0", mm, nn);
		CHECK_STATUS(call(Q, mm, K, V, nn, d, dv, 1, 0, 5, NAN, out, NULL), RV_OK);
		for (size_t i = 0; i < (mm - nn) * dv; i++)
			zero &= out[i] == 0.0f;
		CHECK(zero, "window m=%zu n=%zu: rows without keys are not 0", mm, nn);
	}
	free(Q);
	free(K);
	free(V);
	free(out);
}

/* cross with one query and one head is scaled-dot attention; so is a window >= n */
static void
test_vs_scaled_dot(void)
{
	static const size_t ns[] = {1, 17, 1000, 5000};

	for (size_t t = 0; t < sizeof ns / sizeof ns[0]; t++)
	{
		size_t		n = ns[t],
					d = 24,
					dv = 20;
		float	   *Q = rand_array(2 * d, 1.0f);
		float	   *K = rand_array(n * d, 1.0f);
		float	   *V = rand_array(n * dv, 1.0f);
		float	   *ref = malloc(2 * dv * sizeof(float));
		float	   *out = malloc(2 * dv * sizeof(float));
		float	   *s = malloc(rv_scaled_dot_attention_scratch(1, n, d, dv, NULL) * sizeof(float));
		int			ok = 1;

		CHECK_STATUS(rv_scaled_dot_attention(Q, 1, K, V, n, d, dv, 0.2f, ref, s, NULL), RV_OK);
		CHECK_STATUS(call(Q, 1, K, V, n, d, dv, 1, 0, 0, 0.2f, out, NULL), RV_OK);
		for (size_t j = 0; j < dv; j++)
			ok &= close_to(out[j], ref[j], 1.0);
		CHECK(ok, "cross m=1 n=%zu differs from scaled_dot", n);
		CHECK_STATUS(call(Q, 1, K, V, n, d, dv, 1, 1, 0, 0.2f, out, NULL), RV_OK);
		for (size_t j = 0; j < dv; j++)
			ok &= close_to(out[j], ref[j], 1.0);
		CHECK(ok, "causal cross m=1 n=%zu differs from scaled_dot", n);
		CHECK_STATUS(call(Q, 1, K, V, n, d, dv, 1, 0, n + 3, 0.2f, out, NULL), RV_OK);
		for (size_t j = 0; j < dv; j++)
			ok &= close_to(out[j], ref[j], 1.0);
		CHECK(ok, "sliding m=1 window > n=%zu differs from scaled_dot", n);
		free(Q);
		free(K);
		free(V);
		free(ref);
		free(out);
		free(s);
	}
	/* self-attention: cross(X, X, X) */
	{
		size_t		L = 96,
					d = 32;
		float	   *X = rand_array(L * d, 1.0f);

		free(check_case("self", X, L, X, X, L, d, d, 4, 1, 0, NAN, NULL));
		free(check_case("self", X, L, X, X, L, d, d, 4, 0, 0, NAN, NULL));
		free(X);
	}
}

/* 1 vs several threads: bit-identical, on both paths */
static void
test_threads(void)
{
	static const size_t cases[][7] = {	/* m, n, d, dv, H, causal, window */
		{200, 150, 64, 64, 8, 1, 0}, {130, 300, 16, 24, 2, 0, 0}, {4, 300, 16, 16, 4, 1, 0},
		{150, 400, 8, 8, 1, 0, 40}, {150, 400, 8, 8, 1, 0, 5}, {64, 64, 512, 512, 8, 1, 0},
		{1000, 300, 16, 16, 1, 1, 0},	/* blocks per task follow the threads */
	};
	int			counts[] = {2, 3, 4};

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
	{
		size_t		m = cases[c][0], n = cases[c][1], d = cases[c][2], dv = cases[c][3],
					H = cases[c][4], window = cases[c][6];
		int			causal = (int) cases[c][5];
		float	   *Q = rand_array(m * d, 1.0f);
		float	   *K = rand_array(n * d, 1.0f);
		float	   *V = rand_array(n * dv, 1.0f);
		float	   *ref = check_case("threads", Q, m, K, V, n, d, dv, H, causal, window, NAN, NULL);
		float	   *out = malloc(m * dv * sizeof(float));

		for (size_t t = 0; t < sizeof counts / sizeof counts[0]; t++)
		{
			rv_exec		ex = {.max_threads = counts[t], .min_work_per_thread = 1};

			CHECK_STATUS(call(Q, m, K, V, n, d, dv, H, causal, window, NAN, out, &ex), RV_OK);
			CHECK(memcmp(ref, out, m * dv * sizeof(float)) == 0,
				  "case %zu differs with %d threads", c, counts[t]);
		}
		free(Q);
		free(K);
		free(V);
		free(ref);
		free(out);
	}
}

static atomic_int cancel_polls;
static int	cancel_after;

static int
cancel_cb(void *arg)
{
	(void) arg;
	return atomic_fetch_add(&cancel_polls, 1) + 1 >= cancel_after;
}

static void
test_cancel(void)
{
	/* m, n, H, window: tiles (a poll per tile), rows (a poll per RV_CANCEL_BLOCK keys) */
	static const size_t cases[][4] = {{64, 2000, 1, 0}, {16, 600, 2, 0}, {4, 5 * RV_CANCEL_BLOCK, 1, 0},
	{40, 3000, 1, 200}};

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
		for (int threads = 1; threads <= 4; threads *= 4)
			for (int after = 1; after <= 3; after++)
			{
				size_t		m = cases[c][0], n = cases[c][1], H = cases[c][2],
							window = cases[c][3], d = 8, dv = 8;
				rv_exec		ex = {.max_threads = threads, .min_work_per_thread = 1,
				.cancel = cancel_cb};
				float	   *Q = rand_array(m * d, 1.0f);
				float	   *K = rand_array(n * d, 1.0f);
				float	   *V = rand_array(n * dv, 1.0f);
				float	   *out = malloc(m * dv * sizeof(float));

				cancel_after = after;
				atomic_store(&cancel_polls, 0);
				CHECK_STATUS(call(Q, m, K, V, n, d, dv, H, 0, window, NAN, out, &ex), RV_ERR_CANCELLED);
				cancel_after = 1 << 30;
				atomic_store(&cancel_polls, 0);
				CHECK_STATUS(call(Q, m, K, V, n, d, dv, H, 1, window, NAN, out, &ex), RV_OK);
				CHECK(atomic_load(&cancel_polls) > 0, "case %zu never polled", c);
				free(Q);
				free(K);
				free(V);
				free(out);
			}
}

static void
test_errors(void)
{
	float		q[8] = {1, 2, 3, 4, 5, 6, 7, 8};
	float		K[16] = {1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1, 0, 0, 0, 0, 1};
	float		V[16] = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};
	float		out[64];
	float		s[4096];

	CHECK_STATUS(rv_cross_attention(q, 1, K, V, 4, 4, 4, 3, 0, NAN, out, s, NULL), RV_ERR_NUM_HEADS);
	CHECK_STATUS(rv_cross_attention(q, 1, K, V, 4, 4, 6, 4, 0, NAN, out, s, NULL), RV_ERR_NUM_HEADS);
	CHECK_STATUS(rv_cross_attention(q, 1, K, V, 4, 4, 4, 0, 0, NAN, out, s, NULL), RV_ERR_NUM_HEADS);
	CHECK(rv_cross_attention_scratch(1, 4, 4, 4, 3, NULL) == (size_t) -1, "bad heads scratch");
	CHECK_STATUS(rv_sliding_window_attention(q, 1, K, V, 4, 4, 4, 0, NAN, out, s, NULL), RV_ERR_WINDOW);
	CHECK(rv_sliding_window_attention_scratch(1, 4, 4, 4, 0, NULL) == (size_t) -1, "window 0 scratch");
	CHECK_STATUS(rv_cross_attention(q, 1, K, V, 4, 0, 4, 1, 0, NAN, out, s, NULL), RV_ERR_EMPTY_QUERY);
	CHECK_STATUS(rv_cross_attention(q, 1, K, V, 0, 4, 4, 1, 0, NAN, out, s, NULL), RV_ERR_NO_KEYS);
	CHECK_STATUS(rv_cross_attention(q, 1, K, V, 4, 4, 0, 1, 0, NAN, out, s, NULL), RV_ERR_EMPTY_VALUES);
	CHECK_STATUS(rv_sliding_window_attention(q, 1, K, V, 4, 0, 4, 2, NAN, out, s, NULL), RV_ERR_EMPTY_QUERY);
	CHECK_STATUS(rv_sliding_window_attention(q, 1, K, V, 0, 4, 4, 2, NAN, out, s, NULL), RV_ERR_NO_KEYS);
	CHECK_STATUS(rv_cross_attention(NULL, 1, K, V, 4, 4, 4, 1, 0, NAN, out, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_cross_attention(q, 1, NULL, V, 4, 4, 4, 1, 0, NAN, out, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_cross_attention(q, 1, K, NULL, 4, 4, 4, 1, 0, NAN, out, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_cross_attention(q, 1, K, V, 4, 4, 4, 1, 0, NAN, NULL, s, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_cross_attention(q, 1, K, V, 4, 4, 4, 1, 0, NAN, out, NULL, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_sliding_window_attention(q, 1, K, V, 4, 4, 4, 2, NAN, out, NULL, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_cross_attention(q, 1, K, V, 4, 4, 4, 1, 0, INFINITY, out, s, NULL), RV_ERR_SCALE);
	CHECK_STATUS(rv_cross_attention(q, 1, K, V, 4, 4, 4, 1, 0, -INFINITY, out, s, NULL), RV_ERR_SCALE);
	CHECK_STATUS(rv_sliding_window_attention(q, 1, K, V, 4, 4, 4, 2, INFINITY, out, s, NULL), RV_ERR_SCALE);
	/* m == 0 does nothing, even with NULL buffers */
	CHECK_STATUS(rv_cross_attention(NULL, 0, NULL, NULL, 4, 4, 4, 1, 1, NAN, NULL, NULL, NULL), RV_OK);
	CHECK_STATUS(rv_sliding_window_attention(NULL, 0, NULL, NULL, 4, 4, 4, 3, NAN, NULL, NULL, NULL), RV_OK);
	/* size overflow */
	CHECK_STATUS(rv_cross_attention(q, (size_t) 1 << 62, K, V, 4, 8, 4, 1, 0, NAN, out, s, NULL),
				 RV_ERR_SIZE_OVERFLOW);
}

/*
 * NaN and +/-Infinity anywhere in Q, K or V (a key some row attends):
 * RV_ERR_NONFINITE on both paths, causal or not, with heads, never a
 * silent NaN; a huge-but-finite logit overflowing is caught too.
 */
static void
test_nonfinite(void)
{
	static const size_t cases[][5] = {	/* m, n, H, causal, window */
		{40, 90, 2, 0, 0}, {40, 90, 1, 1, 0}, {3, 90, 2, 1, 0}, {40, 90, 1, 0, 50}, {2, 90, 1, 0, 5},
		{100, 300, 1, 0, 0},
	};
	const float bads[] = {NAN, INFINITY, -INFINITY};
	size_t		d = 8,
				dv = 8;

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
		for (size_t b = 0; b < 3; b++)
			for (int which = 0; which < 3; which++)
			{
				size_t		m = cases[c][0], n = cases[c][1], H = cases[c][2],
							window = cases[c][4];
				int			causal = (int) cases[c][3];
				float	   *Q = rand_array(m * d, 1.0f);
				float	   *K = rand_array(n * d, 1.0f);
				float	   *V = rand_array(n * dv, 1.0f);
				float	   *out = malloc(m * dv * sizeof(float));

				/* the last row attends the last key in every mode */
				if (which == 0)
					Q[(m - 1) * d + 3] = bads[b];
				else if (which == 1)
					K[(n - 1) * d + 5] = bads[b];
				else
					V[(n - 1) * dv + 2] = bads[b];
				CHECK(call(Q, m, K, V, n, d, dv, H, causal, window, NAN, out, NULL) == RV_ERR_NONFINITE,
					  "case %zu: %g in %s not reported", c, bads[b], which == 0 ? "Q" : which == 1 ? "K" : "V");
				free(Q);
				free(K);
				free(V);
				free(out);
			}
	/*
	 * values near FLT_MAX overflow the unnormalised O of a tile: the
	 * answer is still finite (the row is redone with O kept scaled), on
	 * both paths, causal or not; a NaN next to them is still an error
	 */
	for (size_t mm = 1; mm <= 16; mm += 15)
		for (int causal = 0; causal <= 1; causal++)
		{
			size_t		n = 100;
			float	   *Q = calloc(mm * 2, sizeof(float));
			float	   *K = calloc(n * 2, sizeof(float));
			float	   *V = malloc(n * 2 * sizeof(float));
			float	   *out = malloc(mm * 2 * sizeof(float));
			int			ok = 1;

			for (size_t i = 0; i < n * 2; i++)
				V[i] = i % 2 ? -3e38f : 3e38f;
			CHECK_STATUS(call(Q, mm, K, V, n, 2, 2, 1, causal, 0, NAN, out, NULL), RV_OK);
			for (size_t i = 0; i < mm * 2; i++)
				ok &= close_to(out[i], i % 2 ? -3e38 : 3e38, 0);
			CHECK(ok, "m=%zu causal=%d: V near FLT_MAX gives %g %g", mm, causal, out[0], out[1]);
			V[2 * (n - 1)] = NAN;
			CHECK_STATUS(call(Q, mm, K, V, n, 2, 2, 1, causal, 0, NAN, out, NULL), RV_ERR_NONFINITE);
			free(Q);
			free(K);
			free(V);
			free(out);
		}
	/* a logit jump of more than ~104 between tiles (alpha 0) keeps an earlier NaN */
	{
		size_t		m = 16, n = 300;
		float	   *Q = calloc(m * d, sizeof(float));
		float	   *K = calloc(n * d, sizeof(float));
		float	   *V = rand_array(n * dv, 1.0f);
		float	   *out = malloc(m * dv * sizeof(float));

		for (size_t r = 0; r < m; r++)
			Q[r * d] = 1.0f;
		K[(n - 1) * d] = 500.0f;	/* the last tile's max is 500 above */
		V[3 * dv] = NAN;
		CHECK_STATUS(call(Q, m, K, V, n, d, dv, 1, 0, 0, 1.0f, out, NULL), RV_ERR_NONFINITE);
		V[3 * dv] = 1.0f;
		CHECK_STATUS(call(Q, m, K, V, n, d, dv, 1, 0, 0, 1.0f, out, NULL), RV_OK);
		CHECK(close_to(out[1], V[(n - 1) * dv + 1], 1.0), "max jump: %g vs %g", out[1], V[(n - 1) * dv + 1]);
		free(Q);
		free(K);
		free(V);
		free(out);
	}
}

/* the scratch of the tiled path does not grow with n */
static void
test_scratch(void)
{
	size_t		a = rv_cross_attention_scratch(512, 1000, 512, 512, 8, NULL);
	size_t		b = rv_cross_attention_scratch(512, 1000000, 512, 512, 8, NULL);
	size_t		c = rv_cross_attention_scratch(1, 10000000, 64, 64, 1, NULL);

	CHECK(a == b && a > 0, "cross scratch grows with n: %zu vs %zu", a, b);
	CHECK(c <= RV_CANCEL_BLOCK + 2 * 64 + 1, "per-row scratch %zu", c);
	CHECK(rv_sliding_window_attention_scratch(512, 1000000, 64, 64, 300, NULL) ==
		  rv_sliding_window_attention_scratch(512, 1000, 64, 64, 300, NULL), "sliding scratch grows with n");
}

/* ---------------- weights and logits ---------------- */

static void
check_weights(rv_attention_type type, size_t m, size_t n, size_t d, size_t H,
			  int causal, size_t window, float scale)
{
	rv_attention_params p;
	float	   *Q = rand_array(m * d, 1.0f);
	float	   *K = rand_array(n * d, 1.0f);
	float	   *W = malloc((m * n + 1) * sizeof(float));
	double	   *ref = malloc((m * n + 1) * sizeof(double));
	size_t		s;
	float	   *scratch;
	int			ok = 1,
				sums = 1;

	rv_attention_params_init(&p, type);
	p.num_heads = H;
	p.causal = causal;
	p.window = window;
	p.scale = scale;
	s = type == RV_ATTN_CROSS ? rv_cross_weights_scratch(&p, m, n, d, NULL)
		: rv_sliding_weights_scratch(&p, m, n, d, NULL);
	scratch = malloc((s ? s : 1) * sizeof(float));
	CHECK_STATUS(type == RV_ATTN_CROSS ? rv_cross_weights(&p, Q, m, K, n, d, W, scratch, NULL)
				 : rv_sliding_weights(&p, Q, m, K, n, d, W, scratch, NULL), RV_OK);
	ref_weights_avg(Q, m, K, n, d, H, causal || type == RV_ATTN_SLIDING, window, scale, ref);
	for (size_t r = 0; r < m; r++)
	{
		double		sum = 0.0,
					want;
		size_t		lo, hi;

		ref_range(r, m, n, causal || type == RV_ATTN_SLIDING, window, &lo, &hi);
		want = lo < hi ? 1.0 : 0.0;
		for (size_t i = 0; i < n; i++)
		{
			ok &= ref[r * n + i] == 0.0 ? W[r * n + i] == 0.0f : close_to(W[r * n + i], ref[r * n + i], 0.0);
			sum += W[r * n + i];
		}
		sums &= fabs(sum - want) < 1e-5;
	}
	CHECK(ok && sums, "%s weights m=%zu n=%zu d=%zu H=%zu causal=%d window=%zu: ok %d sums %d",
		  type == RV_ATTN_CROSS ? "cross" : "sliding", m, n, d, H, causal, window, ok, sums);
	free(Q);
	free(K);
	free(W);
	free(ref);
	free(scratch);
}

static void
test_weights_logits(void)
{
	for (int causal = 0; causal <= 1; causal++)
	{
		check_weights(RV_ATTN_CROSS, 7, 33, 16, 1, causal, 0, NAN);
		check_weights(RV_ATTN_CROSS, 40, 17, 16, 2, causal, 0, NAN);
		check_weights(RV_ATTN_CROSS, 5, 100, 64, 8, causal, 0, 0.5f);
		check_weights(RV_ATTN_CROSS, 3, 70, 40, 20, causal, 0, NAN);	/* two groups of heads */
		check_weights(RV_ATTN_CROSS, 1, 4099, 8, 1, causal, 0, NAN);
	}
	check_weights(RV_ATTN_SLIDING, 10, 30, 8, 1, 0, 1, NAN);
	check_weights(RV_ATTN_SLIDING, 10, 30, 8, 1, 0, 7, 0.3f);
	check_weights(RV_ATTN_SLIDING, 40, 30, 8, 1, 0, 7, NAN);	/* m > n */
	check_weights(RV_ATTN_SLIDING, 3, 30, 8, 1, 0, 100, NAN);	/* window > n */
	{
		rv_attention_params p;
		float		q[16], k[16], W[4], s[64], out;
		double		ref = 0.0;

		for (size_t i = 0; i < 16; i++)
		{
			q[i] = nrand();
			k[i] = nrand();
		}
		rv_attention_params_init(&p, RV_ATTN_CROSS);
		for (size_t i = 0; i < 16; i++)
			ref += (double) q[i] * k[i];
		CHECK_STATUS(rv_cross_logit(&p, q, k, 16, &out), RV_OK);
		CHECK(close_to(out, ref / 4.0, fabs(ref)), "cross logit %g vs %g", out, ref / 4.0);
		p.scale = 0.5f;
		CHECK_STATUS(rv_cross_logit(&p, q, k, 16, &out), RV_OK);
		CHECK(close_to(out, ref * 0.5, fabs(ref)), "cross logit scale %g", out);
		/* heads: the mean of the per-head logits */
		p.num_heads = 4;
		CHECK_STATUS(rv_cross_logit(&p, q, k, 16, &out), RV_OK);
		CHECK(close_to(out, ref * 0.5 / 4.0, 16.0), "cross logit 4 heads, scale %g", out);
		p.scale = NAN;
		CHECK_STATUS(rv_cross_logit(&p, q, k, 16, &out), RV_OK);
		CHECK(close_to(out, ref * 0.5 / 4.0, 16.0), "cross logit 4 heads %g vs %g", out, ref / 8.0);
		p.num_heads = 3;
		CHECK_STATUS(rv_cross_logit(&p, q, k, 16, &out), RV_ERR_NUM_HEADS);
		CHECK_STATUS(rv_cross_weights(&p, q, 1, k, 1, 16, W, s, NULL), RV_ERR_NUM_HEADS);
		p.num_heads = 0;
		CHECK(rv_cross_weights_scratch(&p, 1, 1, 16, NULL) == (size_t) -1, "heads 0 scratch");
		p.num_heads = 1;
		p.scale = INFINITY;
		CHECK_STATUS(rv_cross_logit(&p, q, k, 16, &out), RV_ERR_SCALE);
		CHECK_STATUS(rv_cross_weights(&p, q, 1, k, 1, 16, W, s, NULL), RV_ERR_SCALE);
		p.scale = NAN;
		CHECK_STATUS(rv_cross_logit(&p, q, k, 0, &out), RV_ERR_EMPTY_QUERY);
		CHECK_STATUS(rv_cross_logit(&p, NULL, k, 16, &out), RV_ERR_NULL_ARG);
		CHECK_STATUS(rv_cross_weights(&p, q, 1, k, 1, 0, W, s, NULL), RV_ERR_EMPTY_QUERY);
		CHECK_STATUS(rv_cross_weights(&p, q, 1, k, 0, 16, W, s, NULL), RV_OK);
		CHECK_STATUS(rv_cross_weights(&p, NULL, 1, k, 1, 16, W, s, NULL), RV_ERR_NULL_ARG);
		q[2] = NAN;
		CHECK_STATUS(rv_cross_logit(&p, q, k, 16, &out), RV_ERR_NONFINITE);
		CHECK_STATUS(rv_cross_weights(&p, q, 1, k, 1, 16, W, s, NULL), RV_ERR_NONFINITE);
		q[2] = 1.0f;

		rv_attention_params_init(&p, RV_ATTN_SLIDING);
		CHECK_STATUS(rv_sliding_logit(&p, q, k, 16, &out), RV_OK);
		ref = 0.0;
		for (size_t i = 0; i < 16; i++)
			ref += (double) q[i] * k[i];
		CHECK(close_to(out, ref / 4.0, 16.0), "sliding logit %g vs %g", out, ref / 4.0);
		p.scale = 2.0f;
		CHECK_STATUS(rv_sliding_logit(&p, q, k, 16, &out), RV_OK);
		CHECK(close_to(out, ref * 2.0, 64.0), "sliding logit scale %g", out);
		p.window = 0;
		CHECK_STATUS(rv_sliding_logit(&p, q, k, 16, &out), RV_ERR_WINDOW);
		CHECK_STATUS(rv_sliding_weights(&p, q, 1, k, 1, 16, W, s, NULL), RV_ERR_WINDOW);
		CHECK(rv_sliding_weights_scratch(&p, 1, 1, 16, NULL) == (size_t) -1, "window 0 scratch");
		CHECK_STATUS(rv_sliding_logit(NULL, q, k, 16, &out), RV_ERR_NULL_ARG);
		CHECK_STATUS(rv_cross_logit(NULL, q, k, 16, &out), RV_ERR_NULL_ARG);
		CHECK_STATUS(rv_cross_weights(NULL, q, 1, k, 1, 16, W, s, NULL), RV_ERR_NULL_ARG);
		CHECK_STATUS(rv_sliding_weights(NULL, q, 1, k, 1, 16, W, s, NULL), RV_ERR_NULL_ARG);
		p.window = 2;
		p.scale = -INFINITY;
		CHECK_STATUS(rv_sliding_logit(&p, q, k, 16, &out), RV_ERR_SCALE);
	}
}

int
main(void)
{
	FOR_EACH_BACKEND
	{
		test_tails();
		test_heads_causal_window();
		test_empty_rows();
		test_vs_scaled_dot();
		test_threads();
		test_cancel();
		test_errors();
		test_nonfinite();
		test_scratch();
		test_weights_logits();
	}
	return test_summary();
}
