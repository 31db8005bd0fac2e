"""test_boto3_tables.py -- control plane through boto3: CreateTable,
DescribeTable, ListTables, DeleteTable, waiters, table lifecycle delays and
CreateTable validation (operations.md 4.1-4.4, protocol.md 2.2).

Messages boto3 would refuse to send (client-side validation) go through the
raw HTTP helper, so the server's own answer is what is checked.
"""

import datetime
import re
import time
import unittest

from botocore.exceptions import ClientError, ParamValidationError

import harness
from harness import DaemonTestCase, SLOW

UUID4 = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$")
ARN = re.compile(r"^arn:aws:dynamodb:us-east-1:(\d{12}):table/(.+)$")


def no_nulls(testcase, obj, path="$"):
    """Assert that a JSON document has no null anywhere (protocol.md 4)."""
    if obj is None:
        testcase.fail("JSON null at %s" % path)
    if isinstance(obj, dict):
        for k, v in obj.items():
            no_nulls(testcase, v, path + "." + k)
    elif isinstance(obj, list):
        for i, v in enumerate(obj):
            no_nulls(testcase, v, "%s[%d]" % (path, i))


class TablesTest(DaemonTestCase):

    # -- create / describe ------------------------------------------------------

    def check_description(self, d, name, attrs, keys, status=None, billing="PAY_PER_REQUEST", rcu=0, wcu=0):
        self.assertEqual(d["TableName"], name)
        m = ARN.match(d["TableArn"])
        self.assertIsNotNone(m, d["TableArn"])
        self.assertEqual(m.group(2), name)
        self.assertNotEqual(m.group(1), "000000000000", "account id must not be DynamoDB Local's")
        self.assertRegex(d["TableId"], UUID4)
        self.assertEqual(d["AttributeDefinitions"], attrs)
        self.assertEqual(d["KeySchema"], keys)
        self.assertIsInstance(d["CreationDateTime"], datetime.datetime)
        now = datetime.datetime.now(datetime.timezone.utc)
        self.assertLess(abs((now - d["CreationDateTime"]).total_seconds()), 120)
        if status:
            self.assertEqual(d["TableStatus"], status)
        pt = d["ProvisionedThroughput"]
        self.assertEqual(pt["NumberOfDecreasesToday"], 0)
        self.assertEqual(pt["ReadCapacityUnits"], rcu)
        self.assertEqual(pt["WriteCapacityUnits"], wcu)
        if billing == "PAY_PER_REQUEST":
            bms = d["BillingModeSummary"]
            self.assertEqual(bms["BillingMode"], "PAY_PER_REQUEST")
            self.assertEqual(bms["LastUpdateToPayPerRequestDateTime"], d["CreationDateTime"])
        else:
            self.assertNotIn("BillingModeSummary", d)
        self.assertIsInstance(d["TableSizeBytes"], int)
        self.assertIsInstance(d["ItemCount"], int)
        for absent in ("LocalSecondaryIndexes", "GlobalSecondaryIndexes", "StreamSpecification",
                       "LatestStreamArn", "SSEDescription", "Replicas"):
            self.assertNotIn(absent, d)

    def create_and_check(self, hash_type, range_type=None):
        name = self.unique()
        attrs = [{"AttributeName": "pk", "AttributeType": hash_type}]
        keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
        if range_type:
            attrs.append({"AttributeName": "sk", "AttributeType": range_type})
            keys.append({"AttributeName": "sk", "KeyType": "RANGE"})
        r = self.ddb.create_table(TableName=name, AttributeDefinitions=attrs, KeySchema=keys,
                                  BillingMode="PAY_PER_REQUEST")
        self.check_description(r["TableDescription"], name, attrs, keys, status="CREATING")
        d = self.ddb.describe_table(TableName=name)["Table"]
        self.check_description(d, name, attrs, keys, status="ACTIVE")
        self.assertEqual(d["TableId"], r["TableDescription"]["TableId"])
        self.assertEqual(d["TableArn"], r["TableDescription"]["TableArn"])
        self.assertEqual(d["CreationDateTime"], r["TableDescription"]["CreationDateTime"])
        self.assertEqual(d["ItemCount"], 0)
        self.assertEqual(d["TableSizeBytes"], 0)
        return name

    def test_create_hash_s(self):
        self.create_and_check("S")

    def test_create_hash_n(self):
        self.create_and_check("N")

    def test_create_hash_b(self):
        self.create_and_check("B")

    def test_create_hash_range(self):
        for h, r in (("S", "N"), ("N", "B"), ("B", "S")):
            self.create_and_check(h, r)

    def test_table_ids_distinct(self):
        a = self.make_table()
        b = self.make_table()
        da = self.ddb.describe_table(TableName=a)["Table"]
        db = self.ddb.describe_table(TableName=b)["Table"]
        self.assertNotEqual(da["TableId"], db["TableId"])
        self.assertEqual(ARN.match(da["TableArn"]).group(1), ARN.match(db["TableArn"]).group(1))

    def test_describe_raw_has_no_nulls_and_numeric_timestamps(self):
        name = self.make_table(range_type="N")
        r = self.daemon.raw("DescribeTable", {"TableName": name})
        self.assertEqual(r.status, 200, r)
        no_nulls(self, r.json)
        t = r.json["Table"]
        self.assertIsInstance(t["CreationDateTime"], (int, float))
        self.assertIsInstance(t["ProvisionedThroughput"]["ReadCapacityUnits"], int)
        self.assertTrue(harness.crc32_ok(r))

    def test_duplicate_table(self):
        name = self.make_table()
        with self.assertRaises(ClientError) as cm:
            self.make_table(name)
        self.assertApiError(cm, "ResourceInUseException", "Table already exists: %s" % name)
        # different schema, same name: still in use
        with self.assertRaises(ClientError) as cm:
            self.make_table(name, hash_type="N", range_type="S")
        self.assertApiError(cm, "ResourceInUseException", "Table already exists: %s" % name)

    def test_names_case_sensitive(self):
        name = self.unique("Case")
        self.make_table(name)
        self.make_table(name.lower())
        self.make_table(name.upper())
        self.assertEqual(self.ddb.describe_table(TableName=name.upper())["Table"]["TableName"], name.upper())

    def test_name_charset_and_lengths(self):
        for name in ("abc", "a.b", "A-_.9", "x" * 255, "0123"):
            self.make_table(name)
            self.assertEqual(self.ddb.describe_table(TableName=name)["Table"]["TableName"], name)

    def test_describe_missing(self):
        with self.assertRaises(ClientError) as cm:
            self.ddb.describe_table(TableName="no_such_table")
        self.assertApiError(cm, "ResourceNotFoundException",
                            "Requested resource not found: Table: no_such_table not found")

    # -- billing ------------------------------------------------------------------

    def test_provisioned_echo(self):
        name = self.unique()
        attrs = [{"AttributeName": "pk", "AttributeType": "S"}]
        keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
        r = self.ddb.create_table(TableName=name, AttributeDefinitions=attrs, KeySchema=keys,
                                  BillingMode="PROVISIONED",
                                  ProvisionedThroughput={"ReadCapacityUnits": 5, "WriteCapacityUnits": 7})
        self.check_description(r["TableDescription"], name, attrs, keys, billing="PROVISIONED", rcu=5, wcu=7)
        d = self.ddb.describe_table(TableName=name)["Table"]
        self.check_description(d, name, attrs, keys, status="ACTIVE", billing="PROVISIONED", rcu=5, wcu=7)

    def test_provisioned_is_default(self):
        name = self.unique()
        attrs = [{"AttributeName": "pk", "AttributeType": "N"}]
        keys = [{"AttributeName": "pk", "KeyType": "HASH"}]
        self.ddb.create_table(TableName=name, AttributeDefinitions=attrs, KeySchema=keys,
                              ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1000000000000})
        d = self.ddb.describe_table(TableName=name)["Table"]
        self.check_description(d, name, attrs, keys, status="ACTIVE", billing="PROVISIONED",
                               rcu=1, wcu=1000000000000)

    def test_on_demand_echo(self):
        name = self.make_table(BillingMode="PAY_PER_REQUEST")
        d = self.ddb.describe_table(TableName=name)["Table"]
        self.assertEqual(d["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")
        self.assertEqual(d["ProvisionedThroughput"],
                         {"NumberOfDecreasesToday": 0, "ReadCapacityUnits": 0, "WriteCapacityUnits": 0})

    # -- delete ---------------------------------------------------------------------

    def test_delete_table(self):
        name = self.make_table(range_type="S")
        self.ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "sk": {"S": "b"}})
        r = self.ddb.delete_table(TableName=name)
        d = r["TableDescription"]
        self.assertEqual(d["TableStatus"], "DELETING")
        self.assertEqual(d["TableName"], name)
        with self.assertRaises(ClientError) as cm:
            self.ddb.describe_table(TableName=name)
        self.assertApiError(cm, "ResourceNotFoundException",
                            "Requested resource not found: Table: %s not found" % name)
        with self.assertRaises(ClientError) as cm:
            self.ddb.delete_table(TableName=name)
        self.assertApiError(cm, "ResourceNotFoundException",
                            "Requested resource not found: Table: %s not found" % name)
        with self.assertRaises(ClientError) as cm:
            self.ddb.get_item(TableName=name, Key={"pk": {"S": "a"}, "sk": {"S": "b"}})
        self.assertApiError(cm, "ResourceNotFoundException", "Requested resource not found")
        self.assertNotIn(name, self.ddb.list_tables()["TableNames"])

    def test_recreate_after_delete_is_empty(self):
        name = self.make_table()
        self.ddb.put_item(TableName=name, Item={"pk": {"S": "a"}, "v": {"N": "1"}})
        old_id = self.ddb.describe_table(TableName=name)["Table"]["TableId"]
        self.ddb.delete_table(TableName=name)
        self.make_table(name, hash_type="S")
        d = self.ddb.describe_table(TableName=name)["Table"]
        self.assertNotEqual(d["TableId"], old_id)
        self.assertNotIn("Item", self.ddb.get_item(TableName=name, Key={"pk": {"S": "a"}}))

    def test_waiters_fast(self):
        name = self.unique()
        t0 = time.monotonic()
        self.make_table(name)
        self.ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 3})
        self.ddb.delete_table(TableName=name)
        self.ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 3})
        self.assertLess(time.monotonic() - t0, 2.0 * SLOW)

    def test_waiters_default_config_fast(self):
        # default Delay is 20 s: only quick if the first poll already succeeds
        name = self.unique()
        t0 = time.monotonic()
        self.make_table(name)
        self.ddb.get_waiter("table_exists").wait(TableName=name)
        self.ddb.delete_table(TableName=name)
        self.ddb.get_waiter("table_not_exists").wait(TableName=name)
        self.assertLess(time.monotonic() - t0, 5.0 * SLOW)

    def test_resource_api_lifecycle(self):
        res = self.daemon.resource()
        name = self.unique()
        t = res.create_table(TableName=name, KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                             AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                             BillingMode="PAY_PER_REQUEST")
        t.wait_until_exists()
        t.reload()
        self.assertEqual(t.table_status, "ACTIVE")
        self.assertIn(name, [x.name for x in res.tables.all()])
        t.delete()
        t.wait_until_not_exists()

    def test_describe_limits_and_endpoints(self):
        # operations.md 4.6, protocol.md 8
        r = self.ddb.describe_limits()
        self.assertEqual({k: r[k] for k in ("AccountMaxReadCapacityUnits", "AccountMaxWriteCapacityUnits",
                                            "TableMaxReadCapacityUnits", "TableMaxWriteCapacityUnits")},
                         {"AccountMaxReadCapacityUnits": 80000, "AccountMaxWriteCapacityUnits": 80000,
                          "TableMaxReadCapacityUnits": 40000, "TableMaxWriteCapacityUnits": 40000})
        r = self.ddb.describe_endpoints()
        self.assertEqual(r["Endpoints"], [{"Address": "127.0.0.1:%d" % self.daemon.port,
                                           "CachePeriodInMinutes": 1440}])

    # -- CreateTable validation (operations.md 4.1) ---------------------------

    def ct(self, name=None, attrs=(("a", "S"),), keys=(("a", "HASH"),), raw=False, **extra):
        body = {"TableName": name if name is not None else self.unique("bad"),
                "AttributeDefinitions": [{"AttributeName": n, "AttributeType": t} for n, t in attrs],
                "KeySchema": [{"AttributeName": n, "KeyType": t} for n, t in keys]}
        if "BillingMode" not in extra and "ProvisionedThroughput" not in extra:
            body["BillingMode"] = "PAY_PER_REQUEST"
        body.update(extra)
        if raw:
            return self.daemon.raw("CreateTable", body)
        return self.ddb.create_table(**body)

    def assertCreateFails(self, message, raw=False, code="ValidationException", regex=False, **kw):
        if raw:
            r = self.ct(raw=True, **kw)
            self.assertEqual(r.status, 400, r)
            self.assertEqual(r.type.split("#")[-1], code, r)
            got = r.message
        else:
            with self.assertRaises(ClientError) as cm:
                self.ct(**kw)
            err = cm.exception.response["Error"]
            self.assertEqual(err["Code"], code, err)
            got = err.get("Message")
        if regex:
            self.assertRegex(got, message)
        else:
            self.assertEqual(got, message)

    def test_ct_pay_per_request_with_throughput(self):
        self.assertCreateFails(
            "One or more parameter values were invalid: Neither ReadCapacityUnits nor WriteCapacityUnits can be "
            "specified when BillingMode is PAY_PER_REQUEST",
            BillingMode="PAY_PER_REQUEST", ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1})

    def test_ct_provisioned_without_throughput(self):
        msg = ("One or more parameter values were invalid: ReadCapacityUnits and WriteCapacityUnits must both be "
               "specified when BillingMode is PROVISIONED")
        self.assertCreateFails(msg, BillingMode="PROVISIONED")
        # BillingMode absent = PROVISIONED
        self.assertCreateFails(msg, raw=True, ProvisionedThroughput=None)  # null member = absent

    def test_ct_throughput_out_of_bounds(self):
        self.assertCreateFails("Given value 1000000000001 for ReadCapacityUnits is out of bounds",
                               ProvisionedThroughput={"ReadCapacityUnits": 1000000000001, "WriteCapacityUnits": 1})
        self.assertCreateFails("Given value 1000000000001 for WriteCapacityUnits is out of bounds",
                               ProvisionedThroughput={"ReadCapacityUnits": 1, "WriteCapacityUnits": 1000000000001})

    def test_ct_throughput_zero(self):
        # boto3 refuses 0 client-side (min 1): send it raw
        with self.assertRaises(ParamValidationError):
            self.ct(ProvisionedThroughput={"ReadCapacityUnits": 0, "WriteCapacityUnits": 1})
        self.assertCreateFails(r"^1 validation error detected: Value '0' at 'provisionedThroughput.readCapacityUnits' "
                               r"failed to satisfy constraint: Member must have value greater than or equal to 1$",
                               raw=True, regex=True,
                               ProvisionedThroughput={"ReadCapacityUnits": 0, "WriteCapacityUnits": 1})

    def test_ct_more_keys_than_definitions(self):
        self.assertCreateFails("Invalid KeySchema: Some index key attribute have no definition",
                               attrs=(("a", "S"),), keys=(("a", "HASH"), ("b", "RANGE")))

    def test_ct_key_not_defined(self):
        self.assertCreateFails(
            "One or more parameter values were invalid: Some index key attributes are not defined in "
            "AttributeDefinitions. Keys: [a], AttributeDefinitions: [b]",
            attrs=(("b", "S"),), keys=(("a", "HASH"),))

    def test_ct_same_hash_and_range(self):
        self.assertCreateFails("Both the Hash Key and the Range Key element in the KeySchema have the same name",
                               attrs=(("a", "S"), ("b", "S")), keys=(("a", "HASH"), ("a", "RANGE")))

    def test_ct_first_not_hash(self):
        self.assertCreateFails("Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
                               attrs=(("a", "S"), ("b", "S")), keys=(("a", "RANGE"), ("b", "HASH")))
        self.assertCreateFails("Invalid KeySchema: The first KeySchemaElement is not a HASH key type",
                               attrs=(("a", "S"),), keys=(("a", "RANGE"),))

    def test_ct_second_not_range(self):
        self.assertCreateFails("Invalid KeySchema: The second KeySchemaElement is not a RANGE key type",
                               attrs=(("a", "S"), ("b", "S")), keys=(("a", "HASH"), ("b", "HASH")))

    def test_ct_unused_definition(self):
        self.assertCreateFails(
            "One or more parameter values were invalid: Number of attributes in KeySchema does not exactly match "
            "number of attributes defined in AttributeDefinitions",
            attrs=(("a", "S"), ("b", "N")), keys=(("a", "HASH"),))

    def test_ct_duplicate_definition(self):
        self.assertCreateFails(r"uplicate.*xyz", regex=True,
                               attrs=(("xyz", "S"), ("xyz", "S")), keys=(("xyz", "HASH"),))

    def test_ct_three_key_elements(self):
        self.assertCreateFails(
            r"^1 validation error detected: Value '\[com\.amazonaws\.dynamodb\.v20120810\.KeySchemaElement@[0-9a-f]+, "
            r"com\.amazonaws\.dynamodb\.v20120810\.KeySchemaElement@[0-9a-f]+, "
            r"com\.amazonaws\.dynamodb\.v20120810\.KeySchemaElement@[0-9a-f]+\]' at 'keySchema' failed to satisfy "
            r"constraint: Member must have length less than or equal to 2$",
            regex=True, raw=True, attrs=(("a", "S"), ("b", "S"), ("c", "S")),
            keys=(("a", "HASH"), ("b", "RANGE"), ("c", "RANGE")))

    def test_ct_bad_attribute_type(self):
        with self.assertRaises(ClientError) as cm:  # botocore does not validate enums
            self.ct(attrs=(("a", "BOOL"),))
        self.assertEqual(cm.exception.response["Error"]["Code"], "ValidationException")
        self.assertIn("Member must satisfy enum value set: [B, N, S]", cm.exception.response["Error"]["Message"])

    def test_ct_table_name_constraints(self):
        pre = "1 validation error detected: Value '%s' at 'tableName' failed to satisfy constraint: "
        self.assertCreateFails(pre % "ab" + "Member must have length greater than or equal to 3", raw=True, name="ab")
        self.assertCreateFails(pre % "" + "Member must have length greater than or equal to 3", raw=True,
                               name="")  # '' fails only the length constraint
        self.assertCreateFails(pre % "bad table!@#" + "Member must satisfy regular expression pattern: "
                               "[a-zA-Z0-9_.-]+", raw=True, name="bad table!@#")
        long = "a" * 256
        self.assertCreateFails(pre % long + "Member must have length less than or equal to 255", raw=True, name=long)
        r = self.ct(raw=True, name="x!")
        self.assertEqual(r.type, "com.amazon.coral.validate#ValidationException")
        self.assertTrue(r.message.startswith("2 validation errors detected: "), r.message)
        self.assertIn("Value 'x!' at 'tableName' failed to satisfy constraint: Member must have length greater "
                      "than or equal to 3", r.message)
        self.assertIn("Value 'x!' at 'tableName' failed to satisfy constraint: Member must satisfy regular "
                      "expression pattern: [a-zA-Z0-9_.-]+", r.message)

    def test_ct_table_name_missing(self):
        r = self.daemon.raw("CreateTable", {"AttributeDefinitions": [{"AttributeName": "a", "AttributeType": "S"}],
                                            "KeySchema": [{"AttributeName": "a", "KeyType": "HASH"}],
                                            "BillingMode": "PAY_PER_REQUEST"})
        self.assertEqual((r.status, r.type), (400, "com.amazon.coral.validate#ValidationException"), r)
        self.assertEqual(r.message, "The parameter 'TableName' is required but was not present in the request")

    def test_failed_create_leaves_no_table(self):
        name = self.unique("ghost")
        with self.assertRaises(ClientError):
            self.ct(name=name, attrs=(("a", "S"), ("b", "S")), keys=(("a", "HASH"),))
        self.assertNotIn(name, self.ddb.list_tables()["TableNames"])
        with self.assertRaises(ClientError) as cm:
            self.ddb.describe_table(TableName=name)
        self.assertApiError(cm, "ResourceNotFoundException")

    def test_accepted_extras(self):
        # accepted and echoed without behaviour (operations.md 4.1)
        name = self.make_table(SSESpecification={"Enabled": False}, Tags=[{"Key": "k", "Value": "v"}],
                               TableClass="STANDARD")
        self.assertEqual(self.ddb.describe_table(TableName=name)["Table"]["TableStatus"], "ACTIVE")


