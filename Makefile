# koop - build, test, bench, demo.
#   make            build everything into bin/
#   make test       the whole suite (Criterion), installing Debian packages if missing
#   make test-asan  the same suite built with AddressSanitizer + UBSan
#   make bench      benchmarks (figures as ratios to a baseline measured in the same run)
#   make bench-sync the sync catch-up benchmark alone
#   make demo       a powiat hub and gmina nodes with sample data
#   make install    programs, systemd unit, sysusers.d, examples and docs under
#                   $(DESTDIR)$(PREFIX) (PREFIX=/usr/local by default)
#   make deb        the Debian package build/koop_VERSION_ARCH.deb (debhelper)
# The version is the file VERSION, and nowhere else.
# Generated protobuf code lives in $(BUILD)/gen and is never committed.

CC      ?= cc
BUILD   ?= build
BIN     ?= bin
SAN     ?=
OPT     ?= -O2
CFLAGS_BASE := -std=c11 -D_GNU_SOURCE -g $(OPT) -Wall -Wextra -Werror -Wshadow -Wno-unused-parameter \
               -Icommon -I$(BUILD)/gen -Itests/support
ifeq ($(SAN),1)
CFLAGS_BASE += -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
LDSAN := -fsanitize=address,undefined
endif
CFLAGS  := $(CFLAGS_BASE) $(EXTRA_CFLAGS)
LDLIBS  := -lcurl -lczmq -lzmq -lprotobuf-c -llmdb -luv -linih -ljansson -lsodium -lpthread
LDFLAGS := $(LDSAN) $(EXTRA_LDFLAGS)
KOOP_VERSION := $(shell cat VERSION)

