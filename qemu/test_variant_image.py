#!/usr/bin/env python3
"""Boots the second image `make test-image` builds (`ML_DSA_44=1`, a small TRANSFER_LIMIT)
on a fresh disk, twice, and checks what only a differently built image can show:

  boot 1: the signed checkpoint carries an Ed25519 and an ML-DSA-44 signature line;
          `ledgerfs verify --url` accepts the appliance's tree under either verifier key
          (the ML-DSA-44 one from `ledgerfs key --ml-dsa`, as `make image` writes it);
          the independent Python check (`tests/ml_dsa_check.py`, OpenSSL's FIPS 204),
          when the `cryptography` package is there; a loopback witness configured with
          the ML-DSA-44 key cosigns the checkpoint; transfers up to the compiled limit
          are accepted and the next one is refused with `transfer_limit_reached`, over
          the console and over HTTP, changing nothing;
  boot 2: attest resumes from the dual-signed checkpoint on disk, the state is back, the
          limit still holds, and the checkpoint still verifies under both keys.

Usage: test_variant_image.py IMAGE KEY LEDGERFS TOKEN TRANSFER_LIMIT. Exits non-zero on
any mismatch."""
import json
import os
import shutil
import signal
import subprocess
import sys
import time

from test_image import Checks, Console, Http, codes, wait_http, witness_collects

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ACCOUNTS = ('accounts [{"id":"safeguarding","currency":"EUR","kind":"safeguarding"},'
            '{"id":"alice","currency":"EUR"}]')


def transfer(i):
    return {"id": f"v-{i}", "debit": "safeguarding", "credit": "alice", "amount": "1.00", "currency": "EUR"}


def signature_lines(note):
    return [line for line in note.split("\n\n", 1)[1].splitlines() if line.startswith("\u2014 ")]


def verify_url(c, ledgerfs, port, token, vkey, what):
    out = subprocess.run([ledgerfs, "verify", "--url", f"http://127.0.0.1:{port}/", "--vkey", vkey, "--token", token],
                         capture_output=True, text=True, timeout=120)
    c.check(out.returncode == 0, f"ledgerfs verify --url with the {what} key: "
            f"{(out.stdout + out.stderr).strip().splitlines()[-1:]}")


def has_cryptography():
    return subprocess.run(["python3", "-c", "from cryptography.hazmat.primitives.asymmetric import mldsa"],
                          capture_output=True).returncode == 0


def main(image, key_path, ledgerfs, token_path, limit):
    limit = int(limit)
    token = open(token_path).read().strip()
    vkey = open(key_path[:-len(".key")] + ".vkey").read().strip()
    mldsa_path = key_path[:-len(".key")] + ".mldsa.vkey"
    mldsa = open(mldsa_path).read().strip()
    work = os.path.join(os.path.dirname(os.path.abspath(image)), "test-variant")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    disk = os.path.join(work, "disk.img")
    transcript, c = [], Checks()
    console = None
    try:
        # Boot 1: a blank disk.
        console = Console(image, disk, transcript)
        status = console.ready()
        c.check(status["size"] == 0, f"variant boot 1 ready on a blank disk: {status}")
        c.check(codes(console.command(ACCOUNTS)) == [("ok", 0), ("ok", 1)], "two accounts")
        # All but the last ten transfers the limit allows over the console, in one line;
        # then eight over HTTP, one per request (each one commit: signed with both keys).
        first = [transfer(i) for i in range(limit - 10)]
        reply = console.command("transfers " + json.dumps(first, separators=(",", ":")))
        c.check(reply.get("accepted") == limit - 10, f"{limit - 10} transfers accepted in one console line")
        api = Http(console.net_port, token)
        wait_http(console.net_port)
        start, ok = time.monotonic(), 0
        for i in range(limit - 10, limit - 2):
            status_code, _, body = api.request("POST", "/v1/transfers", transfer(i))
            ok += status_code == 200 and body.get("accepted") == 1
        rate = 8 / (time.monotonic() - start)
        c.check(ok == 8, f"8 transfers over HTTP, one per request: {rate:.0f}/s with two signatures per commit")
        status_code, _, body = api.request("POST", "/v1/transfers", [transfer(limit - 2), transfer(limit - 1),
                                                                     transfer(limit)])
        got = [(r["code"], r.get("index")) for r in body.get("results", [])] if status_code == 200 else body
        c.check(got == [("ok", limit), ("ok", limit + 1), ("transfer_limit_reached", None)],
                f"over HTTP the transfer past the limit of {limit} is refused with transfer_limit_reached: {got}")
        reply = console.command("transfers " + json.dumps(transfer(limit + 1), separators=(",", ":")))
        c.check(codes(reply) == [("transfer_limit_reached", None)], f"and over the console: {codes(reply)}")
        size = limit + 2  # two accounts and `limit` transfers
        balance = console.command("balance alice")["balance"]
        c.check(balance["net"] == f"{limit}.00" and console.command("status")["status"]["size"] == size,
                f"nothing else changed: alice {balance['net']}, size {size}")
        note = console.command("checkpoint")["checkpoint"]
        sigs = signature_lines(note)
        c.check(len(sigs) == 2 and len(sigs[1]) > 3000,
                f"the checkpoint carries two signature lines (Ed25519, ML-DSA-44: {[len(s) for s in sigs]} bytes)")
        note_path = os.path.join(work, "checkpoint")
        with open(note_path, "w") as f:
            f.write(note)
        verify_url(c, ledgerfs, console.net_port, token, vkey, "Ed25519")
        verify_url(c, ledgerfs, console.net_port, token, mldsa, "ML-DSA-44")
        if has_cryptography():
            out = subprocess.run(["python3", os.path.join(ROOT, "tests", "ml_dsa_check.py"), mldsa, note_path, key_path],
                                 capture_output=True, text=True, timeout=60)
            c.check(out.returncode == 0 and out.stdout.strip() == str(size),
                    f"the independent FIPS 204 check of the appliance's signature: {(out.stdout + out.stderr).strip()}")
        else:
            print("test-image: skipped the independent FIPS 204 check: no python3 cryptography >= 48")
        witness_collects(c, ledgerfs, console.net_port, mldsa, token)
        console.stop()
        console = None

        # Boot 2: the same disk; attest resumes from the dual-signed checkpoint.
        console = Console(image, disk, transcript)
        status = console.ready()
        c.check(status["size"] == size and status["durable"] == size, f"variant boot 2: {status}")
        reply = console.command("transfers " + json.dumps(transfer(limit + 2), separators=(",", ":")))
        c.check(codes(reply) == [("transfer_limit_reached", None)], "boot 2: the limit still holds")
        c.check(console.command("balance alice")["balance"] == balance, "boot 2: the balance is back")
        again = console.command("checkpoint")["checkpoint"]
        c.check(again == note, "boot 2: the same dual-signed checkpoint (nothing re-signed)")
        wait_http(console.net_port)
        verify_url(c, ledgerfs, console.net_port, token, mldsa, "ML-DSA-44")
        console.stop()
        console = None
    except (TimeoutError, ValueError, KeyError, OSError, subprocess.SubprocessError) as e:
        c.check(False, f"variant image: {type(e).__name__}: {e}")
    finally:
        if console is not None:
            console.stop(signal.SIGKILL)
        with open(os.path.join(work, "serial.log"), "w") as f:
            f.write("\n".join(transcript) + "\n")
    print(f"test-image: variant image: {c.count - c.failures} of {c.count} checks passed")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:6]))
