#!/usr/bin/env bash
# Installs the named Debian packages that are not installed yet (and nothing else), so a
# provisioned machine needs no network. Usage: scripts/apt-install-missing.sh PKG...
# Exits non-zero if an install was needed and failed.
set -euo pipefail
missing=()
for p in "$@"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0
echo "installing ${missing[*]}"
sudo_cmd=""
[ "$(id -u)" -eq 0 ] || sudo_cmd="sudo"
# Wait (up to 5 minutes) for another apt/dpkg holding the lock instead of failing at once.
lock_wait=(-o DPkg::Lock::Timeout=300)
$sudo_cmd apt-get "${lock_wait[@]}" update -qq
DEBIAN_FRONTEND=noninteractive $sudo_cmd apt-get "${lock_wait[@]}" install -y -qq "${missing[@]}"
