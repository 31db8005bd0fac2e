"""test_streams.py -- DynamoDB Streams through boto3's `dynamodbstreams`
client and raw HTTP (streams-ttl.md 1-6): which writes produce records and
what each record holds for every view type, the four iterator types and
their errors, NextShardIterator on open and closed shards, GetRecords
paging, ListStreams / DescribeStream, the stream members of DescribeTable,
the CreateTable / UpdateTable stream errors, trimming with a short
--stream-retention-s, iterator expiry (--iterator-ttl-s) and reading a
stream across SIGKILL and restarts.

Requests boto3 refuses to send (client-side length/range checks) go through
the raw HTTP helper with the DynamoDBStreams_20120810 target prefix.
"""

import base64
import datetime
import math
import re
import threading
import time
import unittest

from botocore.exceptions import ClientError

import harness
from harness import Daemon, DaemonTestCase, SLOW

STREAMS = "DynamoDBStreams_20120810."
VIEWS = ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES")
STREAM_ARN = re.compile(r"^arn:aws:dynamodb:us-east-1:123456789012:table/([a-zA-Z0-9_.-]+)/stream/"
                        r"(\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3})$")
LABEL = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}$")
SHARD_ID = re.compile(r"^shardId-\d{20}-[0-9a-f]{8}$")
SEQ = re.compile(r"^\d{21}$")
EVENT_ID = re.compile(r"^[0-9a-f]{32}$")
TTL_IDENTITY = {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"}
INVALID = "One or more parameter values were invalid: "
UNKNOWN_ARN = "arn:aws:dynamodb:us-east-1:123456789012:table/no_such_table/stream/2020-01-01T00:00:00.000"


# -- DynamoDB item size (operations.md 1.6), for SizeBytes ---------------------

def n_size(s):
    neg = s.startswith("-")
    s = s.lstrip("-")
    i, _, f = s.partition(".")
    i = i.lstrip("0")
    f = f.rstrip("0")
    if not i and not f:
        return 1
    if not i:
        f = f.lstrip("0")
    if not f:
        i = i.rstrip("0")
    return 1 + math.ceil(len(i) / 2) + math.ceil(len(f) / 2) + (1 if neg else 0)


def value_size(v):
    (t, x), = v.items()
    if t == "S":
        return len(x.encode())
    if t == "B":
        return len(x) if isinstance(x, (bytes, bytearray)) else len(base64.b64decode(x))
    if t == "N":
        return n_size(x)
    if t in ("BOOL", "NULL"):
        return 1
    if t == "SS":
        return sum(len(m.encode()) for m in x)
    if t == "NS":
        return sum(n_size(m) for m in x)
    if t == "BS":
        return sum(len(m) for m in x)
    if t == "L":
        return 3 + sum(1 + value_size(e) for e in x)
    if t == "M":
        return 3 + sum(len(k.encode()) + 1 + value_size(e) for k, e in x.items())
    raise ValueError(t)


def item_size(item):
    return sum(len(k.encode()) + value_size(v) for k, v in item.items())


def record_size(d):
    """SizeBytes a record must carry: Keys + NewImage + OldImage as present (streams-ttl.md 4)."""
    return sum(item_size(d[f]) for f in ("Keys", "NewImage", "OldImage") if f in d)


# -- clients and helpers ---------------------------------------------------------

def streams_client(daemon):
    return harness._session().client("dynamodbstreams", endpoint_url=daemon.endpoint, config=harness._config())


def sraw(daemon, op, body):
    """A raw Streams request (past boto3's client-side checks)."""
    return daemon.raw(STREAMS + op, body)


def stream_spec(view):
    return {"StreamEnabled": True, "StreamViewType": view}


class StreamsMixin:
    """Helpers for test classes that have self.daemon, self.ddb and self.streams."""

    def create_stream_table(self, view="NEW_AND_OLD_IMAGES", name=None, range_type="N", **extra):
        name = self.make_table(name=name, range_type=range_type, StreamSpecification=stream_spec(view), **extra)
        return name, self.ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]

    def shard_id(self, arn):
        shards = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"]
        self.assertEqual(len(shards), 1, shards)
        return shards[0]["ShardId"]

    def iterator(self, arn, itype="TRIM_HORIZON", seq=None, shard=None):
        args = dict(StreamArn=arn, ShardId=shard or self.shard_id(arn), ShardIteratorType=itype)
        if seq is not None:
            args["SequenceNumber"] = seq
        return self.streams.get_shard_iterator(**args)["ShardIterator"]

    def drain(self, it, limit=None, max_pages=100000):
        """GetRecords from it until an empty page (open shard) or no
        NextShardIterator (closed shard read to its end). -> (records, last
        page, next iterator or None)."""
        out = []
        for _ in range(max_pages):
            args = {"ShardIterator": it}
            if limit is not None:
                args["Limit"] = limit
            page = self.streams.get_records(**args)
            self.assertIn("Records", page)
            out += page["Records"]
            nxt = page.get("NextShardIterator")
            if nxt is None or not page["Records"]:
                return out, page, nxt
            it = nxt
        self.fail("stream never ended")

    def read_stream(self, arn, itype="TRIM_HORIZON", seq=None, limit=None):
        return self.drain(self.iterator(arn, itype, seq), limit)[0]

    def assertSeqIncreasing(self, recs):
        seqs = [r["dynamodb"]["SequenceNumber"] for r in recs]
        for s in seqs:
            self.assertRegex(s, SEQ)
        for a, b in zip(seqs, seqs[1:]):
            self.assertLess(int(a), int(b), "sequence numbers not strictly increasing")
        ids = [r["eventID"] for r in recs]
        self.assertEqual(len(ids), len(set(ids)), "duplicate eventID")

    def check_record(self, rec, event, view, keys, new=None, old=None, ttl=False, window=5):
        """One record against streams-ttl.md 4: exactly which of
        Keys/NewImage/OldImage are present, and their values."""
        ctx = "%s record %r" % (event, rec)
        self.assertEqual(rec["eventName"], event, ctx)
        self.assertRegex(rec["eventID"], EVENT_ID)
        self.assertEqual(rec["eventVersion"], "1.1")
        self.assertEqual(rec["eventSource"], "aws:dynamodb")
        self.assertEqual(rec["awsRegion"], "us-east-1")
        if ttl:
            self.assertEqual(rec.get("userIdentity"), TTL_IDENTITY, ctx)
        else:
            self.assertNotIn("userIdentity", rec, ctx)
        d = rec["dynamodb"]
        self.assertEqual(d["StreamViewType"], view, ctx)
        self.assertRegex(d["SequenceNumber"], SEQ)
        self.assertEqual(d["Keys"], keys, ctx)
        want_new = view in ("NEW_IMAGE", "NEW_AND_OLD_IMAGES") and event != "REMOVE"
        want_old = view in ("OLD_IMAGE", "NEW_AND_OLD_IMAGES") and event != "INSERT"
        if want_new:
            self.assertEqual(d.get("NewImage"), new, ctx)
        else:
            self.assertNotIn("NewImage", d, ctx)
        if want_old:
            self.assertEqual(d.get("OldImage"), old, ctx)
        else:
            self.assertNotIn("OldImage", d, ctx)
        self.assertEqual(d["SizeBytes"], record_size(d), ctx)
        t = d["ApproximateCreationDateTime"]
        self.assertIsInstance(t, datetime.datetime)
        self.assertLess(abs(t.timestamp() - time.time()), window * SLOW, ctx)
        self.assertEqual(t.timestamp(), math.floor(t.timestamp()), "ApproximateCreationDateTime not whole seconds")
        self.assertEqual(set(d) - {"ApproximateCreationDateTime", "Keys", "NewImage", "OldImage",
                                   "SequenceNumber", "SizeBytes", "StreamViewType"}, set(), ctx)

    def assertStreamsError(self, fn, code, message=None, contains=None):
        with self.assertRaises(ClientError) as cm:
            fn()
        err = cm.exception.response["Error"]
        self.assertEqual(err["Code"], code, cm.exception.response)
        if message is not None:
            self.assertEqual(err["Message"], message)
        if contains is not None:
            self.assertIn(contains, err["Message"])
        return err

    def assertRaw(self, r, status, type_, message=None, contains=None):
        self.assertEqual(r.status, status, r)
        self.assertIsNotNone(r.type, r)
        self.assertTrue(r.type.endswith(type_), r)
        if message is not None:
            self.assertEqual(r.message, message, r)
        if contains is not None:
            self.assertIn(contains, r.message or "", r)


