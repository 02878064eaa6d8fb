/*
 * The worker pool (workqueue.h).
 */
#include "workqueue.h"
#include "strbuf.h"
#include "util.h"

#include <pthread.h>
#include <stdlib.h>
#include <unistd.h>

/* A queued job; the pool allocates these, so jobs need no link field. */
struct node {
	struct node *next;
	void *job;
	size_t cost;
};

struct workqueue {
	struct workqueue_opts o;
	pthread_t threads[WORKQUEUE_THREADS_MAX];
	int nr_threads;
	pthread_mutex_t lock;	/* everything below */
	pthread_cond_t work;	/* for workers: a job, or the stop */
	pthread_cond_t done;	/* for the producer: a job finished */
	struct node *head, *tail;
	size_t cost;		/* of the jobs submitted and not finished */
	size_t pending;		/* how many those are */
	int stop;
	int failed;		/* the first failure's code, or 0 */
	struct strbuf err;	/* and its message */
	/* A range (workqueue_run_items) instead of a queue. */
	int (*item)(size_t i, void *local, void *data, struct strbuf *err);
	size_t next_item, nr_items;
	/* The caller's own state, when no worker could be started. */
	void *inline_local;
};

int workqueue_threads(int jobs)
{
	long cpus;
	int n = jobs;

	if (n <= 0) {
		cpus = sysconf(_SC_NPROCESSORS_ONLN);
		n = cpus > 0 ? (cpus > WORKQUEUE_THREADS_MAX ? WORKQUEUE_THREADS_MAX : (int)cpus) : 1;
	}
	return n > WORKQUEUE_THREADS_MAX ? WORKQUEUE_THREADS_MAX : n;
}

/* Keeps ret (negative) and its message if it is the first failure. */
static void note_failure(struct workqueue *wq, int ret, const struct strbuf *msg)
{
	if (ret >= 0 || wq->failed)
		return;
	wq->failed = ret;
	strbuf_addbuf(&wq->err, msg);
}

/* The first failure's code, its message appended to err; under lock. */
static int failure(struct workqueue *wq, struct strbuf *err)
{
	if (wq->failed && err)
		strbuf_addbuf(err, &wq->err);
	return wq->failed;
}

static int skipping(const struct workqueue *wq)
{
	return wq->failed && wq->o.stop_on_failure;
}

/* A worker's own state (workqueue_opts.buffer_size, thread_init). */
static void *local_make(const struct workqueue_opts *o)
{
	if (o->thread_init)
		return o->thread_init(o->data);
	return o->buffer_size ? xmalloc_io(o->buffer_size) : NULL;
}

static void local_free(const struct workqueue_opts *o, void *local)
{
	if (o->thread_init) {
		if (o->thread_release)
			o->thread_release(local, o->data);
	} else {
		free(local);
	}
}

static void *worker(void *arg)
{
	struct workqueue *wq = arg;
	struct strbuf err = STRBUF_INIT;
	void *local = local_make(&wq->o);

	for (;;) {
		struct node *n = NULL;
		size_t i = 0;
		int have = 0, skip, ret = 0;

		pthread_mutex_lock(&wq->lock);
		if (wq->item) {
			if (wq->next_item < wq->nr_items) {
				i = wq->next_item++;
				have = 1;
			}
		} else {
			while (!wq->head && !wq->stop)
				pthread_cond_wait(&wq->work, &wq->lock);
			n = wq->head;
			if (n) {
				wq->head = n->next;
				if (!wq->head)
					wq->tail = NULL;
				have = 1;
			}
		}
		skip = skipping(wq);
		pthread_mutex_unlock(&wq->lock);
		if (!have)
			break;
		strbuf_reset(&err);
		if (!skip)
			ret = wq->item ? wq->item(i, local, wq->o.data, &err)
				       : wq->o.run(n->job, local, wq->o.data, &err);
		if (n && wq->o.release)
			wq->o.release(n->job, !skip, wq->o.data);
		pthread_mutex_lock(&wq->lock);
		note_failure(wq, ret, &err);
		if (n) {
			wq->pending--;
			wq->cost -= n->cost;
			pthread_cond_broadcast(&wq->done);
		}
		pthread_mutex_unlock(&wq->lock);
		free(n);
	}
	local_free(&wq->o, local);
	strbuf_release(&err);
	return NULL;
}

static struct workqueue *pool_new(const struct workqueue_opts *opts)
{
	struct workqueue *wq = xcalloc(1, sizeof(*wq));

