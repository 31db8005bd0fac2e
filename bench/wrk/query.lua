-- Query of one random partition (KeyConditionExpression pk = :p): the answer
-- must carry Count 10, all ten preloaded items of that partition.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
op = "Query"
function make_body(i, j)
  return string.format('{"TableName":"bench","KeyConditionExpression":"pk = :p",' ..
    '"ExpressionAttributeValues":{":p":{"S":"p%05d"}}}', i)
end
local want = tonumber(os.getenv("BENCH_SORTS") or "10")
function check(body)
  local n = body:match('"Count"%s*:%s*(%d+)')
  return n ~= nil and tonumber(n) == want
end
require("common")
