#!/usr/bin/env python3
"""Checks a witness cosignature on a checkpoint the way C2SP tlog-cosignature says, not the
way LedgerFS's code does: usage `witness_check.py VKEY NOTE_FILE` (the note with the
cosignature line appended). The verifier key is `name+hex(keyid)+base64(0x04 || pubkey)`,
the key ID SHA-256(name || 0x0A || 0x04 || pubkey)[:4], the signature line
`— name base64(keyid || u64be time || ed25519 sig)` over
`cosignature/v1\\ntime <time>\\n` + the note body. Prints the time; exit 1 if it fails.
"""
import base64
import hashlib
import sys

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey


def main(vkey, note_path):
    name, keyid_hex, key_b64 = vkey.strip().split("+", 2)
    key = base64.b64decode(key_b64)
    assert key[0] == 0x04 and len(key) == 33, "not a cosignature/v1 key"
    keyid = hashlib.sha256(name.encode() + b"\n" + key).digest()[:4]
    assert keyid.hex() == keyid_hex, "key ID does not match the key"
    note = open(note_path, encoding="utf-8").read()
    split = note.rindex("\n\n")
    body, sigs = note[: split + 1], note[split + 2:]
    for line in sigs.splitlines():
        signer, sig = line[2:].split(" ")
        raw = base64.b64decode(sig)
        if signer != name or raw[:4] != keyid:
            continue
        time = int.from_bytes(raw[4:12], "big")
        message = b"cosignature/v1\ntime %d\n" % time + body.encode()
        Ed25519PublicKey.from_public_bytes(key[1:]).verify(raw[12:], message)
        print(time)
        return
    sys.exit("no cosignature by " + name)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
