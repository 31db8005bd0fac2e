"""test_locking.py -- optimistic locking through conditional writes, with
real concurrency: several client PROCESSES (each its own boto3 client and
connections) against one dynafiled.

1. Counter: 8 processes each increment one shared counter N times with
   `SET #c = #c + :one, #v = :newv` under `#v = :oldv`, re-reading and
   retrying on ConditionalCheckFailedException. The condition check and the
   write are atomic in the daemon (handlers.c: one loop thread, no await
   between reading the old item and st_write), so no increment is lost: the
   final counter and version are exactly 8 * N, and every worker saw exactly
   N successes. N = 1,000 (200 under the sanitizers: DYNAFILE_SANITIZED=1;
   never fewer processes).
2. Create if absent: 8 processes race to PutItem the same keys with
   attribute_not_exists(pk); every key has exactly one winner, and the
   stored owner is that winner.

Each worker is this file run as a script (`--worker ...`); it prints one
JSON line of counts. Every worker has a deadline and the parent kills
stragglers, so the test is bounded in time.
"""

import json
import os
import subprocess
import sys
import time
import unittest

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import harness  # noqa: E402
from harness import DaemonTestCase  # noqa: E402

PROCS = 8
TABLE = "locks"


def _client(port):
    return harness.boto3_client("http://127.0.0.1:%d" % port)


def worker_counter(port, pk, n, deadline):
    """Increment the counter n times under the version condition; returns counts."""
    from botocore.exceptions import ClientError
    c = _client(port)
    key = {"pk": {"S": pk}}
    done = conflicts = 0
    cur = c.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]
    version = int(cur["version_no"]["N"])
    while done < n:
        if time.monotonic() > deadline:
            raise SystemExit("counter worker past its deadline (%d of %d done)" % (done, n))
        try:
            r = c.update_item(TableName=TABLE, Key=key,
                              UpdateExpression="SET #c = #c + :one, #v = :newv",
                              ConditionExpression="#v = :oldv",
                              ExpressionAttributeNames={"#c": "count", "#v": "version_no"},
                              ExpressionAttributeValues={":one": {"N": "1"}, ":oldv": {"N": str(version)},
                                                         ":newv": {"N": str(version + 1)}},
                              ReturnValues="ALL_NEW")
            done += 1
            version = int(r["Attributes"]["version_no"]["N"])
        except ClientError as e:
            if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            conflicts += 1
            cur = c.get_item(TableName=TABLE, Key=key, ConsistentRead=True)["Item"]
            version = int(cur["version_no"]["N"])
    return {"done": done, "conflicts": conflicts}


def worker_create(port, me, nkeys, deadline):
    """Try to create every key with attribute_not_exists; returns the keys won."""
    from botocore.exceptions import ClientError
    c = _client(port)
    won = []
    for i in range(nkeys):
        if time.monotonic() > deadline:
            raise SystemExit("create worker past its deadline")
        try:
            c.put_item(TableName=TABLE, Item={"pk": {"S": "race%04d" % i}, "owner": {"N": str(me)}},
                       ConditionExpression="attribute_not_exists(pk)")
            won.append(i)
        except ClientError as e:
            if e.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
    return {"won": won}


class LockingTest(DaemonTestCase):
    # Atomicity is under test, not durability: without fsync every reply
    # still goes through the same commit path, only the fdatasync is skipped,
    # so the run is bounded by the daemon's CPU instead of 8,000 serialized
    # fsyncs (a read after a write waits for the write's flush).
    daemon_kwargs = {"fsync": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.make_table_cls()

    @classmethod
    def make_table_cls(cls):
        cls.ddb.create_table(TableName=TABLE, BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])

    def run_workers(self, args_of, budget):
        """Start PROCS workers (argv tails from args_of(i)); wait at most
        budget seconds; return their parsed outputs."""
        env = dict(os.environ)
        procs = [subprocess.Popen([sys.executable, os.path.abspath(__file__), "--worker"] + args_of(i),
                                  stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
                 for i in range(PROCS)]
        outs = []
        end = time.monotonic() + budget + 30
        try:
            for p in procs:
                try:
                    out, err = p.communicate(timeout=max(1, end - time.monotonic()))
                except subprocess.TimeoutExpired:
                    p.kill()
                    out, err = p.communicate()
                    self.fail("worker timed out; stderr:\n%s" % err.decode(errors="replace")[-2000:])
                self.assertEqual(p.returncode, 0, err.decode(errors="replace")[-3000:])
                outs.append(json.loads(out.decode().strip().splitlines()[-1]))
        finally:
            for p in procs:
                if p.poll() is None:
                    p.kill()
                    p.wait()
        return outs

    def test_counter_no_lost_update(self):
        n = 200 if harness.SANITIZED else 1000
        pk = "counter"
        self.ddb.put_item(TableName=TABLE, Item={"pk": {"S": pk}, "count": {"N": "0"}, "version_no": {"N": "0"}})
        budget = 300 * harness.SLOW
        t0 = time.monotonic()
        outs = self.run_workers(lambda i: ["counter", str(self.daemon.port), pk, str(n), str(budget)], budget)
        dt = time.monotonic() - t0
        item = self.ddb.get_item(TableName=TABLE, Key={"pk": {"S": pk}}, ConsistentRead=True)["Item"]
        self.assertEqual([o["done"] for o in outs], [n] * PROCS)
        self.assertEqual(item["count"], {"N": str(PROCS * n)})
        self.assertEqual(item["version_no"], {"N": str(PROCS * n)})
        conflicts = sum(o["conflicts"] for o in outs)
        print("\n  locking: %d x %d increments in %.1fs, %d conflicts retried" % (PROCS, n, dt, conflicts),
              file=sys.stderr)

    def test_create_if_absent_race(self):
        nkeys = 50 if harness.SANITIZED else 200
        budget = 120 * harness.SLOW
        outs = self.run_workers(lambda i: ["create", str(self.daemon.port), str(i), str(nkeys), str(budget)], budget)
        owner = {}
        for me, o in enumerate(outs):
            for k in o["won"]:
                self.assertNotIn(k, owner, "key %d created by two workers" % k)
                owner[k] = me
        self.assertEqual(sorted(owner), list(range(nkeys)))
        for k in range(0, nkeys, 7):
            item = self.ddb.get_item(TableName=TABLE, Key={"pk": {"S": "race%04d" % k}}, ConsistentRead=True)["Item"]
            self.assertEqual(item["owner"], {"N": str(owner[k])})


def _worker_main(argv):
    kind, port = argv[0], int(argv[1])
    if kind == "counter":
        pk, n, budget = argv[2], int(argv[3]), float(argv[4])
        res = worker_counter(port, pk, n, time.monotonic() + budget)
    else:
        me, nkeys, budget = int(argv[2]), int(argv[3]), float(argv[4])
        res = worker_create(port, me, nkeys, time.monotonic() + budget)
    print(json.dumps(res))
    sys.stdout.flush()


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--worker":
        _worker_main(sys.argv[2:])
    else:
        unittest.main()
