/*
 * test_core.c: tests of the public C API (drivers, dispatch, threads,
 * cancellation, errors) against double-precision references, run for
 * every backend this CPU supports.  Kernel-level tests are in
 * test_kernels.c.  Prints one line per failure and "N passed, M failed".
 */
#include <stdatomic.h>

#include "rv_threads.h"
#include "test_util.h"

/* ---------------- tests ---------------- */

static void
test_softmax(void)
{
	for (size_t t = 0; t < NTAILS; t++)
	{
		size_t		n = tails[t];
		float	   *x = rand_array(n, 3.0f);
		float	   *y = malloc(n * sizeof(float));
		double		m = -INFINITY,
					sum = 0.0;
		int			ok = 1;

		if (n > 2)
			x[n / 2] = -INFINITY;
		for (size_t i = 0; i < n; i++)
			m = x[i] > m ? x[i] : m;
		for (size_t i = 0; i < n; i++)
			sum += exp((double) x[i] - m);
		CHECK_STATUS(rv_softmax(x, n, y), RV_OK);
		for (size_t i = 0; i < n; i++)
			ok &= close_to(y[i], exp((double) x[i] - m) / sum, 0.0);
		CHECK(ok, "softmax n=%zu", n);
		CHECK(n <= 2 || y[n / 2] == 0.0f, "masked entry has weight %g", y[n / 2]);
		CHECK_STATUS(rv_softmax_inplace(x, n), RV_OK);
		CHECK(memcmp(x, y, n * sizeof(float)) == 0, "in-place differs, n=%zu", n);
		free(x);
		free(y);
	}
	{
		float		big[4] = {1e4f, -1e4f, 1e4f - 1.0f, 0.0f};
		float		eq[5] = {7, 7, 7, 7, 7};
		float		masked[3] = {-INFINITY, -INFINITY, -INFINITY};
		float		nan[2] = {0.0f, NAN};
		float		pinf[2] = {0.0f, INFINITY};
		float		out[5];
		double		e = exp(-1.0);

		CHECK_STATUS(rv_softmax(big, 4, out), RV_OK);
		CHECK(close_to(out[0], 1.0 / (1.0 + e), 0) && close_to(out[2], e / (1.0 + e), 0) &&
			  out[1] == 0.0f && out[3] == 0.0f, "softmax +-1e4: %g %g %g %g",
			  out[0], out[1], out[2], out[3]);
		CHECK_STATUS(rv_softmax(eq, 5, out), RV_OK);
		CHECK(close_to(out[0], 0.2, 0) && close_to(out[4], 0.2, 0), "all-equal softmax %g", out[0]);
		CHECK_STATUS(rv_softmax(masked, 3, out), RV_ERR_ALL_MASKED);
		CHECK_STATUS(rv_softmax(nan, 2, out), RV_ERR_NONFINITE);
		CHECK_STATUS(rv_softmax(pinf, 2, out), RV_ERR_NONFINITE);
		CHECK_STATUS(rv_softmax(NULL, 0, NULL), RV_OK);
		CHECK_STATUS(rv_softmax(NULL, 2, out), RV_ERR_NULL_ARG);
	}
	{
		/*
		 * one dominant term among thousands far below it: each tiny term
		 * is under half an ulp of a running float sum that holds the big
		 * one, so a long float sum drops them all (1.7e-4 of the sum for
		 * 4095 terms of e^-17); the blocked sum must not
		 */
		size_t		sizes[] = {4096, 10000};

		for (size_t s = 0; s < 2; s++)
		{
			size_t		n = sizes[s];
			float	   *x = malloc(n * sizeof(float));
			float	   *y = malloc(n * sizeof(float));
			double		sum = 1.0 + (double) (n - 1) * exp(-17.0);

			x[0] = 0.0f;
			for (size_t i = 1; i < n; i++)
				x[i] = -17.0f;
			CHECK_STATUS(rv_softmax(x, n, y), RV_OK);
			CHECK(close_to(y[0], 1.0 / sum, 0.0) && close_to(y[n - 1], exp(-17.0) / sum, 0.0),
				  "peaked softmax n=%zu: %.9g (want %.9g), %.9g (want %.9g)", n,
				  y[0], 1.0 / sum, y[n - 1], exp(-17.0) / sum);
			free(x);
			free(y);
		}
	}
	{
		/* a large n exercises the blocked double sum */
		size_t		n = 1000003;
		float	   *x = malloc(n * sizeof(float));
		double		sum = 0.0;

		for (size_t i = 0; i < n; i++)
			x[i] = 0.0f;
		CHECK_STATUS(rv_softmax_inplace(x, n), RV_OK);
		for (size_t i = 0; i < n; i++)
			sum += x[i];
		CHECK(fabs(sum - 1.0) < 1e-5 && close_to(x[n - 1], 1.0 / n, 0),
			  "uniform softmax over 1e6: sum %.9g, x %.9g", sum, x[n - 1]);
		free(x);
	}
	{
		/*
		 * NaN or +Infinity anywhere (the max and the check share one pass),
		 * also next to -Infinity: RV_ERR_NONFINITE, out and x untouched.
		 */
		const float bads[] = {NAN, INFINITY};
		size_t		n = 2 * RV_CANCEL_BLOCK + 5;
		float	   *x = rand_array(n, 3.0f);
		float	   *out = malloc(n * sizeof(float));
		const size_t positions[] = {0, 1, 15, 16, 17, RV_CANCEL_BLOCK, n - 2, n - 1};

		for (size_t b = 0; b < 2; b++)
			for (size_t p = 0; p < sizeof positions / sizeof positions[0]; p++)
			{
				size_t		pos = positions[p];
				float		saved = x[pos];
				int			untouched = 1;

				x[pos] = bads[b];
				x[n - 1 - pos] = pos == n - 1 - pos ? x[pos] : -INFINITY;
				for (size_t i = 0; i < n; i++)
					out[i] = 42.0f;
				CHECK_STATUS(rv_softmax(x, n, out), RV_ERR_NONFINITE);
				for (size_t i = 0; i < n; i++)
					untouched &= out[i] == 42.0f;
				memcpy(out, x, n * sizeof(float));
				CHECK_STATUS(rv_softmax_inplace(x, n), RV_ERR_NONFINITE);
				CHECK(untouched && memcmp(out, x, n * sizeof(float)) == 0,
					  "softmax error at [%zu] wrote to out or x", pos);
				x[pos] = saved;
				x[n - 1 - pos] = nrand();
			}
		free(x);
		free(out);
	}
}

