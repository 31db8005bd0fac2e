#!/usr/bin/python3
"""crash_test.py -- kill dynafiled with SIGKILL under write load, restart it,
and check that no acknowledged write was lost and nothing impossible appeared.

Usage: /usr/bin/python3 tests/crash/crash_test.py --daemon PATH [--kills N] [--writers W]
       [--keys K] [--seed S] [--keep] [-v]

One daemon (real fsync) on a temp data dir with one table. Each round, W
writer processes loop PutItem/DeleteItem over their own keys (one request
at a time each), journaling "intent" before sending and "acked" after a 200.
After a random 0.2-1.5 s the daemon gets SIGKILL; it is restarted and every
key is read back (ConsistentRead). A key's stored state must be the result
of its last acknowledged operation, or of a later unacknowledged (in-flight
or failed) one -- never older, never something that was never sent, and
never a torn item: every item carries a checksum over all its other
attributes (including a random payload of up to ~50 KB) that must match.
Meanwhile a thread creates tables, writes one item in each and drops older
ones; after the restart each such table must exist (with or without its
item) or be gone exactly as the acknowledged table operations say.
A quarter of the restarts are themselves killed 0-150 ms in (during
recovery) before the real restart. The observed state becomes the baseline
of the next round. After the last
kill the daemon is stopped cleanly (exit 0), restarted and checked again.

Prints kills, writes acknowledged, keys checked; exits 1 on any violation.
Standard library only (plus tests/integration/harness.py); /usr/bin/python3.
"""

import argparse
import base64
import hashlib
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

TABLE = "crash"


def checksum(item):
    """Hex SHA-256 over the canonical JSON of the item without its chk attribute."""
    body = {k: v for k, v in item.items() if k != "chk"}
    return hashlib.sha256(json.dumps(body, sort_keys=True, separators=(",", ":")).encode()).hexdigest()[:40]


def make_item(rng, key, rnd, wid, n):
    r = rng.random()
    size = rng.randint(0, 1000) if r < 0.4 else rng.randint(1000, 20000) if r < 0.8 else rng.randint(20000, 50000)
    payload = rng.getrandbits(8 * size).to_bytes(size, "little") if size else b""
    item = {
        "pk": {"S": key},
        "seq": {"S": "%d.%d.%d" % (rnd, wid, n)},
        "sz": {"N": str(size)},
        "p": {"B": base64.b64encode(payload).decode()},
        "m": {"M": {"r": {"N": str(rnd)}, "n": {"N": str(n)},
                    "l": {"L": [{"S": "x" * rng.randint(0, 100)}, {"BOOL": bool(n & 1)}, {"NULL": True}]}}},
        "tags": {"SS": sorted({"t%d" % rng.randint(0, 9) for _ in range(3)})},
    }
    item["chk"] = {"S": checksum(item)}
    return item


