"""test_query_scan.py -- Query and Scan against a real dynafiled
(operations.md 5.3-5.5, 3; expressions.md 8; protocol.md 2.1-2.3).

- boto3's query and scan paginators over a 20,000-item partition inside a
  25,000-item table (5,000 + 1,000 under ASan): every item exactly once, in
  sort-key order both ways, with filters, projections, Select COUNT and small
  page sizes;
- a parallel scan, 8 segments from 8 threads, while a writer thread puts,
  overwrites and deletes: every item that existed throughout is seen exactly
  once, nothing twice; segment resumption and the ESK-from-another-segment
  error for several TotalSegments;
- the AWS CLI's auto-paging (scan and query, --page-size) agrees with boto3;
- edges: empty tables, a page that ends exactly at the last item, an
  ExclusiveStartKey naming a deleted item, 399 KB items (the 1 MB cap makes
  pages of 3 evaluated items, the crossing one included), capacity rounding,
  numeric sort keys (negative, fractional, huge, tiny), S / B byte order,
  begins_with at 0xFF, hash-only tables;
- validation errors end to end with their exact messages (raw HTTP, past
  boto3's client-side checks).
"""

import base64
import decimal
import json
import math
import os
import subprocess
import tempfile
import threading
import unittest

from botocore.exceptions import ClientError

import harness
from harness import DaemonTestCase, raw_request

VE = "com.amazon.coral.validate#ValidationException"
RNF = "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
AWS = "/usr/bin/aws"

SANITIZED = harness.SANITIZED
HOT_ITEMS = 5000 if SANITIZED else 20000     # items in the one big partition
COLD_PARTS = 100 if SANITIZED else 500        # other partitions, COLD_PER items each
COLD_PER = 10
PAGE_CAP = 1048576


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


def B(v):
    return {"B": v}


def hot_sk(i):
    """Sort key of hot item i: a spread of negative, fractional and integer
    values, distinct for distinct i."""
    if i % 3 == 0:
        return "-%d.%d" % (i, i % 7)
    if i % 3 == 1:
        return "%d.25" % i
    return str(i * 1000)


def batch_put(client, table, items):
    for i in range(0, len(items), 25):
        r = client.batch_write_item(RequestItems={table: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]})
        assert not r["UnprocessedItems"], r


def load_parallel(daemon, table, items, threads=4):
    chunks = [items[i::threads] for i in range(threads)]
    errors = []

    def run(chunk):
        try:
            batch_put(daemon.client(), table, chunk)
        except Exception as e:  # pragma: no cover - reported below
            errors.append(e)
    ts = [threading.Thread(target=run, args=(c,)) for c in chunks]
    for t in ts:
        t.start()
    for t in ts:
        t.join()
    if errors:
        raise errors[0]


def key_of(it):
    return (it["pk"]["S"], decimal.Decimal(it["sk"]["N"]))


