-- PutItem of a 200-byte item over a random preloaded key (the data set keeps
-- its size); dynafiled acknowledges it only after fsync. The answer must be {}.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
op = "PutItem"
local data = string.rep("w", 183)
function make_body(i, j)
  return string.format('{"TableName":"bench","Item":{"pk":{"S":"p%05d"},"sk":{"S":"s%02d"},"data":{"S":"%s"}}}',
    i, j or 0, data)
end
function check(body) return body:match("^%s*{%s*}%s*$") ~= nil end
require("common")