class StreamsTestCase(DaemonTestCase, StreamsMixin):
    daemon_kwargs = {"fsync": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.streams = streams_client(cls.daemon)


# -- records ---------------------------------------------------------------------

class StreamRecordsTest(StreamsTestCase):

    def run_write_mix(self, table):
        """Puts, updates, deletes and a batch, including writes that change
        nothing. -> the expected records [(event, keys, new, old) or a list
        of those for a batch (any order inside)]."""
        c = self.ddb
        k = lambda p, s: {"pk": {"S": p}, "sk": {"N": s}}
        a1 = dict(k("a", "1"), v={"S": "one"})
        a2 = dict(k("a", "1"), v={"S": "two"}, n={"N": "5"}, m={"M": {"x": {"L": [{"BOOL": True}, {"NULL": True}]}}})
        a3 = dict(a2, n={"N": "6"})
        c.put_item(TableName=table, Item=a1)                                   # INSERT
        c.put_item(TableName=table, Item=a1)                                   # identical: none
        c.put_item(TableName=table, Item=a2)                                   # MODIFY (replace)
        c.update_item(TableName=table, Key=k("a", "1"), UpdateExpression="SET v = :v",
                      ExpressionAttributeValues={":v": {"S": "two"}})          # same value: none
        c.update_item(TableName=table, Key=k("a", "1"), UpdateExpression="SET n = n + :one",
                      ExpressionAttributeValues={":one": {"N": "1"}})          # MODIFY
        c.update_item(TableName=table, Key=k("a", "1"), UpdateExpression="REMOVE nothere")  # none
        with self.assertRaises(ClientError):
            c.put_item(TableName=table, Item=dict(a1, v={"S": "never"}),
                       ConditionExpression="attribute_not_exists(pk)")        # failed condition: none
        c.delete_item(TableName=table, Key=k("zz", "9"))                       # missing: none
        c.update_item(TableName=table, Key=k("b", "2"))                        # INSERT key-only item
        cc = dict(k("c", "3"), v={"S": "c"}, b={"B": b"\x00\xff"}, ss={"SS": ["x", "y"]})
        c.batch_write_item(RequestItems={table: [
            {"PutRequest": {"Item": cc}},
            {"DeleteRequest": {"Key": k("b", "2")}},
            {"DeleteRequest": {"Key": k("nope", "0")}}]})                      # INSERT c, REMOVE b, none
        c.delete_item(TableName=table, Key=k("a", "1"))                        # REMOVE
        with self.assertRaises(ClientError):
            c.delete_item(TableName=table, Key=k("c", "3"), ConditionExpression="v = :x",
                          ExpressionAttributeValues={":x": {"S": "other"}})   # failed condition: none
        c2 = dict(cc, v={"S": "c2"})
        c.update_item(TableName=table, Key=k("c", "3"), UpdateExpression="SET v = :v",
                      ExpressionAttributeValues={":v": {"S": "c2"}})           # MODIFY
        return [
            ("INSERT", k("a", "1"), a1, None),
            ("MODIFY", k("a", "1"), a2, a1),
            ("MODIFY", k("a", "1"), a3, a2),
            ("INSERT", k("b", "2"), k("b", "2"), None),
            [("INSERT", k("c", "3"), cc, None), ("REMOVE", k("b", "2"), None, k("b", "2"))],
            ("REMOVE", k("a", "1"), None, a3),
            ("MODIFY", k("c", "3"), c2, cc),
        ]

    def check_mix(self, view):
        table, arn = self.create_stream_table(view)
        expected = self.run_write_mix(table)
        recs = self.read_stream(arn)
        flat = sum((e if isinstance(e, list) else [e] for e in expected), [])
        self.assertEqual([r["eventName"] for r in recs], [e[0] for e in flat],
                         "records: %r" % [(r["eventName"], r["dynamodb"]["Keys"]) for r in recs])
        self.assertSeqIncreasing(recs)
        i = 0
        for e in expected:
            group = e if isinstance(e, list) else [e]
            got = recs[i:i + len(group)]
            i += len(group)
            # inside one batch any order; match by key
            got = sorted(got, key=lambda r: repr(r["dynamodb"]["Keys"]))
            group = sorted(group, key=lambda g: repr(g[1]))
            for rec, (event, keys, new, old) in zip(got, group):
                self.check_record(rec, event, view, keys, new, old)

    def test_keys_only(self):
        self.check_mix("KEYS_ONLY")

    def test_new_image(self):
        self.check_mix("NEW_IMAGE")

    def test_old_image(self):
        self.check_mix("OLD_IMAGE")

    def test_new_and_old_images(self):
        self.check_mix("NEW_AND_OLD_IMAGES")

    def test_hash_only_table_and_wire_form(self):
        # hash-only key; the raw GetRecords JSON: ApproximateCreationDateTime a whole number
        name = self.make_table(StreamSpecification=stream_spec("NEW_IMAGE"))
        arn = self.ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        item = {"pk": {"S": "h\u00e9"}, "n": {"N": "-1.50"}, "ns": {"NS": ["3", "1"]}}
        t0 = time.time()
        self.ddb.put_item(TableName=name, Item=item)
        it = self.iterator(arn)
        r = sraw(self.daemon, "GetRecords", {"ShardIterator": it})
        self.assertEqual(r.status, 200, r)
        self.assertTrue(harness.crc32_ok(r))
        recs = r.json["Records"]
        self.assertEqual(len(recs), 1, r.json)
        d = recs[0]["dynamodb"]
        act = d["ApproximateCreationDateTime"]
        self.assertIsInstance(act, (int, float))
        self.assertEqual(act, math.floor(act))
        self.assertLessEqual(abs(act - t0), 5 * SLOW)
        self.assertIsInstance(d["SizeBytes"], int)
        self.assertIsInstance(d["SequenceNumber"], str)
        self.assertEqual(d["Keys"], {"pk": {"S": "h\u00e9"}})
        self.assertEqual(d["NewImage"], {"pk": {"S": "h\u00e9"}, "n": {"N": "-1.5"}, "ns": {"NS": ["1", "3"]}})
        self.assertEqual(d["SizeBytes"], record_size(d))
        self.assertIn("NextShardIterator", r.json)

    def test_batch_over_two_tables(self):
        # one BatchWriteItem over two stream tables (one with a binary key): each stream gets its own records
        a, arn_a = self.create_stream_table("NEW_IMAGE", range_type=None)
        b = self.make_table(hash_type="B", StreamSpecification=stream_spec("OLD_IMAGE"))
        arn_b = self.ddb.describe_table(TableName=b)["Table"]["LatestStreamArn"]
        self.ddb.put_item(TableName=b, Item={"pk": {"B": b"\x00\x01"}, "v": {"N": "1"}})
        self.ddb.batch_write_item(RequestItems={
            a: [{"PutRequest": {"Item": {"pk": {"S": "a1"}}}}, {"PutRequest": {"Item": {"pk": {"S": "a2"}}}}],
            b: [{"DeleteRequest": {"Key": {"pk": {"B": b"\x00\x01"}}}},
                {"PutRequest": {"Item": {"pk": {"B": b"\xff"}, "v": {"N": "2"}}}}]})
        ra = self.read_stream(arn_a)
        self.assertEqual(sorted(r["dynamodb"]["Keys"]["pk"]["S"] for r in ra), ["a1", "a2"])
        for r in ra:
            self.check_record(r, "INSERT", "NEW_IMAGE", r["dynamodb"]["Keys"], new=r["dynamodb"]["Keys"])
        rb = self.read_stream(arn_b)
        self.assertEqual(len(rb), 3)
        self.check_record(rb[0], "INSERT", "OLD_IMAGE", {"pk": {"B": b"\x00\x01"}})
        rest = sorted(rb[1:], key=lambda r: r["eventName"])
        self.check_record(rest[0], "INSERT", "OLD_IMAGE", {"pk": {"B": b"\xff"}})
        self.check_record(rest[1], "REMOVE", "OLD_IMAGE", {"pk": {"B": b"\x00\x01"}},
                          old={"pk": {"B": b"\x00\x01"}, "v": {"N": "1"}})

    def test_unchanged_after_normalisation(self):
        # numbers by value, sets unordered: a re-put equal after normalisation is no change
        table, arn = self.create_stream_table("KEYS_ONLY", range_type=None)
        self.ddb.put_item(TableName=table, Item={"pk": {"S": "x"}, "n": {"N": "1.50"}, "s": {"SS": ["b", "a"]}})
        self.ddb.put_item(TableName=table, Item={"pk": {"S": "x"}, "n": {"N": "1.5"}, "s": {"SS": ["a", "b"]}})
        self.ddb.update_item(TableName=table, Key={"pk": {"S": "x"}}, UpdateExpression="SET n = :n",
                             ExpressionAttributeValues={":n": {"N": "01.500"}})
        self.ddb.update_item(TableName=table, Key={"pk": {"S": "x"}}, UpdateExpression="ADD s :s",
                             ExpressionAttributeValues={":s": {"SS": ["a"]}})
        self.assertEqual([r["eventName"] for r in self.read_stream(arn)], ["INSERT"])

    def test_no_records_without_stream(self):
        # writes before enable are not back-filled; writes after disable are not recorded
        name = self.make_table()
        self.ddb.put_item(TableName=name, Item={"pk": {"S": "before"}})
        self.ddb.update_table(TableName=name, StreamSpecification=stream_spec("KEYS_ONLY"))
        arn = self.ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        self.ddb.put_item(TableName=name, Item={"pk": {"S": "during"}})
        self.ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
        self.ddb.put_item(TableName=name, Item={"pk": {"S": "after"}})
        self.ddb.delete_item(TableName=name, Key={"pk": {"S": "during"}})
        recs = self.read_stream(arn)
        self.assertEqual([(r["eventName"], r["dynamodb"]["Keys"]) for r in recs],
                         [("INSERT", {"pk": {"S": "during"}})])
        # a second enable mints a new stream holding only what comes after it
        self.ddb.update_table(TableName=name, StreamSpecification=stream_spec("NEW_IMAGE"))
        arn2 = self.ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        self.assertNotEqual(arn2, arn)
        self.ddb.put_item(TableName=name, Item={"pk": {"S": "again"}})
        recs2 = self.read_stream(arn2)
        self.assertEqual([(r["eventName"], r["dynamodb"]["Keys"]) for r in recs2],
                         [("INSERT", {"pk": {"S": "again"}})])
        self.assertEqual(len(self.read_stream(arn)), 1, "the disabled stream grew")

    def test_paging_1000(self):
        table, arn = self.create_stream_table("KEYS_ONLY", range_type=None)
        n = 1100
        for b in range(0, n, 25):
            self.ddb.batch_write_item(RequestItems={table: [
                {"PutRequest": {"Item": {"pk": {"S": "p%05d" % i}}}} for i in range(b, min(n, b + 25))]})
        it = self.iterator(arn)
        first = self.streams.get_records(ShardIterator=it)
        self.assertLessEqual(len(first["Records"]), 1000)
        self.assertGreater(len(first["Records"]), 0)
        exact = self.streams.get_records(ShardIterator=it, Limit=1000)
        self.assertEqual(len(exact["Records"]), 1000)
        rest, _, _ = self.drain(first["NextShardIterator"])
        recs = first["Records"] + rest
        self.assertEqual(len(recs), n)
        self.assertSeqIncreasing(recs)
        self.assertEqual(sorted(r["dynamodb"]["Keys"]["pk"]["S"] for r in recs), ["p%05d" % i for i in range(n)])
        # Limit 1 pages through the same records one by one
        it = self.iterator(arn)
        for want in recs[:5]:
            page = self.streams.get_records(ShardIterator=it, Limit=1)
            self.assertEqual(page["Records"], [want])
            it = page["NextShardIterator"]
        # Limit 7 pages
        recs7, _, _ = self.drain(self.iterator(arn), limit=7)
        self.assertEqual(recs7, recs)

    def test_page_size_budget(self):
        # ~1 MB per page: 24 records of ~100 KB do not come in one page
        table, arn = self.create_stream_table("NEW_IMAGE", range_type=None)
        for i in range(24):
            self.ddb.put_item(TableName=table, Item={"pk": {"S": "big%d" % i}, "b": {"B": bytes([i]) * 100000}})
        page = self.streams.get_records(ShardIterator=self.iterator(arn))
        self.assertGreaterEqual(len(page["Records"]), 1)
        self.assertLess(len(page["Records"]), 24)
        self.assertLess(sum(r["dynamodb"]["SizeBytes"] for r in page["Records"]), 1300000)
        rest, _, _ = self.drain(page["NextShardIterator"])
        recs = page["Records"] + rest
        self.assertEqual([r["dynamodb"]["Keys"]["pk"]["S"] for r in recs], ["big%d" % i for i in range(24)])
        for i, r in enumerate(recs):
            self.assertEqual(r["dynamodb"]["NewImage"]["b"]["B"], bytes([i]) * 100000)

    def test_concurrent_writers_each_once(self):
        table, arn = self.create_stream_table("NEW_IMAGE", range_type=None)
        errors = []

        def w(i):
            try:
                c = self.daemon.client()
                for j in range(40):
                    c.put_item(TableName=table, Item={"pk": {"S": "w%d" % i}, "v": {"N": str(j)}})
            except Exception as e:  # noqa: BLE001 - reported below
                errors.append(e)
        ts = [threading.Thread(target=w, args=(i,)) for i in range(4)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])
        recs = self.read_stream(arn)
        self.assertEqual(len(recs), 160)
        self.assertSeqIncreasing(recs)
        for i in range(4):
            mine = [r for r in recs if r["dynamodb"]["Keys"]["pk"]["S"] == "w%d" % i]
            self.assertEqual([r["dynamodb"]["NewImage"]["v"]["N"] for r in mine], [str(j) for j in range(40)])
            self.assertEqual([r["eventName"] for r in mine], ["INSERT"] + ["MODIFY"] * 39)


