#!/bin/bash
# Builds the seed corpora of the fuzz targets, t/fuzz/corpus/TARGET/,
# from a real store made with the built commands (run `make` first):
# loose objects of each type, trees and snapshots, refs and a reflog,
# a pack index and a multi-pack index, a stat cache, the config, a
# session file, JSON and JSON Lines bundles and a .bundle.db image.
# The files are named by their content's BLAKE3 (as libFuzzer names
# what it finds), so running it again adds nothing twice.
#
#   bash t/fuzz/make-seeds.sh [CORPUS-DIR]

set -euo pipefail
top=$(cd "$(dirname "$0")/../.." && pwd)
out=${1:-$top/t/fuzz/corpus}
export PATH="$top/bin:$PATH" TZ=UTC LC_ALL=C
unset SNAP_SESSION
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
cd "$work"
export SNAP_DIR=$work/store
snap-init -q "$SNAP_DIR"

# seed TARGET FILE...: copies each file into the target's corpus.
seed() {
	local t=$1 f id
	shift
	mkdir -p "$out/$t"
	for f; do
		id=$(b3sum --no-names < "$f" | cut -c1-16)
		cp "$f" "$out/$t/$id"
		chmod 644 "$out/$t/$id"
	done
}
# seed_text TARGET TEXT: a seed written from a string (printf %b).
seed_text() {
	printf '%b' "$2" > "$work/text"
	seed "$1" "$work/text"
}

# A small tree of every kind of entry a tree can hold.
mkdir -p src/dir/sub src/'with space'
printf 'hello\n' > src/a.txt
head -c 3000 /dev/zero | tr '\0' 'x' > src/dir/big
printf 'tab\there\n' > 'src/with space/é'
ln -s a.txt src/link
ln src/a.txt src/dir/hard
mkfifo src/fifo
printf 'deep\n' > src/dir/sub/f
chmod 600 src/dir/sub/f
# Extended attributes (where the filesystem takes user.*) and a hole.
setfattr -n user.seed -v 1 src/a.txt 2> /dev/null || :
setfacl -m u:nobody:r src/dir 2> /dev/null || :
truncate -s 2000000 src/dir/sparse
snap-snapshot -m 'first' --meta 'job=fuzz-seeds' src > /dev/null
printf 'changed\n' > src/a.txt
snap-snapshot -m $'second\n\nwith a body' src > /dev/null
snap-snapshot -r other -m 'other ref' src > /dev/null

# Trees and snapshots, as payloads; loose objects, as stored.
for s in $(snap-rev-parse main) $(snap-rev-parse main~1); do
	snap-cat-file snapshot "$s" > snapshot
	seed snapshot snapshot
done
root=$(sed -n 's/^tree //p' snapshot)
for tr in "$root" $(snap-ls-tree -r -d "$root" | awk '$1 == "dir" { print $3 }'); do
	snap-cat-file tree "$tr" > tree
	seed tree tree
	seed restore tree
done
for x in $(snap-ls-tree -r -d -l "$root" | tr ' ' '\n' | sed -n 's/^xattrs=//p' | sort -u); do
	snap-cat-file blob "$x" > xattrs
	seed xattrs xattrs
done
# Loose objects of every type (snapshots write theirs loose; the rest
# come from hash-object -w), an empty blob and a chunked blob's list.
: > empty
head -c 1100000 /dev/zero | tr '\0' 'y' | cat - src/dir/big > large
snap-hash-object -w empty src/a.txt src/dir/big large > /dev/null
snap-hash-object -w -t tree tree > /dev/null
for f in $(find "$SNAP_DIR/objects" -path '*/objects/??/*' -type f -size -8k | sort); do
	seed object "$f"
done

# Refs and the reflog of a ref with three updates.
seed refs "$SNAP_DIR/refs/snapshots/main" "$SNAP_DIR/logs/refs/snapshots/main"
seed_text refs 'refs/snapshots/main'

