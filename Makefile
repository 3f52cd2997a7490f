# Ferry: one entry point.  make | make test | make asan | make fuzz | make run | make bench | make sim
#
# Sources are discovered, not listed: every .c under common/ goes into libferry-common.a, ports/linux into
# libferry-port.a, agent/ (minus main.c) into libferry-agent.a, cloud/ likewise.  Each tests/unit/**/test_*.c
# is one cmocka binary linked against all of them.  An area that needs more (a generator, the simulator, a
# benchmark) adds a fragment named <area>.mk next to its code; it is included below.

BUILD    ?= build
V        ?=
Q         = $(if $(V),,@)
quiet     = $(if $(V),,@printf '  %-5s %s\n' $(1) $(2);)
CC       ?= cc
OPT      ?= -O2
CFLAGS   ?= $(OPT) -g
WARN      = -Wall -Wextra -Werror -Wshadow -Wformat=2 -Wvla
FERRY_CPPFLAGS = -I. -Icommon -Iports -D_GNU_SOURCE -D_FILE_OFFSET_BITS=64 -MMD -MP -DFERRY_VERSION=\"$(VERSION)\"
VERSION  := $(shell cat VERSION 2>/dev/null || echo 0.0.0)
ALL_CFLAGS = -std=c11 $(WARN) $(CFLAGS) $(EXTRA_CFLAGS)
LDLIBS   += -lmbedtls -lmbedx509 -lmbedcrypto -levent -levent_pthreads -lsqlite3 -llz4 -lpthread -lm

COMMON_SRC := $(shell find common -name '*.c' | sort)
PORT_SRC   := $(shell find ports/linux -name '*.c' | sort)
AGENT_SRC  := $(filter-out agent/main.c,$(shell find agent -name '*.c' | sort))
CLOUD_SRC  := $(filter-out cloud/main.c cloud/ferryctl.c,$(shell find cloud -name '*.c' | sort))
UNIT_SRC   := $(shell find tests/unit -name 'test_*.c' | sort)
UNIT_HELP  := $(filter-out $(UNIT_SRC),$(shell find tests/unit -name '*.c' | sort))

obj = $(patsubst %.c,$(BUILD)/obj/%.o,$(1))

LIB_COMMON := $(BUILD)/libferry-common.a
LIB_PORT   := $(BUILD)/libferry-port.a
LIB_AGENT  := $(BUILD)/libferry-agent.a
LIB_CLOUD  := $(BUILD)/libferry-cloud.a
LIBS       := $(LIB_AGENT) $(LIB_CLOUD) $(LIB_COMMON) $(LIB_PORT)
AGENT_BIN  := $(BUILD)/ferry-agent
CLOUD_BIN  := $(BUILD)/ferry-cloud
UNIT_BINS  := $(patsubst %.c,$(BUILD)/%,$(UNIT_SRC))

.PHONY: all test unit integration asan fuzz fuzz-bins run bench deps clean
all: $(AGENT_BIN) $(CLOUD_BIN)

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(@D)
	$(call quiet,CC,$<)$(CC) $(FERRY_CPPFLAGS) $(CPPFLAGS) $(ALL_CFLAGS) -c $< -o $@

$(LIB_COMMON): $(call obj,$(COMMON_SRC))
$(LIB_PORT):   $(call obj,$(PORT_SRC))
$(LIB_AGENT):  $(call obj,$(AGENT_SRC))
$(LIB_CLOUD):  $(call obj,$(CLOUD_SRC))
$(LIBS):
	@mkdir -p $(@D)
	@rm -f $@
	$(call quiet,AR,$@)$(AR) rcs $@ $^ $(if $^,,$(BUILD)/empty.o)

# An archive with no members still has to link; give empty areas one empty object.
$(BUILD)/empty.o:
	@mkdir -p $(@D)
	$(Q)echo 'typedef int ferry_empty_unit;' | $(CC) -x c -c - -o $@
$(LIBS): | $(BUILD)/empty.o

$(AGENT_BIN): $(call obj,agent/main.c) $(LIBS)
	$(call quiet,LD,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
$(CLOUD_BIN): $(call obj,cloud/main.c) $(LIBS)
	$(call quiet,LD,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)

$(BUILD)/tests/unit/%: $(call obj,tests/unit/%.c) $(call obj,$(UNIT_HELP)) $(LIBS)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS) -lcmocka

# ---- tests ----------------------------------------------------------------------------------------------
deps:
	@bash ports/deps.sh

unit: $(UNIT_BINS)
	@bash tests/run-unit.sh $(UNIT_BINS)

INTEGRATION_ENV = FERRY_BUILD=$(abspath $(BUILD))
integration: all
	@$(INTEGRATION_ENV) bash tests/integration/run.sh

test: deps
	@$(MAKE) --no-print-directory all $(UNIT_BINS)
	@bash tests/run-unit.sh $(UNIT_BINS)
	@$(INTEGRATION_ENV) bash tests/integration/run.sh

SAN = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
asan: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan OPT=-O1 EXTRA_CFLAGS="$(SAN)" LDFLAGS="$(SAN)" unit

# libFuzzer targets: tests/fuzz/<name>/fuzz_<name>.c, seed corpus in tests/fuzz/<name>/corpus/.
FUZZ_SECONDS ?= 20
FUZZ_SRC  := $(shell find tests/fuzz -name 'fuzz_*.c' | sort)
FUZZ_BINS := $(patsubst tests/fuzz/%.c,$(BUILD)/fuzzbin/%,$(FUZZ_SRC))
FUZZ_SAN   = -fsanitize=fuzzer-no-link,address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
fuzz: deps
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/fuzz CC=clang OPT=-O1 EXTRA_CFLAGS="$(FUZZ_SAN)" fuzz-bins
	@bash tests/fuzz/run.sh $(FUZZ_SECONDS) $(BUILD)/fuzz/fuzzbin
fuzz-bins: $(FUZZ_BINS)
$(BUILD)/fuzzbin/%: $(call obj,tests/fuzz/%.c) $(LIBS)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(ALL_CFLAGS) -fsanitize=fuzzer,address,undefined -o $@ $^ $(LDLIBS)

run: deps
	@$(MAKE) --no-print-directory all
	@bash examples/run.sh $(abspath $(BUILD))

# Benchmarks: each tests/bench/bench_*.c is a binary in $(BUILD)/bench/; tests/bench/run.sh runs them and the
# scripted side-by-side comparisons (tests/bench/NN-*.sh).
BENCH_SRC  := $(shell find tests/bench -name 'bench_*.c' | sort)
BENCH_BINS := $(patsubst tests/bench/%.c,$(BUILD)/bench/%,$(BENCH_SRC))
$(BUILD)/bench/%: $(call obj,tests/bench/%.c) $(LIBS)
	@mkdir -p $(@D)
	$(call quiet,LD,$@)$(CC) $(ALL_CFLAGS) $(LDFLAGS) -o $@ $^ $(LDLIBS)
BENCH_TARGETS ?=
bench: deps
	@$(MAKE) --no-print-directory all $(BENCH_BINS) $(BENCH_TARGETS)
	@bash tests/bench/run.sh $(abspath $(BUILD))

clean:
	rm -rf $(BUILD)

-include $(shell find common agent cloud ports tests -name '*.mk' | sort)
-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
