bats_require_minimum_version 1.5.0

# Loaded by every t/*.bats file:  load test_helper
#
# Puts the built commands first on PATH, gives each test its own empty
# directory as the working directory, and offers small helpers.

bats_load_library bats-support 2>/dev/null || load "${BATS_LIB:-/usr/lib/bats}/bats-support/load"
bats_load_library bats-assert 2>/dev/null || load "${BATS_LIB:-/usr/lib/bats}/bats-assert/load"
bats_load_library bats-file 2>/dev/null || load "${BATS_LIB:-/usr/lib/bats}/bats-file/load"

SNAP_BUILD=${SNAP_BUILD:-$(cd "$BATS_TEST_DIRNAME/.." && pwd)}
export PATH="$SNAP_BUILD/bin:$SNAP_BUILD/t/unit/bin:$PATH"
FIXTURES="$BATS_TEST_DIRNAME/fixtures"

setup() {
	unset SNAP_DIR SNAP_FAULT SNAP_TIME
	export TZ=UTC LC_ALL=C
	cd "$BATS_TEST_TMPDIR" || return 1
	if declare -F local_setup >/dev/null; then local_setup; fi
}

# Makes a store at ./store and exports SNAP_DIR to it.
init_store() {
	snap-init -q "${1:-$BATS_TEST_TMPDIR/store}"
	export SNAP_DIR="${1:-$BATS_TEST_TMPDIR/store}"
}

# Prints every path of a store with its type, size, mode and content hash,
# sorted: two listings compare equal when nothing in the store changed.
store_listing() {
	(cd "${1:-$SNAP_DIR}" && find . -printf '%p %y %s %m\n' | LC_ALL=C sort &&
		find . -type f -print0 | LC_ALL=C sort -z | xargs -0 -r b3sum)
}

# jfield NAME: the field NAME of the JSON object on stdin.
jfield() {
	python3 -c 'import json,sys; print(json.load(sys.stdin)[sys.argv[1]])' "$1"
}

# refused MESSAGE CMD...: the model of a bad-input test: CMD exits 128
# with exactly MESSAGE on stderr, prints nothing, and leaves the store
# exactly as it was.
refused() {
	local want=$1 before
	shift
	before=$(store_listing)
	run -128 --separate-stderr "$@"
	assert_equal "$stderr" "$want"
	assert_equal "$output" ''
	assert_equal "$(store_listing)" "$before"
}

# The loose object file of an id.
object_path() {
	echo "${2:-$SNAP_DIR}/objects/${1:0:2}/${1:2}"
}

# Writes N bytes of deterministic pseudo-random data to FILE.
make_file() {
	local n=$1 file=$2
	head -c "$n" /dev/zero | openssl enc -aes-128-ctr -nosalt -pass pass:snap"$n" 2>/dev/null > "$file" ||
		head -c "$n" /dev/urandom > "$file"
}

# The id snap must give to FILE as a blob, computed with b3sum.
b3_blob_id() {
	local size
	size=$(stat -c %s "$1")
	{ printf 'blob %d\0' "$size"; cat "$1"; } | b3sum --no-names
}

# Corruption helpers for fsck tests.  Each damages the store in one way.
# Flips one byte in the middle of a loose object file.
corrupt_flip_byte() {
	local p
	p=$(object_path "$1")
	chmod u+w "$p"
	local size
	size=$(stat -c %s "$p")
	printf '\377' | dd of="$p" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
}

# Puts object $2's file where object $1's belongs.
corrupt_swap() {
	local p
	p=$(object_path "$1")
	chmod u+w "$p"
	cp "$(object_path "$2")" "$p"
}

corrupt_truncate() {
	local p
	p=$(object_path "$1")
	chmod u+w "$p"
	truncate -s 5 "$p"
}

corrupt_delete() {
	rm -f "$(object_path "$1")"
}

