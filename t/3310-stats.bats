#!/usr/bin/env bats
# 3: store statistics — snap-stats: files, sizes, distinct content and
# what each snapshot added.

load test_helper

local_setup() {
	init_store
	mkdir -p src/d
	printf 'aaaa' > src/a
	printf 'aaaa' > src/d/same	# same content: counted once
	printf 'bb' > src/b
	ln src/b src/d/hard		# a hard link: one file
	ln -s a src/link
	snap-snapshot -m one src > /dev/null
}

@test "stats counts files once per inode, sizes, and distinct content" {
	run -0 --separate-stderr sh -c 'snap-stats | grep -v "^stored_size "'
	assert_equal "$stderr" ""
	assert_output "snapshot $(snap-rev-parse main)
files 3
size 10
dedup_size 6
new_size 6"
}

@test "stats --json, and new_size against the first parent" {
	printf 'cccccc' > src/c
	snap-snapshot -m two src > /dev/null
	run -0 sh -c 'snap-stats --json main | sed "s/,\"stored_size\":[0-9]*}/}/"'
	assert_output "{\"id\":\"$(snap-rev-parse main)\",\"type\":\"snapshot\",\"parent\":\"$(snap-rev-parse main~1)\",\"files\":4,\"size\":16,\"dirs\":1,\"symlinks\":1,\"others\":0,\"dedup_size\":12,\"new_size\":6}"
}

@test "an edit inside a large file counts as the chunks it changed" {
	make_file 4000000 src/big
	snap-snapshot -m big src > /dev/null
	printf 'X' | dd of=src/big bs=1 seek=2000000 conv=notrunc 2>/dev/null
	snap-snapshot -m edit src > /dev/null
	new=$(snap-stats --json main | sed 's/.*"new_size":\([0-9]*\),.*/\1/')
	# About one chunk (at most 4 MiB) of 4 MB, far from the whole file.
	[ "$new" -gt 0 ] && [ "$new" -lt 3000000 ]
}

@test "stats of several REVs, and of a tree" {
	run -0 sh -c 'snap-stats main main:d | grep -v "^stored_size "'
	assert_output "snapshot $(snap-rev-parse main)
files 3
size 10
dedup_size 6
new_size 6

tree $(snap-rev-parse main:d)
files 2
size 6
dedup_size 6
new_size 6"
	# In a tree alone, a hard link's members each count: a restore of
	# that tree writes them as files of their own.
}

@test "stored_size is the compressed bytes on disk of the distinct content" {
	rm -rf src && mkdir src
	head -c 1000000 /dev/zero > src/zeros	# compresses to almost nothing
	make_file 300000 src/random		# does not compress
	cp src/random src/again			# the same content: once
	snap-snapshot -m three src > /dev/null
	stored=$(snap-stats --json main | sed 's/.*"stored_size":\([0-9]*\)}/\1/')
	[ "$stored" -ge 300000 ] && [ "$stored" -lt 302000 ]
	# A second snapshot of the same tree stores nothing new, but its
	# content takes the same bytes on disk.
	snap-snapshot -m four src > /dev/null
	run -0 snap-stats --json main
	assert_output --partial "\"new_size\":0,\"stored_size\":$stored}"
	# gc moves loose objects into packs: still about the same bytes.
	snap-gc --prune=now > /dev/null
	after=$(snap-stats --json main | sed 's/.*"stored_size":\([0-9]*\)}/\1/')
	[ "$after" -ge 300000 ] && [ "$after" -lt 302000 ]
}

@test "stats of an unknown REV or a blob fails with one line" {
	refused "snap-stats: fatal: unknown revision 'nothing'" snap-stats nothing
	blob=$(snap-rev-parse main:a)
	refused "snap-stats: fatal: object '$blob' is a blob, not a tree or snapshot" snap-stats "$blob"
}
