-- common.lua: shared by the wrk request scripts of `make bench`.
--
-- A script sets `op` (the DynamoDB operation), `make_body(i, j)` (the JSON
-- body for partition index i and sort index j) and optionally `check(body)`
-- (true when the answer is right), then requires this file. A script that
-- sends more than one operation defines `pick()` returning op, body, check
-- instead (see mix.lua), or `rest_path(i, j)` returning the path of a GET
-- on the /v1/ face (rest_get.lua).
--
-- Every answer is checked: a status other than 200, or a body that check()
-- rejects, counts as an error, and so do wrk's socket errors (connect, read,
-- write, timeout). done() prints one machine-readable line,
--   BENCH requests=N errors=E bad_status=S socket=K p50_us=A p99_us=B
-- and the caller reports a run with E + S + K > 0 as FAILED, not as fast.
--
-- Keys: partition key pk = "p%05d" over BENCH_PARTS partitions (default
-- 10000), sort key sk = "s%02d" over BENCH_SORTS sort keys (default 10), as
-- preload.py writes them. BENCH_KEYS, if set, stands for BENCH_PARTS (for
-- scripts of a single-key table that call make_body(i)).
local threads = {}
local counter = 0

function setup(thread)
  counter = counter + 1
  thread:set("id", counter)
  table.insert(threads, thread)
end

local function amz_headers(operation)
  return {
    ["Content-Type"] = "application/x-amz-json-1.0",
    ["X-Amz-Target"] = "DynamoDB_20120810." .. operation,
    ["X-Amz-Date"] = "20260101T000000Z",
    ["Authorization"] =
      "AWS4-HMAC-SHA256 Credential=bench/20260101/us-east-1/dynamodb/aws4_request, SignedHeaders=host, Signature=0",
  }
end

function init(args)
  errors = 0
  header_cache = {}
  nparts = tonumber(os.getenv("BENCH_PARTS") or os.getenv("BENCH_KEYS") or "10000")
  nsorts = tonumber(os.getenv("BENCH_SORTS") or "10")
  math.randomseed(id * 7919 + os.time())
  if op then
    for k, v in pairs(amz_headers(op)) do wrk.headers[k] = v end
  end
end

function request()
  if rest_path then -- a GET of the /v1/ face (rest_get.lua)
    return wrk.format("GET", rest_path(math.random(0, nparts - 1), math.random(0, nsorts - 1)))
  end
  if pick then
    local operation, body = pick(math.random(0, nparts - 1), math.random(0, nsorts - 1))
    local h = header_cache[operation]
    if not h then
      h = amz_headers(operation)
      h["Host"] = wrk.headers["Host"]
      header_cache[operation] = h
    end
    return wrk.format("POST", "/", h, body)
  end
  return wrk.format("POST", "/", nil, make_body(math.random(0, nparts - 1), math.random(0, nsorts - 1)))
end

function response(status, headers, body)
  if status ~= 200 or (check and not check(body)) then
    errors = errors + 1
  end
end

function done(summary, latency, requests)
  local e = 0
  for _, t in ipairs(threads) do e = e + t:get("errors") end
  local s = summary.errors
  io.write(string.format("BENCH requests=%d errors=%d bad_status=%d socket=%d p50_us=%d p99_us=%d\n",
    summary.requests, e, s.status, s.connect + s.read + s.write + s.timeout,
    latency:percentile(50), latency:percentile(99)))
end
