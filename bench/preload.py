#!/usr/bin/python3
"""preload.py -- the loader of `make bench`: BatchWriteItem of PARTS x SORTS
200-byte items (pk "p%05d", sk "s%02d", data 183 random base64 characters;
DynamoDB item size 2+6 + 2+3 + 4+183 = 200) into table TABLE, 25 items a request, over THREADS
keep-alive connections.

Every answer is checked: status 200, a JSON body with an UnprocessedItems
map; unprocessed items are sent again (counted) until written. Any other
answer fails the load. The request bodies are built before the clock starts,
so that the figure is the server's, not Python's JSON encoder's.

Usage: preload.py PORT [PARTS=10000] [SORTS=10] [THREADS=4] [TABLE=bench]
prints "preload: N items in T s = R items/s (U unprocessed resent)".
Also importable: preload(port, parts, sorts, threads, table) -> dict.
"""
import base64
import http.client
import json
import random
import sys
import threading
import time

AUTH = ("AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, "
        "SignedHeaders=host, Signature=0")


def headers(op):
    return {
        "Content-Type": "application/x-amz-json-1.0",
        "X-Amz-Target": "DynamoDB_20120810." + op,
        "X-Amz-Date": "20260101T000000Z",
        "Authorization": AUTH,
    }


def item(i, j):
    """Item (i, j): its data is 183 random base64 characters (seeded by i, j,
    so every run writes the same bytes), which no engine can compress away."""
    rnd = random.Random(i * 100 + j).getrandbits(138 * 8).to_bytes(138, "little")
    return {"pk": {"S": "p%05d" % i}, "sk": {"S": "s%02d" % j},
            "data": {"S": base64.b64encode(rnd).decode()[:183]}}


_BODIES = {}  # (parts, sorts, table) -> request bodies, built once per process


class LoadError(Exception):
    pass


def _worker(port, table, bodies, state, lock):
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    hdr = headers("BatchWriteItem")
    try:
        while True:
            with lock:
                if state["error"] or state["next"] >= len(bodies):
                    return
                body = bodies[state["next"]]
                state["next"] += 1
            tries = 0
            while body is not None:
                conn.request("POST", "/", body, hdr)
                r = conn.getresponse()
                data = r.read()
                if r.status != 200:
                    raise LoadError("HTTP %d: %s" % (r.status, data[:300]))
                ans = json.loads(data)
                un = ans.get("UnprocessedItems")
                if not isinstance(un, dict):
                    raise LoadError("answer without UnprocessedItems: %s" % data[:300])
                if not un:
                    body = None
                    continue
                n = sum(len(v) for v in un.values())
                with lock:
                    state["resent"] += n
                tries += 1
                if tries > 50:
                    raise LoadError("items still unprocessed after 50 tries")
                time.sleep(min(0.001 * 2 ** tries, 0.2))
                body = json.dumps({"RequestItems": un})
    except Exception as e:  # noqa: BLE001 -- reported to the caller
        with lock:
            state["error"] = state["error"] or "%s: %s" % (type(e).__name__, e)
    finally:
        conn.close()


def preload(port, parts=10000, sorts=10, threads=4, table="bench"):
    """Load parts x sorts items; returns {"items", "seconds", "rate", "resent"}.
    Raises LoadError on any wrong answer."""
    bodies = _BODIES.get((parts, sorts, table))
    if bodies is None:
        batch, bodies = [], []
        for i in range(parts):
            for j in range(sorts):
                batch.append({"PutRequest": {"Item": item(i, j)}})
                if len(batch) == 25:
                    bodies.append(json.dumps({"RequestItems": {table: batch}}))
                    batch = []
        if batch:
            bodies.append(json.dumps({"RequestItems": {table: batch}}))
        _BODIES[(parts, sorts, table)] = bodies
    state = {"next": 0, "resent": 0, "error": None}
    lock = threading.Lock()
    ts = [threading.Thread(target=_worker, args=(port, table, bodies, state, lock))
          for _ in range(threads)]
    t0 = time.monotonic()
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    dt = time.monotonic() - t0
    if state["error"]:
        raise LoadError(state["error"])
    n = parts * sorts
    return {"items": n, "seconds": dt, "rate": n / dt, "resent": state["resent"]}


def main():
    a = sys.argv[1:]
    port = int(a[0])
    parts = int(a[1]) if len(a) > 1 else 10000
    sorts = int(a[2]) if len(a) > 2 else 10
    threads = int(a[3]) if len(a) > 3 else 4
    table = a[4] if len(a) > 4 else "bench"
    try:
        r = preload(port, parts, sorts, threads, table)
    except LoadError as e:
        sys.exit("preload: FAILED: %s" % e)
    print("preload: %d items in %.2f s = %.0f items/s (%d unprocessed resent)"
          % (r["items"], r["seconds"], r["rate"], r["resent"]))


if __name__ == "__main__":
    main()
