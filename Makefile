# koop - build, test, bench, demo.
#   make            build everything into bin/
#   make test       the whole suite (Criterion), installing Debian packages if missing
#   make test-asan  the same suite built with AddressSanitizer + UBSan
#   make bench      benchmarks (figures as ratios to a baseline measured in the same run)
#   make bench-sync the sync catch-up benchmark alone
#   make bench-scale the national tree on one machine (fleet simulator, ~15 min)
#   make demo       a powiat hub and gmina nodes with sample data
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
LDFLAGS := $(LDSAN)

PROTOS    := $(wildcard proto/*.proto)
GEN_C     := $(patsubst proto/%.proto,$(BUILD)/gen/%.pb-c.c,$(PROTOS))
GEN_H     := $(GEN_C:.c=.h)
COMMON_C  := $(wildcard common/*.c)
LIB_OBJS  := $(patsubst %.c,$(BUILD)/%.o,$(COMMON_C)) $(GEN_C:.c=.o)
LIBKOOP   := $(BUILD)/libkoop.a

SERVICES  := registry cases notifier reporting sync
PROGRAMS  := $(addprefix $(BIN)/koop-,$(SERVICES)) $(BIN)/koop-node $(BIN)/koopctl
# What the goals on the command line need from Debian (scripts/deps.sh
# purposes): `make test` installs Criterion before it compiles anything.
DEPS_PURPOSE_test       := test
DEPS_PURPOSE_test-asan  := test
DEPS_PURPOSE_bench      := bench
DEPS_PURPOSE_bench-sync := bench
DEPS_PURPOSE_bench-scale := bench
DEPS_PURPOSE_demo       := demo
DEPS_PURPOSES := build $(sort $(foreach g,$(MAKECMDGOALS),$(DEPS_PURPOSE_$(g))))

.PHONY: all deps test test-asan test-unit bench bench-sync bench-scale demo clean
.SECONDARY:

all: $(PROGRAMS)

# Debian packages: installed when missing (as root), otherwise the apt-get
# line is printed and the build stops. An order-only prerequisite of every
# file the build makes, so it runs first, once per make, and never forces a
# rebuild by itself (deps.sh is quick when everything is there).
deps:
	@scripts/deps.sh $(DEPS_PURPOSES)

$(BUILD)/gen/%.pb-c.c $(BUILD)/gen/%.pb-c.h: proto/%.proto | deps
	@mkdir -p $(BUILD)/gen
	protoc-c --c_out=$(BUILD)/gen -Iproto $<

$(BUILD)/%.o: %.c $(GEN_H) | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -MMD -MP -c $< -o $@

$(BUILD)/gen/%.o: $(BUILD)/gen/%.c $(GEN_H) | deps
	$(CC) $(CFLAGS) -Wno-unused-parameter -c $< -o $@

$(LIBKOOP): $(LIB_OBJS)
	@rm -f $@
	ar rcs $@ $^

define service_rule
$(BIN)/koop-$(1): $(patsubst %.c,$(BUILD)/%.o,$(wildcard services/$(1)/*.c)) $(LIBKOOP)
	@mkdir -p $(BIN)
	$$(CC) $$(LDFLAGS) -o $$@ $$^ $$(LDLIBS)
endef
$(foreach s,$(SERVICES),$(eval $(call service_rule,$(s))))

$(BIN)/koop-node: $(patsubst %.c,$(BUILD)/%.o,$(wildcard services/node/*.c)) $(LIBKOOP)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BIN)/koopctl: $(patsubst %.c,$(BUILD)/%.o,$(wildcard services/koopctl/*.c)) $(LIBKOOP)
	@mkdir -p $(BIN)
	$(CC) $(LDFLAGS) -o $@ $^ $(LDLIBS)

# ---- tests ----
TEST_C    := $(wildcard tests/unit/*.c tests/integration/*.c tests/support/*.c)
# the reporting projection is unit-tested and benchmarked in process
REP_LIB_C := $(filter-out services/reporting/main.c,$(wildcard services/reporting/*.c))
# the hub's session table is unit-tested in process; the fleet simulator
# speaks the link with the sync service's own framing (wire.c)
SYNC_LIB_C := services/sync/sessions.c services/sync/wire.c
# the fleet simulator drives real hubs in tests too (and its event generator
# feeds the projection's tests)
FLEET_C   := $(wildcard tools/fleet/*.c)
TEST_OBJS := $(patsubst %.c,$(BUILD)/%.o,$(TEST_C) $(REP_LIB_C) $(SYNC_LIB_C) $(FLEET_C))
TEST_BIN  := $(BUILD)/tests/koop-tests

$(TEST_BIN): $(TEST_OBJS) $(LIBKOOP)
	@mkdir -p $(dir $@)
	$(CC) $(LDFLAGS) -o $@ $^ -lcriterion $(LDLIBS)

# Criterion runs every test in its own process; integration tests start the
# programs in $(BIN) (KOOP_BIN) on ipc sockets in their own temporary dirs.
test: all $(TEST_BIN)
	KOOP_BIN=$(abspath $(BIN)) $(if $(SAN),LSAN_OPTIONS=suppressions=$(abspath tests/lsan.supp):print_suppressions=0) \
	  $(TEST_BIN) -j2 --timeout 300 $(TEST_ARGS)

test-asan:
	$(MAKE) BUILD=build/asan BIN=build/asan/bin SAN=1 OPT=-O1 test

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

clean:
	rm -rf build bin

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
