#!/usr/bin/env python3
"""Checks a C2SP tlog-proof@v1 receipt the way the specs say, not the way LedgerFS's code
does: usage `tlog_proof_check.py LOG_VKEY RECEIPT_FILE`. The receipt is
`c2sp.org/tlog-proof@v1`, an optional `extra <base64>` (LedgerFS: the entry), `index N`,
base64 hashes, an empty line, then the checkpoint note. The leaf hash is
SHA-256(0x00 || entry) (RFC 6962), the path is checked with RFC 9162 section 2.1.3.2, and
the checkpoint's log signature with C2SP signed-note (key `name+hex(keyid)+base64(0x01 ||
pubkey)`, key ID SHA-256(name || 0x0A || 0x01 || pubkey)[:4], signature over the body).
Prints the index and tree size; exit 1 if anything fails.
"""
import base64
import hashlib
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def node(left, right):
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(leaf, index, size, proof, root):
    if index >= size:
        sys.exit("index outside the tree")
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            sys.exit("proof too long")
        if fn & 1 or fn == sn:
            r = node(p, r)
            if not fn & 1:
                while not fn & 1 and fn != 0:
                    fn >>= 1
                    sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    if sn != 0 or r != root:
        sys.exit("the inclusion proof does not lead to the root")


def verify_note(vkey, note):
    name, keyid_hex, key_b64 = vkey.strip().split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 0x01 and len(key) == 33, "not an Ed25519 note key"
    keyid = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    assert keyid.hex() == keyid_hex, "key ID does not match the key"
    split = note.rindex("\n\n")
    body, sigs = note[: split + 1], note[split + 2:]
    for line in sigs.splitlines():
        signer, sig = line[2:].split(" ")
        raw = base64.b64decode(sig)
        if signer == name and raw[:4] == keyid:
            Ed25519PublicKey.from_public_bytes(key[1:]).verify(raw[4:], body.encode())
            return body
    sys.exit("no signature by the log")


def main(vkey, path):
    text = open(path, encoding="utf-8").read()
    lines = text.split("\n")
    assert lines.pop(0) == "c2sp.org/tlog-proof@v1", "not a tlog-proof@v1"
    entry = None
    if lines[0].startswith("extra "):
        entry = base64.b64decode(lines.pop(0)[6:], validate=True)
    assert lines[0].startswith("index "), "no index line"
    index = int(lines.pop(0)[6:])
    proof = []
    while lines[0] != "":
        proof.append(base64.b64decode(lines.pop(0), validate=True))
    lines.pop(0)
    note = "\n".join(lines)
    body = verify_note(vkey, note).split("\n")
    size, root = int(body[1]), base64.b64decode(body[2])
    assert entry is not None, "the receipt carries no entry"
    verify_inclusion(hashlib.sha256(b"\x00" + entry).digest(), index, size, proof, root)
    print(index, size)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
