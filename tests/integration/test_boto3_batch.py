"""test_boto3_batch.py -- BatchWriteItem and BatchGetItem against a real
dynafiled (operations.md 5.6, 5.7, 3; protocol.md 2.1-2.3): boto3's
batch_writer loading 5,000 items read back with batch_get_item, mixed
puts/deletes across tables, all-or-nothing validation, ConsumedCapacity
lists, the 16 MB UnprocessedKeys loop, every validation message (raw HTTP for
requests boto3 refuses client-side), and a SIGKILL check that a 25-item
BatchWriteItem is all or nothing after a crash.
"""

import base64
import http.client
import threading
import time
import unittest

from botocore.exceptions import ClientError

import harness
from harness import Daemon, DaemonTestCase, raw_request

VE = "com.amazon.coral.validate#ValidationException"
SE = "com.amazon.coral.service#SerializationException"
RNF = "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException"
NOT_SCHEMA = "The provided key element does not match the schema"
DUPS = "Provided list of item keys contains duplicates"
MAP_KEYS = ("failed to satisfy constraint: Map keys must satisfy constraint: [Member must have length less than "
            "or equal to 255, Member must have length greater than or equal to 3, Member must satisfy regular "
            "expression pattern: [a-zA-Z0-9_.-]+]")
MAP_VALUES = ("failed to satisfy constraint: Map value must satisfy constraint: [Member must have length less than "
              "or equal to 25, Member must have length greater than or equal to 1]")
NULL_AV = ("AttributeValue(s=%s, n=null, b=null, sS=null, nS=null, bS=null, m=null, l=null, nULL=null, "
           "bOOL=null)")


def S(v):
    return {"S": v}


def put(item):
    return {"PutRequest": {"Item": item}}


def delete(key):
    return {"DeleteRequest": {"Key": key}}


def get_all(client, request_items, **kw):
    """batch_get_item until UnprocessedKeys is empty; returns ({table: [items]},
    [responses]). Keys of one table may be given as more than 100: they are
    sent in chunks of 100 keys per call."""
    out = {t: [] for t in request_items}
    pending = []
    for t, entry in request_items.items():
        keys = entry["Keys"]
        opts = {k: v for k, v in entry.items() if k != "Keys"}
        for i in range(0, len(keys), 100):
            pending.append({t: dict(opts, Keys=keys[i:i + 100])})
    responses = []
    while pending:
        req = pending.pop(0)
        for _ in range(1000):
            r = client.batch_get_item(RequestItems=req, **kw)
            responses.append(r)
            for t, items in r["Responses"].items():
                out[t].extend(items)
            req = r["UnprocessedKeys"]
            if not req:
                break
        else:
            raise AssertionError("UnprocessedKeys never drained")
    return out, responses


