#!/usr/bin/python3
"""crash_streams.py -- SIGKILL dynafiled under write load on a table with a
NEW_AND_OLD_IMAGES stream, restart it, and check the stream against what
the clients were told.

Usage: /usr/bin/python3 tests/crash/crash_streams.py --daemon PATH [--kills N] [--writers W]
       [--keys K] [--seed S] [--keep] [-v]

One daemon (real fsync) on a temp data dir, one table with a stream. Each
round, W writer processes loop PutItem / UpdateItem / DeleteItem /
BatchWriteItem over their own keys (one request at a time each), journaling
every request before sending it and its outcome (acknowledged, error
answer, or no answer: the daemon died). After a random 0.2-1.2 s the daemon
gets SIGKILL; a fifth of the restarts are themselves killed during
recovery. After each restart the whole stream is read from TRIM_HORIZON
and, key by key, the journal is replayed against the key's records in
stream order:

  - every acknowledged write that changes the item has exactly its record
    (INSERT / MODIFY / REMOVE with the Keys, NewImage and OldImage the
    replay predicts); an acknowledged delete of a missing item has none;
  - a write that got an error answer has no record; a write that got no
    answer has its record or none;
  - no record is left unexplained (duplicates included), sequence numbers
    strictly increase, eventIDs are unique, and the records read after an
    earlier restart are still there unchanged (same prefix);
  - the table (a consistent Scan) equals the state replayed from the
    records, so no record exists for a write the table does not hold.

Puts and updates carry a tag unique to the request, so images identify
their write. After the last kill the daemon is stopped cleanly (exit 0),
restarted and checked again. Prints kills, writes, records; exits 1 on any
violation. Standard library plus tests/integration/harness.py;
/usr/bin/python3.
"""

import argparse
import base64
import http.client
import json
import multiprocessing
import os
import random
import shutil
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "integration"))
import harness  # noqa: E402

TABLE = "crash_streams"
STREAMS = "DynamoDBStreams_20120810."
VIEW = "NEW_AND_OLD_IMAGES"


# -- writers -------------------------------------------------------------------------------

def new_item(rng, key, tag):
    size = rng.choice((0, rng.randint(1, 200), rng.randint(200, 3000)))
    item = {"pk": {"S": key}, "seq": {"S": tag}, "v": {"S": "x" * rng.randint(0, 40)}}
    if size:
        item["p"] = {"B": base64.b64encode(rng.getrandbits(8 * size).to_bytes(size, "little")).decode()}
    if rng.random() < 0.3:
        item["m"] = {"M": {"tag": {"S": tag}, "l": {"L": [{"N": str(rng.randint(-99, 99))}, {"BOOL": True}]}}}
    return item


def writer(port, wid, rnd, keys, journal, seed, stop):
    """One writer process: sequential single and batch writes on its own
    keys until the connection fails (the daemon was killed) or stop is set.
    Journal: 'I <json op>' before sending, then 'A <n>' or 'E <n> <status> <body>'."""
    rng = random.Random(seed)
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=30 * harness.SLOW)
    mykeys = ["w%d-k%d" % (wid, k) for k in range(keys)]
    with open(journal, "w", buffering=1) as j:
        n = 0
        while not stop.is_set():
            tag = "%d.%d.%d" % (rnd, wid, n)
            r = rng.random()
            if r < 0.35:
                key = rng.choice(mykeys)
                item = new_item(rng, key, tag)
                subs = [{"key": key, "op": "put", "item": item}]
                target, body = "PutItem", {"TableName": TABLE, "Item": item}
            elif r < 0.6:
                key = rng.choice(mykeys)
                v = "u" * rng.randint(0, 30)
                subs = [{"key": key, "op": "update", "tag": tag, "v": v}]
                target, body = "UpdateItem", {
                    "TableName": TABLE, "Key": {"pk": {"S": key}},
                    "UpdateExpression": "SET seq = :t, v = :v ADD cnt :one",
                    "ExpressionAttributeValues": {":t": {"S": tag}, ":v": {"S": v}, ":one": {"N": "1"}}}
            elif r < 0.8:
                key = rng.choice(mykeys)
                subs = [{"key": key, "op": "del"}]
                target, body = "DeleteItem", {"TableName": TABLE, "Key": {"pk": {"S": key}}}
            else:
                subs, reqs = [], []
                for i, key in enumerate(rng.sample(mykeys, rng.randint(2, 6))):
                    if rng.random() < 0.6:
                        item = new_item(rng, key, "%s.%d" % (tag, i))
                        subs.append({"key": key, "op": "put", "item": item})
                        reqs.append({"PutRequest": {"Item": item}})
                    else:
                        subs.append({"key": key, "op": "del"})
                        reqs.append({"DeleteRequest": {"Key": {"pk": {"S": key}}}})
                target, body = "BatchWriteItem", {"RequestItems": {TABLE: reqs}}
            j.write("I %s\n" % json.dumps({"n": n, "target": target, "subs": subs}, separators=(",", ":")))
            try:
                resp = harness.raw_request(port, target, body, conn=conn)
            except (OSError, http.client.HTTPException):
                break
            ok = resp.status == 200 and isinstance(resp.json, dict)
            if ok and target == "BatchWriteItem" and resp.json.get("UnprocessedItems"):
                ok = False  # never expected from a local server; counts as an error answer
            if ok:
                j.write("A %d\n" % n)
            else:
                j.write("E %d %d %s\n" % (n, resp.status,
                                          resp.body[:200].decode("utf-8", "replace").replace("\n", " ")))
            n += 1
    conn.close()


