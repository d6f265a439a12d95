# Quick start:  make demo   (installs what is missing, builds, segments the bundled sample)
#               make test   (builds and runs every test)
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_ARGS ?=
export CCACHE_BASEDIR := $(CURDIR)
export CCACHE_DIR ?= $(HOME)/.cache/ccache
SAMPLE := tests/fixtures/dicom/totalseg-example
DEMO_OUT := $(BUILD)/demo

.PHONY: all setup configure build demo test test-asan fuzz fuzz-smoke bench format format-check clean

all: build

setup:
	@bash scripts/setup.sh $(BUILD)

$(BUILD)/CMakeCache.txt:
	cmake -S . -B $(BUILD) -G Ninja -DCMAKE_BUILD_TYPE=Release $(CMAKE_ARGS)

configure: $(BUILD)/CMakeCache.txt

build: setup configure
	cmake --build $(BUILD) -j $(JOBS)

demo: build
	@mkdir -p $(DEMO_OUT)
	$(BUILD)/tools/medinfer/medinfer info tests/fixtures/dicom
	$(BUILD)/tools/medinfer/medinfer convert $(SAMPLE) -o $(DEMO_OUT)/totalseg-example.nii.gz
	$(BUILD)/tools/medinfer/medinfer segment -i tests/fixtures/dicom -o $(DEMO_OUT)/segment \
	  -m models/lung-ct-2d --device cpu
	@echo "demo: wrote $(DEMO_OUT)/totalseg-example.nii.gz and $(DEMO_OUT)/segment/ (summary.md, per series seg.dcm, labels.nii.gz, png/)"

test: build
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS)

# Unit tests under AddressSanitizer + UndefinedBehaviorSanitizer (preset "asan").
test-asan: setup
	cmake --preset asan
	cmake --build --preset asan -j $(JOBS)
	ctest --preset asan -j $(JOBS)

# libFuzzer (clang): FUZZER=scan_load_fuzzer (default) or onnx_import_fuzzer.
# FUZZ_SECONDS=600 for a long run.
FUZZ_SECONDS ?= 60
fuzz: setup
	cmake --preset fuzz
	cmake --build --preset fuzz -j $(JOBS)
	FUZZER=$(or $(FUZZER),scan_load_fuzzer) bash tests/fuzz/run_fuzz.sh build-fuzz $(FUZZ_SECONDS)

fuzz-smoke: FUZZ_SECONDS=60
fuzz-smoke: fuzz

bench: setup
	cmake -S . -B $(BUILD) -DMEDINFER_BUILD_BENCH=ON
	cmake --build $(BUILD) -j $(JOBS)
	bash bench/run_dicom_load.sh $(BUILD)

format:
	git ls-files '*.h' '*.cc' '*.cu' '*.cuh' | xargs clang-format -i

format-check:
	git ls-files '*.h' '*.cc' '*.cu' '*.cuh' | xargs clang-format --dry-run --Werror

clean:
	rm -rf $(BUILD) build-asan build-fuzz