# The stat cache write-tree left, the config and a session file.
for f in "$SNAP_DIR"/cache/refs/snapshots/*; do seed statcache "$f"; done
seed config "$SNAP_DIR/config"
seed_text config '# a comment\nformat = 1\nhash = blake3\ncompression = 19\nnewer-key = kept\n'
name=$(snap-session begin --pid $$ --base main --base other)
seed session "$SNAP_DIR/sessions/$name"
snap-session end "$name"

# Bundles: JSON, JSON Lines, and a native .bundle.db image.
jsonl() {
	local i
	for ((i = $1; i <= $2; i++)); do
		printf '{"operations":[{"op":"insert","row":{"id":%d,"v":"r%d \\u00e9\\ud83d\\ude00"}}],"sequence":%d}\n' "$i" "$i" "$i"
	done
}
jsonl 1 3 > b.jsonl
{ echo '['; jsonl 4 5 | paste -sd, -; echo ']'; } > b.json
head -n 1 b.jsonl | tr -d '\n' > one.json
seed bundle b.jsonl b.json one.json
seed json b.json one.json
seed_text json '{"n":[0,-0.0,1e21,1.5e-7,9007199254740991,-1e+300],"s":"\\u0000\\t\\"\\\\/\\u2028","k":{"b":1,"a":{"":[]}},"t":true,"f":false,"z":null}'
seed_text json '[[[[[["deep"]]]]],{"\\ud834\\udd1e":"\\u20ac","\\u00e9":1}]'
{
	cat <<'SQL'
CREATE TABLE bundle_metadata (
    bundle_id BLOB PRIMARY KEY CHECK(length(bundle_id) = 16),
    source_device_id BLOB NOT NULL CHECK(length(source_device_id) = 16),
    created_at INTEGER NOT NULL,
    schema_version INTEGER NOT NULL,
    op_count INTEGER NOT NULL,
    content_hash BLOB NOT NULL CHECK(length(content_hash) = 32)
) STRICT;
CREATE TABLE bundle_operations (
    op_id BLOB PRIMARY KEY CHECK(length(op_id) = 16),
    device_id BLOB NOT NULL CHECK(length(device_id) = 16),
    parent_op_id BLOB CHECK(parent_op_id IS NULL OR length(parent_op_id) = 16),
    vector_clock TEXT NOT NULL,
    hlc TEXT NOT NULL,
    table_name TEXT NOT NULL,
    op_type TEXT NOT NULL CHECK(op_type IN ('INSERT', 'UPDATE', 'DELETE')),
    row_pk BLOB NOT NULL,
    old_values BLOB,
    new_values BLOB,
    schema_version INTEGER NOT NULL,
    created_at INTEGER NOT NULL,
    is_local INTEGER NOT NULL CHECK(is_local IN (0, 1)),
    applied_at INTEGER
) STRICT;
PRAGMA page_size = 512;
BEGIN;
INSERT INTO bundle_operations VALUES (X'00000000000000010000000000000001', X'00000000000000000000000000000001', NULL, '{"d1": 1}', '1770000000001:0:d1', 'users', 'INSERT', X'01', NULL, X'00001eef', 1, 1769999999999999, 1, NULL);
INSERT INTO bundle_operations VALUES (X'00000000000000010000000000000002', X'00000000000000000000000000000001', X'00000000000000010000000000000001', '{"d1": 2}', '1770000000002:0:d1', 'users', 'UPDATE', X'02', X'00000003', X'00003dde', 1, 1770000000000000, 0, 1770000000000002);
INSERT INTO bundle_metadata VALUES (X'00000000000000010000000000000000', X'00000000000000000000000000000001', 1770000000000000, 1, 2, zeroblob(32));
COMMIT;
SQL
} | sqlite3 b.db
hash=$(printf '%b' "$(sqlite3 b.db "SELECT hex(op_id) FROM bundle_operations ORDER BY op_id" |
	tr -d '\n' | sed 's/../\\x&/g')" | sha256sum | cut -c1-64)
sqlite3 b.db "UPDATE bundle_metadata SET content_hash = X'$hash'; VACUUM"
seed sqlbundle b.db
seed bundle b.db
snap-bundle-import -r bundles b.jsonl b.db > /dev/null
for b in $(snap-cat-file snapshot "$(snap-rev-parse bundles)" | sed -n 's/^bundle //p'); do
	snap-cat-file bundle "$b" > stored.json
	snap-hash-object -w -t bundle stored.json > /dev/null
	seed bundle stored.json
	seed json stored.json
done

for f in $(find "$SNAP_DIR/objects" -path '*/objects/??/*' -type f -size -8k | sort); do
	zstd -dc "$f" | grep -qa '^bundle ' && seed object "$f"
done

# Packs and the multi-pack index: gc packs everything and writes it.
snap-gc --prune=now > /dev/null
seed packidx "$SNAP_DIR"/objects/pack/*.idx
seed midx "$SNAP_DIR/objects/pack/multi-pack-index"
