"""test_indexes.py -- secondary indexes end to end (issue 7; operations.md
2, 3, 4.1, 4.2, 4.5, 5.1, 5.3-5.5, 6; expressions.md 6, 8; protocol.md 2).

- every CreateTable index error of operations.md 4.1 and 2 with its exact
  __type and message (raw HTTP, past boto3's client-side checks), the
  limits (5 LSIs, 20 GSIs accepted; one more refused) and no table left
  behind by a refused request;
- DescribeTable's index entries: IndexName, KeySchema, Projection,
  IndexArn, IndexStatus and ProvisionedThroughput (GSIs only), ItemCount
  and IndexSizeBytes (live), no IndexStatus on an LSI;
- the Query / Scan index errors of 5.3 / 5.4 (unknown index, ConsistentRead
  on a GSI, ALL_ATTRIBUTES on a non-ALL GSI, "does not project", a filter on
  an index key, starting keys of the wrong shape);
- the write errors (Type mismatch for Index Key on PutItem, UpdateItem and
  BatchWriteItem, empty index key values, a nested path into an index key,
  a copied value of the wrong type), each leaving the item unchanged;
- index key changes: an item moving between index partitions, leaving a
  sparse index when an attribute is removed and coming back, LSI order;
- UpdateTable GlobalSecondaryIndexUpdates: Create (backfill of existing
  items, skipping wrong-typed ones), Delete, Update, and their errors
  (duplicate name, unknown index, two creates, index + stream change,
  missing AttributeDefinitions, a create while another is building);
- a GSI created on a 50,000-item table (10,000 under ASan) while a writer
  thread keeps writing: CREATING with Backfilling true, reads of it refused
  meanwhile, then ACTIVE and exactly what a Scan of the table implies;
- DeleteTable with indexes, TTL deletion removing index entries, stream
  records of a table with indexes (table keys only), indexes surviving a
  restart, ReturnConsumedCapacity INDEXES on writes and index reads.
"""

import base64
import json
import random
import threading
import time
import unittest

from botocore.exceptions import ClientError

import harness
from harness import Daemon, DaemonTestCase, SLOW
from test_streams import item_size, streams_client

VE = "com.amazon.coral.validate#ValidationException"
RNF = "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
LEE = "com.amazonaws.dynamodb.v20120810#LimitExceededException"
INVALID = "One or more parameter values were invalid: "
ARN_PREFIX = "arn:aws:dynamodb:us-east-1:"

SANITIZED = harness.SANITIZED
BIG = 10000 if SANITIZED else 50000


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


def ad(*pairs):
    return [{"AttributeName": a, "AttributeType": t} for a, t in pairs]


def ks(hash_, range_=None):
    k = [{"AttributeName": hash_, "KeyType": "HASH"}]
    if range_:
        k.append({"AttributeName": range_, "KeyType": "RANGE"})
    return k


def proj(kind="ALL", include=None):
    p = {"ProjectionType": kind}
    if include is not None:
        p["NonKeyAttributes"] = include
    return p


def gsi(name, hash_, range_=None, projection=None, throughput=None):
    g = {"IndexName": name, "KeySchema": ks(hash_, range_),
         "Projection": proj() if projection is None else projection}
    if throughput:
        g["ProvisionedThroughput"] = {"ReadCapacityUnits": throughput[0], "WriteCapacityUnits": throughput[1]}
    return g


def lsi(name, range_, projection=None, hash_="pk"):
    return {"IndexName": name, "KeySchema": ks(hash_, range_),
            "Projection": proj() if projection is None else projection}


def gsi_create(name, hash_, range_=None, projection=None):
    return {"Create": gsi(name, hash_, range_, projection)}


class IndexTestCase(DaemonTestCase):
    daemon_kwargs = {"fsync": False}

    def raw(self, op, body):
        return self.daemon.raw(op, body)

    def assertRaw(self, r, type_, message=None, prefix=None, contains=None, status=400):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.type, type_, r)
        if message is not None:
            self.assertEqual(r.message, message, r)
        if prefix is not None:
            self.assertTrue((r.message or "").startswith(prefix), r)
        if contains is not None:
            self.assertIn(contains, r.message or "", r)

    def ok(self, op, body):
        r = self.raw(op, body)
        self.assertEqual(r.status, 200, r)
        return r.json

    def create(self, name=None, defs=(("pk", "S"), ("sk", "S")), key=("pk", "sk"), gsis=None, lsis=None,
               provisioned=None, wait=True, **extra):
        """CreateTable through boto3; -> name."""
        name = name or self.unique()
        args = dict(TableName=name, AttributeDefinitions=ad(*defs), KeySchema=ks(*key))
        if provisioned:
            args["ProvisionedThroughput"] = {"ReadCapacityUnits": provisioned[0],
                                             "WriteCapacityUnits": provisioned[1]}
        else:
            args["BillingMode"] = "PAY_PER_REQUEST"
        if gsis:
            args["GlobalSecondaryIndexes"] = gsis
        if lsis:
            args["LocalSecondaryIndexes"] = lsis
        args.update(extra)
        self.ddb.create_table(**args)
        if wait:
            self.wait_active(name)
        return name

    def describe(self, name):
        return self.ddb.describe_table(TableName=name)["Table"]

    def index_entry(self, name, index):
        d = self.describe(name)
        for e in d.get("GlobalSecondaryIndexes", []) + d.get("LocalSecondaryIndexes", []):
            if e["IndexName"] == index:
                return e
        return None

    def wait_active(self, name, index=None, timeout=60):
        deadline = time.monotonic() + timeout * SLOW
        while True:
            d = self.describe(name)
            if d["TableStatus"] == "ACTIVE" and all(
                    g.get("IndexStatus") == "ACTIVE" for g in d.get("GlobalSecondaryIndexes", [])
                    if index is None or g["IndexName"] == index):
                return d
            if time.monotonic() > deadline:
                self.fail("%s did not become ACTIVE: %s" % (name, d))
            time.sleep(0.05)

    def scan_all(self, name, **kw):
        items, start = [], None
        while True:
            args = dict(TableName=name, **kw)
            if start:
                args["ExclusiveStartKey"] = start
            r = self.ddb.scan(**args)
            items += r["Items"]
            start = r.get("LastEvaluatedKey")
            if not start:
                return items

    def query_all(self, name, index, kce, eav, names=None, **kw):
        items, start = [], None
        while True:
            args = dict(TableName=name, KeyConditionExpression=kce, ExpressionAttributeValues=eav, **kw)
            if index:
                args["IndexName"] = index
            if names:
                args["ExpressionAttributeNames"] = names
            if start:
                args["ExclusiveStartKey"] = start
            r = self.ddb.query(**args)
            items += r["Items"]
            start = r.get("LastEvaluatedKey")
            if not start:
                return items

    def batch_put(self, name, items, client=None):
        c = client or self.ddb
        for i in range(0, len(items), 25):
            r = c.batch_write_item(RequestItems={name: [{"PutRequest": {"Item": it}} for it in items[i:i + 25]]})
            self.assertEqual(r["UnprocessedItems"], {})

    def get(self, name, key):
        return self.ddb.get_item(TableName=name, Key=key, ConsistentRead=True).get("Item")


def canon(x):
    return json.dumps(x, sort_keys=True)


def expected_entries(items, hash_, range_, types, projection, include=(), table_keys=("pk", "sk")):
    """The entries an index must hold for these table items."""
    out = []
    for it in items:
        if any(k and (k not in it or list(it[k]) != [types[k]]) for k in (hash_, range_)):
            continue
        if any(k and list(it[k])[0] in ("S", "B") and not list(it[k].values())[0] for k in (hash_, range_)):
            continue
        if projection == "ALL":
            out.append(dict(it))
        else:
            names = set(table_keys) | {hash_} | ({range_} if range_ else set()) | set(include)
            out.append({k: v for k, v in it.items() if k in names})
    return out


# -- CreateTable -----------------------------------------------------------------------------

