/*
 * threads.c: a fork-join runner for independent tasks (see rv_threads.h).
 *
 * Tasks are handed out by an atomic counter, so a fast thread takes more of
 * them; since a task's result does not depend on who runs it, this keeps
 * load balance without making outputs depend on the thread count.
 */
#define _POSIX_C_SOURCE 200809L

#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>

#include "rv_threads.h"

#define RV_MAX_THREADS 64

struct rv_job
{
	rv_task_fn	fn;
	void	   *arg;
	size_t		ntasks;
	const rv_exec *ex;
	atomic_size_t next_task;
	atomic_int	stop;			/* set once: cancel or a failed task */
	atomic_int	cancelled;
	pthread_mutex_t lock;		/* guards failed_task, failed_status */
	size_t		failed_task;
	rv_status	failed_status;
};

typedef struct rv_worker
{
	rv_job	   *job;
	size_t		index;
} rv_worker;

static atomic_int fail_thread_starts;

void
rv__test_fail_thread_starts(int k)
{
	atomic_store(&fail_thread_starts, k);
}

int
rv_job_should_stop(rv_job *job)
{
	if (job == NULL)
		return 0;
	if (atomic_load_explicit(&job->stop, memory_order_relaxed))
		return 1;
	if (job->ex && job->ex->cancel && job->ex->cancel(job->ex->cancel_arg))
	{
		atomic_store(&job->cancelled, 1);
		atomic_store(&job->stop, 1);
		return 1;
	}
	return 0;
}

static void
record_failure(rv_job *job, size_t task, rv_status st)
{
	pthread_mutex_lock(&job->lock);
	if (job->failed_status == RV_OK || task < job->failed_task)
	{
		job->failed_task = task;
		job->failed_status = st;
	}
	pthread_mutex_unlock(&job->lock);
	atomic_store(&job->stop, 1);
}

static void
work_loop(rv_job *job, size_t worker)
{
	for (;;)
	{
		size_t		task;
		rv_status	st;

		if (rv_job_should_stop(job))
			return;
		task = atomic_fetch_add(&job->next_task, 1);
		if (task >= job->ntasks)
			return;
		st = job->fn(job, job->arg, task, worker);
		/*
		 * A task that stopped because another one failed says
		 * RV_ERR_CANCELLED, which is not a failure of its own: recording
		 * it (a lower task number wins) would report "cancelled" for an
		 * input error, depending on the thread timing.
		 */
		if (st == RV_ERR_CANCELLED && !atomic_load(&job->cancelled))
			continue;
		if (st != RV_OK)
			record_failure(job, task, st);
	}
}

static void *
worker_main(void *p)
{
	rv_worker  *w = p;

	work_loop(w->job, w->index);
	return NULL;
}

/*
 * Start nworkers - 1 threads with every signal blocked: the mask is set in
 * the calling thread before pthread_create so that a new thread inherits it
 * from its first instruction, then restored.
 */
rv_status
rv_run_tasks(size_t ntasks, size_t nworkers, rv_task_fn fn, void *arg,
			 const rv_exec *ex)
{
	rv_job		job;
	pthread_t	tid[RV_MAX_THREADS];
	rv_worker	workers[RV_MAX_THREADS];
	size_t		started = 0;
	rv_status	st = RV_OK;

	if (nworkers > RV_MAX_THREADS)
		nworkers = RV_MAX_THREADS;
	if (nworkers > ntasks)
		nworkers = ntasks;
	if (nworkers < 1)
		nworkers = 1;

	job.fn = fn;
	job.arg = arg;
	job.ntasks = ntasks;
	job.ex = ex;
	atomic_init(&job.next_task, 0);
	atomic_init(&job.stop, 0);
	atomic_init(&job.cancelled, 0);
	pthread_mutex_init(&job.lock, NULL);
	job.failed_task = 0;
	job.failed_status = RV_OK;

	if (nworkers > 1)
	{
		sigset_t	all, old;

		sigfillset(&all);
		pthread_sigmask(SIG_SETMASK, &all, &old);
		for (size_t i = 1; i < nworkers; i++)
		{
			int			fail = atomic_load(&fail_thread_starts);

			workers[i].job = &job;
			workers[i].index = i;
			if (fail > 0)
				atomic_store(&fail_thread_starts, fail - 1);
			if (fail > 0 || pthread_create(&tid[i], NULL, worker_main, &workers[i]) != 0)
			{
				st = RV_ERR_THREAD;
				atomic_store(&job.stop, 1);
				break;
			}
			started++;
		}
		pthread_sigmask(SIG_SETMASK, &old, NULL);
	}

	if (st == RV_OK)
		work_loop(&job, 0);

	for (size_t i = 1; i <= started; i++)
		pthread_join(tid[i], NULL);
	pthread_mutex_destroy(&job.lock);

	if (st != RV_OK)
		return st;
	if (atomic_load(&job.cancelled))
		return RV_ERR_CANCELLED;
	return job.failed_status;
}

size_t
rv_plan_threads(size_t ntasks, size_t work_per_task, const rv_exec *ex)
{
	size_t		min_work, by_work, t;

	if (ex == NULL || ex->max_threads <= 1 || ntasks <= 1)
		return 1;
	min_work = ex->min_work_per_thread ? ex->min_work_per_thread : RV_DEFAULT_MIN_WORK;
	t = (size_t) ex->max_threads;
	if (t > RV_MAX_THREADS)
		t = RV_MAX_THREADS;
	if (t > ntasks)
		t = ntasks;
	/* total work / min_work, without overflowing the product */
	if (work_per_task >= min_work)
		by_work = ntasks;
	else
		by_work = ntasks / (min_work / (work_per_task ? work_per_task : 1));
	if (by_work < 1)
		by_work = 1;
	if (t > by_work)
		t = by_work;
	return t;
}
