"""test_boto3_items.py -- PutItem / GetItem / DeleteItem through boto3 (client
and resource APIs): every attribute type round-trips, number normalisation,
ReturnValues, ConsumedCapacity, AttributesToGet, limits (item size, nesting,
key sizes), key validation and a 10,000-item bulk write/read
(operations.md 1, 3, 5.0-5.1; protocol.md 2.3 for the envelopes).
"""

import base64
import concurrent.futures
import math
import unittest
from decimal import Decimal

from boto3.dynamodb.types import Binary
from botocore.exceptions import ClientError

from harness import DaemonTestCase, raw_request

ENV = "1 validation error detected: "  # PutItem/DeleteItem request-validation envelope


def n_size(s):
    """DynamoDB's size of a canonical number string (operations.md 1.6)."""
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


def nest(depth, leaf=None, kind="M"):
    """A value with `depth` levels: the leaf is level `depth` (top level = 1)."""
    v = leaf or {"S": "x"}
    for _ in range(depth - 1):
        v = {"M": {"a": v}} if kind == "M" else {"L": [v]}
    return v


class ItemsTest(DaemonTestCase):

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
        mk("items_s", "S")
        mk("items_n", "N")
        mk("items_b", "B")
        mk("items_sn", "S", "N")
        mk("items_ss", "S", "S")
        mk("items_bulk", "S", "N")

    def put(self, item, table="items_s", **kw):
        return self.ddb.put_item(TableName=table, Item=item, **kw)

    def get(self, key, table="items_s", **kw):
        return self.ddb.get_item(TableName=table, Key=key, **kw)

    def assertVE(self, fn, message, code="ValidationException"):
        with self.assertRaises(ClientError) as cm:
            fn()
        self.assertApiError(cm, code, message)

    # -- round trips ----------------------------------------------------------

    def test_all_types_round_trip(self):
        item = {
            "pk": {"S": "all-types"},
            "s": {"S": "h\u00e9llo \U0001F600 \u0000 \"quoted\" \\ /"},
            "s_empty": {"S": ""},
            "n": {"N": "-123.456"},
            "b": {"B": bytes(range(256))},
            "b_empty": {"B": b""},
            "t": {"BOOL": True},
            "f": {"BOOL": False},
            "nul": {"NULL": True},
            "m": {"M": {"x": {"S": "y"}, "inner": {"M": {"z": {"N": "0"}}}}},
            "m_empty": {"M": {}},
            "l": {"L": [{"S": "a"}, {"N": "1"}, {"L": []}, {"NULL": True}, {"B": b"\x01"}]},
            "l_empty": {"L": []},
            "ss": {"SS": ["a", "", "b\u00e9", "B"]},
            "ns": {"NS": ["10", "9", "-1.5", "0"]},
            "bs": {"BS": [b"\xff", b"\x00", b"\x00\x00", b"a"]},
            "\u00fcnicode name \U0001F600": {"S": "v"},
        }
        self.put(item)
        got = self.get({"pk": {"S": "all-types"}}, ConsistentRead=True)["Item"]
        want = dict(item)
        # sets come back sorted: SS/BS bytewise, NS by value (operations.md 1.1)
        want["ss"] = {"SS": sorted(item["ss"]["SS"], key=lambda s: s.encode())}
        want["ns"] = {"NS": ["-1.5", "0", "9", "10"]}
        want["bs"] = {"BS": sorted(item["bs"]["BS"])}
        self.assertEqual(got, want)

    def test_resource_api_round_trip(self):
        t = self.daemon.resource().Table("items_s")
        item = {
            "pk": "resource",
            "dec": Decimal("3.14159"),
            "int": 42,
            "neg": Decimal("-0.001"),
            "bin": Binary(b"\x00\x01\xfe\xff"),
            "str": "text",
            "bool": False,
            "none": None,
            "map": {"a": [1, "two", None, True, {"deep": Decimal("1E+3")}]},
            "list": [],
            "ss": {"x", "y", ""},
            "ns": {Decimal("1"), Decimal("2.5"), 7},
            "bs": {Binary(b"a"), Binary(b"\x00")},
        }
        t.put_item(Item=item)
        got = t.get_item(Key={"pk": "resource"}, ConsistentRead=True)["Item"]
        self.assertEqual(got, item)
        self.assertIsInstance(got["dec"], Decimal)
        self.assertEqual(str(got["map"]["a"][4]["deep"]), "1000")
        self.assertEqual(t.delete_item(Key={"pk": "resource"}, ReturnValues="ALL_OLD")["Attributes"], item)
        self.assertNotIn("Item", t.get_item(Key={"pk": "resource"}))

    def test_overwrite_replaces_whole_item(self):
        self.put({"pk": {"S": "ow"}, "a": {"S": "1"}, "b": {"S": "2"}})
        self.put({"pk": {"S": "ow"}, "c": {"N": "3"}})
        self.assertEqual(self.get({"pk": {"S": "ow"}})["Item"], {"pk": {"S": "ow"}, "c": {"N": "3"}})

    def test_missing_item(self):
        r = self.get({"pk": {"S": "never-written"}})
        self.assertNotIn("Item", r)
        r = self.get({"pk": {"S": "never-written"}}, ConsistentRead=True)
        self.assertNotIn("Item", r)
        # raw: the body is exactly {}
        raw = self.daemon.raw("GetItem", {"TableName": "items_s", "Key": {"pk": {"S": "never-written"}}})
        self.assertEqual((raw.status, raw.json), (200, {}))

    def test_delete(self):
        self.put({"pk": {"S": "del"}, "v": {"S": "x"}})
        r = self.ddb.delete_item(TableName="items_s", Key={"pk": {"S": "del"}})
        self.assertNotIn("Attributes", r)
        self.assertNotIn("Item", self.get({"pk": {"S": "del"}}))
        # deleting a missing item succeeds
        self.ddb.delete_item(TableName="items_s", Key={"pk": {"S": "del"}})
        raw = self.daemon.raw("DeleteItem", {"TableName": "items_s", "Key": {"pk": {"S": "del"}}})
        self.assertEqual((raw.status, raw.json), (200, {}))
        raw = self.daemon.raw("PutItem", {"TableName": "items_s", "Item": {"pk": {"S": "del"}}})
        self.assertEqual((raw.status, raw.json), (200, {}))

    def test_binary_and_number_keys(self):
        for k in (b"\x00", b"\x00\x00", b"\xff", b"a"):
            self.put({"pk": {"B": k}, "v": {"B": k}}, table="items_b")
        for k in (b"\x00", b"\x00\x00", b"\xff", b"a"):
            self.assertEqual(self.get({"pk": {"B": k}}, table="items_b")["Item"]["v"], {"B": k})
        self.put({"pk": {"N": "-0"}, "v": {"S": "zero"}}, table="items_n")
        for form in ("0", "0.0", "+0", "0e5", "-0.000"):
            got = self.get({"pk": {"N": form}}, table="items_n")["Item"]
            self.assertEqual(got, {"pk": {"N": "0"}, "v": {"S": "zero"}}, form)

    def test_numeric_sort_key_by_value(self):
        t = "items_sn"
        self.put({"pk": {"S": "h"}, "sk": {"N": "1.0"}, "v": {"S": "one"}}, table=t)
        for form in ("1", "1.00", "+1", "1e0", "0.1e1", "10E-1"):
            got = self.get({"pk": {"S": "h"}, "sk": {"N": form}}, table=t)
            self.assertEqual(got.get("Item"), {"pk": {"S": "h"}, "sk": {"N": "1"}, "v": {"S": "one"}}, form)
        r = self.put({"pk": {"S": "h"}, "sk": {"N": "1e0"}, "v": {"S": "uno"}}, table=t, ReturnValues="ALL_OLD")
        self.assertEqual(r["Attributes"], {"pk": {"S": "h"}, "sk": {"N": "1"}, "v": {"S": "one"}})
        self.put({"pk": {"S": "h"}, "sk": {"N": "100"}, "v": {"S": "hundred"}}, table=t)
        self.assertEqual(self.get({"pk": {"S": "h"}, "sk": {"N": "1e2"}}, table=t)["Item"]["v"], {"S": "hundred"})
        self.put({"pk": {"S": "h"}, "sk": {"N": "-2.50"}, "v": {"S": "neg"}}, table=t)
        self.assertEqual(self.get({"pk": {"S": "h"}, "sk": {"N": "-25e-1"}}, table=t)["Item"]["sk"], {"N": "-2.5"})
        r = self.ddb.delete_item(TableName=t, Key={"pk": {"S": "h"}, "sk": {"N": "+1.000"}}, ReturnValues="ALL_OLD")
        self.assertEqual(r["Attributes"]["v"], {"S": "uno"})
        self.assertNotIn("Item", self.get({"pk": {"S": "h"}, "sk": {"N": "1"}}, table=t))
        # distinct values stay distinct
        self.assertEqual(self.get({"pk": {"S": "h"}, "sk": {"N": "100"}}, table=t)["Item"]["v"], {"S": "hundred"})

    def test_string_sort_key_distinct(self):
        t = "items_ss"
        keys = ["", "a", "a\u0000", "A", "\u00e9", "ab"]
        keys.remove("")  # empty key values are rejected (tested elsewhere)
        for k in keys:
            self.put({"pk": {"S": "p"}, "sk": {"S": k}, "v": {"S": "v" + k}}, table=t)
        for k in keys:
            self.assertEqual(self.get({"pk": {"S": "p"}, "sk": {"S": k}}, table=t)["Item"]["v"], {"S": "v" + k})

    # -- numbers ----------------------------------------------------------------

    def test_number_normalisation(self):
        cases = {
            "007": "7", "001.23": "1.23", "00": "0", "1.0": "1", "1.10": "1.1", "100.000": "100",
            "1e3": "1000", "1.23e4": "12300", "+3": "3", "-0": "0", "-0.0": "0", "+0": "0",
            "0.10": "0.1", "0e5": "0", "0.0e3": "0", "1e-3": "0.001", "1.0e-1": "0.1", ".5": "0.5",
            "-.5": "-0.5", "1e20": "100000000000000000000", "1e125": "1" + "0" * 125,
            "1e-20": "0.00000000000000000001", "1E+5": "100000", "-17e5": "-1700000", "5.": "5",
            "1" + "0" * 50: "1" + "0" * 50, "1e-130": "0." + "0" * 129 + "1",
            "9.9999999999999999999999999999999999999E+125": "99999999999999999999999999999999999999" + "0" * 88,
            "12345678901234567890123456789012345678": "12345678901234567890123456789012345678",
            "-1234567890123456789012345678901234567.8": "-1234567890123456789012345678901234567.8",
            "0.00012345678901234567890123456789012345678": "0.00012345678901234567890123456789012345678",
            "123456789012345678901234567890123456780000": "123456789012345678901234567890123456780000",
            "0e125": "0",
        }
        item = {"pk": {"S": "numbers"}}
        names = {}
        for i, (src, _) in enumerate(cases.items()):
            names["n%d" % i] = src
            item["n%d" % i] = {"N": src}
        item["ns"] = {"NS": ["1.0", "2e1", "-0.50", "003"]}
        self.put(item)
        got = self.get({"pk": {"S": "numbers"}})["Item"]
        for name, src in names.items():
            self.assertEqual(got[name], {"N": cases[src]}, "N %r" % src)
        self.assertEqual(got["ns"], {"NS": ["-0.5", "1", "3", "20"]})

    def test_number_errors(self):
        bad = {
            "abc": "The parameter cannot be converted to a numeric value: abc",
            "1.2.3": "The parameter cannot be converted to a numeric value: 1.2.3",
            "0x10": "The parameter cannot be converted to a numeric value: 0x10",
            "1e": "The parameter cannot be converted to a numeric value: 1e",
            "NaN": "The parameter cannot be converted to a numeric value: NaN",
            "Infinity": "The parameter cannot be converted to a numeric value: Infinity",
            " 1": "The parameter cannot be converted to a numeric value:  1",
            "1 ": "The parameter cannot be converted to a numeric value: 1 ",
            "": "The parameter cannot be converted to a numeric value: ",
            "1234567890123456789012345678901234567890": "Attempting to store more than 38 significant digits in a Number",
            "1.234567890123456789012345678901234567890": "Attempting to store more than 38 significant digits in a Number",
            "1e126": "Number overflow. Attempting to store a number with magnitude larger than supported range",
            "-1e126": "Number overflow. Attempting to store a number with magnitude larger than supported range",
            "1e-131": "Number underflow. Attempting to store a number with magnitude smaller than supported range",
            "1e2147483647": "Number overflow. Attempting to store a number with magnitude larger than supported range",
            "1e99999999999": "Number overflow. Attempting to store a number with magnitude larger than supported range",
            "1e-99999999999": "Number underflow. Attempting to store a number with magnitude smaller than supported range",
            "1e9223372036854775808": "The parameter cannot be converted to a numeric value: 1e9223372036854775808",
            "0e126": "Number overflow. Attempting to store a number with magnitude larger than supported range",
            "0e-131": "Number underflow. Attempting to store a number with magnitude smaller than supported range",
        }
        for src, msg in bad.items():
            with self.subTest(n=src):
                self.assertVE(lambda: self.put({"pk": {"S": "badnum"}, "n": {"N": src}}), ENV + msg)
                # GetItem: bare (protocol.md 2.3)
                self.assertVE(lambda: self.get({"pk": {"N": src}}, table="items_n"), msg)
                # DeleteItem: enveloped
                self.assertVE(lambda: self.ddb.delete_item(TableName="items_n", Key={"pk": {"N": src}}), ENV + msg)
        self.assertNotIn("Item", self.get({"pk": {"S": "badnum"}}))

    # -- ReturnValues / capacity -----------------------------------------------

    def test_return_values_all_old(self):
        k = {"pk": {"S": "rv"}}
        r = self.put(dict(k, v={"N": "1"}), ReturnValues="ALL_OLD")
        self.assertNotIn("Attributes", r)
        r = self.put(dict(k, v={"N": "2"}, w={"SS": ["a"]}), ReturnValues="ALL_OLD")
        self.assertEqual(r["Attributes"], dict(k, v={"N": "1"}))
        r = self.put(dict(k, v={"N": "3"}), ReturnValues="NONE")
        self.assertNotIn("Attributes", r)
        r = self.ddb.delete_item(TableName="items_s", Key=k, ReturnValues="ALL_OLD")
        self.assertEqual(r["Attributes"], dict(k, v={"N": "3"}))
        r = self.ddb.delete_item(TableName="items_s", Key=k, ReturnValues="ALL_OLD")
        self.assertNotIn("Attributes", r)

    def test_return_values_invalid(self):
        for rv in ("ALL_NEW", "UPDATED_NEW", "UPDATED_OLD"):
            self.assertVE(lambda: self.put({"pk": {"S": "x"}}, ReturnValues=rv),
                          ENV + "ReturnValues can only be ALL_OLD or NONE")
            self.assertVE(lambda: self.ddb.delete_item(TableName="items_s", Key={"pk": {"S": "x"}}, ReturnValues=rv),
                          ENV + "ReturnValues can only be ALL_OLD or NONE")
        enum = ENV + "Failed to satisfy constraint: Member must satisfy enum value set: " \
                     "[ALL_OLD, UPDATED_OLD, ALL_NEW, UPDATE_NEW, NONE]"
        self.assertVE(lambda: self.put({"pk": {"S": "x"}}, ReturnValues="all_old"), enum)
        self.assertVE(lambda: self.ddb.delete_item(TableName="items_s", Key={"pk": {"S": "x"}},
                                                   ReturnValues="BOGUS"), enum)

    def cap(self, r):
        return r["ConsumedCapacity"]

    def test_consumed_capacity_put_delete(self):
        def item(total):  # an item of exactly `total` bytes
            return {"pk": {"S": "cap"}, "p": {"S": "x" * (total - 6)}}
        self.assertEqual(item_size(item(1024)), 1024)
        r = self.put(item(1024), ReturnConsumedCapacity="TOTAL")
        self.assertEqual(self.cap(r), {"TableName": "items_s", "CapacityUnits": 1.0})
        r = self.put(item(1025), ReturnConsumedCapacity="TOTAL")  # max(new 1025, old 1024)
        self.assertEqual(self.cap(r), {"TableName": "items_s", "CapacityUnits": 2.0})
        r = self.put(item(10), ReturnConsumedCapacity="INDEXES")  # old 1025 counts
        self.assertEqual(self.cap(r), {"TableName": "items_s", "CapacityUnits": 2.0, "Table": {"CapacityUnits": 2.0}})
        r = self.put(item(10), ReturnConsumedCapacity="NONE")
        self.assertNotIn("ConsumedCapacity", r)
        r = self.put(item(3000))
        self.assertNotIn("ConsumedCapacity", r)
        r = self.ddb.delete_item(TableName="items_s", Key={"pk": {"S": "cap"}}, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(self.cap(r), {"TableName": "items_s", "CapacityUnits": 3.0})
        r = self.ddb.delete_item(TableName="items_s", Key={"pk": {"S": "cap"}}, ReturnConsumedCapacity="INDEXES")
        self.assertEqual(self.cap(r), {"TableName": "items_s", "CapacityUnits": 1.0, "Table": {"CapacityUnits": 1.0}})

    def test_consumed_capacity_get(self):
        k = {"pk": {"S": "capget"}}
        def put(total):
            self.put(dict(k, p={"S": "x" * (total - len("pk") - len("capget") - 1)}))
        put(4096)
        self.assertEqual(item_size(self.get(k)["Item"]), 4096)
        r = self.get(k, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(self.cap(r), {"TableName": "items_s", "CapacityUnits": 1.0})
        r = self.get(k, ConsistentRead=False, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(self.cap(r), {"TableName": "items_s", "CapacityUnits": 0.5})
        put(4097)
        r = self.get(k, ConsistentRead=True, ReturnConsumedCapacity="INDEXES")
        self.assertEqual(self.cap(r), {"TableName": "items_s", "CapacityUnits": 2.0, "Table": {"CapacityUnits": 2.0}})
        r = self.get(k, ReturnConsumedCapacity="TOTAL")  # default: eventually consistent
        self.assertEqual(self.cap(r), {"TableName": "items_s", "CapacityUnits": 1.0})
        # projection does not change the charge
        r = self.get(k, ReturnConsumedCapacity="TOTAL", ConsistentRead=True, AttributesToGet=["pk"])
        self.assertEqual(self.cap(r), {"TableName": "items_s", "CapacityUnits": 2.0})
        r = self.get({"pk": {"S": "capget-missing"}}, ConsistentRead=True, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(self.cap(r), {"TableName": "items_s", "CapacityUnits": 1.0})
        self.assertNotIn("Item", r)
        r = self.get({"pk": {"S": "capget-missing"}}, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(self.cap(r), {"TableName": "items_s", "CapacityUnits": 0.5})

    def test_consumed_capacity_raw_numbers(self):
        raw = self.daemon.raw("PutItem", {"TableName": "items_s", "Item": {"pk": {"S": "capraw"}},
                                          "ReturnConsumedCapacity": "TOTAL"})
        self.assertEqual(raw.status, 200, raw)
        self.assertEqual(raw.json, {"ConsumedCapacity": {"TableName": "items_s", "CapacityUnits": 1.0}})
        self.assertIsInstance(raw.json["ConsumedCapacity"]["CapacityUnits"], (int, float))

    def test_consistent_read_lenient_and_enum_errors(self):
        self.put({"pk": {"S": "cr"}})
        for v in ("true", "FALSE", "1", "0", "yes", "No"):
            raw = self.daemon.raw("GetItem", {"TableName": "items_s", "Key": {"pk": {"S": "cr"}}, "ConsistentRead": v})
            self.assertEqual(raw.status, 200, (v, raw))
            self.assertEqual(raw.json, {"Item": {"pk": {"S": "cr"}}})
        self.assertVE(lambda: self.get({"pk": {"S": "cr"}}, ReturnConsumedCapacity="BOGUS"),
                      "1 validation error detected: Value 'BOGUS' at 'returnConsumedCapacity' failed to satisfy "
                      "constraint: Member must satisfy enum value set: [INDEXES, TOTAL, NONE]")

    # -- AttributesToGet --------------------------------------------------------

    def test_attributes_to_get(self):
        k = {"pk": {"S": "atg"}}
        self.put(dict(k, a={"S": "A"}, b={"N": "2"}, c={"L": [{"S": "x"}]}))
        self.assertEqual(self.get(k, AttributesToGet=["a", "c"])["Item"], {"a": {"S": "A"}, "c": {"L": [{"S": "x"}]}})
        self.assertEqual(self.get(k, AttributesToGet=["pk"])["Item"], k)
        self.assertEqual(self.get(k, AttributesToGet=["zz", "b"])["Item"], {"b": {"N": "2"}})
        # present item, nothing projected: Item {} (operations.md 5.1)
        self.assertEqual(self.get(k, AttributesToGet=["zz"])["Item"], {})
        raw = self.daemon.raw("GetItem", {"TableName": "items_s", "Key": k, "AttributesToGet": ["zz"]})
        self.assertEqual(raw.json, {"Item": {}})
        self.assertNotIn("Item", self.get({"pk": {"S": "atg-missing"}}, AttributesToGet=["a"]))
        self.assertVE(lambda: self.get(k, AttributesToGet=["a", "b", "a"]),
                      "One or more parameter values were invalid: Duplicate value in attribute name: a")

    # -- limits -------------------------------------------------------------------

    def test_item_size_limit(self):
        base = {"pk": {"S": "big"}}
        def item(total):
            return dict(base, p={"S": "x" * (total - 2 - 3 - 1)})
        self.assertEqual(item_size(item(409600)), 409600)
        self.put(item(409600))
        got = self.get({"pk": {"S": "big"}}, ConsistentRead=True)["Item"]
        self.assertEqual(item_size(got), 409600)
        self.assertEqual(got, item(409600))
        self.assertVE(lambda: self.put(item(409601)), "Item size has exceeded the maximum allowed size")
        # before the table lookup: same answer for a missing table
        self.assertVE(lambda: self.put(item(409601), table="no_such_table_zz"),
                      "Item size has exceeded the maximum allowed size")
        # the failed put left the old item alone
        self.assertEqual(self.get({"pk": {"S": "big"}}, ConsistentRead=True)["Item"], item(409600))
        # size counts names (multi-byte) and binary decoded bytes
        name = "\u00e9" * 10  # 20 bytes
        it = {"pk": {"S": "big2"}, name: {"B": b"\x00" * (409600 - 2 - 4 - 20)}}
        self.assertEqual(item_size(it), 409600)
        self.put(it)
        it[name] = {"B": b"\x00" * (409600 - 2 - 4 - 20 + 1)}
        self.assertVE(lambda: self.put(it), "Item size has exceeded the maximum allowed size")

    def test_item_size_containers(self):
        # M/L/set overheads (operations.md 1.6) meet the limit exactly
        it = {"pk": {"S": "big3"}, "m": {"M": {"k": {"L": [{"S": ""}, {"N": "123456"}]}}},
              "ss": {"SS": ["ab", "c"]}, "ns": {"NS": ["3.14159"]}, "t": {"BOOL": True}, "z": {"NULL": True}}
        pad = 409600 - item_size(it) - 1
        it["p"] = {"S": "x" * pad}
        self.assertEqual(item_size(it), 409600)
        self.put(it)
        it["p"] = {"S": "x" * (pad + 1)}
        self.assertVE(lambda: self.put(it), "Item size has exceeded the maximum allowed size")

    def test_nesting_levels(self):
        msg = ("Nesting Levels have exceeded supported limits: Attributes in the item have nested levels beyond "
               "supported limit")
        for kind in ("M", "L"):
            ok = {"pk": {"S": "nest" + kind}, "v": nest(32, kind=kind)}
            self.put(ok)
            self.assertEqual(self.get({"pk": {"S": "nest" + kind}})["Item"], ok)
            self.assertVE(lambda: self.put({"pk": {"S": "nest"}, "v": nest(33, kind=kind)}), ENV + msg)
        # a very deep document must not crash the daemon
        raw = self.daemon.raw("PutItem", '{"TableName":"items_s","Item":{"pk":{"S":"deep"},"v":'
                              + '{"L":[' * 5000 + '{"S":"x"}' + "]}" * 5000 + "}}")
        self.assertEqual(raw.status, 400, raw)
        self.assertIn(raw.type.split("#")[-1], ("ValidationException", "SerializationException"))
        raw = self.daemon.raw("PutItem", '{"TableName":"items_s","Item":' + "[" * 100000 + "]" * 100000 + "}")
        self.assertEqual(raw.status, 400, raw)
        self.assertTrue(self.daemon.running())

    def test_key_sizes(self):
        self.put({"pk": {"S": "k" * 2048}})
        self.assertIn("Item", self.get({"pk": {"S": "k" * 2048}}))
        self.assertVE(lambda: self.put({"pk": {"S": "k" * 2049}}),
                      "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size "
                      "limit of2048 bytes")
        self.assertVE(lambda: self.put({"pk": {"S": "\u00e9" * 1025}}),  # 2050 UTF-8 bytes
                      "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size "
                      "limit of2048 bytes")
        self.put({"pk": {"B": b"k" * 2048}}, table="items_b")
        self.assertVE(lambda: self.put({"pk": {"B": b"k" * 2049}}, table="items_b"),
                      "One or more parameter values were invalid: Size of hashkey has exceeded the maximum size "
                      "limit of2048 bytes")
        self.put({"pk": {"S": "p"}, "sk": {"S": "s" * 1024}}, table="items_ss")
        self.assertIn("Item", self.get({"pk": {"S": "p"}, "sk": {"S": "s" * 1024}}, table="items_ss"))
        self.assertVE(lambda: self.put({"pk": {"S": "p"}, "sk": {"S": "s" * 1025}}, table="items_ss"),
                      "One or more parameter values were invalid: Aggregated size of all range keys has exceeded "
                      "the size limit of 1024 bytes")

    # -- key validation -------------------------------------------------------------

    def test_put_key_errors(self):
        P = "One or more parameter values were invalid: "
        self.assertVE(lambda: self.put({"x": {"S": "a"}}), P + "Missing the key pk in the item")
        self.assertVE(lambda: self.put({"pk": {"N": "1"}}), P + "Type mismatch for key pk expected: S actual: N")
        self.assertVE(lambda: self.put({"pk": {"L": []}}), P + "Type mismatch for key pk expected: S actual: L")
        self.assertVE(lambda: self.put({"pk": {"S": "1"}}, table="items_n"),
                      P + "Type mismatch for key pk expected: N actual: S")
        self.assertVE(lambda: self.put({"pk": {"S": "a"}}, table="items_sn"), P + "Missing the key sk in the item")
        self.assertVE(lambda: self.put({"pk": {"S": "a"}, "sk": {"S": "1"}}, table="items_sn"),
                      P + "Type mismatch for key sk expected: N actual: S")
        self.assertVE(lambda: self.put({"pk": {"S": ""}}),
                      "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                      "contain an empty string value. Key: pk")
        self.assertVE(lambda: self.put({"pk": {"B": b""}}, table="items_b"),
                      "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                      "contain an empty binary value. Key: pk")
        self.assertVE(lambda: self.put({"pk": {"S": "a"}, "sk": {"S": ""}}, table="items_ss"),
                      "One or more parameter values are not valid. The AttributeValue for a key attribute cannot "
                      "contain an empty string value. Key: sk")

    def test_get_delete_key_errors(self):
        schema = "The provided key element does not match the schema"
        for op in ("get", "delete"):
            def call(key, table="items_s"):
                if op == "get":
                    return self.get(key, table=table)
                return self.ddb.delete_item(TableName=table, Key=key)
            with self.subTest(op=op):
                self.assertVE(lambda: call({}), schema)
                self.assertVE(lambda: call({"pk": {"N": "1"}}), schema)
                self.assertVE(lambda: call({"pk": {"S": "a"}, "x": {"S": "b"}}), schema)
                self.assertVE(lambda: call({"other": {"S": "a"}}), schema)
                self.assertVE(lambda: call({"pk": {"S": "a"}}, table="items_sn"), schema)
                self.assertVE(lambda: call({"pk": {"S": "a"}, "sk": {"S": "1"}}, table="items_sn"), schema)
                self.assertVE(lambda: call({"pk": {"SS": ["a"]}}), schema)
                self.assertVE(lambda: call({"pk": {"S": ""}}),
                              "One or more parameter values are not valid. The AttributeValue for a key attribute "
                              "cannot contain an empty string value. Key: pk")

    def test_missing_table(self):
        rnf = "Requested resource not found"
        self.assertVE(lambda: self.put({"pk": {"S": "a"}}, table="no_such_table"), rnf, "ResourceNotFoundException")
        self.assertVE(lambda: self.get({"pk": {"S": "a"}}, table="no_such_table"), rnf, "ResourceNotFoundException")
        self.assertVE(lambda: self.ddb.delete_item(TableName="no_such_table", Key={"pk": {"S": "a"}}), rnf,
                      "ResourceNotFoundException")
        # a broken request to a missing table is a VE (protocol.md 2.1)
        self.assertVE(lambda: self.put({"pk": {"NULL": False}}, table="no_such_table"),
                      ENV + "One or more parameter values were invalid: Null attribute value types must have the "
                      "value of true")
        # key schema checks come after the table lookup: RNF, not a schema error
        self.assertVE(lambda: self.get({"bogus": {"N": "1"}, "x": {"S": "y"}}, table="no_such_table"), rnf,
                      "ResourceNotFoundException")

    def test_value_errors(self):
        P = "One or more parameter values were invalid: "
        cases = [
            ({"v": {"NULL": False}}, P + "Null attribute value types must have the value of true"),
            ({"v": {"SS": []}}, P + "An string set  may not be empty"),
            ({"v": {"NS": []}}, P + "An number set  may not be empty"),
            ({"v": {"BS": []}}, P + "Binary sets should not be empty"),
            ({"v": {"SS": ["b", "a", "b"]}}, P + 'Input collection ["a", "b", "b"] contains duplicates.'),
            ({"v": {"NS": ["2", "1", "2"]}}, P + "Input collection contains duplicates."),
            ({"v": {"NS": ["1", "1.0"]}}, P + "Input collection contains duplicates."),
            ({"v": {"NS": ["1", ""]}}, "The parameter cannot be converted to a numeric value: "),
            ({"v": {"M": {"x": {"SS": []}}}}, P + "An string set  may not be empty"),
            ({"v": {"L": [{"N": "x1"}]}}, "The parameter cannot be converted to a numeric value: x1"),
        ]
        for extra, msg in cases:
            with self.subTest(v=extra):
                item = dict({"pk": {"S": "ve"}}, **extra)
                self.assertVE(lambda: self.put(item), ENV + msg)
        # BS duplicates: boto3 sends bytes; raw to pin the base64 echo
        raw = self.daemon.raw("PutItem", {"TableName": "items_s",
                                          "Item": {"pk": {"S": "ve"}, "v": {"BS": ["/w==", "AA==", "AA=="]}}})
        self.assertEqual(raw.message, ENV + P + 'Input collection ["AA==","/w==","AA=="]of type BS contains duplicates.')
        self.assertNotIn("Item", self.get({"pk": {"S": "ve"}}))

    def test_attribute_names(self):
        long_name = "n" * 65535
        self.put({"pk": {"S": "names"}, long_name: {"S": "v"}, "\u00e9\U0001F600": {"N": "1"}, " ": {"S": "space"},
                  "a.b[0]#:x": {"S": "punct"}})
        got = self.get({"pk": {"S": "names"}})["Item"]
        self.assertEqual(got[long_name], {"S": "v"})
        self.assertEqual(got["\u00e9\U0001F600"], {"N": "1"})
        self.assertEqual(got[" "], {"S": "space"})
        self.assertEqual(got["a.b[0]#:x"], {"S": "punct"})
        with self.assertRaises(ClientError) as cm:
            self.put({"pk": {"S": "names2"}, "n" * 65536: {"S": "v"}})
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationException")
        self.assertIn("65535", cm.exception.response["Error"]["Message"])
        with self.assertRaises(ClientError) as cm:
            self.put({"pk": {"S": "names2"}, "": {"S": "v"}})
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationException")
        self.assertIn("Empty attribute name", cm.exception.response["Error"]["Message"])
        self.assertNotIn("Item", self.get({"pk": {"S": "names2"}}))

    def test_many_attributes(self):
        item = {"pk": {"S": "wide"}}
        for i in range(3000):
            item["a%04d" % i] = {"N": str(i)} if i % 3 else {"S": "s%d" % i}
        self.put(item)
        self.assertEqual(self.get({"pk": {"S": "wide"}}, ConsistentRead=True)["Item"], item)

    def test_table_counters(self):
        # ItemCount / TableSizeBytes: live values or 0 (operations.md 4.2); if live, exact
        name = self.make_table()
        items = [{"pk": {"S": "c%d" % i}, "v": {"S": "x" * (i * 100)}, "n": {"N": str(i)}} for i in range(10)]
        for it in items:
            self.put(it, table=name)
        items[3] = {"pk": {"S": "c3"}, "w": {"B": b"\x00" * 77}}
        self.put(items[3], table=name)
        self.ddb.delete_item(TableName=name, Key={"pk": {"S": "c5"}})
        self.ddb.delete_item(TableName=name, Key={"pk": {"S": "missing"}})
        del items[5]
        d = self.ddb.describe_table(TableName=name)["Table"]
        self.assertIn(d["ItemCount"], (0, len(items)))
        self.assertIn(d["TableSizeBytes"], (0, sum(item_size(it) for it in items)))

    def test_read_after_write_across_connections(self):
        # a 200 means later reads on any connection see the write
        port = self.daemon.port

        def worker(w):
            a, b = self.daemon.connection(), self.daemon.connection()
            bad = []
            try:
                for i in range(150):
                    it = {"pk": {"S": "raw-%d" % w}, "i": {"N": str(i)}}
                    r = raw_request(port, "PutItem", {"TableName": "items_s", "Item": it}, conn=a)
                    if r.status != 200:
                        bad.append(r)
                        continue
                    for cr in (True, False):
                        g = raw_request(port, "GetItem", {"TableName": "items_s", "ConsistentRead": cr,
                                                          "Key": {"pk": it["pk"]}}, conn=b)
                        if g.json != {"Item": it}:
                            bad.append((i, cr, g.body))
            finally:
                a.close()
                b.close()
            return bad

        with concurrent.futures.ThreadPoolExecutor(6) as ex:
            bad = [b for r in ex.map(worker, range(6)) for b in r]
        self.assertEqual(bad[:3], [])

    # -- bulk --------------------------------------------------------------------------

    def test_ten_thousand_items(self):
        # raw keep-alive connections: boto3's per-call overhead would dominate
        N, THREADS = 10000, 8
        port = self.daemon.port

        def item(i):
            return {"pk": {"S": "bulk-%d" % (i % 97)}, "sk": {"N": str(i)},
                    "v": {"S": "value-%d-" % i + "z" * (i % 50)}, "n": {"N": str(i * 7)}}

        def writer(part):
            conn = self.daemon.connection()
            try:
                for i in range(part, N, THREADS):
                    r = raw_request(port, "PutItem", {"TableName": "items_bulk", "Item": item(i)}, conn=conn)
                    if r.status != 200:
                        return (i, r)
            finally:
                conn.close()
            return None

        def reader(part):
            conn = self.daemon.connection()
            bad = []
            try:
                for i in range(part, N, THREADS):
                    it = item(i)
                    r = raw_request(port, "GetItem", {"TableName": "items_bulk", "ConsistentRead": True,
                                                      "Key": {"pk": it["pk"], "sk": it["sk"]}}, conn=conn)
                    if r.status != 200 or r.json != {"Item": it}:
                        bad.append((i, r))
            finally:
                conn.close()
            return bad

        with concurrent.futures.ThreadPoolExecutor(THREADS) as ex:
            errs = [e for e in ex.map(writer, range(THREADS)) if e]
            self.assertEqual(errs, [])
            bad = [b for r in ex.map(reader, range(THREADS)) for b in r]
        self.assertEqual(bad[:5], [])
        d = self.ddb.describe_table(TableName="items_bulk")["Table"]
        self.assertIn(d["ItemCount"], (0, N))  # live count or 0 (operations.md 4.2)
        # a few through boto3 too
        for i in (0, 4999, 9999):
            got = self.ddb.get_item(TableName="items_bulk", Key={"pk": item(i)["pk"], "sk": item(i)["sk"]})
            self.assertEqual(got["Item"], item(i))


if __name__ == "__main__":
    unittest.main()
