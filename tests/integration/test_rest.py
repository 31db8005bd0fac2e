"""test_rest.py -- the /v1/ REST face (plain JSON) against a real dynafiled.

Written from the API document (docs/REST.md): tables (list, paging, create,
describe, delete), items (PUT / GET / PATCH / DELETE with keys in the path),
every error with its status and code (and its message where the API fixes
it, or where it must equal the DynamoDB face's ValidationException message,
which is read from the DynamoDB face itself), Allow on 405, Location on 201,
content types, 413 and 415, the bearer token (--rest-token and
DYNAFILE_REST_TOKEN); the plain value notation both ways ($b $ss $ns $bs $n
$m; exact numbers read back with Decimal parsing); cross-face agreement
with boto3 (typed values, equal ETags, one stream for both faces, also read
through GetRecords, and ?format=plain); RFC 7396 merge patches; ETag
conditions (If-Match, If-None-Match, 304) and 8 concurrent read-modify-write
writers with no lost update; listings (collections, scans, paging compared
with boto3 Query/Scan, filters, parallel scan segments); the NDJSON import
and export of 100,000 items (rates printed, no timing assertions; a bad
line anywhere writes nothing; duplicates and deletes, also on a streamed
table); acknowledged REST writes surviving SIGKILL; HEAD; the OpenAPI
document (every resource, every $ref resolves); curl.

Clients: http.client (no SDK) and curl subprocesses. Canonical comparison
of plain items: norm() below maps a plain value (or a boto3 typed one) to a
comparable structure: numbers as Decimal values, binaries as bytes, sets as
sorted lists, booleans and null tagged (so True never equals 1).
"""

import base64
import http.client
import json
import os
import re
import socket
import subprocess
import tempfile
import threading
import time
import unittest
import urllib.parse
from decimal import Decimal

import harness
from harness import Daemon, DaemonTestCase, SLOW, raw_request

CURL = "/usr/bin/curl"
STREAMS = "DynamoDBStreams_20120810."
ETAG_RE = re.compile(r'^"[0-9a-f]{16}"$')
JSON_TYPE = "application/json"
NDJSON_TYPE = "application/x-ndjson"


# -- HTTP ------------------------------------------------------------------------

def loads_exact(data):
    """JSON with every number as a Decimal (exact)."""
    return json.loads(data, parse_float=Decimal, parse_int=Decimal)


def dumps(obj):
    return json.dumps(obj, ensure_ascii=False, separators=(",", ":"), default=_dec).encode()


def _dec(o):
    if isinstance(o, Decimal):
        raise TypeError("Decimal: use {'$n': ...} in test data")
    raise TypeError(repr(o))


class Resp:
    """status, headers (lower-case names), body bytes, json (numbers as
    Decimal), code / message of an error envelope."""

    def __init__(self, method, path, status, headers, body):
        self.method = method
        self.path = path
        self.status = status
        self.headers = headers
        self.body = body
        try:
            self.json = loads_exact(body) if body else None
        except ValueError:
            self.json = None

    @property
    def ctype(self):
        return (self.headers.get("content-type") or "").split(";")[0].strip().lower()

    @property
    def error(self):
        if isinstance(self.json, dict) and isinstance(self.json.get("error"), dict):
            return self.json["error"]
        return {}

    @property
    def code(self):
        return self.error.get("code")

    @property
    def message(self):
        return self.error.get("message")

    @property
    def etag(self):
        return self.headers.get("etag")

    def __repr__(self):
        return "<%s %s -> %d %r>" % (self.method, self.path, self.status, self.body[:300])


def http_request(port, method, path, body=None, headers=None, ctype="application/json", timeout=60):
    """One request on a fresh connection. body: dict/list (JSON), str or
    bytes; ctype None sends no Content-Type."""
    if isinstance(body, (dict, list)):
        body = dumps(body)
    elif isinstance(body, str):
        body = body.encode()
    h = {}
    if body is not None and ctype is not None:
        h["Content-Type"] = ctype
    h.update(headers or {})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout * SLOW)
    try:
        c.request(method, path, body=body, headers=h)
        r = c.getresponse()
        data = r.read()
        return Resp(method, path, r.status, {k.lower(): v for k, v in r.getheaders()}, data)
    finally:
        c.close()


def seg(v):
    """A key as one path segment (percent-encoded; "." and ".." too, so
    that no client or server treats them as dot-segments)."""
    if isinstance(v, bytes):
        v = base64.urlsafe_b64encode(v).decode().rstrip("=")
    v = str(v)
    if v in (".", ".."):
        return "%2E" * len(v)
    return urllib.parse.quote(v, safe="")


def table_path(t):
    return "/v1/tables/" + seg(t)


def items_path(t, query=""):
    return table_path(t) + "/items" + query


def item_path(t, pk, sk=None, query=""):
    p = items_path(t) + "/" + seg(pk)
    if sk is not None:
        p += "/" + seg(sk)
    return p + query


def qs(**params):
    """?a=1&b=2 with JSON-encoding of dict values (values=, names=)."""
    out = []
    for k, v in params.items():
        if v is None:
            continue
        if isinstance(v, (dict, list)):
            v = json.dumps(v)
        elif isinstance(v, bool):
            v = "true" if v else "false"
        out.append("%s=%s" % (k, urllib.parse.quote(str(v), safe="")))
    return "?" + "&".join(out) if out else ""


# -- values ------------------------------------------------------------------------

def norm(v):
    """A plain value (as sent, or as parsed back with Decimals) -> comparable."""
    if isinstance(v, bool):
        return ("BOOL", v)
    if v is None:
        return ("NULL",)
    if isinstance(v, (int, float, Decimal)):
        return Decimal(str(v))
    if isinstance(v, str):
        return v
    if isinstance(v, list):
        return [norm(x) for x in v]
    if isinstance(v, dict):
        if len(v) == 1:
            (k, x), = v.items()
            if k == "$b":
                return ("B", base64.b64decode(x.replace("-", "+").replace("_", "/") + "=" * (-len(x) % 4)))
            if k == "$ss":
                return ("SS", sorted(x))
            if k == "$ns":
                return ("NS", sorted(Decimal(str(n)) for n in x))
            if k == "$bs":
                return ("BS", sorted(norm({"$b": b})[1] for b in x))
            if k == "$n":
                return Decimal(x)
            if k == "$m":
                return {kk: norm(vv) for kk, vv in x.items()}
        return {k: norm(x) for k, x in v.items()}
    raise TypeError(repr(v))


def exact_to_plain(v, in_set=False):
    """An item parsed with loads_exact -> plain JSON to send back as is:
    Decimals as {"$n": text} ($ns members as decimal strings)."""
    if isinstance(v, Decimal):
        return str(v) if in_set else {"$n": str(v)}
    if isinstance(v, list):
        return [exact_to_plain(x, in_set) for x in v]
    if isinstance(v, dict):
        if len(v) == 1 and "$ns" in v:
            return {"$ns": exact_to_plain(v["$ns"], True)}
        if len(v) == 1 and "$m" in v:
            return {"$m": {k: exact_to_plain(x) for k, x in v["$m"].items()}}
        return {k: exact_to_plain(x) for k, x in v.items()}
    return v


def norm_typed(v):
    """A boto3 (low-level client) typed value -> the same comparable form."""
    (t, x), = v.items()
    if t == "S":
        return x
    if t == "N":
        return Decimal(x)
    if t == "BOOL":
        return ("BOOL", x)
    if t == "NULL":
        return ("NULL",)
    if t == "B":
        return ("B", bytes(x))
    if t == "SS":
        return ("SS", sorted(x))
    if t == "NS":
        return ("NS", sorted(Decimal(n) for n in x))
    if t == "BS":
        return ("BS", sorted(bytes(b) for b in x))
    if t == "L":
        return [norm_typed(e) for e in x]
    if t == "M":
        return {k: norm_typed(e) for k, e in x.items()}
    raise TypeError(t)


def norm_typed_item(item):
    return {k: norm_typed(v) for k, v in item.items()}


def to_typed(v):
    """Plain -> DynamoDB JSON (wire form, base64 strings for B), to send the
    same content through the DynamoDB face."""
    if isinstance(v, bool):
        return {"BOOL": v}
    if v is None:
        return {"NULL": True}
    if isinstance(v, (int, float)):
        return {"N": repr(v) if isinstance(v, float) else str(v)}
    if isinstance(v, str):
        return {"S": v}
    if isinstance(v, list):
        return {"L": [to_typed(x) for x in v]}
    if len(v) == 1:
        (k, x), = v.items()
        if k == "$b":
            return {"B": x}
        if k == "$ss":
            return {"SS": x}
        if k == "$ns":
            return {"NS": [str(n) for n in x]}
        if k == "$bs":
            return {"BS": x}
        if k == "$n":
            return {"N": x}
        if k == "$m":
            return {"M": {kk: to_typed(vv) for kk, vv in x.items()}}
    return {"M": {k: to_typed(x) for k, x in v.items()}}


def to_typed_item(item):
    return {k: to_typed(v) for k, v in item.items()}


def canon_line(line):
    """The canonical form of one NDJSON item for the import/export compare:
    parsed with exact numbers, sets sorted, re-dumped with sorted keys and
    compact separators; numbers keep their text (Decimal str), so 0.125
    must come back as 0.125 and 7 as 7."""
    def fix(v):
        if isinstance(v, dict):
            if len(v) == 1 and next(iter(v)) in ("$ss", "$ns", "$bs"):
                k = next(iter(v))
                return {k: sorted((fix(x) for x in v[k]), key=lambda x: json.dumps(x))}
            return {k: fix(x) for k, x in v.items()}
        if isinstance(v, list):
            return [fix(x) for x in v]
        if isinstance(v, Decimal):
            return {"#num": str(v)}
        return v
    return json.dumps(fix(loads_exact(line)), sort_keys=True, ensure_ascii=False, separators=(",", ":"))


# -- test base ------------------------------------------------------------------------

class RestBase(DaemonTestCase):
    daemon_kwargs = {"extra_args": ["--ttl-sweep-ms", "2000000000"]}

    def req(self, method, path, body=None, headers=None, ctype="application/json", port=None):
        return http_request(port or self.daemon.port, method, path, body, headers, ctype)

    def get(self, path, **kw):
        return self.req("GET", path, **kw)

    def assertStatus(self, r, status):
        self.assertEqual(r.status, status, r)

    def assertError(self, r, status, code, message=None):
        """An error answer: status, JSON envelope, code (a str or a tuple of
        acceptable codes), message (exact) if given."""
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.ctype, JSON_TYPE, r)
        self.assertIsInstance(r.json, dict, r)
        self.assertEqual(set(r.json), {"error"}, r)
        if isinstance(code, tuple):
            self.assertIn(r.code, code, r)
        else:
            self.assertEqual(r.code, code, r)
        self.assertIsInstance(r.message, str, r)
        self.assertTrue(r.message, r)
        if message is not None:
            self.assertEqual(r.message, message, r)

    def assertOk(self, r, status=200):
        self.assertEqual(r.status, status, r)
        self.assertEqual(r.ctype, JSON_TYPE, r)
        return r.json

    def ddb_error(self, target, body):
        """(type, message) of the DynamoDB face's answer to the same input."""
        r = raw_request(self.daemon.port, target, body)
        self.assertEqual(r.status, 400, r)
        return (r.type or "").split("#")[-1], r.message

    def ddb_message(self, target, body):
        typ, msg = self.ddb_error(target, body)
        self.assertEqual(typ, "ValidationException", msg)
        return msg

    def create(self, name=None, pk=("pk", "S"), sk=None, stream=None, ttl=None, expect=201):
        name = name or self.unique()
        body = {"name": name, "partitionKey": {"name": pk[0], "type": pk[1]}}
        if sk:
            body["sortKey"] = {"name": sk[0], "type": sk[1]}
        if stream:
            body["stream"] = stream
        if ttl:
            body["ttlAttribute"] = ttl
        r = self.req("POST", "/v1/tables", body)
        self.assertEqual(r.status, expect, r)
        return name

    def put(self, t, item, status=(200, 201), headers=None):
        r = self.req("PUT", items_path(t), item, headers=headers)
        if isinstance(status, tuple):
            self.assertIn(r.status, status, r)
        else:
            self.assertEqual(r.status, status, r)
        return r

    def get_item(self, t, pk, sk=None):
        r = self.get(item_path(t, pk, sk))
        self.assertEqual(r.status, 200, r)
        return r.json["item"], r.etag

    def assertItem(self, got, want, msg=None):
        self.assertEqual(norm(got), norm(want), msg)

    def ddb_get(self, t, key):
        return self.ddb.get_item(TableName=t, Key=to_typed_item(key), ConsistentRead=True).get("Item")


# -- tables ------------------------------------------------------------------------------

