#!/usr/bin/env bash
# vigild's HTTP API with curl, as InfluxDB clients and analysts use it:
# writes (v1, v2, gzip, partial, over the limit) read back exactly through
# queries, the InfluxDB compatibility endpoints, health, metrics, export,
# and tokens (missing, wrong, right; /ping and /health stay open).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
if [ ! -x "$VIGILD" ]; then
    echo "vigild not built: skipped"
    echo "0 passed, 0 failed"
    exit 0
fi
e2e_init http

# start NAME ARGS...: vigild over $T/db on free ports, log in $T/NAME.log (sets PID, URL)
start() {
    local log="$T/$1.log"
    shift
    vigild_start "$T/db" "$log" "$@" || exit 1
}
stop() { vigild_stop; }

# status CODE ARGS...: curl ARGS, compare the HTTP status, body in $T/body
status() {
    local want=$1
    shift
    local got
    got=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 10 "$@")
    [ "$got" = "$want" ] || { echo "want $want, got $got: $*" >&2; cat "$T/body" >&2; return 1; }
}
# count TABLE: the row count through the query API (CSV), into stdout
count() {
    curl -s --max-time 10 --get "$URL/api/v1/query" --data-urlencode "format=csv" \
        --data-urlencode "q=SELECT count() AS n FROM $1 SINCE 2d" | tail -n 1 | tr -d '\r'
}

now=$(date +%s)
ns=$((now * 1000000000))
start a --max-body 100000

# /ping and /health need nothing
check ping status 204 "$URL/ping"
check health status 200 "$URL/health"
check health_body grep -q '"ready"' "$T/body"

# v1 write: 100 rows, 204, counted exactly (CSV and JSON)
for i in $(seq 0 99); do
    echo "req,model=m$((i % 3)) latency_s=$i.5,tokens=${i}i $((ns - i * 1000000000))"
done > "$T/a.lp"
check write_v1 status 204 -XPOST "$URL/write?db=x&precision=ns" --data-binary @"$T/a.lp"
check count_csv test "$(count req)" = 100
check query_json status 200 --get "$URL/api/v1/query" \
    --data-urlencode 'q=SELECT count() AS n, sum(tokens) AS t FROM req SINCE 2d'
check query_json_body python3 -c "
import json; d=json.load(open('$T/body'))
assert d['rows'] == [[100, 4950]], d"
# POST with a form body, and with the raw query as the body
check query_form status 200 -XPOST "$URL/api/v1/query" --data-urlencode 'q=SELECT count() AS n FROM req SINCE 2d' -d format=csv
check query_form_body grep -q '^100' "$T/body"
check query_raw status 200 -XPOST "$URL/api/v1/query" -H 'Content-Type: text/plain' \
    --data-binary 'SELECT count() AS n FROM req SINCE 2d'
# a query error names its position
check query_error status 400 --get "$URL/api/v1/query" --data-urlencode 'q=SELECT count( FROM req'
check query_error_body python3 -c "
import json; d=json.load(open('$T/body'))
assert d['error'] and d['line'] == 1 and d['column'] > 1, d"

# partial write: the good lines are stored, the bad one reported with its text
printf 'part v=1 %s\npart v= %s\npart v=3 %s\n' "$ns" "$ns" "$((ns - 1000))" > "$T/p.lp"
check partial status 400 -XPOST "$URL/write" --data-binary @"$T/p.lp"
check partial_body python3 -c "
import json; d=json.load(open('$T/body'))
assert d['error'] == 'partial write of line protocol occurred', d
assert len(d['data']) == 1 and d['data'][0]['line_number'] == 2, d
assert d['data'][0]['original_line'] == 'part v= $ns', d
assert d['data'][0]['error_message'], d"
check partial_stored test "$(count part)" = 2

# v2 write with precision=s; a v1-only precision is refused on v2
check write_v2 status 204 -XPOST "$URL/api/v2/write?org=o&bucket=b&precision=s" \
    --data-binary "v2s v=1 $now
v2s v=2 $((now - 1))"
check v2_count test "$(count v2s)" = 2
check v2_prec status 400 -XPOST "$URL/api/v2/write?precision=h" --data-binary "v2s v=1 1"

