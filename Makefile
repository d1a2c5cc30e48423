# jpegrestore — `make demo` and `make test` are the two entry points; both install what is missing
# first (scripts/setup.sh is idempotent).

SHELL := /bin/bash
export PATH := $(PATH):/usr/local/go/bin
export JPEGRESTORE_ORT_LIB ?= $(CURDIR)/.deps/onnxruntime/libonnxruntime.so.1

BIN   := bin/jpegrestore
# Debian's python3-torch is visible only to /usr/bin/python3, not to other pythons on PATH.
PYTHON := /usr/bin/python3
DEMO  := .demo/archive

.PHONY: all setup build demo test test-short bench fuzz clean gcs-emulator

all: build

setup:
	@scripts/setup.sh

build: setup
	go build -o $(BIN) ./cmd/jpegrestore

# The demo archive is made from public-domain/CC0 photos that python3-skimage ships (never from
# ../shared/data). It holds a non-JPEG and a truncated file on purpose: the restore records them
# (skipped and failed) and exits 3, which the demo expects. A rerun skips what is done.
demo: build
	@/usr/bin/python3 scripts/make_demo_archive.py $(DEMO)
	@$(BIN) doctor
	@echo
	@$(BIN) probe $(DEMO) | tail -n 12; echo
	@$(BIN) restore --preset fast --in $(DEMO) --out .demo/restored; rc=$$?; \
	  if [ $$rc -ne 0 ] && [ $$rc -ne 3 ]; then exit $$rc; fi
	@echo; echo "restored images: .demo/restored/   report: .demo/restored/_report/report.html"

test: setup
	go vet ./...
	go test -count=1 -timeout 30m ./...
	$(PYTHON) -m pytest -q -p no:cacheprovider training

test-short: setup
	go test -short ./...

# Benchmarks report ratios against a baseline run side by side, e.g. libjpeg-turbo vs image/jpeg.
bench: setup
	go test -run '^$$' -bench . -benchmem ./jpeg ./quality
	go test -run '^$$' -bench . -benchtime 10x ./gpuworker
	go test -run '^$$' -bench PipelineEfficiency -benchtime 1x ./jobs

FUZZTIME ?= 30s
fuzz: setup
	go test -run '^$$' -fuzz FuzzParse -fuzztime $(FUZZTIME) ./jpeg
	go test -run '^$$' -fuzz FuzzDecode -fuzztime $(FUZZTIME) ./jpeg

# A local GCS (fake-gcs-server, in memory) on 127.0.0.1:4443 whose bucket "archive" holds the
# demo archive; point jpegrestore at it with STORAGE_EMULATOR_HOST=127.0.0.1:4443.
gcs-emulator: build
	@/usr/bin/python3 scripts/make_demo_archive.py .demo/gcs/archive/photos
	go build -o bin/fake-gcs-server github.com/fsouza/fake-gcs-server
	bin/fake-gcs-server -scheme http -host 127.0.0.1 -port 4443 -public-host 127.0.0.1 -backend memory -data .demo/gcs

clean:
	rm -rf bin .demo