# Writes a tree object past the strict parser (unsorted entries).
malformed_tree() {
	printf 'file 0644 0 0 0.000000000 1 %s - b\nfile 0644 0 0 0.000000000 1 %s - a\n' "$1" "$1" |
		snap-hash-object -t tree -w --stdin
}

# Pushes every object file's mtime into the past, so gc --prune=now may take them.
age_objects() {
	find "$SNAP_DIR/objects" -type f -exec touch -d '-1 hour' {} +
}

# A tree with every kind of entry a restore must bring back: regular,
# empty and executable files, empty directories, symlinks (relative,
# absolute, dangling), hard links, a fifo, names with spaces, newlines,
# UTF-8 and invalid UTF-8, nanosecond mtimes.
make_rich_tree() {
	local d=$1
	mkdir -p "$d/sub/deeper" "$d/empty dir"
	printf 'hello\n' > "$d/regular"
	: > "$d/empty"
	printf '#!/bin/sh\necho hi\n' > "$d/script"
	chmod 755 "$d/script"
	printf 'x' > "$d/with space"
	printf 'y' > "$d/new
line"
	printf 'z' > "$d/caf$(printf '\303\251')"
	printf 'w' > "$d/bad$(printf '\377\376')utf8"
	ln -s regular "$d/rel-link"
	ln -s /etc/hostname "$d/abs-link"
	ln -s does-not-exist "$d/dangling"
	ln "$d/regular" "$d/sub/hardlink"
	printf 'deep' > "$d/sub/deeper/file"
	make_file 3000000 "$d/sub/big"
	mkfifo "$d/fifo"
	touch -d '2021-03-04 05:06:07.123456789' "$d/regular" "$d/sub/deeper/file"
	touch -h -d '2020-01-01 00:00:00.5' "$d/rel-link"
	touch -d '2019-05-05 05:05:05.000000001' "$d/sub/deeper"
	chmod 600 "$d/empty"
	chmod 700 "$d/empty dir"
}

# ---- sync bundles ----

# The sqlite-sync-core bundle schema, as the sqlite3 tool takes it.
native_schema() {
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
SQL
}

# The SHA-256 of the op_ids of bundle FILE in op_id order, in hex: what
# sqlite-sync-core stores as content_hash.
native_content_hash() {
	local hex
	hex=$(sqlite3 "$1" "SELECT hex(op_id) FROM bundle_operations ORDER BY op_id" | tr -d '\n')
	printf '%b' "$(printf '%s' "$hex" | sed 's/../\\x&/g')" | sha256sum | cut -c1-64
}

# make_native_bundle FILE CREATED_AT N [SEED]: a bundle database with N
# operations (ids from SEED), built with the sqlite3 tool from the schema,
# with a correct op_count and content_hash, and values that pass
# sqlite-sync-core's import: a vector clock of device SEED, a MessagePack
# uint16 row_pk, new_values (and an UPDATE's old_values) the map {"v": N}.  SCHEMA_SQL, if set, is used
# instead of the schema (for broken variants).
make_native_bundle() {
	local f=$1 created=$2 n=$3 seed=${4:-1} i
	rm -f "$f"
	{
		if [ -n "${SCHEMA_SQL:-}" ]; then printf '%s\n' "$SCHEMA_SQL"; else native_schema; fi
		echo "BEGIN;"
		for ((i = 1; i <= n; i++)); do
			printf "INSERT INTO bundle_operations VALUES (X'%016x%016x', X'%032x', %s, '{\"%032x\": %d}', '%d:0:d%d', 'users', '%s', X'cd%04x', %s, X'81a176d2%08x', 1, %d, %d, %s);\n" \
				"$seed" "$i" "$seed" "$( [ "$i" -gt 1 ] && printf "X'%016x%016x'" "$seed" $((i - 1)) || echo NULL)" \
				"$seed" "$i" $((created / 1000 + i)) "$seed" "$( [ $((i % 3)) -eq 0 ] && echo UPDATE || echo INSERT)" \
				$((i % 65536)) "$( [ $((i % 3)) -eq 0 ] && printf "X'81a176d2%08x'" "$i" || echo NULL)" $((i * 7919)) \
				$((created - n + i)) $((i % 2)) "$( [ $((i % 2)) -eq 0 ] && echo $((created + i)) || echo NULL)"
		done
		printf "INSERT INTO bundle_metadata VALUES (X'%016x%016x', X'%032x', %d, 1, %d, X'%064d');\n" \
			"$seed" 0 "$seed" "$created" "$n" 0
		echo "COMMIT;"
	} | sqlite3 "$f"
	sqlite3 "$f" "UPDATE bundle_metadata SET content_hash = X'$(native_content_hash "$f")'"
}

