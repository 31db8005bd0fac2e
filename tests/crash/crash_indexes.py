#!/usr/bin/python3
"""crash_indexes.py -- SIGKILL dynafiled while it builds a GSI and while
clients make index-changing writes, restart it, and check every index
against the table and the table against what the clients were told.

Usage: /usr/bin/python3 tests/crash/crash_indexes.py --daemon PATH [--kills N] [--writers W]
       [--keys K] [--backfill-items N] [--backfill-kills N] [--seed S] [--keep] [-v]

Part A, backfill: a table of BACKFILL_ITEMS items (some without the new
index's keys, some with a wrong-typed one) gets UpdateTable GSI Create;
the daemon runs with --backfill-items 100 --backfill-delay-ms 40 so the
build takes seconds, and a writer thread keeps changing items meanwhile.
The daemon is SIGKILLed while the index is CREATING (--backfill-kills
times, each after a random delay), restarted, and finally the index must
come ACTIVE and hold exactly the entries a consistent Scan of the table
implies (same entries, projected attributes, per-partition order, ItemCount).

Part B, index-changing writes: a table with two GSIs (one hash+range with
INCLUDE, one hash-only KEYS_ONLY, both sparse) and an LSI (ALL). W writer
processes loop over their own keys with PutItem / UpdateItem (moving an
item between index partitions, removing and re-adding index keys) /
DeleteItem / BatchWriteItem, one request at a time each, journaling every
request before sending it and its outcome. After a random 0.2-1.2 s the
daemon gets SIGKILL (a fifth of the restarts are killed again during
recovery). After each restart:

  - every key's item equals the state its acknowledged writes give, or that
    state plus the one request in flight at the kill (each writer has at
    most one); writes answered with an error changed nothing;
  - every index (a Scan of it, plain and parallel) holds exactly the entries
    the table implies, each once, with the projected attributes; a Query of
    every index partition returns them in index order; DescribeTable's
    ItemCount of every index matches.

After the last kill the daemon is stopped cleanly (exit 0), restarted and
checked again. Prints kills, writes, entries; exits 1 on any violation.
Standard library plus tests/integration/harness.py; /usr/bin/python3.
"""

import argparse
import http.client
import json
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

TABLE_A = "crash_backfill"
TABLE_B = "crash_indexes"
GVALS = ["G%d" % i for i in range(6)]

# Part B's indexes: name -> (hash (attr, type), range or None, projection, include)
INDEXES_B = {
    "by_g": (("g", "S"), ("r", "N"), "INCLUDE", ("v",)),
    "by_h": (("h", "N"), None, "KEYS_ONLY", ()),
    "by_l": (("pk", "S"), ("l", "N"), "ALL", ()),
}
INDEX_A = ("gnew", ("g", "S"), ("r", "N"), "INCLUDE", ("v",))


def canon(x):
    return json.dumps(x, sort_keys=True)


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


def entries_of(table_items, hash_, range_, projection, include):
    """-> list of the entries an index must hold."""
    out = []
    for it in table_items:
        ok = True
        for k in (hash_, range_):
            if k is None:
                continue
            v = it.get(k[0])
            if v is None or list(v) != [k[1]] or (k[1] in ("S", "B") and v[k[1]] == ""):
                ok = False
        if not ok:
            continue
        if projection == "ALL":
            out.append(dict(it))
        else:
            names = {"pk", "sk", hash_[0]} | ({range_[0]} if range_ else set()) | set(include)
            out.append({k: v for k, v in it.items() if k in names})
    return out


def sort_value(v):
    (t, x), = v.items()
    if t == "N":
        from decimal import Decimal
        return Decimal(x)
    return x.encode()


# -- part B writers ----------------------------------------------------------------------------

def random_item(rng, pk, sk, tag):
    item = {"pk": S(pk), "sk": S(sk), "tag": S(tag), "v": S("v" * rng.randint(0, 30)), "w": S("w")}
    if rng.random() < 0.8:
        item["g"] = S(rng.choice(GVALS))
    if rng.random() < 0.7:
        item["r"] = N(rng.randint(-50, 50))
    if rng.random() < 0.5:
        item["h"] = N(rng.randint(0, 4))
    if rng.random() < 0.7:
        item["l"] = N(rng.randint(0, 20))
    return item


