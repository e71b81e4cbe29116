# shade - online schema changes for PostgreSQL and MySQL/MariaDB.
#
#   make              build build/shade
#   make SANITIZE=1   the same with ASan + UBSan (what the tests use)
#   make test         install what is missing, build with sanitizers, run
#                     unit and integration tests against real servers
#   make demo         install what is missing, alter a busy table, show it
#   make bench        shade next to pg_repack, pt-osc and the bare copy, under load
#   make install      build/shade and man/shade.1 under $(DESTDIR)$(PREFIX)
#   make uninstall    remove them
#   make clean

CC      ?= cc
BUILD   := build
CSTD    := -std=c11 -D_POSIX_C_SOURCE=200809L -D_DEFAULT_SOURCE
WARN    := -Wall -Wextra -Wpedantic -Wshadow -Wstrict-prototypes \
           -Wmissing-prototypes -Wformat=2 -Wno-format-nonliteral -Werror
OPT     ?= -O2 -g
PG_CFLAGS    := $(shell pkg-config --cflags libpq 2>/dev/null)
PG_LIBS      := $(shell pkg-config --libs libpq 2>/dev/null || echo -lpq)
MYSQL_CFLAGS := $(shell pkg-config --cflags libmariadb 2>/dev/null || echo -I/usr/include/mariadb)
MYSQL_LIBS   := $(shell pkg-config --libs libmariadb 2>/dev/null || echo -lmariadb)
# libev ships no pkg-config file on Debian.
EV_LIBS      := -lev
# jansson (libjansson-dev): the JSON of --log-format json and the control
# socket's status, encoded by a library rather than by hand-written escaping.
JSON_CFLAGS  := $(shell pkg-config --cflags jansson 2>/dev/null)
JSON_LIBS    := $(shell pkg-config --libs jansson 2>/dev/null || echo -ljansson)

CFLAGS_ALL = $(CSTD) $(WARN) $(OPT) -Iinclude $(PG_CFLAGS) $(MYSQL_CFLAGS) $(JSON_CFLAGS) \
             -MMD -MP $(CFLAGS)
LDLIBS_ALL = $(PG_LIBS) $(MYSQL_LIBS) $(EV_LIBS) $(JSON_LIBS) -lm $(LDLIBS)

ifeq ($(SANITIZE),1)
CFLAGS_ALL += -fsanitize=address,undefined -fno-omit-frame-pointer \
              -fno-sanitize-recover=undefined
LDFLAGS    += -fsanitize=address,undefined
endif

SRCS       := $(wildcard src/*.c src/engine/*.c src/engine/*/*.c)
OBJS       := $(SRCS:%.c=$(BUILD)/obj/%.o)
# Modules that need no server and no event loop: what the unit tests link.
PURE_OBJS  := $(addprefix $(BUILD)/obj/src/,util.o sql.o ident.o dsn.o alter.o chunk.o \
              colmap.o backoff.o keyval.o config.o ctlcmd.o throttle.o \
              logfmt.o tally.o estimate.o dryreport.o instant.o)
UNIT_SRCS  := $(wildcard tests/unit/test_*.c)
UNIT_BINS  := $(UNIT_SRCS:tests/unit/%.c=$(BUILD)/tests/%)
# The state machine and what it drives, for the fake-engine unit test.
MIG_OBJS   := $(addprefix $(BUILD)/obj/src/,migration.o migration_hold.o migration_report.o \
              migration_control.o ctl.o ctlsock.o dbwait.o progress.o engine.o)
