/*
 * sparse.c: top-k sparse attention, and the helpers that the drivers of
 * linear.c, gat.c, sparse.c and moe.c share (declared in rv_internal.h).
 *
 * For one query: the logits s = scale K q (scores, in blocks with cancel
 * polls); the top_k largest of them found by a bounded min-heap of their
 * values (O(n log k), the n logits are never sorted), whose root is the
 * k-th largest value t; the selected keys are then those with s_i > t and
 * the first ones (by index) with s_i == t, as many as make top_k: ties go
 * to the lower index.  A scan in index order gathers the selected logits,
 * compacted, for the softmax; a second scan sums the selected value rows
 * in ascending index order, one weighted_sum call per run of consecutive
 * keys, whose weights are consecutive in the compacted array too.
 * top_k >= n is scaled-dot attention over every key, by the same code
 * path as rv_scaled_dot_attention (bit for bit).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rv_internal.h"

/* ---------------- helpers shared by the four drivers ---------------- */

rv_status
rv_logits_rows(const rv_kernels *kern, const float *q, const float *K,
			   size_t n, size_t d, float scale, float *s, float *max,
			   rv_job *job)
{
	float		m = -INFINITY;

	for (size_t b = 0; b < n; b += RV_CANCEL_BLOCK)
	{
		size_t		len = n - b < RV_CANCEL_BLOCK ? n - b : RV_CANCEL_BLOCK;
		float		mb = kern->scores(q, K + b * d, len, d, d, scale, s + b);

		if (mb > m)
			m = mb;
		if (rv_job_should_stop(job))
			return RV_ERR_CANCELLED;
	}
	if (!kern->all_finite(s, n))
		return RV_ERR_NONFINITE;
	*max = m;
	return RV_OK;
}

rv_status
rv_weighted_rows_polled(const rv_kernels *kern, const float *w,
						const float *V, size_t n, size_t dv, size_t ldv,
						float beta, float *out, rv_job *job)
{
	for (size_t b = 0; b < n; b += RV_CANCEL_BLOCK)
	{
		size_t		len = n - b < RV_CANCEL_BLOCK ? n - b : RV_CANCEL_BLOCK;

		kern->weighted_sum(w + b, V + b * ldv, len, dv, ldv, b == 0 ? beta : 1.0f, out);
		if (rv_job_should_stop(job))
			return RV_ERR_CANCELLED;
	}
	return RV_OK;
}

double
rv_sum_f64(const float *x, size_t n)
{
	double		s0 = 0.0,
				s1 = 0.0,
				s2 = 0.0,
				s3 = 0.0;
	size_t		i = 0;

	for (; i + 4 <= n; i += 4)
	{
		s0 += x[i];
		s1 += x[i + 1];
		s2 += x[i + 2];
		s3 += x[i + 3];
	}
	for (; i < n; i++)
		s0 += x[i];
	return (s0 + s1) + (s2 + s3);
}

/* restore the min-heap property of h[0..k) below position i */
static void
sift_down(float *h, size_t k, size_t i)
{
	float		v = h[i];

	for (;;)
	{
		size_t		c = 2 * i + 1;

		if (c >= k)
			break;
		if (c + 1 < k && h[c + 1] < h[c])
			c++;
		if (!(h[c] < v))
			break;
		h[i] = h[c];
		i = c;
	}
	h[i] = v;
}

/* the k-th largest of x[0..n) by a bounded min-heap of k values (heap) */
static float
kth_largest_heap(const float *x, size_t n, size_t k, float *heap)
{
	memcpy(heap, x, k * sizeof(float));
	for (size_t i = k / 2; i-- > 0;)
		sift_down(heap, k, i);
	for (size_t i = k; i < n; i++)
		if (x[i] > heap[0])
		{
			heap[0] = x[i];
			sift_down(heap, k, 0);
		}
	return heap[0];
}

/* an unsigned key whose order is that of the floats (-0 just below +0) */
static inline uint32_t
float_key(float f)
{
	uint32_t	u;

	memcpy(&u, &f, sizeof u);
	return u & 0x80000000u ? ~u : u | 0x80000000u;
}

/*
 * The k-th largest of x[0..n) by radix selection on float_key: three
 * histogram passes over 11, 11 and 10 bits of the key, each keeping only
 * the entries that share the digits found so far.  O(n) whatever the data
 * and k; a heap's O(n log k) costs more once k is a sizeable part of n.
 */