	wq->o = *opts;
	strbuf_init(&wq->err, 0);
	pthread_mutex_init(&wq->lock, NULL);
	pthread_cond_init(&wq->work, NULL);
	pthread_cond_init(&wq->done, NULL);
	return wq;
}

static void pool_spawn(struct workqueue *wq, int n)
{
	for (wq->nr_threads = 0; wq->nr_threads < n; wq->nr_threads++)
		if (pthread_create(&wq->threads[wq->nr_threads], NULL, worker, wq))
			break;
}

/* Joins the workers, frees wq; returns the first failure (to err). */
static int pool_end(struct workqueue *wq, struct strbuf *err)
{
	int i, ret;

	pthread_mutex_lock(&wq->lock);
	wq->stop = 1;
	pthread_cond_broadcast(&wq->work);
	pthread_mutex_unlock(&wq->lock);
	for (i = 0; i < wq->nr_threads; i++)
		pthread_join(wq->threads[i], NULL);
	ret = failure(wq, err);
	strbuf_release(&wq->err);
	pthread_mutex_destroy(&wq->lock);
	pthread_cond_destroy(&wq->work);
	pthread_cond_destroy(&wq->done);
	free(wq);
	return ret;
}

struct workqueue *workqueue_start(const struct workqueue_opts *opts)
{
	struct workqueue *wq;

	if (!opts->run)
		BUG("workqueue_start without a run function");
	wq = pool_new(opts);
	pool_spawn(wq, workqueue_threads(opts->jobs));
	if (!wq->nr_threads)
		wq->inline_local = local_make(opts);
	return wq;
}

/* No worker could be started: the job runs here and now. */
static void run_inline(struct workqueue *wq, void *job)
{
	struct strbuf err = STRBUF_INIT;
	int ret = wq->o.run(job, wq->inline_local, wq->o.data, &err);

	if (wq->o.release)
		wq->o.release(job, 1, wq->o.data);
	pthread_mutex_lock(&wq->lock);
	note_failure(wq, ret, &err);
	pthread_mutex_unlock(&wq->lock);
	strbuf_release(&err);
}

int workqueue_submit(struct workqueue *wq, void *job, size_t cost, struct strbuf *err)
{
	struct node *n;
	int ret;

	pthread_mutex_lock(&wq->lock);
	while (!skipping(wq) && wq->o.max_cost && wq->cost &&
	       wq->cost + cost > wq->o.max_cost)
		pthread_cond_wait(&wq->done, &wq->lock);
	if (skipping(wq)) {
		ret = failure(wq, err);
		pthread_mutex_unlock(&wq->lock);
		if (wq->o.release)
			wq->o.release(job, 0, wq->o.data);
		return ret;
	}
	if (!wq->nr_threads) {
		pthread_mutex_unlock(&wq->lock);
		run_inline(wq, job);
		return 0;
	}
	n = xmalloc(sizeof(*n));
	n->next = NULL;
	n->job = job;
	n->cost = cost;
	if (wq->tail)
		wq->tail->next = n;
	else
		wq->head = n;
	wq->tail = n;
	wq->pending++;
	wq->cost += cost;
	/* One wake-up a job: each idle worker takes one, none sleeps on a queue. */
	pthread_cond_signal(&wq->work);
	pthread_mutex_unlock(&wq->lock);
	return 0;
}

int workqueue_failed(struct workqueue *wq)
{
	int ret;

	pthread_mutex_lock(&wq->lock);
	ret = wq->failed;
	pthread_mutex_unlock(&wq->lock);
	return ret;
}

int workqueue_wait(struct workqueue *wq, struct strbuf *err)
{
	int ret;

	pthread_mutex_lock(&wq->lock);
	while (wq->pending)
		pthread_cond_wait(&wq->done, &wq->lock);
	ret = failure(wq, err);
	pthread_mutex_unlock(&wq->lock);
	return ret;
}

int workqueue_finish(struct workqueue *wq, struct strbuf *err)
{
	if (!wq->nr_threads)
		local_free(&wq->o, wq->inline_local);
	return pool_end(wq, err);
}

int workqueue_run_items(const struct workqueue_opts *opts, size_t nr,
			int (*fn)(size_t i, void *local, void *data, struct strbuf *err),
			struct strbuf *err)
{
	struct workqueue *wq;
	int n = workqueue_threads(opts->jobs);

	if (!nr)
		return 0;
	wq = pool_new(opts);
	wq->item = fn;
	wq->nr_items = nr;
	pool_spawn(wq, (size_t)n < nr ? n : (int)nr);
	if (!wq->nr_threads)
		worker(wq);	/* the caller's thread takes the whole range */
	return pool_end(wq, err);
}
