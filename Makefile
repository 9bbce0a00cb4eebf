#   Workbench - a native Jupyter kernel that turns a notebook into an ML
#   workspace. `make demo` and `make test` are the quick start; every
#   setting below can be overridden on the command line or the environment.

CC        ?= cc
CFLAGS    ?= -O2 -g
LDFLAGS   ?=
PREFIX    ?= /usr/local
DESTDIR   ?=
BINDIR    ?= $(PREFIX)/bin
DATADIR   ?= $(PREFIX)/share
PYTHON    ?= /usr/bin/python3
JUPYTER   ?= /usr/bin/jupyter
SANITIZER ?=
PYTEST_ARGS ?=
BENCH_ARGS ?=

#   Fuzzing (tests/fuzz/README): clang's libFuzzer with AddressSanitizer and
#   UndefinedBehaviorSanitizer, the sources built apart in FUZZ_BUILD.
#   `make fuzz` runs each target FUZZ_TIME seconds; `make test` runs each
#   FUZZ_SHORT seconds and fails on the first crash, leak or finding.
FUZZ_CC     ?= clang
FUZZ_BUILD  ?= build-fuzz
FUZZ_TIME   ?= 60
FUZZ_SHORT  ?= 10
FUZZ_ARGS   ?=
FUZZ_TARGETS ?= msg args cells frame query scorer sweep model

VERSION    = 0.1.0
WARN       = -std=c11 -Wall -Wextra -Wshadow -Wstrict-prototypes
PKGS       = libczmq libzmq libsodium jansson sqlite3 libmicrohttpd

#   Debian packages: what the build needs, and what the tests and the demo
#   need on top (the Jupyter stack, the anchor kernel for benchmarks).
DEB_BUILD  = build-essential pkg-config libczmq-dev libzmq3-dev libsodium-dev \
             libjansson-dev libsqlite3-dev libopenblas0 libmicrohttpd-dev
DEB_TEST   = python3-jupyter-client jupyter-client python3-jupyter-kernel-test \
             python3-nbclient python3-nbformat jupyter-nbconvert jupyter-console \
             python3-ipykernel python3-pytest valgrind curl procps \
             chromium jupyter-notebook nodejs npm
#   The models people bring, and what the Python worker loads them with
#   (tests train them in jobs and serve them).
DEB_TEST  += python3-numpy python3-pandas python3-sklearn python3-joblib python3-xgboost \
             python3-torch python3-yaml python3-cloudpickle
#   The fuzz targets need clang and its sanitizer and libFuzzer runtimes.
DEB_FUZZ   = clang libclang-rt-14-dev
#   Only `make bench` needs the tools it compares with.
DEB_BENCH  = python3-sklearn python3-optuna wrk python3-flask gunicorn nginx-light hey

ifeq ($(SANITIZER),)
BUILD     ?= build
else
BUILD     ?= build-$(SANITIZER)
#   A finding stops the process, so a test sees it fail
CFLAGS    += -fsanitize=$(SANITIZER) -fno-sanitize-recover=all -fno-omit-frame-pointer
LDFLAGS   += -fsanitize=$(SANITIZER)
#   ThreadSanitizer: a race stops the process too; libzmq and czmq are not
#   built with it, so their internals are suppressed (see tests/tsan.supp)
ifeq ($(SANITIZER),thread)
export TSAN_OPTIONS ?= halt_on_error=1 exitcode=66 second_deadlock_stack=1 \
                       suppressions=$(CURDIR)/tests/tsan.supp
#   ThreadSanitizer runs the code 5-15 times slower: the tests' time limits
#   stretch (tests/wbtest.py)
export WORKBENCH_TIME_FACTOR ?= 4
endif
#   The tests that measure memory know what the build is (tests/wbtest.py)
export WORKBENCH_SANITIZER = $(SANITIZER)
endif