class QueryScanBig(DaemonTestCase):
    """One table: partition "hot" with HOT_ITEMS items, COLD_PARTS
    partitions of COLD_PER items."""

    daemon_kwargs = {"fsync": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.table = "qs_big"
        cls.ddb.create_table(TableName=cls.table, BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                                   {"AttributeName": "sk", "AttributeType": "N"}],
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                        {"AttributeName": "sk", "KeyType": "RANGE"}])
        items = []
        for i in range(HOT_ITEMS):
            items.append({"pk": S("hot"), "sk": N(hot_sk(i)), "i": N(i), "m3": N(i % 3),
                          "tag": S("t%d" % (i % 10)), "doc": {"M": {"a": N(i), "l": {"L": [S("x"), N(i % 5)]}}}})
        for p in range(COLD_PARTS):
            for j in range(COLD_PER):
                items.append({"pk": S("c%04d" % p), "sk": N(j), "i": N(p * COLD_PER + j), "m3": N(j % 3)})
        cls.n_items = len(items)
        load_parallel(cls.daemon, cls.table, items)
        cls.hot_sorted = sorted(decimal.Decimal(hot_sk(i)) for i in range(HOT_ITEMS))

    def paginate(self, op, page_size=None, **kw):
        p = self.ddb.get_paginator(op)
        cfg = {"PageSize": page_size} if page_size else {}
        pages = list(p.paginate(TableName=self.table, PaginationConfig=cfg, **kw))
        return pages

    # -- scan ------------------------------------------------------------------

    def test_scan_paginator_every_item_once(self):
        pages = self.paginate("scan", page_size=97)
        items = [it for pg in pages for it in pg["Items"]]
        keys = [key_of(it) for it in items]
        self.assertEqual(len(keys), self.n_items)
        self.assertEqual(len(set(keys)), self.n_items)
        for pg in pages[:-1]:
            self.assertEqual(pg["ScannedCount"], 97)
            self.assertIn("LastEvaluatedKey", pg)
        self.assertNotIn("LastEvaluatedKey", pages[-1])
        # Scan order: each partition key's items together, by sort key.
        order, last = [], None
        for pk, sk in keys:
            if pk != last:
                self.assertNotIn(pk, order, "partition %s split" % pk)
                order.append(pk)
                last = pk
        for pk in ("hot", "c0000"):
            sks = [sk for p, sk in keys if p == pk]
            self.assertEqual(sks, sorted(sks))
        # Without a Limit the 1 MB cap pages it; same order whatever the page size.
        pages2 = self.paginate("scan")
        keys2 = [key_of(it) for pg in pages2 for it in pg["Items"]]
        self.assertEqual(keys2, keys)
        for pg in pages2[:-1]:
            self.assertIn("LastEvaluatedKey", pg)

    def test_scan_filter_projection_count(self):
        pages = self.paginate("scan", page_size=500, FilterExpression="m3 = :z AND attribute_exists(tag)",
                              ProjectionExpression="pk, sk, doc.l[1]", ExpressionAttributeValues={":z": N(0)})
        items = [it for pg in pages for it in pg["Items"]]
        want = {decimal.Decimal(hot_sk(i)) for i in range(HOT_ITEMS) if i % 3 == 0}
        self.assertEqual({key_of(it)[1] for it in items}, want)
        self.assertEqual(len(items), len(want))
        self.assertEqual(sum(pg["ScannedCount"] for pg in pages), self.n_items)
        it = next(x for x in items if x["sk"]["N"] == hot_sk(3))
        self.assertEqual(it, {"pk": S("hot"), "sk": N(hot_sk(3)), "doc": {"M": {"l": {"L": [N(3)]}}}})
        # Select COUNT paginates too and returns no Items.
        pages = self.paginate("scan", page_size=1000, Select="COUNT", FilterExpression="m3 = :z",
                              ExpressionAttributeValues={":z": N(1)})
        self.assertTrue(all("Items" not in pg for pg in pages))
        self.assertEqual(sum(pg["ScannedCount"] for pg in pages), self.n_items)
        want = sum(1 for i in range(HOT_ITEMS) if i % 3 == 1) + sum(
            1 for _ in range(COLD_PARTS) for j in range(COLD_PER) if j % 3 == 1)
        self.assertEqual(sum(pg["Count"] for pg in pages), want)
        # Legacy ScanFilter + AttributesToGet.
        pages = self.paginate("scan", page_size=300, ScanFilter={
            "pk": {"ComparisonOperator": "BEGINS_WITH", "AttributeValueList": [S("c00")]},
            "sk": {"ComparisonOperator": "EQ", "AttributeValueList": [N(7)]}}, AttributesToGet=["i"])
        items = [it for pg in pages for it in pg["Items"]]
        self.assertEqual(sorted(int(it["i"]["N"]) for it in items),
                         [p * COLD_PER + 7 for p in range(min(COLD_PARTS, 100))])
        self.assertTrue(all(list(it) == ["i"] for it in items))

    # -- query -----------------------------------------------------------------

    def hot_query(self, page_size=None, **kw):
        kw.setdefault("KeyConditionExpression", "pk = :p")
        vals = kw.pop("vals", {})
        vals[":p"] = S("hot")
        return self.paginate("query", page_size=page_size, ExpressionAttributeValues=vals, **kw)

    def test_query_paginator_forward_and_reverse(self):
        pages = self.hot_query(page_size=250)
        items = [it for pg in pages for it in pg["Items"]]
        self.assertEqual([decimal.Decimal(it["sk"]["N"]) for it in items], self.hot_sorted)
        by_i = {int(it["i"]["N"]): it for it in items}
        for i in (1, 2, 3, HOT_ITEMS - 1):  # (hot_sk(0) = "-0.0" reads back as "0")
            self.assertEqual(by_i[i], {"pk": S("hot"), "sk": N(hot_sk(i)), "i": N(i), "m3": N(i % 3),
                                       "tag": S("t%d" % (i % 10)),
                                       "doc": {"M": {"a": N(i), "l": {"L": [S("x"), N(i % 5)]}}}})
        self.assertEqual(len(pages), math.ceil(HOT_ITEMS / 250) + (1 if HOT_ITEMS % 250 == 0 else 0))
        pages = self.hot_query(page_size=33, ScanIndexForward=False, ProjectionExpression="sk")
        sks = [decimal.Decimal(it["sk"]["N"]) for pg in pages for it in pg["Items"]]
        self.assertEqual(sks, self.hot_sorted[::-1])
        # default paging (1 MB pages)
        pages = self.hot_query(ScanIndexForward=False, ConsistentRead=True, ReturnConsumedCapacity="TOTAL",
                               ProjectionExpression="sk")
        sks = [decimal.Decimal(it["sk"]["N"]) for pg in pages for it in pg["Items"]]
        self.assertEqual(sks, self.hot_sorted[::-1])
        for pg in pages:
            self.assertEqual(pg["ConsumedCapacity"]["TableName"], self.table)
            self.assertGreaterEqual(pg["ConsumedCapacity"]["CapacityUnits"], 1.0)

    def test_query_filter_projection_small_pages(self):
        for forward in (True, False):
            pages = self.hot_query(page_size=9 if forward else 21, ScanIndexForward=forward, FilterExpression="#t IN (:a, :b)",
                                   ProjectionExpression="sk, #t", ExpressionAttributeNames={"#t": "tag"},
                                   vals={":a": S("t3"), ":b": S("t7")})
            items = [it for pg in pages for it in pg["Items"]]
            want = sorted(decimal.Decimal(hot_sk(i)) for i in range(HOT_ITEMS) if i % 10 in (3, 7))
            if not forward:
                want = want[::-1]
            self.assertEqual([decimal.Decimal(it["sk"]["N"]) for it in items], want)
            self.assertTrue(all(set(it) == {"sk", "tag"} for it in items))
            for pg in pages[:-1]:
                self.assertEqual(pg["ScannedCount"], 9 if forward else 21)
            self.assertEqual(sum(pg["ScannedCount"] for pg in pages), HOT_ITEMS)

    def test_query_range_conditions_limit_one_and_two(self):
        lo, hi = self.hot_sorted[100], self.hot_sorted[399]
        want = [x for x in self.hot_sorted if lo <= x <= hi]
        self.assertEqual(len(want), 300)
        for size in (1, 2):
            for forward in (True, False):
                pages = self.hot_query(page_size=size, ScanIndexForward=forward, ProjectionExpression="sk",
                                       KeyConditionExpression="pk = :p AND sk BETWEEN :lo AND :hi",
                                       vals={":lo": N(lo), ":hi": N(hi)})
                got = [decimal.Decimal(it["sk"]["N"]) for pg in pages for it in pg["Items"]]
                self.assertEqual(got, want if forward else want[::-1])
        cases = [("sk < :v", lambda x, v: x < v), ("sk <= :v", lambda x, v: x <= v),
                 ("sk > :v", lambda x, v: x > v), ("sk >= :v", lambda x, v: x >= v),
                 (":v > sk", lambda x, v: x < v), ("sk = :v", lambda x, v: x == v)]
        v = self.hot_sorted[HOT_ITEMS // 2]
        for cond, pred in cases:
            pages = self.hot_query(page_size=700, KeyConditionExpression="pk = :p AND " + cond, vals={":v": N(v)},
                                   ProjectionExpression="sk")
            got = [decimal.Decimal(it["sk"]["N"]) for pg in pages for it in pg["Items"]]
            self.assertEqual(got, [x for x in self.hot_sorted if pred(x, v)], cond)
        # legacy KeyConditions + QueryFilter on a cold partition
        pages = self.paginate("query", page_size=3, KeyConditions={
            "pk": {"ComparisonOperator": "EQ", "AttributeValueList": [S("c0003")]},
            "sk": {"ComparisonOperator": "GE", "AttributeValueList": [N(2)]}},
            QueryFilter={"m3": {"ComparisonOperator": "NE", "AttributeValueList": [N(0)]}})
        got = [int(it["sk"]["N"]) for pg in pages for it in pg["Items"]]
        self.assertEqual(got, [j for j in range(2, COLD_PER) if j % 3])
        # Select COUNT over the partition
        pages = self.hot_query(page_size=4000, Select="COUNT")
        self.assertEqual(sum(pg["Count"] for pg in pages), HOT_ITEMS)
        self.assertTrue(all("Items" not in pg for pg in pages))

    # -- parallel scan -----------------------------------------------------------

    def test_parallel_scan_8_segments_with_writer(self):
        base = set()
        for pg in self.paginate("scan", page_size=2000, ProjectionExpression="pk, sk"):
            base.update(key_of(it) for it in pg["Items"])
        self.assertEqual(len(base), self.n_items)
        stop = threading.Event()
        writer_errors = []
        written = {"puts": 0}

        def writer():
            c = self.daemon.client()
            i = 0
            try:
                while not stop.is_set() and i < 200000:
                    reqs = [{"PutRequest": {"Item": {"pk": S("w%d" % (i + k)), "sk": N(k), "v": S("x" * 50)}}}
                            for k in range(10)]
                    # overwrite items that exist throughout (same content: they must still be seen once)
                    p, j = (i // 10) % COLD_PARTS, (i // 10) % COLD_PER
                    reqs.append({"PutRequest": {"Item": {"pk": S("c%04d" % p), "sk": N(j), "i": N(p * COLD_PER + j),
                                                         "m3": N(j % 3)}}})
                    if i >= 20:
                        reqs.append({"DeleteRequest": {"Key": {"pk": S("w%d" % (i - 20)), "sk": N(0)}}})
                    c.batch_write_item(RequestItems={self.table: reqs})
                    written["puts"] += 1
                    i += 10
            except Exception as e:  # pragma: no cover
                writer_errors.append(e)

        segs = 8
        results = [None] * segs
        errors = []

        def scan_segment(s):
            try:
                c = self.daemon.client()
                p = c.get_paginator("scan")
                keys, pages = [], 0
                for pg in p.paginate(TableName=self.table, Segment=s, TotalSegments=segs,
                                     ProjectionExpression="pk, sk", PaginationConfig={"PageSize": 150}):
                    keys.extend(key_of(it) for it in pg["Items"])
                    pages += 1
                results[s] = keys
            except Exception as e:  # pragma: no cover
                errors.append(e)

        wt = threading.Thread(target=writer)
        wt.start()
        ts = [threading.Thread(target=scan_segment, args=(s,)) for s in range(segs)]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        stop.set()
        wt.join()
        self.assertEqual(errors, [])
        self.assertEqual(writer_errors, [])
        self.assertGreater(written["puts"], 0)
        allkeys = [k for r in results for k in r]
        self.assertEqual(len(allkeys), len(set(allkeys)), "an item was returned twice")
        seen = set(allkeys)
        self.assertEqual(base - seen, set(), "items that existed throughout were missed")
        self.assertTrue(all(len(r) > 0 for r in results), [len(r) for r in results])
        # Each partition key lives in exactly one segment.
        owner = {}
        for s, r in enumerate(results):
            for pk, _ in r:
                self.assertEqual(owner.setdefault(pk, s), s)
        # remove the writer's items so that the other tests see the base table
        rest = [it for pg in self.paginate("scan", page_size=5000, FilterExpression="begins_with(pk, :w)",
                                           ExpressionAttributeValues={":w": S("w")}, ProjectionExpression="pk, sk")
                for it in pg["Items"]]
        for i in range(0, len(rest), 25):
            self.ddb.batch_write_item(RequestItems={self.table: [{"DeleteRequest": {"Key": k}} for k in rest[i:i + 25]]})

    def test_segments_resume_and_other_segment_esk(self):
        for total in (2, 3, 7):
            union = []
            for s in range(total):
                r = self.ddb.scan(TableName=self.table, Segment=s, TotalSegments=total, Limit=1,
                                  ProjectionExpression="pk, sk")
                if not r["Items"]:
                    continue
                lek = r["LastEvaluatedKey"]
                # resumes in its own segment ...
                r2 = self.ddb.scan(TableName=self.table, Segment=s, TotalSegments=total, Limit=2,
                                   ExclusiveStartKey=lek, ProjectionExpression="pk, sk")
                union.extend(key_of(it) for it in r["Items"] + r2["Items"])
                # ... and nowhere else
                other = (s + 1) % total
                with self.assertRaises(ClientError) as cm:
                    self.ddb.scan(TableName=self.table, Segment=other, TotalSegments=total, ExclusiveStartKey=lek)
                self.assertApiError(cm, "ValidationException",
                                    "The provided starting key is invalid: Invalid ExclusiveStartKey. Please use "
                                    "ExclusiveStartKey with correct Segment. TotalSegments: %d Segment: %d"
                                    % (total, other))
            self.assertEqual(len(union), len(set(union)))
        # TotalSegments 1 is a plain scan; huge TotalSegments leave most segments empty
        r = self.ddb.scan(TableName=self.table, Segment=0, TotalSegments=1, Limit=5)
        self.assertEqual(r["ScannedCount"], 5)
        n = 0
        for s in (0, 1, 999998, 999999):
            n += self.ddb.scan(TableName=self.table, Segment=s, TotalSegments=1000000, Select="COUNT")["Count"]
        self.assertLess(n, 50)

    # -- AWS CLI -------------------------------------------------------------------

    def cli(self, *args):
        tmp = tempfile.mkdtemp(prefix="dynafile-cli-qs-")
        env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
                   AWS_DEFAULT_REGION="us-east-1", AWS_PAGER="", AWS_MAX_ATTEMPTS="1",
                   AWS_CONFIG_FILE=os.path.join(tmp, "config"),
                   AWS_SHARED_CREDENTIALS_FILE=os.path.join(tmp, "credentials"))
        env.pop("AWS_PROFILE", None)
        argv = [AWS, "--endpoint-url", self.daemon.endpoint, "--output", "json", "dynamodb"] + list(args)
        p = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=300 * harness.SLOW)
        os.rmdir(tmp) if not os.listdir(tmp) else None
        self.assertEqual(p.returncode, 0, p.stderr[-2000:])
        return json.loads(p.stdout)

    @unittest.skipUnless(os.path.exists(AWS), "no AWS CLI")
    def test_aws_cli_auto_paging_agrees_with_boto3(self):
        out = self.cli("scan", "--table-name", self.table, "--page-size", "211",
                       "--filter-expression", "begins_with(pk, :c)", "--projection-expression", "pk, sk, i",
                       "--expression-attribute-values", json.dumps({":c": S("c")}))
        cli_keys = [key_of(it) for it in out["Items"]]
        pages = self.paginate("scan", page_size=500, FilterExpression="begins_with(pk, :c)",
                              ExpressionAttributeValues={":c": S("c")}, ProjectionExpression="pk, sk, i")
        self.assertEqual(out["Items"], [it for pg in pages for it in pg["Items"]])
        self.assertEqual(cli_keys, [key_of(it) for pg in pages for it in pg["Items"]])
        self.assertEqual(out["Count"], COLD_PARTS * COLD_PER)
        self.assertEqual(out["ScannedCount"], self.n_items)
        out = self.cli("query", "--table-name", self.table, "--page-size", "97", "--no-scan-index-forward",
                       "--key-condition-expression", "pk = :p AND sk > :z",
                       "--expression-attribute-values", json.dumps({":p": S("hot"), ":z": N(0)}),
                       "--projection-expression", "sk")
        want = [x for x in self.hot_sorted if x > 0][::-1]
        self.assertEqual([decimal.Decimal(it["sk"]["N"]) for it in out["Items"]], want)
        pages = self.hot_query(page_size=1000, ScanIndexForward=False, KeyConditionExpression="pk = :p AND sk > :z",
                               vals={":z": N(0)}, ProjectionExpression="sk")
        self.assertEqual(out["Items"], [it for pg in pages for it in pg["Items"]])


