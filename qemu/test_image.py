#!/usr/bin/env python3
"""Boots a LedgerFS Microkit image in QEMU on a fresh disk, three times, and checks that the
appliance keeps every acknowledged transfer across reboots and a hard kill, and that its
disk exports to a tlog-tiles directory `ledgerfs verify` accepts.

  boot 1 (console on stdio, blank disk): the console commands of STEPS with their replies
         checked (accounts, transfers, idempotent retry, rejection, balances, errors, the
         signed checkpoint verified with the image key's verifier key), `status`, `bench`,
         `snapshot`;
  boot 2 (console on a unix socket, driven by `ledgerfs appliance`): the state is back
         from the snapshot with nothing replayed (size, balances, checkpoint), one more transfer; then a long `bench` is started and
         QEMU is killed (SIGKILL) in the middle of it;
  boot 3 (stdio): ready again from the snapshot plus the tail, nothing acknowledged lost,
         a log that only grew;
  boot 4 (stdio, a 1 MiB disk): a benchmark fills it: `storage_full`, nothing lost;
  then `ledgerfs image export DISK --out DIR --vkey VKEY` and `ledgerfs verify --dir DIR`.

Every boot also has the network (QEMU user networking, a free host port forwarded to the
appliance's port 80), and the HTTP API is driven beside the console:
  boot 1: /health, 401 and 403, accounts and transfers over HTTP, the balance the console
          and HTTP agree on, /v1/checkpoint verified, `ledgerfs verify --url`, the
          checkpoint cosigned from the host (a loopback `ledgerfs witness` and `ledgerfs
          witness collect --url`, then `verify --policy --witnessed`), 8 connections
          served at once and the 9th answered 503, a stalled client that does not stall the
          console, throughput over HTTP with batches of 1, 100 and 2,048;
  boot 2: HTTP clients post transfers while QEMU is killed; boot 3 finds every one that
          was acknowledged.

Usage: test_image.py IMAGE TRANSCRIPT KEY VERIFY_HELPER LEDGERFS TOKEN AUDITOR_TOKEN. Prints
the figures (time to ready, in-image and HTTP transfers/s) and exits non-zero on any
mismatch."""
import http.client
import socket
import json
import os
import queue
import shutil
import signal
import subprocess
import tempfile
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
    ("balance alice", lambda r: r["balance"] == {"debits": "40.50", "credits": "100.00", "net": "59.50",
                                                 "debits_pending": "0.00", "credits_pending": "0.00",
                                                 "available": "59.50"}),
    ("balance bob", lambda r: r["balance"]["net"] == "40.50" and r["as_of_size"] == 5),
    ("balance nobody", lambda r: r["error"]["code"] == "not_found"),
    ('accounts {"id":"x","currency":"EUR","colour":"red"}', lambda r: r["error"]["code"] == "request_invalid"),
    ("bogus", lambda r: r["error"]["code"] == "command_unknown"),
    # 3 accounts + 2 transfers were accepted: the signed log holds exactly those 5 entries.
    ("checkpoint", lambda r: checkpoint_ok(r["checkpoint"], 5)),
]
VERIFY = None  # [helper, KEY]: the host check (ledgerfs-attest's verify_checkpoint example)


