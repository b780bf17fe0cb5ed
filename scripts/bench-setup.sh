#!/usr/bin/env bash
# Installs what the benchmark suite (make bench / make bench-quick) needs on a Debian
# machine, only when missing, so a provisioned machine needs no network:
#   postgresql  - PostgreSQL 15, the baseline (the suite makes a throw-away cluster)
#   valgrind    - callgrind, the profiler when perf has no hardware counters
#   linux-perf  - perf, the sampling profiler
#   fuse3       - fusermount3, for the FUSE figures
# The suite itself installs nothing; whatever is still missing is skipped and named in
# bench/report.md.
set -euo pipefail

cd "$(dirname "$0")/.."
if ! ./scripts/apt-install-missing.sh postgresql valgrind linux-perf fuse3; then
  echo "bench-setup: could not install everything; the suite skips what needs it" >&2
fi
# Debian's postgresql package starts its own cluster; the suite does not use it.
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  echo "bench-setup: PostgreSQL 15 not found under /usr/lib/postgresql/15 (the suite skips the baseline)" >&2
fi
echo "bench-setup: ok"
