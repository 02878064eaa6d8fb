#!/usr/bin/env bats
# 0: basics and build

load test_helper

@test "snap --version prints the version" {
	run -0 snap --version
	assert_output --regexp '^snap version [0-9]+\.[0-9]+\.[0-9]+$'
}

@test "snap --help lists the everyday commands first, each with what it does" {
	run -0 snap --help
	assert_line --partial 'usage: snap'
	assert_equal "$(printf '%s\n' "${lines[@]}" | grep -x -e 'Everyday commands:' -e 'Plumbing:' | tr '\n' ,)" 'Everyday commands:,Plumbing:,'
	assert_line '   snapshot        store a directory, stream or database as a new snapshot'
	assert_line '   hash-object     object ids of files; -w stores them'
	assert_line '   cat-file        read objects, verified'
	assert_line '   init            create a store'
}

@test "snap --help lists a command it has no description of, last" {
	mkdir extra
	printf '#!/bin/sh\n' > extra/snap-zzz
	chmod +x extra/snap-zzz
	SNAP_EXEC_PATH=$PWD/extra run -0 snap --help
	assert_equal "${lines[-1]}" '   zzz'
}

@test "snap COMMAND runs snap-COMMAND" {
	run -0 snap hash-object /dev/null
	assert_output "$(snap-hash-object /dev/null)"
}

@test "snap with an unknown command is a usage error" {
	run -129 --separate-stderr snap no-such-command
	assert_output ''
	[[ "$stderr" == *"'no-such-command' is not a snap command"* ]]
}

@test "make CFLAGS=... keeps the project's standard and warnings" {
	run -0 make -s -n -C "$SNAP_BUILD" -W lib/oid.c CFLAGS=-O0 lib/oid.o
	assert_output --partial '-O0'
	assert_output --partial '-std=c11 -Wall -Wextra'
}

@test "every header of lib/ compiles on its own" {
	run -0 make -s -C "$SNAP_BUILD" check-headers
}

@test "a banned function does not compile where util.h or strbuf.h is included" {
	for h in util.h strbuf.h; do
		printf '#include "%s"\n#include <string.h>\nvoid f(char *d);\nvoid f(char *d) { strcpy(d, "x"); }\n' "$h" > banned.c
		run ! --separate-stderr ${CC:-cc} -I"$SNAP_BUILD/lib" -fsyntax-only banned.c
		[[ "$stderr" == *sorry_strcpy_is_banned* ]]
	done
}

@test "make check-banned searches for what lib/banned.h bans, and finds none" {
	run -0 make -s -C "$SNAP_BUILD" --eval 'banned-list: ; @echo $(BANNED)' banned-list
	assert_output 'strcpy strcat strncpy strncat strtok gets sprintf vsprintf'
	run -0 make -s -C "$SNAP_BUILD" check-banned
}

@test "snap --store DIR COMMAND and snap --store=DIR COMMAND" {
	snap-init -q s1
	mkdir src && echo x > src/f
	run -0 snap --store s1 snapshot src
	run -0 snap --store=s1 rev-parse main
	assert_output "$(SNAP_DIR=s1 snap-rev-parse main)"
	run -129 --separate-stderr snap --store
	assert_equal "${stderr_lines[0]}" 'snap: error: --store needs DIR'
	run -129 --separate-stderr snap --store= log
	assert_equal "${stderr_lines[0]}" 'snap: error: --store needs DIR'
}

@test "every built command has a line in snap --help" {
	run -0 env -u SNAP_EXEC_PATH snap --help
	local c n missing=
	for c in "$SNAP_BUILD"/bin/snap-*; do
		n=${c##*/snap-}
		printf '%s\n' "${lines[@]}" | grep -q -E "^   $n +[a-z]" || missing="$missing $n"
	done
	assert_equal "$missing" ''
}

@test "lib/ keeps the layers of docs/ARCHITECTURE.md: every module listed, no include climbs a layer" {
	run -0 python3 "$SNAP_BUILD/t/layers.py" "$SNAP_BUILD"
	assert_output ''
	mkdir -p copy/lib copy/docs
	cp "$SNAP_BUILD/docs/ARCHITECTURE.md" copy/docs/
	cp "$SNAP_BUILD"/lib/*.[ch] copy/lib/
	printf '#include "gc.h"\n' >> copy/lib/strbuf.c
	: > copy/lib/newmod.c
	rm copy/lib/zio.c copy/lib/zio.h
	run -1 python3 "$SNAP_BUILD/t/layers.py" copy
	assert_output "docs/ARCHITECTURE.md lists 'zio', which lib/ does not have
lib/newmod.c is in no layer of docs/ARCHITECTURE.md
lib/strbuf.c (layer 0) includes gc.h (layer 3)"
}
