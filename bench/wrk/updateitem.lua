-- UpdateItem: increment a counter on a random preloaded item under a
-- condition that holds (the item exists), asking for UPDATED_NEW;
-- dynafiled acknowledges it only after fsync. The answer must carry the new
-- counter. (The preloaded items have no counter: if_not_exists starts it.)
package.path = package.path .. ";" .. debug.getinfo(1, "S").source:sub(2):match("(.*/)") .. "?.lua"
op = "UpdateItem"
function make_body(i, j)
  return string.format('{"TableName":"bench","Key":{"pk":{"S":"p%05d"},"sk":{"S":"s%02d"}},' ..
    '"UpdateExpression":"SET #n = if_not_exists(#n, :zero) + :one",' ..
    '"ConditionExpression":"attribute_exists(pk)",' ..
    '"ExpressionAttributeNames":{"#n":"n"},' ..
    '"ExpressionAttributeValues":{":one":{"N":"1"},":zero":{"N":"0"}},' ..
    '"ReturnValues":"UPDATED_NEW"}', i, j or 0)
end
function check(body) return body:find('"Attributes"', 1, true) ~= nil end
require("common")
