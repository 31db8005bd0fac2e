"""test_wire.py -- the HTTP envelope at the byte level (http.client / raw
sockets): health check, 404/413, SerializationException and
UnknownOperationException bodies with AWS's CRC constants, auth presence,
content types, response headers, keep-alive, CORS, and the data-driven
validation table cases_wire.json (protocol.md 1-3, 5-7, 9, 10;
operations.md 1, 4, 5).
"""

import http.client
import json
import os
import select
import socket
import time
import unittest
import zlib

import harness
from harness import DaemonTestCase, SLOW, crc32_ok

HERE = os.path.dirname(os.path.abspath(__file__))
SER_BODY = b'{"__type":"com.amazon.coral.service#SerializationException"}'
UNK_BODY = b'{"__type":"com.amazon.coral.service#UnknownOperationException"}'
NOTFOUND_BODY = b"<UnknownOperationException/>\n"
HEALTH_BODY = b"healthy: dynamodb.us-east-1.amazonaws.com "
MAX_BODY = 16 * 1024 * 1024


def expand(x):
    """The cases file's tiny templating: $repeat and $concat."""
    if isinstance(x, dict):
        if set(x) == {"$repeat", "count"}:
            return x["$repeat"] * x["count"]
        if set(x) == {"$concat"}:
            return "".join(expand(p) for p in x["$concat"])
        return {k: expand(v) for k, v in x.items()}
    if isinstance(x, list):
        return [expand(v) for v in x]
    return x


def raw_exchange(port, head, body, chunk=1 << 20, timeout=60):
    """Send head then body over a plain socket, stopping early if the server
    answers before the body is complete; return (status, headers, body)."""
    s = socket.create_connection(("127.0.0.1", port), timeout=timeout * SLOW)
    try:
        s.sendall(head)
        off = 0
        while off < len(body):
            r, _, _ = select.select([s], [], [], 0)
            if r:
                break  # early answer (e.g. 413 before the body was read)
            try:
                s.sendall(body[off:off + chunk])
            except (BrokenPipeError, ConnectionResetError):
                break
            off += chunk
        resp = http.client.HTTPResponse(s)
        resp.begin()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        s.close()


def request_head(port, length, target="DynamoDB_20120810.ListTables", ctype="application/x-amz-json-1.0"):
    h = ["POST / HTTP/1.1", "Host: 127.0.0.1:%d" % port, "Content-Type: " + ctype, "X-Amz-Target: " + target,
         "X-Amz-Date: " + harness.AMZ_DATE, "Authorization: " + harness.FAKE_AUTH, "Content-Length: %d" % length,
         "Connection: close"]
    return ("\r\n".join(h) + "\r\n\r\n").encode()