def random_update(rng, tag):
    """-> (UpdateExpression, EAV, actions for the model)."""
    c = rng.randrange(7)
    if c == 0:
        g, r = rng.choice(GVALS), rng.randint(-50, 50)
        return "SET g = :g, r = :r, tag = :t", {":g": S(g), ":r": N(r)}, [("set", "g", S(g)), ("set", "r", N(r))]
    if c == 1:
        return "REMOVE r SET tag = :t", {}, [("remove", "r")]
    if c == 2:
        return "REMOVE g, h SET tag = :t", {}, [("remove", "g"), ("remove", "h")]
    if c == 3:
        h = rng.randint(0, 4)
        return "SET h = :h, tag = :t", {":h": N(h)}, [("set", "h", N(h))]
    if c == 4:
        l = rng.randint(0, 20)
        return "SET l = :l, tag = :t", {":l": N(l)}, [("set", "l", N(l))]
    if c == 5:
        return "REMOVE l SET tag = :t", {}, [("remove", "l")]
    v = "u" * rng.randint(0, 20)
    return "SET v = :v, tag = :t", {":v": S(v)}, [("set", "v", S(v))]


def apply_sub(state, sub):
    if sub["op"] == "del":
        return None
    if sub["op"] == "put":
        return sub["item"]
    item = dict(state) if state is not None else {"pk": S(sub["pk"]), "sk": S(sub["sk"])}
    for a in sub["acts"]:
        if a[0] == "set":
            item[a[1]] = a[2]
        else:
            item.pop(a[1], None)
    item["tag"] = S(sub["tag"])
    return item


def writer(port, wid, rnd, keys, journal, seed, stop):
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30 * harness.SLOW)
    mykeys = [("w%d-p%d" % (wid, k % 4), "k%02d" % k) for k in range(keys)]
    with open(journal, "w", buffering=1) as j:
        n = 0
        while not stop.is_set():
            tag = "%d.%d.%d" % (rnd, wid, n)
            x = rng.random()
            if x < 0.3:
                pk, sk = rng.choice(mykeys)
                item = random_item(rng, pk, sk, tag)
                if rng.random() < 0.05:
                    item["r"] = S("wrong")          # refused: Type mismatch for Index Key
                subs = [{"pk": pk, "sk": sk, "op": "put", "item": item}]
                target, body = "PutItem", {"TableName": TABLE_B, "Item": item}
            elif x < 0.7:
                pk, sk = rng.choice(mykeys)
                expr, eav, acts = random_update(rng, tag)
                eav = dict(eav, **{":t": S(tag)})
                subs = [{"pk": pk, "sk": sk, "op": "update", "acts": acts, "tag": tag}]
                target, body = "UpdateItem", {"TableName": TABLE_B, "Key": {"pk": S(pk), "sk": S(sk)},
                                              "UpdateExpression": expr, "ExpressionAttributeValues": eav}
            elif x < 0.82:
                pk, sk = rng.choice(mykeys)
                subs = [{"pk": pk, "sk": sk, "op": "del"}]
                target, body = "DeleteItem", {"TableName": TABLE_B, "Key": {"pk": S(pk), "sk": S(sk)}}
            else:
                subs, reqs = [], []
                for i, (pk, sk) in enumerate(rng.sample(mykeys, rng.randint(2, 8))):
                    if rng.random() < 0.7:
                        item = random_item(rng, pk, sk, "%s.%d" % (tag, i))
                        subs.append({"pk": pk, "sk": sk, "op": "put", "item": item})
                        reqs.append({"PutRequest": {"Item": item}})
                    else:
                        subs.append({"pk": pk, "sk": sk, "op": "del"})
                        reqs.append({"DeleteRequest": {"Key": {"pk": S(pk), "sk": S(sk)}}})
                target, body = "BatchWriteItem", {"RequestItems": {TABLE_B: reqs}}
            j.write("I %s\n" % json.dumps({"n": n, "target": target, "subs": subs}, separators=(",", ":")))
            try:
                resp = harness.raw_request(port, target, body, conn=conn)
            except (OSError, http.client.HTTPException):
                break
            ok = resp.status == 200 and isinstance(resp.json, dict)
            if ok and target == "BatchWriteItem" and resp.json.get("UnprocessedItems"):
                ok = False
            if ok:
                j.write("A %d\n" % n)
            else:
                j.write("E %d %d %s\n" % (n, resp.status, json.dumps(resp.json) if resp.json else "-"))
            n += 1
    conn.close()


