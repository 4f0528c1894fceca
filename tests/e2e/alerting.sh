#!/usr/bin/env bash
# vigild's alerting end to end: a real vigild runs tests/e2e/runbooks/
# alerting.yaml (one rule per scenario, each over its own table, to its own
# receiver) against scripted webhook receivers (hook_receiver.py), so that
# the scenarios run side by side and the whole script stays near 30 s:
#   - a rule fires: /api/v1/alerts and /api/v1/rules in Prometheus's shapes;
#   - the webhook gets Alertmanager's v4 payload with the `vigil` diagnosis,
#     signed (X-Vigil-Signature) and with an Idempotency-Key;
#   - a pending alert that clears sends nothing; a resolved one is sent;
#     every state change is a row of vigil_alerts;
#   - receivers answering 500,500,200 / 400 / 429 with Retry-After / down
#     then up / hanging (and ingest and queries answer meanwhile);
#   - silences: a silenced alert still shows but notifies no one, until expired;
#   - kill -9 with an alert firing and a notification in retries: after the
#     restart the alert is firing with the same activeAt, is not re-sent, and
#     the pending notification is delivered (with the same Idempotency-Key);
#   - reload (POST /-/reload and SIGHUP): a broken runbook is refused with
#     file:line:column and the old rules keep running; a good one is taken.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
SRC="${VG_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}"
PY=/usr/bin/python3
HOOK="$SRC/tests/e2e/hook_receiver.py"
if [ ! -x "$VIGILD" ] || [ ! -x "$PY" ]; then
    echo "0 passed, 0 failed (skipped: vigild or /usr/bin/python3 missing)"
    exit 0
fi
e2e_init alerting
export T
SECRET=e2e-secret
WPID=''
declare -A RPORT RPID
on_exit() {
    [ -n "$WPID" ] && kill "$WPID" 2> /dev/null
    for p in "${RPID[@]}"; do kill "$p" 2> /dev/null; done
    wait 2> /dev/null
}

# py CODE: Python over the receivers' logs and the API (helpers in lib.py)
cat > "$T/lib.py" << 'EOF'
import json, os, sys, time, urllib.request
T = os.environ["T"]
URL = open(T + "/url").read().strip()
def hooks(name, alert=None):
    """The requests receiver `name` logged, bodies parsed, optionally those about `alert`."""
    out = []
    try:
        f = open("%s/%s.log" % (T, name))
    except FileNotFoundError:
        return out
    for line in f:
        e = json.loads(line)
        try:
            e["json"] = json.loads(e["body"])
        except ValueError:
            e["json"] = None
        if alert is None or any(a["labels"].get("alertname") == alert
                                for a in (e["json"] or {}).get("alerts", [])):
            out.append(e)
    return out
def get(path):
    with urllib.request.urlopen(URL + path, timeout=5) as r:
        return json.loads(r.read())
def alerts(name=None):
    d = get("/api/v1/alerts")
    assert d["status"] == "success", d
    return [a for a in d["data"]["alerts"] if name is None or a["labels"]["alertname"] == name]
def rules():
    d = get("/api/v1/rules")
    assert d["status"] == "success", d
    return {r["name"]: r for g in d["data"]["groups"] for r in g["rules"]}
def history():
    """vigil_alerts as (alertname, state) pairs in time order."""
    import subprocess
    out = subprocess.run([os.environ["VIGIL"], "query", "--connect", URL, "--format", "json",
                          "SELECT * FROM vigil_alerts SINCE 1h"], capture_output=True, text=True,
                         timeout=10)
    assert out.returncode == 0, out.stderr
    d = json.loads(out.stdout)
    cols = [c["name"] for c in d["columns"]]
    rows = sorted(d["rows"], key=lambda r: r[cols.index("time")])
    return [dict(zip(cols, r)) for r in rows]
