#!/usr/bin/python3
"""rest_bench.py -- the /v1/ plain-JSON face against the DynamoDB face (issue 8's figures).

Starts build/server/dynafiled (fsync on) on a temporary data directory and a
free port, creates table "bench" (pk, sk: strings) through POST /v1/tables,
imports PARTS x 10 items of about 200 bytes with one NDJSON request per
IMPORT_CHUNK lines (POST /v1/tables/bench/items:batch; every answer's
"written" checked) and prints the import rate, exports the table with
?format=ndjson (line count checked) and prints that rate, then runs wrk for
DURATION seconds at 16 connections: GetItem through the DynamoDB face
(bench/wrk/getitem.lua) and GET /v1/tables/bench/items/<pk>/<sk>
(bench/wrk/rest_get.lua), both over the same random keys, every answer
checked; prints req/s, p50, p99 and the ratio.

Usage: rest_bench.py [--build DIR] [--parts N] [--duration S] [--conns N]
"""
import argparse
import http.client
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
IMPORT_CHUNK = 50000


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def rest(port, method, path, body=None, ctype="application/json"):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
    c.request(method, path, body, {"Content-Type": ctype} if body is not None else {})
    r = c.getresponse()
    data = r.read()
    c.close()
    return r.status, data


def wrk(port, script, conns, duration, parts):
    out = subprocess.run(["wrk", "-t2", "-c%d" % conns, "-d%ds" % duration, "--latency", "-s",
                          os.path.join(HERE, "wrk", script), "http://127.0.0.1:%d/" % port],
                         capture_output=True, text=True, env=dict(os.environ, BENCH_PARTS=str(parts)))
    line = [l for l in out.stdout.splitlines() if l.startswith("BENCH ")]
    if not line:
        raise RuntimeError("wrk printed no BENCH line:\n" + out.stdout + out.stderr)
    f = {k: int(v) for k, v in (kv.split("=") for kv in line[0].split()[1:])}
    rps = [l for l in out.stdout.splitlines() if l.startswith("Requests/sec:")]
    f["rps"] = float(rps[0].split()[1]) if rps else 0.0
    f["bad"] = f["errors"] + f["bad_status"] + f["socket"]
    return f


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--parts", type=int, default=10000)
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--conns", type=int, default=16)
    opts = ap.parse_args()
    if shutil.which("wrk") is None:
        print("rest_bench: wrk is needed (make bench-deps installs it)", file=sys.stderr)
        return 1
    tmp = tempfile.mkdtemp(prefix="dfrest.")
    port = free_port()
    d = subprocess.Popen([os.path.join(opts.build, "server", "dynafiled"), "--port", str(port), "--data-dir",
                          os.path.join(tmp, "data"), "--log-level", "warn"])
    failed = False
    try:
        for _ in range(100):
            try:
                rest(port, "GET", "/v1/tables")
                break
            except OSError:
                time.sleep(0.05)
        st, body = rest(port, "POST", "/v1/tables", json.dumps(
            {"name": "bench", "partitionKey": {"name": "pk", "type": "S"}, "sortKey": {"name": "sk", "type": "S"}}))
        if st != 201:
            raise RuntimeError("create: %d %s" % (st, body[:200]))
        lines = ['{"pk":"p%05d","sk":"s%02d","data":"%s"}' % (i, j, "d" * 183)
                 for i in range(opts.parts) for j in range(10)]
        t0 = time.perf_counter()
        written = 0
        for k in range(0, len(lines), IMPORT_CHUNK):
            st, body = rest(port, "POST", "/v1/tables/bench/items:batch",
                            ("\n".join(lines[k:k + IMPORT_CHUNK]) + "\n").encode(), "application/x-ndjson")
            if st != 200:
                raise RuntimeError("import: %d %s" % (st, body[:200]))
            written += json.loads(body)["written"]
        t_import = time.perf_counter() - t0
        failed |= written != len(lines)
        t0 = time.perf_counter()
        st, body = rest(port, "GET", "/v1/tables/bench/items?format=ndjson")
        t_export = time.perf_counter() - t0
        exported = body.count(b"\n")
        failed |= st != 200 or exported != len(lines)
        print("## The /v1/ face (`bench/rest_bench.py --parts %d --duration %d --conns %d`)\n"
              % (opts.parts, opts.duration, opts.conns))
        print("NDJSON import: %d items (%.1f MB, %d request(s)) in %.2f s = %.0f items/s (acknowledged after fsync)"
              % (written, sum(len(l) + 1 for l in lines) / 1e6, (len(lines) + IMPORT_CHUNK - 1) // IMPORT_CHUNK,
                 t_import, written / t_import))
        print("NDJSON export: %d items in %.2f s = %.0f items/s\n" % (exported, t_export, exported / t_export))
        print("| %d connections, %d s | req/s | p50 | p99 | errors |" % (opts.conns, opts.duration))
        print("|---|---|---|---|---|")
        res = {}
        for label, script in (("GetItem (DynamoDB face)", "getitem.lua"), ("GET /v1/.../items/pk/sk", "rest_get.lua")):
            f = wrk(port, script, opts.conns, opts.duration, opts.parts)
            res[script] = f
            failed |= f["bad"] > 0
            print("| %s | %.0f | %.2f ms | %.2f ms | %d |" % (label, f["rps"], f["p50_us"] / 1e3, f["p99_us"] / 1e3,
                                                          f["bad"]))
        a, b = res["getitem.lua"]["rps"], res["rest_get.lua"]["rps"]
        print("\n/v1/ GET : GetItem = %.2f" % (b / a if a else 0))
    finally:
        d.send_signal(signal.SIGTERM)
        d.wait(30)
        shutil.rmtree(tmp, ignore_errors=True)
    if failed:
        print("FAILED: a wrong answer or count (see above)")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
