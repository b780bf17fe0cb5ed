#!/usr/bin/env bash
# Runs the hand-off tests (blocking ring ends, mailbox) many times pinned to one CPU,
# where interleavings that a 2-core run hides show up. Each run has a deadline: a hang
# is a failure, never a stuck CI. Usage: scripts/pinned-tests.sh [RUNS] (default 100).
set -euo pipefail
cd "$(dirname "$0")/.."
runs=${1:-100}
bin=$(cargo test -q -p ledgerfs-ring --lib --no-run --message-format=json 2>/dev/null |
  python3 -c 'import json,sys
for l in sys.stdin:
    m=json.loads(l)
    if m.get("reason")=="compiler-artifact" and m.get("executable") and m["target"]["name"]=="ledgerfs_ring": print(m["executable"])' | tail -1)
[ -x "$bin" ] || { echo "pinned-tests: could not build the ring tests" >&2; exit 1; }
for i in $(seq "$runs"); do
  if ! timeout 30 taskset -c 0 "$bin" blocking -q >/dev/null 2>&1; then
    echo "pinned-tests: run $i of $runs failed or hung (rerun: taskset -c 0 $bin blocking)" >&2
    exit 1
  fi
done
echo "pinned-tests: $runs runs of the blocking-ring tests on one CPU, no failure, no hang"