static void
test_exp(void)
{
	float		x[6] = {0.0f, 1.0f, -1.0f, -INFINITY, 100.0f, -200.0f};
	float		y[6];

	rv_exp_f32(x, 6, y);
	CHECK(y[0] == 1.0f && close_to(y[1], exp(1.0), 0) && close_to(y[2], exp(-1.0), 0) &&
		  y[3] == 0.0f && isinf(y[4]) && y[5] == 0.0f,
		  "exp: %g %g %g %g %g %g", y[0], y[1], y[2], y[3], y[4], y[5]);
}

static void
check_forward(const char *what, const float *out, const double *ref,
			  const double *mag, size_t dv, size_t n, size_t d)
{
	int			ok = 1;
	size_t		bad = 0;

	for (size_t j = 0; j < dv; j++)
		if (!close_to(out[j], ref[j], mag[j]))
		{
			ok = 0;
			bad = j;
			break;
		}
	CHECK(ok, "%s n=%zu d=%zu dv=%zu: out[%zu]=%.9g ref %.9g", what, n, d, dv,
		  bad, out[bad], ref[bad]);
}

/* scaled_dot, flash (several block sizes) and 1-head multi-head vs reference */
static void
run_forward_case(size_t n, size_t d, size_t dv)
{
	float	   *q = rand_array(d, 1.0f);
	float	   *K = rand_array(n * d, 1.0f);
	float	   *V = rand_array(n * dv, 1.0f);
	float	   *out = malloc(dv * sizeof(float));
	float	   *w = malloc(n * sizeof(float));
	double	   *wr = malloc(n * sizeof(double));
	double	   *ref = malloc(dv * sizeof(double));
	double	   *mag = malloc(dv * sizeof(double));
	float	   *scratch;
	float		scale = rv_default_scale(d);
	size_t		blocks[] = {1, 3, 64, n, n + 5};
	int			ok = 1;

	ref_weights(q, K, n, d, d, 1.0 / sqrt((double) d), wr);
	ref_weighted(wr, V, n, dv, dv, ref, mag);

	CHECK_STATUS(rv_attention_scores(q, K, n, d, scale, w), RV_OK);
	for (size_t i = 0; i < n; i++)
		ok &= close_to(w[i], wr[i], 0.0);
	CHECK(ok, "attention_scores n=%zu d=%zu", n, d);

	scratch = malloc(rv_scaled_dot_attention_scratch(1, n, d, dv, NULL) * sizeof(float));
	CHECK_STATUS(rv_scaled_dot_attention(q, 1, K, V, n, d, dv, scale, out, scratch, NULL), RV_OK);
	check_forward("scaled_dot", out, ref, mag, dv, n, d);
	free(scratch);

	for (size_t b = 0; b < sizeof blocks / sizeof blocks[0]; b++)
	{
		if (blocks[b] > RV_MAX_BLOCK_SIZE)
			continue;
		scratch = malloc(rv_flash_attention_scratch(1, n, d, dv, blocks[b], NULL) * sizeof(float));
		CHECK_STATUS(rv_flash_attention(q, 1, K, V, n, d, dv, scale, blocks[b], out, scratch, NULL), RV_OK);
		check_forward("flash", out, ref, mag, dv, n, d);
		free(scratch);
	}

	scratch = malloc(rv_multi_head_attention_scratch(1, n, d, dv, 1, 1, NULL) * sizeof(float));
	CHECK_STATUS(rv_multi_head_attention(q, 1, K, V, n, d, dv, 1, out, w, scratch, NULL), RV_OK);
	check_forward("multi_head H=1", out, ref, mag, dv, n, d);
	free(scratch);

	free(q);
	free(K);
	free(V);
	free(out);
	free(w);
	free(wr);
	free(ref);
	free(mag);
}

static void
test_forward_tails(void)
{
	for (size_t t = 0; t < NTAILS; t++)
	{
		run_forward_case(tails[t], 16, 8);	/* n tails */
		run_forward_case(33, tails[t], 9);	/* d tails */
		run_forward_case(17, 12, tails[t]); /* dv tails */
	}
	run_forward_case(20000, 64, 64);	/* several cancel blocks */
}