class RestTablesTest(RestBase):

    def test_create_describe_list_delete(self):
        t = self.unique("books")
        body = {"name": t, "partitionKey": {"name": "isbn", "type": "S"}, "sortKey": {"name": "v", "type": "N"},
                "stream": "NEW_AND_OLD_IMAGES", "ttlAttribute": "exp"}
        before = time.time()
        r = self.req("POST", "/v1/tables", body)
        res = self.assertOk(r, 201)
        loc = r.headers.get("location")
        self.assertEqual(loc, "/v1/tables/" + t, r.headers)
        self.assertEqual(res["name"], t)
        self.assertEqual(res["partitionKey"], {"name": "isbn", "type": "S"})
        self.assertEqual(res["sortKey"], {"name": "v", "type": "N"})
        self.assertEqual(res["ttlAttribute"], "exp")
        self.assertEqual(res["stream"]["viewType"], "NEW_AND_OLD_IMAGES")
        # The same table through the DynamoDB face.
        d = self.ddb.describe_table(TableName=t)["Table"]
        self.assertEqual(d["KeySchema"], [{"AttributeName": "isbn", "KeyType": "HASH"},
                                          {"AttributeName": "v", "KeyType": "RANGE"}])
        self.assertEqual(d["BillingModeSummary"]["BillingMode"], "PAY_PER_REQUEST")
        self.assertEqual(d["StreamSpecification"], {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"})
        ttl = self.ddb.describe_time_to_live(TableName=t)["TimeToLiveDescription"]
        self.assertEqual(ttl, {"TimeToLiveStatus": "ENABLED", "AttributeName": "exp"})
        # GET /v1/tables/<t>
        r = self.get(table_path(t))
        res = self.assertOk(r)
        self.assertEqual(set(res), {"name", "partitionKey", "sortKey", "status", "itemCount", "sizeBytes",
                                    "created", "stream", "ttlAttribute"}, res)
        self.assertEqual(res["status"], "ACTIVE")
        self.assertEqual((res["itemCount"], res["sizeBytes"]), (0, 0))
        self.assertLessEqual(abs(res["created"] - Decimal(str(d["CreationDateTime"].timestamp()))), 1)
        self.assertTrue(before - 2 <= res["created"] <= time.time() + 2, res["created"])
        self.assertEqual(res["stream"], {"viewType": "NEW_AND_OLD_IMAGES", "arn": d["LatestStreamArn"],
                                         "label": d["LatestStreamLabel"]})
        # itemCount / sizeBytes follow the DynamoDB face's numbers.
        self.put(t, {"isbn": "1", "v": 1, "title": "x" * 100}, 201)
        res = self.assertOk(self.get(table_path(t)))
        d = self.ddb.describe_table(TableName=t)["Table"]
        self.assertEqual((res["itemCount"], res["sizeBytes"]), (d["ItemCount"], d["TableSizeBytes"]))
        self.assertEqual(res["itemCount"], 1)
        # Exists -> 409.
        r = self.req("POST", "/v1/tables", body)
        self.assertError(r, 409, "ResourceInUse", "Table already exists: %s" % t)
        self.assertIn(t, self.assertOk(self.get("/v1/tables"))["tables"])
        # Delete -> 200 with the resource, status DELETING; then gone.
        r = self.req("DELETE", table_path(t))
        res = self.assertOk(r)
        self.assertEqual(res["name"], t)
        self.assertEqual(res["status"], "DELETING")
        self.assertEqual(res["partitionKey"], {"name": "isbn", "type": "S"})
        deadline = time.monotonic() + 10 * SLOW
        while time.monotonic() < deadline:
            r = self.get(table_path(t))
            if r.status == 404:
                break
            time.sleep(0.05)
        self.assertError(r, 404, "ResourceNotFound")
        self.assertNotIn(t, self.assertOk(self.get("/v1/tables"))["tables"])
        self.assertError(self.req("DELETE", table_path(t)), 404, "ResourceNotFound")

    def test_minimal_table_and_boto3_table(self):
        t = self.create(pk=("id", "B"))
        res = self.assertOk(self.get(table_path(t)))
        self.assertEqual(res["partitionKey"], {"name": "id", "type": "B"})
        for absent in ("sortKey", "stream", "ttlAttribute"):
            self.assertNotIn(absent, res)
        d = self.ddb.describe_table(TableName=t)["Table"]
        self.assertNotIn("StreamSpecification", d)
        self.assertEqual(self.ddb.describe_time_to_live(TableName=t)["TimeToLiveDescription"],
                         {"TimeToLiveStatus": "DISABLED"})
        # A table made by boto3 describes the same way.
        b = self.make_table(hash_type="N", range_type="B",
                            StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
        res = self.assertOk(self.get(table_path(b)))
        self.assertEqual(res["partitionKey"], {"name": "pk", "type": "N"})
        self.assertEqual(res["sortKey"], {"name": "sk", "type": "B"})
        self.assertEqual(res["stream"]["viewType"], "KEYS_ONLY")
        # every view type is accepted
        for view in ("KEYS_ONLY", "NEW_IMAGE", "OLD_IMAGE", "NEW_AND_OLD_IMAGES"):
            v = self.create(stream=view)
            self.assertEqual(self.ddb.describe_table(TableName=v)["Table"]["StreamSpecification"]["StreamViewType"],
                             view)

    def test_list_tables_paging(self):
        names = sorted(self.create(name="lst_%02d_%s" % (i, self._testMethodName[:8])) for i in (3, 1, 4, 0, 2))
        r = self.get("/v1/tables")
        res = self.assertOk(r)
        self.assertEqual(set(res), {"tables"}, res)
        self.assertEqual(res["tables"], sorted(res["tables"]))
        alln = res["tables"]
        for n in names:
            self.assertIn(n, alln)
        # limit + cursor pages through the same names, in order
        for limit in (1, 2, 3):
            got, cursor, pages = [], None, 0
            while True:
                r = self.get("/v1/tables" + qs(limit=limit, cursor=cursor))
                res = self.assertOk(r)
                self.assertLessEqual(len(res["tables"]), limit)
                got += res["tables"]
                pages += 1
                cursor = res.get("cursor")
                if cursor is None:
                    break
                self.assertLess(pages, 100)
            self.assertEqual(got, alln, limit)
        self.assertEqual(self.ddb.list_tables()["TableNames"], alln)
        r = self.get("/v1/tables" + qs(limit=2, cursor=names[1]))
        self.assertEqual(self.assertOk(r)["tables"], [n for n in alln if n > names[1]][:2])
        for bad in ("0", "x", "-1"):
            self.assertError(self.get("/v1/tables?limit=" + bad), 400, ("BadRequest", "ValidationError"))

    def test_create_errors(self):
        good = {"name": "tbl_ok", "partitionKey": {"name": "pk", "type": "S"}}
        # table names: the DynamoDB face's message
        for name in ("a", "bad name!", "x" * 256):
            with self.subTest(name=name[:20]):
                r = self.req("POST", "/v1/tables", dict(good, name=name))
                want = self.ddb_message("CreateTable", {
                    "TableName": name, "BillingMode": "PAY_PER_REQUEST",
                    "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"}],
                    "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"}]})
                self.assertError(r, 400, "ValidationError", want)
        for bad in ({"name": "tbl_x1", "partitionKey": {"name": "pk", "type": "X"}},
                    {"name": "tbl_x2", "partitionKey": {"name": "pk", "type": "S"}, "sortKey": {"name": "sk", "type": "BOOL"}},
                    {"name": "tbl_x3", "partitionKey": {"name": "", "type": "S"}},
                    {"name": "tbl_x4", "partitionKey": {"name": "pk", "type": "S"}, "stream": "EVERYTHING"},
                    {"name": "tbl_x5", "partitionKey": {"name": "pk", "type": "S"}, "sortKey": {"name": "pk", "type": "S"}},
                    {"name": "tbl_x6"},
                    {"partitionKey": {"name": "pk", "type": "S"}},
                    {"name": "tbl_x7", "partitionKey": "pk"},
                    {"name": 7, "partitionKey": {"name": "pk", "type": "S"}}):
            r = self.req("POST", "/v1/tables", bad)
            self.assertError(r, 400, ("ValidationError", "BadRequest"))
            self.assertError(self.get(table_path(bad["name"]) if isinstance(bad.get("name"), str) else "/v1/tables/zzz"),
                             404, "ResourceNotFound")
        # malformed JSON, not an object
        for raw in (b"{", b"[]", b"", b"\xff\xfe"):
            self.assertError(self.req("POST", "/v1/tables", raw), 400, "BadRequest")
        # other media types
        for ct in ("text/plain", "application/x-www-form-urlencoded", "application/xml"):
            self.assertError(self.req("POST", "/v1/tables", good, ctype=ct), 415, "UnsupportedMediaType")
        self.assertError(self.get(table_path("tbl_ok")), 404, "ResourceNotFound")
        # parameters on the content type are fine
        r = self.req("POST", "/v1/tables", good, ctype="application/json; charset=utf-8")
        self.assertOk(r, 201)
        self.assertError(self.req("POST", "/v1/tables", good), 409, "ResourceInUse", "Table already exists: tbl_ok")

    def test_table_in_creation_or_deletion_is_in_use(self):
        d = Daemon(fsync=False, delete_delay_ms=1500, create_delay_ms=800)
        d.start()
        self.addCleanup(d.cleanup)
        body = {"name": "busy", "partitionKey": {"name": "pk", "type": "S"}}
        r = http_request(d.port, "POST", "/v1/tables", body)
        self.assertEqual((r.status, r.json["status"]), (201, "CREATING"), r)
        self.assertError(http_request(d.port, "POST", "/v1/tables", body), 409, "ResourceInUse")
        deadline = time.monotonic() + 20 * SLOW
        while time.monotonic() < deadline:
            r = http_request(d.port, "GET", table_path("busy"))
            if r.json.get("status") == "ACTIVE":
                break
            time.sleep(0.05)
        self.assertEqual(r.json["status"], "ACTIVE", r)
        r = http_request(d.port, "DELETE", table_path("busy"))
        self.assertEqual((r.status, r.json["status"]), (200, "DELETING"), r)
        r = http_request(d.port, "POST", "/v1/tables", body)
        self.assertError(r, 409, "ResourceInUse")


# -- items -----------------------------------------------------------------------------

ALL_TYPES = {
    "s": "text", "n": 42, "neg": -7, "f": 0.1, "t": True, "fa": False, "nul": None,
    "m": {"a": 1, "b": {"c": [1, "x", None]}}, "l": [1, "two", {"$b": "AAEC"}, [True], {}],
    "b": {"$b": "AAEC/w=="}, "ss": {"$ss": ["b", "a", "c"]}, "ns": {"$ns": [3, "1.5", -2]},
    "bs": {"$bs": ["AA==", "AQ=="]}, "big": {"$n": "12345678901234567890123456789012345678"},
    "tiny": {"$n": "-0.00000000000000000000000000000000000000000000000000000001"},
    "dollar": {"$m": {"$b": "not binary"}}, "dollar2": {"$m": {"$ss": {"$ss": ["x"]}}},
    "dollar3": {"$b": "x", "c": 2}, "dollar4": {"$m": {"plain": 1}},
    "empty_s": "", "empty_l": [], "empty_m": {},
    "uni": "h\u00e9llo \u2713 \U0001F600 \u0000 \"q\" \\", "\u540d\u524d \U0001F511": "\u5024",
    "nested_uni": {"\u00fc": ["\u00e9", {"\u2713": "\u0000"}]},
}


