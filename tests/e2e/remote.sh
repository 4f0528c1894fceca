#!/usr/bin/env bash
# The remote CLI: `vigil ingest|query|dump|stats|shell --connect URL` against
# a real vigild print byte for byte what the embedded commands print on the
# same folder (vigild stopped first), errors included; VIGIL_URL stands for
# --connect; with a token on the server, VIGIL_TOKEN is needed and enough.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
if [ ! -x "$VIGILD" ]; then
    echo "vigild not built: skipped"
    echo "0 passed, 0 failed"
    exit 0
fi
e2e_init remote
unset VIGIL_URL VIGIL_TOKEN
# emb ARGS...: the embedded vigil, stderr merged, without its info log lines
emb() {
    "$VIGIL" "$@" 2>&1 | grep -v '^vigil: info: '
    return "${PIPESTATUS[0]}"
}
# the stats header names the folder or the URL
unname() { sed '1s/^database .*: \([0-9]* tables,\)/database X: \1/'; }
same() { # same A B: files equal, else show how they differ
    cmp -s "$1" "$2" || { echo "differ: $1 $2" >&2; diff "$1" "$2" | head -n 10 >&2; return 1; }
}

# start NAME ARGS...: vigild over $T/db on free ports, log in $T/NAME.log (sets PID, URL)
start() {
    local log="$T/$1.log"
    shift
    vigild_start "$T/db" "$log" "$@" || exit 1
}
stop() { vigild_stop; }

AT=$(date -u +%Y-%m-%dT%H:%M:%SZ)
QUERIES=(
    "SELECT count(*) FROM llm_request"
    "SELECT p99(latency_s), avg(cost_usd), sum(output_tokens) FROM llm_request SINCE 30m EVERY 5m BY model"
    "SELECT count(*), max(duration_s) FROM tool_call SINCE 1h BY tool"
    "SELECT histogram(latency_s, 5) FROM llm_request SINCE 1h BY provider"
    "SELECT count(*) FROM llm_request SINCE 1h WHERE refusal = true BY model, route"
    # what the JSON carries beyond names and types (vg_result.h): drift pictures,
    # an aliased histogram, windows, infinities (NaN never reaches a cell: it is null)
    "SELECT ks(output_tokens) AS ks, psi(output_tokens) AS psi, wasserstein(latency_s) AS w FROM llm_request SINCE 10m BY route AGAINST PREVIOUS 10m"
    "SELECT histogram(latency_s, 4) AS h, count() AS n FROM llm_request SINCE 20m BY model"
    "SELECT count() AS n, p50(latency_s) AS p FROM llm_request SINCE 20m EVERY 2m"
    "SELECT mean(latency_s) * 1e308 * 1e308 AS pinf, -mean(latency_s) * 1e308 * 1e308 AS minf, mean(latency_s) AS m FROM llm_request SINCE 20m BY provider"
)
FORMATS=(table csv json)

# remote_or_local MODE I FMT: query I in FMT, remotely (MODE=r) or on the folder
run_query() {
    local where=$1 i=$2 fmt=$3
    if [ "$where" = r ]; then
        "$VIGIL" query --connect "$URL" --format "$fmt" --at "$AT" "${QUERIES[$i]}"
    else
        emb query "$T/db" --format "$fmt" --at "$AT" "${QUERIES[$i]}"
    fi
}

# ---- remote: ingest, then every output into files
start first
"$VIGIL" simulate --duration 20m --start "$(date -u -d '-25 min' +%Y-%m-%dT%H:%M:%SZ)" > "$T/sim.lp"
"$VIGIL" ingest --connect "$URL" "$T/sim.lp" > "$T/ingest.out" 2> "$T/ingest.err"
check "remote ingest succeeds" test $? -eq 0
check "remote ingest counts every line" grep -q "^$(grep -c . "$T/sim.lp") rows accepted, 0 rows rejected$" "$T/ingest.out"
for i in "${!QUERIES[@]}"; do
    for f in "${FORMATS[@]}"; do
        run_query r "$i" "$f" > "$T/q$i.$f.r" 2>&1
    done
done
VIGIL_URL="$URL" "$VIGIL" query --format csv --at "$AT" "${QUERIES[0]}" > "$T/q0.env.r" 2>&1
"$VIGIL" dump --connect "$URL" llm_request > "$T/dump.lp.r"
"$VIGIL" dump --connect "$URL" tool_call --format csv > "$T/dump.csv.r"
"$VIGIL" query --connect "$URL" "SELECT p99(latency) FROM llm_request" > "$T/err.r" 2>&1
check "a remote query error exits 1" test $? -eq 1
"$VIGIL" query --connect "$URL" --format json "SELECT p99(latency) FROM llm_request" > "$T/errj.r" 2>&1
# rejected lines: numbered from the start of the input, as embedded
now=$(date +%s%N)
printf 'cpu,host=a v=1 %s\nbad line\n# comment\n\ncpu,host=b v=x %s\ncpu v=2 %s\n' "$now" "$now" "$now" > "$T/bad.lp"
"$VIGIL" ingest --connect "$URL" "$T/bad.lp" > "$T/bad.r" 2>&1
check "a remote ingest with rejected lines exits 1" test $? -eq 1
printf '.tables\n.schema tool_call\nSELECT count(*) FROM tool_call;\n.format csv\nSELECT count(*) FROM llm_request BY model;\nSELECT nope FROM x;\n' > "$T/shell.in"
"$VIGIL" shell --connect "$URL" < "$T/shell.in" > "$T/shell.r" 2>&1
"$VIGIL" ingest --connect "http://127.0.0.1:1" "$T/bad.lp" > "$T/noserver" 2>&1
check "no server: a clear error naming the URL" grep -q "cannot reach vigild at http://127.0.0.1:1/write" "$T/noserver"
check "vigild stops cleanly" stop