/* multi-head with H heads vs a per-head reference, and averaged weights */
static void
test_multi_head(void)
{
	size_t		shapes[][4] = {{7, 16, 8, 4}, {100, 12, 6, 3}, {1, 4, 4, 2}, {33, 64, 64, 8}, {5, 8, 16, 8}};

	for (size_t c = 0; c < sizeof shapes / sizeof shapes[0]; c++)
	{
		size_t		n = shapes[c][0],
					d = shapes[c][1],
					dv = shapes[c][2],
					H = shapes[c][3];
		size_t		m = 3,
					dh = d / H,
					dvh = dv / H;
		float	   *Q = rand_array(m * d, 1.0f);
		float	   *K = rand_array(n * d, 1.0f);
		float	   *V = rand_array(n * dv, 1.0f);
		float	   *out = malloc(m * dv * sizeof(float));
		float	   *avg = malloc(m * n * sizeof(float));
		float	   *sw = malloc(n * sizeof(float));
		float	   *scratch = malloc(rv_multi_head_attention_scratch(m, n, d, dv, H, 1, NULL) * sizeof(float));
		float	   *sscratch = malloc(n * H * sizeof(float));
		double	   *wr = malloc(n * sizeof(double));
		double	   *avgr = calloc(m * n, sizeof(double));
		double	   *ref = malloc(dvh * sizeof(double));
		double	   *mag = malloc(dvh * sizeof(double));
		int			ok_out = 1,
					ok_w = 1,
					ok_s = 1;

		CHECK_STATUS(rv_multi_head_attention(Q, m, K, V, n, d, dv, H, out, avg, scratch, NULL), RV_OK);
		for (size_t r = 0; r < m; r++)
			for (size_t h = 0; h < H; h++)
			{
				ref_weights(Q + r * d + h * dh, K + h * dh, n, dh, d, 1.0 / sqrt((double) dh), wr);
				ref_weighted(wr, V + h * dvh, n, dvh, dv, ref, mag);
				for (size_t j = 0; j < dvh; j++)
					ok_out &= close_to(out[r * dv + h * dvh + j], ref[j], mag[j]);
				for (size_t i = 0; i < n; i++)
					avgr[r * n + i] += wr[i] / H;
			}
		for (size_t i = 0; i < m * n; i++)
			ok_w &= close_to(avg[i], avgr[i], 0.0);
		CHECK(ok_out, "multi_head out n=%zu d=%zu dv=%zu H=%zu", n, d, dv, H);
		CHECK(ok_w, "multi_head weights n=%zu H=%zu", n, H);

		/* rv_multi_head_scores gives the same averaged weights, bit for bit */
		CHECK_STATUS(rv_multi_head_scores(Q, K, n, d, H, sw, sscratch), RV_OK);
		ok_s = memcmp(sw, avg, n * sizeof(float)) == 0;
		CHECK(ok_s, "multi_head_scores differs from multi_head_attention weights");

		free(Q);
		free(K);
		free(V);
		free(out);
		free(avg);
		free(sw);
		free(scratch);
		free(sscratch);
		free(wr);
		free(avgr);
		free(ref);
		free(mag);
	}
	{
		float		q[4] = {1, 0, 0, 0};
		float		k[4] = {1, 0, 0, 0};
		float		v[4] = {5, 10, 15, 20};
		float		out[4],
					s,
					scratch[16];

		/* the seed's manual test: one key, so every head returns its slice */
		CHECK(rv_multi_head_attention_scratch(1, 1, 4, 4, 2, 0, NULL) <= 16, "seed multi-head scratch");
		CHECK_STATUS(rv_multi_head_attention(q, 1, k, v, 1, 4, 4, 2, out, NULL, scratch, NULL), RV_OK);
		CHECK(out[0] == 5 && out[1] == 10 && out[2] == 15 && out[3] == 20,
			  "seed multi-head: %g %g %g %g", out[0], out[1], out[2], out[3]);
		/* pair logit: mean over 4 heads of q_h.k_h / sqrt(1) = 1/4 */
		CHECK_STATUS(rv_multi_head_score(q, k, 4, 4, &s), RV_OK);
		CHECK(s == 0.25f, "multi_head score %g", s);
		CHECK_STATUS(rv_attention_score(q, k, 3, rv_default_scale(3), &s), RV_OK);
		CHECK(close_to(s, 1.0 / sqrt(3.0), 0), "scaled_dot score %g", s);
	}
}

/* numerically hard inputs through the forward path */
static void
test_hard_inputs(void)
{
	size_t		n = 9,
				d = 4,
				dv = 3;
	float		K[9 * 4],
				V[9 * 3],
				q[4],
				out[3],
				w[9],
				scratch[64];

	/* one dominant key: logits of +-1e4 from exactly representable products */
	for (size_t i = 0; i < n; i++)
	{
		for (size_t j = 0; j < d; j++)
			K[i * d + j] = (i == 4) ? 100.0f : -100.0f;
		for (size_t j = 0; j < dv; j++)
			V[i * dv + j] = (float) (i * 10 + j);
	}
	q[0] = q[1] = q[2] = q[3] = 50.0f;	/* q.k = +-20000, scale 1/2 */
	CHECK_STATUS(rv_attention_scores(q, K, n, d, 0.5f, w), RV_OK);
	CHECK(w[4] == 1.0f && w[0] == 0.0f, "dominant key weight %g", w[4]);
	CHECK_STATUS(rv_scaled_dot_attention(q, 1, K, V, n, d, dv, 0.5f, out, scratch, NULL), RV_OK);
	CHECK(out[0] == 40.0f && out[1] == 41.0f && out[2] == 42.0f, "dominant key out %g", out[0]);

	/* all-equal logits: the mean of V */
	memset(q, 0, sizeof q);
	CHECK_STATUS(rv_scaled_dot_attention(q, 1, K, V, n, d, dv, 0.5f, out, scratch, NULL), RV_OK);
	CHECK(close_to(out[0], 40.0, 80.0) && close_to(out[2], 42.0, 82.0), "uniform out %g %g", out[0], out[2]);

	/* huge and tiny magnitudes in V do not overflow or flush */
	for (size_t i = 0; i < n * dv; i++)
		V[i] = (i % 2) ? 1e30f : 1e-30f;
	CHECK_STATUS(rv_flash_attention(q, 1, K, V, n, d, dv, 0.5f, 2, out, scratch, NULL), RV_OK);
	CHECK(isfinite(out[0]) && out[0] > 0, "huge values: %g", out[0]);

	/* values near FLT_MAX: the unnormalised running sum must not overflow */
	for (size_t i = 0; i < n * dv; i++)
		V[i] = 3e38f;
	for (size_t blk = 1; blk <= n; blk += 4)
	{
		CHECK_STATUS(rv_flash_attention(q, 1, K, V, n, d, dv, 0.5f, blk, out, scratch, NULL), RV_OK);
		CHECK(close_to(out[0], 3e38, 3e38) && close_to(out[2], 3e38, 3e38),
			  "flash near FLT_MAX, block %zu: %g", blk, out[0]);
	}

	/* a NaN in values of a tile whose weight later underflows to 0 */
	{
		float		q1[1] = {1.0f},
					K2[2] = {0.0f, 200.0f},
					V2[2] = {NAN, 1.0f};

		CHECK_STATUS(rv_scaled_dot_attention(q1, 1, K2, V2, 2, 1, 1, 1.0f, out, scratch, NULL), RV_ERR_NONFINITE);
		CHECK_STATUS(rv_flash_attention(q1, 1, K2, V2, 2, 1, 1, 1.0f, 1, out, scratch, NULL), RV_ERR_NONFINITE);
		V2[0] = INFINITY;
		CHECK_STATUS(rv_flash_attention(q1, 1, K2, V2, 2, 1, 1, 1.0f, 1, out, scratch, NULL), RV_ERR_NONFINITE);
	}
}

