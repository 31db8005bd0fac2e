"""test_indexes_model.py -- secondary indexes under a single-table design,
checked against an in-test model (issue 7; operations.md 3, 5.3-5.5, 6;
expressions.md 6, 8).

Table "app" (pk, sk: S) holds four entity types:

  customer    pk CUST#<c>    sk PROFILE       email, GSI1PK EMAIL#<email>, GSI1SK CUSTOMER, created
  order       pk CUST#<c>    sk ORDER#<o>     created, total, customer, note, GSI1PK ORDER#<o>,
                                              GSI1SK A#HEADER; while open: status OPEN|LATE|HOLD, due
  order item  pk ORDER#<o>   sk ITEM#<n>      sku, qty, price, GSI1PK ORDER#<o>, GSI1SK B#ITEM#<n>
  invoice     pk CUST#<c>    sk INVOICE#<i>   created, amount, total, GSI1PK INVOICE#<i>,
                                              GSI1SK INVOICE; while unpaid: status UNPAID, due

and four indexes:

  GSI1  GSI1PK (S) + GSI1SK (S), ALL         customer by email; an order with its items
  GSI2  status (S) + due (N), INCLUDE        open orders / unpaid invoices by due date
        [total, customer, kind]              (sparse: only items having both)
  GSI3  sku (S), KEYS_ONLY                   order items of a product (hash-only GSI)
  LSI1  pk + created (N), INCLUDE            a customer's orders and invoices by date
        [kind, total]                        (items without created are not in it)

AccessPatternsTest runs the access patterns of README.md's "Secondary
indexes" section through boto3's resource API exactly as an application
writes them. ModelTest makes thousands of random PutItem / UpdateItem /
DeleteItem / BatchWriteItem calls (index keys set, changed, moved, removed,
written with a type the index does not allow -- rejected, nothing changed --,
upserts) while keeping a Python model of the table; at checkpoints and at
the end every index is compared with the model: a Query of every index
partition, both directions, with Limit pagination through
ExclusiveStartKey, every sort-key condition (=, <, <=, >, >=, BETWEEN,
begins_with), filters, Select COUNT / ALL_PROJECTED_ATTRIBUTES /
ALL_ATTRIBUTES, projections (an LSI fetching non-projected attributes from
the table), ConsistentRead on the LSI, a Scan of every index (also
parallel, 3 segments), LastEvaluatedKey = table keys + index keys, and
DescribeTable's per-index ItemCount and IndexSizeBytes.

Order within an index partition: by index sort key (N numerically, S by
UTF-8 bytes), ties broken by the table key (partition key, then sort key,
each in DynamoDB's order). DynamoDB leaves the tie order open; dynafiled
promises this one and the model checks it exactly, but a difference only
in order is reported as such.
"""

import decimal
import json
import random
import time
import unittest

from botocore.exceptions import ClientError

import harness
from harness import DaemonTestCase
from test_streams import item_size

SANITIZED = harness.SANITIZED
OPS = 1200 if SANITIZED else 3000
CHECKPOINTS = 3                      # checks during the run, plus one at the end
SAMPLED = 4 if SANITIZED else 8      # partitions per index given the full condition matrix

TABLE = "app"
VE = "ValidationException"

INDEXES = {
    "GSI1": {"global": True, "hash": ("GSI1PK", "S"), "range": ("GSI1SK", "S"), "proj": "ALL", "include": ()},
    "GSI2": {"global": True, "hash": ("status", "S"), "range": ("due", "N"), "proj": "INCLUDE",
             "include": ("total", "customer", "kind")},
    "GSI3": {"global": True, "hash": ("sku", "S"), "range": None, "proj": "KEYS_ONLY", "include": ()},
    "LSI1": {"global": False, "hash": ("pk", "S"), "range": ("created", "N"), "proj": "INCLUDE",
             "include": ("kind", "total")},
}


