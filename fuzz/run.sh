#!/usr/bin/env bash
# Fuzzes every target in turn, one process at a time, niced (the machine is shared), then prints per
# target: executions, coverage (libFuzzer's `cov`, edges) and crashes (files in
# artifacts/<target>/).
#
#   fuzz/run.sh runs 10000000    # the campaign: 10 M executions per target
#   fuzz/run.sh time 20          # CI: 20 s per target, so regressions surface
#
# Needs the nightly toolchain and cargo-fuzz (`rustup toolchain install nightly`,
# `cargo install cargo-fuzz`). Built without a sanitizer (`-s none`): the code is safe
# Rust, so what the fuzzer looks for is panics, overflows (debug assertions are on),
# endless loops and blow-ups.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here"
mode="${1:-time}"
amount="${2:-20}"
targets="${TARGETS:-json_scanner record_walker tuple_parser threat_feeds yaml_config blob_xml block_planner blob_checkpoint local_checkpoint filter_wasm tail_state detect_state}"

./seed.sh >/dev/null
cargo +nightly fuzz build -s none >/dev/null

status=0
printf '%-18s %12s %8s %8s %s\n' target executions cov ft crashes
for t in $targets; do
  log="$here/artifacts/$t.log"
  mkdir -p "$here/artifacts/$t"
  case "$mode" in
    # With MAX_TIME set, a target also stops after that many seconds (whichever first).
    runs) limit="-runs=$amount${MAX_TIME:+ -max_total_time=$MAX_TIME}" ;;
    time) limit="-max_total_time=$amount" ;;
    *) echo "usage: $0 runs N | time SECONDS" >&2; exit 2 ;;
  esac
  # Inputs up to 8 KiB (MAX_LEN): a few records of a blob, fast enough on a shared 2-core
  # machine (the scanner, cheap per byte, gets 64 KiB).
  max_len=${MAX_LEN:-8192}
  [ "$t" = json_scanner ] && max_len=65536
  set +e
  nice -n 10 cargo +nightly fuzz run -s none "$t" -- \
    $limit -max_len=$max_len -timeout=10 -rss_limit_mb=2048 \
    -print_final_stats=1 >"$log" 2>&1
  rc=$?
  set -e
  execs=$(grep -oE 'stat::number_of_executed_units: *[0-9]+' "$log" | grep -oE '[0-9]+$' | tail -1)
  # A stop by crash prints no final stats: take the last status line's count.
  [ -n "$execs" ] || execs=$(grep -oE '^#[0-9]+' "$log" | tail -1 | tr -d '#')
  cov=$(grep -oE 'cov: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  ft=$(grep -oE 'ft: [0-9]+' "$log" | tail -1 | grep -oE '[0-9]+')
  crashes=$(find "$here/artifacts/$t" -type f \( -name 'crash-*' -o -name 'timeout-*' -o -name 'oom-*' -o -name 'leak-*' \) | wc -l)
  printf '%-18s %12s %8s %8s %s\n' "$t" "${execs:-?}" "${cov:-?}" "${ft:-?}" "$crashes"
  if [ "$rc" -ne 0 ] || [ "$crashes" -ne 0 ]; then
    status=1
    echo "  $t failed (exit $rc): see $log" >&2
    grep -m5 -E 'panicked|ERROR|SUMMARY' "$log" >&2 || true
  fi
done
exit $status
