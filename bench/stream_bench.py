#!/usr/bin/python3
"""stream_bench.py -- change streams: delivery latency to SSE subscribers and
the cost of subscribers to writers (issue 5's figures).

Starts build/server/dynafiled (fsync on) on a temporary data directory and a
free port, creates table "bench" (pk, sk: strings) with a NEW_AND_OLD_IMAGES
stream, then:

1. Latency, with 1 and with 100 subscribers of GET /v1/tables/bench/stream
   (up to 5 read by this script, which timestamps every event, the rest by
   `curl -N` processes, which must all receive every event too): one writer
   sends N PutItems one after the other (each acknowledged after fsync). For
   every event and every measured subscriber it records
     write->event  from just before the PutItem was sent to the moment the
                   subscriber read the event (includes the fsync), and
     ack->event    from the PutItem's answer to the event's arrival (the
                   event is pushed in the same loop turn as the answer, so
                   this is about zero and may be negative),
   and prints p50 / p99 of each. Every event must arrive at every subscriber
   exactly once, in order: otherwise the run FAILS.
2. Throughput: wrk's PutItem script (bench/wrk/putitem.lua) at 16 connections
   for DURATION seconds with no subscriber, then with 100 `curl -N`
   subscribers reading everything, and prints req/s of each and the ratio.
   wrk's answers are checked as in `make bench`; the events each subscriber
   received are reported (a put identical to the stored item makes no event,
   so they can be fewer than the puts).

Usage: stream_bench.py [--build DIR] [--events N] [--duration S] [--subs N]
"""
import argparse
import http.client
import json
import os
import selectors
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


AUTH = ("AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0")


