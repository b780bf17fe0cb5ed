#!/usr/bin/env python3
"""Checks a checkpoint's ML-DSA-44 signature the way C2SP tlog-cosignature says, not the
way LedgerFS's code does: usage `ml_dsa_check.py ML_DSA_VKEY NOTE_FILE [ATTEST_KEY_FILE]`.
The verifier key is `name+hex(keyid)+base64(0x06 || 1312-byte key)` with key ID
SHA-256(name || 0x0A || 0x06 || key)[:4]; the signature line's bytes are key ID ||
u64 timestamp || 2420-byte signature over `cosigned_message` ("subtree/v1\\n\\0", u8-length
name, u64 timestamp, u8-length origin, u64 start 0, u64 end = size, 32-byte root), FIPS 204
ML-DSA-44 with an empty context. With ATTEST_KEY_FILE it also derives the key the way
LedgerFS documents (seed = SHA-256("LedgerFS ML-DSA-44 checkpoint key v1\\n" || Ed25519
seed), FIPS 204 key generation from that seed) and checks it is the verifier key's.
Prints the size; exit 1 if anything fails.
"""
import base64
import hashlib
import struct
import sys

from cryptography.hazmat.primitives.asymmetric.mldsa import MLDSA44PrivateKey, MLDSA44PublicKey


def main(vkey, note_path, attest_key=None):
    name, keyid_hex, key_b64 = vkey.strip().split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 0x06 and len(key) == 1313, "not an ML-DSA-44 key"
    keyid = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    assert keyid.hex() == keyid_hex, "key ID does not match the key"
    note = open(note_path, encoding="utf-8").read()
    split = note.rindex("\n\n")
    body, sigs = note[: split + 1], note[split + 2:]
    origin, size, root_b64 = body.split("\n")[:3]
    assert body.count("\n") == 3, "extension lines: not covered by an ML-DSA-44 signature"
    root = base64.b64decode(root_b64)
    for line in sigs.splitlines():
        signer, sig = line[2:].split(" ")
        raw = base64.b64decode(sig)
        if signer != name or raw[:4] != keyid:
            continue
        assert len(raw) == 4 + 8 + 2420, "not an ML-DSA-44 cosignature"
        (timestamp,) = struct.unpack(">Q", raw[4:12])
        message = (
            b"subtree/v1\n\x00"
            + bytes([len(name)]) + name.encode()
            + struct.pack(">Q", timestamp)
            + bytes([len(origin)]) + origin.encode()
            + struct.pack(">QQ", 0, int(size))
            + root
        )
        MLDSA44PublicKey.from_public_bytes(key[1:]).verify(raw[12:], message)
        break
    else:
        sys.exit("no ML-DSA-44 signature by that key")
    if attest_key:
        text = open(attest_key, encoding="utf-8").read().strip()
        ed = base64.b64decode(text.split("+", 4)[4])
        assert ed[0] == 0x01 and len(ed) == 33, "not an Ed25519 signer key"
        seed = hashlib.sha256(b"LedgerFS ML-DSA-44 checkpoint key v1\n" + ed[1:]).digest()
        derived = MLDSA44PrivateKey.from_seed_bytes(seed).public_key().public_bytes_raw()
        assert derived == key[1:], "the key is not the one derived from the attest key"
    print(size)


if __name__ == "__main__":
    main(*sys.argv[1:])
