# snap's build.  ./configure first (it writes config.mak).
#
#   make                      build bin/ (the commands) and lib/libsnap.a
#   make check                run the test suite (t/)
#   make DEVELOPER=1          warnings are errors
#   make stress               long runs: every crash point, random kills, racing writers
#   make SANITIZE=address,undefined check
#   make bench                benchmarks against b3sum, zstd, tar, restic, borg, git
#   make install PREFIX=/usr/local DESTDIR=
#   make uninstall | clean

-include config.mak

CC ?= cc
PREFIX ?= /usr/local
BINDIR = $(PREFIX)/bin
LIBEXECDIR = $(PREFIX)/libexec/snap
DOCDIR = $(PREFIX)/share/doc/snap
VERSION = 0.1.0

OPT ?= -O2 -g
WARN = -std=c11 -Wall -Wextra -Wformat=2 -Wshadow -Wstrict-prototypes \
       -Wmissing-prototypes -Wvla -Wwrite-strings
ifeq ($(DEVELOPER),1)
WARN += -Werror
endif
ifneq ($(SANITIZE),)
OPT += -fsanitize=$(SANITIZE) -fno-omit-frame-pointer -fno-sanitize-recover=all
LDFLAGS += -fsanitize=$(SANITIZE)
endif

CPPFLAGS += -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -Ilib -I$(BLAKE3_DIR) \
	    -DSNAP_VERSION='"$(VERSION)"' -DSNAP_LIBEXECDIR='"$(LIBEXECDIR)"' \
	    $(ZSTD_CFLAGS) $(JANSSON_CFLAGS) $(SQLITE_CFLAGS) $(CRYPTO_CFLAGS)
CFLAGS = $(OPT) $(WARN)
LIBS = $(ZSTD_LIBS) $(JANSSON_LIBS) $(SQLITE_LIBS) $(CRYPTO_LIBS) -lpthread

LIB_SRCS = $(sort $(wildcard lib/*.c))
LIB_OBJS = $(LIB_SRCS:.c=.o)
LIB_HDRS = $(wildcard lib/*.h)
B3_OBJS = $(patsubst %,build/blake3/%.o,$(BLAKE3_SRCS))

CMD_C = $(sort $(wildcard cmd/snap-*.c))
CMD_SH = $(sort $(wildcard cmd/snap-*.sh))
PROGS = bin/snap $(patsubst cmd/%.c,bin/%,$(CMD_C))
SCRIPTS = $(patsubst cmd/%.sh,bin/%,$(CMD_SH))
UNIT_SRCS = $(sort $(wildcard t/unit/*.c))
UNIT_PROGS = $(patsubst t/unit/%.c,t/unit/bin/%,$(UNIT_SRCS))

all: $(PROGS) $(SCRIPTS) $(UNIT_PROGS)

config.mak:
	@echo "snap: run ./configure first (./configure --install-deps installs what it needs)" >&2
	@false

lib/%.o: lib/%.c $(LIB_HDRS) config.mak
	$(CC) $(CPPFLAGS) $(CFLAGS) -c -o $@ $<

# BLAKE3 is built from the sources configure found; its own code gets no
# project warnings.
build/blake3/%.c.o: $(BLAKE3_DIR)/%.c config.mak
	@mkdir -p build/blake3
	$(CC) $(BLAKE3_FLAGS) $(OPT) -c -o $@ $<
build/blake3/%.S.o: $(BLAKE3_DIR)/%.S config.mak
	@mkdir -p build/blake3
	$(CC) $(BLAKE3_FLAGS) $(OPT) -c -o $@ $<

lib/libsnap.a: $(LIB_OBJS) $(B3_OBJS)
	rm -f $@
	ar rcs $@ $^

bin/%: cmd/%.c lib/libsnap.a
	@mkdir -p bin
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< lib/libsnap.a $(LDFLAGS) $(LIBS)

bin/snap: cmd/snap.c lib/libsnap.a
	@mkdir -p bin
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< lib/libsnap.a $(LDFLAGS) $(LIBS)

bin/%: cmd/%.sh
	@mkdir -p bin
	cp $< $@
	chmod 755 $@

t/unit/bin/%: t/unit/%.c lib/libsnap.a
	@mkdir -p t/unit/bin
	$(CC) $(CPPFLAGS) $(CFLAGS) -o $@ $< lib/libsnap.a $(LDFLAGS) $(LIBS)

.SECONDARY:

check: all
	BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" sh t/run-tests.sh $(T)

bench: all
	sh bench/run.sh

# Long runs kept out of make check: the million-snapshot walk, the racing
# gc and snapshot tests repeated, every crash point of a 1,000-file
# snapshot and the other writers with every fault, 10,000 random kills
# (from a seed of the clock, printed), 8 x 1,000 compare-and-swap writers
# and five minutes of gc beside four writers.
stress: all
	SNAP_DEEP_CHAIN=1000000 BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" sh t/run-tests.sh t/3000-fsck.bats
	for i in 1 2 3 4 5; do BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" sh t/run-tests.sh t/3200-gc-concurrency.bats t/2200-ref-races.bats || exit 1; done
	SNAP_CRASH_FULL=1 SNAP_KILL_TRIALS=$${SNAP_KILL_TRIALS:-10000} SNAP_CRASH_SEED=$${SNAP_CRASH_SEED:-$$(date +%s)} \
		SNAP_CAS_ROUNDS=$${SNAP_CAS_ROUNDS:-1000} SNAP_GC_SECONDS=$${SNAP_GC_SECONDS:-300} \
		BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" sh t/run-tests.sh t/8100-crash-points.bats \
		t/8200-random-kill.bats t/8400-cas-writers.bats

# Random damage to a pack and its index, read back: many rounds from a
# seed of the clock (make check runs 1000 from seed 1).
fuzz: all
	SNAP_FUZZ_ROUNDS=$${SNAP_FUZZ_ROUNDS:-20000} SNAP_FUZZ_SEED=$${SNAP_FUZZ_SEED:-$$(date +%s)} \
		BATS="$(BATS)" BATS_LIB="$(BATS_LIB)" sh t/run-tests.sh t/6300-blocks.bats

install: all
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(LIBEXECDIR) $(DESTDIR)$(DOCDIR)
	install -m 755 bin/snap $(DESTDIR)$(BINDIR)/snap
	for p in $(filter-out bin/snap,$(PROGS)) $(SCRIPTS); do \
		install -m 755 $$p $(DESTDIR)$(LIBEXECDIR)/ || exit 1; \
		ln -sf ../libexec/snap/$${p#bin/} $(DESTDIR)$(BINDIR)/$${p#bin/} || exit 1; \
	done
	install -m 644 docs/*.md $(DESTDIR)$(DOCDIR)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/snap
	for p in $(filter-out bin/snap,$(PROGS)) $(SCRIPTS); do \
		rm -f $(DESTDIR)$(LIBEXECDIR)/$${p#bin/} $(DESTDIR)$(BINDIR)/$${p#bin/}; \
	done
	-rmdir $(DESTDIR)$(LIBEXECDIR)
	rm -rf $(DESTDIR)$(DOCDIR)

clean:
	rm -rf bin build t/unit/bin lib/*.o lib/libsnap.a

distclean: clean
	rm -f config.mak

.PHONY: all check bench stress fuzz install uninstall clean distclean
