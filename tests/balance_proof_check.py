#!/usr/bin/env python3
"""Checks a LedgerFS balance proof from the formats' text, not LedgerFS's code: usage
`balance_proof_check.py LOG_VKEY PROOF_FILE`. The file (`ledgerfs-balance-proof/v1`) holds
the account id, its balance record with position and audit path (hex) or, for an absent
id, the two records around it, and a C2SP tlog-proof of the balance commitment entry.
The tlog-proof is checked by tlog_proof_check.py (the log's Ed25519 signature, the
entry's RFC 6962 inclusion); the entry is `{"v":3,...,"type":"balance_commitment",
"accounts":N,"root":"<hex>"}`; each record's leaf hash is SHA-256(0x00 || record) and its
path leads to that root over N records (RFC 9162 section 2.1.3.2), records sorted by id.
Prints `present <record>` or `absent`; exit 1 if anything fails.
"""
import base64
import hashlib
import json
import os
import sys
import tempfile

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import tlog_proof_check  # noqa: E402


def record_at(proof, size, root):
    leaf = hashlib.sha256(b"\x00" + proof["record"].encode()).digest()
    path = [bytes.fromhex(h) for h in proof["path"]]
    tlog_proof_check.verify_inclusion(leaf, proof["position"], size, path, root)
    return json.loads(proof["record"])["id"], proof["position"]


def main(vkey, path):
    file = json.load(open(path, encoding="utf-8"))
    if "balance_proof" in file:  # a FUSE balance.json carries one
        file = file["balance_proof"]
    assert file["format"] == "ledgerfs-balance-proof/v1", "not a balance proof"
    receipt = file["tlog_proof"]
    with tempfile.NamedTemporaryFile("w", suffix=".tlog-proof", delete=False) as f:
        f.write(receipt)
    try:
        tlog_proof_check.main(vkey, f.name)
    finally:
        os.unlink(f.name)
    extra = next(line for line in receipt.split("\n") if line.startswith("extra "))
    entry = json.loads(base64.b64decode(extra[6:], validate=True))
    assert entry["v"] == 3 and entry["type"] == "balance_commitment", "not a commitment"
    size, root = entry["accounts"], bytes.fromhex(entry["root"])
    account = file["account"]
    if file["record"] is not None:
        named, _ = record_at(file["record"], size, root)
        assert named == account, "the record names another account"
        print("present", file["record"]["record"])
        return
    before = record_at(file["before"], size, root) if file["before"] else None
    after = record_at(file["after"], size, root) if file["after"] else None
    # Record ids are compared as byte strings: the tree is sorted by id bytes.
    if before:
        assert before[0].encode() < account.encode(), "the record before is not before"
    if after:
        assert after[0].encode() > account.encode(), "the record after is not after"
    if before and after:
        assert after[1] == before[1] + 1, "the records are not adjacent"
    elif after:
        assert after[1] == 0, "the record after is not the first"
    elif before:
        assert before[1] == size - 1, "the record before is not the last"
    else:
        assert size == 0, "an empty absence proof of a non-empty tree"
    print("absent")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
