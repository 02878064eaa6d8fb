/*
 * Exercises the worker pool (lib/workqueue.h) and prints what it saw, one
 * line a check, for t/0030-workqueue.bats:
 *
 *   test-workqueue threads          thread counts for 0, 3 and 100 jobs
 *   test-workqueue first JOBS STOP  jobs 3 and 5 of 8 fail (corrupt, then
 *                                   I/O): the code and message returned,
 *                                   and how many jobs ran
 *   test-workqueue bound JOBS       the most cost in flight under a bound
 *   test-workqueue items JOBS       each of 1000 items run once
 */
#include "error.h"
#include "strbuf.h"
#include "util.h"
#include "workqueue.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct state {
	pthread_mutex_t lock;
	int ran, released;
	size_t in_flight, most;
	unsigned char seen[1000];
};

static void pause_a_little(void)
{
	struct timespec ts = { 0, 200000 };

	nanosleep(&ts, NULL);
}

static int failing_job(void *job, void *local, void *data, struct strbuf *err)
{
	struct state *s = data;
	long i = (long)(size_t)job;

	(void)local;
	pthread_mutex_lock(&s->lock);
	s->ran++;
	pthread_mutex_unlock(&s->lock);
	pause_a_little();
	if (i == 3)
		return snap_error(err, SNAP_ECORRUPT, "job %ld is corrupt", i);
	if (i == 5)
		return snap_error(err, SNAP_EIO, "job %ld failed to write", i);
	return 0;
}

static void count_release(void *job, int ran, void *data)
{
	struct state *s = data;

	(void)job;
	(void)ran;
	pthread_mutex_lock(&s->lock);
	s->released++;
	pthread_mutex_unlock(&s->lock);
}

static int costly_job(void *job, void *local, void *data, struct strbuf *err)
{
	struct state *s = data;
	size_t cost = (size_t)job;

	(void)err;
	if (!local)
		return snap_error(err, SNAP_EINVAL, "no buffer");
	memset(local, 0, 64);
	pause_a_little();
	pthread_mutex_lock(&s->lock);
	s->in_flight -= cost;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static int item(size_t i, void *local, void *data, struct strbuf *err)
{
	struct state *s = data;

	(void)local;
	(void)err;
	pthread_mutex_lock(&s->lock);
	s->seen[i]++;
	pthread_mutex_unlock(&s->lock);
	return 0;
}

static const char *code_name(int code)
{
	return code == 0 ? "0" : code == SNAP_ECORRUPT ? "SNAP_ECORRUPT" :
	       code == SNAP_EIO ? "SNAP_EIO" : "other";
}

int main(int argc, char **argv)
{
	struct state s;
	struct strbuf err = STRBUF_INIT;
	struct workqueue_opts o;
	struct workqueue *wq;
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	int ret = 0;
	size_t i;

	memset(&s, 0, sizeof(s));
	memset(&o, 0, sizeof(o));
	pthread_mutex_init(&s.lock, NULL);
	o.data = &s;
	if (argc == 2 && !strcmp(argv[1], "threads")) {
		printf("%d %d %d\n", workqueue_threads(0) == (cpus < 1 ? 1 : cpus > 16 ? 16 : cpus),
		       workqueue_threads(3), workqueue_threads(100));
		return 0;
	}
	if (argc < 3)
		return 2;
	o.jobs = atoi(argv[2]);
	if (!strcmp(argv[1], "first") && argc == 4) {
		o.stop_on_failure = atoi(argv[3]);
		o.run = failing_job;
		o.release = count_release;
		wq = workqueue_start(&o);
		for (i = 0; i < 8; i++) {
			ret = workqueue_submit(wq, (void *)i, 1, &err);
			if (ret < 0) {
				/* Refused: it comes back with the first failure. */
				printf("submit %s %s\n", code_name(ret), err.buf);
				strbuf_reset(&err);
				break;
			}
			/* One job at a time: which failure comes first is known. */
			if (o.jobs == 1)
				workqueue_wait(wq, NULL);
		}
		ret = workqueue_finish(wq, &err);
		printf("finish %s %s\n", code_name(ret), err.buf);
		printf("ran %d released %d\n", s.ran, s.released);
	} else if (!strcmp(argv[1], "bound")) {
		o.run = costly_job;
		o.max_cost = 10;
		o.buffer_size = 64;
		wq = workqueue_start(&o);
		for (i = 0; i < 200 && ret == 0; i++) {
			size_t cost = 1 + i % 4;

			/* Counted before submitting: the job may finish at once. */
			pthread_mutex_lock(&s.lock);
			s.in_flight += cost;
			if (s.in_flight > s.most)
				s.most = s.in_flight;
			pthread_mutex_unlock(&s.lock);
			ret = workqueue_submit(wq, (void *)cost, cost, &err);
		}
		ret = workqueue_finish(wq, &err);
		printf("%s most %s\n", code_name(ret), s.most <= 10 + 4 ? "within" : "past");
	} else if (!strcmp(argv[1], "items")) {
		int once = 1;

		ret = workqueue_run_items(&o, 1000, item, &err);
		for (i = 0; i < 1000; i++)
			once &= s.seen[i] == 1;
		printf("%s %s\n", code_name(ret), once ? "each once" : "not each once");
	} else {
		return 2;
	}
	strbuf_release(&err);
	pthread_mutex_destroy(&s.lock);
	return 0;
}
