# crashlib.sh: the steps every crash test of vigild shares, sourced by
# crash.sh (kill -9 at random moments) and crashpoints.sh (named crash
# points): start vigild and wait until it listens, run vigil-crash-driver,
# wait for a crash, restart, stop cleanly, dump table `crash` and hand the
# dump and the driver's fsynced log to oracle.py (P1-P5).
#
# Inputs: VIGIL (the CLI), VIGILD and VIGIL_CRASH_DRIVER (default: next to
# VIGIL, as the build lays them out), VG_TEST_TMP, KEEP=1 keeps the folders,
# VG_FAIL_DIR keeps them there when a check failed.
# The caller fills CL_VIGILD_ENV (VAR=value words for vigild only) and
# CL_VIGILD_ARGS (extra flags) before cl_start. Counters: cl_ok / cl_bad.
# Executed rather than sourced (ctest's e2e_crashlib), it tests the oracle:
# a clean record passes and every kind of violation (P1-P5) is caught.
# shellcheck shell=bash

: "${VIGIL:?set VIGIL to the vigil binary}"
VIGILD=${VIGILD:-"$(dirname "$VIGIL")/vigild"}
DRIVER=${VIGIL_CRASH_DRIVER:-"$(dirname "$VIGIL")/../bench/vigil-crash-driver"}
ORACLE="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)/oracle.py"
PY=/usr/bin/python3
[ -x "$PY" ] || PY=python3
CL_PID=
CL_DPID=
CL_PORT=
CL_HTTP=
CL_RC=
CL_VIGILD_ENV=()
CL_VIGILD_ARGS=()
CL_RESTART_MS=20000 # P5: the restart must listen within this
cl_pass=0
cl_fail=0

cl_ok() { cl_pass=$((cl_pass + 1)); }
cl_bad() { cl_fail=$((cl_fail + 1)); echo "FAIL: $*" >&2; }

# On exit: stop what is still running; remove the scratch folder, unless
# KEEP=1, or a check failed and VG_FAIL_DIR names where to keep it (the soak).
cl_cleanup() {
  [ -n "$CL_PID" ] && kill -9 "$CL_PID" 2>/dev/null
  [ -n "$CL_DPID" ] && kill -9 "$CL_DPID" 2>/dev/null
  if [ "$cl_fail" -gt 0 ] && [ -n "${VG_FAIL_DIR:-}" ]; then
    mkdir -p "$VG_FAIL_DIR" && mv "$CL_T" "$VG_FAIL_DIR/" && echo "kept for inspection: $VG_FAIL_DIR/$(basename "$CL_T")" >&2
  fi
  [ -n "${KEEP:-}" ] || rm -rf "$CL_T"
}

# cl_init NAME: the scratch folder CL_T, the exit trap, the binaries' check.
cl_init() {
  CL_T=$(mktemp -d "${VG_TEST_TMP:-/tmp}/e2e-$1.XXXXXX" 2>/dev/null || mktemp -d)
  trap cl_cleanup EXIT
  local b
  for b in "$VIGIL" "$VIGILD" "$DRIVER" "$ORACLE"; do
    [ -e "$b" ] || { echo "missing $b" >&2; echo "0 passed, 1 failed"; exit 1; }
  done
}

