-- 90% GetItem / 10% PutItem over random preloaded keys. wrk hands response()
-- no trace of the request, so the check accepts either right answer: a
-- GetItem answer holding the whole item, or PutItem's {}.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
local data = string.rep("m", 183)
function pick(i, j)
  if math.random(1, 10) == 1 then
    return "PutItem", string.format(
      '{"TableName":"bench","Item":{"pk":{"S":"p%05d"},"sk":{"S":"s%02d"},"data":{"S":"%s"}}}', i, j, data)
  end
  return "GetItem", string.format('{"TableName":"bench","Key":{"pk":{"S":"p%05d"},"sk":{"S":"s%02d"}}}', i, j)
end
function check(body)
  return (#body > 200 and body:find('"Item"', 1, true) ~= nil) or body:match("^%s*{%s*}%s*$") ~= nil
end
require("common")