class ListTablesTest(DaemonTestCase):
    """ListTables on a daemon holding exactly the tables made here."""

    NAMES = ["a-1", "a.2", "A_3", "b00", "B00", "zz9", "0tab", "m_m"]

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        for n in cls.NAMES:
            cls.ddb.create_table(TableName=n, AttributeDefinitions=[{"AttributeName": "k", "AttributeType": "S"}],
                                 KeySchema=[{"AttributeName": "k", "KeyType": "HASH"}],
                                 BillingMode="PAY_PER_REQUEST")
        cls.SORTED = sorted(cls.NAMES, key=lambda s: s.encode())

    def test_sorted(self):
        r = self.ddb.list_tables()
        self.assertEqual(r["TableNames"], self.SORTED)
        self.assertNotIn("LastEvaluatedTableName", r)

    def test_limit_pages(self):
        got, start, pages = [], None, 0
        while True:
            kw = {"Limit": 3}
            if start:
                kw["ExclusiveStartTableName"] = start
            r = self.ddb.list_tables(**kw)
            pages += 1
            self.assertLessEqual(len(r["TableNames"]), 3)
            got += r["TableNames"]
            if "LastEvaluatedTableName" not in r:
                break
            self.assertEqual(r["LastEvaluatedTableName"], r["TableNames"][-1])
            start = r["LastEvaluatedTableName"]
            self.assertLess(pages, 10)
        self.assertEqual(got, self.SORTED)
        self.assertEqual(pages, 3)

    def test_limit_equal_to_remaining(self):
        n = len(self.SORTED)
        r = self.ddb.list_tables(Limit=n)
        self.assertEqual(r["TableNames"], self.SORTED)
        self.assertNotIn("LastEvaluatedTableName", r)
        r = self.ddb.list_tables(Limit=n - 1)
        self.assertEqual(r["LastEvaluatedTableName"], self.SORTED[-2])
        r = self.ddb.list_tables(Limit=2, ExclusiveStartTableName=self.SORTED[-3])
        self.assertEqual(r["TableNames"], self.SORTED[-2:])
        self.assertNotIn("LastEvaluatedTableName", r)
        r = self.ddb.list_tables(Limit=100)
        self.assertNotIn("LastEvaluatedTableName", r)

    def test_exclusive_start(self):
        r = self.ddb.list_tables(ExclusiveStartTableName=self.SORTED[2])
        self.assertEqual(r["TableNames"], self.SORTED[3:])
        # a name that is no table: start after where it would sort
        r = self.ddb.list_tables(ExclusiveStartTableName="b000")
        self.assertEqual(r["TableNames"], [x for x in self.SORTED if x.encode() > b"b000"])
        self.assertEqual(r["TableNames"], ["m_m", "zz9"])
        r = self.ddb.list_tables(ExclusiveStartTableName=self.SORTED[-1])
        self.assertEqual(r["TableNames"], [])
        self.assertNotIn("LastEvaluatedTableName", r)

    def test_limit_bounds(self):
        r = self.daemon.raw("ListTables", {"Limit": 101})
        self.assertEqual((r.status, r.type), (400, "com.amazon.coral.validate#ValidationException"), r)
        self.assertEqual(r.message, "1 validation error detected: Value '101' at 'limit' failed to satisfy "
                                    "constraint: Member must have value less than or equal to 100")
        r = self.daemon.raw("ListTables", {"Limit": 0})
        self.assertEqual((r.status, r.type), (400, "com.amazon.coral.validate#ValidationException"), r)
        self.assertEqual(r.message, "1 validation error detected: Value '0' at 'limit' failed to satisfy "
                                    "constraint: Member must have value greater than or equal to 1")

    def test_paginator(self):
        pages = list(self.ddb.get_paginator("list_tables").paginate(PaginationConfig={"PageSize": 2}))
        self.assertEqual([n for p in pages for n in p["TableNames"]], self.SORTED)
        self.assertEqual(len(pages), 4)