class RestItemsTest(RestBase):

    def test_put_get_delete(self):
        t = self.create(sk=("sk", "N"))
        item = {"pk": "a", "sk": 1, "v": "one"}
        r = self.put(t, item, 201)
        self.assertEqual(r.ctype, JSON_TYPE)
        self.assertEqual(set(r.json), {"item"})
        self.assertItem(r.json["item"], item)
        self.assertRegex(r.etag or "", ETAG_RE)
        e1 = r.etag
        got, e = self.get_item(t, "a", 1)
        self.assertItem(got, item)
        self.assertEqual(e, e1)
        # the same item again: a replace (200), same ETag
        r = self.put(t, item, 200)
        self.assertEqual(r.etag, e1)
        item2 = {"pk": "a", "sk": 1, "v": "uno", "w": [1]}
        r = self.put(t, item2, 200)
        self.assertNotEqual(r.etag, e1)
        e2 = r.etag
        self.assertItem(self.get_item(t, "a", 1)[0], item2)
        # consistent= is ignored
        for q in ("?consistent=true", "?consistent=false"):
            r = self.get(item_path(t, "a", 1, q))
            self.assertEqual((r.status, r.etag), (200, e2), r)
        # delete: 200 with the deleted item and its ETag, then 404
        r = self.req("DELETE", item_path(t, "a", 1))
        self.assertItem(self.assertOk(r)["item"], item2)
        self.assertEqual(r.etag, e2)
        self.assertError(self.get(item_path(t, "a", 1)), 404, "ItemNotFound")
        self.assertError(self.req("DELETE", item_path(t, "a", 1)), 404, "ItemNotFound")
        self.assertIsNone(self.ddb_get(t, {"pk": "a", "sk": 1}))

    def test_values_every_notation_both_ways(self):
        t = self.create()
        item = dict(ALL_TYPES, pk="all")
        r = self.put(t, item, 201)
        self.assertItem(r.json["item"], item)
        r = self.get(item_path(t, "all"))
        got = self.assertOk(r)["item"]
        self.assertItem(got, item)
        # The output notation: N as JSON numbers with their exact digits, the tags.
        self.assertEqual(got["n"], Decimal(42))
        self.assertEqual(got["f"], Decimal("0.1"))
        self.assertEqual(got["big"], Decimal("12345678901234567890123456789012345678"))
        self.assertEqual(got["tiny"], Decimal("-1E-56"))
        self.assertEqual(set(got["ss"]), {"$ss"})
        self.assertEqual(set(got["ns"]), {"$ns"})
        self.assertEqual(set(got["bs"]), {"$bs"})
        self.assertEqual(set(got["b"]), {"$b"})
        self.assertEqual(got["dollar"], {"$m": {"$b": "not binary"}})
        self.assertEqual(got["dollar2"], {"$m": {"$ss": {"$ss": ["x"]}}})
        self.assertIs(got["t"], True)
        self.assertIs(got["fa"], False)
        self.assertIsNone(got["nul"])
        self.assertEqual(got["uni"], ALL_TYPES["uni"])
        text = r.body.decode("utf-8")
        self.assertRegex(text, r'"f":\s*0\.1[,}\s]')
        # (integers beyond a long long are written d.ddd...E+nn with every digit:
        # jansson cannot read a longer integer literal back -- plain.c, docs/REST.md)
        self.assertRegex(text, r'"big":\s*(12345678901234567890123456789012345678|1\.2345678901234567890123456789012345678E\+37)[,}\s]')
        # The DynamoDB face reads the same typed values.
        self.assertEqual(norm_typed_item(self.ddb_get(t, {"pk": "all"})), norm(item))

    def test_numbers_exact(self):
        t = self.create()
        cases = {"zero": 0, "one": 1, "neg": -1, "i15": 123456789012345, "ineg15": -999999999999999,
                 "llmax": 9223372036854775807, "llmin": -9223372036854775808, "i18": 100000000000000001,
                 "f01": 0.1, "f02": 0.2, "f3": 3.14, "e": 1e-7, "big_e": 1.5e100, "small": 2.5e-100,
                 "n38": {"$n": "1234567890.1234567890123456789012345678"},
                 "n38i": {"$n": "99999999999999999999999999999999999999"},
                 "n38neg": {"$n": "-0.12345678901234567890123456789012345678"},
                 "nmax": {"$n": "9.9999999999999999999999999999999999999E+125"},
                 "nmin": {"$n": "1E-130"},
                 "ntrail": {"$n": "1.500"}, "nlead": {"$n": "007"},
                 "ns38": {"$ns": ["1234567890.1234567890123456789012345678", 1, "0.1"]}}
        item = dict(cases, pk="num")
        self.put(t, item, 201)
        r = self.get(item_path(t, "num"))
        got = self.assertOk(r)["item"]
        want = {"zero": "0", "one": "1", "neg": "-1", "i15": "123456789012345", "ineg15": "-999999999999999",
                "llmax": "9223372036854775807", "llmin": "-9223372036854775808", "i18": "100000000000000001",
                "f01": "0.1", "f02": "0.2", "f3": "3.14", "e": "1E-7", "big_e": "1.5E+100", "small": "2.5E-100",
                "n38": "1234567890.1234567890123456789012345678", "n38i": "99999999999999999999999999999999999999",
                "n38neg": "-0.12345678901234567890123456789012345678",
                "nmax": "9.9999999999999999999999999999999999999E+125", "nmin": "1E-130",
                "ntrail": "1.5", "nlead": "7"}
        for k, w in want.items():
            self.assertEqual(got[k], Decimal(w), k)
        self.assertEqual(sorted(got["ns38"]["$ns"]), sorted(Decimal(x) for x in ("1234567890.1234567890123456789012345678", "1", "0.1")))
        # exactly what the DynamoDB face stores
        typed = self.ddb_get(t, {"pk": "num"})
        for k, w in want.items():
            self.assertEqual(Decimal(typed[k]["N"]), Decimal(w), k)
        self.assertEqual(typed["f01"]["N"], "0.1")
        self.assertEqual(typed["n38"]["N"], "1234567890.1234567890123456789012345678")
        # write it back as read: identical item, same ETag
        e0 = r.etag
        r2 = self.put(t, exact_to_plain(got), 200)
        self.assertEqual(r2.etag, e0)
        # ... and the answer's raw text echoed as it is (38-digit literals,
        # 1.2345...E+37 exponent forms): still identical, same ETag
        self.assertTrue(r.body.startswith(b'{"item":') and r.body.endswith(b"}"), r.body[:40])
        raw = r.body[len(b'{"item":'):-1]
        r3 = self.req("PUT", items_path(t), raw)
        self.assertEqual(r3.status, 200, r3)
        self.assertEqual(r3.etag, e0)
        # literals longer than a double holds, sent as plain JSON numbers
        lit = b'{"pk":"lit","pi":3.14159265358979323846264338327950288,"big":12345678901234567890123456789,' \
              b'"ns":{"$ns":[1.00000000000000000001,2]}}'
        self.assertIn(self.req("PUT", items_path(t), lit).status, (200, 201))
        typed = self.ddb_get(t, {"pk": "lit"})
        self.assertEqual(typed["pi"]["N"], "3.14159265358979323846264338327950288")
        self.assertEqual(typed["big"]["N"], "12345678901234567890123456789")
        self.assertEqual(sorted(typed["ns"]["NS"]), ["1.00000000000000000001", "2"])
        # out of range / too precise: the DynamoDB face's messages
        for bad in ({"$n": "123456789012345678901234567890123456789"}, {"$n": "1E+126"}, {"$n": "1E-131"},
                    {"$n": "abc"}, {"$n": ""}, {"$ns": ["1", "1.0"]}, {"$ns": []}, 1e300):
            with self.subTest(value=bad):
                r = self.req("PUT", items_path(t), {"pk": "bad", "x": bad})
                want_msg = self.ddb_message("PutItem", {"TableName": t, "Item": to_typed_item({"pk": "bad", "x": bad})})
                self.assertError(r, 400, "ValidationError", want_msg)
        self.assertError(self.get(item_path(t, "bad")), 404, "ItemNotFound")

    def test_value_validation_matches_dynamodb_face(self):
        t = self.create(sk=("sk", "N"))
        cases = [
            {"pk": "k", "sk": 1, "x": {"$ss": []}},
            {"pk": "k", "sk": 1, "x": {"$ss": ["a", "a"]}},
            {"pk": "k", "sk": 1, "x": {"$bs": ["AA==", "AA=="]}},
            {"pk": "k", "sk": 1, "": "empty name"},
            {"pk": "k"},                         # missing the sort key
            {"sk": 1},                           # missing the partition key
            {"pk": 1, "sk": 1},                  # wrong key type
            {"pk": "k", "sk": "1"},              # wrong key type
            {"pk": "", "sk": 1},                 # empty key string
            {"pk": "k", "sk": 1, "big": "x" * (400 * 1024)},   # item too large
        ]
        for item in cases:
            with self.subTest(item=str(item)[:80]):
                r = self.req("PUT", items_path(t), item)
                want = self.ddb_message("PutItem", {"TableName": t, "Item": to_typed_item(item)})
                self.assertError(r, 400, "ValidationError", want)
        # a one-member "$" object that is no notation
        r = self.req("PUT", items_path(t), {"pk": "k", "sk": 1, "x": {"$x": 1}})
        self.assertError(r, 400, "ValidationError")
        # bad base64 (a SerializationException on the DynamoDB face)
        r = self.req("PUT", items_path(t), {"pk": "k", "sk": 1, "x": {"$b": "***"}})
        self.assertError(r, 400, ("ValidationError", "BadRequest"))
        # depth: accepted and refused exactly where the DynamoDB face does
        for depth in (31, 32, 33):
            v, tv = "x", {"S": "x"}
            for _ in range(depth):
                v, tv = {"d": v}, {"M": {"d": tv}}
            r = self.req("PUT", items_path(t), {"pk": "deep", "sk": depth, "v": v})
            w = raw_request(self.daemon.port, "PutItem", {"TableName": t, "Item": {"pk": {"S": "deep2"}, "sk": {"N": "1"}, "v": tv}})
            with self.subTest(depth=depth):
                if w.status == 200:
                    self.assertIn(r.status, (200, 201), r)
                else:
                    self.assertError(r, 400, ("ValidationError", "BadRequest"))
        # depth: 40 nested maps
        deep = "x"
        for _ in range(40):
            deep = {"d": deep}
        r = self.req("PUT", items_path(t), {"pk": "k", "sk": 1, "deep": deep})
        self.assertEqual(r.status, 400, r)
        self.assertIn(r.code, ("ValidationError", "BadRequest"), r)
        # not an object / malformed JSON
        for raw in (b"[1]", b"\"s\"", b"{\"pk\":", b"null", b""):
            self.assertError(self.req("PUT", items_path(t), raw), 400, ("BadRequest", "ValidationError"))
        # media type
        self.assertError(self.req("PUT", items_path(t), {"pk": "k", "sk": 1}, ctype="text/plain"),
                         415, "UnsupportedMediaType")
        self.assertError(self.get(item_path(t, "k", 1)), 404, "ItemNotFound")
        # unknown table
        self.assertError(self.req("PUT", items_path("no_such_tbl"), {"pk": "k"}), 404, "ResourceNotFound")
        self.assertError(self.get(item_path("no_such_tbl", "k")), 404, "ResourceNotFound")
        self.assertError(self.req("DELETE", item_path("no_such_tbl", "k")), 404, "ResourceNotFound")
        self.assertError(self.req("PATCH", item_path("no_such_tbl", "k"), {"a": 1}), 404, "ResourceNotFound")
        self.assertError(self.get(items_path("no_such_tbl")), 404, "ResourceNotFound")
        self.assertError(self.req("POST", items_path("no_such_tbl") + ":batch", b'{"pk":"a"}\n',
                                  ctype=NDJSON_TYPE), 404, "ResourceNotFound")

    def test_keys_in_the_path(self):
        # S keys: percent-decoding
        t = self.create(sk=("sk", "S"))
        for pk, sk in (("a/b", "c d"), ("\u00fc\u2713\U0001F511", "100%"), ("?#&=", "+plus"), (".", "..")):
            self.put(t, {"pk": pk, "sk": sk, "v": 1}, 201)
            got, _ = self.get_item(t, pk, sk)
            self.assertEqual((got["pk"], got["sk"]), (pk, sk))
        r = self.get(items_path(t) + "/a%2Fb/c%20d")
        self.assertEqual(r.status, 200, r)
        # N keys: decimal text, canonical
        tn = self.create(pk=("id", "N"), sk=("v", "N"))
        self.put(tn, {"id": 1.5, "v": -3, "x": "n"}, 201)
        for p, s in (("1.5", "-3"), ("1.50", "-3.0"), ("15E-1", "-3"), ("1.5", "-03")):
            r = self.get(items_path(tn) + "/%s/%s" % (seg(p), seg(s)))
            self.assertEqual(r.status, 200, (p, s, r))
            self.assertEqual(r.json["item"]["x"], "n")
        for bad in ("abc", "1e999", "", "0x10"):
            r = self.get(items_path(tn) + "/%s/1" % seg(bad))
            self.assertIn(r.status, (400, 404), (bad, r))
            if bad != "":
                self.assertError(r, 400, "ValidationError")
        # B keys: base64url or base64
        tb = self.create(pk=("id", "B"))
        key = b"\xfb\xff\xfe\x00k"
        self.put(tb, {"id": {"$b": base64.b64encode(key).decode()}, "x": "b"}, 201)
        for form in (base64.urlsafe_b64encode(key).decode().rstrip("="), base64.urlsafe_b64encode(key).decode(),
                     base64.b64encode(key).decode()):
            r = self.get(items_path(tb) + "/" + urllib.parse.quote(form, safe=""))
            self.assertEqual(r.status, 200, (form, r))
            self.assertEqual(norm(r.json["item"]["id"]), ("B", key))
        self.assertError(self.get(items_path(tb) + "/%21%21%21"), 400, "ValidationError")
        # a hash-only table takes one segment; a full key needs both on a sort-key table
        self.put(tb, {"id": {"$b": "AA=="}}, 201)
        r = self.get(items_path(tb) + "/AA/extra")
        self.assertIn(r.status, (400, 404), r)
        self.assertIn(r.code, ("ValidationError", "NotFound", "BadRequest"), r)
        r = self.get(items_path(t) + "/a%2Fb/c%20d/extra")
        self.assertIn(r.status, (400, 404), r)

    def test_head(self):
        t = self.create()
        e = self.put(t, {"pk": "h", "v": "x" * 50}, 201).etag
        r = self.req("HEAD", item_path(t, "h"))
        self.assertEqual((r.status, r.etag, r.body), (200, e, b""), r)
        r = self.req("HEAD", item_path(t, "nope"))
        self.assertEqual((r.status, r.body), (404, b""), r)

    def test_binary_sort_keys(self):
        t = self.create(pk=("pk", "S"), sk=("sk", "B"))
        keys = [b"\x01\x02", b"\x01\x03", b"\x01\xff\xfe", b"\x02", b"\xfb\xff"]
        for k in keys:
            self.put(t, {"pk": "p", "sk": {"$b": base64.b64encode(k).decode()}}, 201)
        sks = lambda r: [norm(i["sk"])[1] for i in self.assertOk(r)["items"]]
        b64u = lambda b: base64.urlsafe_b64encode(b).decode().rstrip("=")
        self.assertEqual(sks(self.get(item_path(t, "p"))), keys)
        self.assertEqual(sks(self.get(item_path(t, "p", query=qs(begins_with=b64u(b"\x01"))))), keys[:3])
        self.assertEqual(sks(self.get(item_path(t, "p", query=qs(begins_with=base64.b64encode(b"\x01\xff").decode())))),
                         keys[2:3])
        self.assertEqual(sks(self.get(item_path(t, "p", query=qs(**{"from": b64u(b"\x01\x03"), "to": b64u(b"\x02")})))),
                         keys[1:4])
        self.assertEqual(sks(self.get(item_path(t, "p", query=qs(reverse=True, **{"from": b64u(b"\x01\xff")})))),
                         keys[:1:-1])
        self.assertError(self.get(item_path(t, "p", query="?begins_with=%21%21")), 400, ("ValidationError", "BadRequest"))

    def test_expired_ttl_items_are_hidden(self):
        t = self.create(ttl="exp")
        now = int(time.time())
        self.put(t, {"pk": "old", "exp": now - 100}, 201)
        self.put(t, {"pk": "new", "exp": now + 3600}, 201)
        self.assertError(self.get(item_path(t, "old")), 404, "ItemNotFound")
        self.assertEqual(self.get_item(t, "new")[0]["exp"], now + 3600)
        res = self.assertOk(self.get(items_path(t)))
        self.assertEqual([i["pk"] for i in res["items"]], ["new"])
        r = self.get(items_path(t, "?format=ndjson"))
        self.assertEqual([json.loads(x)["pk"] for x in r.body.split(b"\n") if x], ["new"])
        self.assertNotIn("Item", self.ddb.get_item(TableName=t, Key={"pk": {"S": "old"}}))