# -- table side: CreateTable / UpdateTable / DescribeTable --------------------------

class StreamTableConfigTest(StreamsTestCase):

    def check_enabled(self, d, view):
        self.assertEqual(d["StreamSpecification"], {"StreamEnabled": True, "StreamViewType": view})
        m = STREAM_ARN.match(d["LatestStreamArn"])
        self.assertIsNotNone(m, d["LatestStreamArn"])
        self.assertEqual(m.group(1), d["TableName"])
        self.assertEqual(m.group(2), d["LatestStreamLabel"])
        self.assertRegex(d["LatestStreamLabel"], LABEL)
        label_time = datetime.datetime.strptime(d["LatestStreamLabel"], "%Y-%m-%dT%H:%M:%S.%f")
        label_time = label_time.replace(tzinfo=datetime.timezone.utc)
        self.assertLess(abs(label_time.timestamp() - time.time()), 60, "label is not the (UTC) enable time")

    def test_create_with_stream(self):
        for view in VIEWS:
            name = self.unique()
            r = self.ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                                      AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                                      KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                                      StreamSpecification=stream_spec(view))
            self.check_enabled(r["TableDescription"], view)
            d = self.ddb.describe_table(TableName=name)["Table"]
            self.check_enabled(d, view)
            self.assertEqual(d["LatestStreamArn"], r["TableDescription"]["LatestStreamArn"])
            self.assertEqual(d["LatestStreamLabel"], r["TableDescription"]["LatestStreamLabel"])

    def test_no_stream_members_without_stream(self):
        a = self.make_table()
        b = self.make_table(StreamSpecification={"StreamEnabled": False})
        for name in (a, b):
            d = self.ddb.describe_table(TableName=name)["Table"]
            for f in ("StreamSpecification", "LatestStreamArn", "LatestStreamLabel"):
                self.assertNotIn(f, d)
            raw = self.daemon.raw("DescribeTable", {"TableName": name})
            self.assertNotIn("StreamSpecification", raw.json["Table"])

    def test_enable_disable_enable(self):
        name = self.make_table()
        r = self.ddb.update_table(TableName=name, StreamSpecification=stream_spec("OLD_IMAGE"))
        self.check_enabled(r["TableDescription"], "OLD_IMAGE")
        first = self.ddb.describe_table(TableName=name)["Table"]
        self.check_enabled(first, "OLD_IMAGE")
        self.assertEqual(first["TableStatus"], "ACTIVE")
        self.assertEqual(first["LatestStreamArn"], r["TableDescription"]["LatestStreamArn"])
        r = self.ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
        self.assertNotIn("StreamSpecification", r["TableDescription"])
        d = self.ddb.describe_table(TableName=name)["Table"]
        self.assertNotIn("StreamSpecification", d)
        self.assertEqual(d["LatestStreamArn"], first["LatestStreamArn"], "LatestStreamArn must stay after disable")
        self.assertEqual(d["LatestStreamLabel"], first["LatestStreamLabel"])
        time.sleep(0.01)  # labels have millisecond precision
        self.ddb.update_table(TableName=name, StreamSpecification=stream_spec("KEYS_ONLY"))
        d = self.ddb.describe_table(TableName=name)["Table"]
        self.check_enabled(d, "KEYS_ONLY")
        self.assertNotEqual(d["LatestStreamArn"], first["LatestStreamArn"])
        self.assertNotEqual(d["LatestStreamLabel"], first["LatestStreamLabel"])
        s = self.streams.describe_stream(StreamArn=first["LatestStreamArn"])["StreamDescription"]
        self.assertEqual(s["StreamStatus"], "DISABLED")
        self.assertEqual(s["StreamViewType"], "OLD_IMAGE")

    def test_stream_change_with_pay_per_request(self):
        name = self.make_table()
        self.ddb.update_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                              StreamSpecification=stream_spec("NEW_IMAGE"))
        self.assertEqual(self.ddb.describe_table(TableName=name)["Table"]["StreamSpecification"],
                         {"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"})

    def raw_create(self, spec):
        return self.daemon.raw("CreateTable", {
            "TableName": self.unique(), "BillingMode": "PAY_PER_REQUEST",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}], "StreamSpecification": spec})

    def test_create_table_errors(self):
        cases = [
            ({"StreamEnabled": True},
             INVALID + "Table is being created with a stream enabled, UpdateViewType is required"),
            ({"StreamEnabled": False, "StreamViewType": "NEW_IMAGE"},
             INVALID + "Table is being created with a stream disabled, UpdateViewType should not be specified"),
            ({}, "1 validation error detected: Value null at 'streamSpecification.streamEnabled' failed to satisfy "
                 "constraint: Member must not be null"),
            ({"StreamViewType": "NEW_IMAGE"},
             "1 validation error detected: Value null at 'streamSpecification.streamEnabled' failed to satisfy "
             "constraint: Member must not be null"),
            ({"StreamEnabled": True, "StreamViewType": "new_image"},
             "1 validation error detected: Value 'new_image' at 'streamSpecification.streamViewType' failed to "
             "satisfy constraint: Member must satisfy enum value set: [OLD_IMAGE, KEYS_ONLY, NEW_AND_OLD_IMAGES, "
             "NEW_IMAGE]"),
        ]
        for spec, msg in cases:
            r = self.raw_create(spec)
            self.assertRaw(r, 400, "ValidationException", msg)
        # nothing was created
        self.assertEqual([t for t in self.ddb.list_tables()["TableNames"] if "create_table_errors" in t], [])

    def update_error(self, name, spec, msg, code="ValidationException", **extra):
        r = self.daemon.raw("UpdateTable", dict({"TableName": name, "StreamSpecification": spec}, **extra))
        self.assertRaw(r, 400, code, msg)

    def test_update_table_errors(self):
        name = self.make_table()
        self.update_error(name, {"StreamEnabled": False}, "Table has no stream to disable: TableName: " + name)
        self.update_error(name, {"StreamEnabled": True},
                          INVALID + "If stream is being enabled then UpdateViewType is required")
        self.update_error(name, {"StreamEnabled": False, "StreamViewType": "KEYS_ONLY"},
                          INVALID + "If stream is being disabled, then UpdateViewType must not be specified")
        self.update_error(name, {}, "1 validation error detected: Value null at 'streamSpecification.streamEnabled' "
                                    "failed to satisfy constraint: Member must not be null")
        self.update_error(name, {"StreamViewType": "KEYS_ONLY"},
                          "1 validation error detected: Value null at 'streamSpecification.streamEnabled' "
                          "failed to satisfy constraint: Member must not be null")
        self.update_error(name, {"StreamEnabled": True, "StreamViewType": "new_image"},
                          "1 validation error detected: Value 'new_image' at 'streamSpecification.streamViewType' "
                          "failed to satisfy constraint: Member must satisfy enum value set: [OLD_IMAGE, KEYS_ONLY, "
                          "NEW_AND_OLD_IMAGES, NEW_IMAGE]")
        self.assertNotIn("LatestStreamArn", self.ddb.describe_table(TableName=name)["Table"])
        self.ddb.update_table(TableName=name, StreamSpecification=stream_spec("NEW_IMAGE"))
        arn = self.ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        for view in ("NEW_IMAGE", "KEYS_ONLY"):
            self.update_error(name, stream_spec(view), "Table already has an enabled stream: TableName: " + name)
        self.update_error(name, {"StreamEnabled": True},
                          INVALID + "If stream is being enabled then UpdateViewType is required")
        d = self.ddb.describe_table(TableName=name)["Table"]
        self.assertEqual(d["LatestStreamArn"], arn)
        self.assertEqual(d["StreamSpecification"]["StreamViewType"], "NEW_IMAGE")
        self.ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
        self.update_error(name, {"StreamEnabled": False}, "Table has no stream to disable: TableName: " + name)
        self.update_error("no_such_table_x", stream_spec("NEW_IMAGE"),
                          "Requested resource not found: Table: no_such_table_x not found",
                          code="ResourceNotFoundException")

    def test_update_table_stream_with_iops(self):
        name = self.make_table(BillingMode="PROVISIONED",
                               ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})
        self.update_error(name, stream_spec("NEW_IMAGE"),
                          INVALID + "You cannot modify stream status while updating table IOPS",
                          ProvisionedThroughput={"ReadCapacityUnits": 2, "WriteCapacityUnits": 2})
        self.assertNotIn("StreamSpecification", self.ddb.describe_table(TableName=name)["Table"])

    def test_update_table_stream_with_gsi(self):
        name = self.make_table()
        self.update_error(name, stream_spec("NEW_IMAGE"),
                          INVALID + "You cannot create or delete index while changing stream status",
                          AttributeDefinitions=[{"AttributeName": "g", "AttributeType": "S"}],
                          GlobalSecondaryIndexUpdates=[{"Create": {
                              "IndexName": "gsi1", "KeySchema": [{"AttributeName": "g", "KeyType": "HASH"}],
                              "Projection": {"ProjectionType": "ALL"}}}])
        self.assertNotIn("StreamSpecification", self.ddb.describe_table(TableName=name)["Table"])

    def test_delete_table_keeps_stream_disabled(self):
        name, arn = self.create_stream_table("NEW_IMAGE", range_type=None)
        self.ddb.put_item(TableName=name, Item={"pk": {"S": "x"}})
        self.ddb.delete_table(TableName=name)
        deadline = time.monotonic() + 10 * SLOW
        while time.monotonic() < deadline:
            try:
                self.ddb.describe_table(TableName=name)
            except ClientError:
                break
            time.sleep(0.05)
        s = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]
        self.assertEqual(s["StreamStatus"], "DISABLED")
        self.assertEqual(s["TableName"], name)
        self.assertEqual(s["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"}])
        self.assertIn("EndingSequenceNumber", s["Shards"][0]["SequenceNumberRange"])
        listed = self.streams.list_streams(TableName=name)["Streams"]
        self.assertEqual([x["StreamArn"] for x in listed], [arn])
        recs, page, nxt = self.drain(self.iterator(arn))
        self.assertEqual([r["eventName"] for r in recs], ["INSERT"])
        self.assertIsNone(nxt)
        # re-created under the same name with a stream: a new ARN, the old one still listed
        time.sleep(0.01)
        name2, arn2 = self.create_stream_table("KEYS_ONLY", name=name, range_type=None)
        self.assertNotEqual(arn2, arn)
        self.ddb.put_item(TableName=name, Item={"pk": {"S": "y"}})
        self.assertEqual(sorted(x["StreamArn"] for x in self.streams.list_streams(TableName=name)["Streams"]),
                         sorted([arn, arn2]))
        self.assertEqual([r["dynamodb"]["Keys"] for r in self.read_stream(arn2)], [{"pk": {"S": "y"}}])
        self.assertEqual(len(self.read_stream(arn)), 1)