PROTOS    := $(wildcard proto/*.proto)
GEN_C     := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
GEN_H     := $(GEN_C:.c=.h)
COMMON_C  := $(wildcard common/*.c)
LIB_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(COMMON_C)) $(GEN_C:.c=.o)
LIBKOOP   := $(BUILD)/libkoop.a

SERVICES  := registry cases notifier reporting sync gateway
PROGRAMS  := $(addprefix $(BIN)/koop-,$(SERVICES)) $(BIN)/koop-node $(BIN)/koopctl
# What the goals on the command line need from Debian (scripts/deps.sh
# purposes): `make test` installs Criterion before it compiles anything.
DEPS_PURPOSE_test       := test
DEPS_PURPOSE_test-asan  := test
DEPS_PURPOSE_bench      := bench
DEPS_PURPOSE_bench-sync := bench
DEPS_PURPOSE_demo       := demo
DEPS_PURPOSE_deb        := deb
DEPS_PURPOSES := build $(sort $(foreach g,$(MAKECMDGOALS),$(DEPS_PURPOSE_$(g))))

.PHONY: all deps test test-asan test-unit bench bench-sync demo install uninstall deb clean
.SECONDARY:

all: $(PROGRAMS)

# Debian packages: installed when missing (as root), otherwise the apt-get
# line is printed and the build stops. An order-only prerequisite of every
# file the build makes, so it runs first, once per make, and never forces a
# rebuild by itself (deps.sh is quick when everything is there).
# NO_DEPS=1 skips it (the Debian package build: dpkg-buildpackage has
# already checked the Build-Depends).
deps:
	@$(if $(NO_DEPS),true,scripts/deps.sh $(DEPS_PURPOSES))

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto | deps
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -Iproto $<

$(BUILD)/%.o: %.c $(GEN_H) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c $(GEN_H) | deps
	$(CC) $(CFLAGS) -Wno-unused-parameter -c $< -o $@

# only version.o knows the version, so a new one rebuilds one object
$(BUILD)/common/version.o: CFLAGS += -DKOOP_VERSION='"$(KOOP_VERSION)"'
$(BUILD)/common/version.o: VERSION

$(LIBKOOP): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

# libraries only one program needs
LDLIBS_gateway := -lmicrohttpd -lcrypto
define service_rule
$(BIN)/koop-$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard services/$(1)/*.c)) $(LIBKOOP)
	@mkdir -p $(BIN)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS_$(1)) $$(LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rule,$(s))))

$(BIN)/koop-node: $(patsubst %.c,$(BUILD)/%.o,$(wildcard services/node/*.c)) $(LIBKOOP)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/koopctl: $(patsubst %.c,$(BUILD)/%.o,$(wildcard services/koopctl/*.c)) $(LIBKOOP)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- tests ----
TEST_C    := $(wildcard tests/unit/*.c tests/integration/*.c tests/deploy/*.c tests/browser/*.c tests/support/*.c)
# the reporting projection is unit-tested and benchmarked in process
REP_LIB_C := $(filter-out services/reporting/main.c,$(wildcard services/reporting/*.c))
# the gateway's parsers of client bytes and its TOTP codes, unit-tested in process
GW_LIB_C  := services/gateway/route.c services/gateway/totp.c
TEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TEST_C) $(REP_LIB_C) $(GW_LIB_C))
TEST_BIN  := $(BUILD)/tests/koop-tests

$(TEST_BIN): $(TEST_OBJS) $(LIBKOOP)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion $(LDLIBS) -lcrypto

# axe-core for the browser test (tests/browser): the version pinned in its
# package-lock.json, from the npm registry, into build/npm (never run by the
# node: only the test injects it into the page).
AXE := $(BUILD)/npm/node_modules/axe-core/axe.min.js
$(AXE): tests/browser/package.json tests/browser/package-lock.json | deps
	@mkdir -p $(BUILD)/npm
	cp tests/browser/package.json tests/browser/package-lock.json $(BUILD)/npm/
	cd $(BUILD)/npm && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	@touch $@

# Criterion runs every test in its own process; integration tests start the
# programs in $(BIN) (KOOP_BIN) on ipc sockets in their own temporary dirs;
# tests/deploy runs `make install` of this tree (KOOP_SRC, KOOP_BUILD);
# tests/browser drives Chromium over the gateway (screenshots in
# $(BUILD)/screenshots).
test: all $(TEST_BIN) $(AXE)
	KOOP_BIN=$(abspath $(BIN)) KOOP_SRC=$(CURDIR) KOOP_BUILD=$(abspath $(BUILD)) $(if $(SAN),LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0) \
	  $(TEST_BIN) -j2 --timeout 300 $(TEST_ARGS)

test-asan:
	$(MAKE) BUILD=build/asan BIN=build/asan/bin SAN=1 OPT=-O1 test

bench: all
	$(MAKE) -s $(BUILD)/bench/koop-bench
	KOOP_BIN=$(abspath $(BIN)) $(BUILD)/bench/koop-bench

# The sync catch-up benchmark alone (bench/bench_sync.c; in koop-bench it is
# the section "sync"). KOOP_BENCH_SYNC_EVENTS, KOOP_BENCH_PG(_EVENTS) tune it.
bench-sync: all $(LIBKOOP)
	@mkdir -p $(BUILD)/bench
	$(CC) $(CFLAGS) -DBENCH_SYNC_MAIN -o $(BUILD)/bench/koop-bench-sync bench/bench_sync.c $(LIBKOOP) $(LDFLAGS) $(LDLIBS)
	KOOP_BIN=$(abspath $(BIN)) $(BUILD)/bench/koop-bench-sync

$(BUILD)/bench/koop-bench: $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/*.c) $(REP_LIB_C)) $(LIBKOOP)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

demo: all
	scripts/demo.sh

# ---- install, Debian package ----
PREFIX          ?= /usr/local
BINDIR          ?= $(PREFIX)/bin
DOCDIR          ?= $(PREFIX)/share/doc/koop
SYSTEMD_UNITDIR ?= $(PREFIX)/lib/systemd/system
SYSUSERSDIR     ?= $(PREFIX)/lib/sysusers.d
WEBDIR          ?= $(PREFIX)/share/koop/web
WEB_FILES       := $(shell find web -type f 2>/dev/null)
UNIT            := deploy/systemd/koop-node@.service

# The unit names /usr/bin/koop-node; installed elsewhere it names BINDIR.
# web/ goes to WEBDIR, where the gateway looks beside its program
# (PREFIX/bin -> PREFIX/share/koop/web) when [gateway] web_dir is not set.
install: $(PROGRAMS)
	install -d $(DESTDIR)$(BINDIR) $(DESTDIR)$(SYSTEMD_UNITDIR) $(DESTDIR)$(SYSUSERSDIR) \
	  $(DESTDIR)$(DOCDIR)/examples
	install -m 0755 $(PROGRAMS) $(DESTDIR)$(BINDIR)/
	sed 's|/usr/bin/koop-node|$(BINDIR)/koop-node|' $(UNIT) >$(DESTDIR)$(SYSTEMD_UNITDIR)/$(notdir $(UNIT))
	chmod 0644 $(DESTDIR)$(SYSTEMD_UNITDIR)/$(notdir $(UNIT))
	install -m 0644 deploy/sysusers.d/koop.conf $(DESTDIR)$(SYSUSERSDIR)/koop.conf
	install -m 0644 deploy/examples/*.conf $(DESTDIR)$(DOCDIR)/examples/
	install -m 0644 README.md docs/*.md $(DESTDIR)$(DOCDIR)/
	for f in $(WEB_FILES:web/%=%); do install -D -m 0644 web/$$f $(DESTDIR)$(WEBDIR)/$$f || exit 1; done

uninstall:
	rm -f $(addprefix $(DESTDIR)$(BINDIR)/,$(notdir $(PROGRAMS))) \
	  $(DESTDIR)$(SYSTEMD_UNITDIR)/$(notdir $(UNIT)) $(DESTDIR)$(SYSUSERSDIR)/koop.conf
	rm -rf $(DESTDIR)$(DOCDIR) $(DESTDIR)$(WEBDIR)

# dpkg-buildpackage in a copy of the tree (build/deb), with debian/ made from
# deploy/debian and the version from VERSION (scripts/deb.sh).
deb: | deps
	scripts/deb.sh $(BUILD)/deb

clean:
	rm -rf build bin

# (not those of the package build's own copy of the tree in $(BUILD)/deb)
-include $(shell find $(BUILD) -path $(BUILD)/deb -prune -o -name '*.d' -type f -print 2>/dev/null)
