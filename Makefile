# Streem Webhooks: the build and the front door.
#   make          build both programs
#   make run      the local stack (redis, api, dispatcher) in the foreground
#   make test     unit + e2e + sanitizer run + a short fuzz run
#   make fuzz     the libFuzzer targets, FUZZ_SECONDS (60) each
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
LDLIBS_COMMON := -lhiredis -lmsgpackc -lcurl -lssl -lcrypto

COMMON_SRC	:= $(sort $(wildcard common/*.c))
API_MOD_SRC	:= $(sort $(wildcard api/*.c))
LAUNCHER_OBJ	:= $(patsubst %.c,$(BUILD)/obj/%.o,$(sort $(wildcard api/launcher/*.c)))
DISP_SRC	:= $(sort $(wildcard dispatcher/*.c))
UNIT_SRC	:= $(sort $(wildcard tests/unit/test_*.c))

LUA_SRC		:= $(sort $(wildcard common/lua/*.lua))
LUA_GEN		:= $(BUILD)/gen/lua_scripts.c
COMMON_OBJ	:= $(COMMON_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/lua_scripts.o
PORTAL_SRC	:= $(sort $(wildcard api/portal/*.html api/portal/*.js api/portal/*.css))
PORTAL_GEN	:= $(BUILD)/gen/portal_assets.c
API_MOD_OBJ	:= $(API_MOD_SRC:%.c=$(BUILD)/obj/%.o) $(BUILD)/obj/gen/portal_assets.o
DISP_OBJ	:= $(DISP_SRC:%.c=$(BUILD)/obj/%.o)
UNIT_BIN	:= $(UNIT_SRC:tests/unit/%.c=$(BUILD)/tests/%)

all: $(BUILD)/webhooks-api $(BUILD)/webhooks-api.so \
     $(BUILD)/webhooks-api.conf $(BUILD)/webhooks-kore \
     $(BUILD)/webhooks-dispatcher

# Objects are rebuilt when the flags change (a build tree made with other
# flags, e.g. before -fPIC was added, must not be linked as it is).
FLAGS_STAMP	:= $(BUILD)/obj/flags
$(FLAGS_STAMP): FORCE
	@mkdir -p $(dir $@)
	@echo '$(CC) $(WH_CFLAGS) $(CFLAGS) $(KORE_CFLAGS) $(LDFLAGS)' | cmp -s - $@ || \
	    echo '$(CC) $(WH_CFLAGS) $(CFLAGS) $(KORE_CFLAGS) $(LDFLAGS)' > $@
FORCE:

$(BUILD)/obj/%.o: %.c $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(WH_CFLAGS) $(CFLAGS) $(EXTRA_CFLAGS) -MMD -MP -c $< -o $@

# The Lua scripts are files of their own (other Redis clients load them
# too); the programs get them as C strings made from those files.
$(LUA_GEN): $(LUA_SRC) common/lua/embed
	@mkdir -p $(dir $@)
	common/lua/embed $(LUA_SRC) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/lua_scripts.o: $(LUA_GEN) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(WH_CFLAGS) $(CFLAGS) -c $< -o $@

# The portal's files (api/portal/) become a C table in the module, each
# with its gzipped copy: served from memory, nothing to install.
$(PORTAL_GEN): $(PORTAL_SRC) api/portal/embed
	@mkdir -p $(dir $@)
	api/portal/embed $(PORTAL_SRC) > $@.tmp && mv $@.tmp $@

$(BUILD)/obj/gen/portal_assets.o: $(PORTAL_GEN) $(FLAGS_STAMP)
	@mkdir -p $(dir $@)
	$(CC) $(WH_CFLAGS) $(CFLAGS) -Iapi -c $< -o $@

# Kore itself, built the Kore way from the sources Debian's kore package
# ships in /usr/share/kore, with our patches (api/kore/patches, applied in
# order; each says what it fixes) and our framing decision
# (api/kore/http_frame.c). The tree is copied and patched again only when
# a patch or the framing header changes; Kore's own Makefile then builds
# incrementally. Variables given to this make (CFLAGS of the sanitizer
# build...) are kept away from Kore's Makefile, which sets its own;
# KORE_SANITIZE builds kore itself with a sanitizer (Kore's SANITIZE).
KORE_SRC	?= /usr/share/kore
KORE_TREE	:= $(BUILD)/kore
KORE_PATCHES	:= $(sort $(wildcard api/kore/patches/*.patch))
KORE_SANITIZE	?=

# The list of patches as a file that changes only when the list does, so
# that a patch removed (or renamed) also copies and patches the tree anew.
KORE_PATCH_LIST	:= $(BUILD)/kore-patches
$(KORE_PATCH_LIST): FORCE
	@mkdir -p $(dir $@)
	@echo '$(KORE_PATCHES)' | cmp -s - $@ || echo '$(KORE_PATCHES)' > $@

$(KORE_TREE)/.patched: $(KORE_PATCHES) $(KORE_PATCH_LIST) api/kore/http_frame.h
	@rm -rf $(KORE_TREE) && mkdir -p $(KORE_TREE)
	cp -R $(KORE_SRC)/Makefile $(KORE_SRC)/RELEASE $(KORE_SRC)/src \
	    $(KORE_SRC)/include $(KORE_SRC)/misc $(KORE_TREE)/
	cp api/kore/http_frame.h $(KORE_TREE)/include/kore/
	@set -e; for p in $(KORE_PATCHES); do \
	    echo "patch $$p"; patch -s -p1 -d $(KORE_TREE) < $$p; done
	@touch $@

$(BUILD)/webhooks-kore: $(KORE_TREE)/.patched api/kore/http_frame.c
	@cmp -s api/kore/http_frame.c $(KORE_TREE)/src/http_frame.c || \
	    cp api/kore/http_frame.c $(KORE_TREE)/src/http_frame.c
	env -u MAKEFLAGS -u MFLAGS -u CFLAGS -u LDFLAGS -u CC \
	    $(MAKE) -s -C $(KORE_TREE) TASKS=1 SANITIZE=$(KORE_SANITIZE) \
	    KORE=$(CURDIR)/$@ $(CURDIR)/$@

# The Kore application module, loaded by that kore and built against its
# patched headers. The KORE_USE_* flags must be the ones that kore was
# built with (TASKS=1 above): they add members to struct http_request,
# and with others the module reads req_headers and the lists after it at
# the wrong offsets (Debian's /usr/bin/kore is built with pgsql and tasks,
# so a module for it would need -DKORE_USE_PGSQL too).
KORE_CFLAGS := -I$(KORE_TREE)/include/kore -DKORE_USE_TASKS
$(API_MOD_OBJ): $(KORE_TREE)/.patched
$(BUILD)/obj/api/%.o: EXTRA_CFLAGS = $(KORE_CFLAGS)
$(BUILD)/webhooks-api.so: $(API_MOD_OBJ) $(COMMON_OBJ)
	$(CC) -shared -o $@ $^ $(LDFLAGS) $(LDLIBS_COMMON)

$(BUILD)/webhooks-api.conf: api/conf/webhooks.conf
	@mkdir -p $(BUILD)
	cp $< $@

# The launcher: checks the environment and Redis, then runs kore.
$(BUILD)/webhooks-api: $(LAUNCHER_OBJ) $(COMMON_OBJ)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS_COMMON)

$(BUILD)/webhooks-dispatcher: $(DISP_OBJ) $(COMMON_OBJ)
	$(CC) -o $@ $^ $(LDFLAGS) $(LDLIBS_COMMON)

$(BUILD)/tests/%: tests/unit/%.c $(COMMON_OBJ)
	@mkdir -p $(dir $@)
	$(CC) $(WH_CFLAGS) $(CFLAGS) -Itests/unit -Idispatcher \
	    -DTEST_DOCS_DIR='"$(CURDIR)/docs"' $< \
	    $(filter %.o,$^) -o $@ $(LDFLAGS) $(LDLIBS_COMMON) -lcmocka

# Unit tests of product code outside common/ that stands alone.
$(BUILD)/tests/test_entry: $(BUILD)/obj/dispatcher/entry.o
$(BUILD)/tests/test_loop: $(BUILD)/obj/dispatcher/loop.o

deps:
	@.ci/deps

unit: $(UNIT_BIN) $(DISP_OBJ)
	@set -e; for t in $(UNIT_BIN); do echo "== $$t"; $$t; done
	@echo "== dispatcher call graph (tests/lint/callgraph.sh)"
	@tests/lint/callgraph.sh docs/internals.md $(DISP_OBJ)

e2e: all
	@cd tests/e2e && { npm ls --silent >/dev/null 2>&1 || npm ci --no-audit --no-fund --silent; }
	@cd tests/e2e && E2E_BIN_DIR=$(CURDIR)/$(BUILD) node --test \
	    --test-concurrency=1 --test-reporter=spec *.test.js

# Existing e2e files that make sense on a Redis Cluster, run against one
# (3 masters + 3 replicas on loopback, WH_PARTITIONS=8: E2E_REDIS=cluster,
# tests/e2e/lib/harness.js): publishing (single, batch, XADD, idempotent),
# deliveries verified, retries, dead letters, ~redeliver, ~recover, the
# API's lists and pages, the retry gaps and schedules. (cluster-failover.test.js,
# failover and resharding under load, makes its own cluster and runs in e2e.)
CLUSTER_E2E ?= partitions api-webhooks api-keys api-signing-keys \
	endpoint-health security-tenancy resend security-secrets \
	foundation events api-idempotency api-openapi webhook-stats \
	delivery-retry delivery-control retention visibility \
	delivery-ordering \
	delivery-ownership ops-metrics portal-sessions
test-cluster: all
	@cd tests/e2e && { npm ls --silent >/dev/null 2>&1 || npm ci --no-audit --no-fund --silent; }
	@cd tests/e2e && E2E_REDIS=cluster E2E_BIN_DIR=$(CURDIR)/$(BUILD) node --test \
	    --test-concurrency=1 --test-reporter=spec $(CLUSTER_E2E:%=%.test.js)

# The unit tests and both programs under AddressSanitizer and UBSan, in a
# build tree of their own so that they never mix with the normal objects,
# then the e2e files of SANITIZE_E2E (the delivery path and the api)
# against those programs. A report stops the program that made it
# (halt_on_error, abort) and the e2e harness fails the test during which
# it appeared on any program's output (a Kore worker that dies is
# restarted, so the report may be the only sign).
# The api is a module that our kore loads; that kore is built with ASan
# too (KORE_SANITIZE, Kore's own SANITIZE switch), so our patches to it are
# checked as well, and gcc's ASan runtime is preloaded into it
# (E2E_API_PRELOAD) so that the module's UBSan runtime loads with it.
# Leaks are checked in the unit tests and the dispatcher, not in the api:
# Kore's seccomp sandbox kills a worker at the first system call
# LeakSanitizer makes at exit (gettid), and Kore's own allocations would
# be reported from its parent process.
SAN_CFLAGS	:= -O1 -g -fsanitize=address,undefined -fno-omit-frame-pointer \
		   -fno-sanitize-recover=all
SAN_LDFLAGS	:= -fsanitize=address,undefined
SAN_ENV		:= ASAN_OPTIONS=halt_on_error=1:abort_on_error=1:detect_leaks=1 \
		   UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1
# (Not delivery-isolation: its throughput ratios do not hold at ASan's
# speed on a busy machine; it checks fairness, not memory. Of
# delivery-faults only the drain tests, run after them, whose dispatchers
# exit with transfers running: its kill -9 run's p99 latency bound does
# not hold at ASan's speed either.)
SANITIZE_E2E	?= foundation security-http events delivery-retry delivery-tls security-input \
		   security-ssrf security-secrets security-tenancy api-webhooks \
		   api-signing-keys api-validation api-idempotency api-fuzz \
		   visibility endpoint-health retention redis-tls

sanitize:
	@$(SAN_ENV) $(MAKE) --no-print-directory BUILD=$(BUILD)/asan \
	    CFLAGS="$(SAN_CFLAGS)" LDFLAGS="$(SAN_LDFLAGS)" \
	    KORE_SANITIZE=address unit all
	@cd tests/e2e && { npm ls --silent >/dev/null 2>&1 || npm ci --no-audit --no-fund --silent; }
	@asan=$$($(CC) -print-file-name=libasan.so); \
	    [ -f "$$asan" ] || { echo "sanitize: no libasan.so for $(CC)" >&2; exit 1; }; \
	    cd tests/e2e && $(SAN_ENV) E2E_BIN_DIR=$(CURDIR)/$(BUILD)/asan \
	    E2E_API_PRELOAD=$$asan node --test --test-concurrency=1 \
	    --test-reporter=spec $(SANITIZE_E2E:%=%.test.js)
	@asan=$$($(CC) -print-file-name=libasan.so); \
	    cd tests/e2e && $(SAN_ENV) E2E_BIN_DIR=$(CURDIR)/$(BUILD)/asan \
	    E2E_API_PRELOAD=$$asan node --test --test-concurrency=1 \
	    --test-reporter=spec --test-name-pattern=WH_DRAIN_MS \
	    delivery-faults.test.js

# The e2e files of VALGRIND_E2E (events published three ways, delivered
# signed, bad input) with every dispatcher under valgrind (memcheck):
# fails on any memory error or definite leak, each run's report in
# $(BUILD)/valgrind/. delivery-retry is clean under valgrind too, but one
# of its timing checks (sent_at within 100 ms of the arrival gaps) does
# not hold at valgrind's speed, so it is not the default.
VALGRIND_E2E	?= foundation
VALGRIND	:= valgrind --error-exitcode=99 --leak-check=full \
		   --errors-for-leak-kinds=definite --show-leak-kinds=definite \
		   --log-file=$(CURDIR)/$(BUILD)/valgrind/dispatcher.%p.log

valgrind: deps all
	@rm -rf $(BUILD)/valgrind && mkdir -p $(BUILD)/valgrind
	@cd tests/e2e && { npm ls --silent >/dev/null 2>&1 || npm ci --no-audit --no-fund --silent; }
	@cd tests/e2e && E2E_BIN_DIR=$(CURDIR)/$(BUILD) \
	    E2E_DISPATCHER_WRAPPER="$(VALGRIND)" node --test \
	    --test-concurrency=1 --test-reporter=spec $(VALGRIND_E2E:%=%.test.js)
	@n=0; for f in $(BUILD)/valgrind/*.log; do \
	    grep -q 'ERROR SUMMARY: 0 errors' $$f && continue; \
	    cat $$f; n=$$((n + 1)); done; \
	    [ $$n -eq 0 ] || { echo "valgrind: $$n dispatcher run(s) with" \
	    "errors, or cut short (see $(BUILD)/valgrind/)" >&2; exit 1; }; \
	    echo "valgrind: $$(ls $(BUILD)/valgrind | wc -l) dispatcher runs," \
	    "no memory errors, no definite leaks"

# The kill -9 / Redis-restart scenario (see tests/e2e/delivery-faults.test.js).
test-faults: all
	@cd tests/e2e && E2E_BIN_DIR=$(CURDIR)/$(BUILD) node --test \
	    --test-concurrency=1 delivery-faults.test.js

lint-deploy:
	@.ci/lint-deploy

# The shipped Prometheus rules: syntax, then their unit tests (synthetic
# series under which each alert fires and stays quiet).
lint-monitoring:
	@promtool check rules docker/monitoring/rules.yaml >/dev/null
	@cd docker/monitoring && promtool test rules rules_test.yaml

test: deps
	@$(MAKE) --no-print-directory all
	@$(MAKE) --no-print-directory unit
	@$(MAKE) --no-print-directory sanitize
	@$(MAKE) --no-print-directory fuzz-smoke
	@$(MAKE) --no-print-directory lint-deploy
	@$(MAKE) --no-print-directory lint-monitoring
	@$(MAKE) --no-print-directory e2e
	@$(MAKE) --no-print-directory test-cluster

run: deps
	@$(MAKE) --no-print-directory -s all
	@.ci/run-local

# The bench's own programs: the Kore no-op route (a module run by our kore
# like the api), the delaying TCP proxy put in front of Redis and the bare
# libcurl client (the dispatcher's libcurl ceiling).
BENCH_TOOLS := $(BUILD)/bench/noop.so $(BUILD)/bench/delayproxy \
	$(BUILD)/bench/barecurl
$(BUILD)/bench/noop.so: tests/bench/noop.c $(KORE_TREE)/.patched
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -fPIC -shared -Wall -Wextra $(KORE_CFLAGS) $< -o $@
$(BUILD)/bench/delayproxy: tests/bench/delayproxy.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wall -Wextra $< -o $@

$(BUILD)/bench/barecurl: tests/bench/barecurl.c
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS) -Wall -Wextra $< -o $@ -lcurl

bench: deps all $(BENCH_TOOLS)
	@tests/bench/run

clean:
	rm -rf $(BUILD)

# (Optional: the Docker build stages copy only what the programs need.)
-include tests/fuzz/fuzz.mk

.PHONY: test-faults all deps unit e2e test-cluster sanitize valgrind lint-deploy lint-monitoring test run bench \
	clean

-include $(shell find $(BUILD)/obj -name '*.d' 2>/dev/null)
