"""test_daemon.py -- dynafiled as a process: command line, persistence across
clean restarts and SIGKILL, the data-directory lock, shutdown under load,
and DeleteTable freeing the table's files.
"""

import http.client
import os
import re
import signal
import socket
import subprocess
import tempfile
import threading
import time
import unittest

from botocore.exceptions import ClientError

import harness
from harness import Daemon, SLOW, crc32_ok, raw_request

FLAGS = ["--host", "--port", "--data-dir", "--log-level", "--create-delay-ms", "--delete-delay-ms", "--no-fsync",
         "--help"]


def make_table(client, name, range_type=None):
    attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
    keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
    if range_type:
        attrs.append({"AttributeName": "sk", "AttributeType": range_type})
        keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
    client.create_table(TableName=name, AttributeDefinitions=attrs, KeySchema=keys, BillingMode="PAY_PER_REQUEST")


def files_under(d):
    out = {}
    for root, _, files in os.walk(d):
        for f in files:
            p = os.path.join(root, f)
            try:
                out[os.path.relpath(p, d)] = os.path.getsize(p)
            except OSError:
                pass
    return out


class Hammer:
    """Threads writing PutItems over keep-alive connections, recording every
    acknowledged write, until stopped or the connection fails."""

    def __init__(self, port, table, threads=6, size=200):
        self.port, self.table, self.size = port, table, size
        self.acked = []          # (key, value) of every 200
        self.bad = []            # malformed / unexpected answers
        self.conn_errors = 0
        self.stop = threading.Event()
        self.lock = threading.Lock()
        self.threads = [threading.Thread(target=self.run, args=(i,), daemon=True) for i in range(threads)]

    def start(self):
        for t in self.threads:
            t.start()
        return self

    def join(self, timeout=30):
        self.stop.set()
        for t in self.threads:
            t.join(timeout * SLOW)

    def run(self, i):
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=20 * SLOW)
        n = 0
        try:
            while not self.stop.is_set():
                key, val = "h%d-%d" % (i, n), "v%d-" % n + "x" * (n % self.size)
                n += 1
                try:
                    r = raw_request(self.port, "PutItem", {"TableName": self.table,
                                                           "Item": {"pk": {"S": key}, "v": {"S": val}}}, conn=conn)
                except (OSError, http.client.HTTPException):
                    with self.lock:
                        self.conn_errors += 1
                    return
                with self.lock:
                    if r.status == 200 and r.json == {} and crc32_ok(r):
                        self.acked.append((key, val))
                    elif r.status == 200 or not crc32_ok(r) or not isinstance(r.json, dict):
                        self.bad.append(r)
                    # a complete JSON error (e.g. 503 while stopping) is allowed; the write is not acked
        finally:
            conn.close()