#   Includes name their folder: "store/wb_store.h" (lib/), "magics/wb_session.h"
#   and "kernel/wb_msg.h" (the root); lib/layers.sh checks that no include
#   goes up a layer.
WB_CPPFLAGS = -D_GNU_SOURCE -Ilib -I. -I$(BUILD) \
              -DWB_VERSION='"$(VERSION)"'
WB_CFLAGS   = $(WARN) $(CFLAGS) $(shell pkg-config --cflags $(PKGS) 2>/dev/null)
#   OpenBLAS is not linked: lib/train/wb_blas loads it with dlopen when a job
#   trains, so the kernel process never starts its threads.
WB_LIBS     = $(shell pkg-config --libs $(PKGS) 2>/dev/null) -lpthread -lm -ldl

LIB_SRC    = $(wildcard lib/*/*.c) $(wildcard magics/*.c) \
             $(filter-out kernel/main.c,$(wildcard kernel/*.c))
LIB_OBJ    = $(patsubst %.c,$(BUILD)/%.o,$(LIB_SRC)) $(BUILD)/wb_logos.o $(BUILD)/wb_pylib.o $(BUILD)/wb_pyworker.o
LAYERED    = $(wildcard lib/*/*.[ch] magics/*.[ch] kernel/*.[ch])
LOGOS      = share/logo-32x32.png share/logo-64x64.png share/logo-svg.svg

all: $(BUILD)/workbench $(BUILD)/selftest

#   Each object depends on the headers it includes, as the compiler lists
#   them (-MMD writes $(BUILD)/.../x.d, read back below).
$(BUILD)/%.o: %.c $(BUILD)/layers.ok | $(BUILD)
	@mkdir -p $(dir $@)
	$(CC) $(WB_CPPFLAGS) $(WB_CFLAGS) -MMD -MP -c $< -o $@

#   Calls only go down: an include that goes up a layer stops the build.
$(BUILD)/layers.ok: lib/layers.sh $(LAYERED) | $(BUILD)
	sh lib/layers.sh
	@touch $@

-include $(shell find $(BUILD) -name '*.d' 2>/dev/null)

#   The kernel logos and the Python helpers are compiled into the
#   binary, so that it needs no data files beside it.
$(BUILD)/wb_logos.c: $(LOGOS) share/embed.sh | $(BUILD)
	sh share/embed.sh wb_logos $(LOGOS) > $@

$(BUILD)/wb_pylib.c: share/workbench.py share/embed.sh | $(BUILD)
	sh share/embed.sh wb_pylib share/workbench.py > $@

#   The Python worker that serves and batch-scores a user's own models
$(BUILD)/wb_pyworker.c: share/wb_worker.py share/workbench_mlflow.py share/embed.sh | $(BUILD)
	sh share/embed.sh wb_pyworker share/wb_worker.py share/workbench_mlflow.py > $@

$(BUILD)/wb_%.o: $(BUILD)/wb_%.c
	$(CC) -Ilib $(WB_CFLAGS) -c $< -o $@

$(BUILD)/libworkbench.a: $(LIB_OBJ)
	rm -f $@
	ar rcs $@ $^

$(BUILD)/workbench: $(BUILD)/kernel/main.o $(BUILD)/libworkbench.a
	$(CC) $(LDFLAGS) -o $@ $^ $(WB_LIBS)

$(BUILD)/selftest: $(BUILD)/tests/selftest.o $(BUILD)/libworkbench.a
	$(CC) $(LDFLAGS) -o $@ $^ $(WB_LIBS)

$(BUILD):
	mkdir -p $(BUILD)

#   Install the Debian packages that are missing (needs root; does nothing
#   when everything is there). A package counts as there when an installed
#   one provides it too (a nodejs that bundles npm).
deps:
	@provided=$$(dpkg-query -W -f='$${db:Status-Abbrev} $${Provides}\n' 2>/dev/null \
	    | awk '/^ii/ { for (i = 2; i <= NF; i++) { sub(/,$$/, "", $$i); print $$i } }'); \
	missing=""; for p in $(DEB_BUILD) $(DEB_TEST) $(DEB_FUZZ) $(DEB_EXTRA); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'ok installed' \
	        || echo "$$provided" | grep -qx "$$p" \
	        || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	    echo "workbench: installing Debian packages:$$missing"; \
	    apt-get update -q && DEBIAN_FRONTEND=noninteractive \
	        apt-get install -y -q --no-install-recommends $$missing; \
	fi

#   The browser test's driver, playwright-core, from the npm registry at
#   the version package-lock.json pins (it drives Debian's Chromium: no
#   browser is downloaded).
browser-deps: tests/browser/node_modules/.package-lock.json

tests/browser/node_modules/.package-lock.json: tests/browser/package.json tests/browser/package-lock.json
	cd tests/browser && PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 npm ci --no-audit --no-fund

#   The C self-tests, then the kernel driven by real Jupyter clients. The
#   tests do not pass this make's build settings on to the make that
#   binder/postBuild runs, which builds as Binder does.
test: deps
	$(MAKE) all browser-deps
	$(BUILD)/selftest
	$(MAKE) fuzz-short
	env -u MAKEFLAGS -u MAKELEVEL -u BUILD -u SANITIZER \
	    WORKBENCH_BIN=$(CURDIR)/$(BUILD)/workbench $(PYTHON) -m pytest -q \
	    -p no:cacheprovider tests $(PYTEST_ARGS)

check: test

#   The suite again with the kernel under valgrind's memcheck.
memcheck: deps
	$(MAKE) all browser-deps
	valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite \
	    $(BUILD)/selftest
	WORKBENCH_BIN=$(CURDIR)/$(BUILD)/workbench \
	WORKBENCH_KERNEL_PREFIX="valgrind -q --error-exitcode=99 --leak-check=full --errors-for-leak-kinds=definite" \
	    $(PYTHON) -m pytest -q -p no:cacheprovider tests -m "not slow" $(PYTEST_ARGS)

#   ---- Fuzzing ----
#   One libFuzzer target per parser, tests/fuzz/fuzz_TARGET.c, linked with
#   the library built by clang with the sanitizers into FUZZ_BUILD (the
#   rules above, run again with other settings). Each run starts from the
#   corpus kept in the tree, tests/fuzz/corpus/TARGET/ (read only: new
#   inputs go to FUZZ_BUILD/corpus/TARGET/, crashes to
#   FUZZ_BUILD/crashes/TARGET/); `make fuzz-merge` adds the new inputs that
#   reach new code to the tree's corpus. -max_len is per target (the
#   fuzz_TARGET.flags file), memory is capped at 2 GiB. There is no YAML
#   input yet, and HTTP requests are parsed by libmicrohttpd (their bodies
#   are the scorer target's): a parser that arrives gets a target.
FUZZ_SAN    = -fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer
FUZZ_CFLAGS = -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer-no-link
FUZZ_BINS   = $(patsubst %,$(FUZZ_BUILD)/fuzz_%,$(FUZZ_TARGETS))
FUZZ_RUN    = -rss_limit_mb=2048 -timeout=25 -print_final_stats=1

fuzz-build:
	$(MAKE) BUILD=$(FUZZ_BUILD) SANITIZER= CC=$(FUZZ_CC) CFLAGS="$(FUZZ_CFLAGS)" LDFLAGS= \
	    $(FUZZ_BUILD)/libworkbench.a $(FUZZ_BINS)

$(FUZZ_BUILD)/fuzz_%: tests/fuzz/fuzz_%.c tests/fuzz/fuzz.h $(FUZZ_BUILD)/libworkbench.a
	$(FUZZ_CC) $(WB_CPPFLAGS) -Itests/fuzz $(WARN) -O1 -g $(FUZZ_SAN) -fsanitize=fuzzer \
	    $(shell pkg-config --cflags $(PKGS) 2>/dev/null) $< -o $@ \
	    $(FUZZ_BUILD)/libworkbench.a $(WB_LIBS)

#   $(call fuzz_run,TARGET,SECONDS)
fuzz_run = mkdir -p $(FUZZ_BUILD)/corpus/$(1) $(FUZZ_BUILD)/crashes/$(1) && \
    echo "fuzz: $(1) for $(2) s" && \
    $(FUZZ_BUILD)/fuzz_$(1) $(FUZZ_RUN) -max_total_time=$(2) \
        $$(cat tests/fuzz/fuzz_$(1).flags) \
        $$(test -f tests/fuzz/fuzz_$(1).dict && echo -dict=tests/fuzz/fuzz_$(1).dict) \
        -artifact_prefix=$(CURDIR)/$(FUZZ_BUILD)/crashes/$(1)/ $(FUZZ_ARGS) \
        $(CURDIR)/$(FUZZ_BUILD)/corpus/$(1) $(CURDIR)/tests/fuzz/corpus/$(1) \
        > $(FUZZ_BUILD)/fuzz_$(1).log 2>&1 \
    || { tail -n 60 $(FUZZ_BUILD)/fuzz_$(1).log; \
         echo "fuzz: $(1) failed: input in $(FUZZ_BUILD)/crashes/$(1)/, log in $(FUZZ_BUILD)/fuzz_$(1).log"; \
         exit 1; } && grep -h '^stat::number_of_executed_units' $(FUZZ_BUILD)/fuzz_$(1).log

fuzz: fuzz-build
	@$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t),$(FUZZ_TIME)) &&) true

fuzz-short: fuzz-build
	@$(foreach t,$(FUZZ_TARGETS),$(call fuzz_run,$(t),$(FUZZ_SHORT)) &&) true

fuzz-merge: fuzz-build
	@$(foreach t,$(FUZZ_TARGETS),$(FUZZ_BUILD)/fuzz_$(t) -merge=1 -rss_limit_mb=2048 \
	    $$(cat tests/fuzz/fuzz_$(t).flags) tests/fuzz/corpus/$(t) $(FUZZ_BUILD)/corpus/$(t) &&) true

bench:
	$(MAKE) deps DEB_EXTRA="$(DEB_BENCH)"
	$(MAKE) all
	$(PYTHON) tests/bench/bench.py --workbench $(CURDIR)/$(BUILD)/workbench \
	    --markdown $(BUILD)/bench.md $(BENCH_ARGS)

demo: deps
	$(MAKE) all
	$(MAKE) install
	$(PYTHON) tests/demo.py --workbench $(DESTDIR)$(BINDIR)/workbench

#   install and uninstall mirror each other: the binary in BINDIR, the
#   kernelspec (kernel.json and the logos, which the binary writes) in
#   DATADIR/jupyter/kernels/workbench.
KERNELSPEC = $(DESTDIR)$(DATADIR)/jupyter/kernels/workbench
SPEC_FILES = kernel.json logo-32x32.png logo-64x64.png logo-svg.svg

install: $(BUILD)/workbench
	install -d $(DESTDIR)$(BINDIR)
	install -m 755 $(BUILD)/workbench $(DESTDIR)$(BINDIR)/workbench
	rm -rf $(BUILD)/kernelspec
	$(BUILD)/workbench install --prefix $(CURDIR)/$(BUILD)/kernelspec \
	    --binary $(BINDIR)/workbench
	install -d $(KERNELSPEC)
	cd $(BUILD)/kernelspec/share/jupyter/kernels/workbench && \
	    install -m 644 $(SPEC_FILES) $(KERNELSPEC)/

uninstall:
	rm -f $(DESTDIR)$(BINDIR)/workbench
	cd $(KERNELSPEC) 2>/dev/null && rm -f $(SPEC_FILES) || true
	rmdir $(KERNELSPEC) 2>/dev/null || true

clean:
	rm -rf build build-* $(FUZZ_BUILD)

.PHONY: all deps browser-deps test check memcheck fuzz fuzz-build fuzz-short fuzz-merge \
        bench demo install uninstall clean
