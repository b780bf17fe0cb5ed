#!/usr/bin/env bash
# Runs the whole benchmark suite: `bench/run.sh quick|full [ledgerfs-bench options]`.
# Called by `make bench` (full) and `make bench-quick` (under two minutes) after the
# release build of the daemon. Installs missing tools (scripts/bench-setup.sh), builds
# the bench binary, runs the criterion micro benchmarks, then the macro suite, which
# writes bench/report.md, bench/results.json and bench/*.svg.
set -euo pipefail
cd "$(dirname "$0")/.."

mode=${1:?usage: bench/run.sh quick|full [ledgerfs-bench options]}
shift
case "$mode" in
  quick) criterion_args=(); bench_args=(--quick) ;;
  full) criterion_args=(--warm-up-time 1 --measurement-time 4 --sample-size 20); bench_args=() ;;
  *) echo "bench/run.sh: mode must be quick or full" >&2; exit 2 ;;
esac

./scripts/bench-setup.sh
cargo build --release -p ledgerfs
cargo build --release -p ledgerfs-bench
# Fresh criterion results only, so the report never mixes in an older run.
rm -rf target/criterion
cargo bench -p ledgerfs-model -p ledgerfs-tiles -p ledgerfs-attest -p ledgerfs-sequencer -p ledgerfs-ring \
  --bench entry --bench tiles --bench sign --bench sequencer --bench ring -- "${criterion_args[@]}"
./target/release/ledgerfs-bench "${bench_args[@]}" "$@"