class QueryScanEdges(DaemonTestCase):

    daemon_kwargs = {"fsync": False}

    def raw(self, op, body):
        return raw_request(self.daemon.port, op, body)

    def assertRaw(self, op, body, message, typ=VE):
        r = self.raw(op, body)
        self.assertEqual((r.status, r.type), (400, typ), r.body[:600])
        self.assertEqual(r.message, message)

    def test_empty_table(self):
        t = self.make_table(range_type="S")
        for consistent, units in ((False, 0.5), (True, 1.0)):
            r = self.ddb.scan(TableName=t, ReturnConsumedCapacity="TOTAL", ConsistentRead=consistent)
            self.assertEqual((r["Items"], r["Count"], r["ScannedCount"]), ([], 0, 0))
            self.assertNotIn("LastEvaluatedKey", r)
            self.assertEqual(r["ConsumedCapacity"], {"TableName": t, "CapacityUnits": units})
        r = self.ddb.query(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("a")},
                           Limit=1, ReturnConsumedCapacity="INDEXES")
        self.assertEqual((r["Items"], r["Count"], r["ScannedCount"]), ([], 0, 0))
        self.assertNotIn("LastEvaluatedKey", r)
        self.assertEqual(r["ConsumedCapacity"], {"TableName": t, "CapacityUnits": 0.5, "Table": {"CapacityUnits": 0.5}})
        r = self.ddb.scan(TableName=t, Select="COUNT", Segment=3, TotalSegments=4)
        self.assertNotIn("Items", r)
        self.assertEqual((r["Count"], r["ScannedCount"]), (0, 0))
        pages = list(self.ddb.get_paginator("scan").paginate(TableName=t, PaginationConfig={"PageSize": 1}))
        self.assertEqual(len(pages), 1)

    def test_page_ends_exactly_at_last_item(self):
        t = self.make_table(range_type="N")
        batch_put(self.ddb, t, [{"pk": S("a"), "sk": N(i)} for i in range(10)])
        for op, kw in (("query", dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("a")})),
                       ("scan", {})):
            call = getattr(self.ddb, op)
            r1 = call(TableName=t, Limit=5, **kw)
            self.assertEqual((r1["Count"], r1["LastEvaluatedKey"]), (5, {"pk": S("a"), "sk": N(4)}))
            r2 = call(TableName=t, Limit=5, ExclusiveStartKey=r1["LastEvaluatedKey"], **kw)
            self.assertEqual([it["sk"]["N"] for it in r2["Items"]], ["5", "6", "7", "8", "9"])
            self.assertEqual(r2["LastEvaluatedKey"], {"pk": S("a"), "sk": N(9)})  # stopped by Limit
            r3 = call(TableName=t, Limit=5, ExclusiveStartKey=r2["LastEvaluatedKey"], **kw)
            self.assertEqual((r3["Items"], r3["Count"], r3["ScannedCount"]), ([], 0, 0))
            self.assertNotIn("LastEvaluatedKey", r3)
            r = call(TableName=t, Limit=11, **kw)
            self.assertEqual(r["Count"], 10)
            self.assertNotIn("LastEvaluatedKey", r)
            # a filter that drops the last evaluated item still yields its key
            r = call(TableName=t, Limit=3, FilterExpression="attribute_exists(nope)", **kw)
            self.assertEqual((r["Count"], r["ScannedCount"], r["Items"]), (0, 3, []))
            self.assertEqual(r["LastEvaluatedKey"], {"pk": S("a"), "sk": N(2)})
            pages = list(self.ddb.get_paginator(op).paginate(TableName=t, PaginationConfig={"PageSize": 2}, **kw))
            self.assertEqual(len(pages), 6)
            self.assertEqual(sum(p["Count"] for p in pages), 10)

    def test_exclusive_start_key_of_deleted_item(self):
        t = self.make_table(range_type="N")
        batch_put(self.ddb, t, [{"pk": S("a"), "sk": N(i)} for i in range(10)])
        r = self.ddb.query(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("a")},
                           Limit=4)
        lek = r["LastEvaluatedKey"]
        self.ddb.delete_item(TableName=t, Key=lek)
        self.ddb.delete_item(TableName=t, Key={"pk": S("a"), "sk": N(4)})
        r = self.ddb.query(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("a")},
                           ExclusiveStartKey=lek)
        self.assertEqual([it["sk"]["N"] for it in r["Items"]], ["5", "6", "7", "8", "9"])
        r = self.ddb.query(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("a")},
                           ExclusiveStartKey=lek, ScanIndexForward=False)
        self.assertEqual([it["sk"]["N"] for it in r["Items"]], ["2", "1", "0"])
        r = self.ddb.scan(TableName=t, ExclusiveStartKey=lek)
        self.assertEqual([it["sk"]["N"] for it in r["Items"]], ["5", "6", "7", "8", "9"])
        # a key that never existed, even in a partition that does not exist
        r = self.ddb.query(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("a")},
                           ExclusiveStartKey={"pk": S("a"), "sk": N("6.5")})
        self.assertEqual([it["sk"]["N"] for it in r["Items"]], ["7", "8", "9"])
        r = self.ddb.scan(TableName=t, ExclusiveStartKey={"pk": S("zzz"), "sk": N(0)})
        self.assertLessEqual(r["Count"], 8)

    def test_399kb_items_pages_of_three(self):
        t = self.make_table(range_type="N")
        pad = "x" * (399 * 1024)
        n = 10
        for i in range(n):
            self.ddb.put_item(TableName=t, Item={"pk": S("big"), "sk": N(i), "pad": S(pad)})
        # "pk" + "big", "sk" + a one-digit N (1 or 2 bytes), "pad" + pad: within 2 bytes, which the
        # 4 KB rounding below cannot see (3 items = 299.26 units, 1 item = 99.75).
        item_size = 2 + 3 + 2 + 2 + 3 + len(pad)
        self.assertLess(item_size, 409600)
        for op, kw in (("scan", {}),
                       ("query", dict(KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("big")}))):
            pages = list(self.ddb.get_paginator(op).paginate(TableName=t, ReturnConsumedCapacity="TOTAL", **kw))
            self.assertEqual([p["ScannedCount"] for p in pages], [3, 3, 3, 1])
            self.assertEqual([it["sk"]["N"] for p in pages for it in p["Items"]], [str(i) for i in range(n)])
            for p in pages:
                # one rounding per page of the evaluated sizes, eventually consistent
                self.assertEqual(p["ConsumedCapacity"]["CapacityUnits"],
                                 math.ceil(p["ScannedCount"] * item_size / 4096) * 0.5)
            self.assertIn("LastEvaluatedKey", pages[2])
            self.assertNotIn("LastEvaluatedKey", pages[3])
        # the cap counts evaluated items, not returned ones
        r = self.ddb.scan(TableName=t, FilterExpression="sk > :n", ExpressionAttributeValues={":n": N(100)},
                          ProjectionExpression="sk")
        self.assertEqual((r["Count"], r["ScannedCount"]), (0, 3))
        self.assertEqual(r["LastEvaluatedKey"], {"pk": S("big"), "sk": N(2)})
        r = self.ddb.scan(TableName=t, Select="COUNT", Limit=2)
        self.assertEqual((r["Count"], r["ScannedCount"]), (2, 2))

    def test_capacity_rounding_per_page(self):
        t = self.make_table()
        pad = "y" * 1000
        batch_put(self.ddb, t, [{"pk": S("k%02d" % i), "pad": S(pad)} for i in range(25)])
        each = 2 + 3 + 3 + 1000
        r = self.ddb.scan(TableName=t, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(r["ConsumedCapacity"]["CapacityUnits"], math.ceil(25 * each / 4096) * 0.5)
        r = self.ddb.scan(TableName=t, ReturnConsumedCapacity="TOTAL", ConsistentRead=True, Limit=1)
        self.assertEqual(r["ConsumedCapacity"]["CapacityUnits"], 1.0)
        r = self.ddb.query(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("k03")},
                           ReturnConsumedCapacity="TOTAL", Select="COUNT")
        self.assertEqual((r["Count"], r["ConsumedCapacity"]["CapacityUnits"]), (1, 0.5))
        self.assertNotIn("LastEvaluatedKey", r)

    def test_numeric_sort_key_order(self):
        t = self.make_table(range_type="N")
        values = ["-9.9999999999999999999999999999999999999E+125", "-1e125", "-123456789012345678901234567890",
                  "-1000", "-1", "-0.5", "-1E-130", "0", "1E-130", "0.000001", "0.5", "1", "1.5", "2", "10", "11",
                  "99.99", "100", "1e20", "12345678901234567890123456789012345678", "1e125",
                  "9.9999999999999999999999999999999999999E+125"]
        batch_put(self.ddb, t, [{"pk": S("n"), "sk": N(v)} for v in reversed(values)])
        want = sorted(decimal.Decimal(v) for v in values)
        for forward in (True, False):
            for size in (None, 3):
                cfg = {"PageSize": size} if size else {}
                pages = self.ddb.get_paginator("query").paginate(
                    TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("n")},
                    ScanIndexForward=forward, PaginationConfig=cfg)
                got = [decimal.Decimal(it["sk"]["N"]) for p in pages for it in p["Items"]]
                self.assertEqual(got, want if forward else want[::-1])
        r = self.ddb.query(TableName=t, KeyConditionExpression="pk = :p AND sk BETWEEN :a AND :b",
                           ExpressionAttributeValues={":p": S("n"), ":a": N("-1"), ":b": N("1.0")})
        self.assertEqual([it["sk"]["N"] for it in r["Items"]],
                         ["-1", "-0.5", "-" + "0." + "0" * 129 + "1", "0", "0." + "0" * 129 + "1", "0.000001", "0.5",
                          "1"])
        r = self.ddb.query(TableName=t, KeyConditionExpression="pk = :p AND sk > :a",
                           ExpressionAttributeValues={":p": S("n"), ":a": N("1e20")})
        self.assertEqual(len(r["Items"]), 3)

    def test_string_and_binary_sort_key_order_and_begins_with(self):
        t = self.make_table(range_type="S")
        words = ["", "a", "A", "ab", "abc", "abd", "ab\u00ff", "ac", "b", "\u00e9", "\u4e2d", "\U0001f600", "z", "~"]
        words = [w for w in words if w]
        batch_put(self.ddb, t, [{"pk": S("s"), "sk": S(w)} for w in words])
        want = sorted(words, key=lambda w: w.encode())
        r = self.ddb.query(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": S("s")})
        self.assertEqual([it["sk"]["S"] for it in r["Items"]], want)
        for prefix in ("ab", "a", "\u00e9", "\U0001f600", "q"):
            for forward in (True, False):
                r = self.ddb.query(TableName=t, KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
                                   ExpressionAttributeValues={":p": S("s"), ":b": S(prefix)}, ScanIndexForward=forward)
                w = [x for x in want if x.startswith(prefix)]
                self.assertEqual([it["sk"]["S"] for it in r["Items"]], w if forward else w[::-1], prefix)
        tb = self.make_table(range_type="B")
        blobs = [b"\x00", b"\x00\x00", b"\x01", b"\x7f", b"\x80", b"\xfe\xff", b"\xff", b"\xff\x00", b"\xff\xff",
                 b"\xff\xff\x01"]
        batch_put(self.ddb, tb, [{"pk": S("b"), "sk": B(b)} for b in blobs])
        for prefix in (b"\xff", b"\xff\xff", b"\xfe", b"\x00"):
            for forward in (True, False):
                r = self.ddb.query(TableName=tb, KeyConditionExpression="pk = :p AND begins_with(sk, :b)",
                                   ExpressionAttributeValues={":p": S("b"), ":b": B(prefix)}, ScanIndexForward=forward)
                w = sorted(b for b in blobs if b.startswith(prefix))
                self.assertEqual([it["sk"]["B"] for it in r["Items"]], w if forward else w[::-1], prefix)

    def test_hash_only_table(self):
        t = self.make_table(hash_type="N")
        batch_put(self.ddb, t, [{"pk": N(i), "v": N(i * i)} for i in range(50)])
        r = self.ddb.query(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": N("7.0")},
                           Limit=1)
        self.assertEqual(r["Items"], [{"pk": N(7), "v": N(49)}])
        self.assertNotIn("LastEvaluatedKey", r)  # at most one row: never resumed
        pages = list(self.ddb.get_paginator("scan").paginate(TableName=t, PaginationConfig={"PageSize": 7}))
        keys = [int(it["pk"]["N"]) for p in pages for it in p["Items"]]
        self.assertEqual(sorted(keys), list(range(50)))
        self.assertEqual(len(pages), 8)
        with self.assertRaises(ClientError) as cm:
            self.ddb.query(TableName=t, KeyConditionExpression="pk = :p", ExpressionAttributeValues={":p": N(7)},
                           ExclusiveStartKey={"pk": N(7)})
        self.assertApiError(cm, "ValidationException", "The query can return at most one row and cannot be restarted")

    def test_resource_api(self):
        t = self.make_table(range_type="N")
        table = self.daemon.resource().Table(t)
        with table.batch_writer() as bw:
            for i in range(30):
                bw.put_item(Item={"pk": "r", "sk": i, "odd": i % 2 == 1})
        from boto3.dynamodb.conditions import Attr, Key
        r = table.query(KeyConditionExpression=Key("pk").eq("r") & Key("sk").between(10, 19),
                        FilterExpression=Attr("odd").eq(True), ScanIndexForward=False)
        self.assertEqual([int(x["sk"]) for x in r["Items"]], [19, 17, 15, 13, 11])
        self.assertEqual(r["ScannedCount"], 10)
        r = table.scan(FilterExpression=Attr("sk").lt(3))
        self.assertEqual(sorted(int(x["sk"]) for x in r["Items"]), [0, 1, 2])

    # -- validation end to end -------------------------------------------------

    def test_validation_messages(self):
        t = self.make_table(range_type="N")
        th = self.make_table()
        q = lambda **kw: dict({"TableName": t, "KeyConditionExpression": "pk = :p",
                               "ExpressionAttributeValues": {":p": S("a")}}, **kw)
        self.assertRaw("Query", q(TableName="nope_missing"), "Requested resource not found", RNF)
        self.assertRaw("Scan", {"TableName": "nope_missing"}, "Requested resource not found", RNF)
        self.assertRaw("Query", q(Limit=0),
                       "1 validation error detected: Value at 'Limit' failed to satisfy constraint: Member must have "
                       "value greater than or equal to 1")
        self.assertRaw("Scan", {"TableName": t, "Limit": 0},
                       "1 validation error detected: Value '0' at 'limit' failed to satisfy constraint: Member must "
                       "have value greater than or equal to 1")
        self.assertRaw("Query", q(ConditionalOperator="XOR", Select="X"),
                       "Failed to satisfy constraint: Member must satisfy enum value set: [ALL, OR]")
        self.assertRaw("Query", q(IndexName="byX"), "The table does not have the specified index: byX")
        self.assertRaw("Scan", {"TableName": t, "IndexName": "byX"}, "The table does not have the specified index: byX")
        self.assertRaw("Query", q(Select="SPECIFIC_ATTRIBUTES"),
                       "1 validation error detected: Must specify the AttributesToGet or ProjectionExpression when "
                       "choosing to get SPECIFIC_ATTRIBUTES")
        self.assertRaw("Scan", {"TableName": t, "Select": "SPECIFIC_ATTRIBUTES"},
                       "Must specify the AttributesToGet or ProjectionExpression when choosing to get "
                       "SPECIFIC_ATTRIBUTES")
        self.assertRaw("Scan", {"TableName": t, "Select": "ALL_PROJECTED_ATTRIBUTES"},
                       "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")
        self.assertRaw("Scan", {"TableName": t, "Segment": 1},
                       "The TotalSegments parameter is required but was not present in the request when Segment "
                       "parameter is present")
        self.assertRaw("Scan", {"TableName": t, "TotalSegments": 1},
                       "The Segment parameter is required but was not present in the request when parameter "
                       "TotalSegments is present")
        self.assertRaw("Scan", {"TableName": t, "Segment": 1, "TotalSegments": 1},
                       "The Segment parameter is zero-based and must be less than parameter TotalSegments: Segment: 1 "
                       "is not less than TotalSegments: 1")
        self.assertRaw("Scan", {"TableName": t, "Segment": -1, "TotalSegments": 1000001},
                       "2 validation errors detected: Value '-1' at 'segment' failed to satisfy constraint: Member "
                       "must have value greater than or equal to 0; Value '1000001' at 'totalSegments' failed to "
                       "satisfy constraint: Member must have value less than or equal to 1000000")
        self.assertRaw("Query", {"TableName": t},
                       "Either the KeyConditions or KeyConditionExpression parameter must be specified in the request.")
        self.assertRaw("Query", q(KeyConditionExpression="sk = :p"), "Query condition missed key schema element: pk")
        self.assertRaw("Query", q(KeyConditionExpression="pk = :p AND sk > :s", ExpressionAttributeValues={
            ":p": S("a"), ":s": S("x")}), "One or more parameter values were invalid: Condition parameter type does not "
                                          "match schema type")
        self.assertRaw("Query", q(KeyConditionExpression="pk = :p OR pk = :p"),
                       "Invalid operator used in KeyConditionExpression: OR")
        self.assertRaw("Query", q(FilterExpression="sk > :p"),
                       "Filter Expression can only contain non-primary key attributes: Primary key attribute: sk")
        self.assertRaw("Query", q(ExpressionAttributeValues={":p": {"SS": []}}),
                       "One or more parameter values were invalid: An string set  may not be empty")
        self.assertRaw("Scan", {"TableName": t, "FilterExpression": "a = :v", "ExpressionAttributeValues": {":v": {"SS": []}}},
                       "ExpressionAttributeValues contains invalid value: One or more parameter values were invalid: An "
                       "string set  may not be empty for key :v")
        self.assertRaw("Query", q(ExclusiveStartKey={"pk": S("a")}),
                       "The provided starting key is invalid: The provided key element does not match the schema")
        self.assertRaw("Query", q(ExclusiveStartKey={"pk": S("b"), "sk": N(1)}),
                       "The provided starting key is outside query boundaries based on provided conditions")
        self.assertRaw("Query", q(KeyConditionExpression="pk = :p AND sk < :n", ExpressionAttributeValues={
            ":p": S("a"), ":n": N(0)}, ExclusiveStartKey={"pk": S("a"), "sk": N(1)}),
            "The provided starting key does not match the range key predicate")
        self.assertRaw("Scan", {"TableName": th, "ExclusiveStartKey": {"pk": {}}},
                       "The provided starting key is invalid: Supplied AttributeValue is empty, must contain exactly one "
                       "of the supported datatypes")
        self.assertRaw("Scan", {"TableName": th, "ExclusiveStartKey": {"pk": S("a"), "x": S("b")}},
                       "The provided starting key is invalid: The provided key element does not match the schema")
        self.assertRaw("Scan", {"TableName": t, "FilterExpression": "a = :v", "ScanFilter": {
            "a": {"ComparisonOperator": "NULL"}}},
            "Can not use both expression and non-expression parameters in the same request: Non-expression "
            "parameters: {ScanFilter} Expression parameters: {FilterExpression}")
        # A broken request on a missing table is a VE; a well-formed one RNF.
        self.assertRaw("Query", q(TableName="nope_missing", KeyConditionExpression="pk = :x"),
                       "Invalid KeyConditionExpression: An expression attribute value used in expression is not "
                       "defined; attribute value: :x")


# -- sliced pages ----------------------------------------------------------------

SLICE_TINY = 6000 if SANITIZED else 30000   # ~85-byte items: a 1 MB page is ~12,000 of them


class QueryScanSlices(DaemonTestCase):
    """Big pages are built in slices on the loop (server/pages.c): other
    requests are served in between, and writes to the table being paged wait
    for the page, so a page never shows half of a BatchWriteItem."""

    daemon_kwargs = {"fsync": False}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tiny = "qs_tiny"
        cls.ddb.create_table(TableName=cls.tiny, BillingMode="PAY_PER_REQUEST",
                             AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                             KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
        items = [{"pk": S("k%07d" % i), "v": S("value-%d-abcdefghijklmnopqrstuvwxyz0123456789" % i), "n": N(i)}
                 for i in range(SLICE_TINY)]
        load_parallel(cls.daemon, cls.tiny, items)

    def full_scan(self, client, table, **kw):
        """Every page of a scan of table (raw pages, default 1 MB cap)."""
        pages, esk = [], None
        while True:
            args = dict(TableName=table, **kw)
            if esk:
                args["ExclusiveStartKey"] = esk
            pg = client.scan(**args)
            pages.append(pg)
            esk = pg.get("LastEvaluatedKey")
            if not esk:
                return pages

    # A separate process scans the table page after page (raw HTTP) until
    # it is told to stop on stdin, then prints the item count of each full
    # scan: the GetItem latencies measured here are then the daemon's, not
    # this process's GIL contention with a thread parsing 1 MB pages.
    SCANNER = r"""
import http.client, json, select, sys
port, table, headers = int(sys.argv[1]), sys.argv[2], json.loads(sys.argv[3])
c = http.client.HTTPConnection("127.0.0.1", port, timeout=300)
counts = []
while True:
    n, esk = 0, None
    while True:
        body = {"TableName": table}
        if esk:
            body["ExclusiveStartKey"] = esk
        c.request("POST", "/", json.dumps(body), headers)
        r = c.getresponse()
        page = json.loads(r.read())
        assert r.status == 200, page
        n += page["Count"]
        esk = page.get("LastEvaluatedKey")
        if not esk:
            break
    counts.append(n)
    if select.select([sys.stdin], [], [], 0)[0]:
        break
print(json.dumps(counts))
"""

    def test_getitem_served_during_big_pages(self):
        """GetItem on another connection is answered while 1 MB scan pages of
        tiny items are built (by another process). The latencies are
        printed; the assertions are about correctness only (no timing can be
        asserted on a busy box)."""
        import sys
        import time
        headers = harness.default_headers("Scan")
        sc = subprocess.Popen([sys.executable, "-c", self.SCANNER, str(self.daemon.port), self.tiny,
                               json.dumps(headers)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
        c = self.daemon.connection()
        lat = []
        try:
            deadline = time.monotonic() + (10 if SANITIZED else 4)
            i = 0
            while time.monotonic() < deadline:
                k = "k%07d" % ((i * 7919) % SLICE_TINY)
                t0 = time.monotonic()
                r = raw_request(self.daemon.port, "GetItem", {"TableName": self.tiny, "Key": {"pk": S(k)}}, conn=c)
                lat.append(time.monotonic() - t0)
                self.assertEqual(r.status, 200, r.body)
                self.assertEqual(r.json["Item"]["pk"], S(k))
                i += 1
        finally:
            out, _ = sc.communicate("stop\n", timeout=300 * harness.SLOW)
            c.close()
        self.assertEqual(sc.returncode, 0)
        scans = json.loads(out)
        self.assertTrue(scans)
        self.assertTrue(all(n == SLICE_TINY for n in scans), scans)
        lat.sort()
        print("\n  GetItem during 1 MB scan pages of a %d-item table: %d requests, %d full scans, "
              "median %.2f ms, p99 %.2f ms, max %.2f ms" % (
                  SLICE_TINY, len(lat), len(scans), lat[len(lat) // 2] * 1e3, lat[int(len(lat) * 0.99)] * 1e3,
                  lat[-1] * 1e3))

    def test_batch_never_half_visible_in_a_page(self):
        """A writer rewrites the same 25 items in one BatchWriteItem with
        gen+1 each time while scans run: every page that shows some of them
        shows one single gen. The 25 keys are scattered over the table (hash
        order), so a page's share of them spans many of its slices."""
        import time
        t = self.unique("gen")
        self.make_table(t)
        filler = [{"pk": S("f%05d" % i), "v": S("x" * 60)} for i in range(SLICE_TINY // 2)]
        load_parallel(self.daemon, t, filler)

        def batch(gen):
            return [{"PutRequest": {"Item": {"pk": S("g%02d" % j), "gen": N(gen)}}} for j in range(25)]

        self.ddb.batch_write_item(RequestItems={t: batch(0)})
        stop = threading.Event()
        state = {"gen": 0}
        errors = []

        def writer():
            c = self.daemon.client()
            try:
                g = 0
                while not stop.is_set():
                    g += 1
                    r = c.batch_write_item(RequestItems={t: batch(g)})
                    assert not r["UnprocessedItems"], r
                    state["gen"] = g
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        th = threading.Thread(target=writer)
        th.start()
        seen_gens, pages_checked, rounds = set(), 0, 0
        try:
            deadline = time.monotonic() + (10 if SANITIZED else 4)
            while time.monotonic() < deadline or rounds < 2:
                rounds += 1
                n_g = 0
                for pg in self.full_scan(self.ddb, t):
                    gens = [it["gen"]["N"] for it in pg["Items"] if it["pk"]["S"].startswith("g")]
                    n_g += len(gens)
                    if gens:
                        pages_checked += 1
                        self.assertEqual(len(set(gens)), 1, "page shows several gens: %s" % sorted(set(gens)))
                        seen_gens.add(gens[0])
                self.assertEqual(n_g, 25)
        finally:
            stop.set()
            th.join()
        self.assertEqual(errors, [])
        self.assertGreater(state["gen"], 1)  # the writer was not starved
        self.assertGreater(pages_checked, 0)
        print("\n  %d full scans, %d pages with the batch, %d distinct gens seen, writer reached gen %d" % (
            rounds, pages_checked, len(seen_gens), state["gen"]))

    def test_writes_and_delete_table_during_scans(self):
        """Every kind of write (and DeleteTable) issued while pages of the
        table are in progress is applied after them, answered, and visible;
        other tables are written meanwhile."""
        import time
        t = self.unique("w")
        self.make_table(t)
        other = self.unique("o")
        self.make_table(other)
        load_parallel(self.daemon, t, [{"pk": S("r%05d" % i), "v": S("y" * 60)} for i in range(SLICE_TINY // 2)])
        stop = threading.Event()
        errors = []

        def scanner():
            c = self.daemon.client()
            try:
                while not stop.is_set():
                    self.full_scan(c, t)
            except Exception as e:  # pragma: no cover - reported below
                errors.append(e)

        ths = [threading.Thread(target=scanner) for _ in range(2)]
        for x in ths:
            x.start()
        try:
            c = self.daemon.client()
            for i in range(30):
                c.put_item(TableName=t, Item={"pk": S("new%d" % i), "v": N(i)})
                c.update_item(TableName=t, Key={"pk": S("new%d" % i)}, UpdateExpression="SET w = :w",
                              ExpressionAttributeValues={":w": N(i * 2)})
                c.delete_item(TableName=t, Key={"pk": S("r%05d" % i)})
                c.put_item(TableName=other, Item={"pk": S("o%d" % i)})
            for i in range(30):
                self.assertEqual(c.get_item(TableName=t, Key={"pk": S("new%d" % i)}, ConsistentRead=True)["Item"],
                                 {"pk": S("new%d" % i), "v": N(i), "w": N(i * 2)})
                self.assertNotIn("Item", c.get_item(TableName=t, Key={"pk": S("r%05d" % i)}))
        finally:
            stop.set()
            for x in ths:
                x.join()
        self.assertEqual(errors, [])
        # DeleteTable while a scanner pages through it: it waits for the page.
        stop.clear()
        hit = []

        def scan_until_gone():
            c = self.daemon.client()
            try:
                while True:
                    self.full_scan(c, t)
            except ClientError as e:
                hit.append(e.response["Error"]["Code"])

        th = threading.Thread(target=scan_until_gone)
        th.start()
        time.sleep(0.3)
        self.ddb.delete_table(TableName=t)
        th.join(timeout=60 * harness.SLOW)
        self.assertFalse(th.is_alive())
        self.assertEqual(hit, ["ResourceNotFoundException"])
        self.assertEqual(self.ddb.scan(TableName=other)["Count"], 30)


class QueryScanSliceShutdown(unittest.TestCase):
    """SIGTERM while sliced pages are in progress and writes wait for them:
    the daemon answers what it read, exits 0, and the batch is atomic."""

    def test_sigterm_during_sliced_pages(self):
        import time
        d = harness.Daemon(fsync=True)
        try:
            d.start()
            c = d.client()
            c.create_table(TableName="sdown", BillingMode="PAY_PER_REQUEST",
                           AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                           KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}])
            load_parallel(d, "sdown", [{"pk": S("f%05d" % i), "v": S("z" * 60)} for i in range(SLICE_TINY // 2)])
            c.batch_write_item(RequestItems={"sdown": [{"PutRequest": {"Item": {"pk": S("g%02d" % j), "gen": N(0)}}}
                                                    for j in range(25)]})
            conns = [d.connection() for _ in range(4)]
            hdr_scan = harness.default_headers("Scan")
            hdr_bw = harness.default_headers("BatchWriteItem")
            bw = {"RequestItems": {"sdown": [{"PutRequest": {"Item": {"pk": S("g%02d" % j), "gen": N(1)}}}
                                          for j in range(25)]}}
            conns[0].request("POST", "/", json.dumps({"TableName": "sdown"}), hdr_scan)
            conns[1].request("POST", "/", json.dumps({"TableName": "sdown", "Segment": 0, "TotalSegments": 1}),
                             hdr_scan)
            time.sleep(0.002)
            conns[2].request("POST", "/", json.dumps(bw), hdr_bw)
            conns[3].request("POST", "/", json.dumps({"TableName": "sdown"}), hdr_scan)
            time.sleep(0.002)
            d.proc.send_signal(harness.signal.SIGTERM)
            answered = 0
            for k in conns:
                try:
                    r = k.getresponse()
                    body = r.read()
                    self.assertEqual(r.status, 200, body[:300])
                    answered += 1
                except (ConnectionError, harness.http.client.HTTPException):
                    pass  # read after the signal: not in flight, closed
                k.close()
            d.stop(sig=None)  # exit status 0, sanitizers clean
            d.start()
            items = d.client().scan(TableName="sdown", FilterExpression="begins_with(pk, :g)",
                                    ExpressionAttributeValues={":g": S("g")}, ConsistentRead=True)
            gens = {it["gen"]["N"] for it in items["Items"]}
            self.assertEqual(items["Count"], 25)
            self.assertEqual(len(gens), 1, gens)
            print("\n  %d of 4 in-flight requests answered across SIGTERM; batch gen %s" % (answered, gens.pop()))
        finally:
            d.cleanup()


if __name__ == "__main__":
    unittest.main()
