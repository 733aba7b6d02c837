#!/usr/bin/env bash
# One long fuzz run: `bash fuzz/run.sh TARGET [SECONDS]` (default 1800) with the seed corpus,
# at the lowest CPU priority. Prints the Markdown row recorded in fuzz/README.md.
set -euo pipefail
cd "$(dirname "$0")"
target=$1
secs=${2:-1800}
[ -d corpus/$target ] || bash seed.sh >/dev/null
mkdir -p logs
log=logs/$target.log
started=$(date -u +%FT%TZ)
nice -n 19 cargo fuzz run --sanitizer none -O "$target" "corpus/$target" -- \
  -max_total_time="$secs" -rss_limit_mb=4096 -timeout=30 -print_final_stats=1 >"$log" 2>&1 || true
execs=$(grep -o 'stat::number_of_executed_units: *[0-9]*' "$log" | grep -o '[0-9]*$' | tail -1)
last=$(grep -E '^#[0-9]+' "$log" | tail -1)
cov=$(echo "$last" | grep -o 'cov: [0-9]*' | grep -o '[0-9]*')
ft=$(echo "$last" | grep -o 'ft: [0-9]*' | grep -o '[0-9]*')
corp=$(echo "$last" | grep -o 'corp: [0-9]*' | grep -o '[0-9]*')
crashes=$(ls artifacts/$target 2>/dev/null | wc -l)
rate=$(( ${execs:-0} / secs ))
echo "| \`$target\` | $started | $secs s | ${execs:-?} ($rate/s) | ${cov:-?} edges, ${ft:-?} features | ${corp:-?} | $crashes |"
