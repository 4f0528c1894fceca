#!/usr/bin/env bash
# vigil-bench against a real vigild: 20,000 simulated rows over each protocol
# (tcp, tcp-ack, http) on 2 connections, each into a fresh vigild and folder;
# the acknowledged modes report every row acknowledged and no error, and
# after a graceful stop the folder holds exactly the rows sent. Also: the
# JSON report parses, the server's CPU and RSS figures appear with --pid, a
# wrong token is an error, and --until-queryable reads all three answer shapes.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init bench
BENCH=${VIGIL_BENCH:-"$(dirname "$VIGIL")/../bench/vigil-bench"}
for b in "$VIGILD" "$BENCH"; do
  [ -x "$b" ] || { echo "no binary at $b" >&2; echo "0 passed, 1 failed"; exit 1; }
done

start() { vigild_start "$T/${DB:-db}" "$T/vigild.log" "$@" || exit 1; } # extra flags...
stop() { vigild_stop; }
field() { # json-file key -> value
  python3 -c 'import json, sys; print(json.load(open(sys.argv[1])).get(sys.argv[2], ""))' "$1" "$2"
}

# Each protocol gets its own folder: the bench profile's timestamps are whole
# milliseconds and every run ends at its own "now", so two runs may share a
# point by chance (same series, same millisecond), which merges.
ROWS=20000
for proto in tcp tcp-ack http; do
  DB=db-$proto
  start
  port=$LPORT; [ "$proto" = http ] && port=$HPORT
  out="$T/$proto.json"
  vis=()  # the first run (tcp, nothing acknowledged) waits until every row is queryable
  [ "$proto" = tcp ] && vis=(--until-queryable \
    "http://127.0.0.1:$HPORT/api/v1/query?q=SELECT%20count()%20FROM%20llm_request%20SINCE%2030d")
  "$BENCH" ingest --target "127.0.0.1:$port" --protocol "$proto" --connections 2 \
    --rows "$ROWS" --pid "$PID" "${vis[@]}" --json > "$out" 2> "$T/$proto.err"
  check "$proto: vigil-bench exits 0" test $? -eq 0
  check "$proto: report is one JSON line" python3 -c 'import json,sys; json.load(open(sys.argv[1]))' "$out"
  check "$proto: sends $ROWS rows" test "$(field "$out" rows_sent)" = "$ROWS"
  check "$proto: no errors" test "$(field "$out" errors)" = 0
  check "$proto: server CPU and peak RSS reported" \
    test -n "$(field "$out" server_cpu_s_per_mrow)" -a -n "$(field "$out" server_peak_rss_mib)"
  if [ "$proto" != tcp ]; then
    check "$proto: every row acknowledged" test "$(field "$out" rows_acked)" = "$ROWS"
    check "$proto: latency percentiles reported" test -n "$(field "$out" ack_p99_ms)"
  fi
  [ "$proto" = tcp ] && check "tcp: rows/s until every row is queryable" \
    test -n "$(field "$out" queryable_rows_per_s)"
  check "$proto: vigild stops cleanly" stop
  n=$("$VIGIL" query "$T/$DB" --format csv "SELECT count() AS n FROM llm_request SINCE 30d" \
    2>/dev/null | tail -n 1 | tr -d '\r')
  check "$proto: the server holds exactly $ROWS rows (has $n)" test "$n" = "$ROWS"
done
DB=db

# with a token: the right one works on both ports, a wrong one is an error
start --token s3cret
VIGIL_TOKEN=s3cret "$BENCH" ingest --target "127.0.0.1:$LPORT" --protocol tcp-ack \
  --connections 1 --rows 5000 --json > "$T/tok.json" 2> /dev/null
check "tcp-ack with the token: every row acknowledged" test "$(field "$T/tok.json" rows_acked)" = 5000
"$BENCH" ingest --target "http://127.0.0.1:$HPORT" --protocol http --token s3cret \
  --connections 1 --rows 5000 --json > "$T/tokh.json" 2> /dev/null
check "http with the token: every row acknowledged" test "$(field "$T/tokh.json" rows_acked)" = 5000
"$BENCH" ingest --target "127.0.0.1:$HPORT" --protocol http --token wrong \
  --connections 1 --rows 5000 > /dev/null 2>&1
check "http with a wrong token fails" test $? -ne 0
"$BENCH" ingest --target "127.0.0.1:$LPORT" --protocol tcp-ack --token wrong \
  --connections 1 --rows 5000 > /dev/null 2>&1
check "tcp-ack with a wrong token fails" test $? -ne 0
"$BENCH" query --target "http://127.0.0.1:$HPORT" --token s3cret --repeat 3 \
  --query "SELECT count() FROM llm_request SINCE 30d" > "$T/q.out" 2>&1
check "query timing prints a median" grep -q 'median' "$T/q.out"
check "vigild stops cleanly (token)" stop

# --until-queryable reads Prometheus's and InfluxQL's answers too (summing over
# series), from a stub that answers what VictoriaMetrics and InfluxDB would.
cat > "$T/stub.py" <<'EOF'
import http.server, json
class H(http.server.BaseHTTPRequestHandler):
    def do_GET(self):
        if self.path.startswith("/prom"):
            doc = {"status": "success", "data": {"resultType": "vector", "result": [
                {"metric": {"a": "1"}, "value": [1795000000, "3000"]},
                {"metric": {"a": "2"}, "value": [1795000000, "2000"]}]}}
        elif self.path.startswith("/influx"):
            doc = {"results": [{"statement_id": 0, "series": [
                {"name": "m", "columns": ["time", "count"], "values": [[0, 4000]]},
                {"name": "m", "columns": ["time", "count"], "values": [[0, 1000]]}]}]}
        else:
            doc = {"something": "else"}
        b = json.dumps(doc).encode()
        self.send_response(200)
        self.send_header("Content-Length", str(len(b)))
        self.end_headers()
        self.wfile.write(b)
    def log_message(self, *a):
        pass
s = http.server.HTTPServer(("127.0.0.1", 0), H)
print(s.server_address[1], flush=True)
s.serve_forever()
EOF
python3 "$T/stub.py" > "$T/stub.port" &
STUB=$!
for _ in $(seq 50); do [ -s "$T/stub.port" ] && break; sleep 0.1; done
SPORT=$(cat "$T/stub.port")
start
for shape in prom influx; do
  "$BENCH" ingest --target "127.0.0.1:$LPORT" --protocol tcp-ack --connections 1 --rows 5000 \
    --until-queryable "http://127.0.0.1:$SPORT/$shape" --json > "$T/$shape.json" 2> "$T/$shape.err"
  check "--until-queryable reads the $shape shape" test -n "$(field "$T/$shape.json" queryable_s)"
done
"$BENCH" ingest --target "127.0.0.1:$LPORT" --protocol tcp-ack --connections 1 --rows 5000 \
  --until-queryable "http://127.0.0.1:$SPORT/other" --json > /dev/null 2> "$T/other.err"
check "--until-queryable on an answer without a count fails" test $? -ne 0
check "... saying so" grep -q 'no count in the answer' "$T/other.err"
kill "$STUB"
check "vigild stops cleanly (stub)" stop

e2e_done
