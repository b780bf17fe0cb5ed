#!/usr/bin/env bash
# Boots a LedgerFS Microkit image (qemu_virt_aarch64) in QEMU with its disk.
#   qemu/boot.sh IMAGE                  the console on this terminal (Ctrl-A X quits)
#   qemu/boot.sh IMAGE --headless       serial on stdin/stdout, no monitor (for scripts)
#   qemu/boot.sh IMAGE --socket PATH    serial on a unix socket (for `ledgerfs appliance`)
# DISK= names the raw disk image (default build/disk.img; created, 1 GiB, when absent;
# sparse; a blank disk is formatted by the appliance at first boot). QEMU= names the emulator
# (default: qemu-system-aarch64 from PATH); QEMU_MEM= the RAM (default 2G: an image built
# with a large TRANSFER_LIMIT needs more). The loader address is the Microkit SDK's for
# this board. The disk is a virtio-blk device on QEMU's virtio-mmio bus with the default
# write-back cache: the appliance's flushes reach the host file with fdatasync.
# The network: QEMU user networking (the appliance is 10.0.2.15), its HTTP port 80
# forwarded from 127.0.0.1:NET_PORT (default 8480; NET_PORT=off: no network device). The
# virtio-net device sits on virtio-mmio bus 23 = transport 23 (0xa002e00, IRQ 71), so its
# MMIO page is not the disk's (transport 31): system.xml maps each page into one driver.
set -euo pipefail
image=${1:?usage: qemu/boot.sh IMAGE [--headless | --socket PATH]}
qemu=${QEMU:-qemu-system-aarch64}
disk=${DISK:-build/disk.img}
if [ ! -e "$disk" ]; then
  mkdir -p "$(dirname "$disk")"
  truncate -s "${DISK_SIZE:-1G}" "$disk"
  echo "boot.sh: created a blank disk $disk (${DISK_SIZE:-1G}, sparse)" >&2
fi
args=(-machine virt,virtualization=on -cpu cortex-a53 -m "size=${QEMU_MEM:-2G}"
      -device "loader,file=$image,addr=0x70000000,cpu-num=0"
      -drive "file=$disk,format=raw,if=none,id=ledger"
      -device virtio-blk-device,drive=ledger)
net_port=${NET_PORT:-8480}
if [ "$net_port" != off ]; then
  args+=(-netdev "user,id=net0,hostfwd=tcp:127.0.0.1:$net_port-:80"
         -device virtio-net-device,netdev=net0,bus=virtio-mmio-bus.23)
  echo "boot.sh: the appliance's HTTP API is forwarded from http://127.0.0.1:$net_port/" >&2
fi
# A QEMU unpacked into a prefix (not installed) needs to be told where its firmware is.
share="$(dirname "$(command -v "$qemu")")/../share/qemu"
[ -d "$share" ] && args+=(-L "$share")
case "${2:-}" in
  --headless) args+=(-display none -monitor none -serial stdio) ;;
  --socket) args+=(-display none -monitor none -serial "unix:${3:?--socket PATH},server=on,wait=off") ;;
  *) args+=(-nographic -serial mon:stdio) ;;
esac
exec "$qemu" "${args[@]}"
