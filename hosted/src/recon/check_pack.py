#!/usr/bin/env python3
"""Independent check of a LedgerFS resolution pack, with Python's standard library.

Follows the public specs, not LedgerFS's code: C2SP tlog-checkpoint and signed-note for
log/checkpoint, C2SP tlog-tiles for the entry bundles, RFC 6962 / RFC 9162 for leaf hashes
and inclusion proofs. For each account of balances.json it reads the entry its proof
names from the bundles, hashes it, and proves it into the checkpoint's root. With the
`cryptography` package installed it also checks the checkpoint's Ed25519 signature.
Exit status 0 when everything checks.
"""
import base64
import hashlib
import json
import os
import sys

WIDTH = 256


def sha256(data):
    return hashlib.sha256(data).digest()


def tile_index_path(n):
    parts = []
    while True:
        parts.append(n % 1000)
        n //= 1000
        if n == 0:
            break
    parts.reverse()
    return "/".join(("x%03d" if i < len(parts) - 1 else "%03d") % p for i, p in enumerate(parts))


def read_entry(pack, index, size):
    n = index // WIDTH
    width = min(size - n * WIDTH, WIDTH)
    base = os.path.join(pack, "log", "tile", "entries", tile_index_path(n))
    path = base if width == WIDTH else base + ".p/%d" % width
    if not os.path.exists(path):
        path = base  # a full bundle stands in for its partial ones
    data = open(path, "rb").read()
    at, i = 0, 0
    while at < len(data):
        length = int.from_bytes(data[at:at + 2], "big")
        entry = data[at + 2:at + 2 + length]
        if i == index % WIDTH:
            return entry
        at += 2 + length
        i += 1
    raise ValueError("entry %d not in %s" % (index, path))


def verify_inclusion(leaf, index, size, proof, root):
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = sha256(b"\x01" + p + r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = sha256(b"\x01" + r + p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def check_signature(note, vkey):
    try:
        from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey
    except ImportError:
        return "skipped (no cryptography package)"
    name, key_hash, key = vkey.strip().split("+", 2)
    key = base64.b64decode(key)
    body, _, sigs = note.partition("\n\n")
    for line in sigs.splitlines():
        if not line.startswith("\u2014 "):
            continue
        signer, sig = line[2:].split(" ")
        sig = base64.b64decode(sig)
        if signer == name and sig[:4] == bytes.fromhex(key_hash):
            Ed25519PublicKey.from_public_bytes(key[1:]).verify(sig[4:], (body + "\n").encode())
            return "ok"
    raise ValueError("no signature by %s" % name)


def main(pack):
    note = open(os.path.join(pack, "log", "checkpoint"), encoding="utf-8").read()
    origin, size, root = note.split("\n")[:3]
    size, root = int(size), base64.b64decode(root)
    signature = check_signature(note, open(os.path.join(pack, "log.vkey")).read())
    doc = json.load(open(os.path.join(pack, "balances.json")))
    assert doc["checkpoint"]["size"] == size, "balances.json is for another checkpoint"
    for account in doc["accounts"]:
        proof = account["last_entry"]
        entry = read_entry(pack, proof["index"], size)
        leaf = sha256(b"\x00" + entry)
        assert base64.b64decode(proof["leaf_hash"]) == leaf, "%s: leaf hash differs" % account["id"]
        hashes = [base64.b64decode(h) for h in proof["proof"]]
        assert verify_inclusion(leaf, proof["index"], size, hashes, root), "%s: proof fails" % account["id"]
        e = json.loads(entry)
        assert account["id"] in (e.get("id"), e.get("debit"), e.get("credit")), "%s: entry is not its" % account["id"]
    print("checked: %s size %d, signature %s, %d accounts proven into the root, at index %d"
          % (origin, size, signature, len(doc["accounts"]), doc["at_index"]))


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else ".")