class CreateTableIndexErrorsTest(IndexTestCase):

    def body(self, name, defs=(("pk", "S"), ("sk", "S")), key=("pk", "sk"), gsis=None, lsis=None, **extra):
        b = {"TableName": name, "AttributeDefinitions": ad(*defs), "KeySchema": ks(*key)}
        if "ProvisionedThroughput" not in extra:
            b["BillingMode"] = "PAY_PER_REQUEST"
        if gsis is not None:
            b["GlobalSecondaryIndexes"] = gsis
        if lsis is not None:
            b["LocalSecondaryIndexes"] = lsis
        b.update(extra)
        return b

    def refused(self, body, message=None, type_=VE, prefix=None, contains=None):
        r = self.raw("CreateTable", body)
        self.assertRaw(r, type_, message, prefix=prefix, contains=contains)
        d = self.raw("DescribeTable", {"TableName": body["TableName"]})
        self.assertEqual(d.type, RNF, "a refused CreateTable left a table behind: %r" % d)

    def test_empty_index_lists(self):
        n = self.unique()
        self.refused(self.body(n, lsis=[]), INVALID + "List of LocalSecondaryIndexes is empty")
        self.refused(self.body(n, gsis=[]), INVALID + "List of GlobalSecondaryIndexes is empty")

    def test_lsi_schema_errors(self):
        n = self.unique()
        self.refused(self.body(n, defs=(("pk", "S"), ("l", "N")), key=("pk",), lsis=[lsi("abc", "l")]),
                     INVALID + "Table KeySchema does not have a range key, which is required when specifying "
                     "a LocalSecondaryIndex")
        self.refused(self.body(n, lsis=[{"IndexName": "abc", "KeySchema": ks("pk"), "Projection": proj()}]),
                     INVALID + "Index KeySchema does not have a range key for index: abc")
        self.refused(self.body(n, defs=(("a", "S"), ("b", "S"), ("c", "S")), key=("a", "b"),
                               lsis=[lsi("abc", "c", hash_="b")]),
                     INVALID + "Index KeySchema does not have the same leading hash key as table KeySchema for "
                     "index: abc. index hash key: b, table hash key: a")

    def test_projection_errors(self):
        n = self.unique()
        defs = (("pk", "S"), ("sk", "S"), ("g", "S"))
        for mk in (lambda p: {"gsis": [gsi("abc", "g", projection=p)]},
                   lambda p: {"lsis": [lsi("abc", "g", projection=p)]}):
            self.refused(self.body(n, defs=defs, **mk({})), INVALID + "Unknown ProjectionType: null")
            self.refused(self.body(n, defs=defs, **mk(proj("ALL", ["x"]))),
                         INVALID + "ProjectionType is ALL, but NonKeyAttributes is specified")
            self.refused(self.body(n, defs=defs, **mk(proj("KEYS_ONLY", ["x"]))),
                         INVALID + "ProjectionType is KEYS_ONLY, but NonKeyAttributes is specified")
            self.refused(self.body(n, defs=defs, **mk(proj("INCLUDE"))),
                         INVALID + "ProjectionType is INCLUDE, but NonKeyAttributes is not specified")

    def test_duplicate_index_names(self):
        n = self.unique()
        defs = (("pk", "S"), ("sk", "S"), ("g", "S"), ("l", "S"))
        self.refused(self.body(n, defs=defs, gsis=[gsi("abc", "g")], lsis=[lsi("abc", "l")]),
                     INVALID + "Duplicate index name: abc")
        self.refused(self.body(n, defs=defs, gsis=[gsi("abc", "g"), gsi("abc", "l")]),
                     INVALID + "Duplicate index name: abc")
        self.refused(self.body(n, defs=defs, lsis=[lsi("abc", "g"), lsi("abc", "l")]),
                     INVALID + "Duplicate index name: abc")

    def test_gsi_throughput_on_demand(self):
        n = self.unique()
        self.refused(self.body(n, defs=(("pk", "S"), ("sk", "S"), ("g", "S")),
                               gsis=[gsi("abd", "g", throughput=(1, 1))]),
                     INVALID + "ProvisionedThroughput should not be specified for index: abd when BillingMode "
                     "is PAY_PER_REQUEST")

    def test_index_count_limits(self):
        defs = [("pk", "S"), ("sk", "S")] + [("g%d" % i, "S") for i in range(21)]
        n = self.unique()
        self.refused(self.body(n, defs=defs, gsis=[gsi("gsi%02d" % i, "g%d" % i) for i in range(21)]),
                     INVALID + "GlobalSecondaryIndex count exceeds the per-table limit of 20")
        n20 = self.unique()
        self.ok("CreateTable", self.body(n20, defs=defs[:22], gsis=[gsi("gsi%02d" % i, "g%d" % i)
                                                                   for i in range(20)]))
        self.assertEqual(len(self.wait_active(n20)["GlobalSecondaryIndexes"]), 20)
        defs = [("pk", "S"), ("sk", "S")] + [("l%d" % i, "N") for i in range(6)]
        n = self.unique()
        self.refused(self.body(n, defs=defs, lsis=[lsi("lsi%d" % i, "l%d" % i) for i in range(6)]),
                     INVALID + "Number of LocalSecondaryIndexes exceeds per-table limit of 5")
        n5 = self.unique()
        self.ok("CreateTable", self.body(n5, defs=defs[:7], lsis=[lsi("lsi%d" % i, "l%d" % i) for i in range(5)]))
        self.assertEqual(len(self.wait_active(n5)["LocalSecondaryIndexes"]), 5)

    def test_non_key_attributes_limit(self):
        # 100 projected non-key attributes over all indexes are fine, 101 are not
        defs = [("pk", "S"), ("sk", "S")] + [("g%d" % i, "S") for i in range(6)]
        names = ["a%03d" % i for i in range(120)]
        gs = [gsi("gsi%d" % i, "g%d" % i, projection=proj("INCLUDE", names[20 * i:20 * i + 20])) for i in range(5)]
        n = self.unique()
        self.ok("CreateTable", self.body(n, defs=defs[:7], gsis=gs))
        e = self.wait_active(n)["GlobalSecondaryIndexes"]
        self.assertEqual(sorted(x for g in e for x in g["Projection"]["NonKeyAttributes"]), names[:100])
        gs.append(gsi("gsi5", "g5", projection=proj("INCLUDE", ["b"])))
        self.refused(self.body(self.unique(), defs=defs, gsis=gs), type_=VE)
        # a name in two indexes counts twice
        gs = [gsi("gsi%d" % i, "g%d" % i, projection=proj("INCLUDE", names[:20])) for i in range(6)]
        self.refused(self.body(self.unique(), defs=defs, gsis=gs), type_=VE)

    def test_attribute_definitions_with_indexes(self):
        n = self.unique()
        # an index key attribute without a definition
        self.refused(self.body(n, gsis=[gsi("abc", "g")]),
                     prefix=INVALID + "Some index key attributes are not defined in AttributeDefinitions.")
        self.refused(self.body(n, lsis=[lsi("abc", "l")]),
                     prefix=INVALID + "Some index key attributes are not defined in AttributeDefinitions.")
        # a definition no key uses
        self.refused(self.body(n, defs=(("pk", "S"), ("sk", "S"), ("g", "S"), ("x", "S")), gsis=[gsi("abc", "g")]),
                     prefix=INVALID)
        # an index name too short: a member constraint
        self.refused(self.body(n, defs=(("pk", "S"), ("sk", "S"), ("g", "S")), gsis=[gsi("ab", "g")]),
                     contains="Member must have length greater than or equal to 3")
        # one definition serves the table and several indexes
        self.ok("CreateTable", self.body(n, defs=(("pk", "S"), ("sk", "S"), ("g", "N")),
                                         gsis=[gsi("gone", "g"), gsi("gtwo", "sk", "g"), gsi("gthree", "g", "pk")],
                                         lsis=[lsi("lone", "g")]))
        d = self.wait_active(n)
        self.assertEqual(sorted((a["AttributeName"], a["AttributeType"]) for a in d["AttributeDefinitions"]),
                         [("g", "N"), ("pk", "S"), ("sk", "S")])

    def test_name_taken(self):
        n = self.create(defs=(("pk", "S"), ("sk", "S"), ("g", "S")), gsis=[gsi("abc", "g")])
        r = self.raw("CreateTable", self.body(n, defs=(("pk", "S"), ("sk", "S"), ("g", "S")), gsis=[gsi("abc", "g")]))
        self.assertRaw(r, "com.amazonaws.dynamodb.v20120810#ResourceInUseException", "Table already exists: " + n)


# -- DescribeTable -------------------------------------------------------------------------