static void
test_errors(void)
{
	float		q[4] = {1, 2, 3, 4},
				K[8] = {1, 2, 3, 4, 5, 6, 7, 8},
				V[8] = {1, 2, 3, 4, 5, 6, 7, 8},
				out[8],
				scratch[64],
				s;
	size_t		huge = (size_t) 1 << 62;

	CHECK_STATUS(rv_scaled_dot_attention(q, 1, K, V, 0, 4, 4, 1.0f, out, scratch, NULL), RV_ERR_NO_KEYS);
	CHECK_STATUS(rv_scaled_dot_attention(q, 1, K, V, 2, 0, 4, 1.0f, out, scratch, NULL), RV_ERR_EMPTY_QUERY);
	CHECK_STATUS(rv_scaled_dot_attention(q, 1, K, V, 2, 4, 0, 1.0f, out, scratch, NULL), RV_ERR_EMPTY_VALUES);
	CHECK_STATUS(rv_scaled_dot_attention(q, 1, K, V, 2, 4, 4, NAN, out, scratch, NULL), RV_ERR_SCALE);
	CHECK_STATUS(rv_scaled_dot_attention(q, 1, NULL, V, 2, 4, 4, 1.0f, out, scratch, NULL), RV_ERR_NULL_ARG);
	CHECK_STATUS(rv_scaled_dot_attention(q, 1, K, V, huge, huge, 4, 1.0f, out, scratch, NULL), RV_ERR_SIZE_OVERFLOW);
	CHECK(rv_scaled_dot_attention_scratch(huge, huge, 4, 4, &(rv_exec) {.max_threads = 4}) == (size_t) -1 ||
		  rv_scaled_dot_attention_scratch(huge, huge, 4, 4, NULL) == (size_t) -1 ||
		  rv_scaled_dot_attention_scratch(1, huge * 4, 4, 4, NULL) == (size_t) -1,
		  "scratch size overflow not reported");
	CHECK_STATUS(rv_multi_head_attention(q, 1, K, V, 2, 4, 4, 0, out, NULL, scratch, NULL), RV_ERR_NUM_HEADS);
	CHECK_STATUS(rv_multi_head_attention(q, 1, K, V, 2, 4, 4, 3, out, NULL, scratch, NULL), RV_ERR_NUM_HEADS);
	CHECK_STATUS(rv_multi_head_attention(q, 1, K, V, 2, 4, 2, 4, out, NULL, scratch, NULL), RV_ERR_NUM_HEADS);
	CHECK_STATUS(rv_multi_head_scores(q, K, 2, 4, 3, out, scratch), RV_ERR_NUM_HEADS);
	CHECK_STATUS(rv_multi_head_score(q, K, 4, 3, &s), RV_ERR_NUM_HEADS);
	CHECK_STATUS(rv_flash_attention(q, 1, K, V, 2, 4, 4, 1.0f, 0, out, scratch, NULL), RV_ERR_BLOCK_SIZE);
	CHECK_STATUS(rv_flash_attention(q, 1, K, V, 2, 4, 4, 1.0f, RV_MAX_BLOCK_SIZE + 1, out, scratch, NULL), RV_ERR_BLOCK_SIZE);
	CHECK_STATUS(rv_attention_score(q, K, 0, 1.0f, &s), RV_ERR_EMPTY_QUERY);
	CHECK_STATUS(rv_attention_scores(q, K, 0, 4, 1.0f, out), RV_OK);

	/* non-finite values in each input, and logits that overflow */
	for (int which = 0; which < 4; which++)
	{
		float		qq[4],
					KK[8],
					VV[8];

		memcpy(qq, q, sizeof q);
		memcpy(KK, K, sizeof K);
		memcpy(VV, V, sizeof V);
		if (which == 0)
			qq[2] = NAN;
		else if (which == 1)
			KK[5] = -INFINITY;
		else if (which == 2)
			VV[7] = INFINITY;
		else
			KK[0] = qq[0] = 1e30f;	/* finite inputs, q.k overflows */
		CHECK_STATUS(rv_scaled_dot_attention(qq, 1, KK, VV, 2, 4, 4, 1.0f, out, scratch, NULL), RV_ERR_NONFINITE);
		CHECK_STATUS(rv_flash_attention(qq, 1, KK, VV, 2, 4, 4, 1.0f, 1, out, scratch, NULL), RV_ERR_NONFINITE);
		CHECK_STATUS(rv_multi_head_attention(qq, 1, KK, VV, 2, 4, 4, 2, out, NULL, scratch, NULL), RV_ERR_NONFINITE);
		if (which != 2)
		{
			CHECK_STATUS(rv_attention_scores(qq, KK, 2, 4, 1.0f, out), RV_ERR_NONFINITE);
			CHECK_STATUS(rv_multi_head_scores(qq, KK, 2, 4, 2, out, scratch), RV_ERR_NONFINITE);
		}
	}
	{
		float		qn[4] = {NAN, 0, 0, 0};

		CHECK_STATUS(rv_attention_score(qn, K, 4, 1.0f, &s), RV_ERR_NONFINITE);
		CHECK_STATUS(rv_multi_head_score(qn, K, 4, 2, &s), RV_ERR_NONFINITE);
	}
	for (int st = 0; st < RV_STATUS_COUNT; st++)
		CHECK(rv_strerror((rv_status) st) != NULL && strlen(rv_strerror((rv_status) st)) > 3 &&
			  rv_strerror((rv_status) st)[strlen(rv_strerror((rv_status) st)) - 1] != '.',
			  "status %d has no proper message", st);
	CHECK(strcmp(rv_strerror((rv_status) 999), "unknown status") == 0, "out-of-range status");
}