def witness_collects(c, ledgerfs, port, log_vkey, token):
    """The appliance's checkpoint cosigned from the host: a `ledgerfs witness` on loopback,
    `ledgerfs witness collect --url` against the appliance (attest keeps its key; the
    host carries the checkpoint), then `verify --url --policy --witnessed` of the result."""
    work = tempfile.mkdtemp(prefix="ledgerfs-image-witness-")
    witness = None
    try:
        wdir = os.path.join(work, "w1")
        subprocess.run([ledgerfs, "witness", "init", "--data", wdir, "--name", "witness.test/w1", "--log", log_vkey],
                       capture_output=True, text=True, check=True, timeout=30)
        witness = subprocess.Popen([ledgerfs, "witness", "serve", "--data", wdir, "--listen", "127.0.0.1:0"],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
        addr = None
        deadline = time.monotonic() + 30
        while addr is None and time.monotonic() < deadline:
            line = witness.stderr.readline()
            if "serving http://" in line:
                addr = line.split("serving http://")[1].split()[0]
        if addr is None:
            c.check(False, "the witness did not say where it listens")
            return
        wvkey = open(os.path.join(wdir, "witness.vkey")).read().strip()
        policy = os.path.join(work, "policy.txt")
        with open(policy, "w") as f:
            f.write(f"log {log_vkey}\nwitness W1 {wvkey} http://{addr}\nquorum W1\n")
        cosigned = os.path.join(work, "cosigned.checkpoint")
        url = f"http://127.0.0.1:{port}/"
        out = subprocess.run([ledgerfs, "witness", "collect", "--url", url, "--token", token, "--policy", policy,
                              "--out", cosigned], capture_output=True, text=True, timeout=60)
        c.check(out.returncode == 0 and "\u2014 witness.test/w1 " in out.stdout,
                f"ledgerfs witness collect cosigns the appliance's checkpoint: {out.stderr.strip()[-200:]}")
        out = subprocess.run([ledgerfs, "verify", "--url", url, "--token", token, "--vkey", log_vkey,
                              "--policy", policy, "--witnessed", cosigned], capture_output=True, text=True, timeout=120)
        c.check(out.returncode == 0 and "quorum met" in out.stdout,
                f"verify --policy --witnessed of the appliance's cosigned checkpoint: {(out.stdout + out.stderr).strip()[-200:]}")
    except (subprocess.CalledProcessError, subprocess.TimeoutExpired) as e:
        c.check(False, f"witnessing the appliance: {e}")
    finally:
        if witness is not None:
            witness.kill()
            witness.wait()
        shutil.rmtree(work, ignore_errors=True)


def checkpoint_ok(note, want_size):
    """Verifies a signed checkpoint note with KEY's verifier key (the host helper) and checks
    its tree size."""
    out = subprocess.run(VERIFY, input=note.encode(), capture_output=True, check=True).stdout.decode()
    origin, size, root, vkey = out.split()
    print(f"test-image: checkpoint {origin} size {size} root {root[:16]}... verifies with {vkey}")
    return int(size) == want_size


def codes(reply):
    return [(e["code"], e.get("index")) for e in reply["results"]]


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class Http:
    """A keep-alive HTTP/1.1 client of the appliance's API (one connection)."""

    def __init__(self, port, token=None, timeout=30):
        self.port, self.token, self.timeout = port, token, timeout
        self.conn = None

    def request(self, method, path, body=None, token=None):
        """(status, headers, parsed JSON or raw bytes); reconnects once if the appliance
        closed the connection."""
        headers = {}
        tok = token if token is not None else self.token
        if tok:
            headers["Authorization"] = f"Bearer {tok}"
        data = json.dumps(body).encode() if body is not None and not isinstance(body, bytes) else body
        for attempt in range(2):
            if self.conn is None:
                self.conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=self.timeout)
            try:
                self.conn.request(method, path, body=data, headers=headers)
                resp = self.conn.getresponse()
                raw = resp.read()
                break
            except (http.client.HTTPException, ConnectionError, OSError):
                self.close()
                if attempt:
                    raise
        if resp.getheader("Connection", "").lower() == "close":
            self.close()
        ctype = resp.getheader("Content-Type", "")
        return resp.status, dict(resp.getheaders()), json.loads(raw) if ctype.startswith("application/json") else raw

    def close(self):
        if self.conn:
            self.conn.close()
        self.conn = None


