#!/usr/bin/env python3
"""The appliance's boot benchmark: fills a fresh disk with N transfers through the in-image
`bench` (the sequencer, tiles, attest and blk PDs end to end), lets the sequencer store
its snapshot, then resets the appliance REBOOTS times and prints, per boot, the time from
reset to `sequencer: ready` (the generic timer's count, as `status` reports it) next to a
blank disk's boot in the same run, and the snapshot and tile-open figures the PDs print.

Usage: bench_boot.py IMAGE WORKDIR [N] [REBOOTS]   (default N = 1,000,000, 2 reboots)
The disk is WORKDIR/bench-boot.img (2 GiB, sparse); it is reused when it already holds N."""
import os
import re
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import test_image as t  # noqa: E402  (its Console drives QEMU's serial line)


def boot(image, disk, transcript):
    start = time.monotonic()
    console = t.Console(image, disk, transcript, disk_size="2G")
    status = console.ready()
    return console, status, time.monotonic() - start


def main(image, work, n=1_000_000, reboots=2):
    os.makedirs(work, exist_ok=True)
    transcript = []
    blank = os.path.join(work, "bench-boot-blank.img")
    if os.path.exists(blank):
        os.remove(blank)
    console, status, _ = boot(image, blank, transcript)
    print(f"bench-boot: blank disk: ready {status['ready_after_reset_ms']} ms after reset")
    console.stop()
    disk = os.path.join(work, "bench-boot.img")
    console, status, _ = boot(image, disk, transcript)
    if status["transfers"] < n:
        left = n - status["transfers"]
        while left > 0:
            step = min(left, 1_000_000)
            bench = console.command(f"bench {step}", timeout=3600)["bench"]
            print(f"bench-boot: bench {step}: {bench['transfers_per_s']} transfers/s")
            left -= step
        snap = console.command("snapshot", timeout=600).get("snapshot", {})
        print(f"bench-boot: snapshot at {snap.get('size')}: {snap.get('bytes')} bytes in {snap.get('ms')} ms")
    console.stop()
    for i in range(reboots):
        mark = len(transcript)
        console, status, host = boot(image, disk, transcript)
        console.stop()
        lines = "\n".join(transcript[mark:])
        tiles = re.search(r"tiles: ready in (\d+) ms", lines)
        loaded = re.search(r"snapshot at \d+ loaded .* in (\d+) ms", lines)
        print(f"bench-boot: reboot {i + 1} with {status['size']} entries: ready {status['ready_after_reset_ms']} ms "
              f"after reset ({host:.1f} s on the host clock); tiles opened the volume in "
              f"{tiles.group(1) if tiles else '?'} ms, the sequencer loaded its snapshot in "
              f"{loaded.group(1) if loaded else '?'} ms and replayed {status['boot_replayed']} entries")
    with open(os.path.join(work, "bench-boot.log"), "w") as f:
        f.write("\n".join(transcript) + "\n")
    return 0


if __name__ == "__main__":
    args = sys.argv[1:]
    sys.exit(main(args[0], args[1], *(int(a) for a in args[2:4])))
