#!/usr/bin/env bash
# API conformance: schemathesis (PyPI, pinned, in build/venv-schemathesis) runs every check
# (`--checks all`, exceptions in tests/api/schemathesis.toml) against docs/openapi.yaml and
# a daemon it starts on a fresh store at a free port; fails on any server error, any
# undocumented status or body shape. `make api-check`; part of `make test`.
# Usage: scripts/api-check.sh [path/to/ledgerfs] (default target/debug/ledgerfs).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${1:-target/debug/ledgerfs}
examples=${API_CHECK_EXAMPLES:-30}
venv=build/venv-schemathesis
version=4.32.5
if ! "$venv/bin/st" --version 2>/dev/null | grep -q "$version"; then
  python3 -m venv "$venv"
  "$venv/bin/pip" install --quiet "schemathesis==$version"
fi
work=$(mktemp -d)
pid=
cleanup() {
  if [ -n "$pid" ]; then kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; fi
  rm -rf "$work"
}
trap cleanup EXIT
"$bin" init --data "$work/data" >/dev/null
"$bin" serve --data "$work/data" --listen 127.0.0.1:0 2>"$work/daemon.log" &
pid=$!
base=
for _ in $(seq 200); do
  base=$(sed -n 's/^ledgerfs: serving \(http:\/\/[^ ]*\).*/\1/p' "$work/daemon.log" | head -1)
  if [ -n "$base" ] && curl -sf "$base/health" >/dev/null; then break; fi
  kill -0 "$pid" 2>/dev/null || { cat "$work/daemon.log" >&2; exit 1; }
  sleep 0.05
done
[ -n "$base" ] || { echo "api-check: the daemon did not start" >&2; cat "$work/daemon.log" >&2; exit 1; }
token=$(cat "$work/data/admin.token")
# Bounded: a fixed seed and example count, and a hard time limit. Every check but two:
# POST /v1/accounts and /v1/transfers answer 200 with one result per event whatever each
# event's outcome (TigerBeetle's batch semantics), so a 200 does not mean "created" and a
# refused event's id is rightly 404 afterwards (ensure_resource_availability); nothing is
# ever deleted from an append-only ledger (use_after_free).
timeout 600 "$venv/bin/st" --config-file tests/api/schemathesis.toml run docs/openapi.yaml \
  --url "$base" -H "Authorization: Bearer $token" --checks all \
  --exclude-checks ensure_resource_availability,use_after_free \
  --max-examples "$examples" --seed 1 --no-color