def ts(s):
    """Go's RFC 3339 (nanoseconds) as a Unix time."""
    import datetime
    s = s.replace("Z", "+00:00")
    if "." in s:
        head, rest = s.split(".", 1)
        i = rest.index("+")
        s = head + "." + (rest[:i] + "000000")[:6] + rest[i:]
    return datetime.datetime.fromisoformat(s).timestamp()
def states(alert):
    return [r["state"] for r in history() if r["alertname"] == alert]
EOF
py() { "$PY" -c "exec(open('$T/lib.py').read())
$1"; }

# receiver NAME SCRIPT [PORT]: a hook_receiver logging to $T/NAME.log
receiver() {
    local name=$1 script=$2 port=${3:-0}
    : > "$T/$name.port"
    "$PY" "$HOOK" --port "$port" --log "$T/$name.log" --script "$script" --secret "$SECRET" \
        > "$T/$name.port" &
    RPID[$name]=$!
    for _ in $(seq 50); do [ -s "$T/$name.port" ] && break; sleep 0.1; done
    RPORT[$name]=$(head -n 1 "$T/$name.port")
    [ -n "${RPORT[$name]}" ] || { echo "receiver $name did not start" >&2; exit 1; }
}
stop_receiver() {
    kill "${RPID[$1]}" 2> /dev/null
    wait "${RPID[$1]}" 2> /dev/null
    unset "RPID[$1]"
}

# start LOGNAME: vigild on free ports over $T/db with the test's runbooks
start() {
    E2E_CWD=$T vigild_start "$T/db" "$T/$1.log" --config "$T/vigild.yaml" --runbooks "$T/rb" || exit 1
    echo "$URL" > "$T/url"
}
write() { # write LINES: line protocol to vigild, 204 expected
    local got
    got=$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -XPOST "$URL/write" --data-binary "$1")
    [ "$got" = 204 ] || { echo "write answered $got" >&2; return 1; }
}
now() { date +%s%N; }

# ------------------------------------------------------------------- set up
receiver main 200
receiver res 200
receiver retry 500,500,200
receiver bad 400
receiver slow 429:2,200
receiver sil 200
receiver rst 500
receiver hang hang
receiver down 200 # only to find a free port: it is down until later
stop_receiver down
{
    echo "receivers:"
    for r in main res retry bad slow down hang sil rst; do
        printf '  - name: %s\n    type: webhook\n    url: http://127.0.0.1:%s/hook/%s\n' \
            "$r" "${RPORT[$r]}" "$r"
        printf '    hmac_secret: %s\n    group_wait: 1s\n    group_interval: 1s\n' "$SECRET"
        printf '    timeout: 2s\n    send_resolved: true\n'
    done
} > "$T/vigild.yaml"
mkdir -p "$T/rb"
cp "$SRC/tests/e2e/runbooks/alerting.yaml" "$T/rb/"
check runbook_checks "$VIGIL" check --config "$T/vigild.yaml" "$T/rb" > /dev/null
start a

# a silence before its alert fires
"$VIGIL" silence add --connect "$URL" alertname=SilX --duration 1h --comment e2e > "$T/sid"
SID=$(head -n 1 "$T/sid")
check silence_add test "${#SID}" = 36

# every scenario's data at once: host a crosses the threshold, host b never
ns=$(now)
lines=
for t in main res pend retry bad slow down hang sil rst ingest; do
    lines+="t_$t,host=a x=50 $ns"$'\n'"t_$t,host=b x=1 $ns"$'\n'
done
check write_all write "$lines"
# ResX and PendX look at the last seconds only: low rows keep their group
# in the result, so that the burst above leaving the window clears them
low_writer() {
    while :; do
        local u n
        u=$(cat "$T/url")
        n=$(now)
        curl -s -o /dev/null --max-time 2 -XPOST "$u/write" \
            --data-binary "t_res,host=a x=1 $n"$'\n'"t_pend,host=a x=1 $n"
        sleep 0.5
    done
}
low_writer &
WPID=$!

# ---------------------------------------------- 3. pending that clears (first: it is brief)
check pending_shown wait_for 4 py '
a = alerts("PendX"); assert len(a) == 1 and a[0]["state"] == "pending", a'