def read_journal(path, rnd, wid):
    """-> list of requests in order: dict(id, target, subs, status: 'acked' | 'error' | 'unknown', error)."""
    reqs, by_n = [], {}
    with open(path) as f:
        for line in f:
            if not line.endswith("\n"):
                break
            kind, rest = line[0], line[2:].rstrip("\n")
            if kind == "I":
                o = json.loads(rest)
                req = {"id": "%d.%d.%d" % (rnd, wid, o["n"]), "target": o["target"], "subs": o["subs"],
                       "status": "unknown", "error": None}
                reqs.append(req)
                by_n[o["n"]] = req
            elif kind == "A":
                by_n[int(rest)]["status"] = "acked"
            elif kind == "E":
                n, _, err = rest.partition(" ")
                by_n[int(n)]["status"] = "error"
                by_n[int(n)]["error"] = err
    return reqs


# -- the model -------------------------------------------------------------------------------

def apply(state, sub):
    """-> (eventName, new state) of one write on one key, or None if it changes nothing."""
    key = {"pk": {"S": sub["key"]}}
    if sub["op"] == "del":
        return None if state is None else ("REMOVE", None)
    if sub["op"] == "put":
        new = sub["item"]
    else:
        base = dict(state) if state is not None else dict(key)
        cnt = int(base["cnt"]["N"]) + 1 if "cnt" in base else 1
        base.update(seq={"S": sub["tag"]}, v={"S": sub["v"]}, cnt={"N": str(cnt)})
        new = base
    if new == state:
        return None
    return ("INSERT" if state is None else "MODIFY", new)