# -- PATCH ----------------------------------------------------------------------------

class RestPatchTest(RestBase):

    def patch(self, path, body, status=200, ctype="application/merge-patch+json", headers=None):
        r = self.req("PATCH", path, body, ctype=ctype, headers=headers)
        self.assertEqual(r.status, status, r)
        return r

    def test_merge_patch_semantics(self):
        t = self.create(sk=("sk", "S"))
        base = {"pk": "p", "sk": "s", "a": 1, "m": {"x": 1, "y": {"z": 2}, "keep": True}, "l": [1, 2, 3],
                "rm": "bye", "num": 5, "ss": {"$ss": ["a"]}}
        self.put(t, base, 201)
        patch = {"rm": None, "m": {"y": {"w": 3}, "x": None, "n": "new"}, "l": [9], "new": {"k": "v", "gone": None},
                 "absent": None, "num": {"q": 1}, "ss": {"$ss": ["b", "c"]}, "b": {"$b": "AQI="},
                 "dm": {"$m": {"$n": "not a number"}}}
        r = self.patch(item_path(t, "p", "s"), patch)
        want = {"pk": "p", "sk": "s", "a": 1, "m": {"y": {"z": 2, "w": 3}, "keep": True, "n": "new"}, "l": [9],
                "new": {"k": "v"}, "num": {"q": 1}, "ss": {"$ss": ["b", "c"]}, "b": {"$b": "AQI="},
                "dm": {"$m": {"$n": "not a number"}}}
        self.assertEqual(r.ctype, JSON_TYPE)
        self.assertItem(r.json["item"], want)
        got, etag = self.get_item(t, "p", "s")
        self.assertItem(got, want)
        self.assertEqual(r.etag, etag)
        self.assertRegex(etag, ETAG_RE)
        self.assertEqual(norm_typed_item(self.ddb_get(t, {"pk": "p", "sk": "s"})), norm(want))
        # application/json is accepted too; an empty patch changes nothing
        r = self.patch(item_path(t, "p", "s"), {}, ctype="application/json")
        self.assertEqual(r.etag, etag)
        self.assertItem(r.json["item"], want)
        # removing everything but the key
        r = self.patch(item_path(t, "p", "s"), {k: None for k in want if k not in ("pk", "sk")})
        self.assertItem(r.json["item"], {"pk": "p", "sk": "s"})

    def test_upsert_creates(self):
        t = self.create(pk=("id", "N"))
        r = self.patch(item_path(t, 7), {"a": "x", "z": None, "m": {"n": None, "o": 1}}, status=201)
        want = {"id": 7, "a": "x", "m": {"o": 1}}
        self.assertItem(r.json["item"], want)
        self.assertItem(self.get_item(t, 7)[0], want)
        self.assertEqual(r.etag, self.get_item(t, 7)[1])
        r = self.patch(item_path(t, "7.0"), {"b": 2}, status=200)
        self.assertItem(r.json["item"], dict(want, b=2))

    def test_key_attributes_cannot_be_patched(self):
        t = self.create(sk=("sk", "N"))
        self.put(t, {"pk": "p", "sk": 1, "v": 1}, 201)
        for attr, val in (("pk", "other"), ("pk", None), ("sk", 2), ("sk", None), ("sk", {"x": 1})):
            r = self.req("PATCH", item_path(t, "p", 1), {attr: val, "v": 2}, ctype="application/merge-patch+json")
            # the DynamoDB face's UpdateItem message for SET / REMOVE of a key attribute
            upd = {"TableName": t, "Key": {"pk": {"S": "p"}, "sk": {"N": "1"}}}
            if val is None:
                upd["UpdateExpression"] = "REMOVE %s SET v = :v" % attr
                upd["ExpressionAttributeValues"] = {":v": {"N": "2"}}
            else:
                upd["UpdateExpression"] = "SET %s = :k, v = :v" % attr
                upd["ExpressionAttributeValues"] = {":k": to_typed(val), ":v": {"N": "2"}}
            want = self.ddb_message("UpdateItem", upd)
            self.assertIn("Cannot update attribute %s. This attribute is part of the key" % attr, want)
            self.assertError(r, 400, "ValidationError", want)
        self.assertItem(self.get_item(t, "p", 1)[0], {"pk": "p", "sk": 1, "v": 1})
        # not an object, bad values, bad media type
        for raw in (b"[1]", b"42", b"null", b"{"):
            r = self.req("PATCH", item_path(t, "p", 1), raw, ctype="application/merge-patch+json")
            self.assertError(r, 400, ("BadRequest", "ValidationError"))
        r = self.req("PATCH", item_path(t, "p", 1), {"v": {"$ss": []}}, ctype="application/merge-patch+json")
        self.assertError(r, 400, "ValidationError")
        r = self.req("PATCH", item_path(t, "p", 1), {"v": 3}, ctype="text/plain")
        self.assertError(r, 415, "UnsupportedMediaType")
        self.assertItem(self.get_item(t, "p", 1)[0], {"pk": "p", "sk": 1, "v": 1})
        # a patch that makes the item too large: the DynamoDB face's limit
        r = self.req("PATCH", item_path(t, "p", 1), {"big": "x" * (400 * 1024)})
        self.assertError(r, 400, "ValidationError")


# -- ETag conditions ----------------------------------------------------------------

class RestConditionsTest(RestBase):

    def test_if_match_and_if_none_match(self):
        t = self.create()
        # If-None-Match: * = create only
        r = self.put(t, {"pk": "c", "v": 1}, 201, headers={"If-None-Match": "*"})
        e1 = r.etag
        r = self.req("PUT", items_path(t), {"pk": "c", "v": 2}, headers={"If-None-Match": "*"})
        self.assertError(r, 412, "PreconditionFailed")
        self.assertEqual(self.get_item(t, "c")[0]["v"], 1)
        # If-Match: the current ETag / a list holding it / *
        r = self.put(t, {"pk": "c", "v": 2}, 200, headers={"If-Match": e1})
        e2 = r.etag
        r = self.req("PUT", items_path(t), {"pk": "c", "v": 3}, headers={"If-Match": e1})
        self.assertError(r, 412, "PreconditionFailed")
        r = self.put(t, {"pk": "c", "v": 3}, 200, headers={"If-Match": '"0000000000000000", %s' % e2})
        e3 = r.etag
        r = self.put(t, {"pk": "c", "v": 4}, 200, headers={"If-Match": "*"})
        e4 = r.etag
        # a weak ETag never matches If-Match (strong comparison, RFC 9110 13.1.1)
        r = self.req("PUT", items_path(t), {"pk": "c", "v": 9}, headers={"If-Match": "W/" + e4})
        self.assertError(r, 412, "PreconditionFailed")
        self.assertEqual(len({e1, e2, e3, e4}), 4)
        # If-Match on an absent item
        for im in ("*", e4):
            r = self.req("PUT", items_path(t), {"pk": "nope"}, headers={"If-Match": im})
            self.assertError(r, 412, "PreconditionFailed")
            r = self.req("PATCH", item_path(t, "nope"), {"a": 1}, headers={"If-Match": im})
            self.assertError(r, 412, "PreconditionFailed")
            r = self.req("DELETE", item_path(t, "nope"), headers={"If-Match": im})
            self.assertError(r, 412, "PreconditionFailed")
        self.assertError(self.get(item_path(t, "nope")), 404, "ItemNotFound")
        # PATCH
        r = self.req("PATCH", item_path(t, "c"), {"v": 5}, headers={"If-Match": e3})
        self.assertError(r, 412, "PreconditionFailed")
        r = self.req("PATCH", item_path(t, "c"), {"v": 5}, headers={"If-Match": e4})
        self.assertEqual(r.status, 200, r)
        e5 = r.etag
        r = self.req("PATCH", item_path(t, "c"), {"v": 6}, headers={"If-None-Match": "*"})
        self.assertError(r, 412, "PreconditionFailed")
        r = self.req("PATCH", item_path(t, "n2"), {"v": 1}, headers={"If-None-Match": "*"})
        self.assertEqual(r.status, 201, r)
        # GET If-None-Match -> 304 when it matches
        r = self.get(item_path(t, "c"), headers={"If-None-Match": e5})
        self.assertEqual(r.status, 304, r)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.etag, e5)
        r = self.get(item_path(t, "c"), headers={"If-None-Match": e4})
        self.assertEqual((r.status, r.etag), (200, e5), r)
        # documented in docs/REST.md too: If-Match on GET, If-None-Match: "<etag>" on writes
        r = self.get(item_path(t, "c"), headers={"If-Match": e4})
        self.assertError(r, 412, "PreconditionFailed")
        r = self.get(item_path(t, "c"), headers={"If-Match": e5})
        self.assertEqual((r.status, r.etag), (200, e5), r)
        r = self.req("PUT", items_path(t), {"pk": "c", "v": 7}, headers={"If-None-Match": e5})
        self.assertError(r, 412, "PreconditionFailed")
        r = self.req("PATCH", item_path(t, "c"), {"v": 7}, headers={"If-None-Match": '"0000000000000000", %s' % e5})
        self.assertError(r, 412, "PreconditionFailed")
        r = self.req("PATCH", item_path(t, "c"), {"v": 7}, headers={"If-None-Match": e4})
        self.assertEqual(r.status, 200, r)
        r = self.req("PATCH", item_path(t, "c"), {"v": 5}, headers={"If-Match": r.etag})
        self.assertEqual((r.status, r.etag), (200, e5), r)      # back to the same item: the same ETag
        # DELETE
        r = self.req("DELETE", item_path(t, "c"), headers={"If-Match": e4})
        self.assertError(r, 412, "PreconditionFailed")
        self.assertEqual(self.get_item(t, "c")[0]["v"], 5)
        r = self.req("DELETE", item_path(t, "c"), headers={"If-Match": e5})
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.etag, e5)
        self.assertError(self.get(item_path(t, "c")), 404, "ItemNotFound")

    def test_concurrent_read_modify_write(self):
        """8 writers, each N increments by GET + PUT/PATCH If-Match, retrying
        on 412: the counter ends at exactly 8 * N."""
        t = self.create()
        self.put(t, {"pk": "ctr", "n": 0, "hist": []}, 201)
        writers, per = 8, 25
        done = [0] * writers
        conflicts = [0] * writers
        errors = []

        def writer(w):
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.daemon.port, timeout=60 * SLOW)
                ok = 0
                while ok < per:
                    conn.request("GET", item_path(t, "ctr"))
                    r = conn.getresponse()
                    body = r.read()
                    if r.status != 200:
                        raise AssertionError("GET %d %r" % (r.status, body))
                    etag = r.getheader("ETag")
                    n = int(json.loads(body)["item"]["n"])
                    h = {"If-Match": etag, "Content-Type": "application/json"}
                    if w % 2:
                        conn.request("PATCH", item_path(t, "ctr"), body=dumps({"n": n + 1, "w%d" % w: ok + 1}),
                                     headers=h)
                    else:
                        conn.request("PUT", items_path(t), body=dumps({"pk": "ctr", "n": n + 1, "last": w}), headers=h)
                    r = conn.getresponse()
                    body = r.read()
                    if r.status == 200:
                        ok += 1
                        done[w] += 1
                    elif r.status == 412:
                        conflicts[w] += 1
                    else:
                        raise AssertionError("write %d %r" % (r.status, body))
                conn.close()
            except Exception as e:  # noqa: BLE001 -- reported below
                errors.append("writer %d: %r" % (w, e))

        ths = [threading.Thread(target=writer, args=(w,)) for w in range(writers)]
        t0 = time.monotonic()
        for th in ths:
            th.start()
        for th in ths:
            th.join(300 * SLOW)
        dt = time.monotonic() - t0
        self.assertEqual(errors, [])
        got, _ = self.get_item(t, "ctr")
        print("\n  [rest] concurrent RMW: %d writers x %d increments, %d conflicts (412) retried, %.2fs"
              % (writers, per, sum(conflicts), dt))
        self.assertEqual(sum(done), writers * per)
        self.assertEqual(got["n"], writers * per)


# -- listings ----------------------------------------------------------------------------

