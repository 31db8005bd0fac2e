-- common.lua: shared by the wrk scripts. Each script sets `make_body(i)` and
-- `op`; responses other than 200 are counted as errors and reported by done(),
-- so a run with errors is reported as failed, not as fast.
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

function init(args)
  errors = 0
  nkeys = tonumber(os.getenv("BENCH_KEYS") or "100000")
  math.randomseed(id * 7919 + os.time())
  wrk.headers["Content-Type"] = "application/x-amz-json-1.0"
  wrk.headers["X-Amz-Target"] = "DynamoDB_20120810." .. op
  wrk.headers["X-Amz-Date"] = "20260101T000000Z"
  wrk.headers["Authorization"] =
    "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0"
end

function request()
  return wrk.format("POST", "/", nil, make_body(math.random(0, nkeys - 1)))
end

function response(status, headers, body)
  if status ~= 200 or (check and not check(body)) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local e = 0
  for _, t in ipairs(threads) do e = e + t:get("errors") end
  io.write(string.format("BENCH requests=%d errors=%d bad_status=%d p50_us=%d p99_us=%d\n",
    summary.requests, e, summary.errors.status, latency:percentile(50), latency:percentile(99)))
end