def writer(port, wid, rnd, keys, journal, seed, stop):
    """One writer process: sequential puts/deletes on its own keys until the
    connection fails (the daemon was killed) or stop is set."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30 * harness.SLOW)
    with open(journal, "w", buffering=1) as j:
        n = 0
        while not stop.is_set():
            key = "w%d-k%d" % (wid, rng.randrange(keys))
            if rng.random() < 0.2:
                op, body, chk = "del", {"TableName": TABLE, "Key": {"pk": {"S": key}}}, "-"
                target = "DeleteItem"
            else:
                item = make_item(rng, key, rnd, wid, n)
                op, body, chk = "put", {"TableName": TABLE, "Item": item}, item["chk"]["S"]
                target = "PutItem"
            j.write("I %d %s %s %s\n" % (n, key, op, chk))
            try:
                r = harness.raw_request(port, target, body, conn=conn)
            except (OSError, http.client.HTTPException):
                break
            if r.status == 200:
                j.write("A %d\n" % n)
            else:
                j.write("E %d %d %s\n" % (n, r.status, r.body[:200].decode("utf-8", "replace").replace("\n", " ")))
            n += 1
    conn.close()


def read_journal(path):
    """-> list of ops in order: dict(n, key, op, chk, acked, error)."""
    ops, by_n = [], {}
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break  # torn last line: cannot happen (writer not killed), be safe
            parts = line.split(" ", 5)
            if parts[0] == "I":
                o = {"n": int(parts[1]), "key": parts[2], "op": parts[3], "chk": parts[4].strip(),
                     "acked": False, "error": None}
                if o["chk"] == "-":
                    o["chk"] = None
                ops.append(o)
                by_n[o["n"]] = o
            elif parts[0] == "A":
                by_n[int(parts[1])]["acked"] = True
            elif parts[0] == "E":
                by_n[int(parts[1])]["error"] = line[2:].strip()
    return ops


class CrashTest:

    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.tmp = tempfile.mkdtemp(prefix="dynafile-crash-")
        self.daemon = harness.Daemon(data_dir=os.path.join(self.tmp, "data"), fsync=True, log_level="warn",
                                     log_dir=self.tmp)
        os.makedirs(self.daemon.data_dir)
        self.keys = ["w%d-k%d" % (w, k) for w in range(args.writers) for k in range(args.keys)]
        self.state = {k: None for k in self.keys}  # baseline: chk of the stored item, None = absent
        self.sent = {k: set() for k in self.keys}  # every chk ever sent per key
        self.ddl_state = {}  # DDL table name -> (exists, has its item), as last observed
        self.ddl_acked = 0
        self.recovery_kills = 0  # extra kills during recovery
        self.violations = []
        self.acked = 0
        self.checked = 0
        self.errors = []

    def log(self, msg):
        if self.args.verbose:
            print(msg, flush=True)

    def violation(self, msg):
        self.violations.append(msg)
        print("VIOLATION: " + msg, flush=True)

    def create_table(self):
        body = {"TableName": TABLE, "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "BillingMode": "PAY_PER_REQUEST"}
        r = harness.raw_request(self.daemon.port, "CreateTable", body)
        if r.status != 200:
            raise SystemExit("crash: CreateTable failed: %r" % r)

    def ddl_worker(self, rnd, seed, stop, out):
        """Create tables, write one item in each and drop older ones while the
        writers run: the catalog must survive the kill like the items."""
        rng = random.Random(seed)
        port = self.daemon.port

        def send(name, op, target, body):
            rec = {"name": name, "op": op, "acked": False}
            out.append(rec)
            try:
                r = harness.raw_request(port, target, body)
            except (OSError, http.client.HTTPException):
                return None
            if r.status == 200:
                rec["acked"] = True
            else:
                self.errors.append("round %d %s %s: %d %s" % (rnd, op, name, r.status, r.body[:200]))
            return r

        i = 0
        while not stop.is_set():
            name = "ddl_%d_%d" % (rnd, i)
            i += 1
            self.ddl_state.setdefault(name, (False, False))
            if send(name, "create", "CreateTable", {
                    "TableName": name, "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]}) is None:
                return
            if send(name, "put", "PutItem", {"TableName": name, "Item": {"pk": {"S": "x"}, "v": {"S": name}}}) is None:
                return
            live = sorted(n for n, st in self.ddl_state.items() if st[0])
            live += [o["name"] for o in out if o["op"] == "create" and o["acked"]]
            dead = {o["name"] for o in out if o["op"] == "drop"}
            live = sorted(set(live) - dead)
            for victim in rng.sample(live, min(len(live), 2 if len(live) > 4 else rng.randint(0, 1))):
                if send(victim, "drop", "DeleteTable", {"TableName": victim}) is None:
                    return
            time.sleep(0.01)

    def run_round(self, rnd):
        ctx = multiprocessing.get_context("fork")
        stop = ctx.Event()
        journals = [os.path.join(self.tmp, "j%d.%d" % (rnd, w)) for w in range(self.args.writers)]
        procs = [ctx.Process(target=writer, args=(self.daemon.port, w, rnd, self.args.keys, journals[w],
                                                   self.rng.getrandbits(64), stop))
                 for w in range(self.args.writers)]
        for p in procs:
            p.start()
        delay = self.rng.uniform(0.2, 1.5)
        ddl_ops, tstop = [], threading.Event()
        t = threading.Thread(target=self.ddl_worker, args=(rnd, self.rng.getrandbits(64), tstop, ddl_ops))
        t.start()
        time.sleep(delay)
        self.daemon.kill()
        stop.set()
        tstop.set()
        t.join(60 * harness.SLOW)
        for p in procs:
            p.join(60 * harness.SLOW)
            if p.is_alive():
                p.terminate()
                p.join()
                self.violation("round %d: a writer hung after the daemon was killed" % rnd)
        ops = []
        for j in journals:
            ops += read_journal(j)
            os.unlink(j)
        n_acked = sum(1 for o in ops if o["acked"])
        self.acked += n_acked
        self.ddl_acked += sum(1 for o in ddl_ops if o["acked"])
        for o in ops:
            if o["error"]:
                self.errors.append("round %d %s: %s" % (rnd, o["key"], o["error"]))
        self.log("round %d: killed after %.2fs, %d ops sent, %d acked; %d table ops"
                 % (rnd, delay, len(ops), n_acked, len(ddl_ops)))
        return ops, ddl_ops

    def expected_ddl(self, ddl_ops):
        result = {"create": (True, False), "put": (True, True), "drop": (False, False)}
        per = {}
        for o in ddl_ops:
            per.setdefault(o["name"], []).append(o)
        allowed = {}
        for name, base in self.ddl_state.items():
            tops = per.get(name, [])
            last = max((i for i, o in enumerate(tops) if o["acked"]), default=None)
            if last is None:
                allowed[name] = {base} | {result[o["op"]] for o in tops}
            else:
                allowed[name] = {result[o["op"]] for o in tops[last:]}
        return allowed

    def verify_ddl(self, allowed, label):
        names, start = [], None
        while True:
            body = {"Limit": 100}
            if start:
                body["ExclusiveStartTableName"] = start
            r = harness.raw_request(self.daemon.port, "ListTables", body)
            if r.status != 200:
                self.violation("%s: ListTables answered %r" % (label, r))
                return
            names += r.json["TableNames"]
            start = r.json.get("LastEvaluatedTableName")
            if not start:
                break
        present = set(names)
        for n in present - set(allowed) - {TABLE}:
            self.violation("%s: table %s exists but was never created" % (label, n))
        if TABLE not in present:
            self.violation("%s: the main table is gone" % label)
        for name, ok in allowed.items():
            exists = name in present
            item = False
            if exists:
                r = harness.raw_request(self.daemon.port, "GetItem", {"TableName": name, "ConsistentRead": True,
                                                                      "Key": {"pk": {"S": "x"}}})
                item = r.status == 200 and "Item" in r.json
                if item and r.json["Item"] != {"pk": {"S": "x"}, "v": {"S": name}}:
                    self.violation("%s: table %s holds a wrong item %r" % (label, name, r.json))
            got = (exists, item)
            if got not in ok:
                self.violation("%s: table %s is (exists=%s, item=%s); allowed %s" % (label, name, exists, item,
                                                                                      sorted(ok)))
            self.ddl_state[name] = got
        # forget tables that are gone for good
        for name in [n for n, st in self.ddl_state.items() if not st[0]]:
            del self.ddl_state[name]

    def expected(self, ops):
        """key -> set of allowed states after this round's ops."""
        per_key = {}
        for o in ops:
            per_key.setdefault(o["key"], []).append(o)
            if o["chk"]:
                self.sent[o["key"]].add(o["chk"])
        allowed = {}
        for k in self.keys:
            kops = per_key.get(k, [])
            last = max((i for i, o in enumerate(kops) if o["acked"]), default=None)
            if last is None:
                ok = {self.state[k]} | {o["chk"] for o in kops}
            else:
                ok = {o["chk"] for o in kops[last:] if o is kops[last] or not o["acked"]}
            allowed[k] = ok
        return allowed

    def read_all(self):
        """key -> observed chk or None; checks items are whole."""
        out = {}
        conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=30 * harness.SLOW)
        try:
            for k in self.keys:
                r = harness.raw_request(self.daemon.port, "GetItem", {"TableName": TABLE, "ConsistentRead": True,
                                                                      "Key": {"pk": {"S": k}}}, conn=conn)
                self.checked += 1
                if r.status != 200 or not harness.crc32_ok(r):
                    self.violation("GetItem %s answered %r" % (k, r))
                    out[k] = "<error>"
                    continue
                item = r.json.get("Item")
                if item is None:
                    out[k] = None
                    continue
                chk = item.get("chk", {}).get("S")
                if item.get("pk") != {"S": k} or chk is None or checksum(item) != chk:
                    self.violation("key %s: torn or corrupt item (seq %s, stored chk %s, computed %s)"
                                   % (k, item.get("seq"), chk, checksum(item)))
                    out[k] = "<torn>"
                    continue
                p = base64.b64decode(item["p"]["B"])
                if len(p) != int(item["sz"]["N"]):
                    self.violation("key %s: payload size %d != %s" % (k, len(p), item["sz"]["N"]))
                out[k] = chk
        finally:
            conn.close()
        return out

    def describe_ok(self, present):
        r = harness.raw_request(self.daemon.port, "DescribeTable", {"TableName": TABLE})
        if r.status != 200 or r.json["Table"]["TableStatus"] != "ACTIVE":
            self.violation("DescribeTable after restart: %r" % r)
            return
        count = r.json["Table"].get("ItemCount")
        if count not in (0, present):
            self.violation("ItemCount %r after recovery, but %d items are readable" % (count, present))

    def verify(self, allowed, label):
        seen = self.read_all()
        for k in self.keys:
            got = seen[k]
            if got in ("<error>", "<torn>"):
                continue
            if got not in allowed[k]:
                if got is None:
                    what = "absent"
                elif got in self.sent[k]:
                    what = "an older or superseded value (%s)" % got
                else:
                    what = "a value never sent (%s)" % got
                self.violation("%s: key %s is %s; allowed: %s" % (label, k, what, sorted(map(str, allowed[k]))))
            self.state[k] = got if got not in ("<error>", "<torn>") else self.state[k]
        self.describe_ok(sum(1 for v in seen.values() if v not in (None, "<error>", "<torn>")))

    def run(self):
        t0 = time.monotonic()
        try:
            self.daemon.start()
            self.create_table()
            for rnd in range(self.args.kills):
                ops, ddl_ops = self.run_round(rnd)
                allowed = self.expected(ops)
                ddl_allowed = self.expected_ddl(ddl_ops)
                if self.rng.random() < 0.25:
                    # crash again in the middle of recovery
                    self.daemon.start(wait=False)
                    time.sleep(self.rng.uniform(0, 0.15))
                    self.daemon.kill()
                    self.recovery_kills += 1
                self.daemon.start()
                self.verify(allowed, "after kill %d" % (rnd + 1))
                self.verify_ddl(ddl_allowed, "after kill %d" % (rnd + 1))
                if len(self.violations) > 20:
                    break
            # a clean stop must keep exactly the recovered state
            self.daemon.stop()
            self.daemon.start()
            self.verify({k: {v} for k, v in self.state.items()}, "after clean restart")
            self.verify_ddl({n: {st} for n, st in self.ddl_state.items()}, "after clean restart")
            self.daemon.stop()
        except harness.DaemonError as e:
            self.violation("daemon: %s" % e)
        finally:
            if self.daemon.running():
                self.daemon.kill()
        dt = time.monotonic() - t0
        present = sum(1 for v in self.state.values() if v)
        for e in self.errors[:10]:
            print("note: non-200 answer during load: " + e)
        print("crash: %d kills (+%d during recovery), %d writes acknowledged, %d keys checked (%d present at the end), "
              "%d table operations acknowledged (%d tables live), %d error answers, %d violations, %.1fs, seed %d"
              % (self.args.kills, self.recovery_kills, self.acked, self.checked, present, self.ddl_acked, len(self.ddl_state),
                 len(self.errors), len(self.violations), dt, self.args.seed))
        if self.violations or self.args.keep:
            print("data dir kept: %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return 1 if self.violations else 0


def main():
    ap = argparse.ArgumentParser(description="SIGKILL crash test for dynafiled")
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--kills", type=int, default=20)
    ap.add_argument("--writers", type=int, default=4)
    ap.add_argument("--keys", type=int, default=40, help="keys per writer")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the data dir")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    harness.configure(args.daemon)
    if not os.access(harness.DAEMON, os.X_OK):
        print("crash: %s is not an executable" % harness.DAEMON, file=sys.stderr)
        return 2
    return CrashTest(args).run()


if __name__ == "__main__":
    sys.exit(main())
