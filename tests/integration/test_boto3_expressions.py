"""test_boto3_expressions.py -- the expression language wired into the item
operations, through boto3 against a real dynafiled (expressions.md 5-7, 9, 11;
operations.md 5.0-5.2; protocol.md 2.3 and 5).

UpdateItem: every action (SET with + and -, if_not_exists, list_append,
nested map paths and list indexes, REMOVE with list shifts, ADD numbers and
sets, DELETE from sets), upsert, every ReturnValues mode, runtime errors and
their ranking against the condition. Conditions on Put/Update/Delete: every
function and operator, comparisons across types, "create if absent",
ReturnValuesOnConditionCheckFailure=ALL_OLD (the old item in the error).
GetItem ProjectionExpression. Legacy Expected / ConditionalOperator /
AttributeUpdates / AttributesToGet, mixing and EAN/EAV misuse errors with
their envelopes. The operation examples of expressions.md run as written.
"""

import unittest
from decimal import Decimal

from botocore.exceptions import ClientError

from harness import DaemonTestCase

ENV = "1 validation error detected: "
CCF = "ConditionalCheckFailedException"
VE = "ValidationException"


def S(s):
    return {"S": s}


def N(n):
    return {"N": str(n)}


class ExpressionsTest(DaemonTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        c = cls.ddb

        def mk(name, h, r=None):
            attrs = [{"AttributeName": "pk", "AttributeType": h}]
            ks = [{"AttributeName": "pk", "KeyType": "HASH"}]
            if r:
                attrs.append({"AttributeName": "sk", "AttributeType": r})
                ks.append({"AttributeName": "sk", "KeyType": "RANGE"})
            c.create_table(TableName=name, AttributeDefinitions=attrs, KeySchema=ks,
                           BillingMode="PAY_PER_REQUEST")
        mk("exq", "S")
        mk("exr", "S", "N")
        cls.n = 0

    # -- helpers -----------------------------------------------------------------

    def key(self):
        type(self).n += 1
        return {"pk": S("k%d_%s" % (type(self).n, self._testMethodName[:30]))}

    def put(self, key, **attrs):
        item = dict(key)
        item.update(attrs)
        self.ddb.put_item(TableName="exq", Item=item)
        return item

    def get(self, key, table="exq"):
        return self.ddb.get_item(TableName=table, Key=key, ConsistentRead=True).get("Item")

    def update(self, key, expr, names=None, values=None, table="exq", **kw):
        args = dict(TableName=table, Key=key, UpdateExpression=expr, **kw)
        if names:
            args["ExpressionAttributeNames"] = names
        if values:
            args["ExpressionAttributeValues"] = values
        return self.ddb.update_item(**args)

    def error(self, fn, code, message=None, **kw):
        with self.assertRaises(ClientError) as ctx:
            fn(**kw)
        self.assertApiError(ctx, code, message)
        return ctx.exception.response

    def cond_put(self, key, cond, names=None, values=None, **kw):
        """PutItem key+{"w": "x"} under cond; True if written, False on CCF."""
        args = dict(TableName="exq", Item=dict(key, w=S("x")), ConditionExpression=cond, **kw)
        if names:
            args["ExpressionAttributeNames"] = names
        if values:
            args["ExpressionAttributeValues"] = values
        try:
            self.ddb.put_item(**args)
            return True
        except ClientError as e:
            if e.response["Error"]["Code"] != CCF:
                raise
            self.assertEqual(e.response["Error"]["Message"], "The conditional request failed")
            return False

    def holds(self, item_attrs, cond, names=None, values=None):
        """Does cond hold on an item made of key + item_attrs? (PutItem probe,
        then the item is restored so the next probe sees the same item.)"""
        k = self.key()
        if item_attrs is not None:
            self.put(k, **item_attrs)
        return self.cond_put(k, cond, names, values)

    # -- UpdateItem actions --------------------------------------------------------

    def test_set_plus_minus(self):
        k = self.key()
        self.put(k, n=N(10))
        self.update(k, "SET n = n + :a, m = :b - n", values={":a": N("2.5"), ":b": N(100)})
        it = self.get(k)
        self.assertEqual(it["n"], N("12.5"))
        self.assertEqual(it["m"], N(90))  # right-hand sides read the pre-update item
        self.update(k, "SET n = n - :a", values={":a": N("0.5")})
        self.assertEqual(self.get(k)["n"], N(12))
        self.update(k, "SET big = :x + :y", values={":x": N("99999999999999999999999999999999999999"),
                                                    ":y": N("-99999999999999999999999999999999999998")})
        self.assertEqual(self.get(k)["big"], N(1))

    def test_set_plus_errors(self):
        k = self.key()
        self.put(k, s=S("x"))
        self.error(self.update, VE, "An operand in the update expression has an incorrect data type",
                   key=k, expr="SET s = s + :a", values={":a": N(1)})
        self.error(self.update, VE, "The provided expression refers to an attribute that does not exist in the item",
                   key=k, expr="SET z = absent + :a", values={":a": N(1)})
        self.error(self.update, VE, "The provided expression refers to an attribute that does not exist in the item",
                   key=k, expr="SET z = z")
        self.error(self.update, VE, ENV + "Invalid UpdateExpression: Incorrect operand type for operator or "
                   "function; operator or function: +, operand type: S",
                   key=k, expr="SET s = s + :a", values={":a": S("x")})
        self.error(self.update, VE, "Number overflow. Attempting to store a number with magnitude larger than "
                   "supported range", key=k, expr="SET z = :a + :b",
                   values={":a": N("1e50"), ":b": N(1)})
        self.assertEqual(self.get(k), dict(k, s=S("x")))  # nothing written by the failures

    def test_if_not_exists_counter(self):
        k = self.key()
        for i in range(1, 4):
            r = self.update(k, "SET n = if_not_exists(n, :zero) + :one", values={":zero": N(0), ":one": N(1)},
                            ReturnValues="UPDATED_NEW")
            self.assertEqual(r["Attributes"], {"n": N(i)})
        self.update(k, "SET s = if_not_exists(s, :a)", values={":a": S("first")})
        self.update(k, "SET s = if_not_exists(s, :a)", values={":a": S("second")})
        self.assertEqual(self.get(k)["s"], S("first"))

    def test_list_append(self):
        k = self.key()
        self.put(k, l={"L": [N(1)]})
        self.update(k, "SET l = list_append(l, :t)", values={":t": {"L": [N(2), N(3)]}})
        self.update(k, "SET l = list_append(:h, l)", values={":h": {"L": [N(0)]}})
        self.assertEqual(self.get(k)["l"], {"L": [N(0), N(1), N(2), N(3)]})
        self.update(k, "SET m = list_append(if_not_exists(m, :e), :x)", values={":e": {"L": []}, ":x": {"L": [S("a")]}})
        self.assertEqual(self.get(k)["m"], {"L": [S("a")]})
        self.put(k, l=S("notalist"))
        self.error(self.update, VE, "An operand in the update expression has an incorrect data type",
                   key=k, expr="SET l = list_append(l, :t)", values={":t": {"L": [N(2)]}})

    def test_nested_paths(self):
        k = self.key()
        self.put(k, m={"M": {"a": {"M": {"b": N(1)}}, "l": {"L": [S("x"), {"M": {"c": S("y")}}]}}})
        self.update(k, "SET m.a.b = :v, m.l[1].c = :w, m.#d = :v", names={"#d": "new.key"},
                    values={":v": N(2), ":w": S("z")})
        m = self.get(k)["m"]["M"]
        self.assertEqual(m["a"], {"M": {"b": N(2)}})
        self.assertEqual(m["l"]["L"][1], {"M": {"c": S("z")}})
        self.assertEqual(m["new.key"], N(2))
        # the parent must exist and be of the right kind
        msg = "The document path provided in the update expression is invalid for update"
        self.error(self.update, VE, msg, key=k, expr="SET m.nope.x = :v", values={":v": N(1)})
        self.error(self.update, VE, msg, key=k, expr="SET m.a[0] = :v", values={":v": N(1)})
        self.error(self.update, VE, msg, key=self.key(), expr="SET a.b = :v", values={":v": N(1)})

    def test_list_index_set_appends(self):
        k = self.key()
        self.put(k, l={"L": [N(0), N(1)]})
        self.update(k, "SET l[1] = :a, l[84] = :b, l[37] = :c", values={":a": S("one"), ":b": S("84"), ":c": S("37")})
        self.assertEqual(self.get(k)["l"], {"L": [N(0), S("one"), S("37"), S("84")]})
        self.put(k, e={"L": []})
        self.update(k, "SET e[0] = :a", values={":a": N(7)})
        self.assertEqual(self.get(k)["e"], {"L": [N(7)]})

    def test_remove_list_shifts(self):
        k = self.key()
        self.put(k, l={"L": [N(i) for i in range(2, 8)]}, m={"M": {"x": N(1), "y": N(2)}}, gone=S("g"))
        self.update(k, "REMOVE l[1], l[2], m.x, gone, never, m.nada, l[99]")
        it = self.get(k)
        self.assertEqual(it["l"], {"L": [N(2), N(5), N(6), N(7)]})
        self.assertEqual(it["m"], {"M": {"y": N(2)}})
        self.assertNotIn("gone", it)
        # pre-update positions: REMOVE a[1] SET a[3] on [2..7] gives [2,4,:v,6,7]
        self.put(k, a={"L": [N(i) for i in range(2, 8)]})
        self.update(k, "REMOVE a[1] SET a[3] = :v", values={":v": N(17)})
        self.assertEqual(self.get(k)["a"], {"L": [N(2), N(4), N(17), N(6), N(7)]})
        self.put(k, m={"M": {"solo": N(1)}}, l={"L": [N(1)]})
        self.update(k, "REMOVE m.solo, l[0]")
        it = self.get(k)
        self.assertEqual((it["m"], it["l"]), ({"M": {}}, {"L": []}))

    def test_add_numbers_and_sets(self):
        k = self.key()
        self.update(k, "ADD n :a, s :ss, ns :ns, bs :bs",
                    values={":a": N(5), ":ss": {"SS": ["b", "a"]}, ":ns": {"NS": ["1", "2"]}, ":bs": {"BS": [b"\x01"]}})
        self.update(k, "ADD n :a, s :ss, ns :ns", values={":a": N(-7), ":ss": {"SS": ["c", "a", ""]}, ":ns": {"NS": ["2.0", "3"]}})
        it = self.get(k)
        self.assertEqual(it["n"], N(-2))
        self.assertEqual(it["s"], {"SS": ["", "a", "b", "c"]})
        self.assertEqual(sorted(it["ns"]["NS"], key=Decimal), ["1", "2", "3"])
        self.assertEqual(it["bs"], {"BS": [b"\x01"]})
        self.put(k, l={"L": []}, s=S("x"))
        for expr, vals in (("ADD l :n", {":n": N(1)}), ("ADD s :n", {":n": N(1)}),
                           ("ADD s :ss", {":ss": {"SS": ["x"]}})):
            self.error(self.update, VE, "An operand in the update expression has an incorrect data type",
                       key=k, expr=expr, values=vals)
        self.put(k, ns={"NS": ["1"]})
        self.error(self.update, VE, "An operand in the update expression has an incorrect data type",
                   key=k, expr="ADD ns :ss", values={":ss": {"SS": ["x"]}})
        self.error(self.update, VE, ENV + "Invalid UpdateExpression: Incorrect operand type for operator or "
                   "function; operator: ADD, operand type: STRING", key=k, expr="ADD n :s", values={":s": S("x")})

    def test_delete_from_sets(self):
        k = self.key()
        self.put(k, s={"SS": ["a", "b", "c"]}, ns={"NS": ["1", "2"]})
        self.update(k, "DELETE s :x, ns :y, absent :x", values={":x": {"SS": ["a", "zz"]}, ":y": {"NS": ["1.0", "2"]}})
        it = self.get(k)
        self.assertEqual(it["s"], {"SS": ["b", "c"]})
        self.assertNotIn("ns", it)  # an emptied set is removed
        self.assertNotIn("absent", it)
        self.error(self.update, VE, "An operand in the update expression has an incorrect data type",
                   key=k, expr="DELETE s :y", values={":y": {"NS": ["1"]}})
        self.error(self.update, VE, ENV + "Invalid UpdateExpression: Incorrect operand type for operator or "
                   "function; operator: DELETE, operand type: NUMBER", key=k, expr="DELETE s :n", values={":n": N(1)})

    def test_upsert_and_missing_item(self):
        k = self.key()
        r = self.update(k, "SET a = :v", values={":v": S("x")}, ReturnValues="ALL_NEW")
        self.assertEqual(r["Attributes"], dict(k, a=S("x")))
        # REMOVE / DELETE only on a missing item: nothing is created
        k2 = self.key()
        r = self.update(k2, "REMOVE a.b[3], c DELETE s :x", values={":x": {"SS": ["q"]}}, ReturnValues="ALL_NEW")
        self.assertNotIn("Attributes", r)
        self.assertIsNone(self.get(k2))
        # an UpdateItem with only a Key creates the key-only item
        k3 = self.key()
        self.ddb.update_item(TableName="exq", Key=k3)
        self.assertEqual(self.get(k3), k3)

    def test_key_attribute_update(self):
        k = self.key()
        self.error(self.update, VE, "One or more parameter values were invalid: Cannot update attribute pk. "
                   "This attribute is part of the key", key=k, expr="SET pk = :v", values={":v": S("x")})
        kr = {"pk": S("h"), "sk": N(1)}
        self.error(self.update, VE, "One or more parameter values were invalid: Cannot update attribute sk. "
                   "This attribute is part of the key", key=kr, expr="REMOVE sk", table="exr")
        self.error(self.ddb.update_item, VE, "One or more parameter values were invalid: Cannot update attribute pk. "
                   "This attribute is part of the key", TableName="exq", Key=k,
                   AttributeUpdates={"pk": {"Value": S("y"), "Action": "PUT"}})

    def test_update_item_size(self):
        k = {"pk": S("s")}
        pad = "x" * 409570
        # the statement figure: 3 + 19 + 1 (target b) + value size
        self.error(self.update, VE, "Item size to update has exceeded the maximum allowed size",
                   key=k, expr="SET b = :pad", values={":pad": S(pad + "x" * 20)})
        self.update(k, "SET b = :pad", values={":pad": S(pad)})
        self.assertEqual(len(self.get(k)["b"]["S"]), len(pad))
        # the size error answers before the condition
        self.error(self.update, VE, "Item size to update has exceeded the maximum allowed size",
                   key=k, expr="SET c = :pad", values={":pad": S(pad)}, ConditionExpression="attribute_not_exists(pk)")

    # -- ReturnValues -------------------------------------------------------------------

    def test_return_values_modes(self):
        k = self.key()
        self.put(k, a=N(1), m={"M": {"x": N(1), "y": N(2)}}, l={"L": [N(0), N(1), N(2)]}, r=S("gone"))
        expr = "SET a = a + :one, m.x = :ten, l[1] = :ten, n = :new REMOVE r"
        vals = {":one": N(1), ":ten": N(10), ":new": S("n")}
        r = self.update(k, expr, values=vals, ReturnValues="UPDATED_OLD")
        self.assertEqual(r["Attributes"], {"a": N(1), "m": {"M": {"x": N(1)}}, "l": {"L": [N(1)]}, "r": S("gone")})
        self.put(k, a=N(1), m={"M": {"x": N(1), "y": N(2)}}, l={"L": [N(0), N(1), N(2)]}, r=S("gone"))
        r = self.update(k, expr, values=vals, ReturnValues="UPDATED_NEW")
        self.assertEqual(r["Attributes"], {"a": N(2), "m": {"M": {"x": N(10)}}, "l": {"L": [N(10)]}, "n": S("n")})
        old = self.get(k)
        r = self.update(k, "SET a = :one", values={":one": N(1)}, ReturnValues="ALL_OLD")
        self.assertEqual(r["Attributes"], old)
        r = self.update(k, "SET a = :one", values={":one": N(5)}, ReturnValues="ALL_NEW")
        self.assertEqual(r["Attributes"], dict(old, a=N(5)))
        r = self.update(k, "SET a = :one", values={":one": N(5)}, ReturnValues="NONE")
        self.assertNotIn("Attributes", r)
        r = self.update(k, "SET a = :one", values={":one": N(5)})
        self.assertNotIn("Attributes", r)
        # rewriting an equal value counts as updated; a new attribute has no old value
        r = self.update(k, "SET a = :one, brand = :one", values={":one": N(5)}, ReturnValues="UPDATED_OLD")
        self.assertEqual(r["Attributes"], {"a": N(5)})
        # a new item: ALL_OLD / UPDATED_OLD have nothing
        k2 = self.key()
        for rv in ("ALL_OLD", "UPDATED_OLD"):
            r = self.update(k2, "SET a = :one", values={":one": N(1)}, ReturnValues=rv)
            self.assertNotIn("Attributes", r, rv)
            self.ddb.delete_item(TableName="exq", Key=k2)
        # REMOVE only: UPDATED_NEW empty
        r = self.update(k, "REMOVE nothing_here", ReturnValues="UPDATED_NEW")
        self.assertNotIn("Attributes", r)

    def test_return_values_legacy_and_validation(self):
        k = self.key()
        self.error(self.ddb.put_item, VE, ENV + "ReturnValues can only be ALL_OLD or NONE",
                   TableName="exq", Item=k, ReturnValues="ALL_NEW")
        self.error(self.ddb.delete_item, VE, ENV + "ReturnValues can only be ALL_OLD or NONE",
                   TableName="exq", Key=k, ReturnValues="UPDATED_OLD")

    def test_consumed_capacity(self):
        k = self.key()
        r = self.update(k, "SET a = :v", values={":v": S("x" * 2000)}, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(r["ConsumedCapacity"], {"TableName": "exq", "CapacityUnits": 2.0})
        r = self.update(k, "SET a = :v", values={":v": S("x")}, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(r["ConsumedCapacity"]["CapacityUnits"], 2.0)  # max(new, old)
        r = self.update(k, "SET a = :v", values={":v": S("y")}, ReturnConsumedCapacity="TOTAL")
        self.assertEqual(r["ConsumedCapacity"]["CapacityUnits"], 1.0)

    # -- conditions ---------------------------------------------------------------------

    def test_create_if_absent(self):
        k = self.key()
        self.assertTrue(self.cond_put(k, "attribute_not_exists(pk)"))
        self.assertFalse(self.cond_put(k, "attribute_not_exists(pk)"))
        self.assertTrue(self.cond_put(k, "attribute_exists(pk)"))
        self.assertFalse(self.cond_put(self.key(), "attribute_exists(pk)"))

    def test_rvocf_all_old(self):
        """ReturnValuesOnConditionCheckFailure=ALL_OLD puts the old item in the
        error body as "Item" (protocol.md 5). Sent raw: Debian's botocore
        predates the member; when the installed botocore models it, boto3 is
        checked too (e.response["Item"])."""
        k = self.key()
        item = self.put(k, v=N(3), tags={"SS": ["a"]})
        ops = (("PutItem", {"Item": dict(k, v=N(9))}),
               ("DeleteItem", {"Key": k}),
               ("UpdateItem", {"Key": k, "UpdateExpression": "SET v = :new"}))
        for op, args in ops:
            with self.subTest(op=op):
                body = dict(TableName="exq", ConditionExpression="v = :old", **args,
                            ExpressionAttributeValues={":old": N(1)})
                if op == "UpdateItem":
                    body["ExpressionAttributeValues"][":new"] = N(9)
                r = self.daemon.raw(op, dict(body, ReturnValuesOnConditionCheckFailure="ALL_OLD"))
                self.assertEqual(r.status, 400)
                self.assertEqual(r.json, {"__type": "com.amazonaws.dynamodb.v20120810#ConditionalCheckFailedException",
                                          "message": "The conditional request failed", "Item": item})
                r = self.daemon.raw(op, dict(body, ReturnValuesOnConditionCheckFailure="NONE"))
                self.assertEqual((r.status, r.message), (400, "The conditional request failed"))
                self.assertNotIn("Item", r.json)
                model = self.ddb.meta.service_model
                if "ReturnValuesOnConditionCheckFailure" in model.operation_model(op).input_shape.members:
                    fn = getattr(self.ddb, {"PutItem": "put_item", "DeleteItem": "delete_item",
                                            "UpdateItem": "update_item"}[op])
                    resp = self.error(fn, CCF, "The conditional request failed",
                                      ReturnValuesOnConditionCheckFailure="ALL_OLD", **body)
                    self.assertEqual(resp["Item"], {"pk": {"S": k["pk"]["S"]}, "v": {"N": "3"},
                                                    "tags": {"SS": ["a"]}})
        self.assertEqual(self.get(k), item)
        # a missing item: no Item in the error
        r = self.daemon.raw("DeleteItem", {"TableName": "exq", "Key": self.key(),
                                           "ConditionExpression": "attribute_exists(pk)",
                                           "ReturnValuesOnConditionCheckFailure": "ALL_OLD"})
        self.assertEqual((r.status, r.message), (400, "The conditional request failed"))
        self.assertNotIn("Item", r.json)
        # RVOCF only acts on a failure
        r = self.daemon.raw("PutItem", {"TableName": "exq", "Item": dict(k, v=N(4)),
                                        "ConditionExpression": "v = :v", "ExpressionAttributeValues": {":v": N(3)},
                                        "ReturnValuesOnConditionCheckFailure": "ALL_OLD"})
        self.assertEqual((r.status, r.json), (200, {}))

    def test_condition_functions(self):
        it = {"s": S("hello"), "n": N(5), "b": {"B": b"\x01\x02\x03"}, "ss": {"SS": ["x", "y"]},
              "ns": {"NS": ["1", "2"]}, "l": {"L": [S("a"), N(1), {"M": {"q": N(1)}}]},
              "m": {"M": {"k": S("v"), "deep": {"L": [N(7)]}}}, "t": {"BOOL": True}, "z": {"NULL": True},
              "e": S("")}
        v = {":s": S("hel"), ":x": S("x"), ":one": N(1), ":b": {"B": b"\x01"}, ":m": {"M": {"q": N(1)}},
             ":S": S("S"), ":N": S("N"), ":SS": S("SS"), ":L": S("L"), ":M": S("M"), ":BOOL": S("BOOL"),
             ":NULL": S("NULL"), ":B": S("B"), ":NS": S("NS"), ":five": N(5), ":three": N(3), ":ten": N(10)}
        cases = [
            ("attribute_exists(s)", True), ("attribute_exists(nope)", False),
            ("attribute_exists(m.k)", True), ("attribute_exists(m.deep[0])", True), ("attribute_exists(m.deep[1])", False),
            ("attribute_not_exists(nope)", True), ("attribute_not_exists(l[2].q)", False),
            ("attribute_type(s, :S)", True), ("attribute_type(n, :N)", True), ("attribute_type(ss, :SS)", True),
            ("attribute_type(l, :L)", True), ("attribute_type(m, :M)", True), ("attribute_type(t, :BOOL)", True),
            ("attribute_type(z, :NULL)", True), ("attribute_type(b, :B)", True), ("attribute_type(ns, :NS)", True),
            ("attribute_type(s, :N)", False), ("attribute_type(nope, :S)", False),
            ("begins_with(s, :s)", True), ("begins_with(s, :x)", False), ("begins_with(b, :b)", True),
            ("begins_with(n, :s)", False), ("begins_with(s, e)", True),
            ("contains(s, :s)", True), ("contains(ss, :x)", True), ("contains(ns, :one)", True),
            ("contains(l, :one)", True), ("contains(l, :m)", True), ("contains(l, :x)", False),
            ("contains(m, :x)", False), ("contains(b, :b)", True), ("contains(s, e)", True),
            ("size(s) = :five", True), ("size(l) = :three", True), ("size(ss) > :one", True),
            ("size(m) = :one", False), ("size(b) = :three", True), ("size(n) = :one", False),
            ("size(nope) < :ten", False), ("size(m.deep) = :one", True),
            ("n BETWEEN :one AND :ten", True), ("n BETWEEN :one AND :three", False), ("s BETWEEN :one AND :ten", False),
            ("s BETWEEN :s AND :x", True),
            ("n IN (:one, :five)", True), ("n IN (:one, :s)", False), ("s IN (:x, :s, :five)", False),
            ("nope IN (:one)", False),
            ("NOT n = :one", True), ("NOT (n = :five)", False), ("NOT NOT n = :five", True),
            ("n = :five AND s = :x", False), ("n = :five OR s = :x", True),
            ("n = :one OR s = :x OR attribute_exists(m)", True), ("n = :one OR s = :x AND attribute_exists(m)", False),
            ("(n = :one OR n = :five) AND NOT attribute_exists(nope)", True),
        ]
        for cond, want in cases:
            with self.subTest(cond=cond):
                used = {k2: x for k2, x in v.items() if k2 in cond.replace("(", " ").replace(")", " ").replace(",", " ").split()}
                self.assertEqual(self.holds(it, cond, values=used or None), want)

    def test_comparisons_across_types(self):
        it = {"n": N("10"), "s": S("abc"), "b": {"B": b"\x80"}, "l": {"L": [N(1)]}, "t": {"BOOL": False},
              "ss": {"SS": ["b", "a"]}, "m": {"M": {"x": N("1.0")}}}
        cases = [
            ("n = :v", N("1e1"), True), ("n = :v", N("10.000"), True), ("n = :v", S("10"), False),
            ("n <> :v", S("10"), True), ("n < :v", N(9), False), ("n > :v", N("9.99"), True),
            ("n >= :v", N(10), True), ("n <= :v", N(-1), False), ("n < :v", S("z"), False),
            ("s < :v", S("abd"), True), ("s > :v", S("ABC"), True), ("s >= :v", S("abc"), True),
            ("s < :v", S("\u00bf"), True), ("s = :v", {"B": b"abc"}, False),
            ("b > :v", {"B": b"\x7f"}, True), ("b < :v", {"B": b"\x80\x00"}, True),
            ("l = :v", {"L": [N("1.00")]}, True), ("l = :v", {"L": [N(1), N(2)]}, False),
            ("t = :v", {"BOOL": False}, True), ("t <> :v", {"BOOL": True}, True),
            ("ss = :v", {"SS": ["a", "b"]}, True), ("m = :v", {"M": {"x": N(1)}}, True),
            ("nope = :v", N(1), False), ("nope <> :v", N(1), True), ("nope < :v", N(1), False),
        ]
        for cond, val, want in cases:
            with self.subTest(cond=cond, val=val):
                self.assertEqual(self.holds(it, cond, values={":v": val}), want)
        # two missing attributes are not equal, <> between them is true
        self.assertFalse(self.holds(it, "nope = nada"))
        self.assertTrue(self.holds(it, "nope <> nada"))
        self.assertTrue(self.holds(it, "n > s OR n <> s"))
        # a missing item is the empty item
        self.assertTrue(self.holds(None, "attribute_not_exists(pk) AND pk <> :v", values={":v": S("x")}))

    def test_condition_on_update_and_delete(self):
        k = self.key()
        self.put(k, v=N(1))
        self.error(self.update, CCF, "The conditional request failed", key=k, expr="SET v = :n",
                   values={":n": N(2), ":o": N(5)}, ConditionExpression="v = :o")
        self.update(k, "SET v = :n", values={":n": N(2), ":o": N(1)}, ConditionExpression="v = :o")
        self.assertEqual(self.get(k)["v"], N(2))
        self.error(self.ddb.delete_item, CCF, "The conditional request failed", TableName="exq", Key=k,
                   ConditionExpression="v < :o", ExpressionAttributeValues={":o": N(2)})
        self.ddb.delete_item(TableName="exq", Key=k, ConditionExpression="v >= :o",
                             ExpressionAttributeValues={":o": N(2)})
        self.assertIsNone(self.get(k))
        # "update only if it exists": CCF ranks above the runtime error of n + :one
        self.error(self.update, CCF, "The conditional request failed", key=k, expr="SET n = n + :one",
                   values={":one": N(1)}, ConditionExpression="attribute_exists(pk)")
        self.assertIsNone(self.get(k))
        # ... and a true condition lets the runtime error through
        self.put(k)
        self.error(self.update, VE, "The provided expression refers to an attribute that does not exist in the item",
                   key=k, expr="SET n = n + :one", values={":one": N(1)}, ConditionExpression="attribute_exists(pk)")

    # -- projection ----------------------------------------------------------------------

    def test_projection(self):
        k = self.key()
        self.put(k, a=N(1), b={"M": {"c": S("x"), "d": S("y")}}, l={"L": [N(0), N(1), N(2), {"M": {"p": N(1), "q": N(2)}}]},
                 **{"a.b": S("dotted"), "name": S("reserved")})
        r = self.ddb.get_item(TableName="exq", Key=k, ProjectionExpression="a, b.c, l[2], l[0], #d, #n, nope, l[9]",
                              ExpressionAttributeNames={"#d": "a.b", "#n": "name"})
        self.assertEqual(r["Item"], {"a": N(1), "b": {"M": {"c": S("x")}}, "l": {"L": [N(0), N(2)]},
                                     "a.b": S("dotted"), "name": S("reserved")})
        r = self.ddb.get_item(TableName="exq", Key=k, ProjectionExpression="l[3].p, l[3].q")
        self.assertEqual(r["Item"], {"l": {"L": [{"M": {"p": N(1), "q": N(2)}}]}})
        r = self.ddb.get_item(TableName="exq", Key=k, ProjectionExpression="nothing")
        self.assertEqual(r["Item"], {})
        r = self.ddb.get_item(TableName="exq", Key=self.key(), ProjectionExpression="a")
        self.assertNotIn("Item", r)
        r = self.ddb.get_item(TableName="exq", Key=k, AttributesToGet=["a", "a.b"])
        self.assertEqual(r["Item"], {"a": N(1), "a.b": S("dotted")})
        # read units are charged on the whole item
        big = self.key()
        self.put(big, pad=S("x" * 9000), a=N(1))
        r = self.ddb.get_item(TableName="exq", Key=big, ProjectionExpression="a", ReturnConsumedCapacity="TOTAL",
                              ConsistentRead=True)
        self.assertEqual(r["ConsumedCapacity"]["CapacityUnits"], 3.0)

    def test_projection_errors_bare(self):
        k = self.key()
        self.error(self.ddb.get_item, VE, "Invalid ProjectionExpression: Syntax error; token: \"!\", near: \"!!\"",
                   TableName="exq", Key=k, ProjectionExpression="!!! INVALID !!!")
        self.error(self.ddb.get_item, VE, "Invalid ProjectionExpression: Two document paths overlap with each other; "
                   "must remove or rewrite one of these paths; path one: [a], path two: [a]",
                   TableName="exq", Key=k, ProjectionExpression="a, #a", ExpressionAttributeNames={"#a": "a"})
        self.error(self.ddb.get_item, VE, "Invalid ProjectionExpression: Attribute name is a reserved keyword; "
                   "reserved keyword: name", TableName="exq", Key=k, ProjectionExpression="name")
        self.error(self.ddb.get_item, VE, "Value provided in ExpressionAttributeNames unused in expressions: keys: {#x}",
                   TableName="exq", Key=k, ProjectionExpression="a", ExpressionAttributeNames={"#x": "x"})
        self.error(self.ddb.get_item, VE, "Can not use both expression and non-expression parameters in the same "
                   "request: Non-expression parameters: {AttributesToGet} Expression parameters: {ProjectionExpression}",
                   TableName="exq", Key=k, ProjectionExpression="a", AttributesToGet=["a"])
        # validated before the table lookup
        self.error(self.ddb.get_item, VE, "Invalid ProjectionExpression: The expression can not be empty;",
                   TableName="no_such_table", Key=k, ProjectionExpression="")
        self.error(self.ddb.get_item, "ResourceNotFoundException", TableName="no_such_table", Key=k,
                   ProjectionExpression="a")

    # -- request validation with envelopes ----------------------------------------------------

    def test_validation_enveloped_on_writes(self):
        k = self.key()
        cases = [
            (dict(ConditionExpression="a-b"), 'Invalid ConditionExpression: Syntax error; token: "-", near: "a-b"'),
            (dict(ConditionExpression=""), "Invalid ConditionExpression: The expression can not be empty;"),
            (dict(ConditionExpression="((a = :v))", ExpressionAttributeValues={":v": N(1)}),
             "Invalid ConditionExpression: The expression has redundant parentheses;"),
            (dict(ConditionExpression="contains(#d, #d)", ExpressionAttributeNames={"#d": "data"}),
             "Invalid ConditionExpression: The first operand must be distinct from the remaining operands for this "
             "operator or function; operator: contains, first operand: [data]"),
            (dict(ConditionExpression="attribute_exists(a)", ExpressionAttributeNames={"#unused": "x"}),
             "Value provided in ExpressionAttributeNames unused in expressions: keys: {#unused}"),
            (dict(ConditionExpression="a = :v", ExpressionAttributeValues={":v": {"NS": []}}),
             "One or more parameter values were invalid: An number set  may not be empty"),
            (dict(ExpressionAttributeNames={"#a": "a"}),
             "ExpressionAttributeNames can only be specified when using expressions"),
            (dict(ExpressionAttributeValues={":a": N(1)}),
             "ExpressionAttributeValues can only be specified when using expressions"),
            (dict(ConditionExpression="attribute_exists(a)", Expected={"a": {"Exists": True, "Value": N(1)}}),
             "Can not use both expression and non-expression parameters in the same request: Non-expression "
             "parameters: {Expected} Expression parameters: {ConditionExpression}"),
            (dict(Expected={"a": {"Exists": True}}),
             "One or more parameter values were invalid: Value must be provided when Exists is true for Attribute: a"),
        ]
        for extra, msg in cases:
            with self.subTest(extra=extra):
                self.error(self.ddb.put_item, VE, ENV + msg, TableName="exq", Item=k, **extra)
                self.error(self.ddb.delete_item, VE, ENV + msg, TableName="exq", Key=k, **extra)
                self.error(self.ddb.update_item, VE, ENV + msg, TableName="exq", Key=k, **extra)
                # request checks come before the table lookup
                self.error(self.ddb.put_item, VE, ENV + msg, TableName="no_such_table", Item=k, **extra)

    def test_update_validation(self):
        k = self.key()
        cases = [
            (dict(UpdateExpression="INVALID SYNTAX HERE"),
             'Invalid UpdateExpression: Syntax error; token: "INVALID", near: "INVALID SYNTAX"'),
            (dict(UpdateExpression="ADD hits : incr", ExpressionAttributeValues={":incr": N(1)}),
             'Invalid UpdateExpression: Syntax error; token: ":", near: "hits : incr"'),
            (dict(UpdateExpression="SET a = :v SET b = :v", ExpressionAttributeValues={":v": N(1)}),
             'Invalid UpdateExpression: The "SET" section can only be used once in an update expression;'),
            (dict(UpdateExpression="SET a = :x, a = :y", ExpressionAttributeValues={":x": N(1), ":y": N(2)}),
             "Invalid UpdateExpression: Two document paths overlap with each other; must remove or rewrite one of "
             "these paths; path one: [a], path two: [a]"),
            (dict(UpdateExpression="SET a.b = :x, a[1] = :x", ExpressionAttributeValues={":x": N(1)}),
             "Invalid UpdateExpression: Two document paths conflict with each other; must remove or rewrite one of "
             "these paths; path one: [a, b], path two: [a, [1]]"),
            (dict(UpdateExpression="REMOVE a", AttributeUpdates={"a": {"Action": "DELETE"}}),
             "Can not use both expression and non-expression parameters in the same request: Non-expression "
             "parameters: {AttributeUpdates} Expression parameters: {UpdateExpression}"),
            (dict(UpdateExpression="REMOVE a", ExpressionAttributeValues={":v": N(1)}),
             "Value provided in ExpressionAttributeValues unused in expressions: keys: {:v}"),
            (dict(AttributeUpdates={"a": {"Action": "PUT"}}),
             "One or more parameter values were invalid: Only DELETE action is allowed when no attribute value is "
             "specified"),
            (dict(AttributeUpdates={"a": {"Action": "DELETE", "Value": S("x")}}),
             "One or more parameter values were invalid: DELETE action with value is not supported for the type S"),
            (dict(AttributeUpdates={"a": {"Action": "ADD", "Value": {"B": b"x"}}}),
             "One or more parameter values were invalid: ADD action is not supported for the type B"),
        ]
        for extra, msg in cases:
            with self.subTest(extra=extra):
                self.error(self.ddb.update_item, VE, ENV + msg, TableName="exq", Key=k, **extra)
        self.assertIsNone(self.get(k))

    # -- legacy parameters ------------------------------------------------------------------

    def test_legacy_expected(self):
        k = self.key()
        self.ddb.put_item(TableName="exq", Item=dict(k, v=N(1)), Expected={"pk": {"Exists": False}})
        self.error(self.ddb.put_item, CCF, "The conditional request failed", TableName="exq", Item=k,
                   Expected={"pk": {"Exists": False}})
        self.ddb.put_item(TableName="exq", Item=dict(k, v=N(2)), Expected={"v": {"Value": N(1)}})
        self.error(self.ddb.put_item, CCF, TableName="exq", Item=k, Expected={"v": {"Value": N(1)}})
        # ConditionalOperator OR over two conditions
        self.ddb.put_item(TableName="exq", Item=dict(k, v=N(3)), ConditionalOperator="OR",
                          Expected={"v": {"ComparisonOperator": "EQ", "AttributeValueList": [N(99)]},
                                    "nope": {"ComparisonOperator": "NULL"}})
        self.error(self.ddb.put_item, CCF, TableName="exq", Item=k,
                   Expected={"v": {"ComparisonOperator": "EQ", "AttributeValueList": [N(99)]},
                             "nope": {"ComparisonOperator": "NULL"}})
        for op, vals, want in (("NE", [N(3)], False), ("NE", [S("3")], True), ("GT", [N(2)], True),
                               ("BETWEEN", [N(1), N(3)], True), ("IN", [N(5), N(3)], True),
                               ("NOT_NULL", [], True), ("BEGINS_WITH", [S("x")], False),
                               ("CONTAINS", [N(3)], False), ("NOT_CONTAINS", [N(3)], True)):
            with self.subTest(op=op):
                cond = {"ComparisonOperator": op}
                if vals:
                    cond["AttributeValueList"] = vals
                try:
                    self.ddb.delete_item(TableName="exq", Key=k, Expected={"v": cond}, ReturnValues="ALL_OLD")
                    ok = True
                    self.ddb.put_item(TableName="exq", Item=dict(k, v=N(3)))
                except ClientError as e:
                    self.assertEqual(e.response["Error"]["Code"], CCF)
                    ok = False
                self.assertEqual(ok, want)
        self.error(self.ddb.put_item, VE, ENV + "ConditionalOperator can only be used when Filter or Expected has "
                   "two or more elements", TableName="exq", Item=k, ConditionalOperator="AND",
                   Expected={"v": {"Exists": False}})

    def test_legacy_attribute_updates(self):
        k = self.key()
        r = self.ddb.update_item(TableName="exq", Key=k, ReturnValues="ALL_NEW", AttributeUpdates={
            "a": {"Value": S("x")}, "n": {"Action": "ADD", "Value": N(2)}, "l": {"Action": "ADD", "Value": {"L": [N(1)]}},
            "s": {"Action": "ADD", "Value": {"SS": ["p", "q"]}}})
        self.assertEqual(r["Attributes"], dict(k, a=S("x"), n=N(2), l={"L": [N(1)]}, s={"SS": ["p", "q"]}))
        r = self.ddb.update_item(TableName="exq", Key=k, ReturnValues="UPDATED_NEW", AttributeUpdates={
            "n": {"Action": "ADD", "Value": N(-5)}, "l": {"Action": "ADD", "Value": {"L": [N(2)]}},
            "s": {"Action": "DELETE", "Value": {"SS": ["p"]}}, "a": {"Action": "DELETE"}},
            Expected={"a": {"Value": S("x")}})
        self.assertEqual(r["Attributes"], {"n": N(-3), "l": {"L": [N(1), N(2)]}, "s": {"SS": ["q"]}})
        self.assertNotIn("a", self.get(k))
        self.error(self.ddb.update_item, CCF, TableName="exq", Key=k, AttributeUpdates={"a": {"Value": S("y")}},
                   Expected={"a": {"Value": S("x")}})
        self.error(self.ddb.update_item, VE, "Type mismatch for attribute to update", TableName="exq", Key=k,
                   AttributeUpdates={"s": {"Action": "ADD", "Value": N(1)}})
        # DELETE on a missing item: nothing happens
        k2 = self.key()
        self.ddb.update_item(TableName="exq", Key=k2, AttributeUpdates={"a": {"Action": "DELETE"}})
        self.assertIsNone(self.get(k2))

    # -- the examples of expressions.md, run as operations --------------------------------------

    def test_spec_examples(self):
        k = self.key()
        # 6: REMOVE a[1] SET a[3] = :v on [2..7] and out-of-range SETs in index order
        self.put(k, a={"L": [N(x) for x in range(2, 8)]})
        self.update(k, "SET a[84] = :w, a[37] = :x, a[17] = :y, a[50] = :z",
                    values={":w": N(84), ":x": N(37), ":y": N(17), ":z": N(50)})
        self.assertEqual(self.get(k)["a"]["L"][6:], [N(17), N(37), N(50), N(84)])
        # 6: REMOVE a SET b = a copies the old a
        self.put(k, a=S("old"))
        self.update(k, "REMOVE a SET b = a")
        self.assertEqual(self.get(k), dict(k, b=S("old")))
        # 6: SET x = :v, y = x fails when x did not exist before
        self.error(self.update, VE, "The provided expression refers to an attribute that does not exist in the item",
                   key=k, expr="SET x = :v, y = x", values={":v": N(1)})
        # 6: counter idiom
        self.update(k, "SET c = if_not_exists(c, :zero) + :one", values={":zero": N(0), ":one": N(1)})
        self.assertEqual(self.get(k)["c"], N(1))
        # 6: calls nest
        self.update(k, "SET q = if_not_exists(a, if_not_exists(b, :v))", values={":v": N(9)})
        self.assertEqual(self.get(k)["q"], S("old"))
        # 1.1: ADD s {SS:[""]} onto ["a"] reads back ["", "a"]
        self.put(k, s={"SS": ["a"]})
        self.update(k, "ADD s :e", values={":e": {"SS": [""]}})
        self.assertEqual(self.get(k)["s"], {"SS": ["", "a"]})
        # 5: size("é𝄞") = 3 (UTF-16 code units)
        self.put(k, u=S("\u00e9\U0001d11e"))
        self.assertTrue(self.cond_put(k, "size(u) = :three", values={":three": N(3)}))
        # 5: "a" (0x61) > "A", "¿" > "z"
        self.put(k, s=S("a"), t=S("\u00bf"))
        self.assertTrue(self.cond_put(k, "s > :A AND t > :z", values={":A": S("A"), ":z": S("z")}))
        # 3: precedence a OR b AND c = a OR (b AND c); NOT a = b AND c = d = (NOT a = b) AND c = d
        self.put(k, a=N(1), b=N(2))
        self.assertTrue(self.cond_put(k, "a = :one OR b = :one AND b = :three",
                                      values={":one": N(1), ":three": N(3)}))
        self.put(k, a=N(1), b=N(2))
        self.assertTrue(self.cond_put(k, "NOT a = :two AND b = :two", values={":two": N(2)}))
        # 3: single extra parentheses are fine
        self.put(k, a=N(1))
        self.assertTrue(self.cond_put(k, "((a = :v) AND attribute_not_exists(c))", values={":v": N(1)}))


if __name__ == "__main__":
    unittest.main()
