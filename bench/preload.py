#!/usr/bin/python3
"""preload.py PORT TABLE N [THREADS]: PutItem N 200-byte items k000000.. into
TABLE over keep-alive connections, fail on any non-200, print items/s."""
import http.client, json, sys, threading, time

HDR = {
    "Content-Type": "application/x-amz-json-1.0",
    "X-Amz-Target": "DynamoDB_20120810.PutItem",
    "X-Amz-Date": "20260101T000000Z",
    "Authorization": "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, "
                     "SignedHeaders=host, Signature=0",
}

def worker(port, table, lo, hi, errors):
    c = http.client.HTTPConnection("127.0.0.1", port)
    for i in range(lo, hi):
        body = json.dumps({"TableName": table, "Item": {"pk": {"S": "k%06d" % i}, "n": {"N": str(i)},
                                                        "pad": {"S": "x" * 160}}})
        c.request("POST", "/", body, HDR)
        r = c.getresponse()
        r.read()
        if r.status != 200:
            errors.append(r.status)

def main():
    port, table, n = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
    nt = int(sys.argv[4]) if len(sys.argv) > 4 else 16
    errors, ts = [], []
    t0 = time.time()
    for k in range(nt):
        lo, hi = n * k // nt, n * (k + 1) // nt
        t = threading.Thread(target=worker, args=(port, table, lo, hi, errors))
        t.start()
        ts.append(t)
    for t in ts:
        t.join()
    dt = time.time() - t0
    if errors:
        sys.exit("preload: %d errors" % len(errors))
    print("preload: %d items in %.2fs = %.0f items/s" % (n, dt, n / dt))

main()
