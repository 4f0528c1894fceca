#!/usr/bin/env bash
# `vigil check` and `vigil runbook show` on the fixtures of tests/runbooks/:
# exit codes, one `file:line:column: message` line per fault, the summary
# line, checks against a data folder's schema (and a vigild's, when built),
# receivers from a vigild config, and the printed decision tree.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init check
unset VIGIL_URL VIGIL_TOKEN
F="${VG_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}/tests/runbooks"
cd "$F" || exit 1
# run ARGS...: vigil with stdout in $T/out, stderr in $T/err, exit code in RC
run() {
    "$VIGIL" "$@" > "$T/out" 2> "$T/err"
    RC=$?
}
has() { grep -qF -- "$1" "$T/$2" || { echo "missing in $2: $1" >&2; cat "$T/$2" >&2; return 1; }; }
rc_is() { [ "$RC" = "$1" ] || { echo "exit $RC, expected $1" >&2; cat "$T/err" >&2; return 1; }; }

# the good fixtures: exit 0 and the summary
run check good
check "good: exit 0" rc_is 0
check "good: summary" has "2 runbooks, 3 rules: ok" out
check "good: nothing on stderr" test ! -s "$T/err"
run check good/refusal.yaml
check "one file: summary" has "1 runbook, 1 rule: ok" out

# each bad fixture: exit 1 and its fault at its place
fault() { # fault FILE LINE:COL MESSAGE-PART [ARGS...]
    local file=$1 at=$2 msg=$3
    shift 3
    run check "$@" "bad/$file"
    check "$file: exit 1" rc_is 1
    check "$file: bad/$file:$at: $msg" has "bad/$file:$at: $msg" err
}
fault syntax.yaml 8:1 "YAML syntax error"
fault unknown_key.yaml 7:5 "unknown key 'resolv_when' in rule (did you mean 'resolve_when'?)"
fault missing_key.yaml 4:5 "missing required key 'when' in rule"
fault bad_duration.yaml 7:10 "bad duration '10 minutes'"
fault bad_nodata.yaml 7:14 "bad no_data 'keepstate'"
fault bad_signal.yaml 2:9 "unknown signal 'refusals' (did you mean 'refusal'?)"
fault query_error.yaml 8:16 "expected WHERE, SINCE, BETWEEN, EVERY, BY"
fault query_error.yaml 14:19 "unknown function 'p99x'"
fault expr_quoted.yaml 6:15 "when: expected an expression"
fault when_column.yaml 9:31 "unknown column 'rat' in when"
fault template_column.yaml 8:42 "unknown name 'rte'"
fault query_template.yaml 12:73 "unknown name 'route' in the template of a query: rule 'SlowOverall'"
fault duplicate_rules.yaml 7:12 "duplicate rule name 'CostHigh'"
fault duplicate_key.yaml 7:5 "duplicate key 'when'"
fault list_for_string.yaml 2:8 "expected a string for 'title', found a list"
fault empty.yaml 1:1 "empty file"
fault receiver.yaml 3:10 "unknown receiver 'oncal' (did you mean 'oncall'?)" --config vigild.yaml
fault receiver.yaml 8:22 "unknown receiver 'slak'" --config vigild.yaml
run check bad/query_error.yaml
check "summary of problems" has "2 problems in 1 file" err
# without a config, receivers are not checked
run check bad/receiver.yaml
check "receivers unchecked without --config" rc_is 0

# a folder with problems in several files: all reported, sorted, counted
run check bad
check "bad folder: exit 1" rc_is 1
check "bad folder: files in order" bash -c "grep -o '^bad/[a-z_]*\.yaml' '$T/err' | uniq | sort -c"
check "bad folder: summary" grep -qE '^[0-9]+ problems in 1[0-9] files$' "$T/err"

# rule names are unique across files
mkdir "$T/two"
cp good/latency.yaml "$T/two/a.yaml"
sed 's/^name: latency-degradation/name: other/' good/latency.yaml > "$T/two/b.yaml"
run check "$T/two"
check "duplicate across files: exit 1" rc_is 1
check "duplicate across files: named" has "$T/two/b.yaml:5:12: duplicate rule name 'LatencyP99High' (also in $T/two/a.yaml:5:12)" err

# against a data folder's schema (the incident brings a change_event row)
"$VIGIL" simulate --seed 3 --duration 1h --rate 5 --incident over_refusal@30m > "$T/sim.lp"
"$VIGIL" ingest "$T/db" "$T/sim.lp" > /dev/null 2>&1
run check --data "$T/db" good
check "schema: good passes" rc_is 0
run check --data "$T/db" bad/schema.yaml
check "schema: exit 1" rc_is 1
check "schema: field" has "bad/schema.yaml:5:22: unknown field 'latncy_s' in table llm_request (did you mean 'latency_s'?)" err
check "schema: table" has "bad/schema.yaml:9:32: unknown table 'llm_requests' (did you mean 'llm_request'?)" err
run check --data "$T/nowhere" good
check "missing data folder: usage" rc_is 2

# usage
run check
check "no files: exit 2" rc_is 2
run check --frobnicate good
check "unknown option: exit 2" rc_is 2
run check --data "$T/db" --connect http://127.0.0.1:1 good
check "--data with --connect: exit 2" rc_is 2
run check --help
check "help: exit 0" rc_is 0
run check no/such/file.yaml
check "missing file: exit 1" rc_is 1
check "missing file: no place" has "no/such/file.yaml: cannot read" err

# against a running vigild's schema (GET /api/v1/schema)
if [ -x "$VIGILD" ]; then
    if E2E_CWD=$T vigild_start "$T/db" "$T/vigild.log"; then
        run check --connect "$URL" bad/schema.yaml
        check "remote schema: field" has "bad/schema.yaml:5:22: unknown field 'latncy_s'" err
        run check --connect "$URL" good
        check "remote schema: good passes" rc_is 0
        check "vigild stops" vigild_stop
    else
        bad "vigild did not start"
    fi
fi
run check --connect http://127.0.0.1:1 good
check "no server: exit 1" rc_is 1

# runbook show
run runbook show good/refusal.yaml
check "show: exit 0" rc_is 0
check "show: header" has "refusal-spike: Refusal rate spike  [signal: refusal]" out
check "show: rule" has "RefusalRateAboveBaseline  every 1m, for 10m, keep firing 5m, no data: keep state" out
check "show: fires" has "fires:    rate > 2 * base AND rate > base + 0.01 AND n >= 200 AND p < 0.001" out
check "show: investigate" has "1. changes in the last hour: SELECT * FROM change_event SINCE 1h" out
check "show: tree" has "guardrail or content filter misconfigured" out
check "show: fallback" has "fallback:   guardrail.mode=last-good" out
run runbook show good/refusal.yaml good/latency.yaml
check "show two" has "latency-degradation  [signal: latency]" out
run runbook show bad/unknown_key.yaml
check "show bad: exit 1" rc_is 1
check "show bad: problem" has "bad/unknown_key.yaml:7:5: unknown key 'resolv_when'" err
run runbook show
check "show nothing: exit 2" rc_is 2
run runbook frob
check "unknown subcommand: exit 2" rc_is 2

e2e_done
