# frontdesk — plain GNU make.
#
#   make          install missing Debian packages, build ./frontdesk
#   make run      ... then run it on the built-in model
#   make test     ... build with -Werror and run every CMocka suite
#   make asan     the same suites under AddressSanitizer + UBSan
#   make bench    engine and store benchmarks (see tools/bench.sh; BENCH_QUICK=1)
#   make fuzz     libFuzzer runs of every parser (FUZZ_SECONDS each; clang)
#   make soak     30 minutes of steady use, watching memory and descriptors
#   make mutate   mutation testing: which single-line changes the suites miss
#   make model    train the built-in model (tools/train_model.sh)
#   make eval-model  its held-out figures (frontdesk eval, tools/intent_match.c)
#   make install  the binary, the built-in model, the man page (PREFIX, DESTDIR)
#   make uninstall   remove what make install installed
#
# Sources are found by directory: engine/ train/ net/ storage/ ui/ util/ form
# a library that both the binary (app/) and every tests/test_*.c suite link
# against; app/ without main.c forms a second one, so suites and tools can
# use app modules too.

CC      ?= cc
BUILD   ?= build
PKGS    := ncursesw sqlite3 openblas libcurl jansson libcrypto libmicrohttpd libpq
# Libraries without a pkg-config file (tools/deps.sh checks their headers).
NOPC_LIBS := -lcsv
SAN     ?=
OPT     ?= -O2

WARN    := -std=c11 -Wall -Wextra -Wpedantic -Werror
DEFS    := -D_GNU_SOURCE
# Evaluated lazily so that `make deps` can install the packages first.
PKG_CFLAGS = $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
PKG_LIBS   = $(shell pkg-config --libs $(PKGS) 2>/dev/null)
CMOCKA_LIBS = $(shell pkg-config --libs cmocka 2>/dev/null)
CFLAGS_ALL = $(WARN) $(DEFS) $(OPT) -g $(SAN) -I. $(PKG_CFLAGS) $(CFLAGS)
LDLIBS_ALL = $(PKG_LIBS) $(NOPC_LIBS) -lpthread -lm $(LDLIBS)