class DescribeIndexesTest(IndexTestCase):

    def test_shape_provisioned(self):
        n = self.unique()
        r = self.ddb.create_table(
            TableName=n, AttributeDefinitions=ad(("pk", "S"), ("sk", "S"), ("g", "S"), ("h", "N"), ("l", "B")),
            KeySchema=ks("pk", "sk"), ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 6},
            GlobalSecondaryIndexes=[gsi("gsi_one", "g", "h", proj("INCLUDE", ["x", "y"]), throughput=(3, 4)),
                                    gsi("gsi_two", "h", None, proj("KEYS_ONLY"), throughput=(1, 2))],
            LocalSecondaryIndexes=[lsi("lsi_one", "l", proj("ALL"))])
        for d in (r["TableDescription"], self.wait_active(n)):
            arn = d["TableArn"]
            self.assertTrue(arn.startswith(ARN_PREFIX) and arn.endswith(":table/" + n), arn)
            g = {e["IndexName"]: e for e in d["GlobalSecondaryIndexes"]}
            self.assertEqual(list(g), ["gsi_one", "gsi_two"])
            e = g["gsi_one"]
            self.assertEqual(e["KeySchema"], ks("g", "h"))
            self.assertEqual(e["Projection"], {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["x", "y"]})
            self.assertEqual(e["IndexArn"], arn + "/index/gsi_one")
            self.assertIn(e["IndexStatus"], ("CREATING", "ACTIVE") if d is r["TableDescription"] else ("ACTIVE",))
            self.assertEqual((e["ProvisionedThroughput"]["ReadCapacityUnits"],
                              e["ProvisionedThroughput"]["WriteCapacityUnits"]), (3, 4))
            self.assertEqual((e["ItemCount"], e["IndexSizeBytes"]), (0, 0))
            self.assertNotIn("Backfilling", e)
            self.assertEqual(g["gsi_two"]["Projection"], {"ProjectionType": "KEYS_ONLY"})
            self.assertEqual(g["gsi_two"]["KeySchema"], ks("h"))
            l, = d["LocalSecondaryIndexes"]
            self.assertEqual(set(l), {"IndexName", "KeySchema", "Projection", "IndexSizeBytes", "ItemCount",
                                      "IndexArn"})
            self.assertEqual((l["IndexName"], l["KeySchema"], l["Projection"], l["IndexArn"]),
                             ("lsi_one", ks("pk", "l"), {"ProjectionType": "ALL"}, arn + "/index/lsi_one"))
            self.assertEqual(len(d["AttributeDefinitions"]), 5)

    def test_on_demand_gsi_throughput_zero_and_live_counts(self):
        n = self.create(defs=(("pk", "S"), ("sk", "S"), ("g", "S"), ("l", "N")),
                        gsis=[gsi("gk_ix", "g", projection=proj("KEYS_ONLY"))],
                        lsis=[lsi("li_ix", "l", proj("INCLUDE", ["a"]))])
        e = self.index_entry(n, "gk_ix")
        self.assertEqual((e["ProvisionedThroughput"]["ReadCapacityUnits"],
                          e["ProvisionedThroughput"]["WriteCapacityUnits"]), (0, 0))
        items = [{"pk": S("p%d" % i), "sk": S("s"), "g": S("g%d" % (i % 3)), "a": S("x" * i), "b": S("yy")}
                 for i in range(10)]
        items += [{"pk": S("q%d" % i), "sk": S("s"), "l": N(i), "a": S("z"), "b": S("w")} for i in range(4)]
        self.batch_put(n, items)
        gk = expected_entries(items, "g", None, {"g": "S"}, "KEYS_ONLY")
        li = expected_entries(items, "l", None, {"l": "N"}, "INCLUDE", ["a"])
        e, l = self.index_entry(n, "gk_ix"), self.index_entry(n, "li_ix")
        self.assertEqual((e["ItemCount"], e["IndexSizeBytes"]), (10, sum(item_size(x) for x in gk)))
        self.assertEqual((l["ItemCount"], l["IndexSizeBytes"]), (4, sum(item_size(x) for x in li)))
        self.ddb.delete_item(TableName=n, Key={"pk": S("p0"), "sk": S("s")})
        self.ddb.update_item(TableName=n, Key={"pk": S("q0"), "sk": S("s")}, UpdateExpression="REMOVE l")
        self.assertEqual(self.index_entry(n, "gk_ix")["ItemCount"], 9)
        self.assertEqual(self.index_entry(n, "li_ix")["ItemCount"], 3)


# -- Query / Scan errors -------------------------------------------------------------------------

class ReadErrorsTest(IndexTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.t = "read_errors"
        cls.ddb.create_table(
            TableName=cls.t, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=ad(("pk", "S"), ("sk", "S"), ("g", "S"), ("h", "N"), ("ls_ix", "N")),
            KeySchema=ks("pk", "sk"),
            GlobalSecondaryIndexes=[gsi("gk_ix", "g", "h", proj("KEYS_ONLY")), gsi("gi_ix", "g", None, proj("INCLUDE", ["a"])),
                                    gsi("ga_ix", "g", "h", proj("ALL"))],
            LocalSecondaryIndexes=[lsi("lk_ix", "ls_ix", proj("KEYS_ONLY"))])
        cls.items = [{"pk": S("p%d" % (i % 4)), "sk": S("s%02d" % i), "g": S("G"), "h": N(i % 5), "ls_ix": N(-i),
                      "a": S("a%d" % i), "x": S("x%d" % i)} for i in range(20)]
        for it in cls.items:
            cls.ddb.put_item(TableName=cls.t, Item=it)

    def q(self, **kw):
        body = {"TableName": self.t, "KeyConditionExpression": "g = :g", "ExpressionAttributeValues": {":g": S("G")}}
        body.update(kw)
        return self.raw("Query", body)

    def s(self, **kw):
        body = {"TableName": self.t}
        body.update(kw)
        return self.raw("Scan", body)

    def test_unknown_index(self):
        self.assertRaw(self.q(IndexName="nope"), VE, "The table does not have the specified index: nope")
        self.assertRaw(self.s(IndexName="nope"), VE, "The table does not have the specified index: nope")
        # the table must exist first
        r = self.raw("Query", {"TableName": "no_such_table", "IndexName": "gk_ix", "KeyConditionExpression": "g = :g",
                               "ExpressionAttributeValues": {":g": S("G")}})
        self.assertRaw(r, RNF)

    def test_consistent_read_on_gsi(self):
        m = "Consistent reads are not supported on global secondary indexes"
        self.assertRaw(self.q(IndexName="gk_ix", ConsistentRead=True), VE, m)
        self.assertRaw(self.s(IndexName="ga_ix", ConsistentRead=True), VE, m)
        # on an LSI it is fine
        r = self.raw("Query", {"TableName": self.t, "IndexName": "lk_ix", "ConsistentRead": True,
                               "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": S("p1")}})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.json["Count"], 5)
        self.assertEqual(self.s(IndexName="lk_ix", ConsistentRead=True).json["Count"], 20)

    def test_all_attributes_on_non_all_gsi(self):
        for ix in ("gk_ix", "gi_ix"):
            m = INVALID + ("Select type ALL_ATTRIBUTES is not supported for global secondary index %s because its "
                           "projection type is not ALL" % ix)
            self.assertRaw(self.q(IndexName=ix, Select="ALL_ATTRIBUTES"), VE, m)
            self.assertRaw(self.s(IndexName=ix, Select="ALL_ATTRIBUTES"), VE, m)
        r = self.q(IndexName="ga_ix", Select="ALL_ATTRIBUTES")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(map(canon, r.json["Items"])), sorted(map(canon, self.items)))
        # an LSI fetches what it lacks
        r = self.raw("Query", {"TableName": self.t, "IndexName": "lk_ix", "Select": "ALL_ATTRIBUTES",
                               "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": S("p2")}})
        self.assertEqual(r.status, 200, r)
        want = sorted((it for it in self.items if it["pk"] == S("p2")), key=lambda it: int(it["ls_ix"]["N"]))
        self.assertEqual(r.json["Items"], want)

    def test_does_not_project(self):
        self.assertRaw(self.q(IndexName="gi_ix", ProjectionExpression="x"), VE,
                       INVALID + "Global secondary index gi_ix does not project [x]")
        self.assertRaw(self.s(IndexName="gk_ix", ProjectionExpression="pk, a"), VE,
                       INVALID + "Global secondary index gk_ix does not project [a]")
        r = self.raw("Query", {"TableName": self.t, "IndexName": "gi_ix", "AttributesToGet": ["pk", "x"],
                               "KeyConditions": {"g": {"AttributeValueList": [S("G")], "ComparisonOperator": "EQ"}}})
        self.assertRaw(r, VE, INVALID + "Global secondary index gi_ix does not project [x]")
        r = self.q(IndexName="gi_ix", ProjectionExpression="a, pk")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(map(canon, r.json["Items"])),
                         sorted(canon({"a": it["a"], "pk": it["pk"]}) for it in self.items))
        r = self.raw("Query", {"TableName": self.t, "IndexName": "lk_ix", "ProjectionExpression": "x",
                               "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": S("p3")}})
        self.assertEqual(r.status, 200, r)
        want = sorted((it for it in self.items if it["pk"] == S("p3")), key=lambda it: int(it["ls_ix"]["N"]))
        self.assertEqual(r.json["Items"], [{"x": it["x"]} for it in want])

    def test_select_all_projected(self):
        r = self.q(IndexName="gi_ix", Select="ALL_PROJECTED_ATTRIBUTES")
        self.assertEqual(r.status, 200, r)
        self.assertEqual(sorted(map(canon, r.json["Items"])), sorted(
            canon({k: it[k] for k in ("pk", "sk", "g", "a")}) for it in self.items))
        r = self.raw("Query", {"TableName": self.t, "Select": "ALL_PROJECTED_ATTRIBUTES",
                               "KeyConditionExpression": "pk = :p", "ExpressionAttributeValues": {":p": S("p3")}})
        self.assertRaw(r, VE, "ALL_PROJECTED_ATTRIBUTES can be used only when Querying using an IndexName")

    def test_filter_on_index_key(self):
        self.assertRaw(self.q(IndexName="gk_ix", FilterExpression="h > :z",
                              ExpressionAttributeValues={":g": S("G"), ":z": N(1)}), VE,
                       "Filter Expression can only contain non-primary key attributes: Primary key attribute: h")
        self.assertRaw(self.q(IndexName="ga_ix", FilterExpression="g = :g"), VE,
                       "Filter Expression can only contain non-primary key attributes: Primary key attribute: g")
        # the table's keys are not the queried schema's: a filter on them is fine
        r = self.q(IndexName="ga_ix", FilterExpression="sk = :s", ExpressionAttributeValues={":g": S("G"),
                                                                                          ":s": S("s03")})
        self.assertEqual((r.status, r.json and r.json["Count"], r.json and r.json["ScannedCount"]), (200, 1, 20), r)
        # and a Scan of an index may filter on anything
        r = self.s(IndexName="gk_ix", FilterExpression="h = :z", ExpressionAttributeValues={":z": N(1)})
        self.assertEqual((r.status, r.json and r.json["Count"]), (200, 4), r)

    def test_key_conditions_on_index_schema(self):
        r = self.raw("Query", {"TableName": self.t, "IndexName": "gk_ix", "KeyConditionExpression": "pk = :p",
                               "ExpressionAttributeValues": {":p": S("p1")}})
        self.assertRaw(r, VE, "Query condition missed key schema element: g")
        self.assertRaw(self.q(IndexName="gk_ix", KeyConditionExpression="g = :g AND h = :s",
                              ExpressionAttributeValues={":g": S("G"), ":s": S("1")}), VE,
                       INVALID + "Condition parameter type does not match schema type")
        self.assertRaw(self.q(IndexName="gk_ix", KeyConditionExpression="g = :g AND sk = :s",
                              ExpressionAttributeValues={":g": S("G"), ":s": S("s01")}), VE,
                       "Query condition missed key schema element: h")
        r = self.q(IndexName="gk_ix", KeyConditionExpression="g = :g AND h BETWEEN :a AND :b",
                   ExpressionAttributeValues={":g": S("G"), ":a": N(1), ":b": N(2)})
        self.assertEqual(r.status, 200, r)
        self.assertEqual([int(i["h"]["N"]) for i in r.json["Items"]], [1] * 4 + [2] * 4)

    def test_bad_exclusive_start_key(self):
        table_key = {"pk": S("p1"), "sk": S("s01")}
        r = self.s(IndexName="gk_ix", ExclusiveStartKey=table_key)
        self.assertRaw(r, VE, "The provided starting key is invalid")
        r = self.q(IndexName="gk_ix", ExclusiveStartKey=table_key)
        self.assertRaw(r, VE, prefix="The provided starting key is invalid")
        r = self.q(IndexName="gk_ix", ExclusiveStartKey=dict(table_key, g=S("G"), h=S("1")))
        self.assertRaw(r, VE, prefix="The provided starting key is invalid")
        r = self.q(IndexName="gk_ix", ExclusiveStartKey=dict(table_key, g=S("G"), h=N(1), extra=S("x")))
        self.assertRaw(r, VE, prefix="The provided starting key is invalid")
        # the right shape resumes after that entry
        r = self.q(IndexName="gk_ix", ExclusiveStartKey=dict(table_key, g=S("G"), h=N(1)))
        self.assertEqual(r.status, 200, r)
        full = self.q(IndexName="gk_ix").json["Items"]
        i = full.index({"pk": S("p1"), "sk": S("s01"), "g": S("G"), "h": N(1)})
        self.assertEqual(r.json["Items"], full[i + 1:])
        # hash-only GSI: table keys + g
        r = self.q(IndexName="gi_ix", Limit=3)
        self.assertEqual(r.json["LastEvaluatedKey"], {k: r.json["Items"][-1][k] for k in ("pk", "sk", "g")})
        # LSI: pk, sk, ls
        r = self.raw("Query", {"TableName": self.t, "IndexName": "lk_ix", "Limit": 2, "KeyConditionExpression": "pk = :p",
                               "ExpressionAttributeValues": {":p": S("p0")}})
        self.assertEqual(r.json["LastEvaluatedKey"], {k: r.json["Items"][-1][k] for k in ("pk", "sk", "ls_ix")})

    def test_backfilling_message_shape_absent_when_active(self):
        d = self.describe(self.t)
        for g in d["GlobalSecondaryIndexes"]:
            self.assertEqual(g["IndexStatus"], "ACTIVE")
            self.assertNotIn("Backfilling", g)
        for l in d["LocalSecondaryIndexes"]:
            self.assertNotIn("IndexStatus", l)
            self.assertNotIn("ProvisionedThroughput", l)


