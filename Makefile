# snap's build.  ./configure first (it writes config.mak).
#
#   make                      build bin/ (the commands) and lib/libsnap.a
#   make check                run the test suite (t/)
#   make DEVELOPER=1          warnings are errors
#   make stress               long runs: every crash point, random kills, racing writers
#   make SANITIZE=address,undefined check
#   make fuzz FUZZ_SECONDS=60 libFuzzer targets, each run that long (clang)
#   make fuzz-replay          every fuzz corpus replayed (part of make check)
#   make bench                benchmarks against b3sum, zstd, tar, restic, borg, git
#   make install PREFIX=/usr/local DESTDIR=   (DISPATCHER=yes: install bin/snap
#                             even where another program called snap is)
#   make uninstall | clean

-include config.mak

CC ?= cc
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
LIBEXECDIR = $(PREFIX)/libexec/snap
DOCDIR = $(PREFIX)/share/doc/snap
MANDIR = $(PREFIX)/share/man/man1
COMPLETIONDIR = $(PREFIX)/share/bash-completion/completions
SYSTEMDDIR = $(PREFIX)/lib/systemd/system
VERSION = 0.1.0

# CFLAGS and LDFLAGS are the user's (make CFLAGS=-O0); the project's own
# flags live apart in ALL_CFLAGS, so overriding one never drops the other.
CFLAGS ?= -O2 -g
OPT = $(CFLAGS)
AR ?= ar
WARN = -std=c11 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wvla -Wwrite-strings
ifeq ($(DEVELOPER),1)
WARN += -Werror
endif
SAN_FLAGS =
ifneq ($(SANITIZE),)
SAN_FLAGS = -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
endif

ALL_CPPFLAGS = -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Ilib -I$(BLAKE3_DIR) \
	    -DSNAP_VERSION='"$(VERSION)"' -DSNAP_LIBEXECDIR='"$(LIBEXECDIR)"' \
	    $(ZSTD_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) $(CRYPTO_CFLAGS) $(CPPFLAGS)
ALL_CFLAGS = $(OPT) $(SAN_FLAGS) $(WARN)
ALL_LDFLAGS = $(SAN_FLAGS) $(LDFLAGS)
LIBS = $(ZSTD_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS) $(CRYPTO_LIBS) -lpthread

