#!/usr/bin/env bash
# The shipped runbooks against the simulator's incidents: each runbook's
# rules fire on their own incident, soon after it begins, with the right
# classification, and stay quiet through a day without any incident.
#
# Each case simulates eight days (seven of history for the baselines) with
# the incident in the last one, and replays the runbook with `vigil backtest`
# from an hour before the incident to a few hours after it. Knobs:
#   VIGIL_RUNBOOK_CASES="refusal:over_refusal ..."  the cases to run [all]
#   VIGIL_RUNBOOK_RATE=R     requests per second [4, as the demo]
#   VIGIL_RUNBOOK_STEP=D     evaluation step [5m]
set -uo pipefail
T=$(mktemp -d "${VG_TEST_TMP:-/tmp}/e2e-runbooks.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$T"' EXIT
RB="${VG_SRC:?}/runbooks"
RATE=${VIGIL_RUNBOOK_RATE:-4}
STEP=${VIGIL_RUNBOOK_STEP:-5m}
START=2026-11-01T00:00:00Z
INCIDENT_AT=2026-11-08T12:00:00Z # 7d12h after START
pass=0 fail=0
check() { # description, then a command
    local d=$1
    shift
    if "$@"; then pass=$((pass + 1)); else fail=$((fail + 1)); echo "FAIL: $d" >&2; fi
}

# runbook:incident:class:minutes (the deadline to fire after the start)
CASES=${VIGIL_RUNBOOK_CASES:-"latency:kv_pressure:infrastructure:60
length:verbose_prompt:length_or_traffic:60
refusal:over_refusal:guardrail:30
refusal:guardrail_off:guardrail:90
quality:model_update:model_or_prompt_regression:120
cost:agent_loop:length_or_traffic:60
tool:tool_timeouts:tool_or_api:30
tool:empty_retrieval:tool_or_api:30
injection:prompt_injection:security:30"}

dataset() { # name, incident spec or "none"
    local db="$T/$1" spec=()
    [ "$2" != none ] && spec=(--incident "$2")
    if [ ! -d "$db" ]; then
        "$VIGIL" simulate --duration 8d --rate "$RATE" --start "$START" "${spec[@]}" |
            "$VIGIL" ingest "$db" - --wal-sync none > /dev/null
    fi
    echo "$db"
}

# minutes between two RFC 3339 times
minutes() { python3 -c "
import sys,datetime as d
p=lambda s: d.datetime.fromisoformat(s.rstrip('Z').split('.')[0])
print(int((p(sys.argv[2])-p(sys.argv[1])).total_seconds()//60))" "$1" "$2"; }

for c in $CASES; do
    IFS=: read -r rb inc class deadline <<< "$c"
    db=$(dataset "$inc" "$inc@7d12h")
    out="$T/$rb-$inc.out"
    "$VIGIL" backtest "$db" "$RB/$rb.yaml" --since 2026-11-08T11:00:00Z \
        --until 2026-11-08T15:00:00Z --step "$STEP" --diagnose > "$out" 2> "$T/err" ||
        { cat "$T/err" >&2; }
    first=$(awk '$2 == "FIRING" {print $1; exit}' "$out")
    check "$rb fires on $inc" test -n "$first"
    [ -n "$first" ] || continue
    m=$(minutes "$INCIDENT_AT" "$first")
    echo "$rb on $inc: first fired at $first, $m minutes after the incident began"
    check "$rb fires after $inc began ($m min)" test "$m" -ge 0
    check "$rb fires within $deadline min of $inc ($m)" test "$m" -le "$deadline"
    # the diagnosis printed after the first FIRING line names the class
    got=$(awk '$2 == "FIRING" {getline; print; exit}' "$out" |
        python3 -c "import json,sys; print(json.loads(sys.stdin.read())['classification']['class'])" 2>/dev/null)
    check "$rb on $inc is classified $class (got ${got:-nothing})" test "$got" = "$class"
done

# a week without incidents: the shipped runbooks check against its schema,
# and no runbook fires through its last two days (the days with a full
# week of history behind their baselines)
quiet=$(dataset quiet none)
check "vigil check passes the shipped runbooks against the simulator's schema" \
    "$VIGIL" check --data "$quiet" "$RB"
"$VIGIL" backtest "$quiet" "$RB" --since 2026-11-07T00:00:00Z --until 2026-11-08T23:59:00Z \
    --step "${VIGIL_RUNBOOK_QUIET_STEP:-15m}" > "$T/quiet.out" 2> "$T/err"
n=$(awk '$2 == "FIRING"' "$T/quiet.out" | wc -l)
[ "$n" = 0 ] || grep FIRING "$T/quiet.out" >&2
check "no runbook fires through two quiet days ($n fired)" test "$n" = 0

echo "$pass passed, $fail failed"
[ "$fail" = 0 ]
