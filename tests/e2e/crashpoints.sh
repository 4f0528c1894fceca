#!/usr/bin/env bash
# crashpoints.sh: vigild crashed at every named crash point (reliability
# plan, row 4), with and without a simulated power loss (row 2), then
# restarted and checked with oracle.py (P1-P5).
#
# The points are found in the source (every vg_io_crash_point and
# vg_db_crash_point call of engine/ and server/), so a new point is covered
# without editing this file. For each, vigild runs with
# VIGIL_CRASH_AT=<point>:<n> under acknowledged ingest by vigil-crash-driver
# (3 connections, a malformed row now and then), sealing every 300 rows,
# 1 s partitions and a side writer (--aux) of rows that are small segments
# of one partition 3594 s old (accepted for ~6 s under --retention 1h, then
# dropped): sealing, WAL truncation, compaction and retention all happen
# within seconds. vigild must exit with 86 (VG_CRASH_EXIT) at the
# point (a low n may fire while vigild starts: a crash at startup, checked
# the same way); it is restarted without the crash and checked. Per point:
#   wal.written    runs with VIGIL_IO=posix: on io_uring the write and its
#                  fdatasync are one linked submission, with no moment between
#   http.ack_sent  the driver writes over HTTP /write instead
#   recovery.*     the crash is in the restart itself: ingest, kill -9, copy
#                  the folder, recover the copy (the reference), restart the
#                  original with the crash armed (exit 86 before listening),
#                  restart again: P1-P5, and the same rows as the reference
# When vigild supports VIGIL_POWER_LOSS (the string is in the binary), each
# point runs again with the power loss applied when the point fires (drop
# every unsynced change, or tear it); otherwise that pass is skipped, saying so.
#
# Sample (make check): every point once at a small n, each again with a power
# loss (drop and tear alternating), fixed seed. VG_SOAK=1: every point at
# several n, each plain, drop and tear; VG_SOAK_FROM=k / VG_SOAK_COUNT=m run
# runs k..k+m-1 of that list (1-based); VG_SEED changes the tear seed; past
# the epoch second VG_SOAK_DEADLINE no run starts.
# Last line: RELIABILITY suite=crashpoints iterations= faults= failures=
set -uo pipefail
. "$(dirname "$0")/crashlib.sh"
cl_init crashpoints
SRC=${VG_SRC:-"$(cd "$(dirname "$0")/../.." && pwd)"}
SEED=${VG_SEED:-1}
SOAK=${VG_SOAK:-0}
CONNS=3
REJECT=37
SECONDS_MAX=12 # ingest per run; every point fires well before (retention: ~7 s)

mapfile -t POINTS < <(grep -rhoE --include='*.c' 'vg_(io|db)_crash_point\([^;]*"[a-z_.]+"' "$SRC/engine" "$SRC/server" |
  sed -E 's/.*"([a-z_.]+)"$/\1/' | sort -u)
if [ "${#POINTS[@]}" -lt 10 ]; then
  echo "found only ${#POINTS[@]} crash points under $SRC: ${POINTS[*]}" >&2
  echo "0 passed, 1 failed"
  exit 1
fi
POWER=
if grep -aq VIGIL_POWER_LOSS "$VIGILD"; then
  POWER=1
else
  echo "SKIP power-loss pass: $VIGILD does not know VIGIL_POWER_LOSS"
fi

# sample_n POINT: the hit that crashes in the sample. Frequent points (every
# batch, every fsync) crash a few batches in; the rarer ones at their first
# or second hit.
sample_n() {
  case $1 in
  wal.submitted | wal.synced | wal.written | ack.sent | http.ack_sent) echo 5 ;;
  io.fsync) echo 9 ;;
  recovery.replaying) echo 3 ;;
  catalog.published | segment.*) echo 2 ;;
  *) echo 1 ;;
  esac
}
# soak_ns POINT: every n the soak tries.
soak_ns() {
  case $1 in
  wal.submitted | wal.synced | wal.written | ack.sent | http.ack_sent | io.fsync) echo 1 2 3 7 20 60 150 ;;
  recovery.replaying) echo 1 2 5 12 25 ;; # 30-odd records to replay
  retention.deleted | recovery.started) echo 1 ;;
  compaction.written) echo 1 2 ;;
  *) echo 1 2 3 5 8 ;;
  esac
}

