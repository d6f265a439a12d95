# Quick start (Debian 12):
#   bash scripts/setup.sh && make demo   installs what building needs, builds, segments the
#                                        bundled sample (the setup step installs make itself)
#   make test                            installs the test references, builds, runs every test
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
# The Python reference environment of the tests (scripts/setup.sh test); outside $(BUILD) so
# that `make clean` keeps its 3 GB.
MEDINFER_VENV ?= $(CURDIR)/.venv
export MEDINFER_VENV
export CCACHE_BASEDIR := $(CURDIR)
# The fuzz and ASan builds carry debug info, which ccache would key by the build folder: CI
# builds in a fresh clone each time. The cost: debug info may name another clone's folder.
export CCACHE_NOHASHDIR := 1
export CCACHE_DIR ?= $(HOME)/.cache/ccache
SAMPLE := tests/fixtures/dicom/totalseg-example
DEMO_OUT := $(BUILD)/demo

.PHONY: all setup setup-test configure build demo test test-isa test-asan fuzz fuzz-smoke bench \
  format format-check clean

all: build

setup:
	@bash scripts/setup.sh demo

setup-test:
	@bash scripts/setup.sh test

# Tests are built when GoogleTest is installed (MEDINFER_BUILD_TESTS=AUTO); `make test`
# requires them.
$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release \
	  -DMEDINFER_PYTHON=$(MEDINFER_VENV)/bin/python $(CMAKE_ARGS)

configure: $(BUILD)/CMakeCache.txt

build: setup configure
	cmake --build $(BUILD) -j $(JOBS)

# The demo builds the CLI only: no test dependencies.
demo: setup configure
	cmake --build $(BUILD) -j $(JOBS) --target medinfer_cli
	@mkdir -p $(DEMO_OUT)
	$(BUILD)/tools/medinfer/medinfer info tests/fixtures/dicom
	$(BUILD)/tools/medinfer/medinfer convert $(SAMPLE) -o $(DEMO_OUT)/totalseg-example.nii.gz
	$(BUILD)/tools/medinfer/medinfer segment -i tests/fixtures/dicom -o $(DEMO_OUT)/segment \
	  -m models/lung-ct-2d --device cpu
	@echo "demo: wrote $(DEMO_OUT)/totalseg-example.nii.gz and $(DEMO_OUT)/segment/ (summary.md, per series seg.dcm, labels.nii.gz, png/)"

test: setup-test configure
	cmake -S . -B $(BUILD) -DMEDINFER_BUILD_TESTS=ON -DMEDINFER_PYTHON=$(MEDINFER_VENV)/bin/python
	cmake --build $(BUILD) -j $(JOBS)
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# The test suite again under a second oneDNN instruction-set limit (after `make test`):
# kernel choices differ by ISA, and tolerances must not depend on one CPU's choices.
test-isa: test
	bash tests/run_isa_limits.sh $(BUILD)

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (preset "asan").
test-asan: setup-test
	cmake --preset asan -DMEDINFER_PYTHON=$(MEDINFER_VENV)/bin/python
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

# libFuzzer (clang): FUZZER=scan_load_fuzzer (default) or onnx_import_fuzzer.
# FUZZ_SECONDS=600 for a long run.
FUZZ_SECONDS ?= 60
fuzz: setup-test
	cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS)
	FUZZER=$(or $(FUZZER),scan_load_fuzzer) bash tests/fuzz/run_fuzz.sh build-fuzz $(FUZZ_SECONDS)

fuzz-smoke: FUZZ_SECONDS=60
fuzz-smoke: fuzz

bench: setup-test
	cmake -S . -B $(BUILD) -DMEDINFER_BUILD_BENCH=ON
	cmake --build $(BUILD) -j $(JOBS)
	bash bench/run_dicom_load.sh $(BUILD)

format:
	git ls-files '*.h' '*.cc' '*.cu' '*.cuh' | xargs clang-format -i

format-check:
	git ls-files '*.h' '*.cc' '*.cu' '*.cuh' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) build-asan build-fuzz