/* ---------------- threads and cancellation ---------------- */

static atomic_int cancel_polls;
static int	cancel_after;

static int
cancel_cb(void *arg)
{
	(void) arg;
	return atomic_fetch_add(&cancel_polls, 1) + 1 >= cancel_after;
}

/*
 * Grouping independence: multi-head attention reads K and V once per group
 * of heads, the groups following the thread count.  Each head's output
 * must equal, bit for bit, scaled-dot attention of that head alone (on
 * contiguous copies of its slices, one thread), for every thread count,
 * head count (including more than one group's worth) and n past one
 * cancel block; the averaged weights must equal rv_multi_head_scores.
 */
static void
test_head_grouping(void)
{
	static const size_t cases[][5] = {	/* m, n, d, dv, H */
		{1, 2048, 512, 512, 8}, {3, 37, 12, 9, 3}, {2, 4200, 40, 60, 20},
		{5, 300, 8, 8, 1}, {1, 130, 34, 34, 17},
	};
	int			counts[] = {1, 2, 3, 8};

	for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++)
	{
		size_t		m = cases[c][0], n = cases[c][1], d = cases[c][2],
					dv = cases[c][3], H = cases[c][4];
		size_t		dh = d / H, dvh = dv / H;
		float	   *Q = rand_array(m * d, 1.0f);
		float	   *K = rand_array(n * d, 1.0f);
		float	   *V = rand_array(n * dv, 1.0f);
		float	   *ref = malloc(m * dv * sizeof(float));
		float	   *refw = malloc(m * n * sizeof(float));
		float	   *out = malloc(m * dv * sizeof(float));
		float	   *w = malloc(m * n * sizeof(float));
		float	   *qh = malloc(dh * sizeof(float));
		float	   *Kh = malloc(n * dh * sizeof(float));
		float	   *Vh = malloc(n * dvh * sizeof(float));
		float	   *hs = malloc(n * H * sizeof(float));
		float	   *s1 = malloc(rv_scaled_dot_attention_scratch(1, n, dh, dvh, NULL) * sizeof(float));

		/* the reference: one head at a time */
		for (size_t h = 0; h < H; h++)
		{
			for (size_t i = 0; i < n; i++)
			{
				memcpy(Kh + i * dh, K + i * d + h * dh, dh * sizeof(float));
				memcpy(Vh + i * dvh, V + i * dv + h * dvh, dvh * sizeof(float));
			}
			for (size_t r = 0; r < m; r++)
			{
				memcpy(qh, Q + r * d + h * dh, dh * sizeof(float));
				CHECK_STATUS(rv_scaled_dot_attention(qh, 1, Kh, Vh, n, dh, dvh,
													 rv_default_scale(dh),
													 ref + r * dv + h * dvh, s1, NULL), RV_OK);
			}
		}
		for (size_t r = 0; r < m; r++)
			CHECK_STATUS(rv_multi_head_scores(Q + r * d, K, n, d, H, refw + r * n, hs), RV_OK);

		for (int want_w = 0; want_w <= 1; want_w++)
			for (size_t t = 0; t < sizeof counts / sizeof counts[0]; t++)
			{
				rv_exec		ex = {.max_threads = counts[t], .min_work_per_thread = 1};
				float	   *scratch = malloc(rv_multi_head_attention_scratch(m, n, d, dv, H, want_w, &ex) * sizeof(float));

				memset(out, 0xff, m * dv * sizeof(float));
				CHECK_STATUS(rv_multi_head_attention(Q, m, K, V, n, d, dv, H, out,
													 want_w ? w : NULL, scratch, &ex), RV_OK);
				CHECK(memcmp(ref, out, m * dv * sizeof(float)) == 0,
					  "multi_head m=%zu n=%zu H=%zu threads=%d: a head differs from its own attention",
					  m, n, H, counts[t]);
				CHECK(!want_w || memcmp(refw, w, m * n * sizeof(float)) == 0,
					  "multi_head m=%zu n=%zu H=%zu threads=%d: weights differ from multi_head_scores",
					  m, n, H, counts[t]);
				free(scratch);
			}
		free(Q);
		free(K);
		free(V);
		free(ref);
		free(refw);
		free(out);
		free(w);
		free(qh);
		free(Kh);
		free(Vh);
		free(hs);
		free(s1);
	}
}

/*
 * A NaN in one row of a threaded batch: every type reports RV_ERR_NONFINITE
 * whatever the timing, never RV_ERR_CANCELLED (the tasks the failure stops
 * say "cancelled" too, and must not be taken for the failure).
 */
static void
test_failure_is_not_a_cancel(void)
{
	size_t		m = 64,
				n = 300,
				d = 16,
				dv = 8;
	float	   *Q = rand_array(m * d, 0.1f);
	float	   *K = rand_array(n * d, 0.1f);
	float	   *V = rand_array(n * dv, 0.1f);
	float	   *out = malloc(m * dv * sizeof(float));
	rv_exec		ex = {.max_threads = 4, .min_work_per_thread = 1};
	rv_attention_type types[] = {RV_ATTN_SCALED_DOT, RV_ATTN_MULTI_HEAD, RV_ATTN_FLASH_V2,
		RV_ATTN_LINEAR, RV_ATTN_GAT, RV_ATTN_SPARSE, RV_ATTN_MOE, RV_ATTN_CROSS,
	RV_ATTN_SLIDING, RV_ATTN_POINCARE, RV_ATTN_LORENTZ};

	Q[32 * d + 3] = NAN;
	for (size_t t = 0; t < sizeof types / sizeof types[0]; t++)
	{
		rv_attention_params p;
		float	   *scratch;
		int			wrong = 0;

		rv_attention_params_init(&p, types[t]);
		scratch = malloc(rv_attention_scratch(&p, m, n, d, dv, &ex) * sizeof(float));
		for (int rep = 0; rep < 30; rep++)
			wrong += rv_attention(&p, Q, m, K, V, n, d, dv, out, scratch, &ex) != RV_ERR_NONFINITE;
		CHECK(wrong == 0, "%s: %d of 30 threaded calls did not report the NaN as RV_ERR_NONFINITE",
			  rv_attention_type_get(types[t])->name, wrong);
		free(scratch);
	}
	free(Q);
	free(K);
	free(V);
	free(out);
}

