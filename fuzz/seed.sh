#!/usr/bin/env bash
# Seeds each fuzz target's corpus (fuzz/corpus/<target>/, not committed) from the
# repository's fixtures and, when present, ../shared/samples. Run from anywhere.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
root="$(dirname "$here")"
shared="${NSGFLOW_SHARED:-$root/../shared}/samples"
corpus="$here/corpus"
fix="$root/tests/fixtures"

seed() { # target, files...
  local t="$1"; shift
  mkdir -p "$corpus/$t"
  for f in "$@"; do
    [ -f "$f" ] || continue
    # Seeds above 256 KiB slow every execution; libFuzzer cuts inputs at -max_len anyway.
    if [ "$(stat -c %s "$f")" -le 262144 ]; then
      cp "$f" "$corpus/$t/$(basename "$f")"
    fi
  done
}

flow_logs=( "$fix"/*.json "$fix"/*.ndjson "$fix"/azure-layout/*/*.json )
[ -d "$shared" ] && flow_logs+=( "$shared"/*.json "$shared"/*.ndjson )
mapfile -t layout_blobs < <(find "$fix/azure-layout" -name '*.json' 2>/dev/null)
flow_logs+=( "${layout_blobs[@]}" )

seed json_scanner "${flow_logs[@]}"
seed record_walker "${flow_logs[@]}"
seed filter_wasm "${flow_logs[@]}"
# What filter_wasm really gets: flat events (nsgflow_flat_to_*) and split-tuple records
# (nsgflow_tuple_*, as the Lua explode writes them).
i=0
for f in "$root"/tests/golden/*.flat.ndjson; do
  head -5 "$f" | while IFS= read -r line; do
    printf '%s' "$line" > "$corpus/filter_wasm/flat-$(basename "$f" .ndjson)-$RANDOM"
  done
done
printf '%s' '{"time":"2018-11-13T12:00:35.3899262Z","category":"NetworkSecurityGroupFlowEvent","version":2,"rule":"DefaultRule_AllowInternetOutBound","mac":"000D3AF87856","tuple":"1542110379,10.5.16.4,13.67.143.117,59932,443,T,O,A,E,1,66,1,66"}' > "$corpus/filter_wasm/split-nsg-v2"
printf '%s' '{"category":"X","nsgflow_error":"not_a_flow_log: a `records` element that is not an object"}' > "$corpus/filter_wasm/lua-dead-letter"

# Single tuples, one per line of the fixtures.
mkdir -p "$corpus/tuple_parser"
i=0
grep -ohE '"[0-9]{10}[^"]*"' "$fix"/*.json | tr -d '"' | sort -u | head -200 | while read -r t; do
  printf '%s' "$t" > "$corpus/tuple_parser/t$i"; i=$((i+1))
done
[ -f "$shared/msdocs-bandwidth-example-tuples.txt" ] && cp "$shared/msdocs-bandwidth-example-tuples.txt" "$corpus/tuple_parser/"

seed threat_feeds $(find "$fix/enrichment" -type f ! -name "*.yaml" 2>/dev/null)
seed yaml_config "$root/docs/config.example.yaml" "$root/docs/topology.example.yaml" \
  "$root"/pipelines/fluent-bit/exec-wasi/*/nsgflow.yaml $(find "$fix/enrichment" -name '*.yaml' 2>/dev/null)

# Blob Storage XML answers as Azure sends them.
mkdir -p "$corpus/blob_xml"
cat > "$corpus/blob_xml/list.xml" <<'XML'
<?xml version="1.0" encoding="utf-8"?><EnumerationResults ServiceEndpoint="https://a.blob.core.windows.net/" ContainerName="insights-logs-flowlogflowevent"><Prefix>flowLogResourceID=/</Prefix><Delimiter>/</Delimiter><Blobs><BlobPrefix><Name>flowLogResourceID=/SUB/</Name></BlobPrefix><Blob><Name>a/b&amp;c/PT1H.json</Name><Properties><Etag>0x8DC</Etag><Content-Length>1234</Content-Length></Properties></Blob></Blobs><NextMarker>2!abc</NextMarker></EnumerationResults>
XML
cat > "$corpus/blob_xml/blocks.xml" <<'XML'
<?xml version="1.0" encoding="utf-8"?><BlockList><CommittedBlocks><Block><Name>MDAwMDA=</Name><Size>12</Size></Block><Block><Name>MDAwMDE=</Name><Size>2042</Size></Block><Block><Name>MDAwMDI=</Name><Size>2</Size></Block></CommittedBlocks><UncommittedBlocks /></BlockList>
XML

mkdir -p "$corpus/block_planner"
printf '\x03\x00\x0c\x01\xfa\x00\x0c\x01\xfa\x02\x02' > "$corpus/block_planner/append"
printf '\x02\x00\x0c\x01\xfa\x05\x0c\x01\xfa' > "$corpus/block_planner/rewrite"

mkdir -p "$corpus/blob_checkpoint"
printf '%s' '{"version":1,"container":"c","blob":"a/PT1H.json","etag":"0x8DC","offset":2056,"records":3,"blocks":[{"id":"MDAwMDA=","size":12,"hash":"00"},{"id":"MDAwMDE=","size":2044,"hash":"11"}]}' > "$corpus/blob_checkpoint/cp.json"

mkdir -p "$corpus/local_checkpoint"
printf '%s' '{"version":1,"files":{"/data/PT1H.json":{"offset":400,"head":0,"head_len":12,"blob":true,"next_record":1}}}' > "$corpus/local_checkpoint/cp.json"
printf '%s' '{"version":1,"files":{"a":{"offset":5,"head":1,"head_len":5,"blob":false,"next_record":0}}}' > "$corpus/local_checkpoint/ndjson.json"

# Real state files (a detection state written by `nsgflow process --detect --detect-state`
# over the fixtures; tail's stored walk, plan and heartbeat, each after the byte that picks it).
for d in "$here"/seeds/*/; do
  mkdir -p "$corpus/$(basename "$d")"
  cp "$d"* "$corpus/$(basename "$d")/"
done

# Inputs that once crashed a target (fixed, each with a regression test): kept as seeds so
# the fuzzer starts from them.
for d in "$here"/regressions/*/; do
  [ -d "$d" ] || continue
  mkdir -p "$corpus/$(basename "$d")"
  cp "$d"* "$corpus/$(basename "$d")/"
done

for d in "$corpus"/*/; do
  printf '%-18s %s seeds\n' "$(basename "$d")" "$(find "$d" -type f | wc -l)"
done
