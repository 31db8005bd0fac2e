#!/usr/bin/python3
"""cg_load.py -- the load of bench/cg_requests.sh: DynamoDB requests one at a
time over one keep-alive connection, every answer checked (status 200).

Usage: cg_load.py PORT setup        create table "bench" (pk, sk strings) and
                                    write 200 x 10 items of 200 bytes
       cg_load.py PORT N put|get|query   N PutItem / GetItem / Query (one
                                    partition, 10 items) over those keys
"""
import http.client
import json
import sys

HEADERS = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Date": "20260101T000000Z",
    "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, "
                     "SignedHeaders=host, Signature=0",
}
DATA = "w" * 183


def main():
    port = int(sys.argv[1])
    conn = http.client.HTTPConnection("127.0.0.1", port)

    def call(op, body):
        h = dict(HEADERS)
        h["X-Amz-Target"] = "DynamoDB_20120810." + op
        conn.request("POST", "/", body=body, headers=h)
        r = conn.getresponse()
        d = r.read()
        if r.status != 200:
            raise SystemExit("%s: HTTP %d %s" % (op, r.status, d[:200]))

    if sys.argv[2] == "setup":
        call("CreateTable", json.dumps({
            "TableName": "bench",
            "AttributeDefinitions": [{"AttributeName": "pk", "AttributeType": "S"},
                                     {"AttributeName": "sk", "AttributeType": "S"}],
            "KeySchema": [{"AttributeName": "pk", "KeyType": "HASH"},
                          {"AttributeName": "sk", "KeyType": "RANGE"}],
            "BillingMode": "PAY_PER_REQUEST"}))
        for i in range(200):
            reqs = [{"PutRequest": {"Item": {"pk": {"S": "p%05d" % i}, "sk": {"S": "s%02d" % j},
                                             "data": {"S": DATA}}}} for j in range(10)]
            call("BatchWriteItem", json.dumps({"RequestItems": {"bench": reqs}}))
        return
    n, op = int(sys.argv[2]), sys.argv[3]
    bodies = []
    for k in range(n):
        i, j = k % 200, k % 10
        if op == "put":
            bodies.append(("PutItem", '{"TableName":"bench","Item":{"pk":{"S":"p%05d"},"sk":{"S":"s%02d"},'
                                      '"data":{"S":"%s"}}}' % (i, j, DATA)))
        elif op == "get":
            bodies.append(("GetItem", '{"TableName":"bench","Key":{"pk":{"S":"p%05d"},"sk":{"S":"s%02d"}}}'
                           % (i, j)))
        elif op == "query":
            bodies.append(("Query", '{"TableName":"bench","KeyConditionExpression":"pk = :p",'
                                    '"ExpressionAttributeValues":{":p":{"S":"p%05d"}}}' % i))
        else:
            raise SystemExit("unknown operation " + op)
    for o, b in bodies:
        call(o, b)


if __name__ == "__main__":
    main()