class DaemonCliTest(unittest.TestCase):

    def test_help(self):
        p = subprocess.run([harness.daemon_path(), "--help"], capture_output=True, text=True, timeout=10 * SLOW)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = p.stdout + p.stderr
        for f in FLAGS:
            self.assertIn(f, out)
        if harness.SANITIZED:
            for m in harness.SANITIZER_MARKERS:
                self.assertNotIn(m, p.stderr)

    def test_bad_option(self):
        p = subprocess.run([harness.daemon_path(), "--no-such-flag"], capture_output=True, text=True,
                           timeout=10 * SLOW)
        self.assertNotEqual(p.returncode, 0)
        self.assertTrue(p.stderr.strip(), "no message on stderr")
        p = subprocess.run([harness.daemon_path(), "--port", "notaport"], capture_output=True, text=True,
                           timeout=10 * SLOW)
        self.assertNotEqual(p.returncode, 0)

    def test_port_in_use(self):
        with Daemon(fsync=False) as a:
            d = tempfile.mkdtemp(prefix="dynafile-itest-")
            try:
                p = subprocess.run([harness.daemon_path(), "--host", "127.0.0.1", "--port", str(a.port),
                                    "--data-dir", d, "--no-fsync"], capture_output=True, text=True,
                                   timeout=20 * SLOW)
                self.assertNotEqual(p.returncode, 0)
                self.assertTrue(p.stderr.strip())
            finally:
                import shutil
                shutil.rmtree(d, ignore_errors=True)
            self.assertEqual(raw_request(a.port, "ListTables", {}).status, 200)

    def test_second_daemon_same_dir(self):
        with Daemon() as a:
            p = subprocess.run([harness.daemon_path(), "--host", "127.0.0.1", "--port", str(harness.free_port()),
                                "--data-dir", a.data_dir], capture_output=True, text=True, timeout=20 * SLOW)
            self.assertNotEqual(p.returncode, 0, "second daemon on the same data dir must refuse to run")
            err = p.stderr.lower()
            self.assertTrue(any(w in err for w in ("lock", "in use", "already", "another")) or a.data_dir in p.stderr,
                            "unclear message: %r" % p.stderr)
            if harness.SANITIZED:
                for m in harness.SANITIZER_MARKERS:
                    self.assertNotIn(m, p.stderr)
            # the first one is unharmed
            c = a.client()
            make_table(c, "still_fine")
            c.put_item(TableName="still_fine", Item={"pk": {"S": "x"}})
            self.assertIn("Item", c.get_item(TableName="still_fine", Key={"pk": {"S": "x"}}))


