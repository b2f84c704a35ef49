# Streem Webhooks: the build and the front door.
#   make          build both programs
#   make run      the local stack (redis, api, dispatcher) in the foreground
#   make test     unit + e2e + sanitizer run
#   make bench    the benchmark table (never part of make test)

CC	?= cc
BUILD	:= build
VERSION	:= $(shell cat VERSION 2>/dev/null || echo 0.0.0)

WARN	:= -Wall -Wextra -Wshadow -Wstrict-prototypes -Wmissing-prototypes \
	   -Wmissing-declarations -Wpointer-arith -Wno-unused-parameter \
	   -Wformat=2 -Wno-format-nonliteral
CFLAGS	?= -O2 -g
# What the code needs whatever CFLAGS says (sanitize overrides CFLAGS).
WH_CFLAGS := -std=c11 -D_GNU_SOURCE -fPIC $(WARN) -Icommon \
	   -DWH_VERSION='"$(VERSION)"' -fstack-protector-strong
LDLIBS_COMMON := -lhiredis -lmsgpackc -lcrypto

COMMON_SRC	:= $(sort $(wildcard common/*.c))
API_MOD_SRC	:= $(filter-out api/launcher%.c,$(sort $(wildcard api/*.c)))
LAUNCHER_OBJ	:= $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard api/launcher*.c)))
DISP_SRC	:= $(sort $(wildcard dispatcher/*.c))
UNIT_SRC	:= $(sort $(wildcard tests/unit/test_*.c))

LUA_SRC		:= $(sort $(wildcard common/lua/*.lua))
LUA_GEN		:= $(BUILD)/gen/lua_scripts.c
COMMON_OBJ	:= $(COMMON_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/lua_scripts.o
API_MOD_OBJ	:= $(API_MOD_SRC:%.c=$(BUILD)/obj/%.o)
DISP_OBJ	:= $(DISP_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN	:= $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

all: $(BUILD)/webhooks-api $(BUILD)/webhooks-api.so \
     $(BUILD)/webhooks-api.conf $(BUILD)/webhooks-dispatcher

$(BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(CC) $(WH_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@

# The Lua scripts are files of their own (other Redis clients load them
# too); the programs get them as C strings made from those files.
$(LUA_GEN): $(LUA_SRC) common/lua/embed
	@mkdir -p $(dir $@)
	common/lua/embed $(LUA_SRC) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/lua_scripts.o: $(LUA_GEN)
	@mkdir -p $(dir $@)
	$(CC) $(WH_CFLAGS) $(CFLAGS) -c $< -o $@

# The Kore application module, loaded by the kore binary.
$(BUILD)/obj/api/%.o: EXTRA_CFLAGS = -I/usr/include/kore -DKORE_USE_TASKS
$(BUILD)/webhooks-api.so: $(API_MOD_OBJ) $(COMMON_OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS_COMMON)

$(BUILD)/webhooks-api.conf: api/conf/webhooks.conf
	@mkdir -p $(BUILD)
	cp $< $@

# The launcher: checks the environment and Redis, then runs kore.
$(BUILD)/webhooks-api: $(LAUNCHER_OBJ) $(COMMON_OBJ)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS_COMMON)

$(BUILD)/webhooks-dispatcher: $(DISP_OBJ) $(COMMON_OBJ)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS_COMMON) -lcurl

$(BUILD)/tests/%: tests/unit/%.c $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(WH_CFLAGS) $(CFLAGS) -Itests/unit $< $(COMMON_OBJ) -o $@ $(LDFLAGS) \
	    $(LDLIBS_COMMON) -lcmocka

deps:
	@.ci/deps

unit: $(UNIT_BIN)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done

e2e: all
	@cd tests/e2e && { npm ls --silent >/dev/null 2>&1 || npm ci --no-audit --no-fund --silent; }
	@cd tests/e2e && node --test --test-concurrency=1 --test-reporter=spec *.test.js

# A short run of the unit tests under AddressSanitizer and UBSan, in a
# build tree of its own so that it never mixes with the normal objects.
sanitize:
	@$(MAKE) --no-print-directory BUILD=$(BUILD)/asan \
	    CFLAGS="-O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=all" \
	    LDFLAGS="-fsanitize=address,undefined" unit

# The kill -9 / Redis-restart scenario (see tests/e2e/delivery-faults.test.js).
test-faults: all
	@cd tests/e2e && node --test --test-concurrency=1 delivery-faults.test.js

lint-deploy:
	@.ci/lint-deploy

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory sanitize
	@$(MAKE) --no-print-directory lint-deploy
	@$(MAKE) --no-print-directory e2e

run: deps
	@$(MAKE) --no-print-directory -s all
	@.ci/run-local

# The bench's own programs: the Kore no-op route (a module run by kore like
# the api) and the delaying TCP proxy put in front of Redis.
BENCH_TOOLS := $(BUILD)/bench/noop.so $(BUILD)/bench/delayproxy
$(BUILD)/bench/noop.so: tests/bench/noop.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -shared -Wall -Wextra -I/usr/include/kore -DKORE_USE_TASKS $< -o $@
$(BUILD)/bench/delayproxy: tests/bench/delayproxy.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wall -Wextra $< -o $@

bench: deps all $(BENCH_TOOLS)
	@tests/bench/run

clean:
	rm -rf $(BUILD)

.PHONY: test-faults all deps unit e2e sanitize lint-deploy test run bench clean

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
