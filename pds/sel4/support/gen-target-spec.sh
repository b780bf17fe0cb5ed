#!/usr/bin/env bash
# Writes support/aarch64-sel4.json: the compiler's own aarch64-unknown-none spec (as printed
# by the pinned nightly) plus the two settings an seL4 Microkit PD needs:
#   has-thread-local  seL4 user space has TLS (the runtime keeps the IPC buffer there);
#   exe-suffix .elf   PD images are named <name>.elf, as system.xml's program_image expects.
# Nothing here is copied from rust-sel4; rerun after changing the nightly.
set -euo pipefail
cd "$(dirname "$0")"
toolchain=$(sed -n 's/^channel = "\(.*\)"/\1/p' ../rust-toolchain.toml)
rustc +"$toolchain" -Z unstable-options --print target-spec-json --target aarch64-unknown-none |
  python3 -c '
import json, sys
spec = json.load(sys.stdin)
spec["has-thread-local"] = True
spec["exe-suffix"] = ".elf"
spec["metadata"] = {"description": "seL4 Microkit protection domain (LedgerFS)", "host_tools": False, "std": False, "tier": None}
print(json.dumps(spec, indent=2, sort_keys=True))' > aarch64-sel4.json
echo "wrote $(pwd)/aarch64-sel4.json"