TOOL_SRCS  := $(wildcard tests/tools/*.c)
TOOL_BINS  := $(TOOL_SRCS:tests/tools/%.c=$(BUILD)/tools/%)

.PHONY: all clean test unit integration demo bench deps check-banned format install uninstall

all: $(BUILD)/shade

# Rebuild everything when the flags change (e.g. SANITIZE=1 after a plain
# build), so a test never runs a binary built without the sanitizers.
FLAGS_STAMP := $(BUILD)/.flags
$(FLAGS_STAMP): FORCE
	@mkdir -p $(BUILD)
	@echo '$(CC) $(CFLAGS_ALL) $(LDFLAGS) $(LDLIBS_ALL)' | cmp -s - $@ || \
	  echo '$(CC) $(CFLAGS_ALL) $(LDFLAGS) $(LDLIBS_ALL)' > $@
FORCE:

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -c $< -o $@

$(BUILD)/shade: $(OBJS)
	$(CC) $(LDFLAGS) -o $@ $(OBJS) $(LDLIBS_ALL)

$(BUILD)/tests/%: tests/unit/%.c tests/unit/unit.h $(PURE_OBJS) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(PURE_OBJS) $(LDFLAGS) $(LDLIBS_ALL)

# test_migration links the migration with a fake engine instead of the real ones.
$(BUILD)/tests/test_migration: tests/unit/test_migration.c tests/unit/unit.h $(PURE_OBJS) \
                               $(MIG_OBJS) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -Itests/unit -o $@ $< $(PURE_OBJS) $(MIG_OBJS) $(LDFLAGS) $(LDLIBS_ALL)

$(BUILD)/tools/%: tests/tools/%.c $(PURE_OBJS) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(PURE_OBJS) $(LDFLAGS) $(LDLIBS_ALL)

# The writer's other files live in tests/tools/writer/ (its server side).
WRITER_OBJS := $(patsubst %.c,$(BUILD)/obj/%.o,$(wildcard tests/tools/writer/*.c))
$(BUILD)/tools/writer: tests/tools/writer.c $(WRITER_OBJS) $(PURE_OBJS) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(WRITER_OBJS) $(PURE_OBJS) $(LDFLAGS) $(LDLIBS_ALL)

deps:
	@sh scripts/deps.sh

# The whole suite, with the sanitizers, against servers it starts itself.
test: deps
	$(MAKE) -j$$(nproc) SANITIZE=1 all $(UNIT_BINS) $(TOOL_BINS)
	sh tests/run.sh

unit: $(UNIT_BINS)
	@for t in $(UNIT_BINS); do $$t || exit 1; done

demo: deps
	$(MAKE) all $(TOOL_BINS)
	sh scripts/demo.sh

bench: deps
	$(MAKE) all $(TOOL_BINS)
	sh bench/run.sh

# Install the binary and the man page. PREFIX is where they go (bin/ and
# share/man/man1/ under it); DESTDIR, when set, is prepended to that for a
# staged install (a package's root), and never baked into anything.
#
# install depends on $(BUILD)/shade, so it installs a binary built with the
# flags of this make: after `make SANITIZE=1` (the tests' build), a plain
# `make install` sees the flags change (FLAGS_STAMP) and rebuilds without
# the sanitizers rather than install an ASan binary. Run it as the user who
# builds, or build first: `make && sudo make install` then only copies.
# tests/integration/cli_man.sh installs the binary under test as it is:
# `make -o build/shade install SANITIZE=1 ...` (-o: take build/shade as up
# to date, rebuild nothing; SANITIZE=1 keeps the stamp as the suite has it).
PREFIX  ?= /usr/local
BINDIR  := $(PREFIX)/bin
MAN1DIR := $(PREFIX)/share/man/man1

install: $(BUILD)/shade man/shade.1
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(MAN1DIR)
	install -m 0755 $(BUILD)/shade $(DESTDIR)$(BINDIR)/shade
	install -m 0644 man/shade.1 $(DESTDIR)$(MAN1DIR)/shade.1

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/shade $(DESTDIR)$(MAN1DIR)/shade.1

check-banned:
	@sh scripts/check-banned.sh

format:
	clang-format -i src/*.c src/engine/*/*.c src/engine/*/*.h include/*.h tests/unit/*.c tests/tools/*.c \
	  tests/tools/*/*.c tests/tools/*/*.h

clean:
	rm -rf $(BUILD)

-include $(OBJS:.o=.d) $(UNIT_BINS:%=%.d) $(TOOL_BINS:%=%.d) $(WRITER_OBJS:.o=.d)
