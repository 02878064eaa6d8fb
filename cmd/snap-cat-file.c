/*
 * snap-cat-file: prints an object's type, size or content, one object or a
 * batch of names from standard input.
 */
#include "error.h"
#include "odb.h"
#include "revision.h"
#include "store.h"
#include "usage.h"

#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const char usage_str[] =
"usage: snap-cat-file (-t | -s | -e | -p) OBJECT\n"
"   or: snap-cat-file TYPE OBJECT\n"
"   or: snap-cat-file (--batch[=FORMAT] | --batch-check[=FORMAT]) [-Z]\n"
"   or: snap-cat-file --batch-check[=FORMAT] --batch-all-objects\n"
"\n"
"OBJECT is an id, a prefix, or any REV (main, main~2, main:PATH).\n"
"\n"
"  -t                 print the object's type\n"
"  -s                 print the object's size in bytes\n"
"  -e                 exit 0 if the object exists, 1 if not; print nothing\n"
"  -p                 print the object's content\n"
"  TYPE OBJECT        print the content, which must be of TYPE\n"
"  --batch[=FORMAT]   for each name on standard input: FORMAT line, content\n"
"  --batch-check[=FORMAT]  for each name on standard input: FORMAT line\n"
"  --batch-all-objects  every object in the store instead of standard input\n"
"  -Z                 NUL-terminated input and output lines in batch mode\n"
"  --store DIR        the store (default $SNAP_DIR, else .snap above)\n"
"\n"
"FORMAT atoms: %(objectname) %(objecttype) %(objectsize) %(rest)\n";

/* Objects up to this size are verified whole before a byte is printed. */
#define VERIFY_FIRST_MAX (8u << 20)
#define DEFAULT_FORMAT "%(objectname) %(objecttype) %(objectsize)"

static struct odb *odb;

/* Prints an object's payload; dies if it is absent or corrupt. */
static void print_content(const struct snap_oid *oid, uint64_t size)
{
	struct strbuf err = STRBUF_INIT, buf = STRBUF_INIT;
	struct odb_stream *st;
	size_t got;

	if (size <= VERIFY_FIRST_MAX) {
		if (odb_read(odb, oid, NULL, &buf, VERIFY_FIRST_MAX, &err) < 0)
			die_err(&err);
		xfwrite(buf.buf, buf.len);
		strbuf_release(&buf);
		return;
	}
	if (odb_stream_open(odb, oid, &st, NULL, NULL, &err) < 0)
		die_err(&err);
	strbuf_grow(&buf, 256 * 1024);
	do {
		if (odb_stream_read(st, buf.buf, buf.alloc - 1, &got, &err) < 0)
			die_err(&err);
		xfwrite(buf.buf, got);
	} while (got);
	odb_stream_close(st);
	strbuf_release(&buf);
}

/* Expands FORMAT for one object into out. */
static void expand_format(struct strbuf *out, const char *fmt,
			  const struct snap_oid *oid, enum object_type type,
			  uint64_t size, const char *rest)
{
	static const char *const atoms[] = {
		"%(objectname)", "%(objecttype)", "%(objectsize)", "%(rest)",
	};
	const char *p = fmt;

	while (*p) {
		size_t i, len = 0;

		for (i = 0; i < 4; i++) {
			len = strlen(atoms[i]);
			if (!strncmp(p, atoms[i], len))
				break;
		}
		switch (i) {
		case 0: strbuf_addstr(out, oid_to_hex(oid)); break;
		case 1: strbuf_addstr(out, type_name(type)); break;
		case 2: strbuf_addf(out, "%llu", (unsigned long long)size); break;
		case 3: strbuf_addstr(out, rest ? rest : ""); break;
		default: strbuf_addch(out, *p); len = 1; break;
		}
		p += len;
	}
}

struct batch {
	const char *format;
	int contents;
	int term;
};

static void batch_one(struct batch *b, const struct snap_oid *oid,
		      const char *name, const char *rest)
{
	struct strbuf err = STRBUF_INIT, line = STRBUF_INIT;
	enum object_type type;
	uint64_t size;
	int ret;

	ret = odb_read_header(odb, oid, &type, &size, &err);
	if (ret == SNAP_ENOTFOUND) {
		printf("%s missing%c", name, b->term);
	} else if (ret < 0) {
		die_err(&err);
	} else {
		expand_format(&line, b->format, oid, type, size, rest);
		strbuf_addch(&line, b->term);
		xfwrite(line.buf, line.len);
		if (b->contents) {
			print_content(oid, size);
			putchar(b->term);
		}
	}
	if (fflush(stdout))
		die("cannot write to standard output");
	strbuf_release(&line);
	strbuf_release(&err);
}

