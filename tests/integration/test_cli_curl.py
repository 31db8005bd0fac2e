"""test_cli_curl.py -- the AWS CLI (/usr/bin/aws, Debian awscli 2.9) and curl
against a real dynafiled: the table and item commands a user would type.
"""

import json
import os
import subprocess
import tempfile
import unittest
import zlib

from harness import DaemonTestCase, SLOW

AWS = "/usr/bin/aws"
CURL = "/usr/bin/curl"


class CliTest(DaemonTestCase):

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.tmp = tempfile.mkdtemp(prefix="dynafile-cli-")
        cls.env = dict(os.environ, AWS_ACCESS_KEY_ID="AKIDEXAMPLE", AWS_SECRET_ACCESS_KEY="secret",
                       AWS_DEFAULT_REGION="us-east-1", AWS_REGION="us-east-1", AWS_PAGER="",
                       AWS_CONFIG_FILE=os.path.join(cls.tmp, "config"),
                       AWS_SHARED_CREDENTIALS_FILE=os.path.join(cls.tmp, "credentials"),
                       AWS_CLI_AUTO_PROMPT="off", AWS_MAX_ATTEMPTS="1")
        cls.env.pop("AWS_PROFILE", None)
        cls.env.pop("AWS_SESSION_TOKEN", None)

    @classmethod
    def tearDownClass(cls):
        import shutil
        shutil.rmtree(cls.tmp, ignore_errors=True)
        super().tearDownClass()

    def aws(self, *args, ok=True):
        argv = [AWS, "--endpoint-url", self.daemon.endpoint, "--output", "json", "dynamodb"] + list(args)
        p = subprocess.run(argv, env=self.env, capture_output=True, text=True, timeout=60 * SLOW)
        if ok:
            self.assertEqual(p.returncode, 0, "aws %s failed: %s" % (" ".join(args), p.stderr))
            return json.loads(p.stdout) if p.stdout.strip() else {}
        return p

    def curl(self, target, body, *extra):
        argv = [CURL, "-s", "-S", "-i", "-X", "POST", "http://127.0.0.1:%d/" % self.daemon.port]
        if target:
            argv += ["-H", "X-Amz-Target: DynamoDB_20120810." + target]
        argv += ["-H", "Content-Type: application/x-amz-json-1.0",
                 "-H", "Authorization: AWS4-HMAC-SHA256 Credential=x/20240101/us-east-1/dynamodb/aws4_request, "
                       "SignedHeaders=host, Signature=00",
                 "-H", "X-Amz-Date: 20240101T000000Z", "-d", body] + list(extra)
        p = subprocess.run(argv, capture_output=True, timeout=30 * SLOW)
        self.assertEqual(p.returncode, 0, p.stderr)
        return self.parse_http(p.stdout)

    def parse_http(self, out):
        head, _, body = out.partition(b"\r\n\r\n")
        lines = head.decode().split("\r\n")
        status = int(lines[0].split()[1])
        headers = {}
        for ln in lines[1:]:
            k, _, v = ln.partition(":")
            headers[k.strip().lower()] = v.strip()
        return status, headers, body

    def test_cli_table_and_items(self):
        t = "cli_table"
        r = self.aws("create-table", "--table-name", t,
                     "--attribute-definitions", "AttributeName=pk,AttributeType=S", "AttributeName=sk,AttributeType=N",
                     "--key-schema", "AttributeName=pk,KeyType=HASH", "AttributeName=sk,KeyType=RANGE",
                     "--billing-mode", "PAY_PER_REQUEST")
        self.assertEqual(r["TableDescription"]["TableName"], t)
        self.aws("wait", "table-exists", "--table-name", t)
        d = self.aws("describe-table", "--table-name", t)["Table"]
        self.assertEqual(d["TableStatus"], "ACTIVE")
        self.assertEqual(d["KeySchema"], [{"AttributeName": "pk", "KeyType": "HASH"},
                                          {"AttributeName": "sk", "KeyType": "RANGE"}])
        self.assertIn(t, self.aws("list-tables")["TableNames"])
        item = {"pk": {"S": "user#1"}, "sk": {"N": "1.50"}, "tags": {"SS": ["b", "a"]},
                "blob": {"B": "AAEC/w=="}, "doc": {"M": {"x": {"L": [{"BOOL": True}, {"NULL": True}]}}}}
        r = self.aws("put-item", "--table-name", t, "--item", json.dumps(item),
                     "--return-consumed-capacity", "TOTAL")
        self.assertEqual(r["ConsumedCapacity"], {"TableName": t, "CapacityUnits": 1.0})
        got = self.aws("get-item", "--table-name", t, "--key", json.dumps({"pk": {"S": "user#1"}, "sk": {"N": "1.5"}}),
                       "--consistent-read")["Item"]
        want = dict(item, sk={"N": "1.5"}, tags={"SS": ["a", "b"]})
        self.assertEqual(got, want)
        r = self.aws("delete-item", "--table-name", t, "--key", json.dumps({"pk": {"S": "user#1"}, "sk": {"N": "1.5"}}),
                     "--return-values", "ALL_OLD")
        self.assertEqual(r["Attributes"], want)
        self.assertEqual(self.aws("get-item", "--table-name", t,
                                  "--key", json.dumps({"pk": {"S": "user#1"}, "sk": {"N": "1.5"}})), {})
        r = self.aws("delete-table", "--table-name", t)
        self.assertEqual(r["TableDescription"]["TableStatus"], "DELETING")
        self.aws("wait", "table-not-exists", "--table-name", t)
        self.assertNotIn(t, self.aws("list-tables")["TableNames"])

    def test_cli_errors(self):
        p = self.aws("describe-table", "--table-name", "cli_missing", ok=False)
        self.assertNotEqual(p.returncode, 0)
        self.assertIn("ResourceNotFoundException", p.stderr)
        self.assertIn("Requested resource not found: Table: cli_missing not found", p.stderr)
        p = self.aws("put-item", "--table-name", "cli_missing", "--item", '{"pk":{"S":"a"}}', ok=False)
        self.assertIn("ResourceNotFoundException", p.stderr)
        p = self.aws("put-item", "--table-name", "cli_missing", "--item", '{"pk":{"N":"x"}}', ok=False)
        self.assertIn("ValidationException", p.stderr)
        self.assertIn("The parameter cannot be converted to a numeric value: x", p.stderr)

    def test_cli_list_tables_pagination(self):
        names = ["cli_page_%02d" % i for i in range(7)]
        for n in names:
            self.aws("create-table", "--table-name", n, "--attribute-definitions", "AttributeName=k,AttributeType=B",
                     "--key-schema", "AttributeName=k,KeyType=HASH", "--billing-mode", "PAY_PER_REQUEST")
        # the CLI follows LastEvaluatedTableName itself
        r = self.aws("list-tables", "--page-size", "2")
        self.assertEqual([x for x in r["TableNames"] if x.startswith("cli_page_")], names)
        r = self.aws("list-tables", "--max-items", "3")
        self.assertEqual(len(r["TableNames"]), 3)

    def test_curl_list_tables(self):
        self.make_table("curl_table")
        status, headers, body = self.curl("ListTables", "{}")
        self.assertEqual(status, 200)
        self.assertIn("curl_table", json.loads(body)["TableNames"])
        self.assertEqual(headers.get("content-type"), "application/x-amz-json-1.0")
        self.assertEqual(headers.get("x-amz-crc32"), str(zlib.crc32(body)))
        self.assertTrue(headers.get("x-amzn-requestid"))

    def test_curl_items(self):
        self.make_table("curl_items")
        status, _, body = self.curl("PutItem", '{"TableName":"curl_items","Item":{"pk":{"S":"c"},"n":{"N":"1e3"}}}')
        self.assertEqual((status, body), (200, b"{}"))
        status, _, body = self.curl("GetItem", '{"TableName":"curl_items","Key":{"pk":{"S":"c"}}}')
        self.assertEqual(status, 200)
        self.assertEqual(json.loads(body), {"Item": {"pk": {"S": "c"}, "n": {"N": "1000"}}})
        status, _, body = self.curl("DescribeTable", '{"TableName":"nope_curl"}')
        self.assertEqual(status, 400)
        self.assertEqual(json.loads(body), {"__type": "com.amazonaws.dynamodb.v20120810#ResourceNotFoundException",
                                            "message": "Requested resource not found: Table: nope_curl not found"})

    def test_curl_health_and_errors(self):
        p = subprocess.run([CURL, "-s", "-S", "-i", "http://127.0.0.1:%d/" % self.daemon.port],
                           capture_output=True, timeout=30 * SLOW)
        status, headers, body = self.parse_http(p.stdout)
        self.assertEqual((status, body), (200, b"healthy: dynamodb.us-east-1.amazonaws.com "))
        status, _, body = self.curl("ListTables", "{")
        self.assertEqual((status, body), (400, b'{"__type":"com.amazon.coral.service#SerializationException"}'))
        status, _, body = self.curl(None, "{}")
        self.assertEqual((status, body), (400, b'{"__type":"com.amazon.coral.service#UnknownOperationException"}'))
        # curl's default form content type -> 404
        p = subprocess.run([CURL, "-s", "-S", "-i", "-X", "POST", "-d", "{}", "-H", "X-Amz-Target: DynamoDB_20120810.ListTables",
                            "http://127.0.0.1:%d/" % self.daemon.port], capture_output=True, timeout=30 * SLOW)
        status, _, body = self.parse_http(p.stdout)
        self.assertEqual((status, body), (404, b"<UnknownOperationException/>\n"))


if __name__ == "__main__":
    unittest.main()