# json_bundles FIRST LAST: bundles FIRST..LAST as JSON Lines, already in
# canonical form, one operation each.
json_bundles() {
	seq "$1" "$2" | awk '{ printf "{\"operations\":[{\"op\":\"insert\",\"row\":{\"id\":%d,\"v\":\"r%d\"}}],\"sequence\":%d}\n", $1, $1, $1 }'
}

# The records of a pack index, in id order, one line each:
#   id offset length size type shared inner
idx_records() {
	local f=$1 n i h id
	n=$((16#$(od -An -tx1 -j12 -N4 "$f" | tr -d ' \n')))
	for ((i = 0; i < n; i++)); do
		id=$(od -An -tx1 -j$((16 + 1024 + i * 32)) -N32 "$f" | tr -d ' \n')
		h=$(od -An -tx1 -j$((16 + 1024 + n * 32 + i * 32)) -N32 "$f" | tr -d ' \n')
		echo "$id $((16#${h:0:16})) $((16#${h:16:16})) $((16#${h:32:16})) $((16#${h:48:2})) $((16#${h:50:2})) $((16#${h:52:8}))"
	done
}

# Writes bytes (hex) at offset in file.
poke() {
	chmod u+w "$1"
	printf "$(printf '%s' "$3" | sed 's/../\\x&/g')" | dd of="$1" bs=1 seek="$2" conv=notrunc 2>/dev/null
}

# Sets the index's checksum (its last 32 bytes) right again.
reseal_idx() {
	local size sum
	size=$(stat -c %s "$1")
	sum=$(head -c $((size - 32)) "$1" | b3sum --no-names)
	poke "$1" $((size - 32)) "$sum"
}

# Waits until the clock is in a later second than now, so that files made
# before are not racily clean for a write-tree with a stat cache after.
next_second() {
	local s
	s=$(date +%s)
	while [ "$(date +%s)" = "$s" ]; do sleep 0.05; done
	sleep 0.1
}

# Moves the store into PERM, a new directory any user can reach, readable
# by all, and goes there; PERM/mine is a directory nobody owns, for what
# an unprivileged restore writes.  The caller's teardown removes PERM.
store_for_nobody() {
	PERM=$(mktemp -d /tmp/snap-perm.XXXXXX)
	chmod 755 "$PERM"
	mv "$SNAP_DIR" "$PERM/store"
	export SNAP_DIR=$PERM/store
	chmod -R a+rX "$SNAP_DIR"
	cd "$PERM" || return 1
	mkdir mine
	chown nobody:nogroup mine
}

# Unpacks the fixture store t/fixtures/NAME/store.tar here as the store,
# and checks that fsck finds nothing wrong and that snap-ls-tree -r -d -l
# main lists what NAME/ls-tree.txt holds.
fixture_store_checks() {
	tar -xf "$FIXTURES/$1/store.tar"
	export SNAP_DIR=$PWD/store
	run -0 snap-fsck
	refute_output --partial error
	run -0 snap-ls-tree -r -d -l main
	assert_output "$(cat "$FIXTURES/$1/ls-tree.txt")"
}
