"""test_ttl.py -- Time To Live (streams-ttl.md 7): UpdateTimeToLive /
DescribeTimeToLive and every error of 7.1/7.2 with its exact message, the
change cooldown (--ttl-cooldown-s), the expiry rules of 7.3 (type N only,
epoch seconds incl. fractions and exponents, future and > 5 years old
values never expire), expired items hidden from GetItem / Query / Scan /
BatchGetItem and treated as absent by conditions and UpdateItem
(--ttl-hide-expired true, the default) or visible (false), and the
background sweeper (--ttl-sweep-ms): expired items deleted, ItemCount
drops, one REMOVE stream record per deletion with the service userIdentity
and the OldImage, and an item whose TTL moved to the future before the
sweep is kept.
"""

import random
import time
import unittest

from botocore.exceptions import ClientError

from harness import Daemon, DaemonTestCase, SLOW
from test_streams import StreamsMixin, record_size, stream_spec, streams_client

VE1 = "1 validation error detected: "
YEAR = 365 * 86400
NEVER = ["--ttl-sweep-ms", "2000000000"]  # the sweeper never runs during a test


def ttl_spec(enabled, attr="exp"):
    return {"Enabled": enabled, "AttributeName": attr}


class TtlTestCase(DaemonTestCase):
    daemon_kwargs = {"fsync": False}

    def update_ttl(self, table, enabled, attr="exp"):
        return self.ddb.update_time_to_live(TableName=table, TimeToLiveSpecification=ttl_spec(enabled, attr))

    def describe_ttl(self, table):
        return self.ddb.describe_time_to_live(TableName=table)["TimeToLiveDescription"]

    def ttl_error(self, table, enabled, attr, message, code="ValidationException"):
        with self.assertRaises(ClientError) as cm:
            self.update_ttl(table, enabled, attr)
        self.assertApiError(cm, code, message)

    def raw_update(self, body):
        return self.daemon.raw("UpdateTimeToLive", body)

    def assertRaw(self, r, status, type_, message=None):
        self.assertEqual(r.status, status, r)
        self.assertTrue((r.type or "").endswith(type_), r)
        if message is not None:
            self.assertEqual(r.message, message, r)


# -- API -----------------------------------------------------------------------------

