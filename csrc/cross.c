/*
 * cross.c: cross attention (num_heads heads, optionally causal) and
 * sliding-window attention, one driver for both.
 *
 * Every query row r of m attends a contiguous range of keys [lo_r, hi_r):
 * all n keys for plain cross attention; with the causal (bottom-right
 * aligned) mask hi_r = r + 1 + n - m (clamped at 0), and a sliding window
 * of w keys also lo_r = hi_r - w (clamped at 0).  An empty range gives a
 * row of zeros.
 *
 * Many rows: FlashAttention-2 (Dao 2023, Algorithm 1).  A block is Br
 * query rows of one head, packed transposed once, Qt (dh x Br, column c =
 * query row c); the keys of its range are visited in tiles of Bc.  For
 * each tile, in the paper's names:
 *   S = scale K_tile Qt                 (cross_scores, S transposed: Bc x Br;
 *                                        it also reports a non-finite S)
 *   mask entries outside a row's range  (diagonal/band tiles only)
 *   m_new = max(m, rowmax S), P = exp(S - m_new), l_tile = rowsum P
 *                                        (cross_exp, per column of S)
 *   alpha = exp(m - m_new): 0 on a row's first keys, exactly 1 when its
 *   max did not grow; l = alpha l + l_tile
 *   O = diag(alpha) O + P^T V_tile       (cross_pv into a float partial,
 *                                        the output slice)
 * and at the end O / l, or 0 where l == 0 (a row that attends no key).
 * The float partial of O holds at most RV_VALUE_BLOCK keys (two tiles)
 * and is then added into O's double accumulator (accumulate_f64, with the
 * product of the rows' alpha since the last flush), so that a dominant key
 * does not round away the many small terms of a long row; finish_f64 adds
 * the last partial and divides by l in one pass.
 * Tiles entirely outside every row's range (above the causal diagonal,
 * below a window) are never computed.  The transposed layout makes each
 * step a broadcast-FMA micro-kernel or a vertical vector op: no
 * horizontal reduction, no transpose of K, and V used in place.
 *
 * A task is one head and a group of up to RV_CROSS_GROUP consecutive
 * blocks, which take each tile of K and V in turn while it is in cache
 * (with several heads, the tile's slices are first copied together: a
 * head's rows are d floats apart, which for d a multiple of 1 KiB puts
 * them all in a few L1 sets).  The blocks of a group share nothing else,
 * so the group size may follow the thread count without changing a bit.
 *
 * Few rows (decode) and narrow windows: one task per (row, head) running
 * rv_flash_row over the row's key range, which for a range up to
 * RV_CANCEL_BLOCK keys is exactly the scaled-dot pass (scores, exp,
 * weighted sum) and for a window of w keys costs scaled-dot attention
 * over w keys.
 *
 * A task's arithmetic depends only on the sizes (the blocks are fixed by
 * m, never by the thread count), so results are bit-identical for any
 * thread count.  Scratch per worker: the group's Qt, one tile of S, the
 * packed tile and the blocks' double accumulators of O (tiled path), or
 * one block of logits and a row's accumulator (per-row path): independent
 * of n beyond RV_CANCEL_BLOCK.
 */
#include <math.h>
#include <string.h>

#include "rv_internal.h"

#define RV_CROSS_BR 64			/* query rows per block (multiple of
								 * RV_CROSS_PAD) */
#define RV_CROSS_GROUP 4		/* most blocks of rows per task */
#define RV_CROSS_BC 48			/* keys per tile (a multiple of the
								 * micro-kernels' 6 keys) */
#define RV_CROSS_MIN_ROWS 5		/* fewer rows take the per-row path (measured
								 * crossover with 8 heads of 64) */
#define RV_CROSS_MIN_WINDOW 32	/* so do narrower windows */

_Static_assert(RV_CROSS_BC <= RV_VALUE_BLOCK, "a tile must fit in one float partial of O");

typedef struct cross_args
{
	rv_forward	f;				/* scale resolved; scratch: slot per worker */
	size_t		m,
				H,
				dh,
				dvh;
	int			banded;			/* rows end at key_end(): causal or window */
	size_t		window;			/* 0: no lower end */
	int			tiled;			/* the FlashAttention-2 path */
	size_t		br;				/* rows per block (tiled) */
	size_t		blocks;			/* query blocks per head (tiled) */
	size_t		G;				/* blocks per task (tiled) */
	size_t		groups;			/* tasks per head: ceil(blocks / G) */
	size_t		workers;
	size_t		slot;			/* scratch floats per worker */
	size_t		acc_at;			/* where a slot's doubles start (in floats) */
} cross_args;