# -- ListStreams / DescribeStream --------------------------------------------------

class ListDescribeStreamsTest(StreamsTestCase):

    def test_list_streams_filter_and_paging(self):
        name = self.make_table(StreamSpecification=stream_spec("NEW_IMAGE"))
        arns = [self.ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]]
        for view in ("KEYS_ONLY", "OLD_IMAGE"):
            self.ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
            time.sleep(0.01)
            self.ddb.update_table(TableName=name, StreamSpecification=stream_spec(view))
            arns.append(self.ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"])
        self.assertEqual(len(set(arns)), 3)
        other = self.make_table(StreamSpecification=stream_spec("KEYS_ONLY"))
        other_arn = self.ddb.describe_table(TableName=other)["Table"]["LatestStreamArn"]
        plain = self.make_table()

        r = self.streams.list_streams(TableName=name)
        self.assertNotIn("LastEvaluatedStreamArn", r)
        self.assertEqual(sorted(s["StreamArn"] for s in r["Streams"]), sorted(arns))
        for s in r["Streams"]:
            self.assertEqual(set(s), {"StreamArn", "TableName", "StreamLabel"})
            self.assertEqual(s["TableName"], name)
            self.assertEqual(STREAM_ARN.match(s["StreamArn"]).group(2), s["StreamLabel"])
        self.assertEqual(self.streams.list_streams(TableName=plain)["Streams"], [])
        raw = sraw(self.daemon, "ListStreams", {"TableName": plain})
        self.assertEqual((raw.status, raw.json), (200, {"Streams": []}))

        # Limit paging with LastEvaluatedStreamArn, filtered and unfiltered
        for filt in ({"TableName": name}, {}):
            got, start, pages = [], None, 0
            while True:
                args = dict(filt, Limit=1)
                if start:
                    args["ExclusiveStartStreamArn"] = start
                r = self.streams.list_streams(**args)
                pages += 1
                self.assertLessEqual(len(r["Streams"]), 1)
                got += [s["StreamArn"] for s in r["Streams"]]
                start = r.get("LastEvaluatedStreamArn")
                if start:
                    self.assertEqual(start, r["Streams"][-1]["StreamArn"])
                else:
                    break
                self.assertLess(pages, 1000)
            self.assertEqual(len(got), len(set(got)), "a stream listed twice while paging")
            if filt:
                self.assertEqual(sorted(got), sorted(arns))
            else:
                self.assertTrue(set(arns + [other_arn]) <= set(got))
                every = self.streams.list_streams()["Streams"]
                self.assertEqual(sorted(s["StreamArn"] for s in every), sorted(got))
        r = self.streams.list_streams(TableName=name, Limit=2)
        self.assertEqual(len(r["Streams"]), 2)
        self.assertIn("LastEvaluatedStreamArn", r)

    def test_list_streams_errors(self):
        for limit in (0, 101, -1):
            r = sraw(self.daemon, "ListStreams", {"Limit": limit})
            self.assertRaw(r, 400, "ValidationException", contains="imit")
        r = sraw(self.daemon, "ListStreams", {"TableName": "x"})
        self.assertRaw(r, 400, "ValidationException")
        r = sraw(self.daemon, "ListStreams", {"ExclusiveStartStreamArn": "fake-stream-arn-that-is-long-enough-xxxxxxxxxxx"})
        self.assertRaw(r, 400, "ValidationException")

    def test_describe_stream(self):
        name, arn = self.create_stream_table("NEW_AND_OLD_IMAGES", range_type="S")
        tdesc = self.ddb.describe_table(TableName=name)["Table"]
        s = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]
        self.assertEqual(s["StreamArn"], arn)
        self.assertEqual(s["StreamLabel"], tdesc["LatestStreamLabel"])
        self.assertEqual(s["TableName"], name)
        self.assertEqual(s["StreamStatus"], "ENABLED")
        self.assertEqual(s["StreamViewType"], "NEW_AND_OLD_IMAGES")
        self.assertEqual(s["KeySchema"], tdesc["KeySchema"])
        self.assertEqual(s["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"},
                                          {"AttributeName": "sk", "KeyType": "RANGE"}])
        self.assertIsInstance(s["CreationRequestDateTime"], datetime.datetime)
        self.assertLess(abs(s["CreationRequestDateTime"].timestamp() - time.time()), 60)
        self.assertNotIn("LastEvaluatedShardId", s)
        self.assertEqual(len(s["Shards"]), 1)
        sh = s["Shards"][0]
        self.assertRegex(sh["ShardId"], SHARD_ID)
        self.assertNotIn("ParentShardId", sh)
        start = sh["SequenceNumberRange"]["StartingSequenceNumber"]
        self.assertRegex(start, SEQ)
        self.assertNotIn("EndingSequenceNumber", sh["SequenceNumberRange"])
        for i in range(3):
            self.ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"S": str(i)}})
        recs = self.read_stream(arn)
        self.assertEqual(len(recs), 3)
        self.assertGreaterEqual(int(recs[0]["dynamodb"]["SequenceNumber"]), int(start))
        # disable: the shard closes
        self.ddb.update_table(TableName=name, StreamSpecification={"StreamEnabled": False})
        s = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]
        self.assertEqual(s["StreamStatus"], "DISABLED")
        self.assertEqual(len(s["Shards"]), 1)
        rng = s["Shards"][0]["SequenceNumberRange"]
        self.assertEqual(s["Shards"][0]["ShardId"], sh["ShardId"])
        self.assertEqual(rng["StartingSequenceNumber"], start)
        self.assertIn("EndingSequenceNumber", rng)
        self.assertRegex(rng["EndingSequenceNumber"], SEQ)
        self.assertGreaterEqual(int(rng["EndingSequenceNumber"]), int(recs[-1]["dynamodb"]["SequenceNumber"]))
        self.assertGreaterEqual(int(rng["EndingSequenceNumber"]), int(start))
        # paging over shards
        s = self.streams.describe_stream(StreamArn=arn, Limit=1)["StreamDescription"]
        self.assertEqual(len(s["Shards"]), 1)
        s = self.streams.describe_stream(StreamArn=arn, ExclusiveStartShardId=sh["ShardId"])["StreamDescription"]
        self.assertEqual(s["Shards"], [])
        self.assertNotIn("LastEvaluatedShardId", s)
        # an unknown ExclusiveStartShardId is no error (AWS): an empty page
        s = self.streams.describe_stream(StreamArn=arn, ExclusiveStartShardId="shardId-99999999999999999999-ffffffff")
        self.assertEqual(s["StreamDescription"]["Shards"], [])

    def test_describe_stream_errors(self):
        self.assertStreamsError(lambda: self.streams.describe_stream(StreamArn=UNKNOWN_ARN),
                                "ResourceNotFoundException",
                                "Requested resource not found: Stream: %s not found" % UNKNOWN_ARN)
        for bad in ("fake-stream", "arn:aws:dynamodb:us-east-1:123456789012:table/t/notastream/x" + "y" * 20):
            r = sraw(self.daemon, "DescribeStream", {"StreamArn": bad})
            self.assertRaw(r, 400, "ValidationException", contains="Invalid StreamArn")
        r = sraw(self.daemon, "DescribeStream", {})
        self.assertRaw(r, 400, "ValidationException")
        _, arn = self.create_stream_table("KEYS_ONLY", range_type=None)
        for limit in (0, 101):
            r = sraw(self.daemon, "DescribeStream", {"StreamArn": arn, "Limit": limit})
            self.assertRaw(r, 400, "ValidationException", contains="imit")