# ------------------------------------------------------------- 1. the rule fires
check fires wait_for 10 py '
a = alerts("HighX"); assert len(a) == 1 and a[0]["state"] == "firing", a'
check alerts_shape py '
d = get("/api/v1/alerts"); assert d["status"] == "success" and "alerts" in d["data"], d
a = alerts("HighX")[0]
assert a["labels"] == {"alertname": "HighX", "host": "a", "runbook": "e2e-alerting",
                       "severity": "page"}, a["labels"]
assert a["annotations"]["summary"] == "x on a at 50", a["annotations"]
assert float(a["value"]) == 50, a["value"]
assert 0 < time.time() - ts(a["activeAt"]) < 10, a["activeAt"]
assert not [x for x in alerts() if x["labels"].get("host") == "b"], "host b must not alert"
open(T + "/active_at", "w").write(a["activeAt"])
open(T + "/fp", "w").write(a["fingerprint"])'
check rules_shape py '
r = rules()
assert len(r) == 10, sorted(r)
h = r["HighX"]
assert h["health"] == "ok" and h["state"] == "firing" and h["type"] == "alerting", h
assert h["duration"] == 1 and h["query"].startswith("SELECT count() AS n, max(x) AS v FROM t_main"), h
age = time.time() - ts(h["lastEvaluation"])
assert -1 < age < 5, (h["lastEvaluation"], age)
assert "evaluationTime" in h and h["evaluationTime"] >= 0, h
assert r["PendX"]["health"] == "ok" and r["RetryX"]["state"] == "firing", r'

# ------------------------------------------------- 2. the webhook's payload
check webhook_arrives wait_for 10 py 'assert hooks("main", "HighX")'
check webhook_v4 py '
e = hooks("main", "HighX")[0]; b = e["json"]
assert e["path"] == "/hook/main" and e["method"] == "POST", e
assert b["version"] == "4" and b["status"] == "firing" and b["receiver"] == "main", b
assert b["groupKey"] == "{}:{alertname=\"HighX\"}", b["groupKey"]
assert b["groupLabels"] == {"alertname": "HighX"}, b
assert b["commonLabels"]["alertname"] == "HighX" and "truncatedAlerts" in b, b
assert b["notification_reason"] == "first notification", b
assert b["externalURL"].startswith("http"), b
assert len(b["alerts"]) == 1, b["alerts"]
a = b["alerts"][0]
assert a["status"] == "firing" and a["labels"]["host"] == "a", a
assert a["labels"]["severity"] == "page" and a["annotations"]["summary"] == "x on a at 50", a
assert a["startsAt"].endswith("Z") and a["endsAt"] == "0001-01-01T00:00:00Z", a
assert a["fingerprint"] == open(T + "/fp").read(), a
assert "generatorURL" in a, a'
check webhook_vigil py '
b = hooks("main", "HighX")[0]["json"]; v = b["alerts"][0]["vigil"]
assert b["vigil"] == v, "the top-level vigil key is the first alert'"'"'s"
assert v["runbook"]["name"] == "e2e-alerting" and v["runbook"]["rule"] == "HighX", v["runbook"]
assert v["observed"]["v"] == 50 and v["observed"]["host"] == "a", v["observed"]
assert isinstance(v["classification"]["class"], str) and v["classification"]["class"], v
assert v["cause"]["name"] == "x pushed too high", v["cause"]
assert v["cause"]["mitigation"] == "lower x" and v["cause"]["fallback"] == "x.mode=safe", v["cause"]
assert v["investigation"][0]["rows"] == [[1]], v["investigation"]
assert len(v["samples"]["offending"]) == 1, v["samples"]
assert "changes" in v, v'
check webhook_headers py '
e = hooks("main", "HighX")[0]; h = {k.lower(): x for k, x in e["headers"].items()}
assert e["signature_ok"] is True, h
assert h["x-vigil-signature"].startswith("sha256=") and h["x-vigil-timestamp"], h
assert h.get("idempotency-key"), h
assert h["content-type"].startswith("application/json"), h'

