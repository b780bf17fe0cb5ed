#!/usr/bin/env python3
"""Boots a LedgerFS Microkit image headless and drives its serial console: opens accounts,
posts transfers (accepted, idempotent retry, rejected), reads balances and checks every
JSON reply; then reads the signed checkpoint and checks that its size is the number of
accepted entries and that its signature verifies with the verifier key of the image's
attest key (checked by VERIFY_HELPER, ledgerfs-attest's verify_checkpoint example).
Usage: test_image.py IMAGE TRANSCRIPT KEY VERIFY_HELPER. Exits non-zero on any mismatch."""
import json
import os
import queue
import subprocess
import sys
import threading
import time

BOOT = os.path.join(os.path.dirname(os.path.abspath(__file__)), "boot.sh")
ACCOUNTS = ('accounts [{"id":"safeguarding","currency":"EUR","kind":"safeguarding"},'
            '{"id":"alice","currency":"EUR","flags":["debits_must_not_exceed_credits"]},'
            '{"id":"bob","currency":"EUR","flags":["debits_must_not_exceed_credits"]}]')
T1 = '{"id":"t1","debit":"safeguarding","credit":"alice","amount":"100.00","currency":"EUR","linked":true}'
T2 = '{"id":"t2","debit":"alice","credit":"bob","amount":"40.50","currency":"EUR","reference":"rent"}'
# (command, check of the parsed reply)
STEPS = [
    (ACCOUNTS, lambda r: codes(r) == [("ok", 0), ("ok", 1), ("ok", 2)]),
    (f"transfers [{T1},{T2}]", lambda r: codes(r) == [("ok", 3), ("ok", 4)] and r["size"] == 5),
    (f"transfers {T2}", lambda r: codes(r) == [("exists", 4)]),
    ('transfers {"id":"t3","debit":"bob","credit":"alice","amount":"1000.00","currency":"EUR"}',
     lambda r: codes(r) == [("insufficient_funds", None)]),
    ("balance alice", lambda r: r["balance"] == {"debits": "40.50", "credits": "100.00", "net": "59.50"}),
    ("balance bob", lambda r: r["balance"]["net"] == "40.50" and r["as_of_size"] == 5),
    ("balance nobody", lambda r: r["error"]["code"] == "not_found"),
    ('accounts {"id":"x","currency":"EUR","colour":"red"}', lambda r: r["error"]["code"] == "request_invalid"),
    ("bogus", lambda r: r["error"]["code"] == "command_unknown"),
    # 3 accounts + 2 transfers were accepted: the signed log holds exactly those 5 entries.
    ("checkpoint", lambda r: checkpoint_ok(r["checkpoint"], 5)),
]
VERIFY = None  # [helper, KEY]: the host check (ledgerfs-attest's verify_checkpoint example)


def checkpoint_ok(note, want_size):
    """Verifies a signed checkpoint note with KEY's verifier key (the host helper) and checks
    its tree size."""
    out = subprocess.run(VERIFY, input=note.encode(), capture_output=True, check=True).stdout.decode()
    origin, size, root, vkey = out.split()
    print(f"test-image: checkpoint {origin} size {size} root {root[:16]}... verifies with {vkey}")
    return int(size) == want_size


def codes(reply):
    return [(e["code"], e.get("index")) for e in reply["results"]]


def main(image, transcript_path, key_path, helper):
    global VERIFY
    VERIFY = [helper, key_path]
    qemu = subprocess.Popen([BOOT, image, "--headless"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT)
    lines, transcript = queue.Queue(), []

    def reader():
        for raw in qemu.stdout:
            text = raw.decode(errors="replace").rstrip("\r\n").replace("\r", "")
            transcript.append(text)
            lines.put(text)
    threading.Thread(target=reader, daemon=True).start()

    def wait_for(predicate, what, timeout=30):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if predicate(line):
                return line
        raise TimeoutError(f"no {what} within {timeout} s")

    failures = 0
    try:
        start = time.monotonic()
        wait_for(lambda l: l.startswith("sequencer: ready"), "boot banner and sequencer ready")
        print(f"test-image: booted to the banner in {time.monotonic() - start:.2f} s")
        for command, check in STEPS:
            qemu.stdin.write(command.encode() + b"\r")
            qemu.stdin.flush()
            reply = wait_for(lambda l: l.startswith("{"), f"reply to {command[:30]!r}")
            try:
                ok = check(json.loads(reply))
            except Exception:  # a malformed reply or a signature that does not verify
                ok = False
            print(f"test-image: {'ok  ' if ok else 'FAIL'} {command[:60]}")
            failures += not ok
    except TimeoutError as e:
        print(f"test-image: FAIL {e}")
        failures += 1
    finally:
        qemu.terminate()
        qemu.wait(timeout=10)
        time.sleep(0.1)
        with open(transcript_path, "w") as f:
            f.write("\n".join(transcript) + "\n")
    print(f"test-image: serial transcript in {transcript_path}")
    print(f"test-image: {'FAILED' if failures else 'passed'} ({len(STEPS)} commands, {failures} failures)")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:5]))
