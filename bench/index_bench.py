#!/usr/bin/python3
"""index_bench.py -- secondary indexes: the figures of issue 7.

Starts <build>/server/dynafiled (fsync on, as `make bench`) on a temporary
data directory and a free port, then:

1. Query through a GSI: table "ixq" (pk, sk: S) with GSI "byg" (gpk, gsk:
   S, projection ALL) holding PARTS index partitions of 10 items each
   (200-byte items; the GSI partition of item (i, j) is "g%05d" of a
   shuffled i, so one index partition gathers items of 10 table
   partitions). wrk, 16 connections: Query IndexName byg, gpk = :g of a
   random partition, Limit 10; every answer must carry Count 10.
2. PutItem on tables with 0, 2 and 5 indexes (16 connections, wrk): the
   same 200-byte item shape plus five index key attributes with random
   values on every put, so each put moves its entry in every index (the
   5-index table has 4 GSIs, projection ALL, and 1 LSI, projection ALL;
   the 2-index table GSIs 1-2). Puts land on a preloaded key space
   (PARTS x 10 keys), so they overwrite.
3. GSI backfill: a table of BACKFILL items gets UpdateTable Create of a GSI
   (projection ALL, default --backfill-items / --backfill-delay-ms);
   DescribeTable is polled every 10 ms until the index is ACTIVE; the rate
   is items / seconds from the UpdateTable answer to the first ACTIVE.

wrk answers are checked as in `make bench` (bench/wrk/common.lua): a run
with wrong answers is reported FAILED, not as fast. The Lua scripts are
written to a temporary directory and load common.lua from bench/wrk.

Usage: index_bench.py [--build DIR] [--duration S] [--parts N] [--backfill N] [--conns C]
"""
import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
import preload as pl  # noqa: E402  (bench/preload.py: the loader's worker and headers)

BENCH_RE = re.compile(r"BENCH requests=(\d+) errors=(\d+) bad_status=(\d+) socket=(\d+) p50_us=(\d+) p99_us=(\d+)")


def free_port():
    import socket
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p


def ddb(port, op, body, timeout=60):
    import http.client
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        c.request("POST", "/", json.dumps(body), pl.headers(op))
        r = c.getresponse()
        data = r.read()
        if r.status != 200:
            raise RuntimeError("%s: HTTP %d %s" % (op, r.status, data[:300]))
        return json.loads(data)
    finally:
        c.close()


def ks(h, r=None):
    k = [{"AttributeName": h, "KeyType": "HASH"}]
    if r:
        k.append({"AttributeName": r, "KeyType": "RANGE"})
    return k


def gsi(name, h, r=None):
    return {"IndexName": name, "KeySchema": ks(h, r), "Projection": {"ProjectionType": "ALL"}}


def create(port, name, n_indexes=0, query_gsi=False):
    attrs = [("pk", "S"), ("sk", "S")]
    body = {"TableName": name, "BillingMode": "PAY_PER_REQUEST", "KeySchema": ks("pk", "sk")}
    if query_gsi:
        attrs += [("gpk", "S"), ("gsk", "S")]
        body["GlobalSecondaryIndexes"] = [gsi("byg", "gpk", "gsk")]
    if n_indexes:
        gsis = [gsi("gsi%d" % i, "a%d" % i, "n%d" % i) for i in range(1, min(n_indexes, 4) + 1)]
        for i in range(1, min(n_indexes, 4) + 1):
            attrs += [("a%d" % i, "S"), ("n%d" % i, "N")]
        body["GlobalSecondaryIndexes"] = gsis
        if n_indexes == 5:
            attrs.append(("n5", "N"))
            body["LocalSecondaryIndexes"] = [{"IndexName": "lsi5", "KeySchema": ks("pk", "n5"),
                                              "Projection": {"ProjectionType": "ALL"}}]
    body["AttributeDefinitions"] = [{"AttributeName": a, "AttributeType": t} for a, t in attrs]
    ddb(port, "CreateTable", body)


