/*
 * test-progress TOTAL STEPS: counts to STEPS (bytes 1 MiB a step), one
 * step every 100 ms, through the progress meter; for t/0020.
 */
#include "progress.h"
#include "usage.h"

#include <stdlib.h>
#include <time.h>

int main(int argc, char **argv)
{
	struct timespec pause = { 0, 100 * 1000 * 1000 };
	struct progress *p;
	unsigned long total, steps, i;

	usage_setup("snap-test");
	if (argc != 3)
		return 129;
	total = strtoul(argv[1], NULL, 10);
	steps = strtoul(argv[2], NULL, 10);
	p = progress_start("files", total);
	for (i = 1; i <= steps; i++) {
		nanosleep(&pause, NULL);
		progress_update(p, i, (uint64_t)i << 20);
	}
	progress_done(p);
	return 0;
}
