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

packages=(postgresql valgrind linux-perf fuse3)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "bench-setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  if ! { $sudo_cmd apt-get update -qq &&
         DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"; }; then
    echo "bench-setup: could not install ${missing[*]}; the suite skips what needs them" >&2
  fi
fi
# Debian's postgresql package starts its own cluster; the suite does not use it.
if [ ! -x /usr/lib/postgresql/15/bin/initdb ]; then
  echo "bench-setup: PostgreSQL 15 not found under /usr/lib/postgresql/15 (the suite skips the baseline)" >&2
fi
echo "bench-setup: ok"
