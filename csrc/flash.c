/*
 * flash.c: FlashAttention-2 style attention (Dao 2023, Algorithm 1), the
 * decode case of one query row per task.
 *
 * Keys are visited in tiles of block_size.  For each tile the driver keeps
 * the paper's running statistics:
 *   m  running max of the logits seen so far
 *   l  running sum of exp(logit - m)
 *   O  running, unnormalised output (dv floats, held in the caller's out row)
 * A tile with logits S and tile max m_t gives m_new = max(m, m_t),
 * P = exp(S - m_new), l = exp(m - m_new) l + sum P, O = exp(m - m_new) O + P V.
 * The rescale factor is folded into the weighted-sum kernel's beta and is
 * exactly 1 (no rescale) when the max did not grow.  At the end O / l.
 *
 * One refinement keeps O finite whenever the answer is: unnormalised,
 * |O| can reach l * max|V|, which overflows float for values near FLT_MAX
 * even though O / l does not.  So O and l are both held scaled by 2^-E,
 * with E raised whenever l would exceed 1.  Scaling by a power of two is
 * exact, so this changes no bit of the result unless it prevents an
 * overflow (or a weight below 2^-126 * 2^-E would become subnormal, which
 * is far below the accuracy bar).
 *
 * Scratch is one tile of logits per worker: independent of n.
  */
#include <math.h>

#include "rv_internal.h"

typedef struct flash_args
{
	rv_forward	f;				/* scratch: block floats per worker */
	size_t		block;
} flash_args;

/*
 * One query row over n keys (rows of K with stride ldk, d columns; rows
 * of V with stride ldv, dv columns) in tiles of block keys, as described
 * above: S is block floats of scratch, O (dv floats) receives the result.
 */
rv_status
rv_flash_row(const rv_kernels *kern, const float *q, const float *K,
			 size_t ldk, const float *V, size_t ldv, size_t n, size_t d,
			 size_t dv, float scale, size_t block, float *S, float *O,
			 rv_job *job)
{
	float		m = -INFINITY;
	double		l = 0.0;		/* scaled by 2^-E, like O */
	int			E = 0;
	size_t		since_poll = 0;

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
		/* first tile: O holds garbage and must not be read (beta 0) */
		alpha = b == 0 ? 0.0f : (m_new > m ? rv_expf_serial(m - m_new) : 1.0f);
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
		 * A later tile whose max is more than ~104 above the old one makes
		 * alpha 0, and beta 0 means "overwrite": check first that no
		 * NaN/Infinity from earlier values is being dropped.
		 */
		alpha = ldexpf(alpha, -e);
		if (b != 0 && alpha == 0.0f && !kern->all_finite(O, dv))
			return RV_ERR_NONFINITE;
		kern->weighted_sum(S, V + b * ldv, len, dv, ldv, alpha, O);
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
	kern->scale(O, dv, (float) (1.0 / l));
	if (!kern->all_finite(O, dv))
		return RV_ERR_NONFINITE;
	return RV_OK;
}

static rv_status
flash_task(rv_job *job, void *arg, size_t r, size_t worker)
{
	const flash_args *a = arg;

	return rv_flash_row(a->f.kern, a->f.Q + r * a->f.d, a->f.K, a->f.d, a->f.V,
						a->f.dv, a->f.n, a->f.d, a->f.dv, a->f.scale, a->block,
						a->f.scratch + worker * a->block,
						a->f.out + r * a->f.dv, job);
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
	size_t		s;

	if (block_size < 1 || block_size > RV_MAX_BLOCK_SIZE)
		return (size_t) -1;
	if (rv_mul_size(rv_plan_threads(m, rv_query_work(n, d, dv), ex),
					tile_of(n, block_size), &s))
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
	return rv_run_tasks(m, rv_plan_threads(m, rv_query_work(n, d, dv), ex),
						flash_task, &a, ex);
}