class ManyTablesTest(DaemonTestCase):
    """More tables than ListTables' default page (100)."""

    def test_default_limit(self):
        names = sorted("many_%03d" % i for i in range(130))
        for n in names:
            self.make_table(n)
        r = self.ddb.list_tables()
        self.assertEqual(r["TableNames"], names[:100])
        self.assertEqual(r["LastEvaluatedTableName"], names[99])
        r = self.ddb.list_tables(ExclusiveStartTableName=r["LastEvaluatedTableName"])
        self.assertEqual(r["TableNames"], names[100:])
        self.assertNotIn("LastEvaluatedTableName", r)
        pages = list(self.ddb.get_paginator("list_tables").paginate())
        self.assertEqual([n for p in pages for n in p["TableNames"]], names)
        for n in names[::2]:
            self.ddb.delete_table(TableName=n)
        self.assertEqual(self.ddb.list_tables()["TableNames"], names[1::2])
        self.daemon.restart()
        self.assertEqual(self.daemon.client().list_tables()["TableNames"], names[1::2])


class LifecycleDelayTest(DaemonTestCase):
    """--create-delay-ms / --delete-delay-ms: CREATING and DELETING are visible."""

    daemon_kwargs = {"create_delay_ms": 1500, "delete_delay_ms": 1500}

    def test_creating_then_active(self):
        name = self.unique()
        t0 = time.monotonic()
        self.make_table(name)
        self.assertEqual(self.ddb.describe_table(TableName=name)["Table"]["TableStatus"], "CREATING")
        self.assertIn(name, self.ddb.list_tables()["TableNames"])  # any status
        # item operations on a CREATING table: RNF (operations.md 5.0)
        with self.assertRaises(ClientError) as cm:
            self.ddb.put_item(TableName=name, Item={"pk": {"S": "a"}})
        self.assertApiError(cm, "ResourceNotFoundException", "Requested resource not found")
        with self.assertRaises(ClientError) as cm:
            self.ddb.get_item(TableName=name, Key={"pk": {"S": "a"}})
        self.assertApiError(cm, "ResourceNotFoundException", "Requested resource not found")
        # DeleteTable while CREATING: RIU
        with self.assertRaises(ClientError) as cm:
            self.ddb.delete_table(TableName=name)
        self.assertApiError(cm, "ResourceInUseException",
                            "Attempt to change a resource which is still in use: Table is being created: %s" % name)
        # duplicate while CREATING
        with self.assertRaises(ClientError) as cm:
            self.make_table(name)
        self.assertApiError(cm, "ResourceInUseException", "Table already exists: %s" % name)
        self.ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 10})
        dt = time.monotonic() - t0
        self.assertGreaterEqual(dt, 1.3)
        self.assertLess(dt, 6 * SLOW)
        self.assertEqual(self.ddb.describe_table(TableName=name)["Table"]["TableStatus"], "ACTIVE")
        self.ddb.put_item(TableName=name, Item={"pk": {"S": "a"}})

    def test_deleting_then_gone(self):
        name = self.unique()
        self.make_table(name)
        self.ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 10})
        self.ddb.put_item(TableName=name, Item={"pk": {"S": "a"}})
        t0 = time.monotonic()
        r = self.ddb.delete_table(TableName=name)
        self.assertEqual(r["TableDescription"]["TableStatus"], "DELETING")
        self.assertEqual(self.ddb.describe_table(TableName=name)["Table"]["TableStatus"], "DELETING")
        # deleting a DELETING table succeeds (operations.md 4.4)
        r = self.ddb.delete_table(TableName=name)
        self.assertEqual(r["TableDescription"]["TableStatus"], "DELETING")
        self.ddb.get_waiter("table_not_exists").wait(TableName=name, WaiterConfig={"Delay": 1, "MaxAttempts": 10})
        dt = time.monotonic() - t0
        self.assertGreaterEqual(dt, 1.3)
        self.assertLess(dt, 6 * SLOW)
        with self.assertRaises(ClientError) as cm:
            self.ddb.describe_table(TableName=name)
        self.assertApiError(cm, "ResourceNotFoundException",
                            "Requested resource not found: Table: %s not found" % name)
        self.assertNotIn(name, self.ddb.list_tables()["TableNames"])


if __name__ == "__main__":
    unittest.main()
