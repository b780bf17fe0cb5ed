#!/usr/bin/env bash
# Installs what LedgerFS needs on a Debian machine, idempotently: Debian packages
# (only those missing, so a provisioned machine needs no network), and the rustup
# components and target named in rust-toolchain.toml. Run by `make run` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

# build-essential: the linker; fuse3: /dev/fuse tools (fusermount3) for the mount;
# util-linux: setpriv, which the FUSE tests use to act as other users; python3-venv:
# the schemathesis environment of `make api-check` (scripts/api-check.sh).
./scripts/apt-install-missing.sh build-essential ca-certificates curl fuse3 util-linux python3 python3-venv

if ! command -v rustup >/dev/null 2>&1; then
  echo "setup: rustup is required (https://rustup.rs); Debian's rustc is too old for this workspace" >&2
  exit 1
fi
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
rustup toolchain list | grep -q "^$toolchain" || rustup toolchain install "$toolchain" --profile minimal
rustup component add --toolchain "$toolchain" rustfmt clippy >/dev/null
rustup target add --toolchain "$toolchain" aarch64-unknown-none >/dev/null
echo "setup: ok (toolchain $toolchain with aarch64-unknown-none)"