static int batch_stdin(struct batch *b)
{
	struct strbuf line = STRBUF_INIT, err = STRBUF_INIT;
	int split = strstr(b->format, "%(rest)") != NULL;

	while (strbuf_getline(&line, stdin, b->term) == 0) {
		struct snap_oid oid;
		char *rest = NULL;
		int ret;

		if (split) {
			char *sp = line.buf + strcspn(line.buf, " \t");
			if (*sp) {
				*sp = '\0';
				rest = sp + 1;
			}
		}
		strbuf_reset(&err);
		ret = resolve_rev(odb, line.buf, &oid, &err);
		if (ret == SNAP_EAMBIGUOUS)
			printf("%s ambiguous%c", line.buf, b->term);
		else if (ret == SNAP_ENOTFOUND || ret == SNAP_EINVAL)
			printf("%s missing%c", line.buf, b->term);
		else if (ret < 0)
			die_err(&err);
		else {
			batch_one(b, &oid, line.buf, rest);
			continue;
		}
		if (fflush(stdout))
			die("cannot write to standard output");
	}
	strbuf_release(&line);
	strbuf_release(&err);
	return 0;
}

static int each_object(const struct snap_oid *oid, void *data)
{
	batch_one(data, oid, oid_to_hex(oid), NULL);
	return 0;
}

static void resolve_or_die(const char *name, struct snap_oid *oid)
{
	struct strbuf err = STRBUF_INIT;

	if (resolve_rev(odb, name, oid, &err) < 0)
		die_err(&err);
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "batch", optional_argument, NULL, 'B' },
		{ "batch-check", optional_argument, NULL, 'C' },
		{ "batch-all-objects", no_argument, NULL, 'A' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	struct strbuf err = STRBUF_INIT;
	struct snap_store store;
	struct batch b = { NULL, 0, '\n' };
	struct snap_oid oid;
	enum object_type type, want = OBJ_NONE;
	uint64_t size;
	const char *dir = NULL;
	int mode = 0, all = 0, c, ret;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "tsepZh", opts, NULL)) != -1) {
		switch (c) {
		case 't': case 's': case 'e': case 'p': case 'B': case 'C':
			if (mode)
				usage_error(usage_str, "options -%c and -%c cannot be combined", mode, c);
			mode = c;
			if (c == 'B' || c == 'C') {
				b.format = optarg ? optarg : DEFAULT_FORMAT;
				b.contents = c == 'B';
			}
			break;
		case 'Z': b.term = '\0'; break;
		case 'A': all = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (b.term == '\0' && !b.format)
		usage_error(usage_str, "-Z goes with --batch or --batch-check");
	if (all && !b.format)
		usage_error(usage_str, "--batch-all-objects goes with --batch or --batch-check");
	if (b.format) {
		if (optind != argc)
			usage_error(usage_str, "batch mode takes no arguments");
	} else if (!mode) {
		if (argc - optind != 2)
			usage_error(usage_str, "expected TYPE OBJECT");
		want = type_from_name(argv[optind], strlen(argv[optind]));
		if (want == OBJ_NONE)
			usage_error(usage_str, "unknown object type '%s'", argv[optind]);
		optind++;
	} else if (argc - optind != 1) {
		usage_error(usage_str, "expected one OBJECT");
	}

	open_store_or_die(dir, &store, &odb);
	if (b.format) {
		if (all) {
			if (odb_for_each(odb, each_object, &b, &err) < 0)
				die_err(&err);
		} else {
			batch_stdin(&b);
		}
		ret = 0;
		goto out;
	}

	if (mode == 'e') {
		ret = resolve_rev(odb, argv[optind], &oid, &err);
		if (ret == SNAP_ENOTFOUND)
			return EXIT_NO;
		if (ret < 0)
			die_err(&err);
		ret = odb_read_header(odb, &oid, &type, &size, &err);
		if (ret == SNAP_ENOTFOUND)
			return EXIT_NO;
		if (ret < 0)
			die_err(&err);
		goto out;
	}
	resolve_or_die(argv[optind], &oid);
	if (odb_read_header(odb, &oid, &type, &size, &err) < 0)
		die_err(&err);
	if (mode == 't')
		printf("%s\n", type_name(type));
	else if (mode == 's')
		printf("%llu\n", (unsigned long long)size);
	else {
		if (want != OBJ_NONE && want != type)
			die("object '%s' is a %s, not a %s", oid_to_hex(&oid),
			    type_name(type), type_name(want));
		print_content(&oid, size);
	}
	ret = 0;
out:
	odb_close(odb);
	store_release(&store);
	strbuf_release(&err);
	return finish_stdout(ret);
}