def read_journal(path):
    reqs, by_n = [], {}
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break
            kind, rest = line[0], line[2:].rstrip("\n")
            if kind == "I":
                o = json.loads(rest)
                req = {"n": o["n"], "target": o["target"], "subs": o["subs"], "status": "unknown", "error": None}
                reqs.append(req)
                by_n[o["n"]] = req
            elif kind == "A":
                by_n[int(rest)]["status"] = "acked"
            elif kind == "E":
                n, _, err = rest.partition(" ")
                by_n[int(n)]["status"] = "error"
                by_n[int(n)]["error"] = err
    return reqs


class CrashIndexes:

    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.tmp = tempfile.mkdtemp(prefix="dynafile-crash-indexes-")
        self.violations = []
        self.requests = self.acked = self.refused = 0
        self.recovery_kills = 0
        self.unexpected_errors = []
        self.entries = 0

    def log(self, msg):
        if self.args.verbose:
            print(msg, flush=True)

    def violation(self, msg):
        self.violations.append(msg)
        print("VIOLATION: " + msg, flush=True)

    def call(self, d, target, body, ok=True):
        r = harness.raw_request(d.port, target, body)
        if ok and (r.status != 200 or not isinstance(r.json, dict)):
            raise RuntimeError("%s answered %r" % (target, r))
        return r

    def scan(self, d, table, index=None, segment=None, total=None):
        out, start = [], None
        while True:
            body = {"TableName": table}
            if index:
                body["IndexName"] = index
            else:
                body["ConsistentRead"] = True
            if total:
                body.update(Segment=segment, TotalSegments=total)
            if start:
                body["ExclusiveStartKey"] = start
            page = self.call(d, "Scan", body).json
            out += page["Items"]
            start = page.get("LastEvaluatedKey")
            if not start:
                return out

    def query(self, d, table, index, hname, hv):
        out, start = [], None
        while True:
            body = {"TableName": table, "IndexName": index, "KeyConditionExpression": "#h = :h",
                    "ExpressionAttributeNames": {"#h": hname}, "ExpressionAttributeValues": {":h": hv}, "Limit": 50}
            if start:
                body["ExclusiveStartKey"] = start
            page = self.call(d, "Query", body).json
            out += page["Items"]
            start = page.get("LastEvaluatedKey")
            if not start:
                return out

    def check_index(self, d, table, table_items, name, hash_, range_, projection, include, label):
        """One index against the table: Scan (plain, 3 segments), Query of every
        partition (index order; ties by table key: pk, then sk), ItemCount."""
        want = entries_of(table_items, hash_, range_, projection, include)
        self.entries += len(want)
        want_set = sorted(map(canon, want))
        got = self.scan(d, table, name)
        if sorted(map(canon, got)) != want_set:
            g, w = set(map(canon, got)), set(want_set)
            self.violation("%s: index %s: Scan has %d entries, the table implies %d; extra %s; missing %s"
                           % (label, name, len(got), len(want), sorted(g - w)[:3], sorted(w - g)[:3]))
        segs = []
        for s in range(3):
            segs += self.scan(d, table, name, s, 3)
        if sorted(map(canon, segs)) != want_set:
            self.violation("%s: index %s: parallel Scan has %d entries, expected %d"
                           % (label, name, len(segs), len(want)))
        parts = {}
        for e in want:
            parts.setdefault(canon(e[hash_[0]]), []).append(e)
        for hk, es in parts.items():
            es.sort(key=lambda e: ((sort_value(e[range_[0]]) if range_ else b""), e["pk"]["S"].encode(),
                                   e["sk"]["S"].encode()))
            q = self.query(d, table, name, hash_[0], es[0][hash_[0]])
            if q != es:
                how = "order" if sorted(map(canon, q)) == sorted(map(canon, es)) else "content"
                self.violation("%s: index %s partition %s: Query differs in %s (%d entries, expected %d)"
                               % (label, name, hk, how, len(q), len(es)))
        desc = self.call(d, "DescribeTable", {"TableName": table}).json["Table"]
        for e in desc.get("GlobalSecondaryIndexes", []) + desc.get("LocalSecondaryIndexes", []):
            if e["IndexName"] == name:
                if e.get("ItemCount") != len(want):
                    self.violation("%s: index %s: ItemCount %s, expected %d" % (label, name, e.get("ItemCount"),
                                                                               len(want)))
                if e.get("IndexStatus", "ACTIVE") != "ACTIVE":
                    self.violation("%s: index %s is %s" % (label, name, e.get("IndexStatus")))
                break
        else:
            self.violation("%s: DescribeTable does not list index %s" % (label, name))

    # -- part A --------------------------------------------------------------------------------

    def part_a(self):
        a = self.args
        d = harness.Daemon(data_dir=os.path.join(self.tmp, "data-a"), fsync=True, log_level="warn",
                           log_dir=self.tmp, extra_args=["--backfill-items", "100", "--backfill-delay-ms", "40"])
        os.makedirs(d.data_dir)
        try:
            d.start()
            self.call(d, "CreateTable", {
                "TableName": TABLE_A, "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                         {"AttributeName": "sk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}]})
            items = []
            for i in range(a.backfill_items):
                it = {"pk": S("p%05d" % i), "sk": S("s%d" % (i % 2)), "g": S(GVALS[i % len(GVALS)]),
                      "r": N(i % 101), "v": S("v%d" % i), "w": S("w")}
                if i % 7 == 0:
                    del it["g"]
                if i % 11 == 0:
                    it["r"] = S("wrong type")
                items.append(it)
            for i in range(0, len(items), 25):
                self.call(d, "BatchWriteItem", {"RequestItems": {TABLE_A: [{"PutRequest": {"Item": it}}
                                                                           for it in items[i:i + 25]]}})
            self.call(d, "UpdateTable", {
                "TableName": TABLE_A, "AttributeDefinitions": [{"AttributeName": "g", "AttributeType": "S"},
                                                               {"AttributeName": "r", "AttributeType": "N"}],
                "GlobalSecondaryIndexUpdates": [{"Create": {
                    "IndexName": INDEX_A[0], "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                           {"AttributeName": "r", "KeyType": "RANGE"}],
                    "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": list(INDEX_A[4])}}}]})
            killed_creating = 0
            for k in range(a.backfill_kills):
                stop = threading.Event()
                wt = threading.Thread(target=self.backfill_writer, args=(d.port, k, stop))
                wt.start()
                time.sleep(self.rng.uniform(0.2, 1.2))
                st = self.index_status(d)
                d.kill()
                stop.set()
                wt.join()
                killed_creating += st == "CREATING"
                self.log("part A: kill %d with the index %s" % (k + 1, st))
                d.start()
                st = self.index_status(d)
                if st not in ("CREATING", "ACTIVE"):
                    self.violation("part A: after restart the index is %s" % st)
            if killed_creating == 0:
                self.violation("part A: no kill landed while the index was CREATING (backfill too fast?)")
            deadline = time.monotonic() + 300 * harness.SLOW
            while self.index_status(d) != "ACTIVE":
                if time.monotonic() > deadline:
                    raise RuntimeError("part A: the index never became ACTIVE")
                time.sleep(0.1)
            table = self.scan(d, TABLE_A)
            self.check_index(d, TABLE_A, table, *INDEX_A, label="part A")
            d.stop()
            d.start()
            self.check_index(d, TABLE_A, self.scan(d, TABLE_A), *INDEX_A, label="part A after clean restart")
            d.stop()
            print("crash_indexes part A: %d items, %d kills during the backfill (%d while CREATING)"
                  % (a.backfill_items, a.backfill_kills, killed_creating), flush=True)
        finally:
            if d.running():
                d.kill()

    def index_status(self, d):
        desc = self.call(d, "DescribeTable", {"TableName": TABLE_A}).json["Table"]
        g, = desc["GlobalSecondaryIndexes"]
        return g["IndexStatus"]

    def backfill_writer(self, port, k, stop):
        rng = random.Random(self.args.seed + k)
        conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30 * harness.SLOW)
        while not stop.is_set():
            i = rng.randrange(self.args.backfill_items + 500)
            key = {"pk": S("p%05d" % i), "sk": S("s%d" % (i % 2))}
            x = rng.random()
            if x < 0.4:
                target, body = "PutItem", {"TableName": TABLE_A, "Item": dict(
                    key, g=S(rng.choice(GVALS)), r=N(rng.randint(0, 100)), v=S("new"), w=S("w"))}
            elif x < 0.7:
                target, body = "UpdateItem", {"TableName": TABLE_A, "Key": key, "UpdateExpression": "SET g = :g",
                                              "ExpressionAttributeValues": {":g": S(rng.choice(GVALS))}}
            elif x < 0.85:
                target, body = "UpdateItem", {"TableName": TABLE_A, "Key": key, "UpdateExpression": "REMOVE r"}
            else:
                target, body = "DeleteItem", {"TableName": TABLE_A, "Key": key}
            try:
                harness.raw_request(port, target, body, conn=conn)
            except (OSError, http.client.HTTPException):
                break
        conn.close()

    # -- part B --------------------------------------------------------------------------------

    def part_b(self):
        a = self.args
        d = harness.Daemon(data_dir=os.path.join(self.tmp, "data-b"), fsync=True, log_level="warn", log_dir=self.tmp)
        os.makedirs(d.data_dir)
        self.keys = [("w%d-p%d" % (w, k % 4), "k%02d" % k) for w in range(a.writers) for k in range(a.keys)]
        self.state = {k: None for k in self.keys}
        try:
            d.start()
            self.call(d, "CreateTable", {
                "TableName": TABLE_B, "BillingMode": "PAY_PER_REQUEST",
                "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in (
                    ("pk", "S"), ("sk", "S"), ("g", "S"), ("r", "N"), ("h", "N"), ("l", "N"))],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
                "GlobalSecondaryIndexes": [
                    {"IndexName": "by_g", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"},
                                                      {"AttributeName": "r", "KeyType": "RANGE"}],
                     "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["v"]}},
                    {"IndexName": "by_h", "KeySchema": [{"AttributeName": "h", "KeyType": "HASH"}],
                     "Projection": {"ProjectionType": "KEYS_ONLY"}}],
                "LocalSecondaryIndexes": [
                    {"IndexName": "by_l", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                      {"AttributeName": "l", "KeyType": "RANGE"}],
                     "Projection": {"ProjectionType": "ALL"}}]})
            for rnd in range(a.kills):
                self.round_b(d, rnd)
                if self.rng.random() < 0.2:
                    d.start(wait=False)
                    time.sleep(self.rng.uniform(0, 0.15))
                    d.kill()
                    self.recovery_kills += 1
                d.start()
                self.verify_b(d, "part B after kill %d" % (rnd + 1))
                if len(self.violations) > 20:
                    break
            d.stop()
            d.start()
            self.verify_b(d, "part B after clean restart", resolve=False)
            d.stop()
        finally:
            if d.running():
                d.kill()

    def round_b(self, d, rnd):
        ctx = multiprocessing.get_context("fork")
        stop = ctx.Event()
        journals = [os.path.join(self.tmp, "j%d.%d" % (rnd, w)) for w in range(self.args.writers)]
        procs = [ctx.Process(target=writer, args=(d.port, w, rnd, self.args.keys, journals[w],
                                                   self.rng.getrandbits(64), stop))
                 for w in range(self.args.writers)]
        for p in procs:
            p.start()
        delay = self.rng.uniform(0.2, 1.2)
        time.sleep(delay)
        d.kill()
        stop.set()
        for p in procs:
            p.join(60 * harness.SLOW)
            if p.is_alive():
                p.terminate()
                p.join()
                self.violation("round %d: a writer hung after the daemon was killed" % rnd)
        # replay: acknowledged writes are certain; the one unanswered request per writer may or may not be in
        self.candidates = {k: [self.state[k]] for k in self.keys}
        n_req = n_ack = 0
        for path in journals:
            for req in read_journal(path):
                n_req += 1
                if req["status"] == "error":
                    err = req["error"] or ""
                    if "Type mismatch for Index Key r" not in err:
                        self.unexpected_errors.append("round %d %s: %s" % (rnd, req["target"], err[:200]))
                    self.refused += 1
                    continue
                for sub in req["subs"]:
                    k = (sub["pk"], sub["sk"])
                    if req["status"] == "acked":
                        self.candidates[k] = [apply_sub(self.candidates[k][0], sub)]
                    else:
                        self.candidates[k] = [self.candidates[k][0], apply_sub(self.candidates[k][0], sub)]
                if req["status"] == "acked":
                    n_ack += 1
            os.unlink(path)
        self.requests += n_req
        self.acked += n_ack
        self.log("part B round %d: killed after %.2fs, %d requests, %d acknowledged" % (rnd, delay, n_req, n_ack))

    def verify_b(self, d, label, resolve=True):
        table = self.scan(d, TABLE_B)
        by_key = {}
        for it in table:
            k = (it["pk"]["S"], it["sk"]["S"])
            if k in by_key:
                self.violation("%s: Scan returned %s twice" % (label, k))
            by_key[k] = it
        for k in set(by_key) - set(self.keys):
            self.violation("%s: the table holds a key nobody wrote: %s" % (label, k))
        for k in self.keys:
            got = by_key.get(k)
            cands = self.candidates[k] if resolve else [self.state[k]]
            if got not in cands:
                self.violation("%s: key %s holds %s; acknowledged writes give %s%s"
                               % (label, k, canon(got)[:200], canon(cands[0])[:200],
                                  "" if len(cands) == 1 else " (or the request in flight: %s)" % canon(cands[1])[:200]))
            self.state[k] = got
        self.candidates = {k: [self.state[k]] for k in self.keys}
        for name, (h, r, p, inc) in INDEXES_B.items():
            self.check_index(d, TABLE_B, table, name, h, r, p, inc, label)

    def run(self):
        t0 = time.monotonic()
        try:
            if self.args.backfill_kills:
                self.part_a()
            self.part_b()
        except (harness.DaemonError, RuntimeError) as e:
            self.violation("daemon: %s" % e)
        dt = time.monotonic() - t0
        for e in self.unexpected_errors[:10]:
            self.violation("unexpected error answer: " + e)
        print("crash_indexes: part B %d kills (+%d during recovery), %d write requests (%d acknowledged, "
              "%d refused as wrong-typed), %d index entries checked, %d violations, %.1fs, seed %d"
              % (self.args.kills, self.recovery_kills, self.requests, self.acked, self.refused, self.entries,
                 len(self.violations), dt, self.args.seed))
        if self.violations or self.args.keep:
            print("data dirs kept: %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return 1 if self.violations else 0


def main():
    ap = argparse.ArgumentParser(description="SIGKILL crash test for dynafiled's secondary indexes")
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--writers", type=int, default=3)
    ap.add_argument("--keys", type=int, default=24, help="keys per writer")
    ap.add_argument("--backfill-items", type=int, default=None, help="part A's table size (6000)")
    ap.add_argument("--backfill-kills", type=int, default=3, help="kills during part A's backfill (0: skip part A)")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the data dirs")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    harness.configure(args.daemon)
    if not os.access(harness.DAEMON, os.X_OK):
        print("crash_indexes: %s is not an executable" % harness.DAEMON, file=sys.stderr)
        return 2
    if args.backfill_items is None:
        args.backfill_items = 6000
    return CrashIndexes(args).run()


if __name__ == "__main__":
    sys.exit(main())