def wait_http(port, timeout=60):
    """Waits until /health answers 200 (the network PD is up and the ledger ready)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            status, _, body = Http(port, timeout=3).request("GET", "/health")
            if status == 200:
                return body
        except (OSError, http.client.HTTPException, ValueError):
            pass
        time.sleep(0.3)
    raise TimeoutError(f"/health on port {port} not 200 within {timeout} s")


def http_bench(port, token, batch, total):
    """Posts `total` transfers in batches of `batch` on one keep-alive connection; returns
    (transfers/s, accepted)."""
    client = Http(port, token, timeout=120)
    accepted, n, start = 0, 0, time.monotonic()
    run = f"{time.monotonic_ns()}"
    while n < total:
        size = min(batch, total - n)
        body = [{"id": f"hb-{run}-{n + i}", "debit": "safeguarding", "credit": "bob", "amount": "0.01",
                 "currency": "EUR"} for i in range(size)]
        status, _, reply = client.request("POST", "/v1/transfers", body)
        if status != 200:
            raise ValueError(f"bench batch answered {status}: {reply}")
        accepted += reply["accepted"]
        n += size
    elapsed = time.monotonic() - start
    client.close()
    return total / elapsed, accepted


class Console:
    """One boot with the serial console on stdin/stdout; every line kept in `transcript`."""

    def __init__(self, image, disk, transcript, disk_size="1G"):
        self.net_port = free_port()
        env = dict(os.environ, DISK=disk, DISK_SIZE=disk_size, NET_PORT=str(self.net_port))
        self.qemu = subprocess.Popen([BOOT, image, "--headless"], stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=subprocess.STDOUT, env=env)
        self.lines = queue.Queue()
        self.transcript = transcript
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for raw in self.qemu.stdout:
            text = raw.decode(errors="replace").rstrip("\r\n").replace("\r", "")
            self.transcript.append(text)
            self.lines.put(text)

    def wait_for(self, predicate, what, timeout=60):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=deadline - time.monotonic())
            except queue.Empty:
                break
            if predicate(line):
                return line
        raise TimeoutError(f"no {what} within {timeout} s")

    def ready(self):
        """Waits for the serial PD's banner (printed in every seL4 config; the PDs' own
        boot messages are debug output, absent in release), then for the answer to
        `status`, which the sequencer gives once it has replayed the log."""
        self.wait_for(lambda l: l.startswith("commands:"), "the console banner")
        return self.command("status")["status"]

    def command(self, line, timeout=60):
        self.qemu.stdin.write(line.encode() + b"\r")
        self.qemu.stdin.flush()
        return json.loads(self.wait_for(lambda l: l.startswith("{"), f"reply to {line[:30]!r}", timeout))

    def stop(self, sig=signal.SIGTERM):
        self.qemu.send_signal(sig)
        self.qemu.wait(timeout=10)
        time.sleep(0.1)


class Checks:
    def __init__(self):
        self.failures = 0
        self.count = 0

    def check(self, ok, what):
        self.count += 1
        self.failures += not ok
        print(f"test-image: {'ok  ' if ok else 'FAIL'} {what}")
        return ok


def http_checks(c, console, port, token, auditor, ledgerfs, vkey, base):
    """Boot 1's HTTP checks, beside the console, on a log of `base` entries; returns the
    entries they added."""
    health = wait_http(port)
    c.check(health.get("status") == "ok", f"GET /health: {health}")
    api = Http(port, token)
    status, headers, body = api.request("GET", "/v1/checkpoint", token="")
    c.check(status == 401 and headers.get("WWW-Authenticate") == "Bearer"
            and body["error"]["code"] == "unauthenticated", f"no token: {status} {body}")
    status, _, body = api.request("GET", "/v1/checkpoint", token="not-a-token")
    c.check(status == 401, f"an unknown token: {status}")
    status, _, body = api.request("POST", "/v1/transfers", [], token=auditor)
    c.check(status == 403 and body["error"]["code"] == "forbidden", f"an auditor may not write: {status} {body}")
    status, _, body = api.request("POST", "/v1/accounts", [{"id": "carol", "currency": "EUR"}])
    c.check(status == 200 and codes(body) == [("ok", base)], f"POST /v1/accounts: {status} {body}")
    t = {"id": "h1", "debit": "safeguarding", "credit": "carol", "amount": "7.25", "currency": "EUR"}
    status, _, body = api.request("POST", "/v1/transfers", [t])
    c.check(status == 200 and codes(body) == [("ok", base + 1)], f"POST /v1/transfers: {status} {body}")
    status, _, body = api.request("POST", "/v1/transfers", t)
    c.check(status == 200 and codes(body) == [("exists", base + 1)], f"the retry over HTTP is exists: {body}")
    status, _, body = api.request("POST", "/v1/transfers", b"[{not json")
    c.check(status == 400 and body["error"]["code"] == "request_malformed", f"malformed JSON: {status} {body}")
    status, _, body = api.request("GET", "/v1/accounts/carol")
    console_view = console.command("balance carol")
    c.check(status == 200 and body["balance"] == console_view["balance"] and body["balance"]["net"] == "7.25",
            f"GET /v1/accounts/carol agrees with the console: {body.get('balance')}")
    status, _, body = api.request("GET", "/v1/accounts/nobody")
    c.check(status == 404 and body["error"]["code"] == "not_found", f"an unknown account: {status}")
    status, _, body = api.request("GET", "/v1/checkpoint")
    c.check(status == 200 and checkpoint_ok(body["note"], base + 2) and body["size"] == base + 2, "GET /v1/checkpoint verifies")
    status, headers, note = api.request("GET", "/log/checkpoint")
    c.check(status == 200 and headers.get("Cache-Control") == "no-cache" and note.decode() == body["note"],
            "GET /log/checkpoint is the same note, not cached")
    status, headers, tile = api.request("GET", f"/log/tile/entries/x{(base + 2) // 256 // 1000:03d}/{(base + 2) // 256 % 1000:03d}.p/{(base + 2) % 256}" if (base + 2) // 256 >= 1000 else f"/log/tile/entries/{(base + 2) // 256:03d}.p/{(base + 2) % 256}")
    c.check(status == 200 and "max-age=60" in headers.get("Cache-Control", "") and len(tile) > 0,
            f"a partial entry bundle: {status} {headers.get('Cache-Control')}")
    status, headers, _ = api.request("GET", "/log/tile/0/000")
    c.check(status == 200 and "immutable" in headers.get("Cache-Control", ""), "a full tile is immutable")
    status, _, _ = api.request("GET", "/log/tile/0/x999/000")
    c.check(status == 404, "a tile that does not exist is 404")
    try:
        out = subprocess.run([ledgerfs, "verify", "--url", f"http://127.0.0.1:{port}/", "--vkey",
                              open(vkey).read().strip(), "--token", token], capture_output=True, text=True, timeout=120)
        c.check(out.returncode == 0, f"ledgerfs verify --url: {(out.stdout + out.stderr).strip().splitlines()[-1:]}")
    except subprocess.TimeoutExpired:
        c.check(False, "ledgerfs verify --url: no answer within 120 s")
    witness_collects(c, ledgerfs, port, open(vkey).read().strip(), token)
    status, _, text = api.request("GET", "/metrics", token="")
    c.check(status == 200 and f"ledgerfs_log_size {base + 2}\n".encode() in text and b"ledgerfs_net_requests_total" in text,
            "GET /metrics")
    # verify --url pulled every tile over one connection: net_tx filled and emptied many
    # times, and no frame was dropped for it (a full net_tx holds smoltcp back instead).
    c.check(b"ledgerfs_net_frames_dropped_total 0\n" in text,
            "no frame dropped on a full net_tx: "
            + next((l for l in text.decode().splitlines() if l.startswith("ledgerfs_net_frames_dropped_total")), "?"))
    # 8 connections at once with keep-alive; the 9th is answered 503 and closed.
    api.close()
    held = [Http(port, token) for _ in range(8)]
    served = [h.request("GET", "/health")[0] for h in held]
    extra = Http(port, token, timeout=10)
    try:
        status = extra.request("GET", "/health")[0]
    except (OSError, http.client.HTTPException):
        status = None
    c.check(served == [200] * 8 and status == 503, f"8 connections served at once, the 9th: {status}")
    for h in held:
        h.close()
    extra.close()
    # A client that sends half a request and stalls holds one connection, not the ledger.
    stall = socket.create_connection(("127.0.0.1", port), timeout=10)
    stall.sendall(b"POST /v1/transfers HTTP/1.1\r\nContent-Length: 100\r\n\r\n[")
    time.sleep(0.5)
    reply = console.command("status")
    status, _, body = Http(port, token).request("GET", "/v1/accounts/carol")
    c.check("status" in reply and status == 200, "a stalled HTTP client stalls neither the console nor HTTP")
    stall.close()
    # Throughput over HTTP from the host, next to the console's bench.
    for batch, total in ((1, 300), (100, 5000), (2048, 20480)):
        rate, accepted = http_bench(port, token, batch, total)
        c.check(accepted == total, f"HTTP bench, batches of {batch}: {rate:,.0f} transfers/s ({total} transfers)")
    return 2 + 300 + 5000 + 20480


def main(image, transcript_path, key_path, helper, ledgerfs, token_path, auditor_path):
    global VERIFY
    token, auditor = (open(p).read().strip() for p in (token_path, auditor_path))
    VERIFY = [helper, key_path]
    vkey = key_path[:-len(".key")] + ".vkey" if key_path.endswith(".key") else key_path + ".vkey"
    work = os.path.join(os.path.dirname(os.path.abspath(transcript_path)), "test-image")
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    disk, sock, export = (os.path.join(work, n) for n in ("disk.img", "serial.sock", "export"))
    transcript, c = [], Checks()
    console = None
    try:
        # Boot 1: a blank disk, the console on stdio.
        start = time.monotonic()
        console = Console(image, disk, transcript)
        status = console.ready()
        print(f"test-image: boot 1 ready in {time.monotonic() - start:.2f} s on the host clock, "
              f"{status['ready_after_reset_ms']} ms after reset (blank disk)")
        for command, check in STEPS:
            try:
                ok = check(console.command(command))
            except (ValueError, KeyError, subprocess.CalledProcessError):
                ok = False
            c.check(ok, command[:60])
        # One line of 600 transfers (~66 KB in, ~37 KB out: more than a 32 KiB buffer).
        big = ",".join('{"id":"big-%d","debit":"safeguarding","credit":"bob","amount":"0.01","currency":"EUR"}' % i
                       for i in range(600))
        reply = console.command(f"transfers [{big}]", timeout=120)
        c.check(reply.get("accepted") == 600 and reply.get("size") == 605, "a batch of 600 transfers in one line")
        bench = console.command("bench 5000", timeout=300)["bench"]
        c.check(bench["accepted"] == 5000,
                f"bench 5000: {bench['transfers_per_s']} transfers/s end to end ({bench['milliseconds']} ms: "
                f"generating {bench['generating_ms']}, sequencing {bench['sequencing_ms']}, handing off "
                f"{bench['handing_off_ms']}, committing {bench['committing_ms']})")
        status = console.command("status")["status"]
        c.check(status["size"] == 5607 and status["durable"] == 5607, f"status after boot 1: {status}")
        alice = console.command("balance alice")["balance"]
        size1 = 5607 + http_checks(c, console, console.net_port, token, auditor, ledgerfs, vkey, 5607)
        snap = console.command("snapshot", timeout=120).get("snapshot", {})
        c.check(snap.get("size") == size1, f"snapshot at {size1}: {snap}")
        console.stop()
        console = None

        # Boot 2: the same disk, the console on a unix socket, driven by `ledgerfs appliance`.
        port2 = free_port()
        env = dict(os.environ, DISK=disk, NET_PORT=str(port2))
        qemu_log = open(os.path.join(work, "qemu-boot2.log"), "w")
        qemu = subprocess.Popen([BOOT, image, "--socket", sock], env=env, stdout=qemu_log, stderr=qemu_log)
        try:
            for _ in range(100):
                if os.path.exists(sock):
                    break
                time.sleep(0.1)

            def appliance(*args, timeout=30):
                out = subprocess.run([ledgerfs, "appliance", "--serial", sock, "--timeout", str(timeout), "--raw",
                                      *args], capture_output=True, text=True)
                if out.returncode != 0:
                    print(f"test-image: ledgerfs appliance {' '.join(args)}: {out.stderr.strip()}")
                return out.returncode, out.stdout.strip()

            # Characters sent before the serial PD runs are lost in the UART's FIFO: ask
            # until the console answers (a garbled first line gets an error reply).
            deadline, rc = time.monotonic() + 60, 1
            while rc != 0 and time.monotonic() < deadline:
                rc, out = appliance("status", timeout=3)
            status = json.loads(out)["status"] if rc == 0 else {}
            c.check(status.get("size") == size1 and status.get("snapshot") == size1 and status.get("boot_replayed") == 0,
                    f"boot 2 recovered the log from its snapshot: {status}")
            rc, out = appliance("balance", "alice")
            c.check(rc == 0 and json.loads(out)["balance"] == alice, f"boot 2 balance alice {out}")
            rc, out = appliance("checkpoint")
            c.check(rc == 0 and checkpoint_ok(json.loads(out)["checkpoint"], size1), "boot 2 checkpoint verifies")
            rc, out = appliance("transfer", "--id", "t4", "--debit", "bob", "--credit", "alice", "--amount", "0.50",
                                "--currency", "EUR")
            c.check(rc == 0 and json.loads(out)["results"][0]["index"] == size1, f"boot 2 transfer: {out}")
            rc, out = appliance("transfers", T2)
            c.check(rc == 0 and json.loads(out)["results"][0]["code"] == "exists", "boot 2 retry of t2 is exists")
            # A command that times out is still answered later: that reply (its command
            # id is another's) must never be taken for the next command's.
            rc, _ = appliance("bench", "20000", timeout=0.2)
            rc2, out = appliance("balance", "alice", timeout=120)
            c.check(rc != 0 and rc2 == 0 and "balance" in json.loads(out),
                    f"a late reply is not the next command's: {out[:80]}")
            # HTTP clients posting one transfer per request, and a long benchmark on the
            # console, all killed in the middle: what was acknowledged must survive.
            wait_http(port2)
            status, _, body = Http(port2, token).request("POST", "/v1/accounts",
                                                         [{"id": "http-load", "currency": "EUR"}])
            c.check(status == 200 and body["accepted"] == 1, f"boot 2 opens an account over HTTP: {body}")
            stop = threading.Event()

            def load(worker):
                client = Http(port2, token, timeout=30)
                n = 0
                while not stop.is_set():
                    t = {"id": f"hl-{worker}-{n}", "debit": "safeguarding", "credit": "http-load",
                         "amount": "0.01", "currency": "EUR"}
                    try:
                        status, _, body = client.request("POST", "/v1/transfers", [t])
                    except (OSError, http.client.HTTPException, ValueError):
                        return
                    if status == 200 and body["results"][0]["code"] == "ok":
                        acked.append(t)
                    n += 1

            acked = []
            loaders = [threading.Thread(target=load, args=(w,), daemon=True) for w in range(4)]
            for t in loaders:
                t.start()
            time.sleep(1.5)
            bench = subprocess.Popen([ledgerfs, "appliance", "--serial", sock, "bench", "60000"],
                                     stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            time.sleep(1.5)
        finally:
            qemu.send_signal(signal.SIGKILL)
            qemu.wait(timeout=10)
        stop.set()
        for t in loaders:
            t.join(timeout=30)
        bench.wait(timeout=60)

        # Boot 3: nothing acknowledged lost after the kill.
        start = time.monotonic()
        console = Console(image, disk, transcript)
        status = console.ready()
        print(f"test-image: boot 3 ready in {time.monotonic() - start:.2f} s on the host clock, "
              f"{status['ready_after_reset_ms']} ms after reset (snapshot at {status['snapshot']}, "
              f"{status['boot_replayed']} of {status['size']} entries replayed)")
        c.check(status["snapshot"] >= size1 and status["boot_replayed"] == status["size"] - status["snapshot"],
                f"boot 3 loaded the snapshot and replayed the tail: {status}")
        c.check(status["size"] >= size1 + 1 and status["size"] == status["durable"],
                f"boot 3 kept every acknowledged entry (size {status['size']} >= {size1 + 1})")
        wait_http(console.net_port)
        api = Http(console.net_port, token)
        lost = 0
        for i in range(0, len(acked), 2048):
            code, _, body = api.request("POST", "/v1/transfers", acked[i:i + 2048])
            lost += sum(r["code"] != "exists" for r in body["results"]) if code == 200 else len(acked[i:i + 2048])
        c.check(len(acked) > 0 and lost == 0,
                f"boot 3 has every transfer acknowledged over HTTP before the kill ({len(acked)}, {lost} lost)")
        rc_alice = console.command("balance alice")["balance"]
        c.check(rc_alice["net"] == "60.00", f"boot 3 balance alice {rc_alice}")
        final = console.command("checkpoint")
        c.check(checkpoint_ok(final["checkpoint"], status["size"]), "boot 3 checkpoint verifies")
        # Two-phase transfers take the same JSON on the console: reserve 2.00, capture 1.50.
        reply = console.command('transfers [{"id":"auth-1","debit":"alice","credit":"bob","amount":"2.00",'
                                '"currency":"EUR","flags":["pending"]},'
                                '{"id":"cap-1","pending_id":"auth-1","flags":["post_pending"],"amount":"1.50"}]')
        after = console.command("balance alice")["balance"]
        c.check(reply.get("accepted") == 2 and after["net"] == "58.50",
                f"a pending transfer and its partial capture: {reply.get('accepted')} accepted, alice {after}")
        # A timeout: the first batch after it starts with the expiry, so the capture is late.
        console.command('transfers {"id":"auth-2","debit":"alice","credit":"bob","amount":"1.00",'
                        '"currency":"EUR","flags":["pending"],"timeout":1}')
        time.sleep(1.5)
        reply = console.command('transfers {"id":"cap-2","pending_id":"auth-2","flags":["post_pending"]}')
        after = console.command("balance alice")["balance"]
        c.check(codes(reply) == [("pending_transfer_expired", None)] and after["debits_pending"] == "0.00",
                f"a pending transfer expires after its timeout: {codes(reply)}, alice {after}")
        console.stop()
        console = None

        # Boot 4: a 1 MiB disk fills up: storage_full, nothing acknowledged lost, small writes go on.
        console = Console(image, os.path.join(work, "tiny.img"), transcript, disk_size="1M")
        console.ready()
        reply = console.command("bench 5000", timeout=120)
        c.check(reply.get("error", {}).get("code") == "storage_full", f"a full disk answers storage_full: {reply}")
        status = console.command("status")["status"]
        c.check(status["size"] == status["durable"] == 2050, f"the batches before it stay: {status}")
        reply = console.command('accounts {"id":"late","currency":"EUR"}')
        c.check(reply.get("accepted") == 1, "a small write still fits")
        console.stop()
        console = None

        # The disk, exported and verified by a stranger's verifier.
        out = subprocess.run([ledgerfs, "image", "export", disk, "--out", export, "--vkey", vkey],
                             capture_output=True, text=True)
        c.check(out.returncode == 0, f"image export: {(out.stdout + out.stderr).strip().splitlines()[:1]}")
        out = subprocess.run([ledgerfs, "verify", "--dir", export], capture_output=True, text=True)
        c.check(out.returncode == 0, f"verify --dir: {(out.stdout + out.stderr).strip().splitlines()[-1:]}")
    except (TimeoutError, ValueError, KeyError) as e:
        c.check(False, f"{type(e).__name__}: {e}")
    finally:
        if console:
            console.stop()
        with open(transcript_path, "w") as f:
            f.write("\n".join(transcript) + "\n")
    print(f"test-image: serial transcript in {transcript_path}")
    print(f"test-image: {'FAILED' if c.failures else 'passed'} ({c.count} checks, {c.failures} failures)")
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main(*sys.argv[1:8]))