/* r + 1 + n - m clamped at 0, without overflow: the end of row r's keys */
static size_t
key_end(size_t r, size_t m, size_t n)
{
	size_t		later = m - 1 - r;	/* rows after r */

	return n > later ? n - later : 0;
}

static void
row_range(const cross_args *a, size_t r, size_t *lo, size_t *hi)
{
	*hi = a->banded ? key_end(r, a->m, a->f.n) : a->f.n;
	*lo = a->window && *hi > a->window ? *hi - a->window : 0;
}

static size_t
round_up_pad(size_t x)
{
	return (x + RV_CROSS_PAD - 1) / RV_CROSS_PAD * RV_CROSS_PAD;
}

/*
 * The plan: path, blocks, threads and scratch, from the sizes alone (the
 * scratch function and the call must agree).  Returns RV_ERR_NUM_HEADS or
 * RV_ERR_SIZE_OVERFLOW, or RV_OK with a filled in (except a->f).
 */
static rv_status
plan(cross_args *a, size_t m, size_t n, size_t d, size_t dv, size_t H,
	 int banded, size_t window, const rv_exec *ex)
{
	size_t		tasks, work, t;

	if (H < 1 || d % H != 0 || dv % H != 0)
		return RV_ERR_NUM_HEADS;
	a->m = m;
	a->H = H;
	a->dh = d / H;
	a->dvh = dv / H;
	a->banded = banded;
	a->window = window;
	a->tiled = m >= RV_CROSS_MIN_ROWS && (window == 0 || window >= RV_CROSS_MIN_WINDOW);
	work = rv_query_work(window && window < n ? window : n, a->dh, a->dvh);
	if (a->tiled)
	{
		a->br = m < RV_CROSS_BR ? m : RV_CROSS_BR;
		a->blocks = (m + a->br - 1) / a->br;
		if (rv_mul_size(a->blocks, H, &tasks))
			return RV_ERR_SIZE_OVERFLOW;
		/* a block reads K and V once for br rows */
		if (rv_mul_size(work, a->br, &t))
			t = (size_t) -1;
		a->workers = rv_plan_threads(tasks, t, ex);

		/*
		 * Groups of G blocks share the tiles of K and V, as long as that
		 * leaves two tasks per thread (and with a window, whose blocks do
		 * not start at the same key, none).
		 */
		a->G = window ? 1 : RV_CROSS_GROUP;
		while (a->G > 1 && H * ((a->blocks + a->G - 1) / a->G) < 2 * a->workers)
			a->G /= 2;
		a->groups = (a->blocks + a->G - 1) / a->G;

		/*
		 * G Qt (dh x ld), one tile of S (Bc x ld), with several heads the
		 * tile's key and value slices packed (Bc x (dh + dvh)), then the G
		 * blocks' accumulators of O (br x dvh doubles each)
		 */
		if (rv_mul_size(a->G, a->dh, &t) ||
			__builtin_add_overflow(t, RV_CROSS_BC, &t) ||
			rv_mul_size(t, round_up_pad(a->br) + RV_CROSS_PAD, &a->acc_at) ||
			rv_mul_size(RV_CROSS_BC, H > 1 ? a->dh + a->dvh : 0, &t) ||
			__builtin_add_overflow(a->acc_at, t, &a->acc_at) ||
			rv_mul_size(a->G * a->br, a->dvh, &t) ||
			(a->slot = rv_slot_f64(a->acc_at, t)) == (size_t) -1)
			return RV_ERR_SIZE_OVERFLOW;
	}
	else
	{
		/* one block of logits, then a row's accumulator (dvh doubles) */
		if (rv_mul_size(m, H, &tasks))
			return RV_ERR_SIZE_OVERFLOW;
		a->workers = rv_plan_threads(tasks, work, ex);
		a->acc_at = n < RV_CANCEL_BLOCK ? n : RV_CANCEL_BLOCK;
		if (a->acc_at == 0)
			a->acc_at = 1;
		if ((a->slot = rv_slot_f64(a->acc_at, a->dvh)) == (size_t) -1)
			return RV_ERR_SIZE_OVERFLOW;
	}
	if (rv_mul_size(a->workers, a->slot, &t))
		return RV_ERR_SIZE_OVERFLOW;
	return RV_OK;
}