# cl_start DIR LOG: start vigild on DIR (stderr to LOG); 0 once both ports
# listen (CL_PID, CL_PORT: line protocol, CL_HTTP); 1 if it exited first
# (CL_RC: its exit status) or did not listen within 30 s (still running).
cl_start() {
  CL_PORT='' CL_HTTP='' CL_RC=''
  env ${CL_VIGILD_ENV[@]+"${CL_VIGILD_ENV[@]}"} "$VIGILD" --data "$1" --http 127.0.0.1:0 --lp 127.0.0.1:0 \
    ${CL_VIGILD_ARGS[@]+"${CL_VIGILD_ARGS[@]}"} 2> "$2" &
  CL_PID=$!
  local _i
  for _i in $(seq 300); do
    CL_PORT=$(sed -n 's/.*info lp listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$2" | head -n 1)
    CL_HTTP=$(sed -n 's/.*info http listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$2" | head -n 1)
    [ -n "$CL_PORT" ] && [ -n "$CL_HTTP" ] && return 0
    if ! kill -0 "$CL_PID" 2>/dev/null; then
      wait "$CL_PID" 2>/dev/null
      CL_RC=$?
      CL_PID=
      return 1
    fi
    sleep 0.1
  done
  return 1
}

# cl_wait_exit SECONDS: wait for vigild (CL_PID) to exit on its own; 0 and
# CL_RC set when it did, 1 when it is still running.
cl_wait_exit() {
  local _i
  for _i in $(seq $(($1 * 10))); do
    kill -0 "$CL_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -0 "$CL_PID" 2>/dev/null && return 1
  wait "$CL_PID" 2>/dev/null
  CL_RC=$?
  CL_PID=
  return 0
}

# cl_kill9: kill -9 vigild and reap it.
cl_kill9() {
  [ -n "$CL_PID" ] || return 0
  kill -9 "$CL_PID" 2>/dev/null
  wait "$CL_PID" 2>/dev/null
  CL_PID=
}

# cl_stop: SIGTERM vigild; 0 when it exits 0 within 30 s.
cl_stop() {
  kill -TERM "$CL_PID" 2>/dev/null
  if cl_wait_exit 30; then [ "$CL_RC" -eq 0 ]; return; fi
  cl_kill9
  return 1
}

# cl_driver LOG OUT ARGS...: start the crash driver in the background (CL_DPID).
cl_driver() {
  local log=$1 out=$2
  shift 2
  : > "$log"
  "$DRIVER" --log "$log" "$@" > "$out" 2>&1 &
  CL_DPID=$!
}

# cl_driver_wait SECONDS: 0 when the driver ended within SECONDS (it stops
# when its connections drop); else kill it and return 1.
cl_driver_wait() {
  local _i
  for _i in $(seq $(($1 * 10))); do
    kill -0 "$CL_DPID" 2>/dev/null || break
    sleep 0.1
  done
  local rc=0
  if kill -0 "$CL_DPID" 2>/dev/null; then
    kill -9 "$CL_DPID" 2>/dev/null
    rc=1
  fi
  wait "$CL_DPID" 2>/dev/null
  CL_DPID=
  return $rc
}

# cl_dump DIR OUT.csv: dump table crash. A folder where no row of it was
# ever stored (the crash came first) is an empty dump, not a failure.
cl_dump() {
  if "$VIGIL" dump "$1" crash --format csv > "$2" 2> "$2.err"; then return 0; fi
  if grep -qi "no table\|unknown table\|not found\|no such table" "$2.err"; then
    echo "conn,seq,h" > "$2"
    return 0
  fi
  return 1
}

# cl_verify TAG DIR LOG CONNS REJECT [ORACLE ARGS...]: restart vigild on DIR
# (the environment and flags in CL_VIGILD_*), check it listens within
# CL_RESTART_MS, stop it cleanly, dump and run the oracle. Four checks
# counted (restart, stop, dump, oracle); 0 when all passed. The oracle's
# report is in DIR.check, the restart's log in DIR.restart.log.
cl_verify() {
  local tag=$1 d=$2 log=$3 conns=$4 rej=$5
  shift 5
  local t0 ms rc=0
  t0=$(date +%s%N)
  if ! cl_start "$d" "$d.restart.log"; then
    cl_bad "$tag: vigild did not restart (exit ${CL_RC:-none}): $(tail -n 3 "$d.restart.log" | tr '\n' ' ')"
    cl_kill9
    return 1
  fi
  ms=$((($(date +%s%N) - t0) / 1000000))
  if [ "$ms" -le "$CL_RESTART_MS" ]; then cl_ok; else cl_bad "$tag: restart took ${ms} ms"; rc=1; fi
  if cl_stop; then cl_ok; else cl_bad "$tag: vigild did not stop cleanly after the restart (exit ${CL_RC:-none})"; rc=1; fi
  if ! cl_dump "$d" "$d.csv"; then
    cl_bad "$tag: dump failed: $(head -c 300 "$d.csv.err")"
    return 1
  fi
  cl_ok
  if "$PY" "$ORACLE" "$log" "$d.csv" "$conns" "$rej" --restart-ms "$ms" --max-restart-ms "$CL_RESTART_MS" \
    --vigild-log "$d.restart.log" "$@" > "$d.check"; then
    cl_ok
  else
    cl_bad "$tag: $(grep FAIL "$d.check" | head -n 5 | tr '\n' ' ')"
    rc=1
  fi
  return $rc
}

# cl_acked LOG: the number of batches the driver saw acknowledged.
cl_acked() { grep -c '^acked' "$1"; }

# Run as a script (ctest's e2e_crashlib), this file checks the oracle itself:
# a clean crash record passes, and each kind of violation is caught and named.
cl_selftest() {
  cl_init crashlib
  local t=$CL_T
  # conn 0: batches 0-9 and 10-19 sent and acked, 20-29 sent (in flight);
  # conn 1: batch 0-9 acked; rows with seq % 7 == 6 malformed, answered ERR
  cat > "$t/log" <<'LOG'
sent 0 0 9
err 0 6
acked 0 9
sent 1 0 9
err 1 6
acked 1 9
sent 0 10 19
err 0 13
acked 0 19
sent 0 20 29
LOG
  # dump SPEC...: rows "c:k0-k1" (malformed seqs skipped), "c:k=h" one row with hash h
  dump() {
    "$PY" -B - "$@" <<'PYEOF'
import sys
sys.path.insert(0, sys.argv[1])
from oracle import row_hash
print("conn,seq,h")
for spec in sys.argv[2:]:
    c, rest = spec.split(":")
    if "=" in rest:
        k, h = rest.split("=")
        print("%s,%si,%si" % (c, k, h))
        continue
    a, b = map(int, rest.split("-"))
    for k in range(a, b + 1):
        if k % 7 != 6:
            print("%s,%di,%di" % (c, k, row_hash(int(c), k)))
PYEOF
  }
  local dir
  dir=$(dirname "$ORACLE")
  expect() { # NAME WANT(ok|Pn|converge) ORACLE-ARGS... -- DUMP-SPECS...
    local name=$1 want=$2 args=() specs=()
    shift 2
    while [ $# -gt 0 ] && [ "$1" != -- ]; do args+=("$1"); shift; done
    shift
    specs=("$@")
    dump "$dir" "${specs[@]}" > "$t/$name.csv"
    "$PY" "$ORACLE" "$t/log" "$t/$name.csv" 2 7 ${args[@]+"${args[@]}"} > "$t/$name.out"
    local rc=$?
    if [ "$want" = ok ]; then
      if [ $rc = 0 ]; then cl_ok; else cl_bad "oracle: $name should pass: $(grep FAIL "$t/$name.out" | head -n 2)"; fi
    elif [ $rc = 1 ] && grep -q "^FAIL $want" "$t/$name.out"; then
      cl_ok
    else
      cl_bad "oracle: $name should fail with $want (exit $rc): $(tail -n 3 "$t/$name.out" | tr '\n' ' ')"
    fi
  }
  echo "conn,seq,h" > "$t/empty.csv"
  expect clean ok -- 0:0-19 1:0-9
  expect in_flight_whole ok -- 0:0-29 1:0-9
  expect lost_acked P1 -- 0:0-9 1:0-9
  expect wrong_payload P1 -- 0:0-18 0:19=12345 1:0-9
  local h5
  h5=$("$PY" -B -c "import sys; sys.path.insert(0, '$dir'); from oracle import row_hash; print(row_hash(0, 5))")
  expect duplicate P2 -- 0:0-19 "0:5=$h5" 1:0-9
  expect hole P3 -- 0:0-4 0:7-19 1:0-9
  expect partial_batch P3 -- 0:0-24 1:0-9
  expect malformed_present P4 -- 0:0-19 0:6=1 1:0-9
  expect never_sent P4 -- 0:0-19 1:0-19
  expect slow_restart P5 --restart-ms 30000 --max-restart-ms 20000 -- 0:0-19 1:0-9
  printf 'ok\n==1==ERROR: AddressSanitizer: heap-use-after-free\n' > "$t/asan.log"
  expect sanitizer P5 --vigild-log "$t/asan.log" -- 0:0-19 1:0-9
  dump "$dir" 0:0-19 1:0-9 > "$t/ref.csv"
  expect converged ok --same-as "$t/ref.csv" -- 0:0-19 1:0-9
  expect diverged converge --same-as "$t/ref.csv" -- 0:0-29 1:0-9
  expect vacuous vacuous --min-acked 5 -- 0:0-19 1:0-9
  echo "$cl_pass passed, $cl_fail failed"
  [ "$cl_fail" -eq 0 ]
}
if [ "${BASH_SOURCE[0]}" = "$0" ]; then
  set -uo pipefail
  cl_selftest
  exit
fi
