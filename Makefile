# koop - build, test, bench, demo.
#   make            build everything into bin/
#   make test       the whole suite (Criterion), installing Debian packages if missing
#   make test-asan  the same suite built with AddressSanitizer + UBSan
#   make test-faults the long fault run (kill -9, network cut, disk full; as root)
#   make fuzz       every fuzz target for FUZZ_SECONDS (60) with libFuzzer
#   make bench      benchmarks (figures as ratios to a baseline measured in the same run)
#   make bench-sync the sync catch-up benchmark alone
#   make bench-scale the national tree on one machine (fleet simulator, ~15 min)
#   make demo       a powiat hub and gmina nodes with sample data
#   make install    programs, systemd unit, sysusers.d, examples and docs under
#                   $(DESTDIR)$(PREFIX) (PREFIX=/usr/local by default)
#   make deb        the Debian package build/koop_VERSION_ARCH.deb (debhelper)
# The version is the file VERSION, and nowhere else.
# Generated protobuf code lives in $(BUILD)/gen and is never committed; so
# are the web UI's catalogues of labels.def's words (web/i18n/labels-*.json).

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
# make fuzz builds everything again with clang for libFuzzer (SAN=fuzz)
ifeq ($(SAN),fuzz)
CFLAGS_BASE += -fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
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
DEPS_PURPOSE_bench-scale := bench
DEPS_PURPOSE_demo       := demo
DEPS_PURPOSE_deb        := deb
DEPS_PURPOSE_fuzz       := fuzz
DEPS_PURPOSE_test-faults := faults
DEPS_PURPOSES := build $(sort $(foreach g,$(MAKECMDGOALS),$(DEPS_PURPOSE_$(g))))

.PHONY: all deps test test-asan test-unit test-faults fuzz fuzz-build fuzz-replay fuzz-seeds bench bench-sync bench-scale demo install uninstall deb clean
.SECONDARY:

# The words of labels.def the web UI shows, made from it (tools/i18n): the
# gateway serves them from web/ with the UI's own catalogues.
WEB_GEN    := web/i18n/labels-pl.json web/i18n/labels-en.json
WEB_LABELS := $(BUILD)/tools/web-labels

all: $(PROGRAMS) $(WEB_GEN)

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

$(WEB_LABELS): $(BUILD)/tools/i18n/web_labels.o
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -ljansson

web/i18n/labels-%.json: $(WEB_LABELS)
	$(WEB_LABELS) $* $@

