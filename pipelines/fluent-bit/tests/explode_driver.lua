-- Test driver for nsgflow_explode.lua under LuaJIT: reads NDJSON values on stdin (each a
-- line Fluent Bit's tail + json parser would turn into a Lua table), calls the filter the
-- way filter_lua does, and prints one JSON line per returned record, prefixed by the
-- return code: "<code>\t<json>".
-- usage: luajit explode_driver.lua path/to/nsgflow_explode.lua < input.ndjson
local cjson = require("cjson")
cjson.encode_sparse_array(true)
dofile(arg[1])
for line in io.lines() do
  if line:match("%S") then
    local record = cjson.decode(line)
    local code, ts, out = nsgflow_explode("azure.flow", 1700000000.5, record)
    if code == 2 then
      for _, r in ipairs(out) do
        io.write("2\t", cjson.encode(r), "\n")
      end
    else
      io.write(tostring(code), "\t", cjson.encode(out), "\n")
    end
  end
end