class RestListingTest(RestBase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        ddb = cls.ddb
        cls.t = "listing"
        ddb.create_table(TableName=cls.t, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "S"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}])
        lines = []
        for i in range(250):
            lines.append({"pk": "c", "sk": "k%03d" % i, "v": i, "odd": bool(i % 2), "tag": "t%d" % (i % 7)})
        for p in range(40):
            for j in range(3):
                lines.append({"pk": "p%02d" % p, "sk": "s%d" % j, "v": p * 10 + j})
        body = b"".join(dumps(x) + b"\n" for x in lines)
        r = http_request(cls.daemon.port, "POST", items_path(cls.t) + ":batch", body, ctype=NDJSON_TYPE)
        assert r.status == 200 and r.json["written"] == len(lines), r
        cls.n_items = len(lines)
        cls.tn = "listing_n"
        ddb.create_table(TableName=cls.tn, BillingMode="PAY_PER_REQUEST",
                         AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"},
                                               {"AttributeName": "sk", "AttributeType": "N"}],
                         KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"},
                                    {"AttributeName": "sk", "KeyType": "RANGE"}])
        body = b"".join(dumps({"pk": "n", "sk": i / 4 - 5}) + b"\n" for i in range(80))
        r = http_request(cls.daemon.port, "POST", items_path(cls.tn) + ":batch", body, ctype=NDJSON_TYPE)
        assert r.status == 200, r

    def page_all(self, path_fn, limit=None, **params):
        """Follow cursors; returns (items, pages)."""
        items, cursor, pages = [], None, []
        while True:
            r = self.get(path_fn(qs(limit=limit, cursor=cursor, **params)))
            res = self.assertOk(r)
            self.assertEqual(res["count"], len(res["items"]), res)
            self.assertLessEqual(len(res["items"]), limit or 100)
            pages.append(len(res["items"]))
            items += res["items"]
            cursor = res.get("cursor")
            if cursor is None:
                return items, pages
            self.assertIsInstance(cursor, str)
            self.assertRegex(cursor, r"^[A-Za-z0-9_=-]+$")
            self.assertLess(len(pages), 1000)

    def coll(self, pk="c", t=None):
        return lambda q: item_path(t or self.t, pk, query=q)

    def boto_query(self, pk="c", t=None, **kw):
        out, args = [], dict(TableName=t or self.t, KeyConditionExpression="pk = :p", Limit=40, **kw)
        args.setdefault("ExpressionAttributeValues", {})[":p"] = {"S": pk}
        while True:
            r = self.ddb.query(**args)
            out += r["Items"]
            if "LastEvaluatedKey" not in r:
                return [norm_typed_item(i) for i in out]
            args["ExclusiveStartKey"] = r["LastEvaluatedKey"]

    def test_collection_paging_matches_query(self):
        r = self.get(item_path(self.t, "c"))
        res = self.assertOk(r)
        self.assertEqual(set(res), {"items", "count", "cursor"})
        self.assertEqual(res["count"], 100)            # default limit
        self.assertEqual([i["sk"] for i in res["items"]], ["k%03d" % i for i in range(100)])
        want = self.boto_query()
        self.assertEqual(len(want), 250)
        for limit in (1000, 37, 250, 1):
            items, pages = self.page_all(self.coll(), limit=limit)
            self.assertEqual([norm(i) for i in items], want, limit)
            self.assertTrue(all(p == limit for p in pages[:-1]), pages)
        items, _ = self.page_all(self.coll(), limit=60, reverse=True)
        self.assertEqual([norm(i) for i in items], want[::-1])
        # a partition with no items
        res = self.assertOk(self.get(item_path(self.t, "nobody")))
        self.assertEqual((res["items"], res["count"]), ([], 0))
        self.assertNotIn("cursor", res)

    def test_collection_conditions(self):
        sks = lambda items: [i["sk"] for i in items]
        items, _ = self.page_all(self.coll(), begins_with="k1")
        self.assertEqual(sks(items), ["k%03d" % i for i in range(100, 200)])
        items, _ = self.page_all(self.coll(), begins_with="k24", reverse=True)
        self.assertEqual(sks(items), ["k%03d" % i for i in range(249, 239, -1)])
        items, _ = self.page_all(self.coll(), **{"from": "k010", "to": "k020"})
        self.assertEqual(sks(items), ["k%03d" % i for i in range(10, 21)])
        items, _ = self.page_all(self.coll(), limit=3, reverse=True, **{"from": "k010", "to": "k020"})
        self.assertEqual(sks(items), ["k%03d" % i for i in range(20, 9, -1)])
        items, _ = self.page_all(self.coll(), **{"from": "k245"})
        self.assertEqual(sks(items), ["k%03d" % i for i in range(245, 250)])
        items, _ = self.page_all(self.coll(), **{"to": "k004"})
        self.assertEqual(sks(items), ["k%03d" % i for i in range(0, 5)])
        items, _ = self.page_all(self.coll(), **{"from": "k0095", "to": "k0105"})
        self.assertEqual(sks(items), ["k010"])
        # number sort keys: numeric order, decimal text bounds
        items, _ = self.page_all(self.coll("n", self.tn), **{"from": "-1.5", "to": "0.25"})
        self.assertEqual([i["sk"] for i in items], [Decimal(i) / 4 - 5 for i in range(14, 22)])
        items, _ = self.page_all(self.coll("n", self.tn), limit=7, reverse=True, **{"to": "-4"})
        self.assertEqual([i["sk"] for i in items], [Decimal(i) / 4 - 5 for i in range(4, -1, -1)])
        # bad parameters
        for q in ("?limit=0", "?limit=1001", "?limit=x", "?limit=", "?reverse=maybe", "?cursor=%21%21not-base64",
                  "?values=%7B", "?filter=v%20%3E%20%3Ax&values=%5B1%5D"):
            r = self.get(item_path(self.t, "c") + q)
            self.assertError(r, 400, ("BadRequest", "ValidationError"))
        self.assertError(self.get(item_path(self.tn, "n") + "?from=abc"), 400, ("ValidationError", "BadRequest"))
        r = self.get(item_path(self.t, "c") + "?index=byTag")
        self.assertError(r, 400, "ValidationError", "The table does not have the specified index: byTag")
        # limit=1000 is the largest page
        res = self.assertOk(self.get(item_path(self.t, "c") + "?limit=1000"))
        self.assertEqual(res["count"], 250)
        self.assertNotIn("cursor", res)

    def test_filters(self):
        vals = {":x": 200}
        items, pages = self.page_all(self.coll(), limit=50, filter="v >= :x", values=vals)
        self.assertEqual([i["v"] for i in items], list(range(200, 250)))
        want = self.boto_query(FilterExpression="v >= :x", ExpressionAttributeValues={":x": {"N": "200"}})
        self.assertEqual([norm(i) for i in items], want)
        items, _ = self.page_all(self.coll(), filter="#o = :t AND begins_with(#g, :g)",
                                 values={":t": True, ":g": "t3"}, names={"#o": "odd", "#g": "tag"})
        self.assertEqual([i["v"] for i in items], [i for i in range(250) if i % 2 and i % 7 == 3])
        items, _ = self.page_all(self.coll(), filter="attribute_not_exists(odd) OR v IN (:a, :b)",
                                 values={":a": 5, ":b": {"$n": "6"}})
        self.assertEqual([i["v"] for i in items], [5, 6])
        # scan filter
        items, _ = self.page_all(lambda q: items_path(self.t, q), limit=200, filter="begins_with(pk, :p)",
                                 values={":p": "p1"})
        self.assertEqual(sorted((i["pk"], i["sk"]) for i in items),
                         sorted(("p1%d" % p, "s%d" % j) for p in range(10) for j in range(3)))
        # DynamoDB's messages for bad expressions
        for flt, values in (("v >", {":x": 1}), ("v > :x", {}), ("v > :x", {":x": 1, ":y": 2}),
                            ("#nope = :x", {":x": 1}), ("sk = :x", {":x": "k001"})):
            with self.subTest(filter=flt, values=values):
                r = self.get(item_path(self.t, "c") + qs(filter=flt, values=values or None))
                body = {"TableName": self.t, "KeyConditionExpression": "pk = :p", "FilterExpression": flt,
                        "ExpressionAttributeValues": dict({":p": {"S": "c"}}, **to_typed_item(values))}
                self.assertError(r, 400, "ValidationError", self.ddb_message("Query", body))

    def test_scan_paging_and_segments(self):
        everything = []
        args = dict(TableName=self.t)
        while True:
            r = self.ddb.scan(**args)
            everything += [norm_typed_item(i) for i in r["Items"]]
            if "LastEvaluatedKey" not in r:
                break
            args["ExclusiveStartKey"] = r["LastEvaluatedKey"]
        self.assertEqual(len(everything), self.n_items)
        res = self.assertOk(self.get(items_path(self.t)))
        self.assertEqual(res["count"], 100)
        self.assertIn("cursor", res)
        items, pages = self.page_all(lambda q: items_path(self.t, q), limit=64)
        self.assertEqual([norm(i) for i in items], everything)
        seen = []
        for s in range(4):
            items, _ = self.page_all(lambda q: items_path(self.t, q), limit=50, segment=s, segments=4)
            want, args = [], dict(TableName=self.t, Segment=s, TotalSegments=4)
            while True:
                r = self.ddb.scan(**args)
                want += [norm_typed_item(i) for i in r["Items"]]
                if "LastEvaluatedKey" not in r:
                    break
                args["ExclusiveStartKey"] = r["LastEvaluatedKey"]
            self.assertEqual([norm(i) for i in items], want, s)
            seen += [(i["pk"], i["sk"]) for i in items]
        self.assertEqual(len(seen), len(set(seen)))
        self.assertEqual(sorted(seen), sorted((i["pk"], i["sk"]) for i in everything))
        for q in ("?segment=4&segments=4", "?segment=0", "?segments=2", "?segment=-1&segments=2",
                  "?segment=0&segments=0", "?segment=a&segments=2"):
            self.assertError(self.get(items_path(self.t) + q), 400, ("ValidationError", "BadRequest"))


# -- NDJSON import / export ---------------------------------------------------------------

def gen_line(i):
    """One ~100-byte item, canonical numbers (exported back identically)."""
    f = (i % 1000) / 8
    return dumps({"pk": "i%06d" % i, "n": i, "f": int(f) if f.is_integer() else f, "name": "name-%06d" % i, "ok": i % 3 == 0,
                  "tags": {"$ss": ["a%d" % (i % 5), "b"]}})


class RestIndexTest(RestBase):
    """index= on the /v1/ listings: a GSI with a number sort key and an LSI,
    written through /v1/ PUT and PATCH, read back in index order with cursors
    and sort-key bounds, against boto3's Query on the same index."""

    def setUp(self):
        super().setUp()
        self.t = self.unique()
        self.ddb.create_table(
            TableName=self.t, BillingMode="PAY_PER_REQUEST",
            AttributeDefinitions=[{"AttributeName": a, "AttributeType": t}
                                  for a, t in (("pk", "S"), ("sk", "S"), ("g", "S"), ("rank", "N"), ("d", "S"))],
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "sk", "KeyType": "RANGE"}],
            GlobalSecondaryIndexes=[{"IndexName": "byG", "KeySchema": [
                {"AttributeName": "g", "KeyType": "HASH"}, {"AttributeName": "rank", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "INCLUDE", "NonKeyAttributes": ["v"]}}],
            LocalSecondaryIndexes=[{"IndexName": "byD", "KeySchema": [
                {"AttributeName": "pk", "KeyType": "HASH"}, {"AttributeName": "d", "KeyType": "RANGE"}],
                "Projection": {"ProjectionType": "KEYS_ONLY"}}])
        for i in range(60):
            item = {"pk": "p%d" % (i % 3), "sk": "s%02d" % i, "v": i, "d": "d%02d" % (59 - i), "other": "x"}
            if i % 4:  # sparse: every fourth item is not in byG
                item.update(g="G%d" % (i % 2), rank=(i * 7) % 13)
            self.put(self.t, item)

    def listing(self, path_fn, limit=None, **params):
        items, cursor = [], None
        while True:
            res = self.assertOk(self.get(path_fn(qs(limit=limit, cursor=cursor, **params))))
            items += res["items"]
            cursor = res.get("cursor")
            if not cursor:
                return items

    def boto(self, index, kce, eav, forward=True, names=None):
        out, args = [], dict(TableName=self.t, IndexName=index, KeyConditionExpression=kce,
                             ExpressionAttributeValues=eav, ScanIndexForward=forward, Limit=7)
        if names:
            args["ExpressionAttributeNames"] = names
        while True:
            r = self.ddb.query(**args)
            out += [norm_typed_item(i) for i in r["Items"]]
            if "LastEvaluatedKey" not in r:
                return out
            args["ExclusiveStartKey"] = r["LastEvaluatedKey"]

    def test_index_collections_and_scans(self):
        g0 = lambda q: item_path(self.t, "G0", query=q)
        got = self.listing(g0, limit=4, index="byG")
        want = self.boto("byG", "g = :g", {":g": {"S": "G0"}})
        self.assertEqual([norm(i) for i in got], want)
        self.assertTrue(want and all(set(i) == {"pk", "sk", "g", "rank", "v"} for i in want), want)
        self.assertEqual([i["rank"] for i in got], sorted(i["rank"] for i in got))
        got = self.listing(g0, limit=5, index="byG", reverse="true", **{"from": "3", "to": "9"})
        want = self.boto("byG", "g = :g AND #r BETWEEN :a AND :b",
                         {":g": {"S": "G0"}, ":a": {"N": "3"}, ":b": {"N": "9"}}, forward=False,
                         names={"#r": "rank"})
        self.assertEqual([norm(i) for i in got], [w for w in want])
        # the LSI: the table's partition key, the index's sort key
        got = self.listing(lambda q: item_path(self.t, "p1", query=q), limit=3, index="byD", begins_with="d1")
        want = self.boto("byD", "pk = :p AND begins_with(d, :d)", {":p": {"S": "p1"}, ":d": {"S": "d1"}})
        self.assertEqual([norm(i) for i in got], want)
        self.assertTrue(all(set(i) == {"pk", "sk", "d"} for i in got), got)
        # a scan of the GSI: every entry once, in segments too
        entries = self.listing(lambda q: items_path(self.t, q), limit=9, index="byG")
        self.assertEqual(len(entries), 45)
        seg = []
        for n in range(3):
            seg += self.listing(lambda q: items_path(self.t, q), index="byG", segment=n, segments=3)
        self.assertEqual(sorted(i["sk"] for i in seg), sorted(i["sk"] for i in entries))
        # the table resource lists the indexes
        desc = self.assertOk(self.get(table_path(self.t)))
        names = {x["name"]: x for x in desc["indexes"]}
        self.assertEqual(names["byG"]["itemCount"], 45)
        self.assertEqual(names["byD"]["itemCount"], 60)

    def test_index_writes_and_errors(self):
        # a PATCH that gives an index key a wrong type is refused and changes nothing
        r = self.req("PATCH", item_path(self.t, "p0", "s03"), {"rank": "high"},
                     ctype="application/merge-patch+json")
        self.assertError(r, 400, "ValidationError",
                         "One or more parameter values were invalid: Type mismatch for Index Key rank Expected: N "
                         "Actual: S IndexName: byG")
        self.assertEqual(self.get_item(self.t, "p0", "s03")[0]["rank"], (3 * 7) % 13)
        r = self.req("PUT", items_path(self.t), {"pk": "p9", "sk": "s", "g": ""})
        self.assertError(r, 400, "ValidationError")
        # a PATCH that moves an item in the index
        r = self.req("PATCH", item_path(self.t, "p0", "s03"), {"g": "G9", "rank": 1},
                     ctype="application/merge-patch+json")
        self.assertIn(r.status, (200, 201), r)
        got = self.listing(lambda q: item_path(self.t, "G9", query=q), index="byG")
        self.assertEqual([(i["pk"], i["sk"]) for i in got], [("p0", "s03")])
        r = self.get(item_path(self.t, "G0", query="?index=nope"))
        self.assertError(r, 400, "ValidationError", "The table does not have the specified index: nope")