static void
test_threads(void)
{
	size_t		m = 5,
				n = 3000,
				d = 64,
				dv = 32,
				H = 8;
	float	   *Q = rand_array(m * d, 1.0f);
	float	   *K = rand_array(n * d, 1.0f);
	float	   *V = rand_array(n * dv, 1.0f);
	float	   *ref = malloc(m * dv * sizeof(float));
	float	   *refw = malloc(m * n * sizeof(float));
	float	   *out = malloc(m * dv * sizeof(float));
	float	   *w = malloc(m * n * sizeof(float));
	int			counts[] = {1, 2, 3, 8};

	for (int want_w = 0; want_w <= 1; want_w++)
		for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
		{
			rv_exec		ex = {.max_threads = counts[c], .min_work_per_thread = 1};
			float	   *scratch = malloc(rv_multi_head_attention_scratch(m, n, d, dv, H, want_w, &ex) * sizeof(float));

			CHECK_STATUS(rv_multi_head_attention(Q, m, K, V, n, d, dv, H, c == 0 ? ref : out,
												 want_w ? (c == 0 ? refw : w) : NULL, scratch, &ex), RV_OK);
			if (c > 0)
			{
				CHECK(memcmp(ref, out, m * dv * sizeof(float)) == 0,
					  "multi_head differs with %d threads", counts[c]);
				CHECK(!want_w || memcmp(refw, w, m * n * sizeof(float)) == 0,
					  "multi_head weights differ with %d threads", counts[c]);
			}
			free(scratch);
		}
	for (size_t c = 0; c < sizeof counts / sizeof counts[0]; c++)
	{
		rv_exec		ex = {.max_threads = counts[c], .min_work_per_thread = 1};
		float	   *scratch = malloc(rv_scaled_dot_attention_scratch(m, n, d, dv, &ex) * sizeof(float));
		float	   *fscratch = malloc(rv_flash_attention_scratch(m, n, d, dv, 64, &ex) * sizeof(float));

		CHECK_STATUS(rv_scaled_dot_attention(Q, m, K, V, n, d, dv, 0.125f, c == 0 ? ref : out, scratch, &ex), RV_OK);
		CHECK(c == 0 || memcmp(ref, out, m * dv * sizeof(float)) == 0, "scaled_dot differs with %d threads", counts[c]);
		CHECK_STATUS(rv_flash_attention(Q, m, K, V, n, d, dv, 0.125f, 64, c == 0 ? refw : out, fscratch, &ex), RV_OK);
		CHECK(c == 0 || memcmp(refw, out, m * dv * sizeof(float)) == 0, "flash differs with %d threads", counts[c]);
		free(scratch);
		free(fscratch);
	}

	/* the thread plan honours max_threads and the work threshold */
	CHECK(rv_plan_threads(8, 1, NULL) == 1, "NULL exec must not thread");
	CHECK(rv_plan_threads(8, 1000, &(rv_exec) {.max_threads = 4}) == 1, "tiny work must not thread");
	CHECK(rv_plan_threads(8, RV_DEFAULT_MIN_WORK, &(rv_exec) {.max_threads = 4}) == 4, "large work threads");
	CHECK(rv_plan_threads(2, RV_DEFAULT_MIN_WORK, &(rv_exec) {.max_threads = 4}) == 2, "no more threads than tasks");

	/* cancellation: from the first poll, after some polls, with threads */
	for (int after = 1; after <= 3; after++)
		for (int threads = 1; threads <= 4; threads *= 4)
		{
			rv_exec		ex = {.max_threads = threads, .min_work_per_thread = 1,
			.cancel = cancel_cb};
			size_t		nbig = 5 * RV_CANCEL_BLOCK;
			float	   *Kb = rand_array(nbig * 8, 1.0f);
			float	   *Vb = rand_array(nbig * 8, 1.0f);
			float	   *scratch = malloc(rv_multi_head_attention_scratch(4, nbig, 8, 8, 2, 0, &ex) * sizeof(float));
			float	   *fs = malloc(rv_flash_attention_scratch(4, nbig, 8, 8, 16, &ex) * sizeof(float));

			cancel_after = after;
			atomic_store(&cancel_polls, 0);
			CHECK_STATUS(rv_multi_head_attention(Q, 4, Kb, Vb, nbig, 8, 8, 2, out, NULL, scratch, &ex), RV_ERR_CANCELLED);
			atomic_store(&cancel_polls, 0);
			CHECK_STATUS(rv_scaled_dot_attention(Q, 4, Kb, Vb, nbig, 8, 8, 1.0f, out, scratch, &ex), RV_ERR_CANCELLED);
			atomic_store(&cancel_polls, 0);
			CHECK_STATUS(rv_flash_attention(Q, 4, Kb, Vb, nbig, 8, 8, 1.0f, 16, out, fs, &ex), RV_ERR_CANCELLED);
			/* a callback that never fires changes nothing */
			cancel_after = 1 << 30;
			CHECK_STATUS(rv_flash_attention(Q, 4, Kb, Vb, nbig, 8, 8, 1.0f, 16, out, fs, &ex), RV_OK);
			free(Kb);
			free(Vb);
			free(scratch);
			free(fs);
		}

	/* a thread that cannot start is reported, after joining the others */
	{
		rv_exec		ex = {.max_threads = 4, .min_work_per_thread = 1};
		float	   *scratch = malloc(rv_multi_head_attention_scratch(m, n, d, dv, H, 0, &ex) * sizeof(float));

		rv__test_fail_thread_starts(1);
		CHECK_STATUS(rv_multi_head_attention(Q, m, K, V, n, d, dv, H, out, NULL, scratch, &ex), RV_ERR_THREAD);
		rv__test_fail_thread_starts(0);
		CHECK_STATUS(rv_multi_head_attention(Q, m, K, V, n, d, dv, H, out, NULL, scratch, &ex), RV_OK);
		free(scratch);
	}
	free(Q);
	free(K);
	free(V);
	free(ref);
	free(refw);
	free(out);
	free(w);
}