# The list of runs: "point n mode" (mode: plain, drop or tear).
RUNS=()
k=0
for p in "${POINTS[@]}"; do
  if [ "$SOAK" = 1 ]; then
    for n in $(soak_ns "$p"); do
      RUNS+=("$p $n plain")
      [ -n "$POWER" ] && RUNS+=("$p $n drop" "$p $n tear")
    done
  else
    n=$(sample_n "$p")
    RUNS+=("$p $n plain")
    if [ -n "$POWER" ]; then
      if [ $((k % 2)) = 0 ]; then RUNS+=("$p $n drop"); else RUNS+=("$p $n tear"); fi
    fi
  fi
  k=$((k + 1))
done
FROM=1
COUNT=${#RUNS[@]}
if [ "$SOAK" = 1 ]; then
  FROM=${VG_SOAK_FROM:-1}
  COUNT=${VG_SOAK_COUNT:-$COUNT}
fi
echo "${#POINTS[@]} crash points: ${POINTS[*]}; runs $FROM..$((FROM + COUNT - 1)) of ${#RUNS[@]}"

crash_env() { # POINT N MODE RUN: the environment of the crashing vigild
  CL_VIGILD_ENV=("VIGIL_CRASH_AT=$1:$2")
  [ "$3" != plain ] && CL_VIGILD_ENV+=("VIGIL_POWER_LOSS=$3" "VIGIL_POWER_LOSS_SEED=$((SEED * 100003 + $4))")
  [ "$1" = wal.written ] && CL_VIGILD_ENV+=(VIGIL_IO=posix)
  return 0
}

fired=0
failures=0
iterations=0
unreached=0

# run_ingest TAG POINT N MODE RUN D L: crash during ingest; 0 when it crashed there.
run_ingest() {
  local tag=$1 point=$2 n=$3 mode=$4 run=$5 d=$6 l=$7
  crash_env "$point" "$n" "$mode" "$run"
  CL_VIGILD_ARGS=(--seal-rows 300 --retention 1h --partition 1s)
  if ! cl_start "$d" "$d.vigild.log"; then
    if [ "${CL_RC:-}" = 86 ]; then
      # the nth hit came while vigild was starting (io.fsync and wal.written
      # are hit by the first WAL file's header): a crash at startup, then
      # the same restart and checks, over an empty driver log
      fired=$((fired + 1))
      cl_ok
      : > "$l"
      CL_VIGILD_ENV=()
      cl_verify "$tag (at startup)" "$d" "$l" "$CONNS" "$REJECT" --vigild-log "$d.vigild.log"
      return
    fi
    cl_bad "$tag: vigild did not start (exit ${CL_RC:-none}): $(tail -n 3 "$d.vigild.log" | tr '\n' ' ')"
    cl_kill9
    return 1
  fi
  local proto=(--target "127.0.0.1:$CL_PORT")
  [ "$point" = http.ack_sent ] && proto=(--http "127.0.0.1:$CL_HTTP")
  cl_driver "$l" "$d.driver.out" "${proto[@]}" --connections "$CONNS" --batch 50 --seconds "$SECONDS_MAX" \
    --reject "$REJECT" --aux "127.0.0.1:$CL_HTTP" --aux-every 50 --aux-age 3594
  local rc=0
  if ! cl_wait_exit $((SECONDS_MAX + 7)); then
    rc=2 # never reached: stop it, then still check what it stored
    cl_stop || cl_bad "$tag: vigild did not stop cleanly"
  elif [ "$CL_RC" = 86 ]; then
    fired=$((fired + 1))
    cl_ok
  else
    cl_bad "$tag: vigild exited $CL_RC, not 86 (VG_CRASH_EXIT): $(grep -m 3 -i 'error' "$d.vigild.log" | tr '\n' ' ')"
    rc=1
  fi
  cl_driver_wait 15 || cl_bad "$tag: the driver did not notice the crash"
  CL_VIGILD_ENV=()
  cl_verify "$tag" "$d" "$l" "$CONNS" "$REJECT" --vigild-log "$d.vigild.log" || rc=1
  return $rc
}

# run_recovery TAG POINT N MODE RUN D L: crash inside the restart; 0 when it did and converged.
run_recovery() {
  local tag=$1 point=$2 n=$3 mode=$4 run=$5 d=$6 l=$7
  CL_VIGILD_ENV=()
  CL_VIGILD_ARGS=() # no sealing: every batch stays in the WAL, to replay
  if ! cl_start "$d" "$d.vigild.log"; then
    cl_bad "$tag: vigild did not start: $(tail -n 3 "$d.vigild.log" | tr '\n' ' ')"
    cl_kill9
    return 1
  fi
  cl_driver "$l" "$d.driver.out" --target "127.0.0.1:$CL_PORT" --connections "$CONNS" --batch 50 \
    --seconds "$SECONDS_MAX" --reject "$REJECT"
  local _i
  for _i in $(seq 50); do # until a few dozen batches are acked (or 5 s)
    [ "$(cl_acked "$l")" -ge 30 ] && break
    sleep 0.1
  done
  cl_kill9
  cl_driver_wait 15 || cl_bad "$tag: the driver did not notice the kill"
  cp -a "$d" "$d.ref"
  if cl_start "$d.ref" "$d.ref.log" && cl_stop && cl_dump "$d.ref" "$d.ref.csv"; then cl_ok; else
    cl_bad "$tag: the reference recovery failed: $(tail -n 3 "$d.ref.log" | tr '\n' ' ')"
    cl_kill9
    return 1
  fi
  crash_env "$point" "$n" "$mode" "$run"
  local rc=0
  if cl_start "$d" "$d.crash.log"; then
    rc=2 # recovery finished without reaching the point
    cl_stop || cl_bad "$tag: vigild did not stop cleanly"
  elif [ "$CL_RC" = 86 ]; then
    fired=$((fired + 1))
    cl_ok
  else
    cl_bad "$tag: the restart exited ${CL_RC:-none}, not 86: $(tail -n 3 "$d.crash.log" | tr '\n' ' ')"
    cl_kill9
    rc=1
  fi
  CL_VIGILD_ENV=()
  cl_verify "$tag" "$d" "$l" "$CONNS" "$REJECT" --vigild-log "$d.vigild.log" --vigild-log "$d.crash.log" \
    --same-as "$d.ref.csv" || rc=1
  return $rc
}

for run in $(seq "$FROM" $((FROM + COUNT - 1))); do
  [ "$run" -le "${#RUNS[@]}" ] || break
  if [ -n "${VG_SOAK_DEADLINE:-}" ] && [ "$(date +%s)" -ge "$VG_SOAK_DEADLINE" ]; then
    echo "deadline: stopping after $iterations runs"
    break
  fi
  read -r point n mode <<< "${RUNS[$((run - 1))]}"
  tag="run $run: $point:$n $mode"
  d="$CL_T/db$run"
  l="$CL_T/log$run"
  before=$cl_fail
  t0=$(date +%s%N)
  case $point in
  recovery.*) run_recovery "$tag" "$point" "$n" "$mode" "$run" "$d" "$l" ;;
  *) run_ingest "$tag" "$point" "$n" "$mode" "$run" "$d" "$l" ;;
  esac
  rc=$?
  iterations=$((iterations + 1))
  if [ "$rc" = 2 ]; then
    # an n beyond what the workload reaches is no failure in the soak; the
    # sample's n must be reached, or the point goes untested
    if [ "$SOAK" = 1 ] && [ "$n" -gt 1 ]; then
      unreached=$((unreached + 1))
      echo "$tag: not reached (the workload hit the point fewer than $n times)"
    else
      cl_bad "$tag: the crash point was not reached"
    fi
  fi
  [ "$cl_fail" -gt "$before" ] && failures=$((failures + 1))
  echo "$tag: $(cl_acked "$l") batches acked, $((($(date +%s%N) - t0) / 1000000)) ms; $(grep -h ORACLE "$d.check" 2>/dev/null)"
  grep -h "^logged\|^FAIL" "$d.check" 2>/dev/null | sed 's/^/  /'
  [ -n "${KEEP:-}" ] || [ "$cl_fail" -gt "$before" ] || rm -rf "$d" "$d".* "$l"
done
echo "$cl_pass passed, $cl_fail failed ($unreached runs whose n was not reached)"
echo "RELIABILITY suite=crashpoints iterations=$iterations faults=$fired failures=$failures"
[ "$cl_fail" -eq 0 ]
