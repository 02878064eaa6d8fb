/*
 * snap-count-objects: statistics of a store (lib/count.h).
 */
#include "count.h"
#include "odb.h"
#include "store.h"
#include "usage.h"

#include <getopt.h>
#include <stdio.h>

static const char usage_str[] =
"usage: snap-count-objects [--json]\n"
"\n"
"Prints the objects of the store by type (count, logical bytes), chunked\n"
"blobs (their chunks counted as blobs), loose\n"
"and packed objects and their bytes on disk, the compression ratio\n"
"(logical / on disk), unreachable objects, and the deduplication ratio:\n"
"the file bytes all reachable snapshots reference, each snapshot counted\n"
"in full, over the blob bytes stored.\n"
"\n"
"  --json       one JSON object\n"
"  --store DIR  the store (default $SNAP_DIR, else .snap above)\n";

static double ratio(uint64_t a, uint64_t b)
{
	return b ? (double)a / (double)b : 0.0;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {
		{ "json", no_argument, NULL, 'J' },
		{ "store", required_argument, NULL, 'S' },
		{ "help", no_argument, NULL, 'h' },
		{ NULL, 0, NULL, 0 },
	};
	static const char *const names[] = { NULL, "blob", "tree", "snapshot", "bundle" };
	struct strbuf err = STRBUF_INIT;
	struct count_stats st;
	struct snap_store store;
	struct odb *odb;
	const char *dir = NULL;
	uint64_t count = 0, bytes = 0, disk;
	int json = 0, c, t;

	usage_setup(argv[0]);
	while ((c = getopt_long(argc, argv, "h", opts, NULL)) != -1) {
		switch (c) {
		case 'J': json = 1; break;
		case 'S': dir = optarg; break;
		case 'h': usage_help(usage_str);
		default: usage_error(usage_str, "bad option");
		}
	}
	if (optind != argc)
		usage_error(usage_str, "no arguments expected");
	open_store_or_die(dir, &store, &odb);
	if (count_objects(odb, &st, &err) < 0)
		die_err(&err);
	for (t = 1; t <= 4; t++) {
		count += st.types[t].count;
		bytes += st.types[t].bytes;
	}
	count += st.chunked.count;
	disk = st.loose_disk + st.pack_disk;
	if (json) {
		printf("{");
		for (t = 1; t <= 4; t++)
			printf("\"%s\":{\"count\":%llu,\"bytes\":%llu},", names[t],
			       (unsigned long long)st.types[t].count,
			       (unsigned long long)st.types[t].bytes);
		printf("\"chunked\":{\"count\":%llu,\"bytes\":%llu},",
		       (unsigned long long)st.chunked.count,
		       (unsigned long long)st.chunked.bytes);
		printf("\"objects\":%llu,\"bytes\":%llu,\"disk_bytes\":%llu,"
		       "\"loose\":{\"count\":%llu,\"disk_bytes\":%llu},"
		       "\"packs\":{\"count\":%llu,\"objects\":%llu,\"disk_bytes\":%llu},"
		       "\"unreachable\":{\"count\":%llu,\"bytes\":%llu},"
		       "\"snapshots\":%llu,\"referenced_bytes\":%llu,"
		       "\"compression_ratio\":%.3f,\"dedup_ratio\":%.3f}\n",
		       (unsigned long long)count, (unsigned long long)bytes,
		       (unsigned long long)disk, (unsigned long long)st.loose_count,
		       (unsigned long long)st.loose_disk, (unsigned long long)st.packs,
		       (unsigned long long)st.packed_count, (unsigned long long)st.pack_disk,
		       (unsigned long long)st.unreachable_count,
		       (unsigned long long)st.unreachable_bytes,
		       (unsigned long long)st.snapshots_reachable,
		       (unsigned long long)st.referenced_bytes, ratio(bytes, disk),
		       ratio(st.referenced_bytes, st.types[1].bytes));
	} else {
		for (t = 1; t <= 4; t++)
			printf("%-9s %llu objects, %llu bytes\n", names[t],
			       (unsigned long long)st.types[t].count,
			       (unsigned long long)st.types[t].bytes);
		printf("chunked   %llu blobs, %llu bytes, stored as the blobs above\n",
		       (unsigned long long)st.chunked.count,
		       (unsigned long long)st.chunked.bytes);
		printf("total     %llu objects, %llu bytes, %llu bytes on disk\n",
		       (unsigned long long)count, (unsigned long long)bytes,
		       (unsigned long long)disk);
		printf("loose     %llu objects, %llu bytes on disk\n",
		       (unsigned long long)st.loose_count, (unsigned long long)st.loose_disk);
		printf("packed    %llu objects in %llu packs, %llu bytes on disk\n",
		       (unsigned long long)st.packed_count, (unsigned long long)st.packs,
		       (unsigned long long)st.pack_disk);
		printf("garbage   %llu unreachable objects, %llu bytes\n",
		       (unsigned long long)st.unreachable_count,
		       (unsigned long long)st.unreachable_bytes);
		printf("snapshots %llu, referencing %llu bytes of files\n",
		       (unsigned long long)st.snapshots_reachable,
		       (unsigned long long)st.referenced_bytes);
		printf("compression ratio %.2f, deduplication ratio %.2f\n",
		       ratio(bytes, disk), ratio(st.referenced_bytes, st.types[1].bytes));
	}
	odb_close(odb);
	store_release(&store);
	return finish_stdout(0);
}
