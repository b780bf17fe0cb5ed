# LedgerFS — the two commands that matter: `make run` and `make test`.
# Image targets take MICROKIT_SDK=<path> like every Microkit project.

SHELL := /bin/bash
DATA ?= $(CURDIR)/build/data
MOUNT ?= $(CURDIR)/build/mnt
LISTEN ?= 127.0.0.1:8080
MICROKIT_SDK ?=
MICROKIT_CONFIG ?= debug
# The cores: each must build for a bare-metal target (proof they are no_std).
CORES := -p ledgerfs-model -p ledgerfs-proto -p ledgerfs-ring -p ledgerfs-sequencer -p ledgerfs-tiles -p ledgerfs-attest -p ledgerfs-blockstore

.PHONY: setup build run test lint nostd unit image qemu test-image bench bench-quick clean

build/.setup: scripts/setup.sh rust-toolchain.toml
	./scripts/setup.sh
	@mkdir -p build && touch $@

setup: build/.setup

build: setup
	cargo build --release -p ledgerfs

## run: the hosted daemon on its embedded tlog-tiles store (created on first run),
## with the ledger mounted read-only at $(MOUNT); Ctrl-C unmounts and stops.
run: build
	@test -f $(DATA)/ledgerfs.toml || ./target/release/ledgerfs init --data $(DATA)
	./target/release/ledgerfs serve --data $(DATA) --listen $(LISTEN) --mount $(MOUNT)

## test: formatting, lints, the no_std build of every core, all unit/property/e2e tests, image tests.
test: setup lint nostd unit test-image

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

nostd:
	cargo build $(CORES) --target aarch64-unknown-none

unit:
	cargo test --workspace

image test-image qemu:
	@if [ -z "$(MICROKIT_SDK)" ]; then \
	  echo "$@: skipped: set MICROKIT_SDK=<path to a Microkit 2.x SDK> to build and boot the seL4 image"; \
	else \
	  echo "$@: the seL4 image is not built yet (see the seL4 issue)"; exit 1; \
	fi

## bench: the full benchmark suite (criterion micro benches, the daemon over HTTP against
## PostgreSQL 15, FUSE, profile) into bench/report.md; BENCH_ARGS=--ten-million adds 10M.
bench: build
	./bench/run.sh full $(BENCH_ARGS)

## bench-quick: the same suite with smaller runs, in under two minutes.
bench-quick: build
	./bench/run.sh quick $(BENCH_ARGS)

clean:
	cargo clean
	rm -rf build
