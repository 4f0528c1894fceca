#!/usr/bin/env bash
# simulate -> ingest -> dump -> ingest elsewhere -> dump gives identical output;
# ingesting the same data twice leaves one point per key (merged), in dump and stats.
set -euo pipefail
T=$(mktemp -d "${VG_TEST_TMP:-/tmp}/e2e-roundtrip.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$T"' EXIT
"$VIGIL" simulate --seed 7 --duration 20m > "$T/sim.lp"
"$VIGIL" ingest "$T/a" "$T/sim.lp" > "$T/ingest.out"
grep -q " 0 rows rejected" "$T/ingest.out"
tables="llm_request tool_call eval_result"
for t in $tables; do "$VIGIL" dump "$T/a" "$t"; done > "$T/a.lp"
"$VIGIL" ingest "$T/b" "$T/a.lp" > /dev/null
for t in $tables; do "$VIGIL" dump "$T/b" "$t"; done > "$T/b.lp"
cmp "$T/a.lp" "$T/b.lp"
[ "$(wc -l < "$T/a.lp")" -gt 100 ]
# duplicates: the same batch again merges into the stored points
rows_before=$("$VIGIL" dump "$T/a" llm_request | wc -l)
"$VIGIL" ingest "$T/a" "$T/sim.lp" > /dev/null
rows_after=$("$VIGIL" dump "$T/a" llm_request | wc -l)
[ "$rows_before" = "$rows_after" ]
"$VIGIL" stats "$T/a" | grep -A1 "^table llm_request" | grep -q "rows $rows_after "
# a point rewritten after sealing: fields merge, the new value wins
"$VIGIL" dump "$T/a" llm_request > "$T/all.lp"
sed -n 1p "$T/all.lp" > "$T/one.lp"
ts=$(awk '{print $NF}' "$T/one.lp")
key=$(awk '{print $1}' "$T/one.lp")
printf '%s quality=0.123456,extra=1i %s\n' "$key" "$ts" | "$VIGIL" ingest "$T/a" - > /dev/null
"$VIGIL" dump "$T/a" llm_request | grep -F "$key" | grep " $ts\$" > "$T/merged.lp"
[ "$(wc -l < "$T/merged.lp")" = 1 ]
grep -q "quality=0.123456" "$T/merged.lp"
grep -q "extra=1i" "$T/merged.lp"
grep -q "latency_s=" "$T/merged.lp"
# bad lines: reported with line number and reason, exit status 1, good lines kept
now=$(date +%s%N); printf 'm,t=a f=1 %s\nm,t=a f=x\nm,t=a f=2 %s\n' "$now" "$((now+1))" | { "$VIGIL" ingest "$T/c" - 2> "$T/err" || true; } > "$T/out"
grep -q "line 2, column" "$T/err"
grep -q "2 rows accepted, 1 rows rejected" "$T/out"
# damage on disk: a flipped block is an error naming the file; repair quarantines it
seg=$(ls "$T"/b/segments/*.seg | head -n 1)
printf '\377\377\377\377' | dd of="$seg" bs=1 seek=40 conv=notrunc status=none
if "$VIGIL" dump "$T/b" llm_request > /dev/null 2> "$T/dump.err"; then
  for t in tool_call eval_result; do "$VIGIL" dump "$T/b" "$t" > /dev/null 2>> "$T/dump.err"; done
fi
grep -q "$seg" "$T/dump.err"
"$VIGIL" repair "$T/b" > "$T/repair.out" 2> /dev/null
grep -q "^1 files quarantined" "$T/repair.out"
[ -e "$T/b/quarantine/$(basename "$seg")" ]
"$VIGIL" stats "$T/b" > /dev/null
echo "1 passed, 0 failed"
