/*
 * flash.c: FlashAttention-2 style attention (Dao 2023, Algorithm 1), the
 * decode case of one query row per task.
 *
 * Keys are visited in tiles of block_size.  For each tile the driver keeps
 * the paper's running statistics:
 *   m  running max of the logits seen so far
 *   l  running sum of exp(logit - m), in double
 *   O  running, unnormalised output (dv values)
 * A tile with logits S and tile max m_t gives m_new = max(m, m_t),
 * P = exp(S - m_new), l = exp(m - m_new) l + sum P, O = exp(m - m_new) O + P V.
 * The rescale factor is exactly 1 (no rescale) when the max did not grow.
 * At the end O / l.
 *
 * O is an rv_vsum: P V in float over at most RV_VALUE_BLOCK keys at a time
 * (several tiles, or part of one), added into dv doubles, so that a
 * dominant key does not round away thousands of small terms; a rescale
 * flushes the float partial into the doubles first and multiplies them.
 *
 * The float partial is kept finite whenever the answer is: unnormalised,
 * it can reach (sum of its P) * max|V|, which overflows float for values
 * near FLT_MAX even though O / l does not.  So P and l are held scaled by
 * 2^-E, with E raised whenever l would exceed 1.  Scaling by a power of
 * two is exact, so this changes no bit of the result unless it prevents an
 * overflow (or a weight below 2^-126 * 2^-E would become subnormal, which
 * is far below the accuracy bar).
 *
 * Scratch per worker: one tile of logits and the dv doubles of O,
 * independent of n.
 */
#include <math.h>

#include "rv_internal.h"

typedef struct flash_args
{
	rv_forward	f;				/* scratch: slot floats per worker */
	size_t		block;
	size_t		slot;			/* block floats of S, then dv doubles */
} flash_args;

/*
 * One query row over n keys (rows of K with stride ldk, d columns; rows
 * of V with stride ldv, dv columns) in tiles of block keys, as described
 * above: S is block floats of scratch, acc dv doubles (O), and O (dv
 * floats, also the float partial) receives the result.
 */
rv_status
rv_flash_row(const rv_kernels *kern, const float *q, const float *K,
			 size_t ldk, const float *V, size_t ldv, size_t n, size_t d,
			 size_t dv, float scale, size_t block, float *S, float *O,
			 double *acc, rv_job *job)
{
	float		m = -INFINITY;
	double		l = 0.0;		/* scaled by 2^-E, like P */
	int			E = 0;
	size_t		since_poll = 0;
	rv_vsum		sum;

	rv_vsum_init(&sum, kern, dv, 1, O, acc, NULL);
	for (size_t b = 0; b < n; b += block)
	{
		size_t		len = n - b < block ? n - b : block;
		float		m_tile, m_new, alpha;
		double		p_sum, l_new;
		int			e;

		m_tile = kern->scores(q, K + b * ldk, len, d, ldk, scale, S);
		if (!kern->all_finite(S, len))
			return RV_ERR_NONFINITE;
		m_new = m_tile > m ? m_tile : m;
		/* alpha is 0 for the first tile, whose O and l are 0 anyway */
		alpha = m_new > m ? rv_expf_serial(m - m_new) : 1.0f;
		p_sum = rv_exp_sum_blocked(kern, S, len, m_new, S);

		/* l_new = alpha l + 2^-E p_sum, then renormalise by 2^-e so l <= 1 */
		l_new = alpha * l + ldexp(p_sum, -E);
		(void) frexp(l_new, &e);
		if (e < 0)
			e = 0;
		E += e;
		l = ldexp(l_new, -e);
		if (E != 0)
			kern->scale(S, len, ldexpf(1.0f, -E));

		/*
		 * O = alpha 2^-e O + P V.  A max that grew by more than ~104 makes
		 * alpha 0, which keeps a NaN/Infinity of earlier values (NaN * 0).
		 */
		if (b != 0 && (alpha != 1.0f || e != 0))
			rv_vsum_scale(&sum, ldexp(alpha, -e));
		(void) rv_vsum_add(&sum, S, 0, V + b * ldv, len, ldv);	/* no job: polled here */
		m = m_new;

		since_poll += len;
		if (since_poll >= RV_CANCEL_BLOCK)
		{
			since_poll = 0;
			if (rv_job_should_stop(job))
				return RV_ERR_CANCELLED;
		}
	}
	/* l > 0 (the max logit contributes exp(0)); the guard is for safety */
	if (!(l > 0.0))
		return RV_ERR_NONFINITE;
	return rv_vsum_finish(&sum, 1.0 / l, O);
}

static rv_status
flash_task(rv_job *job, void *arg, size_t r, size_t worker)
{
	const flash_args *a = arg;
	float	   *S = a->f.scratch + worker * a->slot;

	return rv_flash_row(a->f.kern, a->f.Q + r * a->f.d, a->f.K, a->f.d, a->f.V,
						a->f.dv, a->f.n, a->f.d, a->f.dv, a->f.scale, a->block,
						S, a->f.out + r * a->f.dv, rv_f64_at(S + a->block), job);
}

static size_t
tile_of(size_t n, size_t block_size)
{
	return block_size < n ? block_size : n;
}

size_t
rv_flash_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
						   size_t block_size, const rv_exec *ex)
{
	size_t		slot = rv_slot_f64(tile_of(n, block_size), dv),	/* S, then O's doubles */
				s;

	if (block_size < 1 || block_size > RV_MAX_BLOCK_SIZE || slot == (size_t) -1 ||
		rv_mul_size(rv_plan_threads(m, rv_query_work(n, d, dv), ex), slot, &s))
		return (size_t) -1;
	return s;
}

rv_status
rv_flash_attention(const float *Q, size_t m, const float *K, const float *V,
				   size_t n, size_t d, size_t dv, float scale,
				   size_t block_size, float *out, float *scratch,
				   const rv_exec *ex)
{
	flash_args	a;
	int			nothing;
	rv_status	st;

	if (block_size < 1 || block_size > RV_MAX_BLOCK_SIZE)
		return RV_ERR_BLOCK_SIZE;
	st = rv_forward_init(&a.f, Q, m, K, V, n, d, dv, 1, scale, out, scratch, &nothing);
	if (st != RV_OK || nothing)
		return st;
	a.block = tile_of(n, block_size);
	a.slot = rv_slot_f64(a.block, dv);
	if (rv_flash_attention_scratch(m, n, d, dv, block_size, ex) == (size_t) -1)
		return RV_ERR_SIZE_OVERFLOW;
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(n, d, dv), ex),
						flash_task, &a, ex);
}
