/*
 * Replays inputs through a fuzz target without libFuzzer: calls
 * LLVMFuzzerTestOneInput() once for each file given (for a directory,
 * each file in it, sorted), then prints "replayed N inputs".  Exits 0
 * when every input ran, 1 when one could not be read; a crash or a
 * broken property aborts, so the exit status says it.
 *
 *   replay-<target> FILE-OR-DIR...
 */
#include "harness.h"
#include "util.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

static size_t ran;

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static int run_file(const char *path)
{
	struct strbuf buf = STRBUF_INIT;
	char *copy;

	if (strbuf_read_file(&buf, path, (size_t)1 << 30) < 0) {
		fprintf(stderr, "replay: cannot read '%s'\n", path);
		return 1;
	}
	/* A copy of exactly the input's size, so that a read past its end
	 * is caught as libFuzzer would catch it. */
	copy = xmemdup(buf.buf, buf.len ? buf.len : 1);
	LLVMFuzzerTestOneInput((const uint8_t *)copy, buf.len);
	free(copy);
	strbuf_release(&buf);
	ran++;
	return 0;
}

static int run_dir(const char *path)
{
	char **names = NULL;
	size_t nr = 0, alloc = 0, i;
	struct dirent *de;
	DIR *d = opendir(path);
	int ret = 0;

	if (!d) {
		fprintf(stderr, "replay: cannot open '%s'\n", path);
		return 1;
	}
	while ((de = readdir(d))) {
		struct strbuf sb = STRBUF_INIT;
		struct stat st;

		if (de->d_name[0] == '.')
			continue;
		strbuf_addf(&sb, "%s/%s", path, de->d_name);
		if (stat(sb.buf, &st) == 0 && S_ISREG(st.st_mode)) {
			ALLOC_GROW(names, nr + 1, alloc);
			names[nr++] = strbuf_detach(&sb, NULL);
		} else {
			strbuf_release(&sb);
		}
	}
	closedir(d);
	QSORT(names, nr, cmp_str);
	for (i = 0; i < nr; i++) {
		ret |= run_file(names[i]);
		free(names[i]);
	}
	free(names);
	return ret;
}

int main(int argc, char **argv)
{
	int i, ret = 0;

	if (argc < 2) {
		fprintf(stderr, "usage: %s FILE-OR-DIR...\n", argv[0]);
		return 129;
	}
	for (i = 1; i < argc; i++) {
		struct stat st;

		if (stat(argv[i], &st) == 0 && S_ISDIR(st.st_mode))
			ret |= run_dir(argv[i]);
		else
			ret |= run_file(argv[i]);
	}
	printf("replayed %zu inputs\n", ran);
	return ret;
}