/* ---------------- the FlashAttention-2 path ---------------- */

/*
 * One block of query rows: its transposed queries and the paper's m, l,
 * O.  The sum O of a row c is A[c] Od[c] + O[c], O[c] the float partial
 * of the last `part` keys (in the out rows), Od[c] the double accumulator.
 */
typedef struct cross_block
{
	size_t		r0,
				rows,
				W;				/* rows rounded up to RV_CROSS_PAD */
	float	   *Qt;				/* dh x ld */
	float	   *O;				/* out + r0 dv + h dvh, row stride dv */
	double	   *Od;				/* rows x dvh doubles, row stride dvh */
	double		A[RV_CROSS_BR];
	size_t		part;			/* keys in the float partial */
	size_t		lo,
				hi;				/* the keys of the block: [lo, hi) */
	size_t		first_hi,
				last_lo;		/* tiles inside both need no mask */
	float		m[RV_CROSS_BR];
	double		l[RV_CROSS_BR];
	size_t		lo_r[RV_CROSS_BR],
				hi_r[RV_CROSS_BR];
	unsigned char redo[RV_CROSS_BR];	/* O may have dropped a NaN/Infinity */
	size_t		h;
} cross_block;

/*
 * pack Qt (Qt[k][c] = Q[r0 + c][h dh + k], zero columns past the block),
 * m = -Inf, l = 0, O = 0 (Od: br x dvh doubles)
 */
static void
block_start(const cross_args *a, cross_block *b, size_t h, size_t r0, float *Qt,
			double *Od)
{
	size_t		ld = round_up_pad(a->br) + RV_CROSS_PAD;

	b->r0 = r0;
	b->rows = a->m - r0 < a->br ? a->m - r0 : a->br;
	b->W = round_up_pad(b->rows);
	b->Qt = Qt;
	b->O = a->f.out + r0 * a->f.dv + h * a->dvh;
	b->Od = Od;
	b->part = 0;
	memset(Od, 0, b->rows * a->dvh * sizeof(double));
	b->h = h;
	for (size_t c = 0; c < b->W; c++)
	{
		if (c < b->rows)
		{
			const float *q = a->f.Q + (r0 + c) * a->f.d + h * a->dh;

			for (size_t k = 0; k < a->dh; k++)
				Qt[k * ld + c] = q[k];
		}
		else
			for (size_t k = 0; k < a->dh; k++)
				Qt[k * ld + c] = 0.0f;
		b->m[c] = -INFINITY;
		b->l[c] = 0.0;
		b->A[c] = 1.0;
		b->redo[c] = 0;
	}
	for (size_t c = 0; c < b->rows; c++)
		row_range(a, r0 + c, &b->lo_r[c], &b->hi_r[c]);
	/* ranges grow with r: the block's keys run from its first row's start to its last row's end */
	b->lo = b->lo_r[0];
	b->first_hi = b->hi_r[0];
	b->last_lo = b->lo_r[b->rows - 1];
	b->hi = b->hi_r[b->rows - 1];
}

/* Od = A Od + O for every row of the block: the float partial is empty */
static void
block_flush(const cross_args *a, cross_block *b)
{
	for (size_t c = 0; c < b->rows; c++)
	{
		a->f.kern->accumulate_f64(b->Od + c * a->dvh, b->A[c], b->O + c * a->f.dv, a->dvh);
		b->A[c] = 1.0;
	}
	b->part = 0;
}

/*
 * One tile of keys j0 .. (at most RV_CROSS_BC, up to the block's end) for
 * block b: Kt, Vt are the tile's key and value rows of the head (row
 * strides ldk, ldv), S is a tile of scratch with row stride ld.
 */