class RestNdjsonTest(RestBase):
    daemon_kwargs = {"fsync": True}

    def batch(self, t, body, ctype=NDJSON_TYPE):
        return self.req("POST", items_path(t) + ":batch", body, ctype=ctype)

    def export(self, t, query="?format=ndjson", headers=None):
        r = self.req("GET", items_path(t) + query, headers=headers)
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.ctype, NDJSON_TYPE, r.headers)
        self.assertTrue(r.body == b"" or r.body.endswith(b"\n"), r.body[-100:])
        return [ln for ln in r.body.split(b"\n") if ln]

    def test_import_export_100k(self):
        t = self.create()
        n = 100000
        lines = [gen_line(i) for i in range(n)]
        self.assertLess(abs(sum(map(len, lines)) / n - 100), 20)
        # split into requests below 16 MiB
        bodies, cur, size = [], [], 0
        for ln in lines:
            if size + len(ln) + 1 > 15 * 1024 * 1024:
                bodies.append(b"\n".join(cur) + b"\n")
                cur, size = [], 0
            cur.append(ln)
            size += len(ln) + 1
        bodies.append(b"\n".join(cur) + b"\n")
        t0 = time.monotonic()
        total = 0
        for b in bodies:
            r = self.batch(t, b)
            res = self.assertOk(r)
            k = b.count(b"\n")
            self.assertEqual(res, {"written": k, "puts": k, "deletes": 0})
            total += k
        dt_in = time.monotonic() - t0
        self.assertEqual(total, n)
        t0 = time.monotonic()
        out = self.export(t)
        dt_out = time.monotonic() - t0
        print("\n  [rest] NDJSON import: %d items (%.1f MB, %d request(s)) in %.2fs = %.0f items/s; "
              "export: %.2fs = %.0f items/s"
              % (n, sum(map(len, bodies)) / 1e6, len(bodies), dt_in, n / dt_in, dt_out, n / dt_out))
        self.assertEqual(len(out), n)
        # canonical compare: canon_line() both sides, sorted
        self.assertEqual(sorted(canon_line(x) for x in out), sorted(canon_line(x) for x in lines))
        # the table resource and the DynamoDB face agree on the count
        res = self.assertOk(self.get(table_path(t)))
        self.assertEqual(res["itemCount"], n)
        self.assertEqual(self.ddb.describe_table(TableName=t)["Table"]["ItemCount"], n)
        # export with a filter, and by Accept
        out = self.export(t, "?format=ndjson&" + qs(filter="n < :x", values={":x": 10})[1:] + "&limit=2")
        self.assertEqual(sorted(canon_line(x) for x in out), sorted(canon_line(x) for x in lines[:10]))
        out = self.export(t, qs(filter="n >= :x", values={":x": n - 5}), headers={"Accept": NDJSON_TYPE})
        self.assertEqual(sorted(canon_line(x) for x in out), sorted(canon_line(x) for x in lines[-5:]))

    def test_deletes_duplicates_and_blank_lines(self):
        t = self.create(sk=("sk", "N"))
        body = "\n".join([
            '{"pk":"a","sk":1,"v":1}',
            '',
            '{"pk":"a","sk":1,"v":2}',                 # later wins
            '{"pk":"b","sk":1,"v":1}',
            '{"$delete":{"pk":"b","sk":1}}',            # put then delete: absent
            '{"$delete":{"pk":"c","sk":1}}',
            '{"pk":"c","sk":1,"v":3}',                  # delete then put: present
            '   ',
            '{"$delete":{"pk":"zz","sk":9}}',           # deleting an absent item is fine
            '{"pk":"d","sk":2.50,"v":{"$ss":["x"]}}',
        ]) + "\n\n"
        res = self.assertOk(self.batch(t, body))
        self.assertEqual(res, {"written": 8, "puts": 5, "deletes": 3})
        self.assertEqual(self.get_item(t, "a", 1)[0]["v"], 2)
        self.assertError(self.get(item_path(t, "b", 1)), 404, "ItemNotFound")
        self.assertEqual(self.get_item(t, "c", 1)[0]["v"], 3)
        self.assertItem(self.get_item(t, "d", "2.5")[0], {"pk": "d", "sk": 2.5, "v": {"$ss": ["x"]}})
        # deleting the earlier import's items, no trailing newline
        res = self.assertOk(self.batch(t, '{"$delete":{"pk":"a","sk":1}}\n{"$delete":{"pk":"c","sk":1.0}}'))
        self.assertEqual(res, {"written": 2, "puts": 0, "deletes": 2})
        self.assertEqual([json.loads(x)["pk"] for x in self.export(t)], ["d"])
        # 2500 writes of 3 keys, well beyond one log batch: the last of each wins
        body = "".join('{"pk":"k%d","sk":0,"v":%d}\n' % (i % 3, i) for i in range(2500))
        self.assertEqual(self.assertOk(self.batch(t, body))["written"], 2500)
        for k in range(3):
            self.assertEqual(self.get_item(t, "k%d" % k, 0)[0]["v"], max(i for i in range(2500) if i % 3 == k))
        # media types: x-ndjson, text/plain, none; others 415
        for ct in (NDJSON_TYPE, NDJSON_TYPE + "; charset=utf-8", "text/plain", "text/plain; charset=utf-8", None):
            res = self.assertOk(self.batch(t, '{"pk":"ct","sk":1,"ct":"%s"}\n' % ct, ctype=ct))
            self.assertEqual(res["written"], 1, ct)
        self.assertError(self.batch(t, '{"pk":"ct","sk":2}\n', ctype="image/png"), 415, "UnsupportedMediaType")
        self.assertError(self.get(item_path(t, "ct", 2)), 404, "ItemNotFound")
        # empty import
        self.assertEqual(self.assertOk(self.batch(t, "")), {"written": 0, "puts": 0, "deletes": 0})

    def test_bad_line_writes_nothing(self):
        t = self.create(sk=("sk", "N"))
        good = ['{"pk":"g","sk":%d}' % i for i in range(12)]
        bads = {
            '{"pk":"g","sk":': ("BadRequest",),
            '[1,2]': ("BadRequest", "ValidationError"),
            '42': ("BadRequest", "ValidationError"),
            '{"pk":"g"}': ("ValidationError", "BadRequest"),                  # missing the sort key
            '{"pk":"g","sk":"x"}': ("ValidationError", "BadRequest"),         # wrong key type
            '{"pk":"g","sk":1,"x":{"$ss":[]}}': ("ValidationError", "BadRequest"),
            '{"$delete":{"pk":"g"}}': ("ValidationError", "BadRequest"),       # incomplete key
            '{"$delete":"g"}': ("ValidationError", "BadRequest"),
            '{"pk":"g","sk":1,"big":"%s"}' % ("x" * 400 * 1024): ("ValidationError", "BadRequest"),
        }
        for bad, codes in bads.items():
            for pos in (0, 6, 11):
                lines = good[:pos] + [bad] + good[pos:]
                # a blank line before counts as a line
                body = "\n" + "\n".join(lines) + "\n"
                r = self.batch(t, body)
                self.assertError(r, 400, codes)
                self.assertRegex(r.message, r"\bline %d\b" % (pos + 2), (bad[:40], r))
        # a bad line far beyond the first log batch of 1000: still nothing written
        lines = ['{"pk":"h","sk":%d}' % i for i in range(2500)]
        lines[2100] = '{"pk":"h","sk":"not a number"}'
        r = self.batch(t, "\n".join(lines))
        self.assertError(r, 400, ("ValidationError", "BadRequest"))
        self.assertRegex(r.message, r"\bline 2101\b")
        res = self.assertOk(self.get(items_path(t)))
        self.assertEqual(res["items"], [])
        self.assertEqual(self.ddb.scan(TableName=t)["Count"], 0)
        # an empty table exports nothing
        self.assertEqual(self.export(t), [])


# -- cross-face agreement ----------------------------------------------------------------