class TtlApiTest(TtlTestCase):

    def test_default_disabled(self):
        name = self.make_table()
        r = self.daemon.raw("DescribeTimeToLive", {"TableName": name})
        self.assertEqual((r.status, r.json), (200, {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}}))

    def test_enable_disable_cycle(self):
        name = self.make_table()
        r = self.raw_update({"TableName": name, "TimeToLiveSpecification": ttl_spec(True)})
        self.assertEqual((r.status, r.json), (200, {"TimeToLiveSpecification": {"Enabled": True, "AttributeName": "exp"}}))
        r = self.daemon.raw("DescribeTimeToLive", {"TableName": name})
        self.assertEqual(r.json, {"TimeToLiveDescription": {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"}})
        # state errors
        self.ttl_error(name, True, "exp", "TimeToLive is already enabled")
        self.ttl_error(name, True, "other",
                       "TimeToLive is active on a different AttributeName: current AttributeName is exp")
        self.ttl_error(name, False, "other",
                       "TimeToLive is active on a different AttributeName: current AttributeName is exp")
        self.assertEqual(self.describe_ttl(name), {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"})
        # disable: echo, then DISABLED without the old name
        r = self.raw_update({"TableName": name, "TimeToLiveSpecification": ttl_spec(False)})
        self.assertEqual((r.status, r.json), (200, {"TimeToLiveSpecification": {"Enabled": False, "AttributeName": "exp"}}))
        r = self.daemon.raw("DescribeTimeToLive", {"TableName": name})
        self.assertEqual(r.json, {"TimeToLiveDescription": {"TimeToLiveStatus": "DISABLED"}})
        self.ttl_error(name, False, "exp", "TimeToLive is already disabled")
        self.ttl_error(name, False, "other", "TimeToLive is already disabled")
        # no cooldown by default: another attribute right away
        self.assertEqual(self.update_ttl(name, True, "other")["TimeToLiveSpecification"],
                         {"Enabled": True, "AttributeName": "other"})
        self.assertEqual(self.describe_ttl(name), {"TimeToLiveStatus": "ENABLED", "AttributeName": "other"})
        # the TTL setting does not show in DescribeTable, and survives other table changes
        self.ddb.update_table(TableName=name, StreamSpecification=stream_spec("KEYS_ONLY"))
        self.assertEqual(self.describe_ttl(name), {"TimeToLiveStatus": "ENABLED", "AttributeName": "other"})

    def test_key_attribute_and_long_name(self):
        name = self.make_table()
        self.update_ttl(name, True, "pk")
        self.assertEqual(self.describe_ttl(name), {"TimeToLiveStatus": "ENABLED", "AttributeName": "pk"})
        name2 = self.make_table()
        self.update_ttl(name2, True, "a" * 255)
        self.assertEqual(self.describe_ttl(name2)["AttributeName"], "a" * 255)
        name3 = self.make_table()
        self.update_ttl(name3, True, "\u00e9xp \U0001F600")
        self.assertEqual(self.describe_ttl(name3)["AttributeName"], "\u00e9xp \U0001F600")

    def test_validation_errors(self):
        name = self.make_table()
        null = VE1 + "Value null at '%s' failed to satisfy constraint: Member must not be null"
        for body, msg in (
                ({"TableName": name}, null % "timeToLiveSpecification"),
                ({"TableName": name, "TimeToLiveSpecification": {"Enabled": True}},
                 null % "timeToLiveSpecification.attributeName"),
                ({"TableName": name, "TimeToLiveSpecification": {"AttributeName": "exp"}},
                 null % "timeToLiveSpecification.enabled"),
                ({"TableName": "no_such_ttl_table", "TimeToLiveSpecification": {"Enabled": True}},
                 null % "timeToLiveSpecification.attributeName")):  # validation before the table lookup
            self.assertRaw(self.raw_update(body), 400, "ValidationException", msg)
        for attr, tail in (("", "Member must have length greater than or equal to 1"),
                           ("x" * 256, "Member must have length less than or equal to 255")):
            r = self.raw_update({"TableName": name, "TimeToLiveSpecification": ttl_spec(True, attr)})
            self.assertRaw(r, 400, "ValidationException")
            self.assertTrue(r.message.startswith(VE1), r)
            self.assertTrue(r.message.endswith("at 'timeToLiveSpecification.attributeName' failed to satisfy "
                                               "constraint: " + tail), r)
        r = self.raw_update({"TableName": name, "TimeToLiveSpecification": {"Enabled": "dog", "AttributeName": "e"}})
        self.assertRaw(r, 400, "SerializationException")
        self.assertEqual(self.describe_ttl(name), {"TimeToLiveStatus": "DISABLED"})

    def test_missing_table(self):
        msg = "Requested resource not found: Table: no_such_ttl_table not found"
        self.ttl_error("no_such_ttl_table", True, "exp", msg, code="ResourceNotFoundException")
        with self.assertRaises(ClientError) as cm:
            self.ddb.describe_time_to_live(TableName="no_such_ttl_table")
        self.assertApiError(cm, "ResourceNotFoundException", msg)

    def test_dropped_table_forgets_ttl(self):
        name = self.make_table()
        self.update_ttl(name, True)
        self.ddb.delete_table(TableName=name)
        deadline = time.monotonic() + 10 * SLOW
        while time.monotonic() < deadline:
            try:
                self.ddb.describe_table(TableName=name)
            except ClientError:
                break
            time.sleep(0.05)
        self.make_table(name=name)
        self.assertEqual(self.describe_ttl(name), {"TimeToLiveStatus": "DISABLED"})


class TtlCreatingTableTest(TtlTestCase):
    daemon_kwargs = {"fsync": False, "create_delay_ms": 1500}

    def test_creating_table(self):
        name = self.make_table()
        r = self.daemon.raw("DescribeTimeToLive", {"TableName": name})
        self.assertRaw(r, 400, "ValidationException", "Cannot describe time to live while table is in CREATING "
                                                      "state: Current table state is CREATING")
        r = self.raw_update({"TableName": name, "TimeToLiveSpecification": ttl_spec(True)})
        self.assertRaw(r, 400, "ResourceInUseException")
        self.ddb.get_waiter("table_exists").wait(TableName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
        self.update_ttl(name, True)
        self.assertEqual(self.describe_ttl(name), {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"})


class TtlCooldownTest(TtlTestCase):
    daemon_kwargs = {"fsync": False, "extra_args": ["--ttl-cooldown-s", "2"]}
    MULTI = "Time to live has been modified multiple times within a fixed interval"

    def test_cooldown(self):
        name = self.make_table()
        other = self.make_table()
        t_enable = time.monotonic()
        self.update_ttl(name, True)
        # state errors answer before the cooldown
        self.ttl_error(name, True, "exp", "TimeToLive is already enabled")
        self.ttl_error(name, True, "x", "TimeToLive is active on a different AttributeName: current AttributeName is exp")
        # a real change inside the window
        self.ttl_error(name, False, "exp", self.MULTI)
        self.assertEqual(self.describe_ttl(name), {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"})
        # other tables have their own window
        self.update_ttl(other, True, "e2")
        time.sleep(max(0, t_enable + 2.5 - time.monotonic()))
        t_disable = time.monotonic()
        self.update_ttl(name, False)
        self.assertEqual(self.describe_ttl(name), {"TimeToLiveStatus": "DISABLED"})
        # a successful disable starts a new window
        self.ttl_error(name, False, "exp", "TimeToLive is already disabled")
        self.ttl_error(name, True, "exp", self.MULTI)
        self.ttl_error(name, True, "new", self.MULTI)
        time.sleep(max(0, t_disable + 2.5 - time.monotonic()))
        self.update_ttl(name, True, "new")
        self.assertEqual(self.describe_ttl(name), {"TimeToLiveStatus": "ENABLED", "AttributeName": "new"})


# -- expiry visibility -------------------------------------------------------------------

def fixture(now):
    """sk -> (TTL attribute value or None, expired?) (streams-ttl.md 7.3)."""
    return {
        "past": ({"N": str(now - 100)}, True),
        "past_fraction": ({"N": "%d.25" % (now - 100)}, True),
        "past_exponent": ({"N": "%de1" % ((now - 1000) // 10)}, True),  # read back as %d0
        "four_years": ({"N": str(now - 4 * YEAR)}, True),
        "future": ({"N": str(now + 3600)}, False),
        "millis": ({"N": str(now * 1000)}, False),
        "six_years": ({"N": str(now - 6 * YEAR)}, False),
        "string": ({"S": str(now - 100)}, False),
        "number_set": ({"NS": [str(now - 100)]}, False),
        "map": ({"M": {"exp": {"N": str(now - 100)}}}, False),
        "absent": (None, False),
    }


def canonical(item):
    """The item as the server returns it: the exponent form written by the fixture normalised."""
    out = dict(item)
    e = item.get("exp", {}).get("N", "")
    if e.endswith("e1"):
        out["exp"] = {"N": e[:-2] + "0"}
    return out


class ExpiryTestBase(TtlTestCase):
    HIDE = True

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.now = int(time.time())
        cls.fx = fixture(cls.now)

    def load(self, ttl=True):
        name = self.make_table(range_type="S")
        if ttl:
            self.update_ttl(name, True)
        items = {}
        for sk, (val, _) in self.fx.items():
            item = {"pk": {"S": "p"}, "sk": {"S": sk}, "v": {"S": "value of " + sk}}
            if val is not None:
                item["exp"] = val
            self.ddb.put_item(TableName=name, Item=item)
            items[sk] = canonical(item)
        return name, items

    def visible(self, items, hide):
        return {sk: it for sk, it in items.items() if not (hide and self.fx[sk][1])}

    def key(self, sk):
        return {"pk": {"S": "p"}, "sk": {"S": sk}}

    def check_reads(self, name, items, hide):
        want = self.visible(items, hide)
        for sk, item in items.items():
            for consistent in (False, True):
                got = self.ddb.get_item(TableName=name, Key=self.key(sk), ConsistentRead=consistent).get("Item")
                self.assertEqual(got, want.get(sk), "GetItem %s (consistent=%s)" % (sk, consistent))
        r = self.ddb.batch_get_item(RequestItems={name: {"Keys": [self.key(sk) for sk in items]}})
        self.assertEqual(r["UnprocessedKeys"], {})
        self.assertEqual(sorted(r["Responses"][name], key=lambda i: i["sk"]["S"]),
                         [want[k] for k in sorted(want)])
        q = self.ddb.query(TableName=name, KeyConditionExpression="pk = :p",
                           ExpressionAttributeValues={":p": {"S": "p"}})
        self.assertEqual(q["Items"], [want[k] for k in sorted(want)])
        self.assertEqual(q["Count"], len(want))
        q = self.ddb.query(TableName=name, KeyConditionExpression="pk = :p", Select="COUNT",
                           ExpressionAttributeValues={":p": {"S": "p"}})
        self.assertEqual(q["Count"], len(want))
        s = self.ddb.scan(TableName=name, ConsistentRead=True)
        self.assertEqual(sorted(s["Items"], key=lambda i: i["sk"]["S"]), [want[k] for k in sorted(want)])
        self.assertEqual(s["Count"], len(want))
        self.assertEqual(s["ScannedCount"], len(want))
        # paging with Limit 1 sees the same items
        seen, start = [], None
        for _ in range(40):
            args = dict(TableName=name, Limit=1)
            if start:
                args["ExclusiveStartKey"] = start
            s = self.ddb.scan(**args)
            seen += s["Items"]
            start = s.get("LastEvaluatedKey")
            if not start:
                break
        self.assertEqual(sorted(i["sk"]["S"] for i in seen), sorted(want))


class ExpiryHiddenTest(ExpiryTestBase):
    daemon_kwargs = {"fsync": False, "extra_args": NEVER}

    def test_reads_hide_expired(self):
        name, items = self.load()
        self.check_reads(name, items, hide=True)

    def test_no_ttl_no_hiding(self):
        name, items = self.load(ttl=False)
        self.check_reads(name, items, hide=False)

    def test_disable_ttl_shows_again(self):
        name, items = self.load()
        self.update_ttl(name, False)
        self.check_reads(name, items, hide=False)

    def test_ttl_on_string_key_never_expires(self):
        name = self.make_table()
        self.update_ttl(name, True, "pk")
        self.ddb.put_item(TableName=name, Item={"pk": {"S": str(self.now - 100)}})
        self.assertIn("Item", self.ddb.get_item(TableName=name, Key={"pk": {"S": str(self.now - 100)}}))
        name = self.make_table(hash_type="N")
        self.update_ttl(name, True, "pk")
        self.ddb.put_item(TableName=name, Item={"pk": {"N": str(self.now - 100)}})
        self.assertNotIn("Item", self.ddb.get_item(TableName=name, Key={"pk": {"N": str(self.now - 100)}}))

    def test_expired_item_is_absent_for_writes(self):
        name, items = self.load()
        past = self.key("past")
        # a condition sees no item
        with self.assertRaises(ClientError) as cm:
            self.ddb.delete_item(TableName=name, Key=past, ConditionExpression="attribute_exists(pk)")
        self.assertApiError(cm, "ConditionalCheckFailedException")
        with self.assertRaises(ClientError) as cm:
            self.ddb.update_item(TableName=name, Key=past, UpdateExpression="SET w = :w",
                                 ConditionExpression="v = :v",
                                 ExpressionAttributeValues={":w": {"S": "x"}, ":v": {"S": "value of past"}})
        self.assertApiError(cm, "ConditionalCheckFailedException")
        # UpdateItem starts from an absent item
        r = self.ddb.update_item(TableName=name, Key=past, ReturnValues="ALL_OLD",
                                 UpdateExpression="SET c = if_not_exists(c, :z) + :one",
                                 ExpressionAttributeValues={":z": {"N": "0"}, ":one": {"N": "1"}})
        self.assertNotIn("Attributes", r)
        got = self.ddb.get_item(TableName=name, Key=past, ConsistentRead=True)["Item"]
        self.assertEqual(got, dict(past, c={"N": "1"}))
        r = self.ddb.update_item(TableName=name, Key=self.key("past_fraction"), ReturnValues="ALL_NEW",
                                 UpdateExpression="SET c = if_not_exists(c, :z) + :one",
                                 ExpressionAttributeValues={":z": {"N": "0"}, ":one": {"N": "1"}})
        self.assertEqual(r["Attributes"], dict(self.key("past_fraction"), c={"N": "1"}))
        # a conditional put for a new item succeeds over an expired one
        fresh = dict(self.key("four_years"), v={"S": "fresh"})
        self.ddb.put_item(TableName=name, Item=fresh, ConditionExpression="attribute_not_exists(pk)")
        self.assertEqual(self.ddb.get_item(TableName=name, Key=self.key("four_years"))["Item"], fresh)
        # an unexpired item still satisfies conditions
        self.ddb.delete_item(TableName=name, Key=self.key("future"), ConditionExpression="attribute_exists(pk)")
        self.assertNotIn("Item", self.ddb.get_item(TableName=name, Key=self.key("future")))


class ExpiryVisibleTest(ExpiryTestBase):
    daemon_kwargs = {"fsync": False, "extra_args": NEVER + ["--ttl-hide-expired", "false"]}

    def test_reads_show_expired(self):
        name, items = self.load()
        self.check_reads(name, items, hide=False)

    def test_expired_item_is_present_for_writes(self):
        name, items = self.load()
        r = self.ddb.update_item(TableName=name, Key=self.key("past"), ReturnValues="ALL_OLD",
                                 UpdateExpression="SET w = :w", ConditionExpression="attribute_exists(pk)",
                                 ExpressionAttributeValues={":w": {"S": "x"}})
        self.assertEqual(r["Attributes"], items["past"])


# -- the sweeper -----------------------------------------------------------------------------

class SweeperTest(TtlTestCase, StreamsMixin):
    daemon_kwargs = {"fsync": False, "extra_args": ["--ttl-sweep-ms", "200"]}

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.streams = streams_client(cls.daemon)

    def wait_for(self, pred, what, timeout=8):
        deadline = time.monotonic() + timeout * SLOW
        while time.monotonic() < deadline:
            if pred():
                return
            time.sleep(0.1)
        self.fail("timed out waiting for " + what)

    def count(self, name):
        return self.ddb.describe_table(TableName=name)["Table"]["ItemCount"]

    def exists(self, name, key):
        return "Item" in self.ddb.get_item(TableName=name, Key=key, ConsistentRead=True)

    def test_sweep_deletes_with_stream_records(self):
        now = int(time.time())
        fx = fixture(now)
        name, arn = self.create_stream_table("NEW_AND_OLD_IMAGES", range_type="S")
        items = {}
        for sk, (val, _) in fx.items():
            item = {"pk": {"S": "p"}, "sk": {"S": sk}, "v": {"L": [{"S": sk}, {"NULL": True}]}}
            if val is not None:
                item["exp"] = val
            self.ddb.put_item(TableName=name, Item=item)
            items[sk] = canonical(item)
        # 120 more expired items in another partition, written by batches
        bulk = {}
        for b in range(0, 120, 25):
            reqs = []
            for i in range(b, min(120, b + 25)):
                it = {"pk": {"S": "bulk"}, "sk": {"S": "%03d" % i}, "exp": {"N": str(now - 10 - i)}}
                bulk[it["sk"]["S"]] = it
                reqs.append({"PutRequest": {"Item": it}})
            self.ddb.batch_write_item(RequestItems={name: reqs})
        total = len(items) + len(bulk)
        self.assertEqual(self.count(name), total)
        self.update_ttl(name, True)
        expired = sorted(sk for sk, (_, e) in fx.items() if e)
        keep = sorted(sk for sk, (_, e) in fx.items() if not e)
        self.wait_for(lambda: self.count(name) == len(keep), "ItemCount %d -> %d" % (total, len(keep)))
        for sk in keep:
            self.assertEqual(self.ddb.get_item(TableName=name, Key={"pk": {"S": "p"}, "sk": {"S": sk}},
                                               ConsistentRead=True).get("Item"), items[sk], sk)
        self.assertEqual(self.ddb.scan(TableName=name)["Count"], len(keep))
        recs = self.read_stream(arn)
        self.assertSeqIncreasing(recs)
        user, ttl = recs[:total], recs[total:]
        self.assertEqual([r["eventName"] for r in user], ["INSERT"] * total)
        for r in user:
            self.assertNotIn("userIdentity", r)
        self.assertEqual(len(ttl), len(expired) + len(bulk), [r["dynamodb"]["Keys"] for r in ttl])
        removed = {}
        for r in ttl:
            k = r["dynamodb"]["Keys"]
            old = items.get(k["sk"]["S"]) if k["pk"]["S"] == "p" else bulk.get(k["sk"]["S"])
            self.assertIsNotNone(old, k)
            self.check_record(r, "REMOVE", "NEW_AND_OLD_IMAGES", {"pk": k["pk"], "sk": k["sk"]}, old=old, ttl=True)
            removed[(k["pk"]["S"], k["sk"]["S"])] = removed.get((k["pk"]["S"], k["sk"]["S"]), 0) + 1
        self.assertEqual(sorted(removed), sorted([("p", sk) for sk in expired] + [("bulk", sk) for sk in bulk]))
        self.assertEqual(set(removed.values()), {1}, "an item was swept twice")
        # nothing more happens later
        time.sleep(0.6)
        self.assertEqual(len(self.read_stream(arn)), len(recs))

    def test_keys_only_view(self):
        name, arn = self.create_stream_table("KEYS_ONLY", range_type=None)
        self.update_ttl(name, True)
        self.ddb.put_item(TableName=name, Item={"pk": {"S": "gone"}, "exp": {"N": str(int(time.time()) - 5)}})
        self.wait_for(lambda: not self.exists(name, {"pk": {"S": "gone"}}) and self.count(name) == 0, "the sweep")
        self.wait_for(lambda: len(self.read_stream(arn)) == 2, "the REMOVE record")
        recs = self.read_stream(arn)
        self.check_record(recs[0], "INSERT", "KEYS_ONLY", {"pk": {"S": "gone"}})
        self.check_record(recs[1], "REMOVE", "KEYS_ONLY", {"pk": {"S": "gone"}}, ttl=True)
        self.assertEqual(recs[1]["dynamodb"]["SizeBytes"], record_size(recs[1]["dynamodb"]))

    def test_moving_ttl_saves_item(self):
        name, arn = self.create_stream_table("NEW_AND_OLD_IMAGES", range_type=None)
        self.update_ttl(name, True)
        soon = str(int(time.time()) + 2 + int(SLOW))
        for k in ("moved", "removed", "dies"):
            self.ddb.put_item(TableName=name, Item={"pk": {"S": k}, "exp": {"N": soon}})
        far = str(int(time.time()) + 3600)
        self.ddb.update_item(TableName=name, Key={"pk": {"S": "moved"}}, UpdateExpression="SET exp = :f",
                             ExpressionAttributeValues={":f": {"N": far}})
        self.ddb.update_item(TableName=name, Key={"pk": {"S": "removed"}}, UpdateExpression="REMOVE exp")
        self.wait_for(lambda: self.count(name) == 2, "'dies' to be swept", timeout=12)
        self.assertEqual(self.ddb.get_item(TableName=name, Key={"pk": {"S": "moved"}})["Item"],
                         {"pk": {"S": "moved"}, "exp": {"N": far}})
        self.assertEqual(self.ddb.get_item(TableName=name, Key={"pk": {"S": "removed"}})["Item"],
                         {"pk": {"S": "removed"}})
        self.assertFalse(self.exists(name, {"pk": {"S": "dies"}}))
        recs = self.read_stream(arn)
        self.assertEqual([(r["eventName"], r["dynamodb"]["Keys"]["pk"]["S"], "userIdentity" in r) for r in recs],
                         [("INSERT", "moved", False), ("INSERT", "removed", False), ("INSERT", "dies", False),
                          ("MODIFY", "moved", False), ("MODIFY", "removed", False), ("REMOVE", "dies", True)])
        self.check_record(recs[-1], "REMOVE", "NEW_AND_OLD_IMAGES", {"pk": {"S": "dies"}},
                          old={"pk": {"S": "dies"}, "exp": {"N": soon}}, ttl=True)

    def test_no_sweep_without_ttl(self):
        name = self.make_table()
        old = {"pk": {"S": "stays"}, "exp": {"N": str(int(time.time()) - 100)}}
        self.ddb.put_item(TableName=name, Item=old)
        time.sleep(0.8)
        self.assertEqual(self.ddb.get_item(TableName=name, Key={"pk": {"S": "stays"}})["Item"], old)
        self.assertEqual(self.count(name), 1)
        # TTL on another attribute does not touch it either
        self.update_ttl(name, True, "other")
        time.sleep(0.8)
        self.assertEqual(self.ddb.get_item(TableName=name, Key={"pk": {"S": "stays"}})["Item"], old)
        # the right attribute does
        self.update_ttl(name, False, "other")
        self.update_ttl(name, True, "exp")
        self.wait_for(lambda: self.count(name) == 0, "the sweep")


class SweepCrashTest(unittest.TestCase, StreamsMixin):
    """SIGKILL while the sweeper deletes: each TTL deletion and its REMOVE
    record are one atomic change (an item is either still there with no
    record, or gone with exactly one), nothing is deleted before its time,
    and the sweep finishes after the restart. The items expire one by one
    over ~1.4 s, so the kill lands in the middle of the sweeping."""

    N = 2000

    def setUp(self):
        self.daemon = Daemon(extra_args=["--ttl-hide-expired", "false", "--ttl-sweep-ms", "100"])
        self.daemon.start()
        self.connect()

    def tearDown(self):
        self.daemon.cleanup()

    def connect(self):
        self.ddb = self.daemon.client()
        self.streams = streams_client(self.daemon)

    def restart(self, sweep_ms):
        self.daemon.extra_args = ["--ttl-hide-expired", "false", "--ttl-sweep-ms", str(sweep_ms)]
        self.daemon.start()
        self.connect()

    def present(self, name):
        out, start = set(), None
        while True:
            args = dict(TableName=name, ConsistentRead=True)
            if start:
                args["ExclusiveStartKey"] = start
            r = self.ddb.scan(**args)
            out |= {i["pk"]["S"] for i in r["Items"]}
            start = r.get("LastEvaluatedKey")
            if not start:
                return out

    def check_records(self, recs):
        """-> the keys REMOVEd by the sweeper; checks every record."""
        self.assertSeqIncreasing(recs)
        inserts = [r["dynamodb"]["Keys"]["pk"]["S"] for r in recs if r["eventName"] == "INSERT"]
        self.assertEqual(sorted(inserts), sorted(self.items))
        out = {}
        for r in recs:
            if r["eventName"] == "INSERT":
                self.assertNotIn("userIdentity", r)
                continue
            k = r["dynamodb"]["Keys"]["pk"]["S"]
            self.assertEqual(r["eventName"], "REMOVE", r)
            self.assertEqual(r.get("userIdentity"), {"PrincipalId": "dynamodb.amazonaws.com", "Type": "Service"})
            self.assertEqual(r["dynamodb"]["OldImage"], self.items[k])
            deleted_at = r["dynamodb"]["ApproximateCreationDateTime"].timestamp()
            self.assertGreaterEqual(deleted_at, int(float(self.items[k]["exp"]["N"])),
                                    "%s deleted before it expired" % k)
            out[k] = out.get(k, 0) + 1
        self.assertEqual([k for k, n in out.items() if n > 1], [], "swept twice")
        return set(out)

    def test_sigkill_during_sweep(self):
        name = "sweep_crash"
        self.ddb.create_table(TableName=name, BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                              StreamSpecification=stream_spec("NEW_AND_OLD_IMAGES"))
        arn = self.ddb.describe_table(TableName=name)["Table"]["LatestStreamArn"]
        self.ddb.update_time_to_live(TableName=name, TimeToLiveSpecification={"Enabled": True, "AttributeName": "exp"})
        t0 = time.time()
        self.items = {}
        for b in range(0, self.N, 25):
            reqs = []
            for i in range(b, b + 25):
                it = {"pk": {"S": "i%04d" % i}, "exp": {"N": ("%.4f" % (t0 + 0.3 + i * 0.0007)).rstrip("0").rstrip(".")},
                      "v": {"S": "x" * (i % 50)}}
                self.items[it["pk"]["S"]] = it
                reqs.append({"PutRequest": {"Item": it}})
            self.ddb.batch_write_item(RequestItems={name: reqs})
        time.sleep(max(0, t0 + random.uniform(0.5, 1.5) - time.time()))
        self.daemon.kill()
        # restart with the sweeper idle: the state the kill left
        self.restart(2000000000)
        recs = self.read_stream(arn)
        swept = self.check_records(recs)
        present = self.present(name)
        self.assertEqual(present & swept, set(), "items both still there and REMOVEd")
        self.assertEqual(present | swept, set(self.items), "items gone without a REMOVE record")
        self.assertEqual(self.ddb.describe_time_to_live(TableName=name)["TimeToLiveDescription"],
                         {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"})
        self.daemon.stop()
        # the sweep goes on after a restart
        self.restart(100)
        deadline = time.monotonic() + 10 * SLOW
        while self.present(name) and time.monotonic() < deadline:
            time.sleep(0.1)
        self.assertEqual(self.present(name), set())
        recs2 = self.read_stream(arn)
        self.assertEqual(recs2[:len(recs)], recs)
        self.assertEqual(self.check_records(recs2), set(self.items))
        self.assertEqual(len(recs2), 2 * self.N)
        self.assertEqual(self.ddb.describe_table(TableName=name)["Table"]["ItemCount"], 0)


if __name__ == "__main__":
    unittest.main()
