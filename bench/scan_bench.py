#!/usr/bin/python3
"""scan_bench.py -- load a table with BatchWriteItem and time full Scans.

Usage:
  bench/scan_bench.py PORT N [--threads T] [--segments S]
      create "scanbench" (pk S, sk N), load N items of about 100 bytes
      (N/10 partitions of 10) with BatchWriteItem over T keep-alive
      connections (default 16), then time one full Scan (sequential pages,
      default 1 MB each) and one parallel Scan of S segments from S threads
      (default 8); every page must be 200 and the item counts must add up.
  bench/scan_bench.py PORT N --query-table
      create and load "qbench" the same way (for bench/wrk/query.lua with
      BENCH_KEYS = N / 10), no scans.

Raw HTTP with the headers botocore sends (fake signature), standard
library only. Prints one line per figure.
"""
import argparse
import http.client
import json
import sys
import threading
import time

AUTH = ("AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0")


def call(conn, op, body):
    conn.request("POST", "/", json.dumps(body), {
        "Content-Type": "application/x-amz-json-1.0", "X-Amz-Target": "DynamoDB_20120810." + op,
        "X-Amz-Date": "20260101T000000Z", "Authorization": AUTH})
    r = conn.getresponse()
    data = r.read()
    if r.status != 200:
        sys.exit("%s: HTTP %d %s" % (op, r.status, data[:300]))
    return json.loads(data)


def item(i):
    return {"pk": {"S": "p%06d" % (i // 10)}, "sk": {"N": str(i % 10)}, "n": {"N": str(i)},
            "pad": {"S": "x" * 64}}


def load(port, table, n, threads):
    errors = []

    def worker(lo, hi):
        c = http.client.HTTPConnection("127.0.0.1", port)
        try:
            for i in range(lo, hi, 25):
                reqs = [{"PutRequest": {"Item": item(j)}} for j in range(i, min(i + 25, hi))]
                r = call(c, "BatchWriteItem", {"RequestItems": {table: reqs}})
                if r.get("UnprocessedItems"):
                    errors.append("unprocessed")
        except SystemExit as e:
            errors.append(str(e))

    chunk = (n + threads - 1) // threads
    chunk = (chunk + 24) // 25 * 25
    ts = [threading.Thread(target=worker, args=(lo, min(lo + chunk, n))) for lo in range(0, n, chunk)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.time() - t0
    if errors:
        sys.exit("load: %s" % errors[0])
    print("load: %d items with BatchWriteItem in %.1fs = %.0f items/s (%d connections)" % (n, dt, n / dt, threads))


def create(port, table):
    c = http.client.HTTPConnection("127.0.0.1", port)
    call(c, "CreateTable", {"TableName": table, "BillingMode": "PAY_PER_REQUEST",
                            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                                     {"AttributeName": "sk", "AttributeType": "N"}],
                            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                          {"AttributeName": "sk", "KeyType": "RANGE"}]})


def scan_all(port, table, segment=None, total=None, out=None):
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=120)
    body = {"TableName": table}
    if total:
        body.update(Segment=segment, TotalSegments=total)
    items = pages = 0
    while True:
        r = call(c, "Scan", body)
        items += r["Count"]
        pages += 1
        if "LastEvaluatedKey" not in r:
            break
        body["ExclusiveStartKey"] = r["LastEvaluatedKey"]
    if out is not None:
        out.append((items, pages))
    return items, pages


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("port", type=int)
    ap.add_argument("n", type=int)
    ap.add_argument("--threads", type=int, default=16)
    ap.add_argument("--segments", type=int, default=8)
    ap.add_argument("--query-table", action="store_true")
    a = ap.parse_args()
    table = "qbench" if a.query_table else "scanbench"
    create(a.port, table)
    load(a.port, table, a.n, a.threads)
    if a.query_table:
        return
    t0 = time.time()
    items, pages = scan_all(a.port, table)
    dt = time.time() - t0
    if items != a.n:
        sys.exit("scan: %d items, want %d" % (items, a.n))
    print("scan: %d items in %d pages in %.2fs = %.0f items/s (one client, sequential pages)"
          % (items, pages, dt, items / dt))
    out = []
    ts = [threading.Thread(target=scan_all, args=(a.port, table, s, a.segments, out)) for s in range(a.segments)]
    t0 = time.time()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.time() - t0
    items = sum(x[0] for x in out)
    if items != a.n:
        sys.exit("parallel scan: %d items, want %d" % (items, a.n))
    print("parallel scan: %d items, %d segments in %.2fs = %.0f items/s" % (items, a.segments, dt, items / dt))


main()
