"""test_sse.py -- live change streams over server-sent events:
GET /v1/tables/<table>/stream against a real dynafiled.

Writes are made with boto3; subscribers are `curl -N` (a subprocess) and a
small raw-socket client (SSEClient below, which decodes the chunked
encoding and the event-stream format itself, so that it can also stop
reading on purpose). Covered: live delivery of every write kind with the
record GetRecords returns, resuming with Last-Event-ID / ?after=, resuming
across a SIGKILL with nothing lost or repeated, ?from=, the trimmed notice,
a stuck subscriber cut off with "overflow" while writers go on, 200
subscribers at once, heartbeats, the end of a disabled or deleted stream,
shutdown with subscribers, and the /v1/ errors.
"""

import http.client
import json
import os
import selectors
import socket
import subprocess
import threading
import time
import unittest

import harness
from harness import Daemon, DaemonTestCase, SLOW, raw_request

CURL = "/usr/bin/curl"
STREAMS = "DynamoDBStreams_20120810."


# -- an event-stream client ------------------------------------------------------

class SSEClient:
    """One GET on a raw socket. After the constructor: status, headers
    (lower-case names); for a 200 text/event-stream answer, next_event()
    returns events {"id", "event", "data" (parsed JSON), "raw"} and
    comments {"comment": text}; None at the end of the response."""

    def __init__(self, port, path, headers=None, rcvbuf=None, timeout=30, read_headers=True):
        self.sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        if rcvbuf:
            self.sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, rcvbuf)
        self.sock.settimeout(timeout * SLOW)
        self.sock.connect(("127.0.0.1", port))
        h = {"Host": "127.0.0.1:%d" % port, "Accept": "text/event-stream"}
        h.update(headers or {})
        req = "GET %s HTTP/1.1\r\n" % path + "".join("%s: %s\r\n" % (k, v) for k, v in h.items() if v is not None)
        self.sock.sendall((req + "\r\n").encode())
        self.raw = b""          # bytes received, not yet decoded
        self.text = b""         # decoded body, not yet parsed into events
        self.items = []         # parsed events and comments, not yet returned
        self.eof = False        # the response (or the connection) ended
        self.status = None
        self.headers = {}
        self.body = b""         # the whole body of a non-streaming answer
        self.chunked = False
        self.chunk_left = 0     # bytes left in the current chunk (chunked)
        self.chunk_state = "size"
        if read_headers:
            self.read_headers()

    def fileno(self):
        return self.sock.fileno()

    def _recv(self):
        try:
            data = self.sock.recv(65536)
        except (ConnectionResetError, BrokenPipeError):
            data = b""
        if not data:
            self.eof = True
        return data

    def read_headers(self):
        while b"\r\n\r\n" not in self.raw:
            data = self._recv()
            if not data:
                raise AssertionError("connection closed before the headers: %r" % self.raw)
            self.raw += data
        head, _, self.raw = self.raw.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        self.status = int(lines[0].split()[1])
        for line in lines[1:]:
            k, _, v = line.partition(":")
            self.headers[k.strip().lower()] = v.strip()
        self.chunked = self.headers.get("transfer-encoding", "").lower() == "chunked"
        if "content-length" in self.headers:
            n = int(self.headers["content-length"])
            while len(self.raw) < n:
                data = self._recv()
                if not data:
                    break
                self.raw += data
            self.body, self.raw = self.raw[:n], b""
            self.eof = True
        else:
            self._decode()

    def json(self):
        return json.loads(self.body)

    def _decode(self):
        """Move bytes from raw to text (de-chunking), then parse events."""
        if not self.chunked:
            self.text += self.raw
            self.raw = b""
        while self.chunked and self.raw:
            if self.chunk_state == "size":
                if b"\r\n" not in self.raw:
                    break
                line, _, self.raw = self.raw.partition(b"\r\n")
                self.chunk_left = int(line.split(b";")[0], 16)
                self.chunk_state = "data" if self.chunk_left > 0 else "trailer"
            elif self.chunk_state == "data":
                take = self.raw[:self.chunk_left]
                self.text += take
                self.raw = self.raw[len(take):]
                self.chunk_left -= len(take)
                if self.chunk_left == 0:
                    self.chunk_state = "crlf"
            elif self.chunk_state == "crlf":
                if len(self.raw) < 2:
                    break
                assert self.raw[:2] == b"\r\n", self.raw[:20]
                self.raw = self.raw[2:]
                self.chunk_state = "size"
            else:  # trailer: the response is complete
                self.eof = True
                self.raw = b""
        while b"\n\n" in self.text:
            block, _, self.text = self.text.partition(b"\n\n")
            self.items.append(parse_block(block.decode("utf-8")))

    def feed(self):
        """Read once (for selectors); False at EOF."""
        data = self._recv()
        self.raw += data
        self._decode()
        return bool(data)

    def next_item(self, timeout=30):
        """The next event or comment; None at the end of the stream."""
        deadline = time.monotonic() + timeout * SLOW
        while not self.items:
            if self.eof:
                return None
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("no event within %.0fs" % (timeout * SLOW))
            self.sock.settimeout(left)
            self.feed()
        return self.items.pop(0)

    def next_event(self, timeout=30):
        """The next event (comments skipped); None at the end."""
        while True:
            it = self.next_item(timeout)
            if it is None or "comment" not in it:
                return it

    def events(self, n, timeout=30):
        out = []
        for _ in range(n):
            e = self.next_event(timeout)
            if e is None:
                raise AssertionError("stream ended after %d of %d events: %r" % (len(out), n, out[-3:]))
            out.append(e)
        return out

    def close(self):
        try:
            self.sock.close()
        except OSError:
            pass


