#ifndef SNAP_WORKQUEUE_H
#define SNAP_WORKQUEUE_H

/*
 * A pool of worker threads, the one every parallel stage of snap uses
 * (restore's file writers, fsck's verifiers, the batch writer's
 * compressors).  Two ways to feed it:
 *
 *   - a queue: workqueue_start(), then workqueue_submit() each job from
 *     one thread (the caller's), workqueue_wait() to let everything
 *     queued so far finish, and workqueue_finish() to stop;
 *   - a range: workqueue_run_items() calls a function for every index
 *     0 .. nr-1, handed out in that order, and returns when all ran.
 *
 * A job returns 0 or a negative SNAP_E* code with its message in the
 * strbuf it is given.  The pool keeps the FIRST failure, its code and
 * its message, unchanged: a blob found corrupt by a worker is
 * SNAP_ECORRUPT to the caller, never turned into SNAP_EIO.  Later
 * failures are dropped.  With stop_on_failure, once a job has failed
 * no further job is run: those still queued, and those submitted
 * afterwards, are released unrun, and workqueue_submit() returns the
 * failure so that the caller can stop producing work.
 *
 * Each worker may hold state of its own, the job's local argument: a
 * buffer of buffer_size bytes, or anything else (a compression context)
 * that thread_init makes when the worker starts and thread_release frees
 * when it ends.
 * When not a single thread can be started, the jobs run on the calling
 * thread instead (each in workqueue_submit(), or the whole range in
 * workqueue_run_items()): slower, never wrong.
 *
 * The pool's own calls are for one producing thread; jobs run on any
 * worker, so what they share is theirs to lock.
 */

#include <stddef.h>

struct strbuf;

/* The most threads a pool starts, whatever it is asked for. */
#define WORKQUEUE_THREADS_MAX 16

/*
 * The number of threads a pool of jobs threads starts: jobs when it is
 * positive, else the number of processors online (1 when unknown); at
 * most WORKQUEUE_THREADS_MAX either way.
 */
int workqueue_threads(int jobs);

struct workqueue_opts {
	int jobs;		/* threads: see workqueue_threads() */
	int stop_on_failure;	/* run nothing more once a job has failed */
	/*
	 * A queue's bound: workqueue_submit() waits while the costs of the
	 * jobs submitted and not yet finished, plus the new one's, pass
	 * max_cost (a job alone may pass it).  0: no bound.  A cost of 1 a
	 * job bounds their number; a byte count, the memory they hold.
	 */
	size_t max_cost;
	/*
	 * A queue's job: called on a worker with the job submitted, the
	 * worker's local state, data and an empty err.  Required for
	 * workqueue_start().
	 */
	int (*run)(void *job, void *local, void *data, struct strbuf *err);
	/*
	 * Called once for every job submitted, after it ran or when it is
	 * dropped unrun (ran 0: after a failure, with stop_on_failure):
	 * frees it.  Called on a worker, or on the caller's thread for a
	 * job refused by workqueue_submit().  May be NULL.
	 */
	void (*release)(void *job, int ran, void *data);
	/*
	 * Per-worker state: without thread_init, a buffer of buffer_size
	 * bytes (xmalloc_io, 64-byte aligned), or none (NULL) when that is 0.
	 */
	size_t buffer_size;
	void *(*thread_init)(void *data);
	void (*thread_release)(void *local, void *data);
	void *data;
};

struct workqueue;

/* Starts a queue's workers; never fails (see above for no threads). */
struct workqueue *workqueue_start(const struct workqueue_opts *opts);

/*
 * Queues job, of the given cost, for a worker (ownership passes to the
 * pool: it ends with opts->release), waiting while the queue is full.
 * Returns 0, or with stop_on_failure once a job has failed, that first
 * failure's code with its message appended to err (job is then
 * released unrun).
 */
int workqueue_submit(struct workqueue *wq, void *job, size_t cost, struct strbuf *err);

/* The first failure's code so far, or 0: cheap, for a producer's loop. */
int workqueue_failed(struct workqueue *wq);

/*
 * Waits until every job submitted so far has finished (run or dropped);
 * the workers stay for more.  Returns 0 or the first failure's code,
 * its message appended to err.
 */
int workqueue_wait(struct workqueue *wq, struct strbuf *err);

/*
 * Lets the workers finish every job queued, stops them and frees wq.
 * Returns 0 or the first failure's code, its message appended to err.
 */
int workqueue_finish(struct workqueue *wq, struct strbuf *err);

/*
 * Calls fn(i, local, opts->data, err) for each i in 0 .. nr-1, handed
 * out in order to opts->jobs threads, and returns when all are done:
 * 0 or the first failure's code, its message appended to err.  Uses
 * jobs, stop_on_failure, buffer_size, thread_init, thread_release and
 * data of opts.
 */
int workqueue_run_items(const struct workqueue_opts *opts, size_t nr,
			int (*fn)(size_t i, void *local, void *data, struct strbuf *err),
			struct strbuf *err);

#endif