class WireTest(DaemonTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        with open(os.path.join(HERE, "cases_wire.json")) as f:
            cls.spec = json.load(f)
        for t in cls.spec["tables"]:
            attrs = [{"AttributeName": t["hash"][0], "AttributeType": t["hash"][1]}]
            keys = [{"AttributeName": t["hash"][0], "KeyType": "HASH"}]
            if "range" in t:
                attrs.append({"AttributeName": t["range"][0], "AttributeType": t["range"][1]})
                keys.append({"AttributeName": t["range"][0], "KeyType": "RANGE"})
            cls.ddb.create_table(TableName=t["TableName"], AttributeDefinitions=attrs, KeySchema=keys,
                                 BillingMode="PAY_PER_REQUEST")

    def raw(self, target, body, **kw):
        return self.daemon.raw(target, body, **kw)

    def test_large_headers(self):
        # AWS accepts about 16 KB of headers; the per-connection buffer must hold them and the
        # answer (several requests on one connection, so the buffer is reused).
        c = self.daemon.connection()
        for n in (4000, 12000, 15000):
            c.request("POST", "/", b"{}", {"Content-Type": "application/x-amz-json-1.0",
                                         "X-Amz-Target": "DynamoDB_20120810.ListTables",
                                         "X-Amz-Date": "20260101T000000Z",
                                         "Authorization": "AWS4-HMAC-SHA256 Credential=x/20260101/us-east-1/"
                                                          "dynamodb/aws4_request, SignedHeaders=host, Signature=0",
                                         "X-Padding": "p" * n})
            r = c.getresponse()
            body = r.read()
            self.assertEqual(r.status, 200, (n, body[:200]))
            self.assertIn(b"TableNames", body)
        c.close()

    # -- the data-driven table ----------------------------------------------------

    def test_cases_file(self):
        failures = []
        for case in self.spec["cases"]:
            with self.subTest(case=case["name"]):
                try:
                    self.run_case(case)
                except AssertionError as e:
                    failures.append("%s: %s" % (case["name"], str(e).splitlines()[0][:300]))
                    raise
        if failures:
            print("\ncases_wire.json: %d of %d cases failed" % (len(failures), len(self.spec["cases"])))

    def run_case(self, case):
        body = case["raw_body"].encode() if "raw_body" in case else json.dumps(expand(case["body"])).encode()
        r = self.raw(case["target"], body, headers=case.get("headers"), drop=case.get("drop", ()))
        got = (r.status, r.type)
        want = (case["status"], case.get("type"))
        self.assertEqual(got, want, "status/type: got %r, body %r" % (got, r.body[:300]))
        self.assertTrue(crc32_ok(r), "x-amz-crc32 %r does not match body" % r.headers.get("x-amz-crc32"))
        self.assertTrue(r.headers.get("x-amzn-requestid"), "no x-amzn-RequestId")
        self.assertEqual(r.headers.get("content-type"), "application/x-amz-json-1.0")
        self.assertIsInstance(r.json, dict, r.body[:200])
        if r.status == 200:
            if "json" in case:
                self.assertEqual(r.json, case["json"])
            return
        # message member name: capital M for SerializationException (protocol.md 5)
        typ = case["type"]
        mkey = "Message" if typ.endswith("#SerializationException") or typ.endswith("#AccessDeniedException") else "message"
        other = "message" if mkey == "Message" else "Message"
        self.assertNotIn(other, r.json, "wrong message member name")
        self.assertEqual(set(r.json) - {"__type", mkey}, set(), "extra members: %r" % r.json)
        if case.get("no_message_check"):
            return
        msg = r.json.get(mkey)
        if "message_regex" in case:
            self.assertIsNotNone(msg, "no %s member" % mkey)
            self.assertRegex(msg, case["message_regex"])
        elif "message_prefix" in case:
            self.assertIsNotNone(msg, "no %s member" % mkey)
            self.assertTrue(msg.startswith(case["message_prefix"]), "message %r" % msg)
        elif case["message"] is None:
            self.assertNotIn(mkey, r.json, "expected no message member")
        else:
            self.assertEqual(msg, expand(case["message"]))

    # -- health / 404 / 413 -----------------------------------------------------------

    def test_health(self):
        c = self.daemon.connection()
        c.request("GET", "/")
        r = c.getresponse()
        body = r.read()
        self.assertEqual(r.status, 200)
        self.assertEqual(body, HEALTH_BODY)
        self.assertEqual(r.getheader("Content-Length"), "42")
        self.assertEqual(r.getheader("x-amz-crc32"), str(zlib.crc32(body)))
        self.assertTrue(r.getheader("x-amzn-RequestId"))
        c.close()

    def test_not_found(self):
        cases = [("PUT", "application/x-amz-json-1.0", b"{}"), ("DELETE", "application/x-amz-json-1.0", b"{}"),
                 ("PATCH", "application/x-amz-json-1.0", b"{}"), ("OPTIONS", None, b""),
                 ("POST", "text/plain", b"{}"), ("POST", "application/x-amz-json-1.1", b"{}"),
                 ("POST", "application/xml", b"<a/>"), ("POST", None, b"{}")]
        for method, ctype, body in cases:
            with self.subTest(method=method, ctype=ctype):
                h = harness.default_headers("ListTables", content_type=ctype)
                r = harness.raw_request(self.daemon.port, None, body, method=method, headers=h,
                                        drop=() if ctype else ("Content-Type",))
                self.assertEqual(r.status, 404, r)
                self.assertEqual(r.body, NOTFOUND_BODY)
                if "x-amz-crc32" in r.headers:
                    self.assertEqual(r.headers["x-amz-crc32"], "3552371480")
        self.assertEqual(zlib.crc32(NOTFOUND_BODY), 3552371480)

    def test_wrong_content_type_with_empty_body_is_not_404(self):
        for ctype in ("text/plain", None):
            r = self.raw("ListTables", b"", headers={"Content-Type": ctype} if ctype else None,
                         drop=() if ctype else ("Content-Type",))
            self.assertEqual((r.status, r.body), (400, SER_BODY), (ctype, r))

    def test_too_large(self):
        port = self.daemon.port
        body = b'{"Pad":"' + b"a" * (MAX_BODY + 1 - 10) + b'"}'
        self.assertEqual(len(body), MAX_BODY + 1)
        status, headers, data = raw_exchange(port, request_head(port, len(body)), body)
        self.assertEqual(status, 413)
        self.assertEqual(data, b"")
        self.assertTrue(self.daemon.running())
        # the daemon still answers
        self.assertEqual(self.raw("ListTables", {}).status, 200)

    def test_too_large_declared_only(self):
        # a Content-Length over the limit is refused without waiting for the body
        port = self.daemon.port
        s = socket.create_connection(("127.0.0.1", port), timeout=20 * SLOW)
        try:
            s.sendall(request_head(port, 100 * MAX_BODY))
            s.sendall(b"{}")
            resp = http.client.HTTPResponse(s)
            resp.begin()
            self.assertEqual(resp.status, 413)
            self.assertEqual(resp.read(), b"")
        finally:
            s.close()

    def test_exactly_max_body(self):
        port = self.daemon.port
        body = b'{"Limit":1,"Pad":"' + b"a" * (MAX_BODY - 20) + b'"}'
        self.assertEqual(len(body), MAX_BODY)
        status, headers, data = raw_exchange(port, request_head(port, len(body)), body)
        self.assertEqual(status, 200, data[:300])
        self.assertEqual(json.loads(data), {"TableNames": ["w_b"], "LastEvaluatedTableName": "w_b"})
        # same size, content that fails validation: answered by content, not 413
        prefix, suffix = b'{"TableName":"w_s","Item":{"pk":{"S":"a"},"p":{"S":"', b'"}}}'
        item_body = prefix + b"x" * (MAX_BODY - len(prefix) - len(suffix)) + suffix
        self.assertEqual(len(item_body), MAX_BODY)
        status, headers, data = raw_exchange(port, request_head(port, len(item_body), "DynamoDB_20120810.PutItem"),
                                             item_body)
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(data), {"__type": "com.amazon.coral.validate#ValidationException",
                                            "message": "Item size has exceeded the maximum allowed size"})

    # -- error bodies and CRC constants -------------------------------------------------

    def test_serialization_exception_constant(self):
        for body in (b"{", b"", b"nope", b'{"a":1'):
            r = self.raw("ListTables", body)
            self.assertEqual(r.status, 400)
            self.assertEqual(r.body, SER_BODY)
            self.assertEqual(r.headers.get("x-amz-crc32"), "3948637019")
            self.assertEqual(r.headers.get("content-type"), "application/x-amz-json-1.0")

    def test_unknown_operation_constant(self):
        for target in (None, "DynamoDB_20120810.Nope", "Nope.ListTables"):
            r = self.raw(target, {})
            self.assertEqual(r.status, 400)
            self.assertEqual(r.body, UNK_BODY)
            self.assertEqual(r.headers.get("x-amz-crc32"), "1368724161")

    def test_crc_on_success_and_errors(self):
        resps = [self.raw("ListTables", {}), self.raw("DescribeTable", {"TableName": "w_s"}),
                 self.raw("DescribeTable", {"TableName": "nope_nope"}), self.raw("GetItem", {"TableName": "w_s"}),
                 self.raw("PutItem", {"TableName": "w_s", "Item": {"pk": {"S": "crc \u00e9 \U0001F600"}}}),
                 self.raw("GetItem", {"TableName": "w_s", "Key": {"pk": {"S": "crc \u00e9 \U0001F600"}}})]
        for r in resps:
            self.assertTrue(crc32_ok(r), r)
        self.assertEqual(resps[-1].json["Item"]["pk"]["S"], "crc \u00e9 \U0001F600")

    def test_large_response_crc(self):
        item = {"pk": {"S": "large"}, "p": {"S": "\u00e9" * 200000}}
        self.assertEqual(self.raw("PutItem", {"TableName": "w_s", "Item": item}).status, 200)
        r = self.raw("GetItem", {"TableName": "w_s", "Key": {"pk": {"S": "large"}}})
        self.assertEqual(r.status, 200)
        self.assertTrue(crc32_ok(r))
        self.assertEqual(r.json["Item"], item)
        # botocore checks the CRC too
        self.assertEqual(self.ddb.get_item(TableName="w_s", Key={"pk": {"S": "large"}})["Item"], item)

    # -- headers -------------------------------------------------------------------------

    def test_response_headers(self):
        ids = set()
        for body, target in (({}, "ListTables"), ({"TableName": "nope_x"}, "DescribeTable"), (b"{", "ListTables")):
            r = self.raw(target, body)
            rid = r.headers.get("x-amzn-requestid")
            self.assertTrue(rid)
            ids.add(rid)
            self.assertEqual(r.headers.get("content-type"), "application/x-amz-json-1.0")
            self.assertEqual(int(r.headers.get("content-length")), len(r.body))
            self.assertIn("date", r.headers)
        self.assertEqual(len(ids), 3, "request ids must differ")

    def test_content_types(self):
        for ct in ("application/x-amz-json-1.0", "application/json", "application/json;charset=utf-8",
                   "application/x-amz-json-1.0; charset=UTF-8", "application/json; charset=UTF-8"):
            with self.subTest(ct=ct):
                r = self.raw("ListTables", {"Limit": 1}, headers={"Content-Type": ct})
                self.assertEqual(r.status, 200, r)
                self.assertEqual(r.json["TableNames"], ["w_b"])
                if ct.startswith("application/json"):
                    self.assertIn(r.headers.get("content-type"), ("application/x-amz-json-1.0", "application/json"))
                else:
                    self.assertEqual(r.headers.get("content-type"), "application/x-amz-json-1.0")

    def test_unicode_escapes(self):
        # botocore escapes non-ASCII as \\uXXXX with surrogate pairs; raw UTF-8 works too
        body = b'{"TableName":"w_s","Item":{"pk":{"S":"esc"},"v":{"S":"\\u00e9\\ud83d\\ude00\\u0000x"}}}'
        self.assertEqual(self.raw("PutItem", body).status, 200)
        r = self.raw("GetItem", {"TableName": "w_s", "Key": {"pk": {"S": "esc"}}})
        self.assertEqual(r.json["Item"]["v"]["S"], "\u00e9\U0001F600\u0000x")
        body = '{"TableName":"w_s","Item":{"pk":{"S":"utf8"},"v":{"S":"\u00e9\U0001F600"}}}'.encode()
        self.assertEqual(self.raw("PutItem", body).status, 200)
        r = self.raw("GetItem", {"TableName": "w_s", "Key": {"pk": {"S": "utf8"}}})
        self.assertEqual(r.json["Item"]["v"]["S"], "\u00e9\U0001F600")
        # broken input must not crash the daemon
        for bad in (b'{"TableName":"w_s","Item":{"pk":{"S":"\\ud83d"}}}', b'{"TableName":"w_s","Item":{"pk":{"S":"\xff\xfe"}}}'):
            r = self.raw("PutItem", bad)
            self.assertIn(r.status, (200, 400))
        self.assertTrue(self.daemon.running())

    def test_keep_alive(self):
        c = self.daemon.connection()
        port = self.daemon.port
        try:
            r = harness.raw_request(port, "ListTables", {}, conn=c)
            self.assertEqual(r.status, 200)
            sock = c.sock
            self.assertIsNotNone(sock, "server closed the connection after a 200")
            seq = [("ListTables", {}, 200), ("DescribeTable", {"TableName": "nope_ka"}, 400),
                   ("PutItem", {"TableName": "w_s", "Item": {"pk": {"S": "ka"}}}, 200),
                   ("GetItem", {"TableName": "w_s", "Key": {"pk": {"S": "ka"}}}, 200),
                   ("ListTables", b"{", 400), ("Nope", {}, 400),
                   ("GetItem", {"TableName": "w_s", "Key": {"pk": {"N": "1"}}}, 400)] * 3
            for target, body, status in seq:
                r = harness.raw_request(port, target, body, conn=c)
                self.assertEqual(r.status, status, (target, r))
                self.assertTrue(crc32_ok(r))
                self.assertIs(c.sock, sock, "connection was not kept alive after %s -> %d" % (target, status))
            c.request("GET", "/")
            r = c.getresponse()
            self.assertEqual(r.read(), HEALTH_BODY)
            self.assertIs(c.sock, sock)
        finally:
            c.close()

    def test_cors(self):
        h = {"Origin": "http://example.com"}
        for target, body in (("ListTables", {}), ("DescribeTable", {"TableName": "nope_cors"})):
            r = self.raw(target, body, headers=h)
            self.assertEqual(r.headers.get("access-control-allow-origin"), "*", r.headers)
        r = harness.raw_request(self.daemon.port, None, b"", method="OPTIONS",
                                headers={"Origin": "http://example.com", "Access-Control-Request-Method": "POST",
                                         "Access-Control-Request-Headers": "content-type,x-amz-target"},
                                drop=("Content-Type", "Authorization", "X-Amz-Date"))
        self.assertEqual(r.status, 200, r)
        self.assertEqual(r.body, b"")
        self.assertEqual(r.headers.get("access-control-allow-origin"), "*")
        self.assertEqual(r.headers.get("access-control-allow-headers"), "content-type,x-amz-target")
        self.assertEqual(r.headers.get("access-control-allow-methods"), "POST")
        self.assertIn(r.headers.get("access-control-max-age"), ("172800", "7200"))

    def test_many_connections(self):
        conns = [self.daemon.connection() for _ in range(50)]
        try:
            for c in conns:
                c.connect()
            for i, c in enumerate(conns):
                r = harness.raw_request(self.daemon.port, "GetItem",
                                        {"TableName": "w_s", "Key": {"pk": {"S": "mc%d" % i}}}, conn=c)
                self.assertEqual((r.status, r.json), (200, {}))
        finally:
            for c in conns:
                c.close()

    def test_expect_continue(self):
        # curl sends Expect: 100-continue for large bodies
        body = json.dumps({"TableName": "w_s", "Item": {"pk": {"S": "expect"}, "p": {"S": "z" * 300000}}}).encode()
        head = request_head(self.daemon.port, len(body), "DynamoDB_20120810.PutItem")
        head = head[:-2] + b"Expect: 100-continue\r\n\r\n"
        s = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=20 * SLOW)
        try:
            s.sendall(head)
            first = b""
            while b"\r\n\r\n" not in first:
                chunk = s.recv(4096)
                if not chunk:
                    break
                first += chunk
            self.assertTrue(first.startswith(b"HTTP/1.1 100"), first)
            s.sendall(body)
            resp = http.client.HTTPResponse(s)
            resp.begin()
            self.assertEqual((resp.status, resp.read()), (200, b"{}"))
        finally:
            s.close()
        r = self.raw("GetItem", {"TableName": "w_s", "Key": {"pk": {"S": "expect"}}})
        self.assertEqual(len(r.json["Item"]["p"]["S"]), 300000)

    def test_slow_client(self):
        # a request dribbled in small pieces is still answered
        body = json.dumps({"TableName": "w_s", "Key": {"pk": {"S": "slow"}}}).encode()
        head = request_head(self.daemon.port, len(body), "DynamoDB_20120810.GetItem")
        s = socket.create_connection(("127.0.0.1", self.daemon.port), timeout=20 * SLOW)
        try:
            for i in range(0, len(head + body), 7):
                s.sendall((head + body)[i:i + 7])
                time.sleep(0.005)
            resp = http.client.HTTPResponse(s)
            resp.begin()
            self.assertEqual((resp.status, resp.read()), (200, b"{}"))
        finally:
            s.close()


if __name__ == "__main__":
    unittest.main()
