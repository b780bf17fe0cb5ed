#!/usr/bin/env bash
# Installs what LedgerFS needs on a Debian machine, idempotently: Debian packages
# (only those missing, so a provisioned machine needs no network), and the rustup
# components and target named in rust-toolchain.toml. Run by `make run` and `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(build-essential pkg-config curl ca-certificates fuse3 libfuse3-dev postgresql)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${missing[*]}"
  sudo_cmd=""
  [ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
  $sudo_cmd apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get install -y -qq "${missing[@]}"
fi

if ! command -v rustup >/dev/null 2>&1; then
  echo "setup: rustup is required (https://rustup.rs); Debian's rustc is too old for this workspace" >&2
  exit 1
fi
toolchain=$(sed -n 's/^channel *= *"\(.*\)"/\1/p' rust-toolchain.toml)
rustup toolchain list | grep -q "^$toolchain" || rustup toolchain install "$toolchain" --profile minimal
rustup component add --toolchain "$toolchain" rustfmt clippy >/dev/null
rustup target add --toolchain "$toolchain" aarch64-unknown-none >/dev/null
echo "setup: ok (toolchain $toolchain with aarch64-unknown-none)"