/*
 * The weights of the seed's types through the generic entry point
 * (scaled_dot, flash_v2: softmax(scale K q); multi_head: the head average
 * with each head's own scale, p.scale unused) against double references;
 * rows run as tasks on threads (bit-identical to one thread, multi_head's
 * scratch sized per worker by rv_attention_weights_scratch), polls inside
 * a row (a cancel at the second poll of a single row of three blocks of
 * keys stops it), and the statuses.
 */
static void
test_seed_weights(void)
{
	static const rv_attention_type types[] = {RV_ATTN_SCALED_DOT, RV_ATTN_FLASH_V2, RV_ATTN_MULTI_HEAD};
	static const size_t ns[] = {1, 9, 65, 1000};
	size_t		m = 3,
				d = 8;
	rv_exec		four = {.max_threads = 4, .min_work_per_thread = 1};

	for (size_t ti = 0; ti < 3; ti++)
		for (size_t ni = 0; ni < sizeof ns / sizeof ns[0]; ni++)
			for (size_t H = 1; H <= 4; H *= 2)
			{
				rv_attention_params p;
				size_t		n = ns[ni];
				float	   *Q = rand_array(m * d, 1.0f);
				float	   *K = rand_array(n * d, 1.0f);
				float	   *W = malloc(m * n * sizeof(float));
				float	   *W4 = malloc(m * n * sizeof(float));
				double	   *ref = malloc(n * sizeof(double));
				double	   *acc = malloc(n * sizeof(double));
				float	   *s1, *s4;
				int			ok = 1;

				if (types[ti] != RV_ATTN_MULTI_HEAD && H > 1)
				{
					free(Q), free(K), free(W), free(W4), free(ref), free(acc);
					continue;
				}
				rv_attention_params_init(&p, types[ti]);
				p.num_heads = H;
				/* multi_head ignores the scale: an explicit one must change nothing */
				p.scale = types[ti] == RV_ATTN_MULTI_HEAD ? 0.123f : NAN;
				CHECK(rv_attention_weights_scratch(&p, m, n, d, NULL) ==
					  (H > 1 ? n * H : 0), "weights scratch of type %d, %zu heads", (int) types[ti], H);
				s1 = malloc((rv_attention_weights_scratch(&p, m, n, d, NULL) + 1) * sizeof(float));
				s4 = malloc((rv_attention_weights_scratch(&p, m, n, d, &four) + 1) * sizeof(float));
				CHECK_STATUS(rv_attention_weights(&p, Q, m, K, n, d, W, s1, NULL), RV_OK);
				CHECK_STATUS(rv_attention_weights(&p, Q, m, K, n, d, W4, s4, &four), RV_OK);
				CHECK(memcmp(W, W4, m * n * sizeof(float)) == 0,
					  "seed weights type %d n=%zu H=%zu: 4 threads differ", (int) types[ti], n, H);
				for (size_t r = 0; r < m; r++)
				{
					size_t		dh = d / H;

					for (size_t i = 0; i < n; i++)
						acc[i] = 0.0;
					for (size_t h = 0; h < H; h++)
					{
						ref_weights(Q + r * d + h * dh, K + h * dh, n, dh, d, 1.0 / sqrt((double) dh), ref);
						for (size_t i = 0; i < n; i++)
							acc[i] += ref[i] / (double) H;
					}
					for (size_t i = 0; i < n; i++)
						ok &= close_to(W[r * n + i], acc[i], 0.0);
				}
				CHECK(ok, "seed weights type %d n=%zu H=%zu off the reference", (int) types[ti], n, H);
				free(Q), free(K), free(W), free(W4), free(ref), free(acc), free(s1), free(s4);
			}

	/* a cancel request inside one row */
	{
		size_t		n = 3 * RV_CANCEL_BLOCK + 5;
		float	   *q = rand_array(d, 1.0f);
		float	   *K = rand_array(n * d, 1.0f);
		float	   *W = malloc(n * sizeof(float));
		float	   *s = malloc(n * 4 * sizeof(float));
		rv_exec		ex = {.max_threads = 1, .cancel = cancel_cb};

		for (size_t ti = 0; ti < 3; ti++)
		{
			rv_attention_params p;

			rv_attention_params_init(&p, types[ti]);
			cancel_after = 2;
			atomic_store(&cancel_polls, 0);
			CHECK_STATUS(rv_attention_weights(&p, q, 1, K, n, d, W, s, &ex), RV_ERR_CANCELLED);
			cancel_after = 1 << 30;
			CHECK_STATUS(rv_attention_weights(&p, q, 1, K, n, d, W, s, &ex), RV_OK);
		}
		free(q), free(K), free(W), free(s);
	}

	/* statuses */
	{
		rv_attention_params p;
		float		q[8] = {1, 2, 3, 4, 5, 6, 7, 8},
					K[16] = {0},
					W[2],
					s[64];

		rv_attention_params_init(&p, RV_ATTN_SCALED_DOT);
		CHECK_STATUS(rv_attention_weights(&p, q, 1, K, 2, 0, W, s, NULL), RV_ERR_EMPTY_QUERY);
		CHECK_STATUS(rv_attention_weights(&p, q, 1, K, 0, 8, W, s, NULL), RV_OK);
		CHECK_STATUS(rv_attention_weights(&p, q, 0, K, 2, 8, W, s, NULL), RV_OK);
		CHECK_STATUS(rv_attention_weights(&p, q, 1, K, 2, 8, NULL, s, NULL), RV_ERR_NULL_ARG);
		CHECK_STATUS(rv_attention_weights(&p, q, 1, K, 2, 8, W, NULL, NULL), RV_OK);
		p.scale = INFINITY;
		CHECK_STATUS(rv_attention_weights(&p, q, 1, K, 2, 8, W, s, NULL), RV_ERR_SCALE);
		rv_attention_params_init(&p, RV_ATTN_MULTI_HEAD);
		p.scale = INFINITY;		/* unused */
		CHECK_STATUS(rv_attention_weights(&p, q, 1, K, 2, 8, W, s, NULL), RV_OK);
		CHECK_STATUS(rv_attention_weights(&p, q, 1, K, 2, 8, W, NULL, NULL), RV_ERR_NULL_ARG);
		p.num_heads = 3;
		CHECK_STATUS(rv_attention_weights(&p, q, 1, K, 2, 8, W, s, NULL), RV_ERR_NUM_HEADS);
		p.num_heads = 0;
		CHECK_STATUS(rv_attention_weights(&p, q, 1, K, 2, 8, W, s, NULL), RV_ERR_NUM_HEADS);
		CHECK(rv_attention_weights_scratch(&p, 1, 2, 8, NULL) == (size_t) -1, "heads 0 scratch");
	}
}

