# tests/e2e/lib.sh: what the end-to-end scripts share. Sourced, never run
# (tests/CMakeLists.txt leaves it out of the e2e tests):
#
#   e2e_init NAME     T, a fresh scratch folder under VG_TEST_TMP, removed at
#                     exit unless VG_KEEP (or KEEP) is set; PID='' (the
#                     vigild to kill -9 at exit), pass=0 fail=0, VIGILD. At
#                     exit, once vigild is gone, the script's own on_exit
#                     runs if it defines one.
#   check NAME CMD... run CMD, count its outcome (the failure named on stderr)
#   ok, bad MSG...    count a pass, a failure
#   vigild_start DATA LOG [FLAGS...]
#                     vigild over DATA on free ports of 127.0.0.1 (FLAGS
#                     after them), stderr in LOG (emptied first); waits until it
#                     logs "ready" (at most E2E_START_S [15] seconds) and sets
#                     PID, HPORT, LPORT and URL. When it did not start: the
#                     log on stderr, status 1. It runs in E2E_CWD [.], so that
#                     a relative path gone wrong cannot litter the source tree.
#   vigild_stop       SIGTERM and wait: vigild's exit status
#   wait_for SECS CMD...  CMD until it succeeds, at most SECS seconds (the
#                     last try's output shown)
#   e2e_done          "N passed, M failed"; status 0 when nothing failed
# shellcheck shell=bash

: "${VIGIL:?set VIGIL to the vigil binary}"
VIGILD=${VIGILD:-"$(dirname "$VIGIL")/vigild"}

e2e_cleanup() {
  [ -n "${PID:-}" ] && kill -9 "$PID" 2> /dev/null && wait "$PID" 2> /dev/null
  declare -F on_exit > /dev/null && on_exit
  [ -n "${VG_KEEP:-}${KEEP:-}" ] || rm -rf "$T"
}

e2e_init() {
  T=$(mktemp -d "${VG_TEST_TMP:-/tmp}/e2e-$1.XXXXXX" 2> /dev/null || mktemp -d)
  PID=
  pass=0 fail=0
  trap e2e_cleanup EXIT
}

ok() { pass=$((pass + 1)); }
bad() {
  fail=$((fail + 1))
  echo "FAIL: $*" >&2
}
check() {
  local name=$1
  shift
  if "$@"; then ok; else bad "$name"; fi
}

# The port vigild logged for listener $1 (http or lp) in log $2, or nothing.
e2e_port() {
  sed -n "s/.*info $1 listening on 127\\.0\\.0\\.1:\\([0-9]*\\).*/\\1/p" "$2" | head -n 1
}

vigild_start() {
  local data=$1 log=$2
  shift 2
  : > "$log"
  (cd "${E2E_CWD:-.}" && exec "$VIGILD" --data "$data" --http 127.0.0.1:0 --lp 127.0.0.1:0 "$@" \
    2>> "$log") &
  PID=$!
  HPORT= LPORT= URL=
  local i
  for ((i = 0; i < ${E2E_START_S:-15} * 10; i++)); do
    if grep -q ' info ready' "$log" 2> /dev/null; then
      HPORT=$(e2e_port http "$log")
      LPORT=$(e2e_port lp "$log")
      URL="http://127.0.0.1:$HPORT"
      return 0
    fi
    kill -0 "$PID" 2> /dev/null || break
    sleep 0.1
  done
  echo "vigild did not start:" >&2
  cat "$log" >&2
  return 1
}

vigild_stop() {
  kill -TERM "$PID"
  wait "$PID"
  local rc=$?
  PID=
  return $rc
}

wait_for() {
  local end=$((SECONDS + $1))
  shift
  while [ $SECONDS -lt $end ]; do
    "$@" 2> /dev/null && return 0
    sleep 0.2
  done
  "$@"
}

e2e_done() {
  echo "$pass passed, $fail failed"
  [ "$fail" -eq 0 ]
}
