#!/usr/bin/env bash
# Damaged files against the real binaries (reliability.md rows 6-8; the
# exhaustive sweeps are tests/test_corrupt.c): a flipped bit in an old WAL
# file, the catalog, a segment's blocks or footer, and a segment cut short
# with `truncate -s`. Each open or query must fail with a clear error naming
# the file and the offset on stderr and a non-zero exit status (never a
# crash: no signal, no sanitizer report); `vigil repair` must then quarantine
# the damage and leave a folder that opens.
set -euo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init corrupt

# sealed segments from a simulated day, then unsealed batches through vigild
# in two runs killed with -9: two WAL files with records
"$VIGIL" simulate --seed 11 --duration 30m > "$T/sim.lp"
"$VIGIL" ingest "$T/src" "$T/sim.lp" > /dev/null
for run in 1 2; do
  "$VIGILD" --data "$T/src" --http 127.0.0.1:0 --lp 127.0.0.1:0 2> "$T/log$run" &
  PID=$!
  for _ in $(seq 100); do grep -q ' ready' "$T/log$run" && break; sleep 0.1; done
  port=$(grep -oE 'http listening on 127\.0\.0\.1:[0-9]+' "$T/log$run" | grep -oE '[0-9]+$')
  now=$(date +%s%N)
  for b in 1 2 3; do
    for i in $(seq 20); do echo "probe,run=r$run,b=b$b v=${i}i $((now - 60000000000 + b * 1000 + i))"; done |
      "$VIGIL" ingest --connect "http://127.0.0.1:$port" - > /dev/null
  done
  kill -9 "$PID"
  wait "$PID" 2>/dev/null || true
  PID=
done
wal_old= seg=
for f in "$T"/src/wal/*.wal; do # the first file holding a record
  if [ -z "$wal_old" ] && [ "$( (od -An -tu1 -j16 -N1 "$f" 2>/dev/null || true) | tr -d ' ')" -gt 0 ] 2>/dev/null; then wal_old=$f; fi
done
for f in "$T"/src/segments/*.seg; do [ -z "$seg" ] && seg=$f; done
if [ -z "$wal_old" ] || [ -z "$seg" ]; then echo "no fixture: $(ls -R "$T/src")"; exit 1; fi

flip() { # file offset
  local c
  c=$(od -An -tu1 -j"$2" -N1 "$1" | tr -d ' ')
  printf "\\$(printf '%03o' $((c ^ 16)))" | dd of="$1" bs=1 seek="$2" conv=notrunc status=none
}

# run one command on a damaged copy: non-zero exit, not a signal, stderr
# naming the file and an offset, nothing from a sanitizer
expect_error() { # what file-in-copy cmd...
  local what=$1 file=$2 rc=0
  shift 2
  "$@" > "$T/out" 2> "$T/err" || rc=$?
  if [ "$rc" = 0 ]; then bad "$what: exit status 0"; return; fi
  if [ "$rc" -ge 128 ]; then bad "$what: killed by signal $((rc - 128))"; return; fi
  if grep -qE 'Sanitizer|runtime error' "$T/err"; then bad "$what: sanitizer report"; return; fi
  if ! grep -qF "$file" "$T/err" || ! grep -q 'offset [0-9]' "$T/err"; then
    bad "$what: stderr does not name $file and an offset: $(head -c 300 "$T/err")"; return
  fi
  ok
}

repair_then_open() { # what dir
  local rc=0
  "$VIGIL" repair "$2" > "$T/repair.out" 2> "$T/repair.err" || rc=$?
  if [ "$rc" != 0 ]; then bad "$1: repair exit $rc: $(head -c 300 "$T/repair.err")"; return; fi
  grep -q 'files quarantined' "$T/repair.out" || { bad "$1: repair did not report"; return; }
  if ! "$VIGIL" stats "$2" > /dev/null 2> "$T/err"; then bad "$1: open after repair: $(head -c 300 "$T/err")"; return; fi
  ok
}

fresh() { rm -rf "$T/case"; cp -a "$T/src" "$T/case"; }
incase() { echo "$T/case/${1#"$T/src/"}"; }

# an old WAL file: a bit of its second record's payload
fresh; f=$(incase "$wal_old"); flip "$f" 100
expect_error "old WAL bit flip" "$f" "$VIGIL" stats "$T/case"
repair_then_open "old WAL bit flip" "$T/case"

# an old WAL file cut short at byte 200
fresh; f=$(incase "$wal_old"); truncate -s 200 "$f"
expect_error "old WAL cut" "$f" "$VIGIL" stats "$T/case"
repair_then_open "old WAL cut" "$T/case"

# the catalog
fresh; f="$T/case/CATALOG"; flip "$f" 30
expect_error "catalog bit flip" "$f" "$VIGIL" stats "$T/case"
repair_then_open "catalog bit flip" "$T/case"

# a segment's footer (the last 40 bytes) and index
size=$(stat -c %s "$seg")
for off in $((size - 20)) $((size - 60)) 3; do
  fresh; f=$(incase "$seg"); flip "$f" "$off"
  expect_error "segment bit flip at $off" "$f" "$VIGIL" stats "$T/case"
  repair_then_open "segment bit flip at $off" "$T/case"
done

# `truncate -s` on a sealed segment: refused at open, never mapped short
fresh; f=$(incase "$seg"); truncate -s $((size - 100)) "$f"
expect_error "segment truncated" "$f" "$VIGIL" stats "$T/case"
repair_then_open "segment truncated" "$T/case"

# a block: the open succeeds, the query reading it fails naming it
fresh; f=$(incase "$seg"); flip "$f" 40
rc=0
for t in llm_request tool_call eval_result; do
  "$VIGIL" dump "$T/case" "$t" > /dev/null 2>> "$T/dump.err" || rc=$?
done
if [ "$rc" = 0 ] || [ "$rc" -ge 128 ] || ! grep -qF "$f" "$T/dump.err" || ! grep -q 'offset [0-9]' "$T/dump.err"; then
  bad "segment block flip: dump exit $rc: $(head -c 300 "$T/dump.err")"
else
  ok
fi
repair_then_open "segment block flip" "$T/case"

echo "$pass passed, $fail failed"
echo "RELIABILITY suite=e2e_corrupt iterations=8 faults=8 failures=$fail"
[ "$fail" = 0 ]