# -- iterators ---------------------------------------------------------------------

class IteratorTest(StreamsTestCase):

    def setUp(self):
        self.table, self.arn = self.create_stream_table("KEYS_ONLY", range_type=None)
        self.shard = self.shard_id(self.arn)
        for i in range(5):
            self.ddb.put_item(TableName=self.table, Item={"pk": {"S": "k%d" % i}})
        self.recs = self.read_stream(self.arn)
        self.assertEqual(len(self.recs), 5)
        self.seqs = [r["dynamodb"]["SequenceNumber"] for r in self.recs]

    def keys(self, recs):
        return [r["dynamodb"]["Keys"]["pk"]["S"] for r in recs]

    def test_iterator_types(self):
        it = self.iterator(self.arn, "TRIM_HORIZON", shard=self.shard)
        self.assertLessEqual(len(it), 2048)
        self.assertEqual(self.keys(self.drain(it)[0]), ["k0", "k1", "k2", "k3", "k4"])
        at = self.iterator(self.arn, "AT_SEQUENCE_NUMBER", self.seqs[2], shard=self.shard)
        self.assertEqual(self.keys(self.drain(at)[0]), ["k2", "k3", "k4"])
        after = self.iterator(self.arn, "AFTER_SEQUENCE_NUMBER", self.seqs[2], shard=self.shard)
        self.assertEqual(self.keys(self.drain(after)[0]), ["k3", "k4"])
        at0 = self.iterator(self.arn, "AT_SEQUENCE_NUMBER", self.seqs[0], shard=self.shard)
        self.assertEqual(self.keys(self.drain(at0)[0]), ["k0", "k1", "k2", "k3", "k4"])
        # after the newest: an empty page, still with a NextShardIterator
        end = self.iterator(self.arn, "AFTER_SEQUENCE_NUMBER", self.seqs[4], shard=self.shard)
        page = self.streams.get_records(ShardIterator=end)
        self.assertEqual(page["Records"], [])
        self.assertIn("NextShardIterator", page)
        # LATEST: nothing now; later records are returned (from the LATEST iterator and from the empty page's next)
        latest = self.iterator(self.arn, "LATEST", shard=self.shard)
        page = self.streams.get_records(ShardIterator=latest)
        self.assertEqual(page["Records"], [])
        nxt = page["NextShardIterator"]
        self.ddb.put_item(TableName=self.table, Item={"pk": {"S": "k5"}})
        self.ddb.delete_item(TableName=self.table, Key={"pk": {"S": "k0"}})
        self.assertEqual(self.keys(self.drain(latest)[0]), ["k5", "k0"])
        got = self.drain(nxt)[0]
        self.assertEqual([(r["eventName"], k) for r, k in zip(got, self.keys(got))], [("INSERT", "k5"), ("REMOVE", "k0")])
        self.assertEqual(self.keys(self.drain(end)[0]), ["k5", "k0"])
        self.assertSeqIncreasing(self.recs + got)
        # an iterator can be read again (same position, same records)
        self.assertEqual(self.drain(it)[0][:5], self.recs)

    def test_next_iterator_lifecycle(self):
        # open shard: every page (also an empty one) has a NextShardIterator
        it = self.iterator(self.arn, shard=self.shard)
        for _ in range(3):
            page = self.streams.get_records(ShardIterator=it, Limit=2)
            self.assertIn("NextShardIterator", page)
            it = page["NextShardIterator"]
        page = self.streams.get_records(ShardIterator=it)
        self.assertEqual(page["Records"], [])
        self.assertIn("NextShardIterator", page)
        page = self.streams.get_records(ShardIterator=page["NextShardIterator"])
        self.assertEqual(page["Records"], [])
        self.assertIn("NextShardIterator", page)
        open_it = page["NextShardIterator"]
        self.ddb.put_item(TableName=self.table, Item={"pk": {"S": "last"}})
        # closed shard: readable to its end, then no NextShardIterator
        self.ddb.update_table(TableName=self.table, StreamSpecification={"StreamEnabled": False})
        page = self.streams.get_records(ShardIterator=open_it)
        got = page["Records"]
        while "NextShardIterator" in page and page["Records"]:
            page = self.streams.get_records(ShardIterator=page["NextShardIterator"])
            got += page["Records"]
        self.assertEqual(self.keys(got), ["last"])
        self.assertNotIn("NextShardIterator", page, "a closed shard read to its end must omit NextShardIterator")
        # Limit 2 over the closed shard: the pages before the end carry a next iterator
        it = self.iterator(self.arn, shard=self.shard)
        seen, pages = [], 0
        while it is not None:
            page = self.streams.get_records(ShardIterator=it, Limit=2)
            seen += page["Records"]
            it = page.get("NextShardIterator")
            pages += 1
            self.assertLess(pages, 20)
        self.assertEqual(self.keys(seen), ["k0", "k1", "k2", "k3", "k4", "last"])
        # iterators of every type on the closed shard
        after_last = self.iterator(self.arn, "AFTER_SEQUENCE_NUMBER", seen[-1]["dynamodb"]["SequenceNumber"],
                                   shard=self.shard)
        page = self.streams.get_records(ShardIterator=after_last)
        self.assertEqual(page["Records"], [])
        self.assertNotIn("NextShardIterator", page)
        latest = self.iterator(self.arn, "LATEST", shard=self.shard)
        page = self.streams.get_records(ShardIterator=latest)
        self.assertEqual(page["Records"], [])
        self.assertNotIn("NextShardIterator", page)

    def gsi(self, body):
        return sraw(self.daemon, "GetShardIterator", body)

    def test_get_shard_iterator_errors(self):
        base = {"StreamArn": self.arn, "ShardId": self.shard}
        ve = "ValidationException"
        for body in (dict(base, ShardIteratorType="AT_SEQUENCE_NUMBER"),
                     dict(base, ShardIteratorType="AFTER_SEQUENCE_NUMBER"),
                     dict(base, ShardIteratorType="TRIM_HORIZON", SequenceNumber=self.seqs[0]),
                     dict(base, ShardIteratorType="LATEST", SequenceNumber=self.seqs[0]),
                     dict(base, ShardIteratorType="EARLIEST"),
                     dict(base, ShardIteratorType="trim_horizon"),
                     dict(base, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber="12345678901234567890x"),
                     dict(base, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber="1" * 41),
                     dict(base, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber="-" + "1" * 21),
                     {"StreamArn": self.arn, "ShardIteratorType": "TRIM_HORIZON"},
                     {"ShardId": self.shard, "ShardIteratorType": "TRIM_HORIZON"},
                     dict(base)):
            self.assertRaw(self.gsi(body), 400, ve)
        r = self.gsi({"StreamArn": UNKNOWN_ARN, "ShardId": self.shard, "ShardIteratorType": "TRIM_HORIZON"})
        self.assertRaw(r, 400, "ResourceNotFoundException",
                       "Requested resource not found: Stream: %s not found" % UNKNOWN_ARN)
        r = self.gsi({"StreamArn": "fake-stream", "ShardId": self.shard, "ShardIteratorType": "TRIM_HORIZON"})
        self.assertRaw(r, 400, ve, contains="Invalid StreamArn")
        r = self.gsi({"StreamArn": self.arn, "ShardId": "shardId-00000000000000000001-00000000",
                      "ShardIteratorType": "TRIM_HORIZON"})
        self.assertRaw(r, 400, "ResourceNotFoundException")
        # the same through boto3
        self.assertStreamsError(lambda: self.streams.get_shard_iterator(
            StreamArn=self.arn, ShardId=self.shard, ShardIteratorType="AT_SEQUENCE_NUMBER"), ve)
        self.assertStreamsError(lambda: self.streams.get_shard_iterator(
            StreamArn=self.arn, ShardId=self.shard, ShardIteratorType="LATEST", SequenceNumber=self.seqs[1]), ve)

    def test_get_records_errors(self):
        it = self.iterator(self.arn, shard=self.shard)
        for limit in (0, -1, 1001):
            r = sraw(self.daemon, "GetRecords", {"ShardIterator": it, "Limit": limit})
            self.assertRaw(r, 400, "ValidationException", contains="imit")
        for garbage in ("garbage", "x" * 300, self.arn + "|1|AAAAAAAA", self.arn + "|1|!!!not base64!!!"):
            r = sraw(self.daemon, "GetRecords", {"ShardIterator": garbage})
            self.assertRaw(r, 400, "ValidationException")
        r = sraw(self.daemon, "GetRecords", {})
        self.assertRaw(r, 400, "ValidationException")
        self.assertStreamsError(lambda: self.streams.get_records(ShardIterator="garbage-iterator"),
                                "ValidationException")
        # the iterator is still good after all that
        r = sraw(self.daemon, "GetRecords", {"ShardIterator": it, "Limit": 1000})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(len(r.json["Records"]), 5)