static rv_status
block_tile(const cross_args *a, cross_block *b, size_t j0, const float *Kt,
		   size_t ldk, const float *Vt, size_t ldv, float *S, size_t ld)
{
	const rv_kernels *kern = a->f.kern;
	size_t		nk = b->hi - j0 < RV_CROSS_BC ? b->hi - j0 : RV_CROSS_BC;
	size_t		dv = a->f.dv,
				dvh = a->dvh;
	float		m_old[RV_CROSS_BR],
				l_tile[RV_CROSS_BR],
				alpha[RV_CROSS_BR];

	if (b->part + nk > RV_VALUE_BLOCK)
		block_flush(a, b);
	if (!kern->cross_scores(b->Qt, ld, Kt, ldk, nk, a->dh, b->W, a->f.scale, S, ld))
		return RV_ERR_NONFINITE;
	/*
	 * A diagonal or band tile: mask the keys outside each row's range.
	 * Both ends of the ranges grow with the row, so the rows that attend
	 * key j are an interval [c0, c1) which moves right as j grows.
	 */
	if (j0 + nk > b->first_hi || j0 < b->last_lo)
	{
		size_t		c0 = 0,
					c1 = 0;

		for (size_t j = 0; j < nk; j++)
		{
			float	   *s = S + j * ld;

			while (c0 < b->rows && b->hi_r[c0] <= j0 + j)
				c0++;
			while (c1 < b->rows && b->lo_r[c1] <= j0 + j)
				c1++;
			for (size_t c = 0; c < c0; c++)
				s[c] = -INFINITY;
			for (size_t c = c1 > c0 ? c1 : c0; c < b->rows; c++)
				s[c] = -INFINITY;
		}
	}

	memcpy(m_old, b->m, b->W * sizeof(float));
	kern->cross_exp(S, ld, nk, b->W, b->m, l_tile);
	/* alpha = exp(m_old - m): 0 on a row's first keys, exactly 1 when m stayed */
	for (size_t c = 0; c < b->rows; c++)
		alpha[c] = m_old[c] == -INFINITY ? -INFINITY : m_old[c] - b->m[c];
	kern->exp(alpha, b->rows, alpha);
	for (size_t c = 0; c < b->rows; c++)
	{
		/*
		 * A max that grew by more than ~104 makes alpha 0, which overwrites
		 * the float partial: if that drops a NaN/Infinity, block_finish
		 * redoes the row (in Od, NaN * 0 stays NaN).
		 */
		if (b->part > 0 && alpha[c] == 0.0f && m_old[c] != -INFINITY &&
			!kern->all_finite(b->O + c * dv, dvh))
			b->redo[c] = 1;
		b->l[c] = alpha[c] * b->l[c] + l_tile[c];
		/* alpha scales Od (pending in A) and the partial; an empty one is overwritten */
		b->A[c] *= alpha[c];
		if (b->part == 0)
			alpha[c] = 0.0f;
	}
	kern->cross_pv(S, ld, Vt, ldv, nk, b->rows, dvh, alpha, b->O, dv);
	b->part += nk;
	return RV_OK;
}

/*
 * O / l, or 0 for a row that attends no key (also when no tile ran).  A
 * row whose O is not finite, because of a NaN/Infinity in V or because
 * the float partial of O overflowed (values near FLT_MAX), is computed
 * again by rv_flash_row, which keeps its partial scaled: that fails only
 * for a non-finite input.  S (RV_CROSS_BC x ld floats) and the row's Od
 * are its scratch.  An error path only.
 */
static rv_status
block_finish(const cross_args *a, cross_block *b, float *S, size_t ld,
			 rv_job *job)
{
	for (size_t c = 0; c < b->rows; c++)
	{
		float	   *o = b->O + c * a->f.dv;
		double	   *od = b->Od + c * a->dvh;
		size_t		lo = b->lo_r[c],
					hi = b->hi_r[c];
		rv_status	st;

		/* l > 0 means that a tile ran: the partial holds its keys */
		if (b->l[c] == 0.0)
		{
			memset(o, 0, a->dvh * sizeof(float));
			continue;
		}
		a->f.kern->finish_f64(od, b->A[c], o, 1.0 / b->l[c], a->dvh, o);
		if (!b->redo[c] && a->f.kern->all_finite(o, a->dvh))
			continue;
		st = rv_flash_row(a->f.kern, a->f.Q + (b->r0 + c) * a->f.d + b->h * a->dh,
						  a->f.K + lo * a->f.d + b->h * a->dh, a->f.d,
						  a->f.V + lo * a->f.dv + b->h * a->dvh, a->f.dv, hi - lo,
						  a->dh, a->dvh, a->f.scale, RV_CROSS_BC * ld, S, o, od, job);
		if (st != RV_OK)
			return st;
	}
	return RV_OK;
}

