# LedgerFS — the two commands that matter: `make run` and `make test`.
# Image targets take MICROKIT_SDK=<path> like every Microkit project.

SHELL := /bin/bash
DATA ?= $(CURDIR)/build/data
MOUNT ?= $(CURDIR)/build/mnt
LISTEN ?= 127.0.0.1:8080
MICROKIT_SDK ?=
# `make fuzz`: seconds per fuzz target.
FUZZ_SECONDS ?= 60
MICROKIT_CONFIG ?= debug
MICROKIT_BOARD ?= qemu_virt_aarch64
RUST_SEL4_GIT ?= https://github.com/seL4/rust-sel4
QEMU ?= qemu-system-aarch64
export QEMU
# The appliance's persistent disk for `make qemu` (a raw image; created blank, 256 MiB).
DISK ?= $(CURDIR)/build/disk.img
export DISK
# `make qemu SERIAL=build/serial.sock` puts the console on a unix socket for `ledgerfs appliance`.
SERIAL ?=
IMAGE_DIR := $(CURDIR)/build/image
SEL4_TARGET := $(CURDIR)/build/sel4/$(MICROKIT_CONFIG)
SEL4_PDS := serial sequencer timer tiles attest blk
# The attest PD's signing key (Go note format, as `ledgerfs init` writes attest.key);
# generated with its verifier key ($(KEY:.key=.vkey)) when absent.
KEY ?= $(CURDIR)/build/attest.key
SEL4_ENV := SEL4_INCLUDE_DIRS=$(abspath $(MICROKIT_SDK))/board/$(MICROKIT_BOARD)/$(MICROKIT_CONFIG)/include
ifneq ($(RUST_SEL4_GIT),https://github.com/seL4/rust-sel4)
SEL4_ENV += CARGO_NET_GIT_FETCH_WITH_CLI=true GIT_CONFIG_COUNT=1 \
  GIT_CONFIG_KEY_0=url.$(RUST_SEL4_GIT).insteadOf GIT_CONFIG_VALUE_0=https://github.com/seL4/rust-sel4
endif
# The cores: each must build for a bare-metal target (proof they are no_std).
CORES := -p ledgerfs-model -p ledgerfs-proto -p ledgerfs-ring -p ledgerfs-sequencer -p ledgerfs-tiles -p ledgerfs-attest -p ledgerfs-blockstore -p ledgerfs-blkring -p ledgerfs-journal -p ledgerfs-snapshot

.PHONY: setup build run test lint nostd unit loom pinned api-check soak sim fuzz image qemu test-image sel4-image sel4-qemu sel4-test-image bench-image sel4-bench-image bench bench-quick clean

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

## test: formatting, lints, the no_std build of every core, all unit/property/e2e tests,
## loom models of the hand-offs, the hand-off tests pinned to one CPU, the API against
## its OpenAPI document (schemathesis), image tests.
test: setup lint nostd unit loom pinned api-check test-image

lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings

nostd:
	cargo build $(CORES) --target aarch64-unknown-none

unit:
	cargo test --workspace

## loom: model checks of every wake-up and hand-off protocol (rings with their close paths, mailbox).
loom:
	RUSTFLAGS="--cfg loom" cargo test -p ledgerfs-ring --release --lib --target-dir target/loom

## api-check: schemathesis `--checks all` against docs/openapi.yaml and a fresh daemon
## (bounded: API_CHECK_EXAMPLES per operation, default 30, fixed seed).
# The daemon binary the workspace tests built (`cargo build -p ledgerfs` would unify
# features differently and rebuild it).
api-check:
	cargo test --workspace --no-run
	./scripts/api-check.sh target/debug/ledgerfs

## soak: the SIGKILL-under-load crash trials in long mode (SOAK_ROUNDS, default 2,000),
## then the load-with-faults soak (SOAK_SECONDS, default 300: writers, stream and FUSE
## readers on a filling tmpfs, SIGTERM and SIGKILL midway; prints its counts).
SOAK_ROUNDS ?= 2000
SOAK_SECONDS ?= 300
soak:
	LEDGERFS_CRASH_ROUNDS=$(SOAK_ROUNDS) cargo test -p ledgerfs --test e2e_crash -- --nocapture
	LEDGERFS_SOAK_SECONDS=$(SOAK_SECONDS) cargo test -p ledgerfs --test e2e_soak -- --nocapture

## sim: the deterministic pipeline simulator (sim/) on new seeds until stopped, printing
## seeds/s and the faults it injected; SIM_STEPS per trial (default 400). `make test`
## runs seeds 0..100 (sim/tests/budget.rs). SEED=<n> make sim replays one seed exactly.
SIM_STEPS ?= 400
sim:
	cargo build --release -p ledgerfs-sim
	./target/release/ledgerfs-sim --steps $(SIM_STEPS)

## pinned: the hand-off tests 100 times on one CPU (taskset -c 0), each with a deadline.
pinned:
	./scripts/pinned-tests.sh 100

## fuzz: every cargo-fuzz target (fuzz/, nightly + cargo-fuzz, installed when missing)
## for FUZZ_SECONDS each, printing executions per target; FUZZ_TARGETS="a b" picks some,
## FUZZ_HOSTED=1 adds the hosted config target. `make test` replays the corpora on stable.
fuzz:
	FUZZ_SECONDS=$(FUZZ_SECONDS) ./scripts/fuzz.sh

## image: the seL4 Microkit image (pds/sel4, system.xml) in build/image/loader.img;
## KEY=<attest.key> is compiled into the attest PD only (generated into build/ if absent).
## qemu: boots it on the console; test-image: boots it headless and drives the serial line.
## bench-image: the appliance's boot benchmark (reset to ready with 1M entries from its
## snapshot, next to a blank disk's boot); BOOT_N= sets the entries.
BOOT_N ?= 1000000
image test-image qemu bench-image:
	@if [ -z "$(MICROKIT_SDK)" ]; then \
	  echo "$@: skipped: set MICROKIT_SDK=<path to a Microkit 2.x SDK> to build and boot the seL4 image"; \
	else \
	  $(MAKE) --no-print-directory sel4-$@; \
	fi

# One cargo invocation per PD (building several together unifies sel4-microkit's features).
# RUST_SEL4_GIT redirects the rust-sel4 git URL of pds/sel4/Cargo.toml (e.g. to a mirror).
sel4-image:
	@test -d "$(MICROKIT_SDK)/board/$(MICROKIT_BOARD)/$(MICROKIT_CONFIG)" || \
	  { echo "image: no $(MICROKIT_BOARD)/$(MICROKIT_CONFIG) in MICROKIT_SDK=$(MICROKIT_SDK)"; exit 1; }
	@mkdir -p $(IMAGE_DIR)
	@if [ ! -f "$(KEY)" ]; then \
	  echo "image: no KEY=$(KEY): generating one (ledgerfs init in a temporary directory)"; \
	  nice -n 10 cargo build -q -p ledgerfs && tmp=$$(mktemp -d) && \
	  ./target/debug/ledgerfs init --data $$tmp/data >/dev/null && mkdir -p $$(dirname "$(KEY)") && \
	  install -m 600 $$tmp/data/attest.key "$(KEY)" && cp $$tmp/data/log.vkey "$(KEY:.key=.vkey)" && \
	  rm -rf $$tmp; \
	fi
	@set -e; for pd in $(SEL4_PDS); do \
	  echo "image: building PD $$pd"; \
	  key=; [ $$pd = attest ] && key="LEDGERFS_ATTEST_KEY=$(abspath $(KEY))"; \
	  (cd pds/sel4 && $(SEL4_ENV) env $$key nice -n 10 cargo build --release -p $$pd --target-dir $(SEL4_TARGET)); \
	  cp $(SEL4_TARGET)/aarch64-sel4/release/$$pd.elf $(IMAGE_DIR)/; \
	done
	$(MICROKIT_SDK)/bin/microkit system.xml --search-path $(IMAGE_DIR) --board $(MICROKIT_BOARD) \
	  --config $(MICROKIT_CONFIG) -o $(IMAGE_DIR)/loader.img -r $(IMAGE_DIR)/report.txt
	@echo "image: $(IMAGE_DIR)/loader.img"

sel4-qemu: sel4-image
	./qemu/boot.sh $(IMAGE_DIR)/loader.img $(if $(SERIAL),--socket $(SERIAL))

sel4-test-image: sel4-image
	nice -n 10 cargo build -q -p ledgerfs-attest --example verify_checkpoint
	nice -n 10 cargo build -q -p ledgerfs
	python3 qemu/test_image.py $(IMAGE_DIR)/loader.img $(IMAGE_DIR)/serial.log $(KEY) \
	  target/debug/examples/verify_checkpoint target/debug/ledgerfs

sel4-bench-image: sel4-image
	python3 qemu/bench_boot.py $(IMAGE_DIR)/loader.img $(CURDIR)/build/bench-boot $(BOOT_N)

## bench: the full benchmark suite (criterion micro benches, the daemon over HTTP against
## PostgreSQL 15, FUSE, profile) into bench/report.md; BENCH_ARGS=--ten-million adds 10M.
## TIGERBEETLE=/path/to/tigerbeetle (0.17) adds its own benchmark beside LedgerFS (bench-quick too).
bench: build
	./bench/run.sh full $(BENCH_ARGS)

## bench-quick: the same suite with smaller runs, in under two minutes.
bench-quick: build
	./bench/run.sh quick $(BENCH_ARGS)

clean:
	cargo clean
	rm -rf build