static float
kth_largest_radix(const float *x, size_t n, size_t k)
{
	static const int shifts[3] = {21, 10, 0};
	uint32_t	prefix = 0,
				mask = 0,
				bits;
	size_t		rank = k;		/* rank of the answer among the entries kept */
	size_t		hist[2048];
	float		t;

	for (int pass = 0; pass < 3; pass++)
	{
		int			shift = shifts[pass];
		uint32_t	width = pass == 2 ? 1024 : 2048;
		size_t		above = 0;
		uint32_t	digit;

		memset(hist, 0, width * sizeof hist[0]);
		for (size_t i = 0; i < n; i++)
		{
			uint32_t	key = float_key(x[i]);

			if ((key & mask) == prefix)
				hist[(key >> shift) & (width - 1)]++;
		}
		for (digit = width - 1; above + hist[digit] < rank; digit--)
			above += hist[digit];
		rank -= above;
		prefix |= digit << shift;
		mask |= (width - 1) << shift;
	}
	bits = prefix & 0x80000000u ? prefix & 0x7fffffffu : ~prefix;
	memcpy(&t, &bits, sizeof t);
	return t;
}

/*
 * Both ways give the same k-th largest value (up to the sign of a zero,
 * which compares equal), so the choice changes no result: the heap while k
 * is small against n, the radix selection beyond.
 */
void
rv_top_k_init(rv_top_k *sel, const float *x, size_t n, size_t k, float *heap)
{
	size_t		above = 0;

	sel->t = k > 128 && k > n / 64 ? kth_largest_radix(x, n, k)
		: kth_largest_heap(x, n, k, heap);
	for (size_t i = 0; i < n; i++)
		above += x[i] > sel->t;
	sel->ties = k - above;
}

rv_status
rv_weights_init(rv_forward *f, const float *Q, size_t m, const float *K,
				size_t n, size_t d, float scale, const float *W,
				float *scratch, int need_scratch, int *nothing)
{
	size_t		t;

	*nothing = 1;
	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (!isfinite(scale))
		return RV_ERR_SCALE;
	if (m == 0 || n == 0)
		return RV_OK;
	if (Q == NULL || K == NULL || W == NULL || (need_scratch && scratch == NULL))
		return RV_ERR_NULL_ARG;
	if (rv_mul_size(m, n, &t) || rv_mul_size(m, d, &t) || rv_mul_size(n, d, &t))
		return RV_ERR_SIZE_OVERFLOW;
	memset(f, 0, sizeof *f);
	f->kern = rv_active_kernels();
	f->Q = Q;
	f->K = K;
	f->n = n;
	f->d = d;
	f->scale = scale;
	f->scratch = scratch;
	*nothing = 0;
	return RV_OK;
}

/* ---------------- sparse attention ---------------- */

/*
 * The selection and softmax of one query: s (n floats) gets the logits,
 * wk (top_k + 1 floats) the weights of the selected keys in index order,
 * *sel the selection that a scan of s with rv_top_k_take reproduces.  The
 * gather is rv_top_k_take without branches (about half of them would be
 * mispredicted when top_k is a sizeable part of n): every logit is stored
 * at wk[j] and j advances when it is taken, so the spare last float of wk
 * absorbs the stores after the last one taken.
 */
static rv_status
sparse_select(const rv_kernels *kern, const float *q, const float *K,
			  size_t n, size_t d, float scale, size_t top_k, float *s,
			  float *wk, rv_top_k *sel, rv_job *job)
{
	float		max;
	size_t		j = 0,
				ties;
	rv_status	st;

	st = rv_logits_rows(kern, q, K, n, d, scale, s, &max, job);
	if (st != RV_OK)
		return st;
	rv_top_k_init(sel, s, n, top_k, wk);
	ties = sel->ties;
	for (size_t i = 0; i < n; i++)
	{
		float		v = s[i];
		size_t		tie = (size_t) (v == sel->t) & (size_t) (ties > 0);

		ties -= tie;
		wk[j] = v;
		j += (size_t) (v > sel->t) | tie;
	}
	/* the largest logit is selected, so max is the max of wk */
	kern->scale(wk, top_k, (float) (1.0 / rv_exp_sum_blocked(kern, wk, top_k, max, wk)));
	return RV_OK;
}

typedef struct sparse_args
{
	rv_forward	f;				/* scratch: n + top_k + 1 floats per worker */
	size_t		top_k;
	float	   *W;				/* weights: m x n, or NULL for the forward */
} sparse_args;

/*
 * One query row: the forward (out row r) or the weights (W row r, which
 * then also holds the logits).
 */
