-- GetItem of a random preloaded item (pk, sk); the answer must hold the
-- whole item (its 183-byte data attribute included).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
op = "GetItem"
function make_body(i, j)
  return string.format('{"TableName":"bench","Key":{"pk":{"S":"p%05d"},"sk":{"S":"s%02d"}}}', i, j)
end
function check(body) return #body > 200 and body:find('"Item"', 1, true) ~= nil end
require("common")
