-- PutItem of a 200-byte item at a random key (acknowledged after fsync).
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
op = "PutItem"
local pad = string.rep("x", 160)
function make_body(i)
  return string.format('{"TableName":"bench","Item":{"pk":{"S":"k%06d"},"n":{"N":"%d"},"pad":{"S":"%s"}}}', i, i, pad)
end
require("common")