def parse_block(block):
    """One event-stream block -> {"comment"} or {"id", "event", "data", "raw"}."""
    ev = {"raw": block}
    data = []
    for line in block.split("\n"):
        if line.startswith(":"):
            if "comment" not in ev and "event" not in ev and not data:
                ev["comment"] = line[1:].strip()
            continue
        k, _, v = line.partition(":")
        if v.startswith(" "):
            v = v[1:]
        if k == "data":
            data.append(v)
        elif k in ("id", "event"):
            ev[k] = v
    if data:
        ev.pop("comment", None)
        text = "\n".join(data)
        ev["data"] = json.loads(text)
        ev["data_text"] = text
    return ev


def stream_path(table, query=""):
    return "/v1/tables/%s/stream%s" % (table, query)


def keys_of(ev):
    return {k: list(v.values())[0] for k, v in ev["data"]["dynamodb"]["Keys"].items()}


# -- tests -------------------------------------------------------------------

class SSEBase(DaemonTestCase):

    def stream_table(self, view="NEW_AND_OLD_IMAGES", range_type=None, client=None):
        return self.make_table(range_type=range_type, client=client,
                               StreamSpecification={"StreamEnabled": True, "StreamViewType": view})

    def subscribe(self, table, query="", headers=None, daemon=None, **kw):
        d = daemon or self.daemon
        c = SSEClient(d.port, stream_path(table, query), headers=headers, **kw)
        self.addCleanup(c.close)
        self.assertEqual(c.status, 200, c.body)
        self.assertEqual(c.headers.get("content-type"), "text/event-stream")
        return c

    def check_event(self, ev):
        """id / event / data agree with each other."""
        self.assertEqual(ev["id"], ev["data"]["dynamodb"]["SequenceNumber"])
        self.assertEqual(ev["event"], ev["data"]["eventName"])
        self.assertEqual(len(ev["id"]), 21)
        self.assertNotIn("\n", ev["data_text"])

    def put(self, table, pk, **attrs):
        item = {"pk": {"S": pk}}
        item.update({k: {"S": v} for k, v in attrs.items()})
        self.ddb.put_item(TableName=table, Item=item)

    def get_records(self, table):
        """Every record of the table's stream through GetRecords (raw JSON)."""
        arn = self.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        d = raw_request(self.daemon.port, STREAMS + "DescribeStream", {"StreamArn": arn}).json
        shard = d["StreamDescription"]["Shards"][0]["ShardId"]
        it = raw_request(self.daemon.port, STREAMS + "GetShardIterator",
                         {"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}).json
        it = it["ShardIterator"]
        out = []
        for _ in range(50):
            r = raw_request(self.daemon.port, STREAMS + "GetRecords", {"ShardIterator": it}).json
            out += r["Records"]
            it = r.get("NextShardIterator")
            if not r["Records"] or it is None:
                break
        return out


class SSELiveTest(SSEBase):

    def test_python_client_gets_every_kind_of_write(self):
        t = self.stream_table()
        c = self.subscribe(t)
        self.assertEqual(c.headers.get("cache-control"), "no-cache")
        self.assertEqual(c.headers.get("x-accel-buffering"), "no")
        self.put(t, "a", v="1")                                   # INSERT
        self.ddb.update_item(TableName=t, Key={"pk": {"S": "a"}}, UpdateExpression="SET v = :v",
                             ExpressionAttributeValues={":v": {"S": "2"}})   # MODIFY
        self.put(t, "a", v="2")                                   # identical: no event
        self.ddb.delete_item(TableName=t, Key={"pk": {"S": "a"}})  # REMOVE
        self.ddb.delete_item(TableName=t, Key={"pk": {"S": "a"}})  # missing: no event
        self.ddb.batch_write_item(RequestItems={t: [
            {"PutRequest": {"Item": {"pk": {"S": "b%d" % i}, "v": {"S": "x"}}}} for i in range(3)]})
        self.ddb.batch_write_item(RequestItems={t: [
            {"DeleteRequest": {"Key": {"pk": {"S": "b1"}}}},
            {"PutRequest": {"Item": {"pk": {"S": "b2"}, "v": {"S": "y"}}}}]})
        evs = c.events(8)
        kinds = [(e["event"], keys_of(e)["pk"]) for e in evs]
        self.assertEqual(kinds[:3], [("INSERT", "a"), ("MODIFY", "a"), ("REMOVE", "a")])
        self.assertEqual(sorted(kinds[3:6]), [("INSERT", "b0"), ("INSERT", "b1"), ("INSERT", "b2")])
        self.assertEqual(sorted(kinds[6:]), [("MODIFY", "b2"), ("REMOVE", "b1")])
        for e in evs:
            self.check_event(e)
        ids = [int(e["id"]) for e in evs]
        self.assertEqual(ids, sorted(set(ids)), "ids strictly increasing")
        d = evs[1]["data"]["dynamodb"]
        self.assertEqual(d["OldImage"], {"pk": {"S": "a"}, "v": {"S": "1"}})
        self.assertEqual(d["NewImage"], {"pk": {"S": "a"}, "v": {"S": "2"}})
        self.assertNotIn("NewImage", evs[2]["data"]["dynamodb"])
        # The same records GetRecords returns, byte for byte as JSON values.
        self.assertEqual([e["data"] for e in evs], self.get_records(t))
        # Nothing else arrived (the no-op writes made no event).
        self.put(t, "z")
        e = c.next_event()
        self.assertEqual((e["event"], keys_of(e)["pk"]), ("INSERT", "z"))

    def test_curl_subscriber(self):
        t = self.stream_table(view="KEYS_ONLY", range_type="N")
        p = subprocess.Popen([CURL, "-s", "-N", "http://127.0.0.1:%d%s" % (self.daemon.port, stream_path(t))],
                             stdout=subprocess.PIPE)
        self.addCleanup(lambda: (p.poll() is None and p.kill(), p.wait()))
        blocks, lock = [], threading.Lock()

        def reader():
            buf = b""
            for chunk in iter(lambda: p.stdout.read1(65536), b""):
                buf += chunk
                while b"\n\n" in buf:
                    b, _, buf = buf.partition(b"\n\n")
                    with lock:
                        blocks.append(parse_block(b.decode()))
        th = threading.Thread(target=reader, daemon=True)
        th.start()
        # Every stream starts with the comment ": ok": subscribed.
        deadline = time.monotonic() + 20 * SLOW
        while time.monotonic() < deadline:
            with lock:
                if blocks:
                    break
            time.sleep(0.02)
        with lock:
            self.assertEqual(blocks[:1], [{"raw": ": ok", "comment": "ok"}])
        with lock:
            start = len(blocks)
        self.ddb.put_item(TableName=t, Item={"pk": {"S": "k"}, "sk": {"N": "1"}, "v": {"S": "a"}})
        self.ddb.put_item(TableName=t, Item={"pk": {"S": "k"}, "sk": {"N": "1"}, "v": {"S": "b"}})
        self.ddb.batch_write_item(RequestItems={t: [
            {"PutRequest": {"Item": {"pk": {"S": "k"}, "sk": {"N": "2"}}}},
            {"DeleteRequest": {"Key": {"pk": {"S": "k"}, "sk": {"N": "1"}}}}]})
        want = [("INSERT", "1"), ("MODIFY", "1"), ("INSERT", "2"), ("REMOVE", "1")]
        deadline = time.monotonic() + 20 * SLOW
        while time.monotonic() < deadline:
            with lock:
                got = [b for b in blocks[start:] if "event" in b and keys_of(b)["pk"] == "k"]
            if len(got) >= 4:
                break
            time.sleep(0.05)
        self.assertEqual([e["event"] for e in got[:2]], ["INSERT", "MODIFY"])
        self.assertEqual(sorted((e["event"], keys_of(e)["sk"]) for e in got[2:]), sorted(want[2:]))
        self.assertEqual(len(got), 4)
        for e in got:
            self.check_event(e)
            self.assertEqual(e["data"]["dynamodb"]["StreamViewType"], "KEYS_ONLY")
            self.assertNotIn("NewImage", e["data"]["dynamodb"])
        p.kill()

    def test_resume_with_last_event_id_and_after(self):
        t = self.stream_table()
        for i in range(6):
            self.put(t, "r%d" % i)
        c = self.subscribe(t, "?from=trim_horizon")
        evs = c.events(6)
        ids = [e["id"] for e in evs]
        self.assertEqual([keys_of(e)["pk"] for e in evs], ["r%d" % i for i in range(6)])
        # Last-Event-ID: exactly after that event.
        r = self.subscribe(t, headers={"Last-Event-ID": ids[1]})
        self.assertEqual([e["id"] for e in r.events(4)], ids[2:])
        # ?after= does the same; Last-Event-ID wins over it; from= is ignored.
        r2 = self.subscribe(t, "?after=%s&from=latest" % ids[3])
        self.assertEqual([e["id"] for e in r2.events(2)], ids[4:])
        r3 = self.subscribe(t, "?after=%s" % ids[0], headers={"Last-Event-ID": ids[4]})
        self.assertEqual([e["id"] for e in r3.events(1)], ids[5:])
        # Shorter digit strings are accepted too.
        r4 = self.subscribe(t, "?after=%d" % int(ids[4]))
        self.assertEqual([e["id"] for e in r4.events(1)], ids[5:])
        # Resumed subscribers go on live.
        self.put(t, "r6")
        for sub in (c, r, r2, r3, r4):
            e = sub.next_event()
            self.assertEqual(keys_of(e)["pk"], "r6")

    def test_from_latest_and_trim_horizon(self):
        t = self.stream_table()
        self.put(t, "old")
        latest = self.subscribe(t, "?from=latest")
        default = self.subscribe(t)
        horizon = self.subscribe(t, "?from=trim_horizon")
        self.put(t, "new")
        self.assertEqual(keys_of(latest.next_event())["pk"], "new")
        self.assertEqual(keys_of(default.next_event())["pk"], "new")
        self.assertEqual([keys_of(e)["pk"] for e in horizon.events(2)], ["old", "new"])

    def test_catch_up_then_live_without_gap(self):
        """A subscriber far behind reads in chunks, then joins the live path
        while writes go on: every event exactly once, in order."""
        t = self.stream_table(view="KEYS_ONLY")
        n0 = 300
        for i in range(0, n0, 25):
            self.ddb.batch_write_item(RequestItems={t: [
                {"PutRequest": {"Item": {"pk": {"S": "c%04d" % j}}}} for j in range(i, i + 25)]})
        c = self.subscribe(t, "?from=trim_horizon")
        stop = threading.Event()
        written = []

        def writer():
            j = n0
            while not stop.is_set() and j < n0 + 200:
                self.ddb.put_item(TableName=t, Item={"pk": {"S": "c%04d" % j}})
                written.append(j)
                j += 1
        th = threading.Thread(target=writer)
        th.start()
        got = []
        try:
            while len(got) < n0 + 40:
                got.append(c.next_event())
        finally:
            stop.set()
            th.join()
        total = n0 + len(written)
        while len(got) < total:
            got.append(c.next_event())
        keys = [keys_of(e)["pk"] for e in got]
        self.assertEqual(sorted(keys), ["c%04d" % j for j in range(total)])
        ids = [int(e["id"]) for e in got]
        self.assertEqual(ids, sorted(set(ids)))

    def test_two_hundred_subscribers(self):
        t = self.stream_table(view="KEYS_ONLY")
        subs = []
        for i in range(200):
            subs.append(self.subscribe(t, "?from=latest"))
        for i in range(10):
            self.put(t, "m%d" % i)
        sel = selectors.DefaultSelector()
        got = {id(s): [] for s in subs}
        for s in subs:
            s.sock.setblocking(False)
            sel.register(s.sock, selectors.EVENT_READ, s)
        deadline = time.monotonic() + 60 * SLOW
        pending = set(id(s) for s in subs)
        while pending and time.monotonic() < deadline:
            for key, _ in sel.select(timeout=1):
                s = key.data
                try:
                    s.feed()
                except BlockingIOError:
                    continue
                while s.items:
                    it = s.items.pop(0)
                    if "event" in it:
                        got[id(s)].append(it)
                if len(got[id(s)]) >= 10 or s.eof:
                    pending.discard(id(s))
                    sel.unregister(s.sock)
        sel.close()
        self.assertFalse(pending, "%d subscribers did not get all 10 events" % len(pending))
        ref = [(e["id"], keys_of(e)["pk"]) for e in got[id(subs[0])]]
        self.assertEqual([k for _, k in ref], ["m%d" % i for i in range(10)])
        for s in subs:
            self.assertEqual([(e["id"], keys_of(e)["pk"]) for e in got[id(s)]], ref)
            s.close()

    def test_stream_disabled_and_table_deleted_end_the_subscription(self):
        t = self.stream_table()
        c = self.subscribe(t)
        c2 = self.subscribe(t, "?from=trim_horizon")
        self.put(t, "last")
        self.ddb.update_table(TableName=t, StreamSpecification={"StreamEnabled": False})
        for sub in (c, c2):
            e = sub.next_event()
            self.assertEqual((e["event"], keys_of(e)["pk"]), ("INSERT", "last"))
            e = sub.next_event()
            self.assertEqual(e["event"], "end")
            self.assertIn("message", e["data"])
            self.assertIsNone(sub.next_event(), "the response ends after 'end'")
        # Now the table has no enabled stream.
        r = SSEClient(self.daemon.port, stream_path(t))
        self.addCleanup(r.close)
        self.assertEqual(r.status, 409)
        # A deleted table ends its subscribers the same way.
        t2 = self.stream_table()
        d = self.subscribe(t2)
        self.put(t2, "x")
        self.ddb.delete_table(TableName=t2)
        self.assertEqual(keys_of(d.next_event())["pk"], "x")
        self.assertEqual(d.next_event()["event"], "end")
        self.assertIsNone(d.next_event())

    def test_errors(self):
        port = self.daemon.port
        plain = self.make_table()
        streamed = self.stream_table()

        def get(path, method="GET", headers=None):
            c = http.client.HTTPConnection("127.0.0.1", port, timeout=10 * SLOW)
            try:
                c.request(method, path, headers=headers or {})
                r = c.getresponse()
                return r.status, {k.lower(): v for k, v in r.getheaders()}, r.read()
            finally:
                c.close()

        def check(path, status, code, method="GET", headers=None):
            st, h, body = get(path, method, headers)
            self.assertEqual(st, status, (path, method, body))
            self.assertEqual(h.get("content-type"), "application/json")
            err = json.loads(body)["error"]
            self.assertEqual(err["code"], code)
            self.assertTrue(err["message"])
            return h

        check(stream_path("no_such_table"), 404, "ResourceNotFound")
        check(stream_path(plain), 409, "StreamNotEnabled")
        for m in ("POST", "PUT", "DELETE", "PATCH"):
            h = check(stream_path(streamed), 405, "MethodNotAllowed", method=m)
            self.assertEqual(h.get("allow"), "GET")
        check("/v1/", 404, "NotFound")
        check("/v1/tables/%s/nothing" % streamed, 404, "NotFound")
        check("/v1/tables/%s/stream/x" % streamed, 404, "NotFound")
        check("/v1/nothing/here", 404, "NotFound", method="POST")
        check(stream_path(streamed, "?after=12x"), 400, "ValidationError")
        check(stream_path(streamed, "?from=yesterday"), 400, "ValidationError")
        check(stream_path(streamed), 400, "ValidationError", headers={"Last-Event-ID": "-1"})
        check(stream_path(streamed), 406, "NotAcceptable", headers={"Accept": "application/json"})
        # Accept variants that allow the stream.
        for acc in ("*/*", "text/*", "application/json, text/event-stream;q=0.5", None):
            c = SSEClient(port, stream_path(streamed), headers={"Accept": acc})
            self.assertEqual(c.status, 200, (acc, c.body))
            c.close()
        # Browsers: a CORS preflight is answered, and the stream allows any origin.
        st, h, _ = get(stream_path(streamed), "OPTIONS", {"Origin": "http://example.com",
                                                          "Access-Control-Request-Method": "GET",
                                                          "Access-Control-Request-Headers": "last-event-id"})
        self.assertEqual(st, 200)
        self.assertEqual(h.get("access-control-allow-origin"), "*")
        self.assertEqual(h.get("access-control-allow-headers"), "last-event-id")
        c = SSEClient(port, stream_path(streamed), headers={"Origin": "http://example.com"})
        self.addCleanup(c.close)
        self.assertEqual(c.status, 200)
        self.assertEqual(c.headers.get("access-control-allow-origin"), "*")
        h = check(stream_path("no_such_table"), 404, "ResourceNotFound", headers={"Origin": "http://x"})
        self.assertEqual(h.get("access-control-allow-origin"), "*")
        # The DynamoDB face is unchanged.
        st, _, body = get("/")
        self.assertEqual(st, 200)
        self.assertTrue(body.startswith(b"healthy: "))
        st, _, body = get("/v2/tables")
        self.assertEqual((st, body), (404, b""))
        self.assertEqual(self.ddb.describe_table(TableName=streamed)["Table"]["TableName"], streamed)


class SSEHeartbeatTest(SSEBase):
    daemon_kwargs = {"extra_args": ["--sse-heartbeat-ms", "150"]}

    def test_heartbeat_comments(self):
        t = self.stream_table()
        c = self.subscribe(t)
        self.assertEqual(c.next_item(), {"raw": ": ok", "comment": "ok"})
        t0 = time.monotonic()
        beats = 0
        while beats < 3:
            it = c.next_item(timeout=10)
            self.assertIsNotNone(it)
            self.assertEqual(it.get("comment"), "heartbeat", it)
            self.assertIn(": heartbeat", it["raw"])
            beats += 1
        self.assertLess(time.monotonic() - t0, 10 * SLOW)
        # Events still flow between heartbeats.
        self.put(t, "hb")
        self.assertEqual(keys_of(c.next_event())["pk"], "hb")

    def test_disconnected_subscribers_are_freed(self):
        """Clients that vanish while their connection is suspended are found
        by the heartbeat; the daemon then stops cleanly (no leak under ASan)."""
        t = self.stream_table()
        for _ in range(20):
            c = SSEClient(self.daemon.port, stream_path(t))
            self.assertEqual(c.status, 200)
            c.close()
        time.sleep(0.5 * SLOW)
        self.put(t, "after-close")
        c = self.subscribe(t, "?from=trim_horizon")
        self.assertEqual(keys_of(c.next_event())["pk"], "after-close")


class SSEOverflowTest(SSEBase):
    daemon_kwargs = {"extra_args": ["--sse-backlog", "8"], "fsync": False}

    def write_batch(self, t, tag, n, size):
        """n PutItems of about size bytes; (seconds, every write answered 200)."""
        t0 = time.monotonic()
        ok = 0
        blob = "x" * size
        for i in range(n):
            r = self.ddb.put_item(TableName=t, Item={"pk": {"S": "%s-%04d" % (tag, i)}, "v": {"S": blob}})
            ok += r["ResponseMetadata"]["HTTPStatusCode"] == 200
        return time.monotonic() - t0, ok == n

    def test_stuck_subscriber_is_cut_off_and_can_resume(self):
        t = self.stream_table(view="NEW_IMAGE")
        n, size = 300, 30000
        base_s, base_ok = self.write_batch(t, "base", n, size)
        self.assertTrue(base_ok)
        # One subscriber stops reading (tiny receive buffer); one keeps up.
        stuck = self.subscribe(t, rcvbuf=4096)
        good = self.subscribe(t)
        got_good = []
        th = threading.Thread(target=lambda: got_good.extend(good.events(n, timeout=120)))
        th.start()
        stuck_s, stuck_ok = self.write_batch(t, "load", n, size)
        th.join(180 * SLOW)
        self.assertTrue(stuck_ok, "every write succeeded while a subscriber was stuck")
        if os.environ.get("DYNAFILE_SSE_VERBOSE"):
            print("\nwriter: %.0f puts/s alone, %.0f puts/s with a stuck subscriber" % (n / base_s, n / stuck_s))
        # The subscriber that kept reading got everything, in order.
        self.assertEqual([keys_of(e)["pk"] for e in got_good], ["load-%04d" % i for i in range(n)])
        # The stuck one reads now: a prefix of the events, then "overflow"
        # naming the last event it was sent, then the end of the response.
        prefix = []
        while True:
            e = stuck.next_event(timeout=60)
            self.assertIsNotNone(e, "the stream ended without an overflow notice")
            if e["event"] == "overflow":
                break
            self.check_event(e)
            prefix.append(e)
        self.assertLess(len(prefix), n)
        self.assertIsNone(stuck.next_event(timeout=30))
        self.assertEqual([keys_of(e)["pk"] for e in prefix], ["load-%04d" % i for i in range(len(prefix))])
        resume_after = e["data"]["resume_after"]
        self.assertEqual(resume_after, prefix[-1]["id"] if prefix else resume_after)
        # Resuming there gives exactly the rest.
        rest = self.subscribe(t, "?after=" + resume_after)
        tail = rest.events(n - len(prefix), timeout=60)
        self.assertEqual([keys_of(e)["pk"] for e in prefix + tail], ["load-%04d" % i for i in range(n)])
        self.assertEqual([e["id"] for e in prefix + tail], [e["id"] for e in got_good])


class SSETrimTest(SSEBase):
    daemon_kwargs = {"extra_args": ["--stream-retention-s", "1"]}

    def test_trimmed_notice(self):
        t = self.stream_table()
        self.put(t, "gone1")
        self.put(t, "gone2")
        c = self.subscribe(t, "?from=trim_horizon")
        first, second = c.events(2)
        self.assertEqual([keys_of(first)["pk"], keys_of(second)["pk"]], ["gone1", "gone2"])
        # Wait until the retention tick trimmed both: a trim_horizon
        # subscription no longer starts with them.
        deadline = time.monotonic() + 20 * SLOW
        while True:
            self.assertLess(time.monotonic(), deadline, "the events were never trimmed")
            time.sleep(0.2)
            p = self.subscribe(t, "?from=trim_horizon")
            try:
                p.next_event(timeout=0.3)
            except socket.timeout:
                break
            p.close()
        self.put(t, "kept")
        # Resuming after gone1: gone2 is lost, so the notice comes first.
        r = self.subscribe(t, headers={"Last-Event-ID": first["id"]})
        notice = r.next_event()
        self.assertEqual(notice["event"], "trimmed", notice)
        self.assertNotIn("id", notice)
        self.assertIn("message", notice["data"])
        nxt = r.next_event()
        self.check_event(nxt)
        self.assertGreater(int(nxt["id"]), int(second["id"]))
        self.assertEqual(notice["data"]["first_retained"], nxt["id"])
        # Resuming after gone2 lost nothing (gone2 was the last trimmed
        # event): no notice.
        r2 = self.subscribe(t, headers={"Last-Event-ID": second["id"]})
        e = r2.next_event()
        self.assertNotEqual(e["event"], "trimmed")
        self.assertEqual(e["id"], nxt["id"])


    def test_stream_dropped_under_a_slow_subscriber(self):
        """A disabled stream is dropped (retention) while a subscriber that
        stopped reading is still catching up: it is sent what is left, then
        a final notice, and the response ends."""
        t = self.stream_table(view="NEW_IMAGE")
        blob = "x" * 20000
        for b in range(16):
            self.ddb.batch_write_item(RequestItems={t: [
                {"PutRequest": {"Item": {"pk": {"S": "d%03d" % (b * 25 + i)}, "v": {"S": blob}}}}
                for i in range(25)]})
        slow = self.subscribe(t, "?from=trim_horizon", rcvbuf=4096)
        self.ddb.update_table(TableName=t, StreamSpecification={"StreamEnabled": False})
        deadline = time.monotonic() + 30 * SLOW
        while True:
            self.assertLess(time.monotonic(), deadline, "the disabled stream was never dropped")
            r = raw_request(self.daemon.port, STREAMS + "ListStreams", {"TableName": t})
            if not r.json["Streams"]:
                break
            time.sleep(0.2)
        items = []
        while True:
            e = slow.next_event(timeout=60)
            if e is None:
                break
            items.append(e)
        self.assertTrue(items)
        self.assertIn(items[-1]["event"], ("end", "overflow"), items[-1])
        events = [e for e in items if "id" in e]
        self.assertTrue(all(e["event"] in ("INSERT", "trimmed") for e in items[:-1]))
        for e in events:
            self.check_event(e)
        ids = [int(e["id"]) for e in events]
        self.assertEqual(ids, sorted(set(ids)))
        r = SSEClient(self.daemon.port, stream_path(t))
        self.addCleanup(r.close)
        self.assertEqual(r.status, 409)


class SSEDaemonLifecycleTest(unittest.TestCase):

    def test_resume_across_sigkill(self):
        d = Daemon()
        self.addCleanup(d.cleanup)
        d.start()
        ddb = d.client()
        t = "sse_crash"
        ddb.create_table(TableName=t, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})
        sub = SSEClient(d.port, stream_path(t, "?from=trim_horizon"))
        self.assertEqual(sub.status, 200)
        before = []
        acked, attempted = [], []
        stop = threading.Event()

        def writer(w):
            conn = http.client.HTTPConnection("127.0.0.1", d.port, timeout=10 * SLOW)
            i = 0
            while not stop.is_set():
                k = "w%d-%05d" % (w, i)
                i += 1
                attempted.append(k)
                try:
                    r = raw_request(d.port, "PutItem", {"TableName": t, "Item": {"pk": {"S": k}}}, conn=conn)
                except (OSError, http.client.HTTPException):
                    return
                if r.status == 200:
                    acked.append(k)

        def reader():
            try:
                while True:
                    e = sub.next_event(timeout=60)
                    if e is None:
                        return
                    before.append(e)
            except OSError:
                return
        rt = threading.Thread(target=reader)
        rt.start()
        ws = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
        for w in ws:
            w.start()
        time.sleep(1.0 * SLOW)
        d.kill()  # SIGKILL mid-write
        stop.set()
        for w in ws:
            w.join(30 * SLOW)
        rt.join(30 * SLOW)
        sub.close()
        self.assertGreater(len(acked), 20)
        self.assertGreater(len(before), 0)
        d.start()
        ddb = d.client()
        ddb.put_item(TableName=t, Item={"pk": {"S": "sentinel"}})
        last = before[-1]["id"]
        resumed = SSEClient(d.port, stream_path(t), headers={"Last-Event-ID": last})
        self.addCleanup(resumed.close)
        self.assertEqual(resumed.status, 200)
        after = []
        while True:
            e = resumed.next_event(timeout=60)
            self.assertIsNotNone(e)
            self.assertNotIn(e["event"], ("trimmed", "overflow", "end"))
            after.append(e)
            if keys_of(e)["pk"] == "sentinel":
                break
        everything = before + after
        ids = [int(e["id"]) for e in everything]
        self.assertEqual(ids, sorted(set(ids)), "no duplicates, in order")
        keys = [keys_of(e)["pk"] for e in everything]
        self.assertEqual(len(keys), len(set(keys)), "every write once")
        missing = set(acked) - set(keys)
        self.assertFalse(missing, "acknowledged writes without an event: %s" % sorted(missing)[:10])
        self.assertTrue(set(keys) <= set(attempted) | {"sentinel"})
        # What was sent before the crash was durable: it is all still there.
        full = SSEClient(d.port, stream_path(t, "?from=trim_horizon"))
        self.addCleanup(full.close)
        replay = full.events(len(everything), timeout=60)
        self.assertEqual([e["id"] for e in replay], [e["id"] for e in everything])
        self.assertEqual([e["data"] for e in replay], [e["data"] for e in everything])
        d.stop()

    def test_shutdown_with_subscribers(self):
        d = Daemon(extra_args=["--sse-heartbeat-ms", "100"])
        self.addCleanup(d.cleanup)
        d.start()
        ddb = d.client()
        t = "sse_shutdown"
        ddb.create_table(TableName=t, AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST",
                         StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
        ddb.put_item(TableName=t, Item={"pk": {"S": "a"}})
        subs = [SSEClient(d.port, stream_path(t, q)) for q in ("", "?from=trim_horizon", "", "")]
        for s in subs:
            self.addCleanup(s.close)
            self.assertEqual(s.status, 200)
        self.assertEqual(keys_of(subs[1].next_event())["pk"], "a")
        time.sleep(0.3)  # every subscriber idle, its connection suspended
        t0 = time.monotonic()
        d.stop()  # SIGTERM: exit status 0 (checked), sanitizer report checked
        self.assertLess(time.monotonic() - t0, 8 * SLOW, "subscribers must not hold up shutdown")
        for s in subs:
            while True:
                it = s.next_item(timeout=10)
                if it is None:
                    break
                self.assertIn("comment", it)


if __name__ == "__main__":
    unittest.main()