class BatchTest(DaemonTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.ddb

        def mk(name, h, r=None):
            attrs = [{"AttributeName": "pk", "AttributeType": h}]
            keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
            if r:
                attrs.append({"AttributeName": "sk", "AttributeType": r})
                keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
            c.create_table(TableName=name, AttributeDefinitions=attrs, KeySchema=keys,
                           BillingMode="PAY_PER_REQUEST")
        mk("bt_s", "S")
        mk("bt_s2", "S")
        mk("bt_n", "N")
        mk("bt_b", "B")
        mk("bt_sn", "S", "N")

    def raw(self, op, body):
        return raw_request(self.daemon.port, op, body)

    def get(self, table, key):
        return self.ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def assertRaw(self, op, body, typ, message):
        r = self.raw(op, body)
        self.assertEqual((r.status, r.type), (400, typ), r.body[:500])
        self.assertEqual(r.message, message)

    # -- bulk ------------------------------------------------------------------

    def test_batch_writer_5000_then_batch_get(self):
        name = self.unique("bulk")
        self.make_table(name=name, range_type="N")
        table = self.daemon.resource().Table(name)
        want = {}
        with table.batch_writer() as bw:
            for i in range(5000):
                item = {"pk": "p%d" % (i % 97), "sk": i, "v": "value-%d" % i, "blob": bytes([i % 256]) * (i % 50)}
                bw.put_item(Item=item)
                want[("p%d" % (i % 97), str(i))] = item
        self.assertEqual(self.ddb.describe_table(TableName=name)["Table"]["ItemCount"], 5000)
        keys = [{"pk": S(p), "sk": {"N": s}} for (p, s) in want]
        got, responses = get_all(self.ddb, {name: {"Keys": keys, "ConsistentRead": True}})
        self.assertEqual(len(responses), 50)  # 100 keys per call, nothing unprocessed at this size
        self.assertEqual(len(got[name]), 5000)
        seen = set()
        for it in got[name]:
            k = (it["pk"]["S"], it["sk"]["N"])
            self.assertNotIn(k, seen)
            seen.add(k)
            w = want[k]
            self.assertEqual(it["v"], S(w["v"]))
            self.assertEqual(it["blob"]["B"], w["blob"])
        # and through the resource API, with batch_writer's delete
        with table.batch_writer() as bw:
            for i in range(0, 5000, 2):
                bw.delete_item(Key={"pk": "p%d" % (i % 97), "sk": i})
        self.assertEqual(self.ddb.describe_table(TableName=name)["Table"]["ItemCount"], 2500)
        got, _ = get_all(self.ddb, {name: {"Keys": keys[:1000]}})
        self.assertEqual(sorted(int(it["sk"]["N"]) for it in got[name]), list(range(1, 1000, 2)))

    def test_resource_batch_get_item(self):
        res = self.daemon.resource()
        res.Table("bt_s").put_item(Item={"pk": "res1", "n": 5})
        r = res.batch_get_item(RequestItems={"bt_s": {"Keys": [{"pk": "res1"}, {"pk": "res-missing"}]}})
        self.assertEqual(r["Responses"], {"bt_s": [{"pk": "res1", "n": 5}]})
        self.assertEqual(r["UnprocessedKeys"], {})

    # -- behaviour ---------------------------------------------------------------

    def test_mixed_put_delete_two_tables(self):
        c = self.ddb
        for i in range(5):
            c.put_item(TableName="bt_s", Item={"pk": S("mx%d" % i), "old": S("yes")})
            c.put_item(TableName="bt_sn", Item={"pk": S("mx"), "sk": {"N": str(i)}, "old": S("yes")})
        r = c.batch_write_item(RequestItems={
            "bt_s": [put({"pk": S("mx0"), "new": S("replaced")}), delete({"pk": S("mx1")}),
                     delete({"pk": S("mx-never")}), put({"pk": S("mx9"), "new": S("added")})],
            "bt_sn": [delete({"pk": S("mx"), "sk": {"N": "0"}}), delete({"pk": S("mx"), "sk": {"N": "1.0"}}),
                      put({"pk": S("mx"), "sk": {"N": "2.00"}, "new": {"NS": ["3", "1"]}})],
        })
        self.assertEqual(r["UnprocessedItems"], {})
        self.assertNotIn("ConsumedCapacity", r)
        self.assertNotIn("ItemCollectionMetrics", r)
        self.assertEqual(self.get("bt_s", {"pk": S("mx0")}), {"pk": S("mx0"), "new": S("replaced")})
        self.assertIsNone(self.get("bt_s", {"pk": S("mx1")}))
        self.assertEqual(self.get("bt_s", {"pk": S("mx2")}), {"pk": S("mx2"), "old": S("yes")})
        self.assertEqual(self.get("bt_s", {"pk": S("mx9")}), {"pk": S("mx9"), "new": S("added")})
        self.assertIsNone(self.get("bt_sn", {"pk": S("mx"), "sk": {"N": "0"}}))
        self.assertIsNone(self.get("bt_sn", {"pk": S("mx"), "sk": {"N": "1"}}))
        self.assertEqual(self.get("bt_sn", {"pk": S("mx"), "sk": {"N": "2"}}),
                         {"pk": S("mx"), "sk": {"N": "2"}, "new": {"NS": ["1", "3"]}})
        self.assertEqual(self.get("bt_sn", {"pk": S("mx"), "sk": {"N": "3"}})["old"], S("yes"))

    def test_all_types_through_batch(self):
        item = {"pk": {"N": "-12.50"}, "s": S("h\u00e9llo"), "b": {"B": b"\x00\xff"}, "t": {"BOOL": True},
                "nul": {"NULL": True}, "m": {"M": {"x": {"L": [S("y"), {"N": "1e3"}]}}},
                "ss": {"SS": ["b", "a"]}, "ns": {"NS": ["10", "9"]}, "bs": {"BS": [b"\x02", b"\x01"]}}
        self.ddb.batch_write_item(RequestItems={"bt_n": [put(item)]})
        r = self.ddb.batch_get_item(RequestItems={"bt_n": {"Keys": [{"pk": {"N": "-12.5"}}]}})
        self.assertEqual(r["Responses"]["bt_n"], [{
            "pk": {"N": "-12.5"}, "s": S("h\u00e9llo"), "b": {"B": b"\x00\xff"}, "t": {"BOOL": True},
            "nul": {"NULL": True}, "m": {"M": {"x": {"L": [S("y"), {"N": "1000"}]}}},
            "ss": {"SS": ["a", "b"]}, "ns": {"NS": ["9", "10"]}, "bs": {"BS": [b"\x01", b"\x02"]}}])

    def test_get_every_table_in_responses(self):
        c = self.ddb
        c.put_item(TableName="bt_s", Item={"pk": S("ev1"), "a": S("1"), "b": S("2"), "c": S("3")})
        r = c.batch_get_item(RequestItems={
            "bt_s": {"Keys": [{"pk": S("ev1")}, {"pk": S("ev-missing")}], "AttributesToGet": ["a", "c", "zz"]},
            "bt_s2": {"Keys": [{"pk": S("nothing-here")}]},
        })
        self.assertEqual(r["Responses"], {"bt_s": [{"a": S("1"), "c": S("3")}], "bt_s2": []})
        self.assertEqual(r["UnprocessedKeys"], {})
        self.assertNotIn("ConsumedCapacity", r)

    def test_projection_expression(self):
        c = self.ddb
        c.put_item(TableName="bt_s", Item={"pk": S("pe1"), "a": {"N": "1"}, "d": S("x"),
                                           "b": {"M": {"c": {"L": [{"N": "1"}, {"N": "2"}, {"N": "3"}]}}}})
        r = c.batch_get_item(RequestItems={
            "bt_s": {"Keys": [{"pk": S("pe1")}], "ProjectionExpression": "a, #b.c[1]",
                     "ExpressionAttributeNames": {"#b": "b"}}})
        self.assertEqual(r["Responses"]["bt_s"], [{"a": {"N": "1"}, "b": {"M": {"c": {"L": [{"N": "2"}]}}}}])

    def test_numbers_are_keys_by_value(self):
        c = self.ddb
        c.batch_write_item(RequestItems={"bt_n": [put({"pk": {"N": "1.0"}, "v": S("one")}),
                                                  put({"pk": {"N": "2e0"}, "v": S("two")})]})
        r = c.batch_get_item(RequestItems={"bt_n": {"Keys": [{"pk": {"N": "1"}}, {"pk": {"N": "+2"}}]}})
        self.assertEqual(sorted(it["v"]["S"] for it in r["Responses"]["bt_n"]), ["one", "two"])

    def test_binary_keys(self):
        c = self.ddb
        c.batch_write_item(RequestItems={"bt_b": [put({"pk": {"B": b"\x00"}}), put({"pk": {"B": b"\x00\x00"}})]})
        r = c.batch_get_item(RequestItems={"bt_b": {"Keys": [{"pk": {"B": b"\x00"}}, {"pk": {"B": b"\x00\x00"}}]}})
        self.assertEqual(sorted(it["pk"]["B"] for it in r["Responses"]["bt_b"]), [b"\x00", b"\x00\x00"])

    def test_validation_failure_writes_nothing(self):
        c = self.ddb
        cases = [
            # second table's request fails its schema check after the first table passed
            ({"bt_s": [put({"pk": S("nw1")})], "bt_sn": [put({"pk": S("nw1")})]}, NOT_SCHEMA),
            # duplicate at the end of a valid batch
            ({"bt_s": [put({"pk": S("nw2")}), put({"pk": S("nw3")}), delete({"pk": S("nw2")})]}, DUPS),
            # a value error in the last request
            ({"bt_s": [put({"pk": S("nw4")}), put({"pk": S("nw5"), "x": {"SS": []}})]},
             "One or more parameter values were invalid: An string set  may not be empty"),
        ]
        for items, message in cases:
            with self.assertRaises(ClientError) as cm:
                c.batch_write_item(RequestItems=items)
            self.assertApiError(cm, "ValidationException", message)
        for k in ("nw1", "nw2", "nw3", "nw4", "nw5"):
            self.assertIsNone(self.get("bt_s", {"pk": S(k)}), k)

    def test_missing_table_is_rnf_for_the_whole_call(self):
        c = self.ddb
        with self.assertRaises(ClientError) as cm:
            c.batch_write_item(RequestItems={"bt_s": [put({"pk": S("rnf1")})], "bt_nope": [put({"pk": S("a")})]})
        self.assertApiError(cm, "ResourceNotFoundException", "Requested resource not found")
        self.assertIsNone(self.get("bt_s", {"pk": S("rnf1")}))
        with self.assertRaises(ClientError) as cm:
            c.batch_get_item(RequestItems={"bt_s": {"Keys": [{"pk": S("a")}]}, "bt_nope": {"Keys": [{"pk": S("a")}]}})
        self.assertApiError(cm, "ResourceNotFoundException", "Requested resource not found")
        # request-level problems come before the lookup (protocol.md 2.1 steps 10, 11)
        self.assertRaw("BatchWriteItem", {"RequestItems": {"bt_nope": [put({"pk": {"N": "x"}})]}}, VE,
                       "The parameter cannot be converted to a numeric value: x")
        self.assertRaw("BatchGetItem", {"RequestItems": {"bt_nope": {"Keys": [{"pk": S("a")}, {"pk": S("a")}]}}},
                       VE, DUPS)
        self.assertRaw("BatchWriteItem", {"RequestItems": {"bt_nope": [put({"pk": S("a")})] * 13,
                                                           "bt_s": [put({"pk": S("a")})] * 13}},
                       VE, "Too many items requested for the BatchWriteItem call")
        # ... and schema problems after it: a missing table wins over a key that does not match
        self.assertRaw("BatchWriteItem", {"RequestItems": {"bt_sn": [put({"pk": S("a")})],
                                                           "bt_nope": [put({"pk": S("a")})]}}, RNF,
                       "Requested resource not found")
        self.assertRaw("BatchGetItem", {"RequestItems": {"bt_s": {"Keys": [{"zz": S("a")}]},
                                                         "bt_nope": {"Keys": [{"pk": S("a")}]}}}, RNF,
                       "Requested resource not found")

    def test_item_size_limit(self):
        c = self.ddb
        ok = {"pk": S("big-ok"), "v": S("x" * (409600 - len("pk") - len("big-ok") - 1))}
        c.batch_write_item(RequestItems={"bt_s": [put(ok)]})
        self.assertEqual(len(self.get("bt_s", {"pk": S("big-ok")})["v"]["S"]), len(ok["v"]["S"]))
        over = {"pk": S("big-no"), "v": S("x" * (409601 - len("pk") - len("big-no") - 1))}
        with self.assertRaises(ClientError) as cm:
            c.batch_write_item(RequestItems={"bt_s": [put({"pk": S("big-x")}), put(over)]})
        self.assertApiError(cm, "ValidationException", "Item size has exceeded the maximum allowed size")
        self.assertIsNone(self.get("bt_s", {"pk": S("big-x")}))

    # -- capacity ------------------------------------------------------------------

    def test_consumed_capacity_write(self):
        c = self.ddb
        # sizes: "pk" + "cw-old" = 8; "v" 1 byte name
        c.put_item(TableName="bt_s", Item={"pk": S("cw-old"), "v": S("x" * 2991)})       # 3000 bytes
        c.put_item(TableName="bt_s2", Item={"pk": S("cw-del"), "v": S("x" * 2491)})      # 2500 bytes
        r = c.batch_write_item(RequestItems={
            "bt_s": [put({"pk": S("cw-new"), "v": S("x" * 1491)}),   # 1500 new -> 2
                     put({"pk": S("cw-old"), "v": S("x")})],          # max(10, 3000) -> 3
            "bt_s2": [delete({"pk": S("cw-del")}),                    # old 2500 -> 3
                      delete({"pk": S("cw-missing")})],               # missing -> 1
        }, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(r["ConsumedCapacity"], [{"TableName": "bt_s", "CapacityUnits": 5.0},
                                                 {"TableName": "bt_s2", "CapacityUnits": 4.0}])
        r = c.batch_write_item(RequestItems={"bt_s": [delete({"pk": S("cw-new")})]},
                               ReturnConsumedCapacity="INDEXES", ReturnItemCollectionMetrics="SIZE")
        self.assertEqual(r["ConsumedCapacity"], [{"TableName": "bt_s", "CapacityUnits": 2.0,
                                                  "Table": {"CapacityUnits": 2.0}}])
        self.assertNotIn("ItemCollectionMetrics", r)
        r = c.batch_write_item(RequestItems={"bt_s": [put({"pk": S("cw-x")})]}, ReturnConsumedCapacity="NONE")
        self.assertNotIn("ConsumedCapacity", r)
        raw = self.raw("BatchWriteItem", {"RequestItems": {"bt_s": [put({"pk": S("cw-x")})]},
                                          "ReturnConsumedCapacity": "TOTAL"})
        self.assertIn(b'"CapacityUnits":1.0', raw.body)

    def test_consumed_capacity_get(self):
        c = self.ddb
        c.put_item(TableName="bt_s", Item={"pk": S("cg-5000"), "v": S("x" * (5000 - 9))})
        c.put_item(TableName="bt_s", Item={"pk": S("cg-9000"), "v": S("x" * (9000 - 9))})
        c.put_item(TableName="bt_s2", Item={"pk": S("cg-small"), "v": S("x")})
        req = {"bt_s": {"Keys": [{"pk": S("cg-5000")}, {"pk": S("cg-9000")}, {"pk": S("cg-none")}]},
               "bt_s2": {"Keys": [{"pk": S("cg-small")}, {"pk": S("cg-none")}], "ConsistentRead": True}}
        r = c.batch_get_item(RequestItems=req, ReturnConsumedCapacity="TOTAL")
        # eventual: (2 + 3 + 1) * 0.5; strong: 1 + 1
        self.assertEqual(r["ConsumedCapacity"], [{"TableName": "bt_s", "CapacityUnits": 3.0},
                                                 {"TableName": "bt_s2", "CapacityUnits": 2.0}])
        req["bt_s"]["ConsistentRead"] = True
        r = c.batch_get_item(RequestItems=req, ReturnConsumedCapacity="INDEXES")
        self.assertEqual(r["ConsumedCapacity"], [
            {"TableName": "bt_s", "CapacityUnits": 6.0, "Table": {"CapacityUnits": 6.0}},
            {"TableName": "bt_s2", "CapacityUnits": 2.0, "Table": {"CapacityUnits": 2.0}}])
        # each key rounded on its own: three 100-byte eventually consistent reads = 1.5
        r = c.batch_get_item(RequestItems={"bt_s2": {"Keys": [{"pk": S("cg-small")}, {"pk": S("a")},
                                                              {"pk": S("b")}]}}, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(r["ConsumedCapacity"], [{"TableName": "bt_s2", "CapacityUnits": 1.5}])

    # -- 16 MB ---------------------------------------------------------------------

    def test_16mb_unprocessed_keys(self):
        c = self.ddb
        names = [self.unique("big"), self.unique("big")]
        for n in names:
            self.make_table(name=n)
        pad = "y" * (390 * 1024)
        for n in names:
            for start in range(0, 50, 25):
                c.batch_write_item(RequestItems={n: [put({"pk": S("k%02d" % i), "pad": S(pad), "i": {"N": str(i)}})
                                                     for i in range(start, start + 25)]})
        req = {names[0]: {"Keys": [{"pk": S("k%02d" % i)} for i in range(50)], "ConsistentRead": True},
               names[1]: {"Keys": [{"pk": S("k%02d" % i)} for i in range(50)], "AttributesToGet": ["pk", "pad"]}}
        r = c.batch_get_item(RequestItems=req, ReturnConsumedCapacity="TOTAL")
        first = sum(len(v) for v in r["Responses"].values())
        self.assertGreater(first, 30)
        self.assertLess(first, 50)  # ~16 MB of ~390 KB items
        self.assertEqual(set(r["Responses"]), set(names))
        up = r["UnprocessedKeys"]
        self.assertIn(names[1], up)
        self.assertEqual(up[names[1]]["AttributesToGet"], ["pk", "pad"])
        self.assertEqual(sum(len(e["Keys"]) for e in up.values()) + first, 100)
        if names[0] in up:
            self.assertIs(up[names[0]]["ConsistentRead"], True)
        # capacity only for what was read: 98 RCU per strong 390 KB read
        units = {cc["TableName"]: cc["CapacityUnits"] for cc in r["ConsumedCapacity"]}
        self.assertEqual(units[names[0]], 98.0 * len(r["Responses"][names[0]]))
        got, responses = get_all(c, req)
        self.assertGreaterEqual(len(responses), 3)
        for n in names:
            self.assertEqual(sorted(it["pk"]["S"] for it in got[n]), ["k%02d" % i for i in range(50)])
        for it in got[names[1]]:
            self.assertEqual(set(it), {"pk", "pad"})
            self.assertEqual(len(it["pad"]["S"]), len(pad))

    # -- validation messages (raw HTTP: boto3 refuses most of these client-side) -------

    def test_write_validation_messages(self):
        e1 = "1 validation error detected: "
        cases = [
            ({}, VE, e1 + "Value null at 'requestItems' failed to satisfy constraint: Member must not be null"),
            ({"RequestItems": {}}, VE, "The requestItems parameter is required for BatchWriteItem"),
            ({"RequestItems": {"bt_s": []}}, VE, e1 + "Value '{bt_s=[]}' at 'requestItems' " + MAP_VALUES),
            ({"RequestItems": {"bt_s": [put({"pk": S("k%d" % i)}) for i in range(26)]}}, VE,
             e1 + "Value '{bt_s=[%s]}' at 'requestItems' %s" % (", ".join(
                 "WriteRequest(putRequest=PutRequest(item={pk=%s}, workloadProfileName=null), deleteRequest=null)"
                 % (NULL_AV % ("k%d" % i)) for i in range(26)), MAP_VALUES)),
            ({"RequestItems": {"bad!name": [put({"pk": S("a")})]}}, VE,
             e1 + "Value '{bad!name=[WriteRequest(putRequest=PutRequest(item={pk=%s}, workloadProfileName=null), "
             "deleteRequest=null)]}' at 'requestItems' %s" % (NULL_AV % "a", MAP_KEYS)),
            ({"RequestItems": {"ab": [delete({"pk": S("a")})]}}, VE,
             e1 + "Value '{ab=[WriteRequest(putRequest=null, deleteRequest=DeleteRequest(key={pk=%s}, "
             "workloadProfileName=null))]}' at 'requestItems' %s" % (NULL_AV % "a", MAP_KEYS)),
            ({"RequestItems": {"bt_s": [put({"pk": S("a")})]}, "ReturnConsumedCapacity": "X",
              "ReturnItemCollectionMetrics": "Y"}, VE,
             "2 validation errors detected: Value 'X' at 'returnConsumedCapacity' failed to satisfy constraint: "
             "Member must satisfy enum value set: [INDEXES, TOTAL, NONE]; Value 'Y' at 'returnItemCollectionMetrics' "
             "failed to satisfy constraint: Member must satisfy enum value set: [SIZE, NONE]"),
            ({"RequestItems": {"bt_s": [{"PutRequest": {}}]}}, VE,
             e1 + "Value null at 'requestItems.bt_s.member.putRequest.item' failed to satisfy constraint: Member "
             "must not be null"),
            ({"RequestItems": {"bt_s": [{}]}}, VE,
             "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported "
             "datatypes"),
            ({"RequestItems": {"bt_s": [put({"pk": S("a")}) for _ in range(13)],
                               "bt_s2": [put({"pk": S("b%d" % i)}) for i in range(13)]}}, VE,
             "Too many items requested for the BatchWriteItem call"),
            ({"RequestItems": {"bt_s": [put({"pk": S("a"), "s": {"SS": ["b", "a", "b"]}})]}}, VE,
             "One or more parameter values were invalid: Input collection [b, a, b] contains duplicates."),
            ({"RequestItems": {"bt_s": [put({"pk": S("a"), "n": {"N": ""}})]}}, VE,
             "The parameter cannot be converted to a numeric value"),
            ({"RequestItems": {"bt_s": [put({"pk": S("a"), "n": {"NS": ["1", "1.0"]}})]}}, VE,
             "Input collection contains duplicates"),
            ({"RequestItems": {"bt_s": [put({"pk": S("a"), "n": {"N": "1e2147483647"}})]}}, VE,
             "Number underflow. Attempting to store a number with magnitude smaller than supported range"),
            ({"RequestItems": {"bt_s": [delete({"pk": {"S": "a", "N": "1"}})]}}, VE,
             "Supplied AttributeValue has more than one datatypes set, must contain exactly one of the supported "
             "datatypes"),
            ({"RequestItems": {"bt_s": [put({"pk": S("a"), "d": self.nest(33)})]}}, VE,
             "Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond "
             "supported limit"),
            # after the table lookup
            ({"RequestItems": {"bt_s": [put({"pk": S("a")}), delete({"pk": S("a")})]}}, VE, DUPS),
            ({"RequestItems": {"bt_n": [put({"pk": {"N": "5"}}), put({"pk": {"N": "5.000"}, "x": S("y")})]}}, VE,
             DUPS),
            ({"RequestItems": {"bt_sn": [put({"pk": S("a"), "sk": {"N": "1"}}),
                                         delete({"pk": S("a"), "sk": {"N": "10e-1"}})]}}, VE, DUPS),
            ({"RequestItems": {"bt_s": [put({"x": S("a")})]}}, VE, NOT_SCHEMA),
            ({"RequestItems": {"bt_s": [put({"pk": {"N": "1"}})]}}, VE, NOT_SCHEMA),
            ({"RequestItems": {"bt_s": [put({"pk": {"SS": ["a"]}})]}}, VE, NOT_SCHEMA),
            ({"RequestItems": {"bt_sn": [put({"pk": S("a")})]}}, VE, NOT_SCHEMA),
            ({"RequestItems": {"bt_s": [delete({"pk": S("a"), "x": S("b")})]}}, VE, NOT_SCHEMA),
            ({"RequestItems": {"bt_s": [put({"pk": S("")})]}}, VE,
             "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain "
             "an empty string value. Key: pk"),
            ({"RequestItems": {"bt_b": [delete({"pk": {"B": ""}})]}}, VE,
             "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain "
             "an empty binary value. Key: pk"),
            ({"RequestItems": {"bt_s": [put({"pk": S("h" * 2049)})]}}, VE,
             "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size limit "
             "of2048 bytes"),
            ({"RequestItems": {"bt_s": {}}}, SE, "Start of structure or map found where not expected"),
            ({"RequestItems": {"bt_s": [put({"pk": {"N": 5}})]}}, SE, "NUMBER_VALUE cannot be converted to String"),
        ]
        for body, typ, message in cases:
            with self.subTest(body=str(body)[:120]):
                self.assertRaw("BatchWriteItem", body, typ, message)

    def test_get_validation_messages(self):
        e1 = "1 validation error detected: "
        K = [{"pk": S("a")}]
        cases = [
            ({}, VE, e1 + "Value null at 'requestItems' failed to satisfy constraint: Member must not be null"),
            ({"RequestItems": {}}, VE,
             e1 + "Value at 'RequestItems' failed to satisfy constraint: Member must have length greater than or "
             "equal to 1"),
            ({"RequestItems": {"bad!name": {"Keys": K}}}, VE,
             e1 + "Value '{\"bad!name\":{\"Keys\":[{\"pk\":{\"S\":\"a\"}}]}}' at 'requestItems' " + MAP_KEYS),
            ({"RequestItems": {"bt_s": {"Keys": []}}}, VE,
             e1 + "Value at 'RequestItems.bt_s.member.Keys' failed to satisfy constraint: Member must have length "
             "greater than or equal to 1"),
            ({"RequestItems": {"bt_s": {"Keys": [{"pk": S("k%d" % i)} for i in range(101)]}}}, VE,
             e1 + "Value at 'RequestItems.bt_s.member.Keys' failed to satisfy constraint: Member must have length "
             "less than or equal to 100"),
            ({"RequestItems": {"bt_s": {"Keys": [{"pk": S("k%d" % i)} for i in range(51)]},
                               "bt_s2": {"Keys": [{"pk": S("k%d" % i)} for i in range(50)]}}}, VE,
             "Too many items requested for the BatchGetItem call"),
            ({"RequestItems": {"bt_s": {"Keys": K + K}}}, VE, DUPS),
            ({"RequestItems": {"bt_n": {"Keys": [{"pk": {"N": "1"}}, {"pk": {"N": "1.0"}}]}}}, VE, DUPS),
            ({"RequestItems": {"bt_s": {"Keys": K, "AttributesToGet": ["a", "a"]}}}, VE,
             "One or more parameter values were invalid: Duplicate value in attribute name: a"),
            ({"RequestItems": {"bt_s": {"Keys": K, "AttributesToGet": []}}}, VE,
             e1 + "Value at 'RequestItems.bt_s.member.AttributesToGet' failed to satisfy constraint: Member must "
             "have length greater than or equal to 1"),
            ({"RequestItems": {"bt_s": {"Keys": K, "ProjectionExpression": "a", "AttributesToGet": ["a"]}}}, VE,
             "Can not use both expression and non-expression parameters in the same request: "
             "Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}"),
            ({"RequestItems": {"bt_s": {"Keys": K, "ProjectionExpression": "a",
                                        "ExpressionAttributeNames": {"#x": "x"}}}}, VE,
             "Value provided in ExpressionAttributeNames unused in expressions: keys: {#x}"),
            ({"RequestItems": {"bt_s": {"Keys": [{"pk": {"SS": ["b", "a", "b"]}}]}}}, VE,
             "One or more parameter values were invalid: Input collection [\"a\", \"b\", \"b\"] contains "
             "duplicates."),
            ({"RequestItems": {"bt_s": {"Keys": [{"pk": {"N": ""}}]}}}, VE,
             "The parameter cannot be converted to a numeric value: "),
            ({"RequestItems": {"bt_s": {"Keys": K}}, "ReturnConsumedCapacity": "BAD"}, VE,
             e1 + "Value 'BAD' at 'returnConsumedCapacity' failed to satisfy constraint: Member must satisfy enum "
             "value set: [INDEXES, TOTAL, NONE]"),
            ({"RequestItems": {"bt_s": {"Keys": [{"id": S("a")}]}}}, VE, NOT_SCHEMA),
            ({"RequestItems": {"bt_s": {"Keys": [{"pk": S("a"), "x": S("b")}]}}}, VE, NOT_SCHEMA),
            ({"RequestItems": {"bt_sn": {"Keys": K}}}, VE, NOT_SCHEMA),
            ({"RequestItems": {"bt_s": {"Keys": [{"pk": S("")}]}}}, VE,
             "One or more parameter values are not valid. The AttributeValue for a key attribute cannot contain "
             "an empty string value. Key: pk"),
            ({"RequestItems": {"bt_s": {"Keys": K, "ConsistentRead": "maybe"}}}, SE,
             "'MAYBE' can not be converted to an Boolean"),
        ]
        for body, typ, message in cases:
            with self.subTest(body=str(body)[:120]):
                self.assertRaw("BatchGetItem", body, typ, message)

    def test_boto3_surfaces_errors(self):
        c = self.ddb
        with self.assertRaises(ClientError) as cm:
            c.batch_write_item(RequestItems={"bt_s": [put({"pk": S("d")}), put({"pk": S("d")})]})
        self.assertApiError(cm, "ValidationException", DUPS)
        with self.assertRaises(ClientError) as cm:
            c.batch_get_item(RequestItems={"bt_s": {"Keys": [{"pk": S("d")}, {"pk": S("d")}]}})
        self.assertApiError(cm, "ValidationException", DUPS)
        with self.assertRaises(ClientError) as cm:
            c.batch_write_item(RequestItems={"bt_s": [put({"pk": S("d%d" % i)}) for i in range(26)]})
        self.assertApiError(cm, "ValidationException")
        self.assertIn("Map value must satisfy constraint", cm.exception.response["Error"]["Message"])

    @staticmethod
    def nest(depth):
        v = S("x")
        for _ in range(depth - 1):
            v = {"M": {"a": v}}
        return v


class BatchCrashTest(unittest.TestCase):
    """A BatchWriteItem is one log record: after SIGKILL each call's 25 items
    are all there or all gone, and every acknowledged call is all there."""

    def setUp(self):
        self.d = Daemon()
        self.d.start()

    def tearDown(self):
        self.d.cleanup()

    def writer(self, wid, stop, acked, sent, bad):
        n = 0
        conn = self.d.connection(timeout=30)
        while not stop.is_set():
            bid = "w%d-b%d" % (wid, n)
            n += 1
            items = [put({"pk": S("%s-%02d" % (bid, i)), "batch": S(bid),
                          "pad": {"B": base64.b64encode(bytes([i]) * (1500 + 97 * i)).decode()}})
                     for i in range(25)]
            sent.append(bid)
            try:
                r = raw_request(self.d.port, "BatchWriteItem", {"RequestItems": {"crash": items}}, conn=conn)
            except (OSError, http.client.HTTPException):  # the daemon died under us
                return
            if r.status == 200 and r.json == {"UnprocessedItems": {}}:
                acked.append(bid)
            else:
                bad.append((bid, r.status, r.body[:200]))
                return

    def test_batch_all_or_nothing_after_sigkill(self):
        c = self.d.client()
        c.create_table(TableName="crash", AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                       KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}], BillingMode="PAY_PER_REQUEST")
        total_acked = 0
        for rnd in range(3):
            stop = threading.Event()
            acked, sent, bad = [], [], []
            threads = [threading.Thread(target=self.writer, args=(rnd * 10 + w, stop, acked, sent, bad))
                       for w in range(4)]
            for t in threads:
                t.start()
            time.sleep(0.6 + 0.3 * rnd)
            self.d.kill()  # mid-flight: several batches are being written or committed
            stop.set()
            for t in threads:
                t.join(30)
            self.assertEqual(bad, [])
            self.assertGreater(len(acked), 0)
            self.d.start()
            c = self.d.client()
            keys = [{"pk": S("%s-%02d" % (bid, i))} for bid in sent for i in range(25)]
            got, _ = get_all(c, {"crash": {"Keys": keys, "ConsistentRead": True}})
            per_batch = {}
            for it in got["crash"]:
                b = it["batch"]["S"]
                i = int(it["pk"]["S"].rsplit("-", 1)[1])
                self.assertEqual(it["pad"]["B"], bytes([i]) * (1500 + 97 * i))
                per_batch[b] = per_batch.get(b, 0) + 1
            partial = {b: n for b, n in per_batch.items() if n != 25}
            self.assertEqual(partial, {}, "batches partly present after SIGKILL (round %d)" % rnd)
            lost = [b for b in acked if per_batch.get(b) != 25]
            self.assertEqual(lost, [], "acknowledged batches lost (round %d)" % rnd)
            total_acked += len(acked)
        self.assertGreater(total_acked, 3)


if __name__ == "__main__":
    unittest.main()