# -- write errors --------------------------------------------------------------------------------

class WriteErrorsTest(IndexTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.t = "write_errors"
        cls.ddb.create_table(
            TableName=cls.t, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=ad(("pk", "S"), ("sk", "S"), ("g", "S"), ("n", "N"), ("l", "S")),
            KeySchema=ks("pk", "sk"),
            GlobalSecondaryIndexes=[gsi("gs_ix", "g", "n", proj("ALL"))],
            LocalSecondaryIndexes=[lsi("ls_ix", "l", proj("KEYS_ONLY"))])
        cls.key = {"pk": S("k"), "sk": S("1")}
        cls.item = dict(cls.key, g=S("G"), n=N(5), l=S("L"), other=S("text"), m={"M": {"x": S("y")}})
        cls.ddb.put_item(TableName=cls.t, Item=cls.item)

    def refused(self, op, body, message, prefix=None):
        r = self.raw(op, dict(body, TableName=self.t))
        self.assertRaw(r, VE, message, prefix=prefix)
        self.assertEqual(self.get(self.t, self.key), self.item)

    def mismatch(self, attr, want, got, index):
        return INVALID + "Type mismatch for Index Key %s Expected: %s Actual: %s IndexName: %s" % (
            attr, want, got, index)

    def test_put_type_mismatch(self):
        base = dict(self.item)
        self.refused("PutItem", {"Item": dict(base, g=N(1))}, self.mismatch("g", "S", "N", "gs_ix"))
        self.refused("PutItem", {"Item": dict(base, n=S("5"))}, self.mismatch("n", "N", "S", "gs_ix"))
        self.refused("PutItem", {"Item": dict(base, g={"NULL": True})}, self.mismatch("g", "S", "NULL", "gs_ix"))
        self.refused("PutItem", {"Item": dict(base, l={"B": base64.b64encode(b"x").decode()})},
                     self.mismatch("l", "S", "B", "ls_ix"))
        self.refused("PutItem", {"Item": dict(base, g={"SS": ["a"]})}, self.mismatch("g", "S", "SS", "gs_ix"))
        # a new item is refused as well
        r = self.raw("PutItem", {"TableName": self.t, "Item": {"pk": S("new"), "sk": S("1"), "n": {"BOOL": True}}})
        self.assertRaw(r, VE, self.mismatch("n", "N", "BOOL", "gs_ix"))
        self.assertIsNone(self.get(self.t, {"pk": S("new"), "sk": S("1")}))

    def test_put_empty_index_key(self):
        self.refused("PutItem", {"Item": dict(self.item, g=S(""))},
                     "One or more parameter values are not valid. A value specified for a secondary index key is "
                     "not supported. The AttributeValue for a key attribute cannot contain an empty string value. "
                     "IndexName: gs_ix, IndexKey: g")

    def test_batch_type_mismatch_writes_nothing(self):
        other = {"pk": S("batch"), "sk": S("1"), "g": S("ok"), "n": N(1)}
        r = self.raw("BatchWriteItem", {"RequestItems": {self.t: [
            {"PutRequest": {"Item": other}}, {"PutRequest": {"Item": dict(self.item, n=S("x"))}}]}})
        self.assertRaw(r, VE, contains="Type mismatch for Index Key n")
        self.assertIsNone(self.get(self.t, {"pk": S("batch"), "sk": S("1")}))
        self.assertEqual(self.get(self.t, self.key), self.item)

    def test_update_nested_path_into_index_key(self):
        m = "Key attributes must be scalars; list random access '[]' and map lookup '.' are not allowed: IndexKey: %s"
        self.refused("UpdateItem", {"Key": self.key, "UpdateExpression": "SET g.x = :v",
                                    "ExpressionAttributeValues": {":v": S("1")}}, m % "g")
        self.refused("UpdateItem", {"Key": self.key, "UpdateExpression": "SET l[0] = :v",
                                    "ExpressionAttributeValues": {":v": S("1")}}, m % "l")
        self.refused("UpdateItem", {"Key": self.key, "UpdateExpression": "REMOVE n.deep"}, m % "n")

    def test_update_type_mismatch_literal(self):
        self.refused("UpdateItem", {"Key": self.key, "UpdateExpression": "SET n = :v",
                                    "ExpressionAttributeValues": {":v": S("5")}}, self.mismatch("n", "N", "S", "gs_ix"))
        self.refused("UpdateItem", {"Key": self.key, "UpdateExpression": "SET #o = :o, g = :v",
                                    "ExpressionAttributeNames": {"#o": "other"},
                                    "ExpressionAttributeValues": {":v": N(5), ":o": S("changed")}},
                     self.mismatch("g", "S", "N", "gs_ix"))
        self.refused("UpdateItem", {"Key": self.key, "UpdateExpression": "SET #l = :v",
                                    "ExpressionAttributeNames": {"#l": "l"},
                                    "ExpressionAttributeValues": {":v": {"L": []}}}, self.mismatch("l", "S", "L", "ls_ix"))
        # on a missing item too (checked before the item is read)
        r = self.raw("UpdateItem", {"TableName": self.t, "Key": {"pk": S("absent"), "sk": S("1")},
                                    "UpdateExpression": "SET g = :v", "ExpressionAttributeValues": {":v": N(1)}})
        self.assertRaw(r, VE, self.mismatch("g", "S", "N", "gs_ix"))
        self.assertIsNone(self.get(self.t, {"pk": S("absent"), "sk": S("1")}))

    def test_update_copied_value_of_wrong_type(self):
        self.refused("UpdateItem", {"Key": self.key, "UpdateExpression": "SET n = #o",
                                    "ExpressionAttributeNames": {"#o": "other"}},
                     "The update expression attempted to update the secondary index key to unsupported type")
        self.refused("UpdateItem", {"Key": self.key, "UpdateExpression": "SET g = if_not_exists(nothing, :v)",
                                    "ExpressionAttributeValues": {":v": N(3)}},
                     "The update expression attempted to update the secondary index key to unsupported type")
        # a copied value of the right type is fine
        self.ddb.update_item(TableName=self.t, Key=self.key, UpdateExpression="SET l = g")
        self.assertEqual(self.get(self.t, self.key)["l"], S("G"))
        self.ddb.put_item(TableName=self.t, Item=self.item)

    def test_update_empty_index_key(self):
        self.refused("UpdateItem", {"Key": self.key, "UpdateExpression": "SET g = :v",
                                    "ExpressionAttributeValues": {":v": S("")}},
                     "One or more parameter values are not valid. The update expression attempted to update a "
                     "secondary index key to a value that is not supported. The AttributeValue for a key attribute "
                     "cannot contain an empty string value.")

    def test_legal_writes_after_errors(self):
        # removing an index key attribute or giving it another legal value is fine
        self.ddb.update_item(TableName=self.t, Key=self.key, UpdateExpression="REMOVE n SET l = :l",
                             ExpressionAttributeValues={":l": S("L2")})
        self.assertEqual(self.query_all(self.t, "gs_ix", "g = :g", {":g": S("G")}), [])
        self.assertEqual(len(self.query_all(self.t, "ls_ix", "pk = :p AND l = :l", {":p": S("k"), ":l": S("L2")})), 1)
        self.ddb.put_item(TableName=self.t, Item=self.item)
        self.assertEqual(self.query_all(self.t, "gs_ix", "g = :g", {":g": S("G")}), [self.item])


# -- index key changes -------------------------------------------------------------------------------

class KeyChangesTest(IndexTestCase):

    def test_moves_leaves_and_returns(self):
        n = self.create(defs=(("pk", "S"), ("sk", "S"), ("g", "S"), ("r", "N"), ("l", "N")),
                        gsis=[gsi("gr_ix", "g", "r", proj("INCLUDE", ["v"]))], lsis=[lsi("ll_ix", "l", proj("KEYS_ONLY"))])
        key = {"pk": S("a"), "sk": S("1")}

        def gq(g):
            return self.query_all(n, "gr_ix", "g = :g", {":g": S(g)})

        def lq():
            return [i["sk"]["S"] for i in self.query_all(n, "ll_ix", "pk = :p", {":p": S("a")})]

        self.ddb.put_item(TableName=n, Item=dict(key, g=S("one"), r=N(1), v=S("v1"), w=S("w"), l=N(5)))
        self.ddb.put_item(TableName=n, Item={"pk": S("a"), "sk": S("2"), "l": N(3)})
        self.assertEqual(gq("one"), [dict(key, g=S("one"), r=N(1), v=S("v1"))])
        self.assertEqual(lq(), ["2", "1"])
        # move to another partition
        self.ddb.update_item(TableName=n, Key=key, UpdateExpression="SET g = :g", ExpressionAttributeValues={":g": S("two")})
        self.assertEqual(gq("one"), [])
        self.assertEqual(gq("two"), [dict(key, g=S("two"), r=N(1), v=S("v1"))])
        # the sort key changes; a projected attribute changes; a non-projected one does not show
        self.ddb.update_item(TableName=n, Key=key, UpdateExpression="SET r = :r, v = :v, w = :w, l = :l",
                             ExpressionAttributeValues={":r": N(-7), ":v": S("v2"), ":w": S("w2"), ":l": N(1)})
        self.assertEqual(gq("two"), [dict(key, g=S("two"), r=N(-7), v=S("v2"))])
        self.assertEqual(lq(), ["1", "2"])
        # leave the sparse indexes (attribute removed), the item stays in the table
        self.ddb.update_item(TableName=n, Key=key, UpdateExpression="REMOVE r, l")
        self.assertEqual(gq("two"), [])
        self.assertEqual(lq(), ["2"])
        self.assertEqual(self.index_entry(n, "gr_ix")["ItemCount"], 0)
        # come back
        self.ddb.update_item(TableName=n, Key=key, UpdateExpression="SET r = :r", ExpressionAttributeValues={":r": N(2)})
        self.assertEqual(gq("two"), [dict(key, g=S("two"), r=N(2), v=S("v2"))])
        # a put without the attribute leaves, a put with it returns
        self.ddb.put_item(TableName=n, Item=dict(key, g=S("two")))
        self.assertEqual(gq("two"), [])
        self.ddb.put_item(TableName=n, Item=dict(key, g=S("three"), r=N(0)))
        self.assertEqual(gq("three"), [dict(key, g=S("three"), r=N(0))])
        # delete leaves every index
        self.ddb.delete_item(TableName=n, Key=key)
        self.ddb.delete_item(TableName=n, Key={"pk": S("a"), "sk": S("2")})
        self.assertEqual(gq("three"), [])
        self.assertEqual(lq(), [])
        self.assertEqual(self.index_entry(n, "gr_ix")["ItemCount"], 0)
        self.assertEqual(self.index_entry(n, "ll_ix")["ItemCount"], 0)

    def test_numeric_and_binary_index_keys(self):
        n = self.create(defs=(("pk", "S"), ("sk", "S"), ("nb", "N"), ("bb", "B")),
                        gsis=[gsi("gn_ix", "nb", "bb", proj("KEYS_ONLY"))])
        vals = [b"\x00", b"\x7f", b"\x80", b"\xff", b"\xff\x00", b"a"]
        for i, v in enumerate(vals):
            self.ddb.put_item(TableName=n, Item={"pk": S("p%d" % i), "sk": S("s"), "nb": N("1.50"), "bb": {"B": v}})
        # 1.5 and 1.50 are one partition; binary sort key by unsigned bytes
        got = self.query_all(n, "gn_ix", "nb = :n", {":n": N("1.5")})
        self.assertEqual([i["bb"]["B"] for i in got], sorted(vals))
        got = self.query_all(n, "gn_ix", "nb = :n AND begins_with(bb, :b)", {":n": N(1.5), ":b": {"B": b"\xff"}})
        self.assertEqual([i["bb"]["B"] for i in got], [b"\xff", b"\xff\x00"])
        got = self.query_all(n, "gn_ix", "nb = :n AND bb > :b", {":n": N(1.5), ":b": {"B": b"\x7f"}},
                             ScanIndexForward=False)
        self.assertEqual([i["bb"]["B"] for i in got], [b"\xff\x00", b"\xff", b"\x80"])

    def test_ties_broken_by_table_key(self):
        n = self.create(defs=(("pk", "S"), ("sk", "S"), ("g", "S"), ("r", "N")),
                        gsis=[gsi("gt_ix", "g", "r", proj("KEYS_ONLY"))])
        items = [{"pk": S("p%d" % (i % 7)), "sk": S("s%d" % i), "g": S("G"), "r": N(i % 3)} for i in range(40)]
        self.batch_put(n, items)
        # ties: by the table key (partition key, then sort key), as dynafiled promises
        want = sorted(items, key=lambda it: (int(it["r"]["N"]), it["pk"]["S"], it["sk"]["S"]))
        got = self.query_all(n, "gt_ix", "g = :g", {":g": S("G")})
        self.assertEqual(got, want)
        got = self.query_all(n, "gt_ix", "g = :g", {":g": S("G")}, ScanIndexForward=False, Limit=3)
        self.assertEqual(got, want[::-1])

    def test_backfill_skips_wrong_types_then_refuses_them(self):
        n = self.create()
        items = [{"pk": S("p%d" % i), "sk": S("s"), "x": (S("v%d" % (i % 4)) if i % 3 else N(i))} for i in range(30)]
        items.append({"pk": S("empty"), "sk": S("s"), "x": S("")})
        items.append({"pk": S("none"), "sk": S("s")})
        self.batch_put(n, items)
        self.ddb.update_table(TableName=n, AttributeDefinitions=ad(("x", "S")),
                              GlobalSecondaryIndexUpdates=[gsi_create("gx_ix", "x", None, proj("KEYS_ONLY"))])
        d = self.wait_active(n, "gx_ix")
        self.assertEqual(sorted((a["AttributeName"], a["AttributeType"]) for a in d["AttributeDefinitions"]),
                         [("pk", "S"), ("sk", "S"), ("x", "S")])
        want = expected_entries(items, "x", None, {"x": "S"}, "KEYS_ONLY")
        self.assertEqual(sorted(map(canon, self.scan_all(n, IndexName="gx_ix"))), sorted(map(canon, want)))
        self.assertEqual(self.index_entry(n, "gx_ix")["ItemCount"], len(want))
        r = self.raw("PutItem", {"TableName": n, "Item": {"pk": S("p0"), "sk": S("s"), "x": N(1)}})
        self.assertRaw(r, VE, INVALID + "Type mismatch for Index Key x Expected: S Actual: N IndexName: gx_ix")
        # An UpdateItem that leaves the misfit attribute alone is not refused (the
        # item stays out of the index); one that rewrites it to another misfit is.
        self.ddb.update_item(TableName=n, Key={"pk": S("p0"), "sk": S("s")}, UpdateExpression="SET v = :v",
                             ExpressionAttributeValues={":v": N(7)})
        self.assertEqual(self.get(n, {"pk": S("p0"), "sk": S("s")})["v"], N(7))
        self.assertEqual(self.index_entry(n, "gx_ix")["ItemCount"], len(want))
        r = self.raw("UpdateItem", {"TableName": n, "Key": {"pk": S("p0"), "sk": S("s")},
                                    "UpdateExpression": "SET x = #v", "ExpressionAttributeNames": {"#v": "v"}})
        self.assertRaw(r, VE, "The update expression attempted to update the secondary index key to unsupported type")


# -- UpdateTable ------------------------------------------------------------------------------------

class UpdateTableIndexTest(IndexTestCase):

    def base(self):
        return self.create(defs=(("pk", "S"), ("sk", "S"), ("g", "S")), gsis=[gsi("g1_ix", "g")])

    def ut(self, name, updates, defs=None, **extra):
        body = {"TableName": name, "GlobalSecondaryIndexUpdates": updates}
        if defs:
            body["AttributeDefinitions"] = ad(*defs)
        body.update(extra)
        return self.raw("UpdateTable", body)

    def test_errors(self):
        n = self.base()
        r = self.ut(n, [gsi_create("g1_ix", "g")], defs=[("g", "S")])
        self.assertRaw(r, VE, contains="already exists")
        r = self.ut(n, [gsi_create("g2_ix", "h")])
        self.assertRaw(r, VE, contains="AttributeDefinitions")
        r = self.ut(n, [{"Delete": {"IndexName": "nope"}}])
        self.assertRaw(r, RNF)
        r = self.ut(n, [{"Update": {"IndexName": "nope", "ProvisionedThroughput": {"ReadCapacityUnits": 1,
                                                                                   "WriteCapacityUnits": 1}}}])
        self.assertRaw(r, RNF)
        lee = "Subscriber limit exceeded: Only 1 online index can be created or deleted simultaneously per table"
        r = self.ut(n, [gsi_create("g2_ix", "h"), gsi_create("g3_ix", "h")], defs=[("h", "S")])
        self.assertRaw(r, LEE, lee)
        r = self.ut(n, [gsi_create("g2_ix", "h"), {"Delete": {"IndexName": "g1_ix"}}], defs=[("h", "S")])
        self.assertRaw(r, LEE, lee)
        r = self.ut(n, [{"Delete": {"IndexName": "g1_ix"}}, {"Update": {"IndexName": "g1_ix", "ProvisionedThroughput": {
            "ReadCapacityUnits": 1, "WriteCapacityUnits": 1}}}])
        self.assertRaw(r, VE, INVALID + "Only one global secondary index update per index is allowed "
                              "simultaneously. Index: g1_ix")
        r = self.ut(n, [{}])
        self.assertRaw(r, VE, INVALID + "One of GlobalSecondaryIndexUpdate.Update, GlobalSecondaryIndexUpdate.Create, "
                              "GlobalSecondaryIndexUpdate.Delete must not be null")
        r = self.ut(n, [gsi_create("g2_ix", "h")], defs=[("h", "S")],
                    StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
        self.assertRaw(r, VE, INVALID + "You cannot create or delete index while changing stream status")
        r = self.ut("no_such_table", [{"Delete": {"IndexName": "g1_ix"}}])
        self.assertRaw(r, RNF)
        # nothing of it changed the table
        d = self.describe(n)
        self.assertEqual([g["IndexName"] for g in d["GlobalSecondaryIndexes"]], ["g1_ix"])
        self.assertNotIn("StreamSpecification", d)

    def test_create_and_delete(self):
        n = self.base()
        items = [{"pk": S("p%d" % i), "sk": S("s%d" % (i % 3)), "g": S("G%d" % (i % 2)), "h": N(i % 5),
                  "v": S("v%d" % i), "w": S("w")} for i in range(60)]
        self.batch_put(n, items)
        r = self.ddb.update_table(TableName=n, AttributeDefinitions=ad(("h", "N"), ("g", "S")),
                                  GlobalSecondaryIndexUpdates=[gsi_create("g2_ix", "h", "g", proj("INCLUDE", ["v"]))])
        e = {g["IndexName"]: g for g in r["TableDescription"]["GlobalSecondaryIndexes"]}
        self.assertIn(e["g2_ix"]["IndexStatus"], ("CREATING", "ACTIVE"))
        self.assertEqual(e["g2_ix"]["IndexArn"], r["TableDescription"]["TableArn"] + "/index/g2_ix")
        d = self.wait_active(n, "g2_ix")
        self.assertEqual(d["TableStatus"], "ACTIVE")
        self.assertEqual(sorted((a["AttributeName"], a["AttributeType"]) for a in d["AttributeDefinitions"]),
                         [("g", "S"), ("h", "N"), ("pk", "S"), ("sk", "S")])
        want = expected_entries(items, "h", "g", {"h": "N", "g": "S"}, "INCLUDE", ["v"])
        self.assertEqual(sorted(map(canon, self.scan_all(n, IndexName="g2_ix"))), sorted(map(canon, want)))
        got = self.query_all(n, "g2_ix", "h = :h", {":h": N(3)})
        self.assertEqual([i["g"]["S"] for i in got], sorted(i["g"]["S"] for i in got))
        self.assertEqual(len(got), 12)
        # a write after the create is indexed at once
        self.ddb.put_item(TableName=n, Item={"pk": S("new"), "sk": S("s"), "h": N(3), "g": S("A")})
        self.assertEqual(self.query_all(n, "g2_ix", "h = :h", {":h": N(3)})[0]["pk"], S("new"))
        # Update: throughput of an on-demand GSI is refused or accepted, but never breaks the index
        # Delete
        self.ddb.update_table(TableName=n, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": "g1_ix"}}])
        deadline = time.monotonic() + 30 * SLOW
        while any(g["IndexName"] == "g1_ix" for g in self.describe(n).get("GlobalSecondaryIndexes", [])):
            self.assertLess(time.monotonic(), deadline, "g1_ix still listed")
            time.sleep(0.05)
        r = self.raw("Query", {"TableName": n, "IndexName": "g1_ix", "KeyConditionExpression": "g = :g",
                               "ExpressionAttributeValues": {":g": S("G0")}})
        self.assertRaw(r, VE, "The table does not have the specified index: g1_ix")
        self.assertEqual(len(self.scan_all(n, IndexName="g2_ix")), len(want) + 1)
        # the name can be used again; the new index has the items
        self.ddb.update_table(TableName=n, AttributeDefinitions=ad(("w", "S")),
                              GlobalSecondaryIndexUpdates=[gsi_create("g1_ix", "w", None, proj("KEYS_ONLY"))])
        self.wait_active(n, "g1_ix")
        self.assertEqual(len(self.query_all(n, "g1_ix", "w = :w", {":w": S("w")})), 60)
        # deleting every GSI leaves a table without the member
        for ix in ("g1_ix", "g2_ix"):
            self.ddb.update_table(TableName=n, GlobalSecondaryIndexUpdates=[{"Delete": {"IndexName": ix}}])
            deadline = time.monotonic() + 30 * SLOW
            while any(g["IndexName"] == ix for g in self.describe(n).get("GlobalSecondaryIndexes", [])):
                self.assertLess(time.monotonic(), deadline, ix + " still listed")
                time.sleep(0.05)
        self.assertEqual(self.describe(n).get("GlobalSecondaryIndexes", []), [])
        self.assertEqual(len(self.scan_all(n)), 61)

    def test_update_throughput_of_provisioned_gsi(self):
        n = self.create(defs=(("pk", "S"), ("sk", "S"), ("g", "S")), provisioned=(5, 5),
                        gsis=[gsi("g1_ix", "g", throughput=(1, 1))])
        self.ddb.update_table(TableName=n, GlobalSecondaryIndexUpdates=[{"Update": {
            "IndexName": "g1_ix", "ProvisionedThroughput": {"ReadCapacityUnits": 7, "WriteCapacityUnits": 8}}}])
        e = self.wait_active(n)["GlobalSecondaryIndexes"][0]
        self.assertEqual((e["ProvisionedThroughput"]["ReadCapacityUnits"],
                          e["ProvisionedThroughput"]["WriteCapacityUnits"]), (7, 8))


# -- a big backfill while a writer writes ------------------------------------------------------------

class BigBackfillTest(IndexTestCase):
    """A GSI created on BIG items while a writer thread writes."""

    daemon_kwargs = {"fsync": False, "extra_args": ["--backfill-items", "1000", "--backfill-delay-ms",
                                                    str(max(5, 2000 // max(1, BIG // 1000)))]}

    def test_create_gsi_on_big_table_while_writing(self):
        n = self.create()
        rng = random.Random(7)
        items = [{"pk": S("p%06d" % i), "sk": S("s%d" % (i % 3)), "g": S("G%03d" % (i % 500)), "r": N(i % 97),
                  "v": S("v" * (i % 20)), "w": S("not projected")} for i in range(BIG)]
        for it in items[::11]:
            del it["r"]           # sparse
        for it in items[::13]:
            it["r"] = S("wrong type")
        chunks = [items[i::4] for i in range(4)]
        errors = []

        def load(chunk):
            try:
                self.batch_put(n, chunk, client=self.daemon.client())
            except Exception as e:  # reported below
                errors.append(e)
        ts = [threading.Thread(target=load, args=(c,)) for c in chunks]
        for t in ts:
            t.start()
        for t in ts:
            t.join()
        self.assertEqual(errors, [])

        stop = threading.Event()
        writes = [0]

        def writer():
            c = self.daemon.client()
            wr = random.Random(11)
            try:
                while not stop.is_set():
                    i = wr.randrange(BIG + 2000)
                    if i % 13 == 0:
                        continue          # items with a wrong-typed r: what updates of them do is not pinned down
                    key = {"pk": S("p%06d" % i), "sk": S("s%d" % (i % 3))}
                    x = wr.random()
                    if x < 0.35:
                        c.put_item(TableName=n, Item=dict(key, g=S("G%03d" % wr.randrange(500)), r=N(wr.randrange(97)),
                                                          v=S("new")))
                    elif x < 0.6:
                        c.update_item(TableName=n, Key=key, UpdateExpression="SET g = :g, r = :r",
                                      ExpressionAttributeValues={":g": S("G%03d" % wr.randrange(500)),
                                                                 ":r": N(wr.randrange(97))})
                    elif x < 0.75:
                        c.update_item(TableName=n, Key=key, UpdateExpression="REMOVE r")
                    elif x < 0.85:
                        c.update_item(TableName=n, Key=key, UpdateExpression="SET v = :v",
                                      ExpressionAttributeValues={":v": S("upd")})
                    else:
                        c.delete_item(TableName=n, Key=key)
                    writes[0] += 1
            except Exception as e:  # reported below
                errors.append(e)

        wt = threading.Thread(target=writer)
        wt.start()
        try:
            time.sleep(0.3)
            r = self.ddb.update_table(TableName=n, AttributeDefinitions=ad(("g", "S"), ("r", "N")),
                                      GlobalSecondaryIndexUpdates=[gsi_create("gnew", "g", "r",
                                                                              proj("INCLUDE", ["v"]))])
            e, = r["TableDescription"]["GlobalSecondaryIndexes"]
            self.assertEqual(e["IndexStatus"], "CREATING")
            seen_backfilling = refused = second = 0
            deadline = time.monotonic() + 300 * SLOW
            while True:
                d = self.describe(n)
                self.assertEqual(d["TableStatus"], "ACTIVE")
                e = self.index_entry(n, "gnew")
                if e["IndexStatus"] == "ACTIVE":
                    self.assertNotIn("Backfilling", e)
                    break
                self.assertEqual(e["IndexStatus"], "CREATING")
                if e.get("Backfilling") is True:
                    seen_backfilling += 1
                q = self.raw("Query", {"TableName": n, "IndexName": "gnew", "KeyConditionExpression": "g = :g",
                                       "ExpressionAttributeValues": {":g": S("G001")}})
                if q.status == 400:
                    self.assertRaw(q, VE, "Cannot read from backfilling global secondary index: gnew")
                    s = self.raw("Scan", {"TableName": n, "IndexName": "gnew"})
                    if s.status == 400:
                        self.assertRaw(s, VE, "Cannot read from backfilling global secondary index: gnew")
                    refused += 1
                if not second:
                    # another create while this one builds: LimitExceeded
                    r2 = self.raw("UpdateTable", {"TableName": n, "AttributeDefinitions": ad(("v", "S")),
                                                  "GlobalSecondaryIndexUpdates": [gsi_create("gother", "v")]})
                    if r2.status == 200:
                        self.assertEqual(self.index_entry(n, "gnew")["IndexStatus"], "ACTIVE",
                                         "a second GSI create was accepted while gnew was CREATING")
                        second = 2
                    else:
                        self.assertRaw(r2, LEE)
                        second = 1
                self.assertLess(time.monotonic(), deadline, "backfill did not finish: %s" % e)
                time.sleep(0.05)
            self.assertGreater(seen_backfilling, 0, "never saw Backfilling true")
            self.assertGreater(refused, 0, "no read of the backfilling index was refused")
            self.assertEqual(second, 1, "no second create was tried while gnew was CREATING")
            time.sleep(0.3)
        finally:
            stop.set()
            wt.join()
        self.assertEqual(errors, [])
        self.assertGreater(writes[0], 10)
        table = self.scan_all(n)
        want = expected_entries(table, "g", "r", {"g": "S", "r": "N"}, "INCLUDE", ["v"])
        got = self.scan_all(n, IndexName="gnew")
        if sorted(map(canon, got)) != sorted(map(canon, want)):
            g, w = set(map(canon, got)), set(map(canon, want))
            self.fail("index differs from the table (%d writes during the backfill): %d entries, expected %d; "
                      "extra %s; missing %s" % (writes[0], len(got), len(want), sorted(g - w)[:3], sorted(w - g)[:3]))
        self.assertEqual(self.index_entry(n, "gnew")["ItemCount"], len(want))
        for gv in ("G000", "G123", "G499"):
            q = self.query_all(n, "gnew", "g = :g", {":g": S(gv)})
            self.assertEqual(sorted(map(canon, q)), sorted(canon(e) for e in want if e["g"]["S"] == gv))
            self.assertEqual([int(i["r"]["N"]) for i in q], sorted(int(i["r"]["N"]) for i in q))


# -- table lifecycle, TTL, streams, restart, capacity ---------------------------------------------------

class LifecycleTest(IndexTestCase):

    def test_delete_table_with_indexes(self):
        defs = (("pk", "S"), ("sk", "S"), ("g", "S"), ("l", "N"))
        n = self.create(defs=defs, gsis=[gsi("gd_ix", "g")], lsis=[lsi("ld_ix", "l")])
        self.batch_put(n, [{"pk": S("p%d" % i), "sk": S("s"), "g": S("G"), "l": N(i)} for i in range(50)])
        r = self.ddb.delete_table(TableName=n)
        self.assertIn(r["TableDescription"]["TableStatus"], ("DELETING", "ACTIVE"))
        deadline = time.monotonic() + 30 * SLOW
        while self.raw("DescribeTable", {"TableName": n}).status == 200:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        # the same name without indexes
        self.create(name=n)
        r = self.raw("Query", {"TableName": n, "IndexName": "gd_ix", "KeyConditionExpression": "g = :g",
                               "ExpressionAttributeValues": {":g": S("G")}})
        self.assertRaw(r, VE, "The table does not have the specified index: gd_ix")
        self.ddb.delete_table(TableName=n)
        deadline = time.monotonic() + 30 * SLOW
        while self.raw("DescribeTable", {"TableName": n}).status == 200:
            self.assertLess(time.monotonic(), deadline)
            time.sleep(0.05)
        # and with the same indexes again: empty
        self.create(name=n, defs=defs, gsis=[gsi("gd_ix", "g")], lsis=[lsi("ld_ix", "l")])
        self.assertEqual(self.query_all(n, "gd_ix", "g = :g", {":g": S("G")}), [])
        self.assertEqual(self.index_entry(n, "gd_ix")["ItemCount"], 0)
        self.assertEqual(self.index_entry(n, "ld_ix")["ItemCount"], 0)

    def test_stream_records_carry_table_keys_only(self):
        n = self.create(defs=(("pk", "S"), ("sk", "S"), ("g", "S")), gsis=[gsi("gs_ix", "g")],
                        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        key = {"pk": S("a"), "sk": S("b")}
        self.ddb.put_item(TableName=n, Item=dict(key, g=S("one")))
        self.ddb.update_item(TableName=n, Key=key, UpdateExpression="SET g = :g", ExpressionAttributeValues={":g": S("two")})
        self.ddb.update_item(TableName=n, Key=key, UpdateExpression="REMOVE g")
        self.ddb.delete_item(TableName=n, Key=key)
        sc = streams_client(self.daemon)
        arn = self.describe(n)["LatestStreamArn"]
        shard = sc.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
        it = sc.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")["ShardIterator"]
        recs = sc.get_records(ShardIterator=it)["Records"]
        self.assertEqual([r["eventName"] for r in recs], ["INSERT", "MODIFY", "MODIFY", "REMOVE"])
        for r in recs:
            self.assertEqual(r["dynamodb"]["Keys"], key)
        self.assertEqual(recs[1]["dynamodb"]["NewImage"], dict(key, g=S("two")))
        self.assertEqual(self.query_all(n, "gs_ix", "g = :g", {":g": S("two")}), [])

    def test_consumed_capacity(self):
        n = self.create(defs=(("pk", "S"), ("sk", "S"), ("g", "S"), ("l", "N")),
                        gsis=[gsi("gc_ix", "g", projection=proj("KEYS_ONLY"))],
                        lsis=[lsi("lc_ix", "l", proj("KEYS_ONLY"))])
        key = {"pk": S("a"), "sk": S("b")}

        def put(item, mode="INDEXES"):
            return self.ddb.put_item(TableName=n, Item=item, ReturnConsumedCapacity=mode)["ConsumedCapacity"]

        self.assertEqual(put(dict(key, g=S("G"), l=N(1), x=S("x"))), {
            "TableName": n, "CapacityUnits": 3.0, "Table": {"CapacityUnits": 1.0},
            "GlobalSecondaryIndexes": {"gc_ix": {"CapacityUnits": 1.0}},
            "LocalSecondaryIndexes": {"lc_ix": {"CapacityUnits": 1.0}}})
        # moving the GSI key costs 2 there; the LSI entry is unchanged (only a non-projected attribute changes)
        self.assertEqual(put(dict(key, g=S("H"), l=N(1), x=S("y"))), {
            "TableName": n, "CapacityUnits": 3.0, "Table": {"CapacityUnits": 1.0},
            "GlobalSecondaryIndexes": {"gc_ix": {"CapacityUnits": 2.0}}})
        self.assertEqual(put(dict(key, g=S("H"), l=N(1), x=S("z")), "TOTAL"), {"TableName": n, "CapacityUnits": 1.0})
        # an item in no index: no index arm
        self.assertEqual(put({"pk": S("c"), "sk": S("d"), "x": S("x")}),
                         {"TableName": n, "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0}})
        r = self.ddb.delete_item(TableName=n, Key=key, ReturnConsumedCapacity="INDEXES")["ConsumedCapacity"]
        self.assertEqual(r, {"TableName": n, "CapacityUnits": 3.0, "Table": {"CapacityUnits": 1.0},
                             "GlobalSecondaryIndexes": {"gc_ix": {"CapacityUnits": 1.0}},
                             "LocalSecondaryIndexes": {"lc_ix": {"CapacityUnits": 1.0}}})
        put(dict(key, g=S("G"), l=N(1)))
        r = self.ddb.query(TableName=n, IndexName="gc_ix", KeyConditionExpression="g = :g",
                           ExpressionAttributeValues={":g": S("G")}, ReturnConsumedCapacity="INDEXES")
        self.assertEqual(r["Count"], 1)
        self.assertEqual(r["ConsumedCapacity"], {"TableName": n, "CapacityUnits": 0.5, "Table": {"CapacityUnits": 0.0},
                                                 "GlobalSecondaryIndexes": {"gc_ix": {"CapacityUnits": 0.5}}})
        r = self.ddb.query(TableName=n, IndexName="gc_ix", KeyConditionExpression="g = :g",
                           ExpressionAttributeValues={":g": S("G")}, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(r["ConsumedCapacity"], {"TableName": n, "CapacityUnits": 0.5})
        r = self.ddb.query(TableName=n, IndexName="lc_ix", KeyConditionExpression="pk = :p", ConsistentRead=True,
                           ExpressionAttributeValues={":p": S("a")}, ReturnConsumedCapacity="INDEXES")
        self.assertEqual(r["ConsumedCapacity"], {"TableName": n, "CapacityUnits": 1.0, "Table": {"CapacityUnits": 0.0},
                                                 "LocalSecondaryIndexes": {"lc_ix": {"CapacityUnits": 1.0}}})
        r = self.ddb.scan(TableName=n, IndexName="gc_ix", ReturnConsumedCapacity="INDEXES")
        self.assertEqual(r["ConsumedCapacity"], {"TableName": n, "CapacityUnits": 0.5, "Table": {"CapacityUnits": 0.0},
                                                 "GlobalSecondaryIndexes": {"gc_ix": {"CapacityUnits": 0.5}}})

    def test_item_collection_metrics(self):
        icm = {"ItemCollectionKey": {"pk": S("a")}, "SizeEstimateRangeGB": [0.0, 1.0]}
        n = self.create(defs=(("pk", "S"), ("sk", "S"), ("l", "N")), lsis=[lsi("lm_ix", "l", proj("KEYS_ONLY"))])
        key = {"pk": S("a"), "sk": S("b")}
        r = self.ddb.put_item(TableName=n, Item=dict(key, l=N(1)), ReturnItemCollectionMetrics="SIZE")
        self.assertEqual(r["ItemCollectionMetrics"], icm)
        r = self.ddb.update_item(TableName=n, Key=key, UpdateExpression="SET l = :v",
                                 ExpressionAttributeValues={":v": N(2)}, ReturnItemCollectionMetrics="SIZE")
        self.assertEqual(r["ItemCollectionMetrics"], icm)
        r = self.ddb.put_item(TableName=n, Item=dict(key, l=N(3)))
        self.assertNotIn("ItemCollectionMetrics", r)
        r = self.ddb.batch_write_item(RequestItems={n: [{"PutRequest": {"Item": {"pk": S("c"), "sk": S("d")}}},
                                                       {"DeleteRequest": {"Key": key}}]},
                                      ReturnItemCollectionMetrics="SIZE")
        self.assertEqual(r["ItemCollectionMetrics"],
                         {n: [{"ItemCollectionKey": {"pk": S("c")}, "SizeEstimateRangeGB": [0.0, 1.0]}, icm]})
        r = self.ddb.delete_item(TableName=n, Key={"pk": S("c"), "sk": S("d")}, ReturnItemCollectionMetrics="SIZE")
        self.assertEqual(r["ItemCollectionMetrics"]["ItemCollectionKey"], {"pk": S("c")})
        # a table without an LSI answers none (AWS omits it)
        m = self.create(gsis=[gsi("gm_ix", "sk", projection=proj("KEYS_ONLY"))])
        r = self.ddb.put_item(TableName=m, Item=key, ReturnItemCollectionMetrics="SIZE")
        self.assertNotIn("ItemCollectionMetrics", r)
        r = self.ddb.batch_write_item(RequestItems={m: [{"PutRequest": {"Item": key}}]},
                                      ReturnItemCollectionMetrics="SIZE")
        self.assertNotIn("ItemCollectionMetrics", r)


class TtlIndexTest(IndexTestCase):
    daemon_kwargs = {"fsync": False, "extra_args": ["--ttl-sweep-ms", "200"]}

    def test_ttl_deletion_removes_index_entries(self):
        n = self.create(defs=(("pk", "S"), ("sk", "S"), ("g", "S"), ("l", "N")),
                        gsis=[gsi("gt_ix", "g")], lsis=[lsi("lt_ix", "l")])
        self.ddb.update_time_to_live(TableName=n, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
        now = int(time.time())
        items = [{"pk": S("p%d" % i), "sk": S("s"), "g": S("G"), "l": N(i),
                  "exp": N(now - 100 if i % 2 else now + 3600)} for i in range(20)]
        self.batch_put(n, items)
        deadline = time.monotonic() + 30 * SLOW
        while True:
            counts = (self.index_entry(n, "gt_ix")["ItemCount"], self.index_entry(n, "lt_ix")["ItemCount"])
            if counts == (10, 10):
                break
            self.assertLess(time.monotonic(), deadline, "expired items still indexed: %s" % (counts,))
            time.sleep(0.1)
        live = sorted(map(canon, (it for it in items if int(it["exp"]["N"]) > now)))
        self.assertEqual(sorted(map(canon, self.query_all(n, "gt_ix", "g = :g", {":g": S("G")}))), live)
        self.assertEqual(sorted(map(canon, self.scan_all(n, IndexName="lt_ix"))), live)


class RestartTest(unittest.TestCase):

    def test_indexes_survive_restart(self):
        with Daemon(fsync=True) as d:
            c = d.client()
            c.create_table(TableName="restart_ix", BillingMode="PAY_PER_REQUEST",
                           AttributeDefinitions=ad(("pk", "S"), ("sk", "S"), ("g", "S"), ("l", "N")),
                           KeySchema=ks("pk", "sk"), GlobalSecondaryIndexes=[gsi("gr_ix", "g", None, proj("KEYS_ONLY"))],
                           LocalSecondaryIndexes=[lsi("lr_ix", "l", proj("INCLUDE", ["v"]))])
            for i in range(100):
                c.put_item(TableName="restart_ix", Item={"pk": S("p%d" % (i % 10)), "sk": S("s%d" % i),
                                                         "g": S("G%d" % (i % 4)), "l": N(i), "v": S("v")})
            c.update_item(TableName="restart_ix", Key={"pk": S("p0"), "sk": S("s0")}, UpdateExpression="REMOVE g")
            c.update_table(TableName="restart_ix", AttributeDefinitions=ad(("v", "S")),
                           GlobalSecondaryIndexUpdates=[gsi_create("gv_ix", "v", None, proj("KEYS_ONLY"))])
            deadline = time.monotonic() + 30 * SLOW
            while any(g["IndexStatus"] != "ACTIVE" for g in
                      c.describe_table(TableName="restart_ix")["Table"]["GlobalSecondaryIndexes"]):
                self.assertLess(time.monotonic(), deadline)
                time.sleep(0.05)

            def snapshot():
                t = c.describe_table(TableName="restart_ix")["Table"]
                desc = {e["IndexName"]: {k: e.get(k) for k in ("KeySchema", "Projection", "ItemCount",
                                                                 "IndexSizeBytes", "IndexStatus")}
                        for e in t["GlobalSecondaryIndexes"] + t["LocalSecondaryIndexes"]}
                reads = [c.query(TableName="restart_ix", IndexName="gr_ix", KeyConditionExpression="g = :g",
                                 ExpressionAttributeValues={":g": S("G%d" % i)})["Items"] for i in range(4)]
                reads += [c.query(TableName="restart_ix", IndexName="lr_ix", KeyConditionExpression="pk = :p",
                                  ExpressionAttributeValues={":p": S("p%d" % i)})["Items"] for i in range(10)]
                reads.append(sorted(map(canon, c.scan(TableName="restart_ix", IndexName="gv_ix")["Items"])))
                return desc, reads

            before = snapshot()
            self.assertEqual(before[0]["gr_ix"]["ItemCount"], 99)
            self.assertEqual(before[0]["gv_ix"]["ItemCount"], 100)
            d.stop()
            d.start()
            c = d.client()
            self.assertEqual(snapshot(), before)
            c.put_item(TableName="restart_ix", Item={"pk": S("p0"), "sk": S("s0"), "g": S("G0"), "l": N(0)})
            self.assertEqual(c.describe_table(TableName="restart_ix")["Table"]["GlobalSecondaryIndexes"][0]["ItemCount"],
                             100)


if __name__ == "__main__":
    unittest.main()