static rv_status
sparse_task(rv_job *job, void *arg, size_t r, size_t worker)
{
	const sparse_args *a = arg;
	const rv_kernels *kern = a->f.kern;
	size_t		n = a->f.n,
				k = a->top_k,
				dv = a->f.dv;
	float	   *s = a->W ? a->W + r * n : a->f.scratch + worker * (n + k + 1);
	float	   *wk = a->W ? a->f.scratch + worker * (k + 1) : s + n;
	float	   *out;
	rv_top_k	sel;
	size_t		j = 0,
				since_poll = 0;
	rv_status	st;

	st = sparse_select(kern, a->f.Q + r * a->f.d, a->f.K, n, a->f.d, a->f.scale,
					   k, s, wk, &sel, job);
	if (st != RV_OK)
		return st;
	if (a->W)
	{
		for (size_t i = 0; i < n; i++)
			s[i] = rv_top_k_take(&sel, s[i]) ? wk[j++] : 0.0f;
		return RV_OK;
	}
	/* runs of consecutive selected keys, at most RV_CANCEL_BLOCK per call */
	out = a->f.out + r * dv;
	for (size_t i = 0; i < n;)
	{
		size_t		first;

		if (!rv_top_k_take(&sel, s[i]))
		{
			i++;
			continue;
		}
		first = i++;
		while (i < n && i - first < RV_CANCEL_BLOCK && rv_top_k_take(&sel, s[i]))
			i++;
		kern->weighted_sum(wk + j, a->f.V + first * dv, i - first, dv, dv,
						   j == 0 ? 0.0f : 1.0f, out);
		j += i - first;
		since_poll += i - first;
		if (since_poll >= RV_CANCEL_BLOCK)
		{
			since_poll = 0;
			if (rv_job_should_stop(job))
				return RV_ERR_CANCELLED;
		}
	}
	if (!kern->all_finite(out, dv))
		return RV_ERR_NONFINITE;
	return RV_OK;
}

size_t
rv_sparse_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
							size_t top_k, const rv_exec *ex)
{
	size_t		s;

	if (top_k < 1)
		return (size_t) -1;
	if (top_k >= n)
		return rv_scaled_dot_attention_scratch(m, n, d, dv, ex);
	if (n + top_k + 1 <= n ||
		rv_mul_size(rv_plan_threads(m, rv_query_work(n, d, dv), ex), n + top_k + 1, &s))
		return (size_t) -1;
	return s;
}

rv_status
rv_sparse_attention(const float *Q, size_t m, const float *K, const float *V,
					size_t n, size_t d, size_t dv, size_t top_k, float scale,
					float *out, float *scratch, const rv_exec *ex)
{
	sparse_args a;
	int			nothing;
	rv_status	st;

	if (top_k < 1)
		return RV_ERR_TOP_K;
	scale = rv_scale_or_default(scale, d);
	if (top_k >= n)
		return rv_scaled_dot_attention(Q, m, K, V, n, d, dv, scale, out, scratch, ex);
	st = rv_forward_init(&a.f, Q, m, K, V, n, d, dv, 1, scale, out, scratch, &nothing);
	if (st != RV_OK || nothing)
		return st;
	a.top_k = top_k;
	a.W = NULL;
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(n, d, dv), ex),
						sparse_task, &a, ex);
}

/* ---------------- the generic entry points ---------------- */

/* top_k >= n: the weights of scaled-dot attention, as rv_attention_scores */
static rv_status
dense_weights_task(rv_job *job, void *arg, size_t r, size_t worker)
{
	const sparse_args *a = arg;

	(void) worker;
	return rv_weights_one(a->f.kern, a->f.Q + r * a->f.d, a->f.K, a->f.n, a->f.d,
						  a->f.d, a->f.scale, a->W + r * a->f.n, job);
}

size_t
rv_sparse_weights_scratch(const rv_attention_params *p, size_t m, size_t n,
						  size_t d, const rv_exec *ex)
{
	size_t		s;

	if (p == NULL || p->top_k < 1)
		return (size_t) -1;
	if (p->top_k >= n)
		return 0;
	if (rv_mul_size(rv_plan_threads(m, rv_query_work(n, d, 0), ex), p->top_k + 1, &s))
		return (size_t) -1;
	return s;
}

rv_status
rv_sparse_weights(const rv_attention_params *p, const float *Q, size_t m,
				  const float *K, size_t n, size_t d, float *W,
				  float *scratch, const rv_exec *ex)
{
	sparse_args a;
	int			nothing;
	rv_status	st;

	if (p == NULL)
		return RV_ERR_NULL_ARG;
	if (p->top_k < 1)
		return RV_ERR_TOP_K;
	st = rv_weights_init(&a.f, Q, m, K, n, d, rv_scale_or_default(p->scale, d), W,
						 scratch, p->top_k < n, &nothing);
	if (st != RV_OK || nothing)
		return st;
	a.top_k = p->top_k;
	a.W = W;
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(n, d, 0), ex),
						p->top_k >= n ? dense_weights_task : sparse_task, &a, ex);
}

rv_status
rv_sparse_logit(const rv_attention_params *p, const float *q, const float *k,
				size_t d, float *out)
{
	if (p == NULL)
		return RV_ERR_NULL_ARG;
	return rv_attention_score(q, k, d, rv_scale_or_default(p->scale, d), out);
}