LIB_SRCS = $(sort $(wildcard lib/*.c))
LIB_OBJS = $(LIB_SRCS:.c=.o)
LIB_HDRS = $(wildcard lib/*.h)
B3_OBJS = $(patsubst %,build/blake3/%.o,$(BLAKE3_SRCS))

# snap-mount needs libfuse3 (configure: HAVE_FUSE); without it, it is left out.
CMD_C = $(sort $(wildcard cmd/snap-*.c))
ifneq ($(HAVE_FUSE),yes)
CMD_C := $(filter-out cmd/snap-mount.c,$(CMD_C))
endif
CMD_SH = $(sort $(wildcard cmd/snap-*.sh))
PROGS = bin/snap $(patsubst cmd/%.c,bin/%,$(CMD_C))
SCRIPTS = $(patsubst cmd/%.sh,bin/%,$(CMD_SH))
UNIT_SRCS = $(sort $(wildcard t/unit/*.c))
UNIT_PROGS = $(patsubst t/unit/%.c,t/unit/bin/%,$(UNIT_SRCS))

MAN_SRCS = $(sort $(wildcard docs/snap*.md))
MANS = $(patsubst docs/%.md,build/man/%.1,$(MAN_SRCS))

all: $(PROGS) $(SCRIPTS) $(UNIT_PROGS) $(MANS)

# Manual pages from docs/snap-*.md: the "# name(1)" title becomes the page
# header, and "## SECTION" the page's sections.
build/man/%.1: docs/%.md config.mak
	@mkdir -p build/man
	{ printf 'title: %s\nsection: 1\nsource: snap $(VERSION)\n\n' "$*"; \
	  sed -e '1{/^# /d;}' -e 's/^## /# /' $<; } | $(LOWDOWN) -s -Tman -o $@

config.mak:
	@echo "snap: run ./configure first (./configure --install-deps installs what it needs)" >&2
	@false

lib/%.o: lib/%.c $(LIB_HDRS) config.mak
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -c -o $@ $<

# BLAKE3 is built from the sources configure found; its own code gets no
# project warnings.
build/blake3/%.c.o: $(BLAKE3_DIR)/%.c config.mak
	@mkdir -p build/blake3
	$(CC) $(BLAKE3_FLAGS) $(OPT) $(SAN_FLAGS) -c -o $@ $<
build/blake3/%.S.o: $(BLAKE3_DIR)/%.S config.mak
	@mkdir -p build/blake3
	$(CC) $(BLAKE3_FLAGS) $(OPT) $(SAN_FLAGS) -c -o $@ $<

lib/libsnap.a: $(LIB_OBJS) $(B3_OBJS)
	rm -f $@
	$(AR) rcs $@ $^

bin/%: cmd/%.c lib/libsnap.a
	@mkdir -p bin
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -o $@ $< lib/libsnap.a $(ALL_LDFLAGS) $(LIBS)

bin/snap-mount: cmd/snap-mount.c lib/libsnap.a
	@mkdir -p bin
	$(CC) $(ALL_CPPFLAGS) $(FUSE_CFLAGS) $(ALL_CFLAGS) -o $@ $< lib/libsnap.a $(ALL_LDFLAGS) $(FUSE_LIBS) $(LIBS)

bin/%: cmd/%.sh
	@mkdir -p bin
	cp $< $@
	chmod 755 $@

t/unit/bin/%: t/unit/%.c lib/libsnap.a
	@mkdir -p t/unit/bin
	$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -o $@ $< lib/libsnap.a $(ALL_LDFLAGS) $(LIBS)

.SECONDARY:

# The tools the suite needs, which configure reported and did not require.
test-tools: config.mak
	@if [ -n "$(TEST_MISSING)" ]; then \
		echo "snap: make check needs Debian packages: $(TEST_MISSING)" >&2; \
		echo "snap: install them with:  apt-get install $(TEST_MISSING)  (or ./configure --install-deps)" >&2; \
		exit 1; \
	fi

# Each header compiles on its own: it includes what it uses.
check-headers: config.mak
	@for h in $(LIB_HDRS); do \
		printf '#include "%s"\n' "$${h#lib/}" | \
		$(CC) $(ALL_CPPFLAGS) $(ALL_CFLAGS) -fsyntax-only -x c - || { echo "$$h does not compile alone" >&2; exit 1; }; \
	done

# The functions snap does not call, as lib/banned.h lists them (and says
# why): there the compiler refuses a call in every file that includes it;
# here every source, t/unit's and t/fuzz's too, is searched for one.
BANNED = $(shell sed -n 's/^.define .*sorry_\([a-z]*\)_is_banned.*/\1/p' lib/banned.h)
check-banned:
	@[ -n "$(BANNED)" ] || { echo "snap: no banned functions found in lib/banned.h" >&2; exit 1; }
	@bad=$$(grep -nE "(^|[^A-Za-z0-9_])($$(echo $(BANNED) | tr " " "|"))[[:space:]]*\\(" \
		$(filter-out lib/banned.h,$(wildcard lib/*.c lib/*.h cmd/*.c t/unit/*.c t/fuzz/*.c t/fuzz/*.h))); \
	if [ -n "$$bad" ]; then echo "$$bad" >&2; echo "snap: banned functions used (lib/banned.h)" >&2; exit 1; fi

check: all check-headers check-banned test-tools
	BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" sh t/run-tests.sh $(T)

bench: all
	sh bench/run.sh

# Long runs kept out of make check: the million-snapshot walk, the racing
# gc and snapshot tests repeated, every crash point of a 1,000-file
# snapshot and the other writers with every fault, 10,000 random kills
# (from a seed of the clock, printed), 8 x 1,000 compare-and-swap writers,
# five minutes of gc beside four writers, and /usr and /etc round-tripped.
stress: all
	SNAP_DEEP_CHAIN=1000000 BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" sh t/run-tests.sh t/3000-fsck.bats
	SNAP_POWERLOSS_ALL=1 BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" sh t/run-tests.sh t/8500-power-loss.bats
	for i in 1 2 3 4 5; do BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" sh t/run-tests.sh t/3200-gc-concurrency.bats t/2200-ref-races.bats || exit 1; done
	SNAP_CRASH_FULL=1 SNAP_KILL_TRIALS=$${SNAP_KILL_TRIALS:-10000} SNAP_CRASH_SEED=$${SNAP_CRASH_SEED:-$$(date +%s)} \
		SNAP_CAS_ROUNDS=$${SNAP_CAS_ROUNDS:-1000} SNAP_GC_SECONDS=$${SNAP_GC_SECONDS:-300} \
		BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" sh t/run-tests.sh t/8100-crash-points.bats \
		t/8200-random-kill.bats t/8400-cas-writers.bats
	SNAP_PUSH_TRIALS=$${SNAP_PUSH_TRIALS:-500} BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" \
		sh t/run-tests.sh t/9100-push-fetch.bats
	SNAP_SYSTEM_PATHS="$${SNAP_SYSTEM_PATHS:-/usr /etc}" BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" \
		sh t/run-tests.sh t/7620-system-roundtrip.bats

# Random damage to a pack and its index, read back: many rounds from a
# seed of the clock (make check runs 1000 from seed 1).
fuzz-pack: all
	SNAP_FUZZ_ROUNDS=$${SNAP_FUZZ_ROUNDS:-20000} SNAP_FUZZ_SEED=$${SNAP_FUZZ_SEED:-$$(date +%s)} \
		BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" sh t/run-tests.sh t/6300-blocks.bats

# Fuzz targets (t/fuzz/README.md): t/fuzz/fuzz-NAME.c, each built twice
# from its own copy of the library, never from lib/*.o.
#  - build/fuzz/: clang with libFuzzer and the sanitizers (make fuzz);
#  - build/replay/: the normal compiler, with the sanitizers when it has
#    them, and replay.c for main(): make check runs every corpus file
#    through it (t/8900-fuzz-corpora.bats), no clang needed.
FUZZ_CC ?= clang
FUZZ_SECONDS ?= 60
FUZZ_NAMES = $(patsubst t/fuzz/fuzz-%.c,%,$(sort $(wildcard t/fuzz/fuzz-*.c)))
FUZZ_SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link $(WARN)
FUZZ_LIB_OBJS = $(patsubst lib/%.c,build/fuzz/lib/%.o,$(LIB_SRCS))
FUZZ_B3_OBJS = $(patsubst %,build/fuzz/blake3/%.o,$(BLAKE3_SRCS))
FUZZ_PROGS = $(patsubst %,build/fuzz/bin/fuzz-%,$(FUZZ_NAMES))
FUZZ_DEPS = t/fuzz/harness.c t/fuzz/harness.h

# The sanitizers for the replay build, if the compiler has them (probed
# once, and only when a replay program is built).
replay_san = $(eval replay_san := $(shell printf 'int main(void){return 0;}\n' | \
	$(CC) $(FUZZ_SAN) -x c -o /dev/null - >/dev/null 2>&1 && echo '$(FUZZ_SAN)'))$(replay_san)
REPLAY_CFLAGS = -O1 -g $(replay_san) $(WARN)
REPLAY_LIB_OBJS = $(patsubst lib/%.c,build/replay/lib/%.o,$(LIB_SRCS))
REPLAY_B3_OBJS = $(patsubst %,build/replay/blake3/%.o,$(BLAKE3_SRCS))
REPLAY_PROGS = $(patsubst %,build/replay/bin/replay-%,$(FUZZ_NAMES))

build/fuzz/lib/%.o: lib/%.c $(LIB_HDRS) config.mak
	@mkdir -p build/fuzz/lib
	$(FUZZ_CC) $(ALL_CPPFLAGS) $(FUZZ_CFLAGS) -c -o $@ $<
build/fuzz/blake3/%.c.o: $(BLAKE3_DIR)/%.c config.mak
	@mkdir -p build/fuzz/blake3
	$(FUZZ_CC) $(BLAKE3_FLAGS) -O2 -c -o $@ $<
build/fuzz/blake3/%.S.o: $(BLAKE3_DIR)/%.S config.mak
	@mkdir -p build/fuzz/blake3
	$(FUZZ_CC) $(BLAKE3_FLAGS) -c -o $@ $<
build/fuzz/libsnap.a: $(FUZZ_LIB_OBJS) $(FUZZ_B3_OBJS)
	rm -f $@
	$(AR) rcs $@ $^
build/fuzz/bin/fuzz-%: t/fuzz/fuzz-%.c $(FUZZ_DEPS) build/fuzz/libsnap.a
	@mkdir -p build/fuzz/bin
	$(FUZZ_CC) $(ALL_CPPFLAGS) -It/fuzz $(FUZZ_CFLAGS) -fsanitize=fuzzer -o $@ \
		$< t/fuzz/harness.c build/fuzz/libsnap.a $(LIBS)

build/replay/lib/%.o: lib/%.c $(LIB_HDRS) config.mak
	@mkdir -p build/replay/lib
	$(CC) $(ALL_CPPFLAGS) $(REPLAY_CFLAGS) -c -o $@ $<
build/replay/blake3/%.c.o: $(BLAKE3_DIR)/%.c config.mak
	@mkdir -p build/replay/blake3
	$(CC) $(BLAKE3_FLAGS) -O2 -c -o $@ $<
build/replay/blake3/%.S.o: $(BLAKE3_DIR)/%.S config.mak
	@mkdir -p build/replay/blake3
	$(CC) $(BLAKE3_FLAGS) -c -o $@ $<
build/replay/libsnap.a: $(REPLAY_LIB_OBJS) $(REPLAY_B3_OBJS)
	rm -f $@
	$(AR) rcs $@ $^
build/replay/bin/replay-%: t/fuzz/fuzz-%.c t/fuzz/replay.c $(FUZZ_DEPS) build/replay/libsnap.a
	@mkdir -p build/replay/bin
	$(CC) $(ALL_CPPFLAGS) -It/fuzz $(REPLAY_CFLAGS) -o $@ \
		$< t/fuzz/replay.c t/fuzz/harness.c build/replay/libsnap.a $(LIBS)

fuzz-build:
	@printf 'int LLVMFuzzerTestOneInput(const char *d, unsigned long n) { return !d + !n; }\n' | \
		$(FUZZ_CC) -fsanitize=fuzzer,address,undefined -x c -o /dev/null - >/dev/null 2>&1 || \
		{ echo "snap: make fuzz needs $(FUZZ_CC) with libFuzzer and the sanitizers:" \
			"apt-get install clang libclang-rt-dev (or ./configure --install-deps)" >&2; exit 1; }
	@$(MAKE) --no-print-directory $(FUZZ_PROGS)
fuzz: fuzz-build
	FUZZ_SECONDS=$(FUZZ_SECONDS) sh t/fuzz/run.sh $(FUZZ_NAMES)
# make check replays the corpora too (t/8900-fuzz-corpora.bats).
check: $(REPLAY_PROGS)
fuzz-replay: all $(REPLAY_PROGS)
	BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" sh t/run-tests.sh t/8900-fuzz-corpora.bats

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DOCDIR) $(DESTDIR)$(MANDIR) \
		$(DESTDIR)$(COMPLETIONDIR) $(DESTDIR)$(SYSTEMDDIR)
	@other=; for f in $(DESTDIR)$(BINDIR)/snap $$(command -v snap 2>/dev/null); do \
		[ -x "$$f" ] || continue; \
		"$$f" --version 2>/dev/null | head -n 1 | grep -q '^snap version [0-9]' || other=$$f; \
	done; \
	if [ -n "$$other" ] && [ "$(DISPATCHER)" != yes ]; then \
		echo "make install: '$$other' is another program called snap (snapd?): the snap dispatcher is not installed;"; \
		echo "make install: run the commands as snap-COMMAND, or install it anyway with make install DISPATCHER=yes"; \
	else \
		echo "install -m 755 bin/snap $(DESTDIR)$(BINDIR)/snap"; \
		install -m 755 bin/snap $(DESTDIR)$(BINDIR)/snap; \
	fi
	for p in $(filter-out bin/snap,$(PROGS)) $(SCRIPTS); do \
		install -m 755 $$p $(DESTDIR)$(LIBEXECDIR)/ || exit 1; \
		ln -sf ../libexec/snap/$${p#bin/} $(DESTDIR)$(BINDIR)/$${p#bin/} || exit 1; \
	done
	install -m 644 docs/*.md $(DESTDIR)$(DOCDIR)/
	install -m 644 $(MANS) $(DESTDIR)$(MANDIR)/
	install -m 644 contrib/completion/snap.bash $(DESTDIR)$(COMPLETIONDIR)/snap
	sed 's|@BINDIR@|$(BINDIR)|g' contrib/systemd/snap-backup.service.in > $(DESTDIR)$(SYSTEMDDIR)/snap-backup.service
	chmod 644 $(DESTDIR)$(SYSTEMDDIR)/snap-backup.service
	install -m 644 contrib/systemd/snap-backup.timer $(DESTDIR)$(SYSTEMDDIR)/
	for p in $(filter-out bin/snap,$(PROGS)) $(SCRIPTS); do \
		ln -sf snap $(DESTDIR)$(COMPLETIONDIR)/$${p#bin/} || exit 1; \
	done

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/snap
	for p in $(filter-out bin/snap,$(PROGS)) $(SCRIPTS); do \
		rm -f $(DESTDIR)$(LIBEXECDIR)/$${p#bin/} $(DESTDIR)$(BINDIR)/$${p#bin/}; \
	done
	-rmdir $(DESTDIR)$(LIBEXECDIR)
	rm -rf $(DESTDIR)$(DOCDIR)
	for m in $(MANS); do rm -f $(DESTDIR)$(MANDIR)/$${m#build/man/}; done
	rm -f $(DESTDIR)$(COMPLETIONDIR)/snap
	rm -f $(DESTDIR)$(SYSTEMDDIR)/snap-backup.service $(DESTDIR)$(SYSTEMDDIR)/snap-backup.timer
	for p in $(filter-out bin/snap,$(PROGS)) $(SCRIPTS); do \
		rm -f $(DESTDIR)$(COMPLETIONDIR)/$${p#bin/}; \
	done

clean:
	rm -rf bin build t/unit/bin lib/*.o lib/libsnap.a

distclean: clean
	rm -f config.mak

.PHONY: check-banned all check check-headers test-tools bench stress fuzz fuzz-build fuzz-pack fuzz-replay install uninstall clean distclean
