/*
 * rv_threads.h: running independent tasks on pthreads (internal).
 *
 * A call splits its work into tasks whose results do not depend on which
 * thread runs them (a head, a query row), so outputs are bit-identical for
 * any thread count.  Rules that make this safe inside a PostgreSQL backend:
 * worker threads start with every signal blocked, touch only the buffers
 * the caller allocated before they start, write only their own task's
 * output, and are all joined before rv_run_tasks returns.
 */
#ifndef RV_THREADS_H
#define RV_THREADS_H

#include <stddef.h>
#include "ruvector.h"

typedef struct rv_job rv_job;

/*
 * One task: compute task number `task` using the scratch slot of `worker`
 * (0 <= worker < the nworkers given to rv_run_tasks).
 */
typedef rv_status (*rv_task_fn) (rv_job *job, void *arg, size_t task,
								 size_t worker);

/*
 * Run tasks 0..ntasks-1 on nworkers threads (the calling thread is worker
 * 0; nworkers - 1 threads are started).  Returns RV_OK, the status of the
 * lowest-numbered failed task, RV_ERR_CANCELLED, or RV_ERR_THREAD when a
 * thread could not be started (after joining those that were).
 */
rv_status	rv_run_tasks(size_t ntasks, size_t nworkers, rv_task_fn fn,
						 void *arg, const rv_exec *ex);

/*
 * Poll between blocks of work: nonzero when the job must stop, because the
 * cancel callback asked for it (here or in another thread) or another task
 * failed.  job may be NULL (never stops).
 */
int			rv_job_should_stop(rv_job *job);

/* Test hook: make the next k thread starts fail (0 = never). */
void		rv__test_fail_thread_starts(int k);

#endif							/* RV_THREADS_H */