class RestCrossFaceTest(RestBase):

    def test_rest_write_boto3_read_and_back(self):
        t = self.create(sk=("sk", "B"))
        item = dict(ALL_TYPES, pk="x", sk={"$b": "AAE="})
        r = self.put(t, item, 201)
        e_rest = r.etag
        typed = self.ddb.get_item(TableName=t, Key={"pk": {"S": "x"}, "sk": {"B": b"\x00\x01"}})["Item"]
        self.assertEqual(norm_typed_item(typed), norm(item))
        self.assertEqual(typed["f"], {"N": "0.1"})
        self.assertEqual(typed["big"], {"N": "12345678901234567890123456789012345678"})
        self.assertEqual(typed["dollar"], {"M": {"$b": {"S": "not binary"}}})
        self.assertEqual(typed["b"], {"B": b"\x00\x01\x02\xff"})
        # the same item written by boto3: same ETag, identical through /v1/
        self.ddb.put_item(TableName=t, Item=typed)
        got, e = self.get_item(t, "x", b"\x00\x01")
        self.assertEqual(e, e_rest)
        self.assertItem(got, item)
        # boto3 first, at another key: REST reads it identically, and writing
        # it back through REST changes nothing (same ETag, 200)
        typed2 = dict(typed, pk={"S": "y"}, extra={"NS": ["1", "0.5", "100"]}, nested={"L": [{"M": {}}, {"SS": ["q"]}]})
        self.ddb.put_item(TableName=t, Item=typed2)
        got, e2 = self.get_item(t, "y", b"\x00\x01")
        self.assertEqual(norm(got), norm_typed_item(typed2))
        self.assertNotEqual(e2, e_rest)
        r = self.put(t, exact_to_plain(got), 200)
        self.assertEqual(r.etag, e2)
        self.assertEqual(norm_typed_item(self.ddb.get_item(TableName=t, Key={"pk": {"S": "y"}, "sk": {"B": b"\x00\x01"}})["Item"]),
                         norm_typed_item(typed2))
        # equal items have equal ETags whatever the member order of the input
        a = {"pk": "o1", "sk": {"$b": "AA=="}, "a": 1, "b": {"x": 1, "y": 2}, "s": {"$ss": ["b", "a"]}}
        b = {"s": {"$ss": ["a", "b"]}, "b": {"y": 2, "x": 1}, "a": 1, "sk": {"$b": "AA=="}, "pk": "o1"}
        ea = self.put(t, a).etag
        eb = self.put(t, b, 200).etag
        self.assertEqual(ea, eb)
        self.ddb.update_item(TableName=t, Key={"pk": {"S": "o1"}, "sk": {"B": b"\x00"}},
                             UpdateExpression="SET a = :one", ExpressionAttributeValues={":one": {"N": "1.0"}})
        self.assertEqual(self.get_item(t, "o1", b"\x00")[1], ea)
        self.ddb.update_item(TableName=t, Key={"pk": {"S": "o1"}, "sk": {"B": b"\x00"}},
                             UpdateExpression="SET a = :two", ExpressionAttributeValues={":two": {"N": "2"}})
        self.assertNotEqual(self.get_item(t, "o1", b"\x00")[1], ea)
        # boto3 delete -> /v1/ 404; /v1/ delete -> boto3 sees nothing
        self.ddb.delete_item(TableName=t, Key={"pk": {"S": "x"}, "sk": {"B": b"\x00\x01"}})
        self.assertError(self.get(item_path(t, "x", b"\x00\x01")), 404, "ItemNotFound")
        self.assertEqual(self.req("DELETE", item_path(t, "y", b"\x00\x01")).status, 200)
        self.assertNotIn("Item", self.ddb.get_item(TableName=t, Key={"pk": {"S": "y"}, "sk": {"B": b"\x00\x01"}}))

    def get_records(self, t):
        arn = self.ddb.describe_table(TableName=t)["Table"]["LatestStreamArn"]
        d = raw_request(self.daemon.port, STREAMS + "DescribeStream", {"StreamArn": arn}).json
        shard = d["StreamDescription"]["Shards"][0]["ShardId"]
        it = raw_request(self.daemon.port, STREAMS + "GetShardIterator",
                         {"StreamArn": arn, "ShardId": shard, "ShardIteratorType": "TRIM_HORIZON"}).json["ShardIterator"]
        out = []
        for _ in range(50):
            r = raw_request(self.daemon.port, STREAMS + "GetRecords", {"ShardIterator": it}).json
            out += r["Records"]
            it = r.get("NextShardIterator")
            if not r["Records"] or it is None:
                break
        return out

    def subscribe(self, t, query=""):
        from test_sse import SSEClient
        c = SSEClient(self.daemon.port, "/v1/tables/%s/stream%s" % (t, query))
        self.addCleanup(c.close)
        self.assertEqual(c.status, 200, c.body)
        return c

    def test_one_stream_for_both_faces(self):
        t = self.create(stream="NEW_AND_OLD_IMAGES")
        c = self.subscribe(t)
        kp = lambda k: {"pk": {"S": k}}
        self.put(t, {"pk": "a", "v": 1}, 201)                                            # INSERT a (rest)
        self.ddb.put_item(TableName=t, Item={"pk": {"S": "b"}, "v": {"N": "1"}})          # INSERT b (ddb)
        self.req("PATCH", item_path(t, "a"), {"v": 2})                                    # MODIFY a (rest)
        self.ddb.update_item(TableName=t, Key=kp("b"), UpdateExpression="SET v = :v",
                             ExpressionAttributeValues={":v": {"N": "2"}})               # MODIFY b (ddb)
        self.req("PATCH", item_path(t, "c"), {"v": 0})                                    # INSERT c (rest upsert)
        self.put(t, {"pk": "b", "v": 3}, 200)                                             # MODIFY b (rest)
        self.ddb.put_item(TableName=t, Item={"pk": {"S": "a"}, "v": {"N": "3"}})          # MODIFY a (ddb)
        self.assertEqual(self.req("DELETE", item_path(t, "a")).status, 200)              # REMOVE a (rest)
        self.ddb.delete_item(TableName=t, Key=kp("b"))                                    # REMOVE b (ddb)
        self.assertEqual(self.batch_import(t, '{"pk":"d","v":1}\n{"$delete":{"pk":"c"}}\n')["written"], 2)
        want = [("INSERT", "a"), ("INSERT", "b"), ("MODIFY", "a"), ("MODIFY", "b"), ("INSERT", "c"),
                ("MODIFY", "b"), ("MODIFY", "a"), ("REMOVE", "a"), ("REMOVE", "b")]
        evs = c.events(len(want) + 2)
        got = [(e["event"], e["data"]["dynamodb"]["Keys"]["pk"]["S"]) for e in evs]
        self.assertEqual(got[:len(want)], want)
        self.assertEqual(sorted(got[len(want):]), [("INSERT", "d"), ("REMOVE", "c")])
        ids = [int(e["id"]) for e in evs]
        self.assertEqual(ids, sorted(set(ids)))
        d = evs[2]["data"]["dynamodb"]
        self.assertEqual((d["OldImage"], d["NewImage"]), ({"pk": {"S": "a"}, "v": {"N": "1"}},
                                                          {"pk": {"S": "a"}, "v": {"N": "2"}}))
        self.assertEqual([e["data"] for e in evs], self.get_records(t))

    def test_import_duplicates_on_a_stream_table(self):
        """st_write refuses two writes of one key in one batch on a streamed
        table: the import must still apply them all, in order."""
        t = self.create(stream="NEW_AND_OLD_IMAGES")
        c = self.subscribe(t)
        lines = ['{"pk":"a","v":1}', '{"pk":"a","v":2}', '{"$delete":{"pk":"a"}}', '{"pk":"a","v":3}',
                 '{"pk":"b","v":1}', '{"$delete":{"pk":"b"}}']
        lines += ['{"pk":"k%d","v":%d}' % (i % 3, i) for i in range(1500)]
        res = self.batch_import(t, "\n".join(lines) + "\n")
        self.assertEqual(res, {"written": 1506, "puts": 1504, "deletes": 2})
        self.assertEqual(self.get_item(t, "a")[0]["v"], 3)
        self.assertError(self.get(item_path(t, "b")), 404, "ItemNotFound")
        for k in range(3):
            self.assertEqual(self.get_item(t, "k%d" % k)[0]["v"], max(i for i in range(1500) if i % 3 == k))
        evs = c.events(1506)
        per_key = {}
        for e in evs:
            d = e["data"]["dynamodb"]
            per_key.setdefault(d["Keys"]["pk"]["S"], []).append(
                (e["event"], d.get("NewImage", {}).get("v", {}).get("N")))
        self.assertEqual(per_key["a"], [("INSERT", "1"), ("MODIFY", "2"), ("REMOVE", None), ("INSERT", "3")])
        self.assertEqual(per_key["b"], [("INSERT", "1"), ("REMOVE", None)])
        for k in range(3):
            vals = [v for _, v in per_key["k%d" % k]]
            self.assertEqual(vals, [str(i) for i in range(1500) if i % 3 == k])

    def batch_import(self, t, body):
        r = self.req("POST", items_path(t) + ":batch", body, ctype=NDJSON_TYPE)
        return self.assertOk(r)

    def test_acknowledged_writes_survive_sigkill(self):
        d = Daemon(fsync=True)
        d.start()
        self.addCleanup(d.cleanup)
        body = {"name": "durable", "partitionKey": {"name": "pk", "type": "S"}, "stream": "NEW_IMAGE"}
        self.assertEqual(http_request(d.port, "POST", "/v1/tables", body).status, 201)
        self.assertEqual(http_request(d.port, "PUT", items_path("durable"), {"pk": "a", "v": 1}).status, 201)
        self.assertEqual(http_request(d.port, "PATCH", item_path("durable", "a"), {"w": 2}).status, 200)
        self.assertEqual(http_request(d.port, "PUT", items_path("durable"), {"pk": "gone"}).status, 201)
        self.assertEqual(http_request(d.port, "DELETE", item_path("durable", "gone")).status, 200)
        imp = "".join('{"pk":"i%04d","n":%d}\n' % (i, i) for i in range(3000))
        r = http_request(d.port, "POST", items_path("durable") + ":batch", imp, ctype=NDJSON_TYPE)
        self.assertEqual(r.status, 200, r)
        etag = http_request(d.port, "GET", item_path("durable", "a")).etag
        d.kill()
        d.start()
        r = http_request(d.port, "GET", item_path("durable", "a"))
        self.assertEqual((r.status, r.etag), (200, etag), r)
        self.assertEqual(r.json["item"], {"pk": "a", "v": 1, "w": 2})
        self.assertEqual(http_request(d.port, "GET", item_path("durable", "gone")).status, 404)
        out = http_request(d.port, "GET", items_path("durable", "?format=ndjson")).body
        self.assertEqual(len([x for x in out.split(b"\n") if x]), 3001)
        self.assertEqual(http_request(d.port, "GET", table_path("durable")).json["itemCount"], 3001)

    def test_stream_format_plain(self):
        t = self.create(sk=("sk", "N"), stream="NEW_AND_OLD_IMAGES")
        c = self.subscribe(t, "?format=plain")
        typed_c = self.subscribe(t)
        item = {"pk": "p", "sk": 1, "f": 0.1, "b": {"$b": "AAE="}, "s": {"$ss": ["x", "y"]},
                "big": {"$n": "12345678901234567890123456789012345678"}, "m": {"$m": {"$n": "txt"}}, "n": None}
        self.put(t, item, 201)
        self.req("PATCH", item_path(t, "p", 1), {"f": None, "g": [True]})
        self.ddb.delete_item(TableName=t, Key={"pk": {"S": "p"}, "sk": {"N": "1"}})
        evs = c.events(3)
        typed = typed_c.events(3)
        r = self.get("/v1/tables/%s/stream?format=xml" % t, headers={"Accept": "text/event-stream"})
        self.assertError(r, 400, ("BadRequest", "ValidationError"))
        self.assertEqual([e["event"] for e in evs], ["INSERT", "MODIFY", "REMOVE"])
        self.assertEqual([e["id"] for e in evs], [e["id"] for e in typed])
        for e in evs:
            self.assertNotIn("\n", e["data_text"])
        exact = [loads_exact(e["data_text"]) for e in evs]
        patched = {k: v for k, v in item.items() if k != "f"}
        patched["g"] = [True]
        self.assertEqual(norm(exact[0]["dynamodb"]["NewImage"]), norm(item))
        self.assertNotIn("OldImage", exact[0]["dynamodb"])
        self.assertEqual(norm(exact[1]["dynamodb"]["OldImage"]), norm(item))
        self.assertEqual(norm(exact[1]["dynamodb"]["NewImage"]), norm(patched))
        self.assertEqual(norm(exact[2]["dynamodb"]["OldImage"]), norm(patched))
        self.assertEqual(exact[0]["dynamodb"]["NewImage"]["big"], Decimal("12345678901234567890123456789012345678"))
        self.assertRegex(evs[0]["data_text"], r'"f":\s*0\.1[,}]')
        # everything but the images is the typed record's
        for p, ty in zip(evs, typed):
            a, b = dict(p["data"]), dict(ty["data"])
            da, db = dict(a.pop("dynamodb")), dict(b.pop("dynamodb"))
            self.assertEqual(a, b)
            for k in ("NewImage", "OldImage", "Keys"):
                da.pop(k, None)
                db.pop(k, None)
            self.assertEqual(da, db)
        # Keys: plain too, or typed (the API only says "images")
        keys = exact[0]["dynamodb"]["Keys"]
        self.assertIn(keys, ({"pk": "p", "sk": Decimal(1)}, {"pk": {"S": "p"}, "sk": {"N": "1"}}))
        print("\n  [rest] format=plain Keys: %s" % evs[0]["data"]["dynamodb"]["Keys"])


# -- token ------------------------------------------------------------------------------

class RestTokenTest(RestBase):
    daemon_kwargs = {"fsync": False, "extra_args": ["--rest-token", "s3cr3t-t0ken"]}

    def check_401(self, r):
        self.assertError(r, 401, "Unauthorized")
        self.assertTrue((r.headers.get("www-authenticate") or "").startswith("Bearer"), r.headers)

    def test_token(self):
        ok = {"Authorization": "Bearer s3cr3t-t0ken"}
        self.ddb.create_table(TableName="tok", BillingMode="PAY_PER_REQUEST",
                              AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
                              KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
                              StreamSpecification={"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"})
        bad_headers = [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Bearer s3cr3t-t0ke"},
                       {"Authorization": "Bearer s3cr3t-t0ken2"}, {"Authorization": "s3cr3t-t0ken"},
                       {"Authorization": "Basic czNjcjN0LXQwa2Vu"}, {"Authorization": "Bearer "}]
        reqs = [("GET", "/v1/tables", None), ("POST", "/v1/tables", {"name": "tok2", "partitionKey": {"name": "pk", "type": "S"}}),
                ("GET", table_path("tok"), None), ("PUT", items_path("tok"), {"pk": "a"}),
                ("GET", item_path("tok", "a"), None), ("GET", items_path("tok"), None),
                ("POST", items_path("tok") + ":batch", '{"pk":"b"}\n'),
                ("GET", "/v1/tables/tok/stream", None), ("GET", "/v1/openapi.json", None),
                ("GET", "/v1/nothing", None), ("DELETE", table_path("tok"), None)]
        for method, path, body in reqs:
            for h in bad_headers:
                ct = NDJSON_TYPE if path.endswith(":batch") else "application/json"
                self.check_401(self.req(method, path, body, headers=h, ctype=ct))
        self.assertEqual(self.ddb.describe_table(TableName="tok")["Table"]["ItemCount"], 0)
        self.assertNotIn("tok2", self.ddb.list_tables()["TableNames"])
        # with the token
        self.assertOk(self.req("PUT", items_path("tok"), {"pk": "a"}, headers=ok), 201)
        self.assertOk(self.get(item_path("tok", "a"), headers=ok))
        self.assertOk(self.get("/v1/tables", headers=ok))
        self.assertOk(self.get("/v1/openapi.json", headers=ok))
        from test_sse import SSEClient
        s = SSEClient(self.daemon.port, "/v1/tables/tok/stream", headers=ok)
        self.addCleanup(s.close)
        self.assertEqual(s.status, 200)
        s2 = SSEClient(self.daemon.port, "/v1/tables/tok/stream")
        self.addCleanup(s2.close)
        self.assertEqual(s2.status, 401)
        self.assertError(self.get("/v1/nothing", headers=ok), 404, "NotFound")
        # the DynamoDB face does not use the token
        self.assertEqual(self.ddb.get_item(TableName="tok", Key={"pk": {"S": "a"}})["Item"], {"pk": {"S": "a"}})

    def test_token_from_environment(self):
        old = os.environ.get("DYNAFILE_REST_TOKEN")
        os.environ["DYNAFILE_REST_TOKEN"] = "env-token"
        try:
            d = Daemon(fsync=False)
            d.start()
        finally:
            if old is None:
                del os.environ["DYNAFILE_REST_TOKEN"]
            else:
                os.environ["DYNAFILE_REST_TOKEN"] = old
        self.addCleanup(d.cleanup)
        self.check_401(http_request(d.port, "GET", "/v1/tables"))
        self.check_401(http_request(d.port, "GET", "/v1/tables", headers={"Authorization": "Bearer s3cr3t-t0ken"}))
        r = http_request(d.port, "GET", "/v1/tables", headers={"Authorization": "Bearer env-token"})
        self.assertEqual(r.status, 200, r)

    def test_no_token_by_default(self):
        d = Daemon(fsync=False)
        env_had = os.environ.pop("DYNAFILE_REST_TOKEN", None)
        try:
            d.start()
        finally:
            if env_had is not None:
                os.environ["DYNAFILE_REST_TOKEN"] = env_had
        self.addCleanup(d.cleanup)
        self.assertEqual(http_request(d.port, "GET", "/v1/tables").status, 200)
        self.assertEqual(http_request(d.port, "GET", "/v1/tables", headers={"Authorization": "Bearer x"}).status, 200)