# gzip body; a bad gzip body; a gzip bomb over the limit after inflating
for i in $(seq 1 50); do echo "gz v=$i $((ns - i))"; done | gzip -c > "$T/g.gz"
check gzip status 204 -XPOST "$URL/write" -H 'Content-Encoding: gzip' --data-binary @"$T/g.gz"
check gzip_count test "$(count gz)" = 50
check gzip_bad status 400 -XPOST "$URL/write" -H 'Content-Encoding: gzip' --data-binary 'not gzip at all'
check gzip_bad_body grep -q 'gzip' "$T/body"
head -c 50000000 /dev/zero | gzip -c > "$T/bomb.gz"
check gzip_bomb status 413 -XPOST "$URL/write" -H 'Content-Encoding: gzip' --data-binary @"$T/bomb.gz"
# a plain body over --max-body
head -c 200000 /dev/zero | tr '\0' 'x' > "$T/big"
check too_big status 413 -XPOST "$URL/write" --data-binary @"$T/big"

# InfluxDB clients: CREATE DATABASE and SHOW DATABASES on /query, anything else 400
check create_db status 200 -XPOST "$URL/query" --data-urlencode 'q=CREATE DATABASE telegraf'
check create_db_body grep -q '"statement_id":0' "$T/body"
check show_db status 200 --get "$URL/query" --data-urlencode 'q=SHOW DATABASES'
check show_db_body grep -q '"vigil"' "$T/body"
check influxql status 400 --get "$URL/query" --data-urlencode 'q=SELECT * FROM cpu'
check influxql_body grep -q '/api/v1/query' "$T/body"

# schema, stats, export
check schema status 200 "$URL/api/v1/schema"
check schema_body python3 -c "
import json; d=json.load(open('$T/body'))
t={x['name']: x for x in d['tables']}['req']
assert t['tags'] == ['model'], t
assert {c['name']: c['type'] for c in t['columns']}['tokens'] == 'integer', t"
check stats status 200 "$URL/api/v1/stats"
check stats_body python3 -c "
import json; d=json.load(open('$T/body'))
assert {x['name']: x['rows'] for x in d['tables']}['req'] == 100, d"
check export status 200 "$URL/api/v1/export?table=part&format=lp"
check export_body test "$(wc -l < "$T/body")" = 2
check export_csv status 200 "$URL/api/v1/export?table=req&format=csv"
check export_csv_body test "$(wc -l < "$T/body")" = 101
check export_missing status 404 "$URL/api/v1/export?table=nope"

# metrics; unknown path; wrong method
check metrics status 200 "$URL/metrics"
check metrics_body grep -q '^vigil_rows_ingested' "$T/body"
# the writes above went through WAL syncs, which the histogram counted
check metrics_wal_sync awk '/^vigil_wal_sync_seconds_count/ {found = $2 > 0} END {exit !found}' "$T/body"
check unknown status 404 "$URL/nope"
check method status 405 -XDELETE "$URL/write"
check stop_a stop

# tokens
start b --token secret
check tok_none status 401 -XPOST "$URL/write" --data-binary "tk v=1 $ns"
check tok_none_body grep -q '"unauthorized"' "$T/body"
check tok_wrong status 401 -XPOST "$URL/write" -H 'Authorization: Token nope' --data-binary "tk v=1 $ns"
check tok_query status 401 --get "$URL/api/v1/query" --data-urlencode 'q=SELECT count() FROM req SINCE 2d'
check tok_ok status 204 -XPOST "$URL/write" -H 'Authorization: Token secret' --data-binary "tk v=1 $ns"
check tok_bearer status 200 -H 'Authorization: Bearer secret' "$URL/api/v1/stats"
check tok_ping status 204 "$URL/ping"
check tok_health status 200 "$URL/health"
# what was written before the restart is still there
check restart_count test "$(curl -s -H 'Authorization: Token secret' --get "$URL/api/v1/query" \
    --data-urlencode format=csv --data-urlencode 'q=SELECT count() AS n FROM req SINCE 2d' |
    tail -n 1 | tr -d '\r')" = 100
check stop_b stop

e2e_done