# ---- tests ----
TEST_C    := $(wildcard tests/unit/*.c tests/integration/*.c tests/deploy/*.c tests/browser/*.c tests/support/*.c)
# the reporting projection is unit-tested and benchmarked in process
REP_LIB_C := $(filter-out services/reporting/main.c,$(wildcard services/reporting/*.c))
# the gateway's parsers of client bytes and its TOTP codes, unit-tested in process
GW_LIB_C  := services/gateway/route.c services/gateway/totp.c
# the hub's session table is unit-tested in process; the fleet simulator
# speaks the link with the sync service's own framing (wire.c); the hub's
# check of events is benchmarked in process (check.c)
SYNC_LIB_C := services/sync/sessions.c services/sync/wire.c services/sync/check.c
# the fleet simulator drives real hubs in tests too (and its event generator
# feeds the projection's tests)
FLEET_C   := $(wildcard tools/fleet/*.c)
TEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TEST_C) $(REP_LIB_C) $(GW_LIB_C) $(SYNC_LIB_C) $(FLEET_C))
TEST_BIN  := $(BUILD)/tests/koop-tests

$(TEST_BIN): $(TEST_OBJS) $(LIBKOOP)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion $(LDLIBS) -lcrypto

# axe-core for the browser test (tests/browser): the version pinned in its
# package-lock.json, from the npm registry, into build/npm (never run by the
# node: only the test injects it into the page). Where the network's TLS is
# cut by a proxy whose CA the machine does not hold (a fresh root behind a
# company or sandbox proxy), npm cannot check the registry's certificate; it
# then tries once more without that check, which is safe for what it
# installs: npm ci refuses any tarball whose sha512 differs from the one in
# the committed package-lock.json.
AXE := $(BUILD)/npm/node_modules/axe-core/axe.min.js
NPM_CI := npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
$(AXE): tests/browser/package.json tests/browser/package-lock.json | deps
	@mkdir -p $(BUILD)/npm
	cp tests/browser/package.json tests/browser/package-lock.json $(BUILD)/npm/
	cd $(BUILD)/npm && { $(NPM_CI) 2>npm-err.log || \
	  { grep -qE 'CERT|certificate' npm-err.log && \
	    echo "npm: the registry's certificate cannot be checked here; installing with the package's sha512 from package-lock.json as the check" && \
	    $(NPM_CI) --strict-ssl=false; } || { cat npm-err.log >&2; exit 1; }; }
	@test -s $@ && touch $@

# Criterion runs every test in its own process; integration tests start the
# programs in $(BIN) (KOOP_BIN) on ipc sockets in their own temporary dirs;
# tests/deploy runs `make install` of this tree (KOOP_SRC, KOOP_BUILD);
# tests/browser drives Chromium over the gateway (screenshots in
# $(BUILD)/screenshots). The fault run's binary is built too (it is run by
# make test-faults), so a change of an API it uses cannot go unseen.
test: all $(TEST_BIN) $(BUILD)/tests/koop-faults fuzz-replay $(AXE)
	KOOP_BIN=$(abspath $(BIN)) KOOP_SRC=$(CURDIR) KOOP_BUILD=$(abspath $(BUILD)) $(if $(SAN),LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0) \
	  $(TEST_BIN) -j2 --timeout 300 $(TEST_ARGS)

# ---- fuzzing (tests/fuzz, see fuzz.h) ----
# A target links its fuzz_<name>.c with the libraries (the services' code
# with main renamed, so their method tables are reachable) and with a driver:
# libFuzzer (make fuzz: clang, SAN=fuzz) or replay.c (make test: gcc, every
# corpus input once).
FUZZ_NAMES   := $(patsubst tests/fuzz/fuzz_%.c,%,$(wildcard tests/fuzz/fuzz_*.c))
FUZZ_SECONDS ?= 60
SVC_LIBS     := registry cases notifier reporting sync gateway
SVC_LIB_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(filter-out %/main.c,$(foreach d,$(SVC_LIBS),$(wildcard services/$(d)/*.c)))) \
                $(foreach d,$(SVC_LIBS),$(BUILD)/nomain/services/$(d)/main.o)
LIBSVC       := $(BUILD)/libkoop-services.a
FUZZ_BIN     := $(BUILD)/fuzz-bin
FUZZ_SUPPORT := $(BUILD)/tests/fuzz/support.o
FUZZ_INC     := -Itests/fuzz $(foreach d,$(SVC_LIBS),-Iservices/$(d))
ifeq ($(SAN),fuzz)
FUZZ_DRIVER  :=
FUZZ_LDFLAGS := -fsanitize=fuzzer,address,undefined
else
FUZZ_DRIVER  := $(BUILD)/tests/fuzz/replay.o
FUZZ_LDFLAGS := $(LDFLAGS)
endif

$(BUILD)/nomain/services/%/main.o: services/%/main.c $(GEN_H) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Dmain=koop_main_$* -c $< -o $@

$(BUILD)/tests/fuzz/%.o: tests/fuzz/%.c $(GEN_H) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) $(FUZZ_INC) -MMD -MP -c $< -o $@

$(LIBSVC): $(SVC_LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

$(FUZZ_BIN)/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(FUZZ_DRIVER) $(FUZZ_SUPPORT) $(LIBSVC) $(LIBKOOP)
	@mkdir -p $(dir $@)
	$(CC) $(FUZZ_LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz-build: $(addprefix $(FUZZ_BIN)/fuzz_,$(FUZZ_NAMES))

# every corpus input through the gcc build (part of make test)
fuzz-replay: fuzz-build
	@for t in $(FUZZ_NAMES); do \
	  $(FUZZ_BIN)/fuzz_$$t tests/fuzz/corpus/$$t || { echo "fuzz replay of $$t FAILED"; exit 1; }; \
	done

# the hand-made seeds (tests/fuzz/seeds.c), then replies and event envelopes
# captured from running them (FZ_CAPTURE, support.c)
$(FUZZ_BIN)/seeds: $(BUILD)/tests/fuzz/seeds.o $(FUZZ_SUPPORT) $(LIBSVC) $(LIBKOOP)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

fuzz-seeds: $(FUZZ_BIN)/seeds fuzz-build
	@mkdir -p tests/fuzz/corpus
	$(FUZZ_BIN)/seeds tests/fuzz/corpus
	@rm -rf $(BUILD)/fuzz-capture tests/fuzz/corpus/*/captured-*
	FZ_CAPTURE=$(abspath $(BUILD)/fuzz-capture) $(FUZZ_BIN)/fuzz_registry tests/fuzz/corpus/registry
	FZ_CAPTURE=$(abspath $(BUILD)/fuzz-capture) $(FUZZ_BIN)/fuzz_cases tests/fuzz/corpus/cases
	@for k in reply event_head feed; do mkdir -p tests/fuzz/corpus/$$k; for f in $(BUILD)/fuzz-capture/$$k/*; do \
	  cp $$f tests/fuzz/corpus/$$k/captured-$$(sha1sum <$$f | cut -c1-12); done; done
	@for t in $(FUZZ_NAMES); do echo "$$t: $$(ls tests/fuzz/corpus/$$t | wc -l) inputs"; done

# FUZZ_SECONDS=N make fuzz: each target N seconds with libFuzzer; new inputs
# go to build/fuzz/corpus/<target>, crashes to build/fuzz/crashes/ (put each
# one into tests/fuzz/corpus/<target>/ with its fix).
fuzz:
	$(MAKE) BUILD=build/fuzz BIN=build/fuzz/bin CC=clang SAN=fuzz OPT=-O1 fuzz-build
	@mkdir -p build/fuzz/crashes
	@for t in $(FUZZ_NAMES); do \
	  mkdir -p build/fuzz/corpus/$$t; \
	  echo "== fuzz $$t: $(FUZZ_SECONDS) s"; \
	  build/fuzz/fuzz-bin/fuzz_$$t -max_total_time=$(FUZZ_SECONDS) -timeout=20 -rss_limit_mb=2048 -print_final_stats=1 \
	    -artifact_prefix=build/fuzz/crashes/$$t- build/fuzz/corpus/$$t tests/fuzz/corpus/$$t \
	    >build/fuzz/$$t.log 2>&1 || { tail -40 build/fuzz/$$t.log; echo "fuzz $$t: FOUND A CRASH (build/fuzz/crashes/)"; exit 1; }; \
	  grep -E "^stat::number_of_executed_units|^stat::new_units_added" build/fuzz/$$t.log | tr '\n' ' '; echo; \
	done

# (the gateway finds web/ beside its program: build/asan/bin -> build/asan/web)
test-asan:
	@mkdir -p build/asan && ln -sfn $(CURDIR)/web build/asan/web
	$(MAKE) BUILD=build/asan BIN=build/asan/bin SAN=1 OPT=-O1 test

# The long fault run (tests/faults, root: network namespaces, tmpfs):
# KOOP_FAULT_ROUNDS kill -9 (default 600; CI runs 40), a link cut, a full disk.
FAULT_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(wildcard tests/faults/*.c tests/support/*.c))
$(BUILD)/tests/koop-faults: $(FAULT_OBJS) $(LIBKOOP)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion $(LDLIBS)

test-faults: all $(BUILD)/tests/koop-faults
	KOOP_BIN=$(abspath $(BIN)) $(BUILD)/tests/koop-faults -j1 --timeout 3600 $(TEST_ARGS)

bench: all
	$(MAKE) -s $(BUILD)/bench/koop-bench
	KOOP_BIN=$(abspath $(BIN)) $(BUILD)/bench/koop-bench

# The sync catch-up benchmark alone (bench/bench_sync.c; in koop-bench it is
# the section "sync"). KOOP_BENCH_SYNC_EVENTS, KOOP_BENCH_PG(_EVENTS) tune it.
bench-sync: all
	$(MAKE) -s $(BUILD)/bench/koop-bench
	KOOP_BIN=$(abspath $(BIN)) $(BUILD)/bench/koop-bench sync

# A country on one machine (bench/bench_scale.c, the fleet simulator in
# tools/fleet): 2,500 gminas on one powiat hub, and mazowieckie's 42 powiat
# hubs and 314 gminas under a voivodeship and a national hub. KOOP_SCALE_*
# tune it (docs/SYNC.md).
bench-scale: all
	$(MAKE) -s $(BUILD)/bench/koop-bench
	KOOP_BIN=$(abspath $(BIN)) $(BUILD)/bench/koop-bench scale

# bench-scale's simulated gminas and the reporting bench's events: tools/fleet
$(BUILD)/bench/koop-bench: $(patsubst %.c,$(BUILD)/%.o,$(wildcard bench/*.c) $(REP_LIB_C) $(FLEET_C) $(SYNC_LIB_C)) $(LIBKOOP)
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
WEB_FILES       := $(sort $(shell find web -type f 2>/dev/null) $(WEB_GEN))
UNIT            := deploy/systemd/koop-node@.service

# The unit names /usr/bin/koop-node; installed elsewhere it names BINDIR.
# web/ goes to WEBDIR, where the gateway looks beside its program
# (PREFIX/bin -> PREFIX/share/koop/web) when [gateway] web_dir is not set.
install: $(PROGRAMS) $(WEB_GEN)
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
	rm -rf build bin $(WEB_GEN)

# (not those of the package build's own copy of the tree in $(BUILD)/deb)
-include $(shell find $(BUILD) -path $(BUILD)/deb -prune -o -name '*.d' -type f -print 2>/dev/null)