/*
 * Task t: head h, a group of up to G consecutive blocks of rows, which
 * share each tile of keys and values (copied once, read G times while it
 * is in cache).  Each block's arithmetic is that of the block alone, so G
 * does not change any result.
 */
static rv_status
tiled_task(rv_job *job, void *arg, size_t t, size_t worker)
{
	const cross_args *a = arg;
	size_t		h = t / a->groups,
				b0 = (t % a->groups) * a->G;
	size_t		nb = a->blocks - b0 < a->G ? a->blocks - b0 : a->G;
	size_t		d = a->f.d,
				dv = a->f.dv,
				dh = a->dh,
				dvh = a->dvh;
	size_t		ld = round_up_pad(a->br) + RV_CROSS_PAD;	/* not a power of two */
	float	   *Qt = a->f.scratch + worker * a->slot;	/* G x (dh x ld) */
	float	   *S = Qt + a->G * dh * ld;
	float	   *Kp = S + RV_CROSS_BC * ld;	/* H > 1: packed tile slices */
	float	   *Vp = Kp + RV_CROSS_BC * dh;
	double	   *Od = rv_f64_at(Qt + a->acc_at);	/* G x br x dvh */
	const float *K = a->f.K + h * dh,
			   *V = a->f.V + h * dvh;
	cross_block blk[RV_CROSS_GROUP];
	size_t		lo, hi, ignored;
	rv_status	st;

	for (size_t i = 0; i < nb; i++)
		block_start(a, &blk[i], h, (b0 + i) * a->br, Qt + i * dh * ld, Od + i * a->br * dvh);
	/* blocks of a group share lo (G is 1 with a window); the last ends last */
	row_range(a, b0 * a->br, &lo, &hi);
	row_range(a, blk[nb - 1].r0 + blk[nb - 1].rows - 1, &ignored, &hi);

	for (size_t j0 = lo; j0 < hi; j0 += RV_CROSS_BC)
	{
		size_t		nk = hi - j0 < RV_CROSS_BC ? hi - j0 : RV_CROSS_BC;
		const float *Kt = K + j0 * d,
				   *Vt = V + j0 * dv;
		size_t		ldk = d,
					ldv = dv;

		/*
		 * A head's rows are d floats apart: with d a multiple of 1 KiB the
		 * tile's rows all fall in a few L1 sets and evict each other, so
		 * copy the head's slices of the tile together first.
		 */
		if (a->H > 1)
		{
			for (size_t j = 0; j < nk; j++)
			{
				memcpy(Kp + j * dh, Kt + j * d, dh * sizeof(float));
				memcpy(Vp + j * dvh, Vt + j * dv, dvh * sizeof(float));
			}
			Kt = Kp;
			Vt = Vp;
			ldk = dh;
			ldv = dvh;
		}
		for (size_t i = 0; i < nb; i++)
			if (j0 < blk[i].hi &&
				(st = block_tile(a, &blk[i], j0, Kt, ldk, Vt, ldv, S, ld)) != RV_OK)
				return st;
		if (rv_job_should_stop(job))
			return RV_ERR_CANCELLED;
	}
	for (size_t i = 0; i < nb; i++)
		if ((st = block_finish(a, &blk[i], S, ld, job)) != RV_OK)
			return st;
	return RV_OK;
}

/* ---------------- the per-row path ---------------- */

static rv_status
row_task(rv_job *job, void *arg, size_t t, size_t worker)
{
	const cross_args *a = arg;
	size_t		r = t / a->H,
				h = t % a->H;
	float	   *o = a->f.out + r * a->f.dv + h * a->dvh;
	float	   *S = a->f.scratch + worker * a->slot;
	size_t		lo, hi;

	row_range(a, r, &lo, &hi);
	if (lo == hi)
	{
		memset(o, 0, a->dvh * sizeof(float));
		return RV_OK;
	}
	return rv_flash_row(a->f.kern, a->f.Q + r * a->f.d + h * a->dh,
						a->f.K + lo * a->f.d + h * a->dh, a->f.d,
						a->f.V + lo * a->f.dv + h * a->dvh, a->f.dv, hi - lo,
						a->dh, a->dvh, a->f.scale, a->acc_at, S, o,
						rv_f64_at(S + a->acc_at), job);
}

/* ---------------- entry points ---------------- */

static size_t
scratch_of(size_t m, size_t n, size_t d, size_t dv, size_t H, int banded,
		   size_t window, const rv_exec *ex)
{
	cross_args	a;

	if (plan(&a, m, n, d, dv, H, banded, window, ex) != RV_OK)
		return (size_t) -1;
	return a.workers * a.slot;
}

