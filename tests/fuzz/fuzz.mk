# tests/fuzz/fuzz.mk: the libFuzzer targets, included by the Makefile.
#
#   make fuzz        every target for FUZZ_SECONDS (default 60) each
#   make fuzz-smoke  every target for FUZZ_SMOKE_SECONDS (3) on its
#                    committed corpus; part of make test
#   make fuzz-merge  add what make fuzz found that covers new code to the
#                    committed corpus (tests/fuzz/corpus/<target>/)
#
# Targets are built with clang (-fsanitize=fuzzer,address,undefined) in a
# tree of their own, $(BUILD)/fuzz, that never mixes with normal objects.
# tests/fuzz/run runs one; it explains where a failing input is kept.

FUZZ_CC		?= clang
FUZZ_BUILD	:= $(BUILD)/fuzz
FUZZ_SECONDS	?= 60
FUZZ_SMOKE_SECONDS ?= 3
FUZZ_SAN	:= -fsanitize=address,undefined -fno-sanitize-recover=all
FUZZ_CFLAGS	:= -g -O1 -fno-omit-frame-pointer $(FUZZ_SAN) \
		   -fsanitize=fuzzer-no-link -Iapi -Idispatcher -Itests/fuzz \
		   $(KORE_CFLAGS)
FUZZ_TARGETS	:= $(sort $(patsubst tests/fuzz/fuzz_%.c,%,\
		   $(wildcard tests/fuzz/fuzz_*.c)))
FUZZ_BIN	:= $(FUZZ_TARGETS:%=$(FUZZ_BUILD)/fuzz_%)
FUZZ_COMMON_OBJ	:= $(COMMON_SRC:%.c=$(FUZZ_BUILD)/obj/%.o) \
		   $(FUZZ_BUILD)/obj/gen/lua_scripts.o

# Product code a target links besides common/, and extra libraries.
FUZZ_SRC_query	:= api/query.c
FUZZ_SRC_cursor	:= api/cursor.c
FUZZ_SRC_stream	:= dispatcher/entry.c
FUZZ_SRC_http	:= api/kore/http_frame.c
FUZZ_LIBS_validate := -lcurl

$(FUZZ_BUILD)/obj/%.o: %.c
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WH_CFLAGS) $(FUZZ_CFLAGS) -MMD -MP -c $< -o $@

$(FUZZ_BUILD)/obj/gen/lua_scripts.o: $(LUA_GEN)
	@mkdir -p $(dir $@)
	$(FUZZ_CC) $(WH_CFLAGS) $(FUZZ_CFLAGS) -c $< -o $@

define FUZZ_LINK
$(FUZZ_BUILD)/fuzz_$(1): $(FUZZ_BUILD)/obj/tests/fuzz/fuzz_$(1).o \
    $(patsubst %.c,$(FUZZ_BUILD)/obj/%.o,$(FUZZ_SRC_$(1))) $(FUZZ_COMMON_OBJ)
	$$(FUZZ_CC) $$(FUZZ_SAN) -fsanitize=fuzzer -o $$@ $$^ \
	    $$(LDLIBS_COMMON) $$(FUZZ_LIBS_$(1))
endef
$(foreach t,$(FUZZ_TARGETS),$(eval $(call FUZZ_LINK,$(t))))

fuzz-build: $(FUZZ_BIN)

fuzz: $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    tests/fuzz/run $(FUZZ_BUILD) $$t $(FUZZ_SECONDS); done

fuzz-smoke: $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    tests/fuzz/run $(FUZZ_BUILD) $$t $(FUZZ_SMOKE_SECONDS); done

fuzz-merge: $(FUZZ_BIN)
	@set -e; for t in $(FUZZ_TARGETS); do \
	    [ -d $(FUZZ_BUILD)/work/$$t ] || continue; \
	    $(FUZZ_BUILD)/fuzz_$$t -merge=1 tests/fuzz/corpus/$$t \
	    $(FUZZ_BUILD)/work/$$t 2>&1 | grep -E '^MERGE-OUTER: [0-9]+ new' \
	    | sed "s|^MERGE-OUTER|$$t|"; done

.PHONY: fuzz fuzz-build fuzz-smoke fuzz-merge

-include $(shell find $(FUZZ_BUILD)/obj -name '*.d' 2>/dev/null)