# -- resources, methods, media types, sizes, OpenAPI --------------------------------------

class RestHttpTest(RestBase):

    def test_not_found_and_methods(self):
        t = self.create(sk=("sk", "S"), stream="KEYS_ONLY")
        self.put(t, {"pk": "a", "sk": "b"}, 201)
        for path in ("/v1/", "/v1/nothing", "/v1/tables/%s/nothing" % t, "/v1/tables/%s/items:nope" % t,
                     "/v1/tablesx", "/v1/openapi.yaml"):
            r = self.get(path)
            self.assertError(r, 404, "NotFound")
        allowed = {
            "/v1/tables": ({"GET", "POST"}, ("DELETE", "PUT", "PATCH")),
            table_path(t): ({"GET", "DELETE"}, ("POST", "PATCH")),
            items_path(t): ({"GET", "PUT"}, ("DELETE", "PATCH")),
            item_path(t, "a", "b"): ({"GET", "PATCH", "DELETE"}, ("POST",)),
            items_path(t) + ":batch": ({"POST"}, ("GET", "PUT", "DELETE")),
            "/v1/tables/%s/stream" % t: ({"GET"}, ("POST", "DELETE")),
            "/v1/openapi.json": ({"GET"}, ("POST", "DELETE")),
        }
        for path, (methods, bad) in allowed.items():
            for m in bad:
                r = self.req(m, path, {"x": 1})
                self.assertError(r, 405, "MethodNotAllowed")
                allow = {x.strip().upper() for x in (r.headers.get("allow") or "").split(",") if x.strip()}
                self.assertTrue(methods <= allow, (path, m, r.headers.get("allow")))
                self.assertNotIn(m, allow, (path, r.headers.get("allow")))
        # the table and the item are untouched
        self.assertEqual(self.get_item(t, "a", "b")[0], {"pk": "a", "sk": "b"})
        self.assertOk(self.get(table_path(t)))

    def raw_send(self, head, body_parts=()):
        """Send a request head and then body parts on a raw socket, stopping
        quietly if the server closes early; return the parsed answer."""
        sock = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=60 * SLOW)
        try:
            sock.sendall(head)
            for part in body_parts:
                try:
                    sock.sendall(part)
                except OSError:
                    break
            data = b""
            while True:
                try:
                    chunk = sock.recv(65536)
                except OSError:
                    break
                if not chunk:
                    break
                data += chunk
                if b"\r\n\r\n" in data:
                    head_part, _, rest = data.partition(b"\r\n\r\n")
                    m = re.search(rb"(?i)\r\ncontent-length:\s*(\d+)", head_part)
                    if m and len(rest) >= int(m.group(1)):
                        break
        finally:
            sock.close()
        self.assertIn(b"\r\n\r\n", data, data[:200])
        head_part, _, rest = data.partition(b"\r\n\r\n")
        lines = head_part.decode("latin-1").split("\r\n")
        h = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            h[k.strip().lower()] = v.strip()
        return Resp("raw", lines[0], int(lines[0].split()[1]), h, rest)

    def test_payload_too_large(self):
        t = self.create()
        host = "Host: 127.0.0.1:%d\r\n" % self.daemon.port
        # a Content-Length above 16 MiB: 413 before the body is read
        big = 16 * 1024 * 1024 + 10
        for path, ct in ((items_path(t), JSON_TYPE), (items_path(t) + ":batch", NDJSON_TYPE), ("/v1/tables", JSON_TYPE)):
            head = ("PUT" if path == items_path(t) else "POST") + " %s HTTP/1.1\r\n%sContent-Type: %s\r\n" \
                "Content-Length: %d\r\n\r\n" % (path, host, ct, big)
            r = self.raw_send(head.encode())
            self.assertError(r, 413, "PayloadTooLarge")
        # the whole body sent: still 413 (the client that does not wait)
        head = "PUT %s HTTP/1.1\r\n%sContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % (
            items_path(t), host, big)
        r = self.raw_send(head.encode(), [b'{"pk":"big","x":"'] + [b"x" * 1024 * 1024] * 16 + [b"x" * (big - 16 * 1024 * 1024 - 19), b'"}'])
        self.assertError(r, 413, "PayloadTooLarge")
        # chunked upload without Content-Length
        head = "POST %s HTTP/1.1\r\n%sContent-Type: application/x-ndjson\r\nTransfer-Encoding: chunked\r\n\r\n" % (
            items_path(t) + ":batch", host)
        chunk = b"x" * (1024 * 1024)
        parts = [b"%x\r\n" % len(chunk) + chunk + b"\r\n"] * 17 + [b"0\r\n\r\n"]
        r = self.raw_send(head.encode(), parts)
        self.assertError(r, 413, "PayloadTooLarge")
        # curl (Expect: 100-continue)
        with tempfile.NamedTemporaryFile(suffix=".json") as f:
            f.write(b'{"pk":"big","x":"' + b"x" * big + b'"}')
            f.flush()
            p = subprocess.run([CURL, "-s", "-S", "-o", "-", "-w", "\n%{http_code}", "-X", "PUT", "-H",
                                "Content-Type: application/json", "--data-binary", "@" + f.name,
                                "http://127.0.0.1:%d%s" % (self.daemon.port, items_path(t))],
                               capture_output=True, timeout=60 * SLOW)
        body, _, code = p.stdout.rpartition(b"\n")
        self.assertEqual(code, b"413", (p.returncode, p.stdout[:300], p.stderr))
        self.assertEqual(json.loads(body)["error"]["code"], "PayloadTooLarge")
        self.assertError(self.get(item_path(t, "big")), 404, "ItemNotFound")
        # the daemon still serves
        self.assertOk(self.get(table_path(t)))
        # just below the limit is not a 413 (a 400: the item is too large)
        body = b'{"pk":"big","x":"' + b"x" * (16 * 1024 * 1024 - 100) + b'"}'
        self.assertError(self.req("PUT", items_path(t), body), 400, "ValidationError")

    def test_openapi(self):
        r = self.get("/v1/openapi.json")
        doc = self.assertOk(r)
        self.assertTrue(str(doc.get("openapi", "")).startswith("3.1"), doc.get("openapi"))
        self.assertIn("info", doc)
        paths = doc["paths"]
        ops = {(p, m.upper()) for p, v in paths.items() for m in v if m.lower() in
               ("get", "put", "post", "delete", "patch")}
        def has(pattern, method):
            return any(re.fullmatch(pattern, p) and m == method for p, m in ops)
        want = [(r"/v1/tables", "GET"), (r"/v1/tables", "POST"), (r"/v1/tables/\{[^}]+\}", "GET"),
                (r"/v1/tables/\{[^}]+\}", "DELETE"), (r"/v1/tables/\{[^}]+\}/items", "GET"),
                (r"/v1/tables/\{[^}]+\}/items", "PUT"), (r"/v1/tables/\{[^}]+\}/items:batch", "POST"),
                (r"/v1/tables/\{[^}]+\}/items/\{[^}]+\}(/\{[^}]+\})?", "GET"),
                (r"/v1/tables/\{[^}]+\}/items/\{[^}]+\}(/\{[^}]+\})?", "PATCH"),
                (r"/v1/tables/\{[^}]+\}/items/\{[^}]+\}(/\{[^}]+\})?", "DELETE"),
                (r"/v1/tables/\{[^}]+\}/stream", "GET"), (r"/v1/openapi.json", "GET")]
        for pat, m in want:
            self.assertTrue(has(pat, m), (pat, m, sorted(ops)))
        for word in ("If-Match", "If-None-Match", "ETag", "cursor", "begins_with", "segment", "application/x-ndjson",
                     "application/merge-patch+json", "text/event-stream"):
            self.assertIn(word, r.body.decode(), word)
        # every operation has answers; every $ref resolves
        for pth, item in paths.items():
            for m, op in item.items():
                if m.lower() in ("get", "put", "post", "delete", "patch"):
                    self.assertTrue(op.get("responses"), (pth, m))

        def refs(v):
            if isinstance(v, dict):
                for k, x in v.items():
                    if k == "$ref":
                        yield x
                    else:
                        yield from refs(x)
            elif isinstance(v, list):
                for x in v:
                    yield from refs(x)
        n = 0
        for ref in refs(doc):
            self.assertTrue(ref.startswith("#/"), ref)
            node = doc
            for part in ref[2:].split("/"):
                part = part.replace("~1", "/").replace("~0", "~")
                self.assertIn(part, node, ref)
                node = node[part]
            n += 1
        self.assertGreater(n, 0)


# -- curl ---------------------------------------------------------------------------------

class RestCurlTest(RestBase):

    def curl(self, *args, data_file=None):
        argv = [CURL, "-s", "-S", "-i"] + list(args)
        p = subprocess.run(argv, capture_output=True, timeout=60 * SLOW)
        self.assertEqual(p.returncode, 0, (argv, p.stderr))
        out = p.stdout
        # skip "100 Continue" interim answers
        while out.startswith(b"HTTP/1.1 100"):
            out = out.partition(b"\r\n\r\n")[2]
        head, _, body = out.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        h = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            h[k.strip().lower()] = v.strip()
        return Resp(args[0], args[-1], status, h, body)

    def url(self, path):
        return "http://127.0.0.1:%d%s" % (self.daemon.port, path)

    def test_curl_session(self):
        t = "curl_books"
        r = self.curl("-X", "POST", "-H", "Content-Type: application/json",
                      "-d", json.dumps({"name": t, "partitionKey": {"name": "isbn", "type": "S"},
                                        "sortKey": {"name": "v", "type": "N"}}), self.url("/v1/tables"))
        self.assertEqual(r.status, 201, r)
        self.assertEqual(r.headers.get("location"), "/v1/tables/" + t)
        r = self.curl("-X", "PUT", "-H", "Content-Type: application/json", "-H", "If-None-Match: *",
                      "-d", '{"isbn":"978-0","v":1,"title":"Dune","price":9.99,"tags":{"$ss":["sf"]}}',
                      self.url(items_path(t)))
        self.assertEqual(r.status, 201, r)
        etag = r.etag
        self.assertRegex(etag, ETAG_RE)
        r = self.curl(self.url(item_path(t, "978-0", 1)))
        self.assertEqual((r.status, r.etag), (200, etag), r)
        self.assertEqual(r.json["item"]["price"], Decimal("9.99"))
        r = self.curl("-H", "If-None-Match: " + etag, self.url(item_path(t, "978-0", 1)))
        self.assertEqual(r.status, 304, r)
        r = self.curl("-X", "PATCH", "-H", "Content-Type: application/merge-patch+json", "-H", "If-Match: " + etag,
                      "-d", '{"price":null,"stock":{"paris":3}}', self.url(item_path(t, "978-0", 1)))
        self.assertEqual(r.status, 200, r)
        self.assertItem(r.json["item"], {"isbn": "978-0", "v": 1, "title": "Dune", "tags": {"$ss": ["sf"]},
                                         "stock": {"paris": 3}})
        r = self.curl("-X", "PATCH", "-H", "Content-Type: application/merge-patch+json", "-H", "If-Match: " + etag,
                      "-d", '{"price":1}', self.url(item_path(t, "978-0", 1)))
        self.assertError(r, 412, "PreconditionFailed")
        # import a file, export it back
        tmp = tempfile.NamedTemporaryFile("wb", suffix=".ndjson", delete=False)
        self.addCleanup(os.unlink, tmp.name)
        lines = [dumps({"isbn": "b%03d" % i, "v": i, "n": i / 2 if i % 2 else i // 2}) for i in range(500)]
        tmp.write(b"\n".join(lines) + b"\n")
        tmp.close()
        r = self.curl("-X", "POST", "-H", "Content-Type: application/x-ndjson", "--data-binary", "@" + tmp.name,
                      self.url(items_path(t) + ":batch"))
        self.assertEqual((r.status, r.json), (200, {"written": 500, "puts": 500, "deletes": 0}), r)
        r = self.curl("--data-binary", "@" + tmp.name, "-H", "Content-Type:", self.url(items_path(t) + ":batch"))
        self.assertEqual(r.status, 200, r)
        p = subprocess.run([CURL, "-s", "-S", "-f", self.url(items_path(t) + "?format=ndjson")], capture_output=True,
                           timeout=60 * SLOW)
        self.assertEqual(p.returncode, 0, p.stderr)
        out = [ln for ln in p.stdout.split(b"\n") if ln]
        self.assertEqual(len(out), 501)
        self.assertEqual(sorted(canon_line(x) for x in out if json.loads(x)["isbn"].startswith("b")),
                         sorted(canon_line(x) for x in lines))
        # listings and errors; -f makes curl fail on an error status
        r = self.curl(self.url(item_path(t, "b001") + "?limit=5"))
        self.assertEqual((r.status, r.json["count"]), (200, 1), r)
        p = subprocess.run([CURL, "-s", "-f", self.url(item_path(t, "none", 1))], capture_output=True)
        self.assertEqual(p.returncode, 22)
        r = self.curl(self.url(item_path(t, "none", 1)))
        self.assertError(r, 404, "ItemNotFound")
        r = self.curl("-X", "DELETE", self.url(item_path(t, "978-0", 1)))
        self.assertEqual(r.status, 200, r)
        r = self.curl("-X", "DELETE", self.url(table_path(t)))
        self.assertEqual((r.status, r.json["status"]), (200, "DELETING"), r)


if __name__ == "__main__":
    unittest.main()