class CrashStreams:

    def __init__(self, args):
        self.args = args
        self.rng = random.Random(args.seed)
        self.tmp = tempfile.mkdtemp(prefix="dynafile-crash-streams-")
        self.daemon = harness.Daemon(data_dir=os.path.join(self.tmp, "data"), fsync=True, log_level="warn",
                                     log_dir=self.tmp)
        os.makedirs(self.daemon.data_dir)
        self.keys = ["w%d-k%d" % (w, k) for w in range(args.writers) for k in range(args.keys)]
        self.history = {k: [] for k in self.keys}  # key -> [(request, sub)] in the order sent
        self.requests = 0
        self.acked = 0
        self.errors = []
        self.violations = []
        self.recovery_kills = 0
        self.arn = None
        self.prefix = []  # (SequenceNumber, eventID) of the records seen at the previous check
        self.records = 0

    def log(self, msg):
        if self.args.verbose:
            print(msg, flush=True)

    def violation(self, msg):
        self.violations.append(msg)
        print("VIOLATION: " + msg, flush=True)

    def call(self, target, body):
        r = harness.raw_request(self.daemon.port, target, body)
        if r.status != 200 or not isinstance(r.json, dict):
            raise RuntimeError("%s answered %r" % (target, r))
        return r.json

    def create_table(self):
        d = self.call("CreateTable", {
            "TableName": TABLE, "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}],
            "StreamSpecification": {"StreamEnabled": True, "StreamViewType": VIEW}})
        self.arn = d["TableDescription"]["LatestStreamArn"]

    # -- a round ---------------------------------------------------------------------------

    def run_round(self, rnd):
        ctx = multiprocessing.get_context("fork")
        stop = ctx.Event()
        journals = [os.path.join(self.tmp, "j%d.%d" % (rnd, w)) for w in range(self.args.writers)]
        procs = [ctx.Process(target=writer, args=(self.daemon.port, w, rnd, self.args.keys, journals[w],
                                                   self.rng.getrandbits(64), stop))
                 for w in range(self.args.writers)]
        for p in procs:
            p.start()
        delay = self.rng.uniform(0.2, 1.2)
        time.sleep(delay)
        self.daemon.kill()
        stop.set()
        for p in procs:
            p.join(60 * harness.SLOW)
            if p.is_alive():
                p.terminate()
                p.join()
                self.violation("round %d: a writer hung after the daemon was killed" % rnd)
        n_req = n_acked = 0
        for w, path in enumerate(journals):
            for req in read_journal(path, rnd, w):
                n_req += 1
                if req["status"] == "acked":
                    n_acked += 1
                elif req["status"] == "error":
                    self.errors.append("round %d %s %s: %s" % (rnd, req["target"], req["id"], req["error"]))
                for sub in req["subs"]:
                    self.history[sub["key"]].append((req, sub))
            os.unlink(path)
        self.requests += n_req
        self.acked += n_acked
        self.log("round %d: killed after %.2fs, %d requests, %d acknowledged" % (rnd, delay, n_req, n_acked))

    # -- checks ----------------------------------------------------------------------------------

    def read_stream(self, label):
        d = self.call(STREAMS + "DescribeStream", {"StreamArn": self.arn})["StreamDescription"]
        if d.get("StreamStatus") != "ENABLED" or len(d.get("Shards", [])) != 1:
            self.violation("%s: DescribeStream %r" % (label, d))
        shard = d["Shards"][0]["ShardId"]
        it = self.call(STREAMS + "GetShardIterator", {"StreamArn": self.arn, "ShardId": shard,
                                                      "ShardIteratorType": "TRIM_HORIZON"})["ShardIterator"]
        out = []
        while True:
            page = self.call(STREAMS + "GetRecords", {"ShardIterator": it, "Limit": 1000})
            out += page["Records"]
            it = page.get("NextShardIterator")
            if it is None:
                self.violation("%s: an enabled stream's page has no NextShardIterator" % label)
                break
            if not page["Records"]:
                break
        return out

    def check_shapes(self, recs, label):
        last, ids = -1, set()
        for r in recs:
            d = r.get("dynamodb", {})
            seq = d.get("SequenceNumber", "")
            if not (seq.isdigit() and len(seq) >= 21) or int(seq) <= last:
                self.violation("%s: sequence number %r after %d" % (label, seq, last))
            else:
                last = int(seq)
            if r.get("eventID") in ids:
                self.violation("%s: eventID %s twice" % (label, r.get("eventID")))
            ids.add(r.get("eventID"))
            ev = r.get("eventName")
            want = {"INSERT": {"NewImage"}, "MODIFY": {"NewImage", "OldImage"}, "REMOVE": {"OldImage"}}.get(ev)
            have = {f for f in ("NewImage", "OldImage") if f in d}
            if want is None or have != want or d.get("StreamViewType") != VIEW or "Keys" not in d \
                    or "userIdentity" in r:
                self.violation("%s: malformed record %s" % (label, json.dumps(r)[:400]))
        now = [(r["dynamodb"].get("SequenceNumber"), r.get("eventID")) for r in recs]
        if now[:len(self.prefix)] != self.prefix:
            i = next(i for i, (a, b) in enumerate(zip(now, self.prefix)) if a != b) if len(now) >= len(self.prefix) \
                else len(now)
            self.violation("%s: records read before the restart changed or vanished (first difference at %d of %d)"
                           % (label, i, len(self.prefix)))
        self.prefix = now

    def replay(self, recs, label):
        """Match every key's records to its writes; -> key -> replayed item (None = absent)."""
        per_key = {k: [] for k in self.keys}
        for r in recs:
            k = r["dynamodb"].get("Keys", {}).get("pk", {}).get("S")
            if k not in per_key or r["dynamodb"]["Keys"] != {"pk": {"S": k}}:
                self.violation("%s: record for a key nobody wrote: %s" % (label, json.dumps(r)[:300]))
                continue
            per_key[k].append(r)
        state = {}
        for k in self.keys:
            cur, ri, krecs = None, 0, per_key[k]
            for req, sub in self.history[k]:
                eff = apply(cur, sub)
                if eff is None:
                    continue
                event, new = eff
                rec = krecs[ri] if ri < len(krecs) else None
                match = rec is not None and rec["eventName"] == event \
                    and rec["dynamodb"].get("NewImage") == new and rec["dynamodb"].get("OldImage") == cur
                if match:
                    ri += 1
                    if req["status"] == "error":
                        self.violation("%s: key %s: %s request %s got an error answer (%s) but has a %s record"
                                       % (label, k, sub["op"], req["id"], req["error"], event))
                    cur = new
                elif req["status"] == "acked":
                    self.violation("%s: key %s: acknowledged %s (request %s) has no %s record; next record: %s"
                                   % (label, k, sub["op"], req["id"], event,
                                      json.dumps(rec)[:300] if rec else "none"))
                    cur = new  # the table should hold it: keep checking from there
            for r in krecs[ri:]:
                self.violation("%s: key %s: unexplained record (duplicate, out of order or never written) %s"
                               % (label, k, json.dumps(r)[:300]))
            state[k] = cur
        return state

    def scan_table(self, label):
        out, start = {}, None
        while True:
            body = {"TableName": TABLE, "ConsistentRead": True}
            if start:
                body["ExclusiveStartKey"] = start
            page = self.call("Scan", body)
            for item in page["Items"]:
                k = item["pk"]["S"]
                if k in out:
                    self.violation("%s: Scan returned %s twice" % (label, k))
                out[k] = item
            start = page.get("LastEvaluatedKey")
            if not start:
                return out

    def verify(self, label):
        d = self.call("DescribeTable", {"TableName": TABLE})["Table"]
        if d.get("TableStatus") != "ACTIVE" or d.get("LatestStreamArn") != self.arn \
                or d.get("StreamSpecification") != {"StreamEnabled": True, "StreamViewType": VIEW}:
            self.violation("%s: DescribeTable lost the stream: %r" % (label, {f: d.get(f) for f in (
                "TableStatus", "LatestStreamArn", "StreamSpecification")}))
        recs = self.read_stream(label)
        self.records = len(recs)
        self.check_shapes(recs, label)
        replayed = self.replay(recs, label)
        table = self.scan_table(label)
        for k in self.keys:
            got, want = table.get(k), replayed[k]
            if got != want:
                self.violation("%s: key %s: table holds %s, the stream replays to %s"
                               % (label, k, json.dumps(got)[:200], json.dumps(want)[:200]))
        for k in set(table) - set(self.keys):
            self.violation("%s: table holds a key nobody wrote: %s" % (label, k))

    def run(self):
        t0 = time.monotonic()
        try:
            self.daemon.start()
            self.create_table()
            for rnd in range(self.args.kills):
                self.run_round(rnd)
                if self.rng.random() < 0.2:
                    self.daemon.start(wait=False)
                    time.sleep(self.rng.uniform(0, 0.15))
                    self.daemon.kill()
                    self.recovery_kills += 1
                self.daemon.start()
                self.verify("after kill %d" % (rnd + 1))
                if len(self.violations) > 20:
                    break
            self.daemon.stop()
            self.daemon.start()
            self.verify("after clean restart")
            self.daemon.stop()
        except (harness.DaemonError, RuntimeError) as e:
            self.violation("daemon: %s" % e)
        finally:
            if self.daemon.running():
                self.daemon.kill()
        dt = time.monotonic() - t0
        for e in self.errors[:10]:
            print("note: error answer during load: " + e)
        print("crash_streams: %d kills (+%d during recovery), %d write requests (%d acknowledged), "
              "%d stream records, %d error answers, %d violations, %.1fs, seed %d"
              % (self.args.kills, self.recovery_kills, self.requests, self.acked, self.records, len(self.errors),
                 len(self.violations), dt, self.args.seed))
        if self.violations or self.args.keep:
            print("data dir kept: %s" % self.tmp)
        else:
            shutil.rmtree(self.tmp, ignore_errors=True)
        return 1 if self.violations else 0


def main():
    ap = argparse.ArgumentParser(description="SIGKILL crash test for dynafiled's streams")
    ap.add_argument("--daemon", required=True)
    ap.add_argument("--kills", type=int, default=10)
    ap.add_argument("--writers", type=int, default=3)
    ap.add_argument("--keys", type=int, default=25, help="keys per writer")
    ap.add_argument("--seed", type=int, default=None)
    ap.add_argument("--keep", action="store_true", help="keep the data dir")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args()
    if args.seed is None:
        args.seed = random.SystemRandom().randrange(1 << 31)
    harness.configure(args.daemon)
    if not os.access(harness.DAEMON, os.X_OK):
        print("crash_streams: %s is not an executable" % harness.DAEMON, file=sys.stderr)
        return 2
    return CrashStreams(args).run()


if __name__ == "__main__":
    sys.exit(main())