class PersistenceTest(unittest.TestCase):

    def setUp(self):
        self.d = Daemon()
        self.d.start()

    def tearDown(self):
        self.d.cleanup()

    def write_fixture(self, c):
        make_table(c, "p_hash")
        make_table(c, "p_range", range_type="N")
        make_table(c, "p_gone")
        for i in range(200):
            c.put_item(TableName="p_hash", Item={"pk": {"S": "k%d" % i}, "v": {"N": str(i)}, "b": {"B": bytes([i % 256]) * i}})
            c.put_item(TableName="p_range", Item={"pk": {"S": "p%d" % (i % 7)}, "sk": {"N": str(i)}, "l": {"L": [{"S": "x"}]}})
        for i in range(0, 200, 3):
            c.delete_item(TableName="p_hash", Key={"pk": {"S": "k%d" % i}})
        c.put_item(TableName="p_hash", Item={"pk": {"S": "k1"}, "v": {"S": "overwritten"}})
        c.delete_table(TableName="p_gone")
        return {t: c.describe_table(TableName=t)["Table"] for t in ("p_hash", "p_range")}

    def check_fixture(self, c, before):
        self.assertEqual(c.list_tables()["TableNames"], ["p_hash", "p_range"])
        for t, d in before.items():
            now = c.describe_table(TableName=t)["Table"]
            for f in ("TableId", "TableArn", "CreationDateTime", "KeySchema", "AttributeDefinitions",
                      "BillingModeSummary", "ProvisionedThroughput"):
                self.assertEqual(now.get(f), d.get(f), f)
            self.assertEqual(now["TableStatus"], "ACTIVE")
        for i in range(200):
            got = c.get_item(TableName="p_hash", Key={"pk": {"S": "k%d" % i}}, ConsistentRead=True).get("Item")
            if i == 1:
                self.assertEqual(got, {"pk": {"S": "k1"}, "v": {"S": "overwritten"}})
            elif i % 3 == 0:
                self.assertIsNone(got, i)
            else:
                self.assertEqual(got, {"pk": {"S": "k%d" % i}, "v": {"N": str(i)}, "b": {"B": bytes([i % 256]) * i}})
            got = c.get_item(TableName="p_range", Key={"pk": {"S": "p%d" % (i % 7)}, "sk": {"N": str(i)}}).get("Item")
            self.assertEqual(got, {"pk": {"S": "p%d" % (i % 7)}, "sk": {"N": str(i)}, "l": {"L": [{"S": "x"}]}})
        with self.assertRaises(ClientError):
            c.describe_table(TableName="p_gone")

    def test_clean_restart(self):
        before = self.write_fixture(self.d.client())
        for _ in range(2):
            self.d.stop()  # SIGTERM, exit 0 checked
            self.d.start()
            self.check_fixture(self.d.client(), before)
        # the restarted daemon keeps working and persisting
        c = self.d.client()
        c.put_item(TableName="p_hash", Item={"pk": {"S": "after"}})
        self.d.stop()
        self.d.start()
        self.assertIn("Item", self.d.client().get_item(TableName="p_hash", Key={"pk": {"S": "after"}}))

    def test_sigkill_restart(self):
        c = self.d.client()
        before = self.write_fixture(c)
        self.d.kill()
        self.d.start()
        self.check_fixture(self.d.client(), before)

    def test_sigkill_under_load(self):
        c = self.d.client()
        make_table(c, "load")
        h = Hammer(self.d.port, "load").start()
        time.sleep(1.0)
        make_table(c, "made_during_load")  # acknowledged: must survive
        time.sleep(0.3)
        self.d.kill()
        h.join()
        self.assertEqual(h.bad, [])
        self.assertGreater(len(h.acked), 20)
        self.d.start()
        c = self.d.client()
        self.assertEqual(c.describe_table(TableName="made_during_load")["Table"]["TableStatus"], "ACTIVE")
        missing = self.missing(h.acked, "load")
        self.assertEqual(missing[:5], [], "%d of %d acknowledged writes lost" % (len(missing), len(h.acked)))

    def missing(self, acked, table):
        conn = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=20 * SLOW)
        out = []
        try:
            for key, val in acked:
                r = raw_request(self.d.port, "GetItem", {"TableName": table, "ConsistentRead": True,
                                                         "Key": {"pk": {"S": key}}}, conn=conn)
                if r.json != {"Item": {"pk": {"S": key}, "v": {"S": val}}}:
                    out.append((key, r.body[:200]))
        finally:
            conn.close()
        return out

    def test_sigterm_under_load(self):
        c = self.d.client()
        make_table(c, "term")
        h = Hammer(self.d.port, "term", threads=8).start()
        time.sleep(1.0)
        t0 = time.monotonic()
        rc = self.d.stop(timeout=30 * SLOW)  # one SIGTERM; waits, checks exit 0 and sanitizers
        self.assertEqual(rc, 0)
        stop_time = time.monotonic() - t0
        h.join()
        self.assertEqual(h.bad, [], "incomplete or malformed answers during shutdown")
        self.assertGreater(len(h.acked), 20)
        self.assertLess(stop_time, 15 * SLOW)
        self.d.start()
        missing = self.missing(h.acked, "term")
        self.assertEqual(missing[:5], [], "%d of %d acknowledged writes lost" % (len(missing), len(h.acked)))

    def test_sigterm_with_idle_connections(self):
        conns = []
        for _ in range(20):
            c = http.client.HTTPConnection("127.0.0.1", self.d.port, timeout=10 * SLOW)
            raw_request(self.d.port, "ListTables", {}, conn=c)  # leave it open, idle
            conns.append(c)
        t0 = time.monotonic()
        self.d.stop(timeout=20 * SLOW)
        self.assertLess(time.monotonic() - t0, 3 * SLOW, "idle keep-alive connections delayed the shutdown")
        for c in conns:
            c.close()

    def test_sigterm_with_stalled_request(self):
        # a client stuck in the middle of its request body must not keep the daemon up for long
        s = socket.create_connection(("127.0.0.1", self.d.port))
        s.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        time.sleep(0.1)
        t0 = time.monotonic()
        self.d.stop(timeout=30 * SLOW)
        self.assertLess(time.monotonic() - t0, 15 * SLOW, "a stalled request delayed the shutdown")
        s.close()

    def test_sigint_is_clean(self):
        c = self.d.client()
        make_table(c, "int_t")
        c.put_item(TableName="int_t", Item={"pk": {"S": "a"}})
        self.assertEqual(self.d.stop(sig=signal.SIGINT), 0)
        self.d.start()
        self.assertIn("Item", self.d.client().get_item(TableName="int_t", Key={"pk": {"S": "a"}}))

    def test_recreated_table_replay(self):
        # drop + create under the same name, then SIGKILL: replay must not resurrect old items
        c = self.d.client()
        make_table(c, "phoenix")
        for i in range(50):
            c.put_item(TableName="phoenix", Item={"pk": {"S": "old%d" % i}})
        self.d.restart()  # old items checkpointed into files
        c = self.d.client()
        c.put_item(TableName="phoenix", Item={"pk": {"S": "old-in-log"}})
        c.delete_table(TableName="phoenix")
        make_table(c, "phoenix", range_type="N")
        c.put_item(TableName="phoenix", Item={"pk": {"S": "new"}, "sk": {"N": "1"}})
        new_id = c.describe_table(TableName="phoenix")["Table"]["TableId"]
        self.d.kill()
        self.d.start()
        c = self.d.client()
        d = c.describe_table(TableName="phoenix")["Table"]
        self.assertEqual(d["TableId"], new_id)
        self.assertEqual(len(d["KeySchema"]), 2)
        self.assertIn(d["ItemCount"], (0, 1))
        self.assertIn("Item", c.get_item(TableName="phoenix", Key={"pk": {"S": "new"}, "sk": {"N": "1"}}))
        for k in ("old0", "old49", "old-in-log"):
            self.assertNotIn("Item", c.get_item(TableName="phoenix", Key={"pk": {"S": k}, "sk": {"N": "1"}}))
        self.d.restart()
        c = self.d.client()
        self.assertEqual(c.describe_table(TableName="phoenix")["Table"]["TableId"], new_id)
        self.assertIn("Item", c.get_item(TableName="phoenix", Key={"pk": {"S": "new"}, "sk": {"N": "1"}}))

    def test_delete_table_frees_files(self):
        c = self.d.client()
        make_table(c, "keeper")
        c.put_item(TableName="keeper", Item={"pk": {"S": "k"}, "v": {"S": "x" * 1000}})
        self.d.restart()  # a clean stop checkpoints: the keeper's files exist now
        base = files_under(self.d.data_dir)
        c = self.d.client()
        make_table(c, "doomed", range_type="N")
        for i in range(400):
            c.put_item(TableName="doomed", Item={"pk": {"S": "p%d" % (i % 13)}, "sk": {"N": str(i)},
                                                 "v": {"B": os.urandom(1500)}})
        self.d.restart()
        after = files_under(self.d.data_dir)
        logish = re.compile(r"(^|/)(wal|log|seg|journal)|\.(log|wal|seg)$|catalog|lock", re.I)
        doomed = [p for p in after if p not in base and not logish.search(p)]
        self.assertTrue(doomed, "no new table files appeared after a checkpoint: %r -> %r" % (sorted(base), sorted(after)))
        doomed_bytes = sum(after[p] for p in doomed)
        self.assertGreater(doomed_bytes, 400 * 1500 * 0.8)
        c = self.d.client()
        c.delete_table(TableName="doomed")
        deadline = time.monotonic() + 5 * SLOW
        left = doomed
        while time.monotonic() < deadline:
            now = files_under(self.d.data_dir)
            left = [p for p in doomed if p in now]
            if not left:
                break
            time.sleep(0.1)
        self.assertEqual(left, [], "table files still there 5 s after DeleteTable")
        # the keeper is intact, also after a restart
        self.assertIn("Item", c.get_item(TableName="keeper", Key={"pk": {"S": "k"}}))
        self.d.restart()
        c = self.d.client()
        self.assertEqual(c.list_tables()["TableNames"], ["keeper"])
        self.assertIn("Item", c.get_item(TableName="keeper", Key={"pk": {"S": "k"}}))
        now = files_under(self.d.data_dir)
        self.assertEqual([p for p in doomed if p in now], [])


if __name__ == "__main__":
    unittest.main()
