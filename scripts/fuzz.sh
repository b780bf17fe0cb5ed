#!/usr/bin/env bash
# Runs every cargo-fuzz target (fuzz/fuzz_targets/) for FUZZ_SECONDS each, one after the
# other, and prints the executions per target. Needs a nightly toolchain and cargo-fuzz
# (installed here when missing: `cargo install cargo-fuzz --locked`). Run by `make fuzz`.
#
#   FUZZ_SECONDS=60        time budget per target
#   FUZZ_TARGETS="a b"     only these targets (default: all of them)
#   FUZZ_HOSTED=1          also the hosted_config and statement targets (build the whole daemon)
#   FUZZ_TARGET_DIR=...    cargo target directory (default target/fuzz)
#
# The committed seeds (fuzz/corpus/<target>) are read only; what a run discovers goes to
# build/fuzz/corpus/<target>, crash inputs to build/fuzz/artifacts/<target>/. A crash
# input belongs in fuzz/regressions/<target>/ (replayed by `make test`) once fixed.
# Exits non-zero if any target crashed.
set -euo pipefail
cd "$(dirname "$0")/.."

seconds=${FUZZ_SECONDS:-60}
target_dir=${FUZZ_TARGET_DIR:-$PWD/target/fuzz}
nightly=${FUZZ_TOOLCHAIN:-nightly}
features=()
[ "${FUZZ_HOSTED:-0}" = 1 ] && features=(--features hosted)

if ! rustup run "$nightly" rustc --version >/dev/null 2>&1; then
  echo "fuzz: installing the $nightly toolchain"
  rustup toolchain install "$nightly" --profile minimal
fi
if ! cargo fuzz --version >/dev/null 2>&1; then
  echo "fuzz: installing cargo-fuzz"
  nice -n 19 cargo install cargo-fuzz --locked
fi

targets=${FUZZ_TARGETS:-$(cargo "+$nightly" fuzz list)}
if [ "${FUZZ_HOSTED:-0}" != 1 ] && [ -z "${FUZZ_TARGETS:-}" ]; then
  targets=$(echo "$targets" | grep -vx -e hosted_config -e statement || true)
fi

echo "fuzz: building $(echo $targets | wc -w) targets (nightly, address sanitizer)"
CARGO_BUILD_JOBS=${CARGO_BUILD_JOBS:-1} nice -n 19 cargo "+$nightly" fuzz build "${features[@]}" --target-dir "$target_dir"

mkdir -p build/fuzz
summary=build/fuzz/summary.txt
: >"$summary"
failed=0
total=0
for t in $targets; do
  work=build/fuzz/corpus/$t
  artifacts=build/fuzz/artifacts/$t
  log=build/fuzz/$t.log
  mkdir -p "$work" "$artifacts"
  echo "fuzz: $t for ${seconds}s"
  status=ok
  if ! nice -n 19 cargo "+$nightly" fuzz run "${features[@]}" --target-dir "$target_dir" "$t" "$work" "fuzz/corpus/$t" -- \
      -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 -max_len=65536 \
      -artifact_prefix="$artifacts/" -print_final_stats=1 >"$log" 2>&1; then
    status=CRASH
    failed=1
  fi
  runs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  runs=${runs:-$(sed -n 's/^Done \([0-9]*\) runs.*/\1/p' "$log" | tail -1)}
  runs=${runs:-0}
  total=$((total + runs))
  corpus=$(find "$work" -type f | wc -l)
  printf '%-14s %12s execs  %6s corpus  %s\n' "$t" "$runs" "$corpus" "$status" | tee -a "$summary"
  if [ "$status" != ok ]; then
    grep -E "panicked|ERROR: |SUMMARY|Test unit written" "$log" | head -5 || true
    echo "fuzz: $t: see $log; reproduce with: cargo +$nightly fuzz run $t $artifacts/<file>"
  fi
done
printf '%-14s %12s execs in total (%ss per target)\n' total "$total" "$seconds" | tee -a "$summary"
exit $failed