# ---- embedded, on the same folder
for i in "${!QUERIES[@]}"; do
    for f in "${FORMATS[@]}"; do
        run_query e "$i" "$f" > "$T/q$i.$f.e" 2>&1
        check "query $i as $f: remote = embedded" same "$T/q$i.$f.r" "$T/q$i.$f.e"
    done
done
check "VIGIL_URL stands for --connect" same "$T/q0.env.r" "$T/q0.csv.e"
check "the windowed table has sparklines" grep -q "^model=gpt-4o  p99(latency_s)  " "$T/q1.table.r"
check "histogram cells are drawn as bars" grep -q "^histogram(latency_s,5) provider=" "$T/q3.table.r"
check "drift pictures are drawn remotely" grep -q "^ks route=.*" "$T/q5.table.r"
check "drift pictures: current beside reference" grep -q "bin  current  *reference" "$T/q5.table.r"
check "the JSON lists the pictures apart from the columns" grep -q '"pictures":\[{"name":"ks","column":' "$T/q5.json.r"
check "an aliased histogram is drawn as bars" grep -q "^h model=" "$T/q6.table.r"
check "the JSON marks a histogram column" grep -q '{"name":"h","type":"string","histogram":true}' "$T/q6.json.r"
check "windows without a name to guess from: sparklines" grep -q "^n  " "$T/q7.table.r"
check "the JSON says the rows are windows" grep -q '\],"windows":true}$' "$T/q7.json.r"
check "infinities print as such remotely" grep -q "+Inf  -Inf" "$T/q8.table.r"
check "the JSON keeps null in rows and spells infinities apart" grep -q '"nonfinite":\[\[0,1,"+Inf"\],\[0,2,"-Inf"\]' "$T/q8.json.r"
emb dump "$T/db" llm_request > "$T/dump.lp.e"
check "dump lp: remote = embedded" same "$T/dump.lp.r" "$T/dump.lp.e"
check "dump lp is not empty" test -s "$T/dump.lp.e"
emb dump "$T/db" tool_call --format csv > "$T/dump.csv.e"
check "dump csv: remote = embedded" same "$T/dump.csv.r" "$T/dump.csv.e"
emb query "$T/db" "SELECT p99(latency) FROM llm_request" > "$T/err.e" 2>&1
check "query error: remote = embedded" same "$T/err.r" "$T/err.e"
check "query error names line and column" grep -q "^error at line 1, column 12: " "$T/err.e"
emb query "$T/db" --format json "SELECT p99(latency) FROM llm_request" > "$T/errj.e" 2>&1
check "query error as json: remote = embedded" same "$T/errj.r" "$T/errj.e"
emb shell "$T/db" < "$T/shell.in" > "$T/shell.e" 2>&1
check "shell: remote = embedded" same "$T/shell.r" "$T/shell.e"
emb ingest "$T/db2" "$T/bad.lp" > "$T/bad.e" 2>&1
check "ingest with rejected lines: remote = embedded" same "$T/bad.r" "$T/bad.e"
check "rejected lines keep their numbers" grep -q "^line 5, column " "$T/bad.e"
emb stats "$T/db" | unname > "$T/stats.e"

# ---- a token on the server
start second --token s3cret
"$VIGIL" stats --connect "$URL" > "$T/stats.none" 2>&1
check "without VIGIL_TOKEN: fails" test $? -eq 1
check "without VIGIL_TOKEN: says 401 and what to set" grep -q "HTTP 401.*VIGIL_TOKEN" "$T/stats.none"
VIGIL_TOKEN=wrong "$VIGIL" query --connect "$URL" "${QUERIES[0]}" > "$T/q.wrong" 2>&1
check "a wrong VIGIL_TOKEN: fails with 401" grep -q "HTTP 401" "$T/q.wrong"
VIGIL_TOKEN=s3cret "$VIGIL" stats --connect "$URL" | unname > "$T/stats.r"
check "stats: remote = embedded" same "$T/stats.r" "$T/stats.e"
VIGIL_TOKEN=s3cret "$VIGIL" query --connect "$URL" --format csv --at "$AT" "${QUERIES[0]}" > "$T/q0.tok" 2>&1
check "with VIGIL_TOKEN: works" same "$T/q0.tok" "$T/q0.csv.e"
check "vigild stops cleanly again" stop

e2e_done
