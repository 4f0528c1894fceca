#!/usr/bin/env bash
# kill -9 of vigild during acknowledged ingest (reliability plan, row 1).
# Each iteration starts vigild on a FRESH folder (so that the (conn, seq) keys
# of one iteration cannot meet another's), runs vigil-crash-driver with 3
# connections, kill -9s vigild after a random 0.3-1.5 s (RANDOM seeded by the
# iteration), restarts it on the same folder, stops it cleanly and checks the
# dump against the driver's fsynced log with oracle.py:
#   P1 every acked row present, with its payload hash
#   P2 no (conn, seq) twice
#   P3 per connection the seqs present are 0..m, m the end of a sent batch
#   P4 nothing beyond what was sent, no row answered ERR
#   P5 the restart listens within 20 s, the clean stop exits 0, no sanitizer report
# VIGIL_CRASH_ITER=N runs N iterations (default 3); KEEP=1 keeps the folders.
# VG_SOAK=1 (the soak campaign) runs VG_SOAK_COUNT iterations [1000] from
# iteration VG_SOAK_FROM [1], kills after 0.2-3 s, and every other iteration
# seals every 300 rows with a side writer (crash_driver --aux) so that the
# kill also lands in sealing, compaction and retention. VG_SEED shifts the
# random moments; past the epoch second VG_SOAK_DEADLINE no iteration starts.
# Last line: RELIABILITY suite=kill9 iterations= faults= failures=
set -uo pipefail
. "$(dirname "$0")/crashlib.sh"
cl_init crash

SEED=${VG_SEED:-0}
FROM=1
ITER=${VIGIL_CRASH_ITER:-3}
if [ "${VG_SOAK:-0}" = 1 ]; then
  FROM=${VG_SOAK_FROM:-1}
  ITER=${VG_SOAK_COUNT:-1000}
fi
CONNS=3
REJECT=37 # a malformed row now and then (prime, so it moves within batches)
total_acked=0
failures=0
done_iter=0
for i in $(seq "$FROM" $((FROM + ITER - 1))); do
  if [ -n "${VG_SOAK_DEADLINE:-}" ] && [ "$(date +%s)" -ge "$VG_SOAK_DEADLINE" ]; then
    echo "deadline: stopping after $done_iter iterations"
    break
  fi
  done_iter=$((done_iter + 1))
  RANDOM=$((7919 * i + SEED))
  CL_VIGILD_ARGS=()
  aux=()
  if [ "${VG_SOAK:-0}" = 1 ]; then
    r=$((200 + RANDOM % 2801)) # ms
    if [ $((i % 2)) = 0 ]; then
      CL_VIGILD_ARGS=(--seal-rows 300 --retention 1h --partition 1s)
    fi
  else
    r=$((300 + RANDOM % 1201))
  fi
  delay=$(printf '%d.%03d' $((r / 1000)) $((r % 1000)))
  D="$CL_T/db$i"
  L="$CL_T/log$i"
  before=$cl_fail
  if ! cl_start "$D" "$CL_T/vigild$i.log"; then
    cl_bad "iteration $i: vigild did not start: $(tail -n 3 "$CL_T/vigild$i.log" | tr '\n' ' ')"
    cl_kill9
    failures=$((failures + 1))
    continue
  fi
  [ ${#CL_VIGILD_ARGS[@]} -gt 0 ] && aux=(--aux "127.0.0.1:$CL_HTTP" --aux-every 50)
  cl_driver "$L" "$CL_T/driver$i.out" --target "127.0.0.1:$CL_PORT" --connections "$CONNS" --batch 50 \
    --seconds 10 --reject "$REJECT" ${aux[@]+"${aux[@]}"}
  sleep "$delay"
  cl_kill9
  # the driver stops when its connections drop; a hang here is a failure
  cl_driver_wait 15 || cl_bad "iteration $i: the driver did not notice the kill"
  acked=$(cl_acked "$L")
  total_acked=$((total_acked + acked))
  cl_verify "iteration $i (kill after ${delay}s)" "$D" "$L" "$CONNS" "$REJECT" --vigild-log "$CL_T/vigild$i.log"
  echo "iteration $i: kill after ${delay}s, $acked batches acked; $(grep -c . "$D.csv" 2>/dev/null) dump lines"
  sed 's/^/  /' "$D.check" 2>/dev/null | grep -v '^  ORACLE'
  [ "$cl_fail" -gt "$before" ] && failures=$((failures + 1))
  [ -n "${KEEP:-}" ] || [ "$cl_fail" -gt "$before" ] || rm -rf "$D" "$D".* "$L" "$CL_T/vigild$i.log" "$CL_T/driver$i.out"
done

# a loaded machine may ack nothing in 0.3 s; over all iterations nothing acked
# would make the test vacuous
if [ "$total_acked" -gt 0 ]; then cl_ok; else cl_bad "no batch was acknowledged in any iteration"; failures=$((failures + 1)); fi
echo "$cl_pass passed, $cl_fail failed"
echo "RELIABILITY suite=kill9 iterations=$done_iter faults=$done_iter failures=$failures"
[ "$cl_fail" -eq 0 ]