def load(port, table, items, threads=4):
    bodies = [json.dumps({"RequestItems": {table: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]}})
              for i in range(0, len(items), 25)]
    state = {"next": 0, "resent": 0, "error": None}
    lock = threading.Lock()
    ts = [threading.Thread(target=pl._worker, args=(port, table, bodies, state, lock)) for _ in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if state["error"]:
        raise RuntimeError("load of %s: %s" % (table, state["error"]))
    return time.monotonic() - t0


def items_for_query(parts):
    perm = list(range(parts))
    random.Random(5).shuffle(perm)
    out = []
    for i in range(parts):
        for j in range(10):
            it = pl.item(i, j)
            g = perm[(i + j) % parts]   # index partition g gathers 10 items of 10 table partitions
            it["gpk"] = {"S": "g%05d" % g}
            it["gsk"] = {"S": "%05d-%02d" % (i, j)}
            out.append(it)
    return out


LUA_HEAD = ('package.path = package.path .. ";%s/?.lua"\n' % os.path.join(HERE, "wrk"))

LUA_QUERY = LUA_HEAD + r'''
op = "Query"
function make_body(i, j)
  return string.format('{"TableName":"ixq","IndexName":"byg","KeyConditionExpression":"gpk = :g",' ..
    '"ExpressionAttributeValues":{":g":{"S":"g%05d"}},"Limit":10}', i)
end
function check(body)
  local n = body:match('"Count"%s*:%s*(%d+)')
  return n ~= nil and tonumber(n) == 10
end
require("common")
'''

LUA_PUT = LUA_HEAD + r'''
op = "PutItem"
local data = string.rep("w", 183)
local table_name = os.getenv("BENCH_TABLE")
function make_body(i, j)
  local r = math.random
  return string.format('{"TableName":"%s","Item":{"pk":{"S":"p%05d"},"sk":{"S":"s%02d"},"data":{"S":"%s"},' ..
    '"a1":{"S":"a%d"},"n1":{"N":"%d"},"a2":{"S":"a%d"},"n2":{"N":"%d"},"a3":{"S":"a%d"},"n3":{"N":"%d"},' ..
    '"a4":{"S":"a%d"},"n4":{"N":"%d"},"n5":{"N":"%d"}}}',
    table_name, i, j or 0, data, r(0, 999), r(0, 99999), r(0, 999), r(0, 99999), r(0, 999), r(0, 99999),
    r(0, 999), r(0, 99999), r(0, 99999))
end
function check(body) return body:match("^%s*{%s*}%s*$") ~= nil end
require("common")
'''


def run_wrk(port, script, conns, duration, env):
    cmd = ["wrk", "-t2", "-c%d" % conns, "-d%ds" % duration, "--timeout", "10s", "--latency", "-s", script,
           "http://127.0.0.1:%d/" % port]
    p = subprocess.run(cmd, env=dict(os.environ, **env), capture_output=True, text=True, timeout=duration + 60)
    out = p.stdout + p.stderr
    m = BENCH_RE.search(out)
    rps = re.search(r"Requests/sec:\s+([\d.]+)", out)
    if not m or not rps:
        return {"failed": "wrk: " + out.strip()[-300:], "rps": 0.0, "p50": 0, "p99": 0}
    req, err, bad, sock, p50, p99 = (int(x) for x in m.groups())
    r = {"rps": float(rps.group(1)), "requests": req, "p50": p50, "p99": p99}
    if req == 0:
        r["failed"] = "no request answered"
    elif err or bad or sock:
        r["failed"] = "%d wrong answers, %d bad statuses, %d socket errors of %d" % (err, bad, sock, req)
    return r


def row(label, w):
    res = "ok" if "failed" not in w else "FAILED (%s)" % w["failed"]
    return "| %s | %.0f | %.2f ms | %.2f ms | %s |" % (label, w["rps"], w["p50"] / 1e3, w["p99"] / 1e3, res)


def index_status(port, table, name):
    d = ddb(port, "DescribeTable", {"TableName": table})["Table"]
    for g in d.get("GlobalSecondaryIndexes", []):
        if g["IndexName"] == name:
            return g["IndexStatus"], g.get("ItemCount")
    return None, None


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--build", default=os.path.join(ROOT, "build"))
    ap.add_argument("--duration", type=int, default=10)
    ap.add_argument("--parts", type=int, default=2000, help="index partitions of 10 items (Query); table keys / 10 (PutItem)")
    ap.add_argument("--backfill", type=int, default=200000, help="items in the backfilled table")
    ap.add_argument("--conns", type=int, default=16)
    opts = ap.parse_args()
    if shutil.which("wrk") is None:
        print("index_bench: wrk is needed (make bench-deps installs it)", file=sys.stderr)
        return 1
    daemon = os.path.join(opts.build, "server", "dynafiled")
    tmp = tempfile.mkdtemp(prefix="dfindex.")
    port = free_port()
    argv = [daemon, "--port", str(port), "--data-dir", os.path.join(tmp, "data"), "--log-level", "warn"]
    d = subprocess.Popen(argv, stderr=subprocess.DEVNULL)
    failed = False
    qs = os.path.join(tmp, "ix_query.lua")
    ps = os.path.join(tmp, "ix_put.lua")
    with open(qs, "w") as f:
        f.write(LUA_QUERY)
    with open(ps, "w") as f:
        f.write(LUA_PUT)
    try:
        for _ in range(200):
            try:
                ddb(port, "ListTables", {})
                break
            except OSError:
                time.sleep(0.05)
        print("## Secondary indexes (`%s`)\n" % " ".join(["bench/index_bench.py"] + sys.argv[1:]))
        print("dynafiled %s, fsync on, %d connections, %d s per wrk run, %d CPUs\n"
              % (daemon, opts.conns, opts.duration, os.cpu_count()))
        # 1. Query through a GSI
        create(port, "ixq", query_gsi=True)
        load(port, "ixq", items_for_query(opts.parts))
        print("| run | req/s | p50 | p99 | result |")
        print("|---|---|---|---|---|")
        w = run_wrk(port, qs, opts.conns, opts.duration, {"BENCH_PARTS": str(opts.parts)})
        failed |= "failed" in w
        print(row("Query via GSI, 10 items a page (%d index partitions)" % opts.parts, w), flush=True)
        # 2. PutItem with 0, 2, 5 indexes
        for n in (0, 2, 5):
            t = "ixput%d" % n
            create(port, t, n_indexes=n)
            load(port, t, [pl.item(i, j) for i in range(opts.parts) for j in range(10)])
            w = run_wrk(port, ps, opts.conns, opts.duration, {"BENCH_PARTS": str(opts.parts), "BENCH_TABLE": t})
            failed |= "failed" in w
            print(row("PutItem, %d index%s" % (n, "" if n == 1 else "es"), w), flush=True)
        # 3. backfill
        create(port, "ixfill")
        items = []
        for i in range(opts.backfill):
            it = pl.item(i // 10, i % 10)
            it["pk"] = {"S": "p%07d" % (i // 10)}
            it["b"] = {"S": "b%04d" % (i % 5000)}
            items.append(it)
        load_s = load(port, "ixfill", items)
        del items
        t0 = time.monotonic()
        ddb(port, "UpdateTable", {"TableName": "ixfill",
                                  "AttributeDefinitions": [{"AttributeName": "b", "AttributeType": "S"}],
                                  "GlobalSecondaryIndexUpdates": [{"Create": gsi("byb", "b")}]})
        while True:
            st, count = index_status(port, "ixfill", "byb")
            if st == "ACTIVE":
                break
            if time.monotonic() - t0 > 3600:
                raise RuntimeError("backfill did not finish")
            time.sleep(0.01)
        dt = time.monotonic() - t0
        ok = count == opts.backfill
        failed |= not ok
        print("\n| GSI backfill | items | seconds | items/s | result |")
        print("|---|---|---|---|---|")
        print("| UpdateTable Create, projection ALL (load by BatchWriteItem: %.0f items/s) | %d | %.2f | %.0f | %s |"
              % (opts.backfill / load_s, opts.backfill, dt, opts.backfill / dt,
                 "ok" if ok else "FAILED (ItemCount %s)" % count))
    finally:
        d.send_signal(signal.SIGTERM)
        try:
            d.wait(60)
        except subprocess.TimeoutExpired:
            d.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