static rv_status
run(const float *Q, size_t m, const float *K, const float *V, size_t n,
	size_t d, size_t dv, size_t H, int banded, size_t window, float scale,
	float *out, float *scratch, const rv_exec *ex)
{
	cross_args	a;
	int			nothing;
	rv_status	st;

	if (H >= 1 && d % H == 0 && isnan(scale))
		scale = rv_default_scale(d / H);
	st = rv_forward_init(&a.f, Q, m, K, V, n, d, dv, H, scale, out, scratch, &nothing);
	if (st != RV_OK || nothing)
		return st;
	st = plan(&a, m, n, d, dv, H, banded, window, ex);
	if (st != RV_OK)
		return st;
	return rv_run_tasks(a.tiled ? a.groups * H : m * H, a.workers,
						a.tiled ? tiled_task : row_task, &a, ex);
}

size_t
rv_cross_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
						   size_t num_heads, const rv_exec *ex)
{
	/* causal or not, the plan is the same */
	return scratch_of(m, n, d, dv, num_heads, 0, 0, ex);
}

rv_status
rv_cross_attention(const float *Q, size_t m, const float *K, const float *V,
				   size_t n, size_t d, size_t dv, size_t num_heads,
				   int causal, float scale, float *out, float *scratch,
				   const rv_exec *ex)
{
	return run(Q, m, K, V, n, d, dv, num_heads, causal != 0, 0, scale, out,
			   scratch, ex);
}

size_t
rv_sliding_window_attention_scratch(size_t m, size_t n, size_t d, size_t dv,
									size_t window, const rv_exec *ex)
{
	if (window < 1)
		return (size_t) -1;
	return scratch_of(m, n, d, dv, 1, 1, window, ex);
}

rv_status
rv_sliding_window_attention(const float *Q, size_t m, const float *K,
							const float *V, size_t n, size_t d, size_t dv,
							size_t window, float scale, float *out,
							float *scratch, const rv_exec *ex)
{
	if (window < 1)
		return RV_ERR_WINDOW;
	return run(Q, m, K, V, n, d, dv, 1, 1, window, scale, out, scratch, ex);
}

/* ---------------- weights and logits (generic entry points) ---------------- */

/*
 * W row r: the head average of the per-head softmax weights over the
 * row's key range, 0 outside it (all 0 when the range is empty).  Heads
 * go through rv_weights_heads in groups of RV_GROUP_MAX (scratch: one
 * group's weights, G x n floats; none for one head) and are averaged with
 * weighted_sum, coefficient 1/H, in head order.
 */
static rv_status
weights_of(const float *Q, size_t m, const float *K, size_t n, size_t d,
		   size_t H, int banded, size_t window, float scale, float *W,
		   float *scratch)
{
	const rv_kernels *kern = rv_active_kernels();
	cross_args	a;
	size_t		dh, t;
	float		coef[RV_GROUP_MAX];

	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	if (H < 1 || d % H != 0)
		return RV_ERR_NUM_HEADS;
	if (!isnan(scale) && !isfinite(scale))
		return RV_ERR_SCALE;
	if (n == 0 || m == 0)
		return RV_OK;
	if (Q == NULL || K == NULL || W == NULL || (H > 1 && scratch == NULL))
		return RV_ERR_NULL_ARG;
	if (rv_mul_size(m, n, &t) || rv_mul_size(m, d, &t) || rv_mul_size(n, d, &t) ||
		rv_mul_size(n, H < RV_GROUP_MAX ? H : RV_GROUP_MAX, &t))
		return RV_ERR_SIZE_OVERFLOW;
	dh = d / H;
	if (isnan(scale))
		scale = rv_default_scale(dh);
	a.m = m;
	a.f.n = n;
	a.banded = banded;
	a.window = window;
	for (size_t i = 0; i < RV_GROUP_MAX; i++)
		coef[i] = (float) (1.0 / (double) H);
	for (size_t r = 0; r < m; r++)
	{
		float	   *w = W + r * n;
		size_t		lo, hi;

		row_range(&a, r, &lo, &hi);
		memset(w, 0, lo * sizeof(float));
		memset(w + hi, 0, (n - hi) * sizeof(float));
		if (lo == hi)
			continue;
		for (size_t h0 = 0; h0 < H; h0 += RV_GROUP_MAX)
		{
			size_t		g = H - h0 < RV_GROUP_MAX ? H - h0 : RV_GROUP_MAX;
			float	   *dst = H == 1 ? w + lo : scratch;
			rv_status	st;

			st = rv_weights_heads(kern, Q + r * d + h0 * dh, K + lo * d + h0 * dh,
								  hi - lo, dh, g, d, scale, dst, NULL);
			if (st != RV_OK)
				return st;
			if (H > 1)
				kern->weighted_sum(coef, scratch, g, hi - lo, hi - lo,
								   h0 == 0 ? 0.0f : 1.0f, w + lo);
		}
	}
	return RV_OK;
}