LIB_SRC  := $(sort $(wildcard engine/*.c train/*.c net/*.c storage/*.c ui/*.c util/*.c))
APP_SRC  := $(sort $(wildcard app/*.c))
TEST_SRC := $(sort $(wildcard tests/test_*.c))
TESTLIB_SRC := $(sort $(filter-out $(TEST_SRC),$(wildcard tests/*.c)))
TOOL_SRC := $(sort $(wildcard tools/*.c))
# libFuzzer harnesses (tests/fuzz/fuzz.h): each is also linked with
# tests/fuzz/replay.c into a suite that replays its corpus and crash files.
FUZZ_SRC := $(sort $(wildcard tests/fuzz/fuzz_*.c))

LIB_OBJ  := $(LIB_SRC:%.c=$(BUILD)/%.o)
APP_OBJ  := $(APP_SRC:%.c=$(BUILD)/%.o)
TESTLIB_OBJ := $(TESTLIB_SRC:%.c=$(BUILD)/%.o)
TEST_BIN := $(TEST_SRC:tests/%.c=$(BUILD)/tests/%)
TOOL_BIN := $(TOOL_SRC:tools/%.c=$(BUILD)/tools/%)
FUZZ_BIN := $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/tests/fuzz/%)
APPLIB_OBJ := $(filter-out $(BUILD)/app/main.o,$(APP_OBJ))
LIB      := $(BUILD)/libfrontdesk.a
APPLIB   := $(BUILD)/libfrontdesk_app.a
BIN      := $(BUILD)/frontdesk

.PHONY: all deps run test asan bench clean check-tests fuzz-targets model eval-model install uninstall mutate fuzz soak
.DEFAULT_GOAL := all
# Suites' and tools' objects are kept (not removed as intermediates), so a
# second make test relinks nothing.
.SECONDARY:

all: $(BIN) | deps
	@ln -sf $(BIN) frontdesk

deps:
	@tools/deps.sh

$(BUILD)/%.o: %.c | deps
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -MMD -MP -c $< -o $@

$(LIB): $(LIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(APPLIB): $(APPLIB_OBJ)
	@rm -f $@
	$(AR) rcs $@ $^

$(BIN): $(APP_OBJ) $(LIB)
	$(CC) $(CFLAGS_ALL) -o $@ $(APP_OBJ) $(LIB) $(LDLIBS_ALL)

$(BUILD)/tests/%: $(BUILD)/tests/%.o $(TESTLIB_OBJ) $(APPLIB) $(LIB)
	$(CC) $(CFLAGS_ALL) -o $@ $< $(TESTLIB_OBJ) $(APPLIB) $(LIB) $(LDLIBS_ALL) $(CMOCKA_LIBS)

$(BUILD)/tools/%: $(BUILD)/tools/%.o $(APPLIB) $(LIB)
	$(CC) $(CFLAGS_ALL) -o $@ $(filter %.o,$^) $(APPLIB) $(LIB) $(LDLIBS_ALL)

# Parts of a tool in several files live in tools/parts/ (not a binary each).
$(BUILD)/tools/bench_store: $(BUILD)/tools/parts/bench_store_cluster.o

# A harness with the replay main() (the shorter stem wins over tests/%).
$(BUILD)/tests/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(BUILD)/tests/fuzz/replay.o $(BUILD)/tests/testutil.o \
                            $(APPLIB) $(LIB)
	$(CC) $(CFLAGS_ALL) -o $@ $^ $(LDLIBS_ALL) $(CMOCKA_LIBS)

# The same harness with libFuzzer's main() (make fuzz builds these with
# clang, SAN=-fsanitize=fuzzer-no-link,...; see tools/fuzz.sh).
$(BUILD)/fuzz/fuzz_%: $(BUILD)/tests/fuzz/fuzz_%.o $(APPLIB) $(LIB)
	@mkdir -p $(dir $@)
	$(CC) $(CFLAGS_ALL) -fsanitize=fuzzer -o $@ $^ $(LDLIBS_ALL)
fuzz-targets: $(FUZZ_SRC:tests/fuzz/%.c=$(BUILD)/fuzz/%)

# The layout check first (which folder may include which), then the test
# suites, run from the repository root with FRONTDESK_BIN pointing at the
# binary built alongside them (for the command-line tests).
check-tests: $(BIN) $(TEST_BIN) $(TOOL_BIN) $(FUZZ_BIN)
	@tools/check_layout.sh && echo "PASS layout (tools/check_layout.sh: includes follow README's dependency rules)"
	@FRONTDESK_BIN=$(BIN) FRONTDESK_BUILD=$(BUILD) tools/run_tests.sh $(TEST_BIN) $(FUZZ_BIN)

test: | deps
	@$(MAKE) --no-print-directory check-tests

asan: | deps
	@$(MAKE) --no-print-directory BUILD=build-asan OPT=-O1 \
	  SAN="-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer" \
	  check-tests

run: all
	@tools/run.sh $(BIN)

# Train the built-in model (long: see models/README.md; resumable).
model: all $(BUILD)/tools/train_tokenizer
	@tools/train_model.sh $(BIN)

# Its validation figures through `frontdesk eval`: a set of the held-out
# split (--make-set), a run of the model on its first EVAL_LIMIT items
# (perplexity, chrF, ROUGE-L, replies; stored in EVAL_DB, a throwaway store
# unless given), then the intent-match rate of the run's replies
# (tools/intent_match.c).  EVAL_FLAGS adds options to the eval, e.g.
# "--threads 2".  tools/eval_model.c still gives the model card's figures.
EVAL_MODEL  ?= models/frontdesk-cs.gguf
EVAL_SHARED ?= $(or $(FRONTDESK_SHARED),../shared)
EVAL_LIMIT  ?= 200
EVAL_DB     ?=
eval-model: all $(BUILD)/tools/intent_match
	@if [ ! -f $(EVAL_MODEL) ]; then \
	  echo "eval-model: skipped: $(EVAL_MODEL) not found (make model trains it)"; \
	elif [ ! -d $(EVAL_SHARED)/data ]; then \
	  echo "eval-model: skipped: $(EVAL_SHARED)/data not found (the corpora live in ../shared)"; \
	else \
	  tmp=$$(mktemp -d) && trap 'rm -rf "$$tmp"' EXIT && db="$(EVAL_DB)" && db=$${db:-$$tmp/eval.db} && \
	  $(BIN) eval --make-set --data $(EVAL_SHARED)/data --split validation --out $$tmp/heldout.jsonl && \
	  $(BIN) eval --model $(EVAL_MODEL) --set $$tmp/heldout.jsonl --limit $(EVAL_LIMIT) --db "$$db" \
	    $(EVAL_FLAGS) && \
	  $(BUILD)/tools/intent_match --data $(EVAL_SHARED)/data --set $$tmp/heldout.jsonl --db "$$db"; \
	fi

bench: | deps
	@$(MAKE) --no-print-directory BUILD=build-bench build-bench/frontdesk \
	  $(TOOL_SRC:tools/%.c=build-bench/tools/%)
	@tools/bench.sh build-bench

# libFuzzer runs (not in make test): tools/fuzz.sh installs clang if
# missing, builds every tests/fuzz/fuzz_*.c harness with ASan and UBSan into
# build-fuzz-lf, runs each for FUZZ_SECONDS on a copy of its seed corpus
# (new coverage merged back while the corpus stays small), keeps crashes in
# tests/fuzz/crashes/<name>/ and reports executions and coverage
# (build-fuzz-lf/fuzz-report.txt).  FUZZ_ONLY="gguf tokenizer" runs some,
# FUZZ_JOBS=2 two at a time.
FUZZ_SECONDS ?= 60
FUZZ_ONLY ?=
FUZZ_JOBS ?= 1
fuzz:
	@FUZZ_JOBS=$(FUZZ_JOBS) tools/fuzz.sh $(FUZZ_SECONDS) $(FUZZ_ONLY)

# Long runs (not in make test): the TUI generating, a rater and a serve
# under load for SOAK_MINUTES; resident memory, descriptors and database
# bytes per request reported (tools/soak.sh).
SOAK_MINUTES ?= 30
soak: all $(BUILD)/tools/bench_serve
	@tools/soak.sh $(BUILD) $(SOAK_MINUTES)

# Mutation testing (tools/mutate; README "Mutation testing"): single-line
# mutants of app/, storage/, ui/, the sampler and prompt fitting, each built
# and tested in a scratch copy of HEAD under /tmp; prints the survivors and
# the score per folder, writes $(BUILD)/mutate.json.  MUTATE_FLAGS adds
# options ("--max-per-file 40", "--worktree", "--seed 2", ...).
MUTATE_FLAGS ?=
mutate: | deps
	@mkdir -p $(BUILD)
	@tools/mutate --max-per-file 20 --report $(BUILD)/mutate.json $(MUTATE_FLAGS) \
	  app/ storage/ ui/ engine/sampler.c engine/prompt.c

# make install [PREFIX=/usr/local] [DESTDIR=staging]: the binary; the
# built-in model (and its tokenizer, for `train --vocab`) in
# PREFIX/share/frontdesk, where the binary looks for it (beside itself:
# its directory's ../share/frontdesk, so a DESTDIR staging tree or a moved
# PREFIX works too); the man page; the licence and the model card.  It
# builds $(BIN) first if needed (so: make, then sudo make install).  `make
# uninstall` removes exactly these files (INSTALLED) and the two directories
# that are frontdesk's own.
PREFIX  ?= /usr/local
INSTALL ?= install
INST     = $(DESTDIR)$(PREFIX)
INSTALLED := bin/frontdesk share/frontdesk/frontdesk-cs.gguf share/frontdesk/frontdesk-vocab.gguf \
             share/man/man1/frontdesk.1 share/doc/frontdesk/LICENSE share/doc/frontdesk/frontdesk-cs.md

install: $(BIN)
	$(INSTALL) -d "$(INST)/bin" "$(INST)/share/frontdesk" "$(INST)/share/man/man1" "$(INST)/share/doc/frontdesk"
	$(INSTALL) -m 0755 $(BIN) "$(INST)/bin/frontdesk"
	$(INSTALL) -m 0644 models/frontdesk-cs.gguf models/frontdesk-vocab.gguf "$(INST)/share/frontdesk/"
	$(INSTALL) -m 0644 doc/frontdesk.1 "$(INST)/share/man/man1/frontdesk.1"
	$(INSTALL) -m 0644 LICENSE "$(INST)/share/doc/frontdesk/LICENSE"
	$(INSTALL) -m 0644 models/README.md "$(INST)/share/doc/frontdesk/frontdesk-cs.md"

uninstall:
	for f in $(INSTALLED); do rm -f "$(INST)/$$f"; done
	rmdir "$(INST)/share/frontdesk" "$(INST)/share/doc/frontdesk" 2>/dev/null || true

clean:
	rm -rf build build-asan build-bench build-fuzz-lf frontdesk

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)
