#!/usr/bin/env bash
# vigil query and vigil shell against a folder of simulated traffic:
# every output format, the shell's script mode and dot commands, errors with
# their position, and an incident that the numbers must show.
set -euo pipefail
T=$(mktemp -d "${VG_TEST_TMP:-/tmp}/e2e-query.XXXXXX" 2>/dev/null || mktemp -d)
trap 'rm -rf "$T"' EXIT
pass=0
ok() { pass=$((pass + 1)); }

# three hours of traffic with guardrail over-refusal in the last hour
"$VIGIL" simulate --seed 11 --duration 3h --incident over_refusal@2h > "$T/sim.lp"
"$VIGIL" ingest "$T/db" "$T/sim.lp" > /dev/null

# the same count as the row reader
n_dump=$("$VIGIL" dump "$T/db" llm_request | wc -l)
n_query=$("$VIGIL" query "$T/db" --format csv "SELECT count() AS n FROM llm_request SINCE 4h" | tail -n 1 | tr -d '\r')
[ "$n_dump" = "$n_query" ] && ok

# CSV: header and one row per window, RFC 3339 times
# (CSV lines end in CRLF, as RFC 4180 says: strip the CR for awk)
"$VIGIL" query "$T/db" --format csv "SELECT rate(refusal) AS r FROM llm_request SINCE 3h EVERY 1h" | tr -d '\r' > "$T/w.csv"
head -n 1 "$T/w.csv" | grep -qx 'time,r' && ok
[ "$(wc -l < "$T/w.csv")" -ge 4 ] && ok
grep -qE '^[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:.]+Z,' "$T/w.csv" && ok
# the incident: the last hour's refusal rate is several times the first's
awk -F, 'NR==2 {first=$2} END {last=$2; exit !(last > 3 * first)}' "$T/w.csv" && ok

# JSON: columns and rows, parsed by python's json module
"$VIGIL" query "$T/db" --format json "SELECT p99(latency_s), count() FROM llm_request SINCE 3h BY model" > "$T/r.json"
python3 -c "
import json,sys
d=json.load(open('$T/r.json'))
assert [c['name'] for c in d['columns']]==['model','p99(latency_s)','count()'], d['columns']
assert len(d['rows'])>=3 and all(r[2]>0 for r in d['rows'])
" && ok

# the rule query of the refusal runbook finds the spiking routes
"$VIGIL" query "$T/db" --format csv "SELECT rate(refusal) AS rate, baseline(rate(refusal), 2h) AS base, count() AS n, ztest_p(refusal) AS p FROM llm_request SINCE 30m BY route AGAINST PREVIOUS 2h" | tr -d '\r' > "$T/rule.csv"
awk -F, 'NR>1 && $2 > 2*$3 && $5 < 0.001 {hit++} END {exit !(hit >= 1)}' "$T/rule.csv" && ok

# a drift comparison: one number in CSV, the two distributions side by side in a table
"$VIGIL" query "$T/db" --format csv "SELECT ks(output_tokens) AS ks, psi(output_tokens) AS psi FROM llm_request SINCE 1h WHERE route = 'refund_qa' AGAINST PREVIOUS 2h" | tr -d '\r' > "$T/ks.csv"
head -n 1 "$T/ks.csv" | grep -qx 'ks,psi' && ok
"$VIGIL" query "$T/db" "SELECT ks(output_tokens) AS ks, psi(output_tokens) AS psi FROM llm_request SINCE 1h WHERE route = 'refund_qa' AGAINST PREVIOUS 2h" > "$T/ks.txt"
[ "$(grep -c 'current .*reference' "$T/ks.txt")" = 1 ] && ok

# errors: position and suggestion on stderr, exit 1; JSON form with --format json
if "$VIGIL" query "$T/db" "SELECT p99(latncy_s) FROM llm_request" 2> "$T/err"; then exit 1; fi
grep -q "error at line 1, column 12: unknown field 'latncy_s' in table llm_request (did you mean 'latency_s'?)" "$T/err" && ok
"$VIGIL" query "$T/db" --format json "SELECT FROM x" > "$T/err.json" || true
python3 -c "
import json
d=json.load(open('$T/err.json'))
assert d['line']==1 and d['column']>=1 and d['error']
" && ok

# the shell reads statements from a pipe: multi-line, dot commands, formats
printf '.tables\n.format csv\nSELECT count()\n  FROM change_event\n  SINCE 4h;\n.schema tool_call\n.at now() - 1h\nSELECT count() AS n FROM llm_request SINCE 1h;\n' \
  | "$VIGIL" shell "$T/db" > "$T/shell.out" 2>&1
grep -qx 'llm_request' "$T/shell.out" && ok
grep -q '^count()' "$T/shell.out" && ok
grep -q 'duration_s' "$T/shell.out" && ok
# `vigil DIR` is the shell too
echo 'SELECT count() AS n FROM tool_call SINCE 4h;' | "$VIGIL" "$T/db" | grep -q '^ *n$\|^n' && ok

echo "$pass passed, 0 failed"
[ "$pass" = 15 ]
