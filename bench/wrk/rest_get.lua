-- GET /v1/tables/bench/items/<pk>/<sk> of a random preloaded item on the
-- plain-JSON face; the answer must hold the whole item.
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
function rest_path(i, j)
  return string.format("/v1/tables/bench/items/p%05d/s%02d", i, j)
end
function check(body) return #body > 200 and body:find('"item"', 1, true) ~= nil end
require("common")
