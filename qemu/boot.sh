#!/usr/bin/env bash
# Boots a LedgerFS Microkit image (qemu_virt_aarch64) in QEMU.
#   qemu/boot.sh IMAGE              the console on this terminal (Ctrl-A X quits)
#   qemu/boot.sh IMAGE --headless   serial on stdin/stdout, no monitor (for scripts)
# QEMU= names the emulator (default: qemu-system-aarch64 from PATH). The loader address
# is the Microkit SDK's for this board.
set -euo pipefail
image=${1:?usage: qemu/boot.sh IMAGE [--headless]}
qemu=${QEMU:-qemu-system-aarch64}
args=(-machine virt,virtualization=on -cpu cortex-a53 -m size=2G
      -device "loader,file=$image,addr=0x70000000,cpu-num=0")
# A QEMU unpacked into a prefix (not installed) needs to be told where its firmware is.
share="$(dirname "$(command -v "$qemu")")/../share/qemu"
[ -d "$share" ] && args+=(-L "$share")
if [ "${2:-}" = --headless ]; then
  args+=(-display none -monitor none -serial stdio)
else
  args+=(-nographic -serial mon:stdio)
fi
exec "$qemu" "${args[@]}"