static void
test_flash_scratch(void)
{
	size_t		a = rv_flash_attention_scratch(1, 1000, 64, 64, 64, NULL);
	size_t		b = rv_flash_attention_scratch(1, 1000000, 64, 64, 64, NULL);
	size_t		s = rv_scaled_dot_attention_scratch(1, 1000000, 64, 64, NULL);

	/* a tile of logits (and the sums' dv doubles, with one float to align them) */
	CHECK(a == b && a == 64 + 2 * 64 + 1, "flash scratch grows with n: %zu vs %zu", a, b);
	CHECK(rv_flash_attention_scratch(1, 10, 4, 4, 0, NULL) == (size_t) -1, "block_size 0 scratch");
	CHECK(s == 1000000 + 2 * 64 + 1, "scaled_dot scratch %zu", s);
}

static void
test_types_and_dispatch(void)
{
	rv_attention_type t;
	rv_backend	b;
	const char *good[][2] = {{"scaled_dot", "scaled_dot"}, {"ScaledDot", "scaled_dot"},
	{"MULTIHEAD", "multi_head"}, {"flash", "flash_v2"}, {"FlashV2", "flash_v2"},
	{"poincar\xc3\xa9", "poincare"}, {"POINCAR\xc3\x89", "poincare"}, {"lorentz", "lorentz"}};

	for (size_t i = 0; i < sizeof good / sizeof good[0]; i++)
	{
		CHECK_STATUS(rv_attention_type_from_name(good[i][0], &t), RV_OK);
		CHECK(strcmp(rv_attention_type_get(t)->name, good[i][1]) == 0, "%s -> %s", good[i][0],
			  rv_attention_type_get(t)->name);
	}
	CHECK_STATUS(rv_attention_type_from_name("softmax", &t), RV_ERR_UNKNOWN_TYPE);
	CHECK_STATUS(rv_attention_type_from_name("", &t), RV_ERR_UNKNOWN_TYPE);
	CHECK_STATUS(rv_attention_type_from_name("a_very_long_name_that_is_not_a_type_at_all", &t), RV_ERR_UNKNOWN_TYPE);
	CHECK(rv_attention_type_get(RV_ATTN_TYPE_COUNT) == NULL, "out-of-range type");
	for (int i = 0; i < RV_ATTN_TYPE_COUNT; i++)
		CHECK(strstr(rv_attention_type_names(), rv_attention_type_get((rv_attention_type) i)->name) != NULL,
			  "names list lacks %s", rv_attention_type_get((rv_attention_type) i)->name);

	CHECK_STATUS(rv_backend_from_name("AVX512", &b), RV_OK);
	CHECK(b == RV_BACKEND_AVX512, "AVX512 parsed as %d", b);
	CHECK_STATUS(rv_backend_from_name("auto", &b), RV_OK);
	CHECK(b == RV_BACKEND_AUTO, "auto parsed as %d", b);
	CHECK_STATUS(rv_backend_from_name("sse9", &b), RV_ERR_UNKNOWN_BACKEND);
	CHECK((rv_supported_backends() & 1u) != 0, "scalar must always be supported");
	for (int i = 0; i < RV_BACKEND_COUNT; i++)
		if (!(rv_supported_backends() & (1u << i)))
		{
			rv_backend	before = rv_simd_backend();

			CHECK_STATUS(rv_set_backend((rv_backend) i), RV_ERR_UNSUPPORTED_BACKEND);
			CHECK(rv_simd_backend() == before, "failed set_backend changed the backend");
		}
	CHECK_STATUS(rv_set_backend((rv_backend) 17), RV_ERR_UNKNOWN_BACKEND);
	CHECK_STATUS(rv_set_backend(RV_BACKEND_AUTO), RV_OK);
	CHECK(rv_simd_backend() == rv_best_backend(), "auto is not the best backend");
	CHECK(rv_backend_name((rv_backend) 9) == NULL, "out-of-range backend name");
}

int
main(void)
{
	const char *env = getenv("RUVECTOR_SIMD");

	/* RUVECTOR_SIMD, when set to a supported backend, is what init chose */
	if (env && strcmp(env, "auto") != 0)
	{
		rv_backend	b;

		if (rv_backend_from_name(env, &b) == RV_OK &&
			(rv_supported_backends() & (1u << b)))
			CHECK(rv_simd_backend() == b, "RUVECTOR_SIMD=%s ignored (active %s)", env,
				  rv_backend_name(rv_simd_backend()));
	}
	printf("supported backends:");
	for (int b = 0; b < RV_BACKEND_COUNT; b++)
		if (rv_supported_backends() & (1u << b))
			printf(" %s", rv_backend_name((rv_backend) b));
	printf(" (best %s)\n", rv_backend_name(rv_best_backend()));

	test_types_and_dispatch();
	FOR_EACH_BACKEND
	{
		test_exp();
		test_softmax();
		test_forward_tails();
		test_multi_head();
		test_hard_inputs();
		test_errors();
		test_threads();
		test_failure_is_not_a_cancel();
		test_head_grouping();
		test_seed_weights();
		test_flash_scratch();
	}
	return test_summary();
}
