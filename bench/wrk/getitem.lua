-- GetItem of a random preloaded key; the answer must hold the item.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
op = "GetItem"
function make_body(i)
  return string.format('{"TableName":"bench","Key":{"pk":{"S":"k%06d"}}}', i)
end
function check(body) return body:find('"Item"', 1, true) ~= nil end
require("common")