# --------------------------------------------- 5. receivers that fail
# receiver down: refused connections are retried, the notification waits
# in the outbox (DATA/notify/*.msg); once the receiver is up, it is delivered
down_queued() {
    local f
    f=$(grep -l '^receiver down$' "$T"/db/notify/*.msg 2> /dev/null | head -n 1)
    [ -n "$f" ] && basename "$f" .msg > "$T/down_id"
}
check down_queued wait_for 10 down_queued
sleep 1.5 # a few refused attempts
check down_still_queued test -e "$T/db/notify/$(cat "$T/down_id").msg"
receiver down 200 "${RPORT[down]}"
check down_delivered wait_for 15 py '
e = hooks("down", "DownX"); assert len(e) == 1 and e[0]["answer"] == "200", e
assert e[0]["headers"]["Idempotency-Key"] == open(T + "/down_id").read().strip(), e[0]["headers"]'
check down_outbox_empty test ! -e "$T/db/notify/$(cat "$T/down_id").msg"

# 500, 500, 200: delivered on the third attempt, one Idempotency-Key throughout
check retry_delivered wait_for 15 py '
e = hooks("retry"); assert [x["answer"] for x in e] == ["500", "500", "200"], e'
check retry_same_key py '
e = hooks("retry")
keys = {x["headers"].get("Idempotency-Key") for x in e}
assert len(keys) == 1 and None not in keys, keys
assert all(x["signature_ok"] for x in e)
assert len({x["json"]["alerts"][0]["fingerprint"] for x in e}) == 1'
# 429 with Retry-After: 2: the next attempt waits for it
check retry_after wait_for 10 py '
e = hooks("slow"); assert [x["answer"] for x in e] == ["429:2", "200"], e
gap = e[1]["time"] - e[0]["time"]
assert gap >= 1.9, "Retry-After: 2 not honoured, retried after %.2fs" % gap
assert e[0]["headers"]["Idempotency-Key"] == e[1]["headers"]["Idempotency-Key"]'
# ---------------------------------------------- 9. a receiver that hangs
check hang_in_flight wait_for 10 py 'assert hooks("hang", "HangX")'
# each write and query answers in well under the receiver's 2s timeout:
# a blocked ingest or query path would stall for it
hang_ok() {
    local i n0 n
    n0=$(curl -s --max-time 2 --get "$URL/api/v1/query" --data-urlencode format=csv \
        --data-urlencode 'q=SELECT count() AS n FROM t_ingest SINCE 1h' | tail -n 1 | tr -d '\r')
    : > "$T/hang_times"
    for i in $(seq 20); do
        curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 3 -XPOST "$URL/write" \
            --data-binary "t_ingest,host=h x=$i $(now)" >> "$T/hang_times"
        curl -s -o /dev/null -w '%{http_code} %{time_total}\n' --max-time 3 --get \
            "$URL/api/v1/query" --data-urlencode 'q=SELECT count() AS n FROM t_main SINCE 1h' \
            >> "$T/hang_times"
    done
    n=$(curl -s --max-time 2 --get "$URL/api/v1/query" --data-urlencode format=csv \
        --data-urlencode 'q=SELECT count() AS n FROM t_ingest SINCE 1h' | tail -n 1 | tr -d '\r')
    [ "$n" = $((${n0:-0} + 20)) ] || { echo "t_ingest has $n rows, not $((${n0:-0} + 20))" >&2; return 1; }
    awk '($1 != 204 && $1 != 200) || $2 > 1.5 {bad = 1; print "slow or failed: " $0 > "/dev/stderr"}
         END {exit bad || NR != 40}' "$T/hang_times"
}
check hang_ingest_query hang_ok
check hang_still_hanging py '
e = hooks("hang"); assert e and all(x["answer"] == "hang" for x in e), e'

# ------------------------------------------------- 4. resolution and 3. cleared pending
check resolved_sent wait_for 15 py '
e = hooks("res", "ResX")
st = [x["json"]["status"] for x in e]
assert st[:1] == ["firing"] and "resolved" in st, st
r = [x for x in e if x["json"]["status"] == "resolved"][0]["json"]
a = r["alerts"][0]
assert a["status"] == "resolved" and ts(a["endsAt"]) > ts(a["startsAt"]), a
assert a["endsAt"] != "0001-01-01T00:00:00Z", a
assert r["notification_reason"] == "all alerts resolved", r'
check resolved_not_in_alerts py 'assert not alerts("ResX")'
check pending_cleared wait_for 10 py 'assert not alerts("PendX")'
check pending_sent_nothing py 'assert not hooks("main", "PendX")'
check history_resolved py '
s = states("ResX"); assert s == ["pending", "firing", "resolved"], s'
check history_pending py '
s = states("PendX"); assert s == ["pending", "inactive"], s'
check history_columns py '
r = [x for x in history() if x["alertname"] == "HighX"]
assert [x["state"] for x in r] == ["pending", "firing"], r
assert r[1]["host"] == "a" and r[1]["severity"] == "page" and r[1]["value"] == 50, r[1]
assert r[1]["fingerprint"] == open(T + "/fp").read(), r[1]'
kill "$WPID" 2> /dev/null
wait "$WPID" 2> /dev/null
WPID=

# 400: dead-lettered after one attempt (by now it had seconds to be retried)
check bad_once py '
e = hooks("bad"); assert [x["answer"] for x in e] == ["400"], e'
check bad_dead_letter py '
import glob
key = hooks("bad")[0]["headers"]["Idempotency-Key"]
text = open("%s/db/notify/dead/%s.msg" % (T, key)).read()
for want in ("receiver bad\n", "status 400\n", "attempts 1\n"):
    assert want in text, (want, text[:300])'

# the notifier's counters on /metrics: one dead letter (bad), retries
# (retry, slow, down, hang, rst), deliveries; hang and rst still pending
check notify_metrics py '
import urllib.request
m = {}
for line in urllib.request.urlopen(URL + "/metrics", timeout=5).read().decode().splitlines():
    if line.startswith("vigil_notifications_"):
        k, v = line.split()
        m[k] = float(v)
assert m["vigil_notifications_dead_total"] == 1, m
assert m["vigil_notifications_retried_total"] >= 5, m
assert m["vigil_notifications_delivered_total"] >= 6, m
assert m["vigil_notifications_pending"] >= 2, m'

# ------------------------------------------------------------- 7. silences
check silenced_still_shown py '
a = alerts("SilX"); assert len(a) == 1 and a[0]["state"] == "firing", a'
check silenced_sent_nothing py 'assert not hooks("sil"), hooks("sil")'
"$VIGIL" silence list --connect "$URL" > "$T/silences.json"
check silence_list py '
s = json.load(open(T + "/silences.json")); sid = open(T + "/sid").read().strip()
m = [x for x in s if x["id"] == sid]
assert len(m) == 1 and m[0]["status"]["state"] == "active", s
assert m[0]["matchers"][0]["name"] == "alertname" and m[0]["matchers"][0]["value"] == "SilX", m
assert m[0]["comment"] == "e2e", m'
check silence_api_v1 py '
assert [x["id"] for x in get("/api/v1/silences")] == [x["id"] for x in get("/api/v2/silences")]'
check silence_expire "$VIGIL" silence expire --connect "$URL" "$SID"
"$VIGIL" silence list --connect "$URL" > "$T/silences.json"
check silence_expired py '
s = json.load(open(T + "/silences.json")); sid = open(T + "/sid").read().strip()
assert [x["status"]["state"] for x in s if x["id"] == sid] == ["expired"], s'
check unsilenced_notifies wait_for 10 py '
e = hooks("sil", "SilX"); assert e and e[0]["json"]["status"] == "firing", e'
check silence_expire_unknown_fails test "$("$VIGIL" silence expire --connect "$URL" nope 2>&1 >/dev/null; echo $?)" != 0

# --------------------------------------------- 6. kill -9 in the middle of retries
check rst_retrying wait_for 10 py '
e = hooks("rst"); assert e and all(x["answer"] == "500" for x in e), e'
py 'open(T + "/rst_key", "w").write(hooks("rst")[0]["headers"]["Idempotency-Key"])'
check rst_one_key py 'assert len({x["headers"]["Idempotency-Key"] for x in hooks("rst")}) == 1'
kill -9 "$PID"
wait "$PID" 2> /dev/null
PID=
stop_receiver rst
receiver rst 200 "${RPORT[rst]}"
start b
check restart_still_firing wait_for 5 py '
a = alerts("HighX"); assert len(a) == 1 and a[0]["state"] == "firing", a
assert a[0]["activeAt"] == open(T + "/active_at").read(), (a[0]["activeAt"], open(T + "/active_at").read())'
check restart_delivers wait_for 15 py '
e = hooks("rst"); assert e[-1]["answer"] == "200", e
assert e[-1]["headers"]["Idempotency-Key"] == open(T + "/rst_key").read(), e[-1]["headers"]'
sleep 3 # two group intervals: time enough for a wrong "first notification"
check restart_not_resent py '
n = [x["json"]["notification_reason"] for x in hooks("main", "HighX")]
assert n == ["first notification"], n
k = {x["headers"]["Idempotency-Key"] for x in hooks("rst")}
assert len(k) == 1, k'
check restart_no_new_history py '
s = states("HighX"); assert s == ["pending", "firing"], s'

# ----------------------------------------------------------------- 8. reload
py 'open(T + "/rules_before", "w").write(json.dumps(sorted(rules())))'
cat > "$T/rb/extra.yaml" << 'EOF'
name: e2e-extra
signal: latency
rules:
  - alert: NewX
    expr: SELECT count() AS n FROM t_main SINCE 5m
    when: n > 0
    evry: 1s
EOF
reload() { curl -s -o "$T/reload.json" -w '%{http_code}' --max-time 10 -XPOST "$URL/-/reload"; }
check reload_refused test "$(reload)" = 500
check reload_names_place py '
e = json.load(open(T + "/reload.json"))["error"]
assert "extra.yaml:7:5:" in e and "evry" in e, e'
kill -HUP "$PID"
check sighup_refused wait_for 5 grep -q 'reload refused, the old runbooks keep running: .*extra.yaml:7:5' "$T/b.log"
check reload_kept_rules py '
assert json.dumps(sorted(rules())) == open(T + "/rules_before").read()
a = alerts("HighX"); assert a and a[0]["state"] == "firing", a
r = rules()["HighX"]; assert r["health"] == "ok", r'
sed -i 's/    evry: 1s/    every: 1s/' "$T/rb/extra.yaml"
check reload_ok test "$(reload)" = 200
check reload_new_rule py '
r = rules(); assert len(r) == 11 and "NewX" in r, sorted(r)
a = alerts("HighX"); assert a[0]["activeAt"] == open(T + "/active_at").read(), a'
sed -i 's/alert: NewX/alert: NewY/' "$T/rb/extra.yaml"
kill -HUP "$PID"
check sighup_reloads wait_for 5 py '
r = rules(); assert "NewY" in r and "NewX" not in r and len(r) == 11, sorted(r)'
# the state is still saved where it belongs after reloads (DATA/alerts.json)
check state_saved_after_reload wait_for 5 py '
d = json.load(open(T + "/db/alerts.json"))
assert "NewY" in [r["alert"] for r in d["rules"]], [r["alert"] for r in d["rules"]]'
check new_rule_evaluates wait_for 5 py '
r = rules()["NewY"]; assert r["health"] == "ok" and r["lastEvaluation"] > "2000", r
assert [a for a in alerts("NewY") if a["state"] in ("pending", "firing")]'

check clean_stop vigild_stop
e2e_done
