/*
 * snap-hash-object: computes object ids, and with -w stores the objects.
 */
#include "bundle.h"
#include "error.h"
#include "hash.h"
#include "odb.h"
#include "spool.h"
#include "store.h"
#include "usage.h"

#include <errno.h>
#include <fcntl.h>
#include <getopt.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static const char usage_str[] =
"usage: snap-hash-object [-t TYPE] [-w] [--literally] [--stdin] [--stdin-paths] [--] FILE...\n"
"\n"
"Prints the object id of each input, one line each; with -w stores it.\n"
"\n"
"  -t TYPE          blob (default), tree, snapshot or bundle\n"
"  -w               write the object into the store\n"
"      --literally  -t bundle: take the content as it is, unchecked\n"
"      --stdin      read one object from standard input (before FILEs)\n"
"      --stdin-paths  read file paths from standard input, one a line\n"
"      --store DIR  the store for -w (default $SNAP_DIR, else .snap above)\n";

static enum object_type type = OBJ_BLOB;
static struct odb *odb;
static int literally;

/*
 * A bundle is checked as snap-bundle-import checks what it stores: one
 * bundle, in canonical form, by the rules of docs/FORMAT.md ("Bundles").
 */
static void hash_bundle(int fd, const char *what)
{
	struct strbuf buf = STRBUF_INIT, err = STRBUF_INIT;
	struct snap_oid oid;
	uint64_t seq;
	char hex[SNAP_OID_HEXSZ + 1];
	int ret;

	ret = strbuf_read_fd(&buf, fd, BUNDLE_OBJECT_MAX);
	if (ret == SNAP_ETOOBIG)
		die("'%s' is not a bundle: larger than %u MiB", what, BUNDLE_OBJECT_MAX >> 20);
	if (ret < 0)
		die("cannot read '%s': %s", what, strerror(errno));
	if (bundle_parse(buf.buf, buf.len, &seq, NULL, &err) < 0)
		die("'%s' is not a bundle as snap-bundle-import stores it: %s", what, err.buf);
	if (odb) {
		if (odb_write_buf(odb, OBJ_BUNDLE, buf.buf, buf.len, &oid, &err) < 0)
			die_err(&err);
	} else {
		hash_object_buf(OBJ_BUNDLE, buf.buf, buf.len, &oid);
	}
	strbuf_release(&buf);
	printf("%s\n", oid_to_hex_r(hex, &oid));
	if (fflush(stdout))
		die("cannot write to standard output: %s", strerror(errno));
}

/* Hashes (or stores) one input and prints its id. */
static void hash_one(int fd, const char *what)
{
	struct strbuf err = STRBUF_INIT;
	struct snap_oid oid;
	struct stat st;
	int spooled = -1, ret;
	uint64_t size;
	char hex[SNAP_OID_HEXSZ + 1];

	if (fstat(fd, &st) < 0)
		die("cannot stat '%s': %s", what, strerror(errno));
	if (S_ISDIR(st.st_mode))
		die("cannot read '%s': Is a directory", what);
	if (type == OBJ_BUNDLE && !literally) {
		hash_bundle(fd, what);
		return;
	}
	if (S_ISREG(st.st_mode)) {
		size = (uint64_t)st.st_size;
	} else if (odb && type == OBJ_BLOB) {
		/* A pipe stored as it comes, never copied aside first. */
		if (odb_write_stream(odb, fd, what, &oid, &size, &err) < 0)
			die_err(&err);
		printf("%s\n", oid_to_hex_r(hex, &oid));
		if (fflush(stdout))
			die("cannot write to standard output: %s", strerror(errno));
		return;
	} else {
		const char *dir = NULL;
		struct strbuf tmp = STRBUF_INIT;

		if (odb) {
			store_path(odb_store(odb), &tmp, "objects/tmp");
			dir = tmp.buf;
		}
		ret = spool_fd(fd, dir, what, &spooled, &size, &err);
		strbuf_release(&tmp);
		if (ret < 0)
			die_err(&err);
		fd = spooled;
	}
	if (odb)
		ret = odb_write_fd(odb, type, fd, size, what, &oid, &err);
	else
		ret = hash_fd(type, fd, size, what, &oid, &err);
	if (ret < 0)
		die_err(&err);
	if (spooled >= 0)
		close(spooled);
	printf("%s\n", oid_to_hex_r(hex, &oid));
	if (fflush(stdout))
		die("cannot write to standard output: %s", strerror(errno));
}

static void hash_path(const char *path)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		die("cannot open '%s': %s", path, strerror(errno));
	hash_one(fd, path);
	close(fd);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "stdin", no_argument, NULL, 'i' },
		{ "stdin-paths", no_argument, NULL, 'P' },
		{ "literally", no_argument, NULL, 'L' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct snap_store store;
	const char *dir = NULL;
	int write = 0, from_stdin = 0, paths = 0, c, i;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "t:wh", opts, NULL)) != -1) {
		switch (c) {
		case 't':
			type = type_from_name(optarg, strlen(optarg));
			if (type == OBJ_NONE)
				usage_error(usage_str, "unknown object type '%s'", optarg);
			break;
		case 'w': write = 1; break;
		case 'i': from_stdin = 1; break;
		case 'P': paths = 1; break;
		case 'L': literally = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (from_stdin && paths)
		usage_error(usage_str, "--stdin and --stdin-paths cannot be combined");
	if (paths && optind < argc)
		usage_error(usage_str, "--stdin-paths takes no FILE arguments");
	if (!from_stdin && !paths && optind == argc)
		usage_error(usage_str, "nothing to hash: give FILEs, --stdin or --stdin-paths");

	if (write)
		open_store_or_die(dir, &store, &odb);
	if (from_stdin)
		hash_one(0, "standard input");
	for (i = optind; i < argc; i++)
		hash_path(argv[i]);
	if (paths) {
		struct strbuf line = STRBUF_INIT;
		while (strbuf_getline(&line, stdin, '\n') == 0) {
			if (memchr(line.buf, '\0', line.len))
				die("path on standard input contains a NUL byte");
			hash_path(line.buf);
		}
		strbuf_release(&line);
	}
	if (odb) {
		odb_close(odb);
		store_release(&store);
	}
	return finish_stdout(0);
}
