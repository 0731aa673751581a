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
 * in ascending index order into an rv_vsum, one call per run of
 * consecutive keys, whose weights are consecutive in the compacted array
 * too.
 * top_k >= n is scaled-dot attention over every key, by the same code
 * path as rv_scaled_dot_attention (bit for bit).
 */
#include <math.h>
#include <stdint.h>
#include <string.h>

#include "rv_internal.h"

/* ---------------- helpers shared by the four drivers ---------------- */

typedef struct key_blocks
{
	rv_keys_fn	fn;
	void	   *arg;
	size_t		n;
} key_blocks;

static rv_status
key_block_task(rv_job *job, void *arg, size_t b, size_t worker)
{
	const key_blocks *kb = arg;
	size_t		first = b * RV_CANCEL_BLOCK;

	(void) job;
	(void) worker;
	kb->fn(kb->arg, first, kb->n - first < RV_CANCEL_BLOCK ? kb->n - first : RV_CANCEL_BLOCK);
	return RV_OK;
}

rv_status
rv_run_key_blocks(size_t n, size_t d, rv_keys_fn fn, void *arg,
				  const rv_exec *ex)
{
	key_blocks	kb = {fn, arg, n};
	size_t		blocks = (n + RV_CANCEL_BLOCK - 1) / RV_CANCEL_BLOCK,
				work;

	if (rv_mul_size(RV_CANCEL_BLOCK, d, &work))
		work = (size_t) -1;
	return rv_run_tasks(blocks, rv_plan_threads(blocks, work, ex), key_block_task, &kb, ex);
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

	st = rv_logits_rows(kern, q, K, n, d, d, scale, s, &max, job);
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
	rv_softmax_from_max(kern, wk, top_k, max, 1.0, wk);
	return RV_OK;
}

typedef struct sparse_args
{
	rv_forward	f;				/* scratch: slot floats per worker */
	size_t		top_k;
	size_t		slot;			/* forward: n + top_k + 1, then dv doubles;
								 * weights: top_k + 1 */
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
	float	   *slot = a->f.scratch + worker * a->slot;
	float	   *s = a->W ? a->W + r * n : slot;
	float	   *wk = a->W ? slot : s + n;
	float	   *out;
	rv_top_k	sel;
	rv_vsum		sum;
	size_t		j = 0;
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
	/* runs of consecutive selected keys */
	out = a->f.out + r * dv;
	rv_vsum_init(&sum, kern, dv, 1, out, rv_f64_at(wk + k + 1), job);
	for (size_t i = 0; i < n;)
	{
		size_t		first;

		if (!rv_top_k_take(&sel, s[i]))
		{
			i++;
			continue;
		}
		first = i++;
		while (i < n && rv_top_k_take(&sel, s[i]))
			i++;
		st = rv_vsum_add(&sum, wk + j, 0, a->f.V + first * dv, i - first, dv);
		if (st != RV_OK)
			return st;
		j += i - first;
	}
	return rv_vsum_finish(&sum, 1.0, out);
}

/*
 * Floats per worker: the weights need wk (top_k + 1); the forward the
 * logits (n), wk, and the value sum's dv doubles.  (size_t) -1 on overflow.
 */
static size_t
sparse_slot(size_t n, size_t top_k, size_t dv, int forward)
{
	size_t		s;

	if (__builtin_add_overflow(top_k, 1, &s))
		return (size_t) -1;
	if (!forward)
		return s;
	if (__builtin_add_overflow(s, n, &s))
		return (size_t) -1;
	return rv_slot_f64(s, dv);
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
	if (sparse_slot(n, top_k, dv, 1) == (size_t) -1 ||
		rv_mul_size(rv_plan_threads(m, rv_query_work(n, d, dv), ex),
					sparse_slot(n, top_k, dv, 1), &s))
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
	a.slot = sparse_slot(n, top_k, dv, 1);
	if (a.slot == (size_t) -1)
		return RV_ERR_SIZE_OVERFLOW;
	a.W = NULL;
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(n, d, dv), ex),
						sparse_task, &a, ex);
}

/* ---------------- the generic entry points ---------------- */

size_t
rv_sparse_weights_scratch(const rv_attention_params *p, size_t m, size_t n,
						  size_t d, const rv_exec *ex)
{
	size_t		s;

	if (p == NULL || p->top_k < 1)
		return (size_t) -1;
	if (p->top_k >= n)
		return rv_dense_weights_scratch(m, n, d, 1, ex);
	if (sparse_slot(n, p->top_k, 0, 0) == (size_t) -1 ||
		rv_mul_size(rv_plan_threads(m, rv_query_work(n, d, 0), ex), sparse_slot(n, p->top_k, 0, 0), &s))
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
	if (p->top_k >= n)
		return rv_dense_weights(Q, m, K, n, d, 1, rv_scale_or_default(p->scale, d), W,
								scratch, ex);
	st = rv_weights_init(&a.f, Q, m, K, n, d, rv_scale_or_default(p->scale, d), W,
						 scratch, 1, &nothing);
	if (st != RV_OK || nothing)
		return st;
	a.top_k = p->top_k;
	a.slot = sparse_slot(n, p->top_k, 0, 0);
	a.W = W;
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(n, d, 0), ex), sparse_task, &a, ex);
}

rv_status
rv_sparse_logit(const rv_attention_params *p, const float *q, const float *k,
				size_t d, float *out)
{
	if (p == NULL)
		return RV_ERR_NULL_ARG;
	return rv_attention_score(q, k, d, rv_scale_or_default(p->scale, d), out);
}