class IteratorExpiryTest(DaemonTestCase, StreamsMixin):
    daemon_kwargs = {"fsync": False, "extra_args": ["--iterator-ttl-s", "1"]}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.streams = streams_client(cls.daemon)

    def test_expired_iterator(self):
        table, arn = self.create_stream_table("KEYS_ONLY", range_type=None)
        self.ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
        it = self.iterator(arn)
        page = self.streams.get_records(ShardIterator=it)
        self.assertEqual(len(page["Records"]), 1)
        nxt = page["NextShardIterator"]
        time.sleep(2.3)  # well past 1 s, even with whole-second issue times
        for i in (it, nxt):
            self.assertStreamsError(lambda: self.streams.get_records(ShardIterator=i), "ExpiredIteratorException")
        # a fresh one works; its NextShardIterator has a life of its own
        page = self.streams.get_records(ShardIterator=self.iterator(arn))
        self.assertEqual(len(page["Records"]), 1)
        page2 = self.streams.get_records(ShardIterator=page["NextShardIterator"])
        self.assertEqual(page2["Records"], [])
        self.assertIn("NextShardIterator", page2)


# -- retention ---------------------------------------------------------------------

class TrimTest(DaemonTestCase, StreamsMixin):
    daemon_kwargs = {"fsync": False, "extra_args": ["--stream-retention-s", "2"]}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.streams = streams_client(cls.daemon)

    def test_trim_horizon_moves(self):
        table, arn = self.create_stream_table("NEW_IMAGE", range_type=None)
        for i in range(3):
            self.ddb.put_item(TableName=table, Item={"pk": {"S": "old%d" % i}})
        old = self.read_stream(arn)
        self.assertEqual(len(old), 3)
        old_seq = old[0]["dynamodb"]["SequenceNumber"]
        shard = self.shard_id(arn)
        stale_it = self.iterator(arn, "TRIM_HORIZON", shard=shard)
        time.sleep(3.0 + 0.5 * SLOW)
        self.ddb.put_item(TableName=table, Item={"pk": {"S": "new"}})
        recs = self.read_stream(arn)
        self.assertEqual([r["dynamodb"]["Keys"]["pk"]["S"] for r in recs], ["new"],
                         "TRIM_HORIZON did not move past records older than the retention")
        self.assertGreater(int(recs[0]["dynamodb"]["SequenceNumber"]), int(old_seq))
        self.assertStreamsError(lambda: self.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="AT_SEQUENCE_NUMBER", SequenceNumber=old_seq),
            "TrimmedDataAccessException")
        self.assertStreamsError(lambda: self.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=old_seq),
            "TrimmedDataAccessException")
        # an iterator issued before the trim points at trimmed data
        self.assertStreamsError(lambda: self.streams.get_records(ShardIterator=stale_it),
                                "TrimmedDataAccessException")
        # the stream itself is still there and ENABLED
        s = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]
        self.assertEqual(s["StreamStatus"], "ENABLED")

    def test_disabled_stream_disappears(self):
        table, arn = self.create_stream_table("KEYS_ONLY", range_type=None)
        self.ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
        shard = self.shard_id(arn)
        it = self.iterator(arn)
        self.ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
        self.assertEqual(self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["StreamStatus"], "DISABLED")
        self.assertIn(arn, [s["StreamArn"] for s in self.streams.list_streams(TableName=table)["Streams"]])
        deadline = time.monotonic() + 2 + 4 * SLOW
        gone = False
        while time.monotonic() < deadline:
            if arn not in [s["StreamArn"] for s in self.streams.list_streams(TableName=table)["Streams"]]:
                gone = True
                break
            time.sleep(0.1)
        self.assertTrue(gone, "a disabled stream is still listed after its retention")
        self.assertStreamsError(lambda: self.streams.describe_stream(StreamArn=arn), "ResourceNotFoundException",
                                "Requested resource not found: Stream: %s not found" % arn)
        self.assertStreamsError(lambda: self.streams.get_shard_iterator(
            StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON"), "ResourceNotFoundException")
        self.assertStreamsError(lambda: self.streams.get_records(ShardIterator=it), "ResourceNotFoundException")
        # the table keeps working, and can get a new stream
        self.ddb.update_table(TableName=table, StreamSpecification=stream_spec("KEYS_ONLY"))
        arn2 = self.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self.ddb.put_item(TableName=table, Item={"pk": {"S": "b"}})
        self.assertEqual([r["dynamodb"]["Keys"] for r in self.read_stream(arn2)], [{"pk": {"S": "b"}}])

    def test_enabled_stream_survives_retention(self):
        table, arn = self.create_stream_table("KEYS_ONLY", range_type=None)
        time.sleep(2.5 + 0.5 * SLOW)
        self.assertEqual(self.streams.describe_stream(StreamArn=arn)["StreamDescription"]["StreamStatus"], "ENABLED")
        self.ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
        self.assertEqual(len(self.read_stream(arn)), 1)


# -- durability: SIGKILL and restart ----------------------------------------------------

class StreamRestartTest(unittest.TestCase, StreamsMixin):
    """A single writer makes acknowledged writes; the daemon is killed and
    restarted on the same data dir; the stream read from TRIM_HORIZON must
    hold every write exactly once, in order, with sequence numbers still
    increasing across restarts."""

    def setUp(self):
        self.daemon = Daemon()
        self.daemon.start()
        self.connect()
        self.n = 0
        self.state = {}
        self.expected = []

    def tearDown(self):
        self.daemon.cleanup()

    def connect(self):
        self.ddb = self.daemon.client()
        self.streams = streams_client(self.daemon)

    def make_table(self, name=None, range_type=None, **extra):
        name = name or "restart_t"
        self.ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], **extra)
        return name

    def writes(self, table, count):
        """count acknowledged writes, every one a change; the model records what each must log."""
        for _ in range(count):
            self.n += 1
            key = "k%d" % (self.n * 7 % 23)
            k = {"pk": {"S": key}}
            old = self.state.get(key)
            op = self.n % 5
            if op == 4 and old is not None:
                self.ddb.delete_item(TableName=table, Key=k)
                self.expected.append(("REMOVE", k, None, old))
                del self.state[key]
                continue
            if op == 3 and old is not None:
                self.ddb.update_item(TableName=table, Key=k, UpdateExpression="SET u = :u",
                                     ExpressionAttributeValues={":u": {"N": str(self.n)}})
                new = dict(old, u={"N": str(self.n)})
            else:
                new = dict(k, v={"S": "w%d" % self.n})
                self.ddb.put_item(TableName=table, Item=new)
            self.expected.append(("INSERT" if old is None else "MODIFY", k, new, old))
            self.state[key] = new

    def check(self, arn):
        recs = self.read_stream(arn)
        got = [(r["eventName"], r["dynamodb"]["Keys"], r["dynamodb"].get("NewImage"), r["dynamodb"].get("OldImage"))
               for r in recs]
        self.assertEqual(len(got), len(self.expected), "records %d, acknowledged writes %d"
                         % (len(got), len(self.expected)))
        for i, (g, e) in enumerate(zip(got, self.expected)):
            self.assertEqual(g, e, "record %d" % i)
        self.assertSeqIncreasing(recs)
        return recs

    def test_sigkill_resume(self):
        table = self.make_table(StreamSpecification=stream_spec("NEW_AND_OLD_IMAGES"))
        arn = self.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        before = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]
        self.writes(table, 120)
        self.daemon.kill()
        self.daemon.start()
        self.connect()
        recs1 = self.check(arn)
        after = self.streams.describe_stream(StreamArn=arn)["StreamDescription"]
        for f in ("StreamArn", "StreamLabel", "StreamStatus", "StreamViewType", "KeySchema", "Shards"):
            self.assertEqual(after[f], before[f], f)
        d = self.ddb.describe_table(TableName=table)["Table"]
        self.assertEqual(d["LatestStreamArn"], arn)
        self.assertEqual(d["StreamSpecification"], stream_spec("NEW_AND_OLD_IMAGES"))
        self.writes(table, 60)
        self.daemon.stop()  # clean restart in between
        self.daemon.start()
        self.connect()
        self.writes(table, 60)
        self.daemon.kill()
        self.daemon.start()
        self.connect()
        recs = self.check(arn)
        self.assertEqual(recs[:len(recs1)], recs1, "records changed across restarts")
        # the table state agrees with the last images
        for key, item in self.state.items():
            self.assertEqual(self.ddb.get_item(TableName=table, Key={"pk": {"S": key}},
                                               ConsistentRead=True).get("Item"), item)

    def test_sigkill_keeps_disable_and_enable(self):
        table = self.make_table(StreamSpecification=stream_spec("KEYS_ONLY"))
        arn1 = self.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self.ddb.put_item(TableName=table, Item={"pk": {"S": "a"}})
        self.ddb.update_table(TableName=table, StreamSpecification={"StreamEnabled": False})
        self.ddb.put_item(TableName=table, Item={"pk": {"S": "b"}})
        time.sleep(0.01)
        self.ddb.update_table(TableName=table, StreamSpecification=stream_spec("NEW_IMAGE"))
        arn2 = self.ddb.describe_table(TableName=table)["Table"]["LatestStreamArn"]
        self.ddb.put_item(TableName=table, Item={"pk": {"S": "c"}})
        self.daemon.kill()
        self.daemon.start()
        self.connect()
        d = self.ddb.describe_table(TableName=table)["Table"]
        self.assertEqual(d["LatestStreamArn"], arn2)
        self.assertEqual(d["StreamSpecification"], stream_spec("NEW_IMAGE"))
        s1 = self.streams.describe_stream(StreamArn=arn1)["StreamDescription"]
        self.assertEqual(s1["StreamStatus"], "DISABLED")
        self.assertIn("EndingSequenceNumber", s1["Shards"][0]["SequenceNumberRange"])
        self.assertEqual(self.streams.describe_stream(StreamArn=arn2)["StreamDescription"]["StreamStatus"], "ENABLED")
        self.assertEqual([r["dynamodb"]["Keys"]["pk"]["S"] for r in self.read_stream(arn1)], ["a"])
        self.assertEqual([r["dynamodb"]["Keys"]["pk"]["S"] for r in self.read_stream(arn2)], ["c"])
        self.ddb.put_item(TableName=table, Item={"pk": {"S": "d"}})
        recs = self.read_stream(arn2)
        self.assertEqual([r["dynamodb"]["Keys"]["pk"]["S"] for r in recs], ["c", "d"])
        self.assertSeqIncreasing(recs)
        self.assertEqual(sorted(s["StreamArn"] for s in self.streams.list_streams(TableName=table)["Streams"]),
                         sorted([arn1, arn2]))


if __name__ == "__main__":
    unittest.main()
