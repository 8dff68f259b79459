-- nsgflow_explode.lua: Fluent Bit Lua filter that explodes Azure NSG / VNet flow-log
-- records into one record per flow tuple (a "split-tuple record"), for the nsgflow
-- filter_wasm functions to label, classify and shape (nsgflow_tuple_flat/ecs/splunk/ocsf).
--
-- Input (what tail + the json parser hand to Lua): a whole blob line {"records":[...]}
-- (Azure writes an hour as one line), or one record per line (NDJSON).
-- Output: return 2, timestamp, {split records...} (Fluent Bit keeps the timestamp).
--
-- A split-tuple record is the record's own top-level fields (time, category, resourceId,
-- macAddress, systemId, flowLogVersion, flowLogResourceID, targetResourceID, ...; not
-- properties / flowRecords) plus:
--   tuple   the tuple string              rule   the flow group's rule
--   version NSG properties.Version        mac    the NSG flow group's mac
--   aclID   the VNet flow's aclID
-- Nothing disappears: a record that is not a flow log comes out once, its fields kept,
-- with an `nsgflow_error` field saying why.
--
-- Fluent Bit config:
--   - name: lua
--     match: azure.flow
--     script: nsgflow_explode.lua
--     call: nsgflow_explode

local HEADER_SKIP = { properties = true, flowRecords = true, records = true }

local function base_of(rec)
  local base = {}
  for k, v in pairs(rec) do
    if not HEADER_SKIP[k] then
      base[k] = v
    end
  end
  return base
end

local function copy(t)
  local c = {}
  for k, v in pairs(t) do
    c[k] = v
  end
  return c
end

local function list(v)
  if type(v) == "table" then
    return v
  end
  return {}
end

local function error_record(rec, why)
  local r = base_of(rec)
  r.nsgflow_error = why
  return r
end

-- Appends one split-tuple record per tuple of `group` to `out`: `base` plus the keys of
-- `extra` (a table of key -> value) plus `tuple`.
local function emit(out, base, group, extra)
  for _, tuple in ipairs(list(group.flowTuples)) do
    local r = copy(base)
    for k, v in pairs(extra) do
      r[k] = v
    end
    r.tuple = tuple
    out[#out + 1] = r
  end
end

-- Appends the split-tuple records of one flow-log record to `out`.
local function explode_record(rec, out)
  if type(rec) ~= "table" then
    out[#out + 1] = { nsgflow_error = "not_a_flow_log: a `records` element that is not an object" }
    return
  end
  local props, flow_records = rec.properties, rec.flowRecords
  if type(props) == "table" then
    local base = base_of(rec)
    for _, rule in ipairs(list(props.flows)) do
      for _, group in ipairs(list(type(rule) == "table" and rule.flows)) do
        if type(group) == "table" then
          emit(out, base, group, { version = props.Version, rule = rule.rule, mac = group.mac })
        end
      end
    end
  elseif type(flow_records) == "table" then
    local base = base_of(rec)
    for _, acl in ipairs(list(flow_records.flows)) do
      for _, group in ipairs(list(type(acl) == "table" and acl.flowGroups)) do
        if type(group) == "table" then
          emit(out, base, group, { aclID = acl.aclID, rule = group.rule })
        end
      end
    end
  elseif rec.records ~= nil then
    out[#out + 1] = error_record(rec, "nested_records: a `records` array inside a record (the Microsoft docs sample bug), not Azure output")
  else
    out[#out + 1] = error_record(rec, "not_a_flow_log: neither `properties` (NSG flow log) nor `flowRecords` (VNet flow log)")
  end
end

function nsgflow_explode(tag, timestamp, record)
  local out = {}
  local records = record.records
  if type(records) == "table" and record.properties == nil and record.flowRecords == nil then
    for _, rec in ipairs(records) do
      explode_record(rec, out)
    end
  else
    explode_record(record, out)
  end
  if #out == 0 then
    -- A blob or record with no tuples (e.g. rules with "flows": []): nothing to emit.
    return -1, timestamp, record
  end
  return 2, timestamp, out
end