def ddb(port, op, body):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    c.request("POST", "/", json.dumps(body), {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810." + op, "Authorization": AUTH, "X-Amz-Date": "20260101T000000Z"})
    r = c.getresponse()
    data = r.read()
    c.close()
    if r.status != 200:
        raise RuntimeError("%s: %d %s" % (op, r.status, data[:200]))
    return json.loads(data)


class Subscriber:
    """One SSE connection read without blocking; records (seq, key, time)."""

    def __init__(self, port, table):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.sock.sendall(("GET /v1/tables/%s/stream HTTP/1.1\r\nHost: x\r\n"
                           "Accept: text/event-stream\r\n\r\n" % table).encode())
        self.sock.setblocking(False)
        self.raw = b""         # bytes as received
        self.buf = b""         # the event stream after de-chunking
        self.chunked = False   # Transfer-Encoding: chunked
        self.headers_done = False
        self.events = []  # (seq, pk, time)

    def feed(self, now):
        try:
            data = self.sock.recv(1 << 20)
        except BlockingIOError:
            return
        if not data:
            raise RuntimeError("subscriber connection closed")
        self.raw += data
        if not self.headers_done:
            i = self.raw.find(b"\r\n\r\n")
            if i < 0:
                return
            self.chunked = b"chunked" in self.raw[:i].lower()
            self.raw = self.raw[i + 4:]
            self.headers_done = True
        if self.chunked:  # undo the chunked transfer coding
            while True:
                i = self.raw.find(b"\r\n")
                if i < 0:
                    break
                size = int(self.raw[:i].split(b";")[0] or b"0", 16)
                if len(self.raw) < i + 2 + size + 2:
                    break
                self.buf += self.raw[i + 2:i + 2 + size]
                self.raw = self.raw[i + 2 + size + 2:]
        else:
            self.buf += self.raw
            self.raw = b""
        while True:
            j = self.buf.find(b"\n\n")
            if j < 0:
                return
            block, self.buf = self.buf[:j], self.buf[j + 2:]
            seq = pk = None
            for line in block.split(b"\n"):
                if line.startswith(b"id: "):
                    seq = line[4:].strip()
                elif line.startswith(b"data: "):
                    d = line.find(b'"pk":{"S":"')
                    if d >= 0:
                        e = line.find(b'"', d + 11)
                        pk = line[d + 11:e].decode()
            if seq is not None and pk is not None:
                self.events.append((seq, pk, now))


def pump(subs, stop, ready):
    sel = selectors.DefaultSelector()
    for s in subs:
        sel.register(s.sock, selectors.EVENT_READ, s)
    ready.set()
    while not stop.is_set():
        for key, _ in sel.select(0.05):
            key.data.feed(time.perf_counter())


def cpu_s(pid):
    """utime + stime of a process, seconds."""
    f = open("/proc/%d/stat" % pid).read().rsplit(")", 1)[1].split()
    return (int(f[11]) + int(f[12])) / os.sysconf("SC_CLK_TCK")


def pct(xs, p):
    xs = sorted(xs)
    return xs[min(len(xs) - 1, int(len(xs) * p))]


def curl_subscribers(port, n, tmp, tag):
    """n `curl -N` subscribers writing to files (C clients: they keep up)."""
    procs = []
    for i in range(n):
        path = os.path.join(tmp, "%s-%d.sse" % (tag, i))
        procs.append((subprocess.Popen(["curl", "-sN", "http://127.0.0.1:%d/v1/tables/bench/stream" % port],
                                       stdout=open(path, "wb")), path))
    return procs


def curl_counts(procs, tag):
    counts = []
    for p, path in procs:
        p.terminate()
        p.wait()
        with open(path, "rb") as f:
            counts.append(sum(1 for line in f if line.startswith(b"data: ") and tag.encode() in line))
        os.unlink(path)
    return counts


def latency_run(port, nsubs, n, tmp):
    """Latency at MEASURED subscribers read by this process; the other
    nsubs - MEASURED are curl processes (all must receive every event)."""
    measured = min(nsubs, 5)
    subs = [Subscriber(port, "bench") for _ in range(measured)]
    tag = "L%d-" % nsubs
    others = curl_subscribers(port, nsubs - measured, tmp, tag)
    stop, ready = threading.Event(), threading.Event()
    t = threading.Thread(target=pump, args=(subs, stop, ready), daemon=True)
    t.start()
    ready.wait()
    time.sleep(1.0)  # let every subscription register
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    sent, acked = {}, {}
    for i in range(n):
        pk = "%s%06d" % (tag, i)
        body = json.dumps({"TableName": "bench", "Item": {"pk": {"S": pk}, "sk": {"S": "s"},
                                                          "data": {"S": "x" * 180}}})
        t0 = time.perf_counter()
        c.request("POST", "/", body, {"Content-Type": "application/x-amz-json-1.0",
                                      "X-Amz-Target": "DynamoDB_20120810.PutItem", "Authorization": AUTH, "X-Amz-Date": "20260101T000000Z"})
        r = c.getresponse()
        r.read()
        t1 = time.perf_counter()
        if r.status != 200:
            raise RuntimeError("PutItem %d" % r.status)
        sent[pk], acked[pk] = t0, t1
    deadline = time.time() + 10
    while time.time() < deadline and any(len([e for e in s.events if e[1].startswith(tag)]) < n for s in subs):
        time.sleep(0.05)
    stop.set()
    t.join()
    w2e, a2e, bad = [], [], 0
    for s in subs:
        evs = [e for e in s.events if e[1].startswith(tag)]
        if len(evs) != n or [e[1] for e in evs] != ["%s%06d" % (tag, i) for i in range(n)]:
            bad += 1
        for seq, pk, tr in evs:
            w2e.append((tr - sent[pk]) * 1e3)
            a2e.append((tr - acked[pk]) * 1e3)
        s.sock.close()
    time.sleep(0.5)
    bad += sum(1 for c in curl_counts(others, tag) if c != n)
    return {"subs": nsubs, "events": n, "bad_subscribers": bad,
            "w2e_p50": pct(w2e, 0.5), "w2e_p99": pct(w2e, 0.99),
            "a2e_p50": pct(a2e, 0.5), "a2e_p99": pct(a2e, 0.99)}


def wrk_put(port, duration, conns=16):
    script = os.path.join(HERE, "wrk", "putitem.lua")
    out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % duration, "--latency", "-s", script,
                          "http://127.0.0.1:%d/" % port], capture_output=True, text=True,
                         env=dict(os.environ, BENCH_PARTS="10000"))
    line = [l for l in out.stdout.splitlines() if l.startswith("BENCH ")]
    if not line:
        raise RuntimeError("wrk printed no BENCH line:\n" + out.stdout + out.stderr)
    f = dict(kv.split("=") for kv in line[0].split()[1:])
    rps = [l for l in out.stdout.splitlines() if l.startswith("Requests/sec:")]
    f["rps"] = float(rps[0].split()[1]) if rps else 0.0
    return f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--events", type=int, default=2000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--subs", type=int, default=100)
    opts = ap.parse_args()
    if shutil.which("wrk") is None or shutil.which("curl") is None:
        print("stream_bench: wrk and curl are needed (make bench-deps installs them)", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="dfstream.")
    port = free_port()
    d = subprocess.Popen([os.path.join(opts.build, "server", "dynafiled"), "--port", str(port), "--data-dir",
                          os.path.join(tmp, "data"), "--log-level", "warn",
                          "--sse-backlog", "1000000"], stderr=subprocess.DEVNULL)
    failed = False
    try:
        for _ in range(100):
            try:
                ddb(port, "ListTables", {})
                break
            except OSError:
                time.sleep(0.05)
        ddb(port, "CreateTable", {
            "TableName": "bench", "BillingMode": "PAY_PER_REQUEST",
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "S"}],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}})
        print("## Change streams (`bench/stream_bench.py --events %d --duration %d --subs %d`)\n"
              % (opts.events, opts.duration, opts.subs))
        print("| subscribers | events | write->event p50 | p99 | ack->event p50 | p99 | result |")
        print("|---|---|---|---|---|---|---|")
        for nsubs in (1, opts.subs):
            r = latency_run(port, nsubs, opts.events, tmp)
            ok = r["bad_subscribers"] == 0
            failed |= not ok
            print("| %d | %d | %.2f ms | %.2f ms | %.2f ms | %.2f ms | %s |" % (
                nsubs, r["events"], r["w2e_p50"], r["w2e_p99"], r["a2e_p50"], r["a2e_p99"],
                "ok" if ok else "FAILED (%d subscribers missed events)" % r["bad_subscribers"]))
        print("\n| PutItem, 16 connections, %d s | req/s | p50 | p99 | errors | dynafiled CPU/put | subscribers' events |"
              % opts.duration)
        print("|---|---|---|---|---|---|---|")
        c0 = cpu_s(d.pid)
        base = wrk_put(port, opts.duration)
        base_cpu = (cpu_s(d.pid) - c0) / max(1, int(base["requests"])) * 1e6
        errs = int(base["errors"]) + int(base["bad_status"]) + int(base["socket"])
        failed |= errs > 0
        print("| no subscriber | %.0f | %.2f ms | %.2f ms | %d | %.0f us | - |" % (
            base["rps"], int(base["p50_us"]) / 1e3, int(base["p99_us"]) / 1e3, errs, base_cpu))
        procs = curl_subscribers(port, opts.subs, tmp, "T")
        time.sleep(1.5)
        c0 = cpu_s(d.pid)
        withs = wrk_put(port, opts.duration)
        time.sleep(1.0)
        with_cpu = (cpu_s(d.pid) - c0) / max(1, int(withs["requests"])) * 1e6
        counts = curl_counts(procs, '"S":"p')
        errs = int(withs["errors"]) + int(withs["bad_status"]) + int(withs["socket"])
        failed |= errs > 0
        print("| %d subscribers | %.0f | %.2f ms | %.2f ms | %d | %.0f us | min %d / max %d per subscriber (%d puts) |" % (
            opts.subs, withs["rps"], int(withs["p50_us"]) / 1e3, int(withs["p99_us"]) / 1e3, errs, with_cpu,
            min(counts), max(counts), int(withs["requests"])))
        print("\nratio with/without subscribers: %.2f" % (withs["rps"] / base["rps"] if base["rps"] else 0))
    finally:
        d.send_signal(signal.SIGTERM)
        d.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