static size_t
weights_scratch_of(size_t n, size_t H)
{
	size_t		s;

	if (H < 1 || rv_mul_size(n, H < RV_GROUP_MAX ? H : RV_GROUP_MAX, &s))
		return (size_t) -1;
	return H == 1 ? 0 : s;
}

size_t
rv_cross_weights_scratch(const rv_attention_params *p, size_t m, size_t n,
						 size_t d, const rv_exec *ex)
{
	(void) m;
	(void) d;
	(void) ex;
	if (p == NULL)
		return (size_t) -1;
	return weights_scratch_of(n, p->num_heads);
}

rv_status
rv_cross_weights(const rv_attention_params *p, const float *Q, size_t m,
				 const float *K, size_t n, size_t d, float *W, float *scratch,
				 const rv_exec *ex)
{
	(void) ex;
	if (p == NULL)
		return RV_ERR_NULL_ARG;
	return weights_of(Q, m, K, n, d, p->num_heads, p->causal != 0, 0, p->scale,
					  W, scratch);
}

rv_status
rv_cross_logit(const rv_attention_params *p, const float *q, const float *k,
			   size_t d, float *out)
{
	const rv_kernels *kern = rv_active_kernels();
	size_t		H, dh;
	double		sum = 0.0;

	if (p == NULL || q == NULL || k == NULL || out == NULL)
		return RV_ERR_NULL_ARG;
	if (d == 0)
		return RV_ERR_EMPTY_QUERY;
	H = p->num_heads;
	if (H < 1 || d % H != 0)
		return RV_ERR_NUM_HEADS;
	if (!isnan(p->scale) && !isfinite(p->scale))
		return RV_ERR_SCALE;
	dh = d / H;
	if (H == 1)
		return rv_attention_score(q, k, d, isnan(p->scale) ? rv_default_scale(d) : p->scale, out);
	if (isnan(p->scale))
		return rv_multi_head_score(q, k, d, H, out);
	/* as rv_multi_head_score, with the given scale for every head */
	for (size_t h = 0; h < H; h++)
	{
		float		s;

		kern->scores(q + h * dh, k + h * dh, 1, dh, dh, p->scale, &s);
		sum += s;
	}
	*out = (float) (sum / (double) H);
	if (!isfinite(*out))
		return RV_ERR_NONFINITE;
	return RV_OK;
}

size_t
rv_sliding_weights_scratch(const rv_attention_params *p, size_t m, size_t n,
						   size_t d, const rv_exec *ex)
{
	(void) m;
	(void) d;
	(void) ex;
	if (p == NULL || p->window < 1)
		return (size_t) -1;
	return weights_scratch_of(n, 1);
}

rv_status
rv_sliding_weights(const rv_attention_params *p, const float *Q, size_t m,
				   const float *K, size_t n, size_t d, float *W, float *scratch,
				   const rv_exec *ex)
{
	(void) ex;
	if (p == NULL)
		return RV_ERR_NULL_ARG;
	if (p->window < 1)
		return RV_ERR_WINDOW;
	return weights_of(Q, m, K, n, d, 1, 1, p->window, p->scale, W, scratch);
}

rv_status
rv_sliding_logit(const rv_attention_params *p, const float *q, const float *k,
				 size_t d, float *out)
{
	if (p == NULL)
		return RV_ERR_NULL_ARG;
	if (p->window < 1)
		return RV_ERR_WINDOW;
	if (d != 0 && !isnan(p->scale) && !isfinite(p->scale))
		return RV_ERR_SCALE;
	return rv_attention_score(q, k, d, isnan(p->scale) ? rv_default_scale(d) : p->scale, out);
}
