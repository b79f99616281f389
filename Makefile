# strata's two front doors: `make demo` and `make check`. Both install any
# missing Debian packages first (as root; otherwise they print the command),
# then build with meson + ninja.
#
#   make demo     build, then run the demo on the embedded default store
#   make check    check the formatting, build normal, ASan+UBSan and fuzzing
#                 configurations, then run the whole suite (unit, end-to-end,
#                 bounded fuzzing)
#   make format   clang-format every C file in place

SHELL := /bin/bash
BUILD ?= build
ASAN_BUILD ?= build-asan
FUZZ_BUILD ?= build-fuzz

# Everything the build, the tests and the demo need, by Debian package name.
PACKAGES := meson ninja-build pkg-config gcc clang libclang-rt-14-dev \
            libsqlite3-dev libssl-dev libcmocka-dev sqlite3 coreutils util-linux \
            libfuse3-dev fuse3 clang-format libyaml-dev strace python3 \
            libnfs-dev libnfs-utils

.PHONY: all deps build build-asan build-fuzz check demo format format-check clean

all: build

deps:
	@missing=$$(for p in $(PACKAGES); do \
	    dpkg-query -W -f='$${Status}\n' $$p 2>/dev/null | grep -q 'install ok installed' || echo $$p; \
	  done); \
	if [ -n "$$missing" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing: $$missing"; \
	    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq $$missing; \
	  else \
	    echo "missing packages: $$missing"; \
	    echo "install them with: sudo apt-get install -y $$missing"; \
	    exit 1; \
	  fi; \
	fi

$(BUILD)/build.ninja:
	meson setup $(BUILD)

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) -Db_sanitize=address,undefined -Db_lundef=false

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) -Dfuzz=true -Dtests=disabled

build: deps $(BUILD)/build.ninja
	ninja -C $(BUILD)

build-asan: deps $(ASAN_BUILD)/build.ninja
	ninja -C $(ASAN_BUILD)

build-fuzz: deps $(FUZZ_BUILD)/build.ninja
	ninja -C $(FUZZ_BUILD) fuzz_manifest fuzz_config fuzz_registry fuzz_serve_proto \
	  fuzz_nfs_rpc

check: format-check build build-asan build-fuzz
	UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
	ASAN_OPTIONS=detect_leaks=1:abort_on_error=0 \
	  tests/run $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)

demo: build
	demo/run $(BUILD)/strata

format:
	clang-format -i $$(git ls-files '*.c' '*.h')

format-check: deps
	clang-format --dry-run --Werror $$(git ls-files '*.c' '*.h')

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(FUZZ_BUILD)