def table_definition(name=TABLE):
    """CreateTable arguments of the single-table design (also in README.md)."""
    return dict(
        TableName=name, BillingMode="PAY_PER_REQUEST",
        AttributeDefinitions=[{"AttributeName": a, "AttributeType": t} for a, t in (
            ("pk", "S"), ("sk", "S"), ("GSI1PK", "S"), ("GSI1SK", "S"), ("status", "S"), ("due", "N"),
            ("sku", "S"), ("created", "N"))],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
        GlobalSecondaryIndexes=[
            {"IndexName": "GSI1", "KeySchema": [{"AttributeName": "GSI1PK", "KeyType": "HASH"},
                                                {"AttributeName": "GSI1SK", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "ALL"}},
            {"IndexName": "GSI2", "KeySchema": [{"AttributeName": "status", "KeyType": "HASH"},
                                                {"AttributeName": "due", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["total", "customer", "kind"]}},
            {"IndexName": "GSI3", "KeySchema": [{"AttributeName": "sku", "KeyType": "HASH"}],
             "Projection": {"ProjectionType": "KEYS_ONLY"}}],
        LocalSecondaryIndexes=[
            {"IndexName": "LSI1", "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                                                {"AttributeName": "created", "KeyType": "RANGE"}],
             "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["kind", "total"]}}])


def S(v):
    return {"S": v}


def N(v):
    return {"N": str(v)}


def tkey(item):
    return (item["pk"]["S"], item["sk"]["S"])


def canon(x):
    return json.dumps(x, sort_keys=True)


def in_index(ix, item):
    """True when item has every key attribute of index ix with its type."""
    for k in (ix["hash"], ix["range"]):
        if k is not None and list(item.get(k[0], {}).keys()) != [k[1]]:
            return False
    return True


def key_names(ix):
    names = ["pk", "sk", ix["hash"][0]]
    if ix["range"]:
        names.append(ix["range"][0])
    return list(dict.fromkeys(names))


def project(ix, item):
    if ix["proj"] == "ALL":
        return dict(item)
    names = set(key_names(ix)) | set(ix["include"])
    return {k: v for k, v in item.items() if k in names}


def sort_value(v):
    """The sort order of a key value: N numerically, S by UTF-8 bytes."""
    (t, x), = v.items()
    return decimal.Decimal(x) if t == "N" else x.encode()


def py_value(v):
    """Wire value -> what the resource API returns."""
    (t, x), = v.items()
    return decimal.Decimal(x) if t == "N" else x


# -- random data ---------------------------------------------------------------------------

CUSTOMERS = 40
ORDERS = 200
ITEMS_PER_ORDER = 5
INVOICES = 100
EMAILS = ["user%d@example.com" % i for i in range(30)]        # fewer than customers: GSI1 ties
DUES = ["-10", "-1.5", "0", "2", "10", "10.25", "99", "100", "1000", "12345.678"]
STATUSES = ["OPEN", "LATE", "HOLD"]
SKUS = ["SKU-%02d" % i for i in range(20)]
CREATED = [str(1700000000 + i * 3600) for i in range(40)]      # a few values: LSI ties


def customer_of_order(o):
    return o % CUSTOMERS


def customer_of_invoice(i):
    return (i * 7) % CUSTOMERS


class Gen:
    """Random keys and items of the four entity types."""

    def __init__(self, rng):
        self.rng = rng

    def key(self):
        r = self.rng.random()
        if r < 0.1:
            c = self.rng.randrange(CUSTOMERS)
            return "customer", {"pk": S("CUST#%03d" % c), "sk": S("PROFILE")}
        if r < 0.45:
            o = self.rng.randrange(ORDERS)
            return "order", {"pk": S("CUST#%03d" % customer_of_order(o)), "sk": S("ORDER#%04d" % o)}
        if r < 0.85:
            o = self.rng.randrange(ORDERS)
            return "item", {"pk": S("ORDER#%04d" % o), "sk": S("ITEM#%02d" % self.rng.randrange(ITEMS_PER_ORDER))}
        i = self.rng.randrange(INVOICES)
        return "invoice", {"pk": S("CUST#%03d" % customer_of_invoice(i)), "sk": S("INVOICE#%04d" % i)}

    def item(self, kind, key):
        rng = self.rng
        it = dict(key)
        it["kind"] = S(kind)
        pk, sk = key["pk"]["S"], key["sk"]["S"]
        if kind == "customer":
            email = rng.choice(EMAILS)
            it.update(email=S(email), GSI1PK=S("EMAIL#" + email), GSI1SK=S("CUSTOMER"),
                      name=S("name %d" % rng.randrange(1000)), created=N(rng.choice(CREATED)))
        elif kind == "order":
            o = sk.split("#")[1]
            it.update(GSI1PK=S("ORDER#" + o), GSI1SK=S("A#HEADER"), created=N(rng.choice(CREATED)),
                      total=N(rng.randrange(1, 500)), customer=S(pk), note=S("n" * rng.randrange(1, 30)))
            if rng.random() < 0.6:
                it.update(status=S(rng.choice(STATUSES)), due=N(rng.choice(DUES)))
            if rng.random() < 0.15:
                del it["created"]
        elif kind == "item":
            o, n = pk.split("#")[1], sk.split("#")[1]
            it.update(GSI1PK=S("ORDER#" + o), GSI1SK=S("B#ITEM#" + n), qty=N(rng.randrange(1, 9)),
                      price=N(rng.choice(["1.5", "20", "0.99", "1000"])))
            if rng.random() < 0.8:
                it["sku"] = S(rng.choice(SKUS))
            if rng.random() < 0.1:
                it["created"] = N(rng.choice(CREATED))
        else:
            it.update(GSI1PK=S("INVOICE#" + sk.split("#")[1]), GSI1SK=S("INVOICE"),
                      created=N(rng.choice(CREATED)), amount=N(rng.randrange(1, 900)),
                      total=N(rng.randrange(1, 900)))
            if rng.random() < 0.5:
                it.update(status=S("UNPAID"), due=N(rng.choice(DUES)))
        return it

    def update(self, kind, cur):
        """-> (actions, error): actions ("set", a, v) / ("remove", a) /
        ("add", a, int) / ("copy", dst, src); error None or a message
        prefix the daemon must answer (with nothing changed)."""
        rng = self.rng
        r = rng.random()
        if r < 0.1:     # a wrong-typed literal for an index key
            attr, val, ixn = rng.choice([("due", S("soon"), "GSI2"), ("sku", N(7), "GSI3"),
                                         ("GSI1SK", N(1), "GSI1"), ("created", S("yesterday"), "LSI1"),
                                         ("status", {"BOOL": True}, "GSI2")])
            ix = INDEXES[ixn]
            want_t = ix["hash"][1] if ix["hash"][0] == attr else ix["range"][1]
            msg = ("One or more parameter values were invalid: Type mismatch for Index Key %s Expected: %s "
                   "Actual: %s IndexName: %s" % (attr, want_t, list(val)[0], ixn))
            return [("set", attr, val), ("set", "touched", S("x"))], msg
        if r < 0.14:    # a copied value of the wrong type
            if cur is not None and "note" in cur:
                return [("copy", "due", "note")], \
                    "The update expression attempted to update the secondary index key to unsupported type"
            return [("copy", "due", "note")], \
                "The provided expression refers to an attribute that does not exist in the item"
        if r < 0.16:
            return [("set", "sku", S(""))], \
                ("One or more parameter values are not valid. The update expression attempted to update a "
                 "secondary index key to a value that is not supported. The AttributeValue for a key attribute "
                 "cannot contain an empty string value.")
        acts = []
        if kind == "customer":
            choice = rng.randrange(3)
            if choice == 0:
                e = rng.choice(EMAILS)
                acts = [("set", "email", S(e)), ("set", "GSI1PK", S("EMAIL#" + e))]
            elif choice == 1:
                acts = [("set", "name", S("renamed %d" % rng.randrange(99)))]
            else:
                acts = [("set", "created", N(rng.choice(CREATED)))]
        elif kind == "order":
            choice = rng.randrange(9)
            if choice == 0:
                acts = [("set", "status", S(rng.choice(STATUSES))), ("set", "due", N(rng.choice(DUES)))]
            elif choice == 1:
                acts = [("remove", "status")]
            elif choice == 2:
                acts = [("remove", "due")]
            elif choice == 3:
                acts = [("set", "due", N(rng.choice(DUES)))]
            elif choice == 4:
                acts = [("add", "total", rng.randrange(-5, 20))]
            elif choice == 5:
                acts = [("set", "note", S("note %d" % rng.randrange(99)))]
            elif choice == 6:
                acts = [("set", "created", N(rng.choice(CREATED)))]
            elif choice == 7:
                acts = [("remove", "created"), ("set", "customer", S("moved"))]
            else:
                acts = [("remove", "status"), ("remove", "due"), ("set", "shipped", {"BOOL": True})]
        elif kind == "item":
            choice = rng.randrange(5)
            if choice == 0:
                acts = [("set", "sku", S(rng.choice(SKUS)))]
            elif choice == 1:
                acts = [("remove", "sku")]
            elif choice == 2:
                acts = [("add", "qty", 1)]
            elif choice == 3:
                acts = [("set", "GSI1SK", S("B#ITEM#%02d" % rng.randrange(ITEMS_PER_ORDER)))]
            else:
                acts = [("set", "created", N(rng.choice(CREATED)))] if rng.random() < 0.5 else [("remove", "created")]
        else:
            choice = rng.randrange(4)
            if choice == 0:
                acts = [("set", "status", S("UNPAID")), ("set", "due", N(rng.choice(DUES)))]
            elif choice == 1:
                acts = [("remove", "status"), ("remove", "due"), ("set", "paid", {"BOOL": True})]
            elif choice == 2:
                acts = [("add", "amount", rng.randrange(1, 50))]
            else:
                acts = [("set", "total", N(rng.randrange(1, 900)))]
        return acts, None


def apply_update(cur, key, acts):
    item = dict(cur) if cur is not None else dict(key)
    for a in acts:
        if a[0] == "set":
            item[a[1]] = a[2]
        elif a[0] == "remove":
            item.pop(a[1], None)
        elif a[0] == "add":
            old = int(item[a[1]]["N"]) if a[1] in item else 0
            item[a[1]] = N(old + a[2])
        elif a[0] == "copy":
            item[a[1]] = item[a[2]]
    return item


def update_args(key, acts):
    names, values, sets, removes, adds = {}, {}, [], [], []
    for i, a in enumerate(acts):
        names["#a%d" % i] = a[1]
        if a[0] == "set":
            values[":v%d" % i] = a[2]
            sets.append("#a%d = :v%d" % (i, i))
        elif a[0] == "remove":
            removes.append("#a%d" % i)
        elif a[0] == "add":
            values[":v%d" % i] = N(a[2])
            adds.append("#a%d :v%d" % (i, i))
        elif a[0] == "copy":
            names["#b%d" % i] = a[2]
            sets.append("#a%d = #b%d" % (i, i))
    expr = []
    if sets:
        expr.append("SET " + ", ".join(sets))
    if removes:
        expr.append("REMOVE " + ", ".join(removes))
    if adds:
        expr.append("ADD " + ", ".join(adds))
    args = dict(TableName=TABLE, Key=key, UpdateExpression=" ".join(expr), ExpressionAttributeNames=names)
    if values:
        args["ExpressionAttributeValues"] = values
    return args


# -- the tests -------------------------------------------------------------------------------

class IndexModelBase(DaemonTestCase):
    daemon_kwargs = {"fsync": False}

    def scan_table(self):
        items, start = [], None
        while True:
            args = dict(TableName=TABLE, ConsistentRead=True)
            if start:
                args["ExclusiveStartKey"] = start
            r = self.ddb.scan(**args)
            items += r["Items"]
            start = r.get("LastEvaluatedKey")
            if not start:
                return items


class AccessPatternsTest(IndexModelBase):
    """The access patterns of README.md, through boto3's resource API."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.ddb.create_table(**table_definition())
        cls.table = cls.daemon.resource().Table(TABLE)
        with cls.table.batch_writer() as w:
            w.put_item(Item={"pk": "CUST#001", "sk": "PROFILE", "kind": "customer", "email": "ann@example.com",
                             "GSI1PK": "EMAIL#ann@example.com", "GSI1SK": "CUSTOMER", "name": "Ann",
                             "created": 1700000000})
            w.put_item(Item={"pk": "CUST#002", "sk": "PROFILE", "kind": "customer", "email": "bob@example.com",
                             "GSI1PK": "EMAIL#bob@example.com", "GSI1SK": "CUSTOMER", "name": "Bob",
                             "created": 1700000100})
            for o, (c, created, status, due, total) in enumerate([
                    ("001", 1700001000, "OPEN", 1700090000, 30), ("001", 1700002000, None, None, 12),
                    ("001", 1700003000, "OPEN", 1700050000, 99), ("002", 1700001500, "OPEN", 1700070000, 5)]):
                item = {"pk": "CUST#" + c, "sk": "ORDER#%04d" % o, "kind": "order", "created": created,
                        "customer": "CUST#" + c, "total": total, "GSI1PK": "ORDER#%04d" % o, "GSI1SK": "A#HEADER",
                        "note": "gift wrap"}
                if status:
                    item.update(status=status, due=due)
                w.put_item(Item=item)
                for n in range(o + 1):
                    w.put_item(Item={"pk": "ORDER#%04d" % o, "sk": "ITEM#%02d" % n, "kind": "item",
                                     "GSI1PK": "ORDER#%04d" % o, "GSI1SK": "B#ITEM#%02d" % n,
                                     "sku": "SKU-%d" % (n % 2), "qty": n + 1, "price": decimal.Decimal("9.99")})
            w.put_item(Item={"pk": "CUST#001", "sk": "INVOICE#0001", "kind": "invoice", "created": 1700004000,
                             "GSI1PK": "INVOICE#0001", "GSI1SK": "INVOICE", "amount": 42, "total": 42,
                             "status": "UNPAID", "due": 1700060000})

    def test_customer_by_email(self):
        from boto3.dynamodb.conditions import Key
        r = self.table.query(IndexName="GSI1", KeyConditionExpression=Key("GSI1PK").eq("EMAIL#bob@example.com"))
        self.assertEqual([i["pk"] for i in r["Items"]], ["CUST#002"])
        self.assertEqual(r["Items"][0]["name"], "Bob")      # GSI1 projects ALL

    def test_orders_of_customer_by_date(self):
        from boto3.dynamodb.conditions import Attr, Key
        r = self.table.query(IndexName="LSI1", ScanIndexForward=False,
                             KeyConditionExpression=Key("pk").eq("CUST#001") & Key("created").between(
                                 1700001000, 1700003000),
                             FilterExpression=Attr("kind").eq("order"))
        self.assertEqual([i["sk"] for i in r["Items"]], ["ORDER#0002", "ORDER#0001", "ORDER#0000"])
        self.assertEqual(set(r["Items"][0]), {"pk", "sk", "created", "kind", "total"})
        # a non-projected attribute is fetched from the table (LSI), strongly consistent if asked
        r = self.table.query(IndexName="LSI1", ConsistentRead=True, ProjectionExpression="sk, note",
                             KeyConditionExpression=Key("pk").eq("CUST#001") & Key("created").gte(1700003000))
        self.assertEqual(r["Items"], [{"sk": "ORDER#0002", "note": "gift wrap"}, {"sk": "INVOICE#0001"}])

    def test_open_orders_by_due_date(self):
        from boto3.dynamodb.conditions import Key
        r = self.table.query(IndexName="GSI2", KeyConditionExpression=Key("status").eq("OPEN") & Key("due").lt(
            1700080000))
        self.assertEqual([(i["sk"], i["due"]) for i in r["Items"]],
                         [("ORDER#0002", 1700050000), ("ORDER#0003", 1700070000)])
        self.assertEqual(set(r["Items"][0]), {"pk", "sk", "status", "due", "total", "customer", "kind"})

    def test_unpaid_invoices(self):
        from boto3.dynamodb.conditions import Key
        r = self.table.query(IndexName="GSI2", KeyConditionExpression=Key("status").eq("UNPAID"))
        self.assertEqual([i["sk"] for i in r["Items"]], ["INVOICE#0001"])

    def test_order_with_items(self):
        from boto3.dynamodb.conditions import Key
        r = self.table.query(IndexName="GSI1", KeyConditionExpression=Key("GSI1PK").eq("ORDER#0002"))
        self.assertEqual([i["GSI1SK"] for i in r["Items"]], ["A#HEADER", "B#ITEM#00", "B#ITEM#01", "B#ITEM#02"])
        r = self.table.query(IndexName="GSI1", KeyConditionExpression=Key("GSI1PK").eq("ORDER#0002")
                             & Key("GSI1SK").begins_with("B#"))
        self.assertEqual(len(r["Items"]), 3)

    def test_items_of_an_order(self):
        from boto3.dynamodb.conditions import Key
        r = self.table.query(KeyConditionExpression=Key("pk").eq("ORDER#0003") & Key("sk").begins_with("ITEM#"))
        self.assertEqual([i["sk"] for i in r["Items"]], ["ITEM#00", "ITEM#01", "ITEM#02", "ITEM#03"])

    def test_items_of_a_product(self):
        from boto3.dynamodb.conditions import Key
        r = self.table.query(IndexName="GSI3", KeyConditionExpression=Key("sku").eq("SKU-1"))
        keys = sorted((i["pk"], i["sk"]) for i in r["Items"])
        self.assertEqual(keys, [("ORDER#0001", "ITEM#01"), ("ORDER#0002", "ITEM#01"), ("ORDER#0003", "ITEM#01"),
                                ("ORDER#0003", "ITEM#03")])
        self.assertTrue(all(set(i) == {"pk", "sk", "sku"} for i in r["Items"]))   # KEYS_ONLY

    def test_ship_an_order_leaves_the_sparse_index(self):
        from boto3.dynamodb.conditions import Key
        self.table.update_item(Key={"pk": "CUST#002", "sk": "ORDER#0003"}, UpdateExpression="REMOVE #s, due",
                               ExpressionAttributeNames={"#s": "status"})
        r = self.table.query(IndexName="GSI2", KeyConditionExpression=Key("status").eq("OPEN"))
        self.assertNotIn("ORDER#0003", [i["sk"] for i in r["Items"]])
        self.table.update_item(Key={"pk": "CUST#002", "sk": "ORDER#0003"}, UpdateExpression="SET #s = :s, due = :d",
                               ExpressionAttributeNames={"#s": "status"},
                               ExpressionAttributeValues={":s": "OPEN", ":d": 1700070000})
        r = self.table.query(IndexName="GSI2", KeyConditionExpression=Key("status").eq("OPEN"))
        self.assertIn("ORDER#0003", [i["sk"] for i in r["Items"]])

    def test_paginator_over_an_index(self):
        p = self.daemon.client().get_paginator("query")
        pages = list(p.paginate(TableName=TABLE, IndexName="GSI1", KeyConditionExpression="GSI1PK = :p",
                                ExpressionAttributeValues={":p": {"S": "ORDER#0003"}},
                                PaginationConfig={"PageSize": 2}))
        got = [i["GSI1SK"]["S"] for pg in pages for i in pg["Items"]]
        self.assertEqual(got, ["A#HEADER", "B#ITEM#00", "B#ITEM#01", "B#ITEM#02", "B#ITEM#03"])
        self.assertEqual(pages[0]["LastEvaluatedKey"], {"pk": {"S": "ORDER#0003"}, "sk": {"S": "ITEM#00"},
                                                        "GSI1PK": {"S": "ORDER#0003"}, "GSI1SK": {"S": "B#ITEM#00"}})


class ModelTest(IndexModelBase):
    """Thousands of random writes, every index compared with the model."""

    def setUp(self):
        self.seed = random.SystemRandom().randrange(1 << 31)
        self.rng = random.Random(self.seed)
        self.gen = Gen(self.rng)
        self.model = {}          # (pk, sk) -> item
        self.stats = {"put": 0, "update": 0, "rejected": 0, "delete": 0, "batch": 0, "queries": 0}

    def fail_seed(self, msg):
        self.fail("%s (seed %d)" % (msg, self.seed))

    # -- writes ------------------------------------------------------------------

    def expect_error(self, fn, message, what):
        try:
            fn()
        except ClientError as e:
            err = e.response["Error"]
            if err["Code"] != VE or err["Message"] != message:
                self.fail_seed("%s: expected %s %r, got %s %r" % (what, VE, message, err["Code"], err["Message"]))
            self.stats["rejected"] += 1
            return
        self.fail_seed("%s: expected %s %r, the write succeeded" % (what, VE, message))

    def random_write(self):
        rng = self.rng
        r = rng.random()
        if r < 0.35:
            kind, key = self.gen.key()
            item = self.gen.item(kind, key)
            if rng.random() < 0.05:        # a wrong-typed index key: rejected, nothing changes
                bad = dict(item, due=S("tomorrow"))
                self.expect_error(lambda: self.ddb.put_item(TableName=TABLE, Item=bad),
                                  "One or more parameter values were invalid: Type mismatch for Index Key due "
                                  "Expected: N Actual: S IndexName: GSI2", "PutItem %s" % canon(bad))
                return
            self.ddb.put_item(TableName=TABLE, Item=item)
            self.model[tkey(item)] = item
            self.stats["put"] += 1
        elif r < 0.75:
            kind, key = self.gen.key()
            cur = self.model.get(tkey(key))
            acts, err = self.gen.update(kind, cur)
            if cur is None and all(a[0] == "remove" for a in acts):
                # whether a REMOVE-only update creates a key-only item is unverified: give it a SET
                acts.append(("set", "touched", S("x")))
            args = update_args(key, acts)
            if err:
                self.expect_error(lambda: self.ddb.update_item(**args), err, "UpdateItem %s" % canon(args))
                return
            # one in five asks ALL_NEW and checks it against the model
            if rng.random() < 0.2:
                got = self.ddb.update_item(ReturnValues="ALL_NEW", **args).get("Attributes")
                want = apply_update(cur, key, acts)
                if got != want:
                    self.fail_seed("UpdateItem %s returned %s, model %s" % (canon(args), canon(got), canon(want)))
            else:
                self.ddb.update_item(**args)
            self.model[tkey(key)] = apply_update(cur, key, acts)
            self.stats["update"] += 1
        elif r < 0.87:
            _, key = self.gen.key()
            self.ddb.delete_item(TableName=TABLE, Key=key)
            self.model.pop(tkey(key), None)
            self.stats["delete"] += 1
        else:
            reqs, seen, effects = [], set(), []
            for _ in range(rng.randint(2, 25)):
                kind, key = self.gen.key()
                if tkey(key) in seen:
                    continue
                seen.add(tkey(key))
                if rng.random() < 0.7:
                    item = self.gen.item(kind, key)
                    reqs.append({"PutRequest": {"Item": item}})
                    effects.append((tkey(key), item))
                else:
                    reqs.append({"DeleteRequest": {"Key": key}})
                    effects.append((tkey(key), None))
            r = self.ddb.batch_write_item(RequestItems={TABLE: reqs})
            self.assertEqual(r["UnprocessedItems"], {})
            for k, item in effects:
                if item is None:
                    self.model.pop(k, None)
                else:
                    self.model[k] = item
            self.stats["batch"] += 1

    # -- reads -------------------------------------------------------------------

    def entries(self, name):
        """Index name's expected entries grouped by partition, in index order."""
        ix = INDEXES[name]
        parts = {}
        for item in self.model.values():
            if in_index(ix, item):
                parts.setdefault(canon(item[ix["hash"][0]]), []).append(item)
        for k, items in parts.items():
            items.sort(key=lambda it: ((sort_value(it[ix["range"][0]]) if ix["range"] else b""),
                                       it["pk"]["S"].encode(), it["sk"]["S"].encode()))
        return parts

    def lek_of(self, name, item):
        return {k: item[k] for k in key_names(INDEXES[name])}

    def query_pages(self, label, args, limit=None, check_lek=True):
        """All pages of one Query (or Scan when args has no key condition);
        -> (items, pages, scanned)."""
        op = self.ddb.query if "KeyConditionExpression" in args else self.ddb.scan
        items, pages, scanned, start = [], 0, 0, None
        name = args.get("IndexName")
        while True:
            a = dict(args)
            if limit:
                a["Limit"] = limit
            if start:
                a["ExclusiveStartKey"] = start
            r = op(**a)
            self.stats["queries"] += 1
            pages += 1
            got = r.get("Items", [])
            if a.get("Select") == "COUNT" and "Items" in r:
                self.fail_seed("%s: Select COUNT returned Items" % label)
            if limit and r["ScannedCount"] > limit:
                self.fail_seed("%s: ScannedCount %d > Limit %d" % (label, r["ScannedCount"], limit))
            if r["Count"] != (len(got) if a.get("Select") != "COUNT" else r["Count"]):
                self.fail_seed("%s: Count %d, %d items" % (label, r["Count"], len(got)))
            scanned += r["ScannedCount"]
            items += got if a.get("Select") != "COUNT" else [None] * r["Count"]
            start = r.get("LastEvaluatedKey")
            if start and not limit:
                self.fail_seed("%s: LastEvaluatedKey %s without Limit on a small result" % (label, canon(start)))
            if start and check_lek:
                if not got:
                    self.fail_seed("%s: a Limit %s page with no item has LastEvaluatedKey" % (label, limit))
                want = self.lek_of(name, got[-1]) if name else {k: got[-1][k] for k in ("pk", "sk")}
                if start != want:
                    self.fail_seed("%s: LastEvaluatedKey %s, expected %s (the last item's table and index keys)"
                                   % (label, canon(start), canon(want)))
            if not start:
                return items, pages, scanned
            if pages > 10000:
                self.fail_seed("%s: pagination does not end" % label)

    def compare(self, label, got, want):
        if got == want:
            return
        # tell a tie-order difference from a content difference
        if sorted(map(canon, got)) == sorted(map(canon, want)):
            self.fail_seed("%s: same items, different order:\n got  %s\n want %s"
                           % (label, [tkey(i) for i in got][:40], [tkey(i) for i in want][:40]))
        g, w = set(map(canon, got)), set(map(canon, want))
        self.fail_seed("%s: %d items, expected %d; unexpected %s; missing %s"
                       % (label, len(got), len(want), sorted(g - w)[:3], sorted(w - g)[:3]))

    def conditions(self, name, part):
        """(KeyConditionExpression, EAV, filter over the partition's items) for
        every sort-key condition on values from this partition and near it."""
        ix = INDEXES[name]
        hname, htype = ix["hash"]
        hv = part[0][hname]
        base = ("#h = :h", {":h": hv})
        out = [(base[0], dict(base[1]), lambda it: True)]
        if not ix["range"]:
            return out
        rname, rtype = ix["range"]
        vals = [it[rname] for it in part]
        rng = self.rng
        a, b = sorted([rng.choice(vals), rng.choice(vals)], key=sort_value)
        if rtype == "N":
            probe = N(decimal.Decimal(a["N"]) + decimal.Decimal("0.5"))
        else:
            probe = S(a["S"] + "~")
        for op in ("=", "<", "<=", ">", ">="):
            for v in (a, probe):
                sv = sort_value(v)
                f = {"=": lambda x, sv=sv: x == sv, "<": lambda x, sv=sv: x < sv, "<=": lambda x, sv=sv: x <= sv,
                     ">": lambda x, sv=sv: x > sv, ">=": lambda x, sv=sv: x >= sv}[op]
                out.append(("#h = :h AND #r %s :r" % op, {":h": hv, ":r": v},
                            lambda it, f=f: f(sort_value(it[rname]))))
        lo, hi = sort_value(a), sort_value(b)
        out.append(("#h = :h AND #r BETWEEN :a AND :b", {":h": hv, ":a": a, ":b": b},
                    lambda it: lo <= sort_value(it[rname]) <= hi))
        if rtype == "S":
            for pre in {a["S"][:2], a["S"][:len(a["S"]) - 1], a["S"], "Q"}:
                if pre:
                    p = pre.encode()
                    out.append(("#h = :h AND begins_with(#r, :p)", {":h": hv, ":p": S(pre)},
                                lambda it, p=p: sort_value(it[rname]).startswith(p)))
        return out

    def check_index(self, name, label, sampled):
        ix = INDEXES[name]
        parts = self.entries(name)
        hname = ix["hash"][0]
        names = {"#h": hname}
        if ix["range"]:
            names["#r"] = ix["range"][0]
        # every partition: a plain Query (default Select = ALL_PROJECTED_ATTRIBUTES)
        for hk, part in parts.items():
            want = [project(ix, it) for it in part]
            got, _, _ = self.query_pages("%s %s Query %s" % (label, name, hk),
                                         dict(TableName=TABLE, IndexName=name, KeyConditionExpression="#h = :h",
                                              ExpressionAttributeNames={"#h": hname},
                                              ExpressionAttributeValues={":h": part[0][hname]}))
            self.compare("%s: %s Query %s" % (label, name, hk), got, want)
        # a partition nobody has
        r = self.ddb.query(TableName=TABLE, IndexName=name, KeyConditionExpression="#h = :h",
                           ExpressionAttributeNames={"#h": hname},
                           ExpressionAttributeValues={":h": S("NOBODY#x")})
        self.assertEqual((r["Items"], r["Count"], r["ScannedCount"]), ([], 0, 0))
        # the full condition matrix on some partitions (the biggest among them)
        keys = sorted(parts, key=lambda k: -len(parts[k]))
        chosen = keys[:2] + self.rng.sample(keys[2:], min(sampled, max(0, len(keys) - 2)))
        for hk in chosen:
            part = parts[hk]
            for kce, eav, keep in self.conditions(name, part):
                sel = [it for it in part if keep(it)]
                for forward in (True, False):
                    want = [project(ix, it) for it in (sel if forward else sel[::-1])]
                    limit = self.rng.choice([None, 1, 2, 3, 7])
                    args = dict(TableName=TABLE, IndexName=name, KeyConditionExpression=kce,
                                ExpressionAttributeNames={k: v for k, v in names.items() if k in kce},
                                ExpressionAttributeValues=eav, ScanIndexForward=forward)
                    lab = "%s: %s Query %s %s %s forward=%s Limit=%s" % (label, name, kce, canon(eav), hk,
                                                                         forward, limit)
                    got, _, _ = self.query_pages(lab, args, limit)
                    self.compare(lab, got, want)
                # Select COUNT with a Limit still pages
                args = dict(TableName=TABLE, IndexName=name, KeyConditionExpression=kce, Select="COUNT",
                            ExpressionAttributeNames={k: v for k, v in names.items() if k in kce},
                            ExpressionAttributeValues=eav)
                got, _, _ = self.query_pages(label + " COUNT", args, self.rng.choice([None, 2]), check_lek=False)
                if len(got) != len(sel):
                    self.fail_seed("%s: %s Select COUNT %s %s: %d, expected %d"
                                   % (label, name, kce, canon(eav), len(got), len(sel)))
            # a filter on a projected non-key attribute: ScannedCount counts every evaluated entry
            fname = "kind" if "kind" in ix["include"] or ix["proj"] == "ALL" else None
            if fname:
                kind = part[0].get(fname, S("none"))
                want = [project(ix, it) for it in part if it.get(fname) == kind]
                limit = self.rng.choice([None, 2])
                args = dict(TableName=TABLE, IndexName=name, KeyConditionExpression="#h = :h",
                            FilterExpression="#f = :f", ExpressionAttributeNames={"#h": hname, "#f": fname},
                            ExpressionAttributeValues={":h": part[0][hname], ":f": kind})
                got, _, scanned = self.query_pages("%s %s filter" % (label, name), args, limit, check_lek=False)
                self.compare("%s: %s Query %s with filter" % (label, name, hk), got, want)
                if scanned != len(part):
                    self.fail_seed("%s: %s filtered Query %s: ScannedCount %d, expected %d"
                                   % (label, name, hk, scanned, len(part)))
            # projections
            self.check_projections(name, part, label)
        # Scan of the index: every entry once (order across partitions unspecified; within
        # a partition, index order), plain and paged, and parallel with 3 segments
        all_entries = [project(ix, it) for part in parts.values() for it in part]
        want_set = sorted(map(canon, all_entries))
        for limit in (None, self.rng.choice([5, 50, 333])):
            got, _, _ = self.query_pages("%s %s Scan Limit=%s" % (label, name, limit),
                                         dict(TableName=TABLE, IndexName=name), limit)
            if sorted(map(canon, got)) != want_set:
                self.compare("%s: %s Scan Limit=%s (as sets)" % (label, name, limit),
                             sorted(got, key=canon), sorted(all_entries, key=canon))
            self.check_scan_order(name, got, parts, label)
        seen = []
        for seg in range(3):
            got, _, _ = self.query_pages("%s %s Scan segment %d/3" % (label, name, seg),
                                         dict(TableName=TABLE, IndexName=name, Segment=seg, TotalSegments=3),
                                         self.rng.choice([None, 17]))
            seen += got
        if sorted(map(canon, seen)) != want_set:
            self.fail_seed("%s: %s parallel Scan (3 segments): %d entries, expected %d (or duplicates)"
                           % (label, name, len(seen), len(want_set)))
        return parts

    def check_scan_order(self, name, got, parts, label):
        """Within one index partition a Scan returns index order too."""
        ix = INDEXES[name]
        pos = {}
        for it in got:
            pos.setdefault(canon(it[ix["hash"][0]]), []).append(it)
        for hk, its in pos.items():
            want = [project(ix, it) for it in parts[hk]]
            if its != want:
                self.compare("%s: %s Scan, partition %s in index order" % (label, name, hk), its, want)

    def check_projections(self, name, part, label):
        ix = INDEXES[name]
        hname = ix["hash"][0]
        base = dict(TableName=TABLE, IndexName=name, KeyConditionExpression="#h = :h",
                    ExpressionAttributeValues={":h": part[0][hname]})
        # explicit ALL_PROJECTED_ATTRIBUTES = the default
        got, _, _ = self.query_pages(label + " projected", dict(base, Select="ALL_PROJECTED_ATTRIBUTES",
                                                                ExpressionAttributeNames={"#h": hname}))
        self.compare("%s: %s ALL_PROJECTED_ATTRIBUTES" % (label, name), got, [project(ix, it) for it in part])
        if not ix["global"]:
            # LSI: ALL_ATTRIBUTES and non-projected attributes come from the table, consistent or not
            for consistent in (False, True):
                got, _, _ = self.query_pages(label + " LSI all", dict(base, Select="ALL_ATTRIBUTES",
                                                                      ConsistentRead=consistent,
                                                                      ExpressionAttributeNames={"#h": hname}),
                                             self.rng.choice([None, 3]))
                self.compare("%s: %s Select ALL_ATTRIBUTES ConsistentRead=%s" % (label, name, consistent),
                             got, list(part))
            got, _, _ = self.query_pages(label + " LSI fetch", dict(
                base, ProjectionExpression="sk, note, #t, created", ConsistentRead=True,
                ExpressionAttributeNames={"#h": hname, "#t": "total"}), self.rng.choice([None, 2]), check_lek=False)
            want = [{k: it[k] for k in ("sk", "note", "total", "created") if k in it} for it in part]
            self.compare("%s: %s ProjectionExpression with a non-projected attribute" % (label, name), got, want)
        elif ix["proj"] == "ALL":
            got, _, _ = self.query_pages(label + " GSI all", dict(base, Select="ALL_ATTRIBUTES",
                                                                  ExpressionAttributeNames={"#h": hname}))
            self.compare("%s: %s Select ALL_ATTRIBUTES" % (label, name), got, list(part))
        else:
            names = [n for n in key_names(ix)] + list(ix["include"])
            pick = self.rng.sample(names, 2)
            eans = {"#p%d" % i: n for i, n in enumerate(pick)}
            eans["#h"] = hname
            got, _, _ = self.query_pages(label + " GSI projection", dict(
                base, ProjectionExpression=", ".join("#p%d" % i for i in range(len(pick))),
                ExpressionAttributeNames=eans), None, check_lek=False)
            want = [{k: it[k] for k in pick if k in it} for it in part]
            self.compare("%s: %s ProjectionExpression %s" % (label, name, pick), got, want)

    def check_all(self, label):
        t0 = time.monotonic()
        table = self.scan_table()
        if len({tkey(it) for it in table}) != len(table):
            self.fail_seed("%s: a Scan of the table returned an item twice" % label)
        self.compare("%s: Scan of the table" % label, sorted(table, key=canon),
                     sorted(self.model.values(), key=canon))
        counts = {}
        for name in INDEXES:
            parts = self.check_index(name, label, SAMPLED)
            entries = [project(INDEXES[name], it) for p in parts.values() for it in p]
            counts[name] = (len(entries), sum(item_size(e) for e in entries))
        d = self.ddb.describe_table(TableName=TABLE)["Table"]
        for lst in ("GlobalSecondaryIndexes", "LocalSecondaryIndexes"):
            for e in d.get(lst, []):
                want_n, want_size = counts.pop(e["IndexName"])
                if e.get("ItemCount") != want_n:
                    self.fail_seed("%s: DescribeTable %s ItemCount %s, model %d"
                                   % (label, e["IndexName"], e.get("ItemCount"), want_n))
                if e.get("IndexSizeBytes") != want_size:
                    self.fail_seed("%s: DescribeTable %s IndexSizeBytes %s, sum of the entries' sizes %d"
                                   % (label, e["IndexName"], e.get("IndexSizeBytes"), want_size))
        self.assertEqual(counts, {}, "indexes missing from DescribeTable")
        if harness.os.environ.get("DYNAFILE_TEST_VERBOSE"):
            print("%s: checked in %.1fs, %d items, stats %s" % (label, time.monotonic() - t0, len(self.model),
                                                               self.stats))

    def test_random_writes_against_model(self):
        self.ddb.create_table(**table_definition())
        every = OPS // (CHECKPOINTS + 1)
        for i in range(OPS):
            self.random_write()
            if i and i % every == 0:
                self.check_all("after %d writes" % i)
        self.check_all("after all %d writes" % OPS)
        # every kind of write happened, and a good share were index-key errors
        for k in ("put", "update", "rejected", "delete", "batch"):
            self.assertGreater(self.stats[k], 10, self.stats)


if __name__ == "__main__":
    unittest.main()
