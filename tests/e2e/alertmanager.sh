#!/usr/bin/env bash
# vigild's `alertmanager` receiver against a real Alertmanager (Debian's
# prometheus-alertmanager, 0.25), started here on a free loopback port with
# its own storage and no clustering: a firing alert arrives through
# /api/v2/alerts with its labels and an endsAt in the future (Prometheus's
# four intervals ahead); once resolved, Alertmanager has it resolved. The
# Alertmanager routes to a hook_receiver too, so the whole chain vigild ->
# Alertmanager -> webhook is seen working, resolution included.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
SRC="${VG_SRC:-$(cd "$(dirname "$0")/../.." && pwd)}"
PY=/usr/bin/python3
AM=$(command -v prometheus-alertmanager || command -v alertmanager || true)
if [ -z "$AM" ]; then
    echo "0 passed, 0 failed (skipped: prometheus-alertmanager is not installed; apt-get install prometheus-alertmanager)"
    exit 0
fi
if [ ! -x "$VIGILD" ] || [ ! -x "$PY" ]; then
    echo "0 passed, 0 failed (skipped: vigild or /usr/bin/python3 missing)"
    exit 0
fi
e2e_init alertmanager
export T
AMPID='' HPID=''
on_exit() {
    [ -n "$AMPID" ] && kill "$AMPID" 2> /dev/null
    [ -n "$HPID" ] && kill "$HPID" 2> /dev/null
    wait 2> /dev/null
}
cat > "$T/lib.py" << 'EOF'
import json, os, time, urllib.request, datetime
T = os.environ["T"]
AM = open(T + "/am_url").read().strip()
def am_alerts():
    """Alertmanager's GET /api/v2/alerts (active, silenced, inhibited, unprocessed)."""
    with urllib.request.urlopen(AM + "/api/v2/alerts", timeout=5) as r:
        return [a for a in json.loads(r.read()) if a["labels"].get("alertname") == "AmX"]
def ts(s):
    """Go's RFC 3339 (nanoseconds) as a Unix time."""
    s = s.replace("Z", "+00:00")
    if "." in s:
        head, rest = s.split(".", 1)
        frac, tz = rest[:rest.index("+")], rest[rest.index("+"):]
        s = head + "." + (frac + "000000")[:6] + tz
    return datetime.datetime.fromisoformat(s).timestamp()
def hooks():
    try:
        return [json.loads(json.loads(l)["body"]) for l in open(T + "/hook.log")]
    except FileNotFoundError:
        return []
EOF
py() { "$PY" -c "exec(open('$T/lib.py').read())
$1"; }

# a webhook receiver for Alertmanager's own notifications
"$PY" "$SRC/tests/e2e/hook_receiver.py" --port 0 --log "$T/hook.log" > "$T/hook.port" &
HPID=$!
for _ in $(seq 50); do [ -s "$T/hook.port" ] && break; sleep 0.1; done
HPORT=$(head -n 1 "$T/hook.port")
[ -n "$HPORT" ] || { echo "hook_receiver did not start" >&2; exit 1; }

# Alertmanager on a free port (it logs the port it got), no cluster, its own storage
cat > "$T/am.yml" << EOF
route:
  receiver: hook
  group_by: [alertname]
  group_wait: 1s
  group_interval: 1s
  repeat_interval: 1h
receivers:
  - name: hook
    webhook_configs:
      - url: http://127.0.0.1:$HPORT/am
        send_resolved: true
EOF
"$AM" --config.file="$T/am.yml" --storage.path="$T/am-data" --web.listen-address=127.0.0.1:0 \
    --cluster.listen-address= > "$T/am.log" 2>&1 &
AMPID=$!
AMPORT=
for _ in $(seq 100); do
    AMPORT=$(sed -n 's/.*msg="Listening on" address=127\.0\.0\.1:\([0-9]*\).*/\1/p' "$T/am.log" | head -n 1)
    [ -n "$AMPORT" ] && break
    sleep 0.1
done
[ -n "$AMPORT" ] || { echo "alertmanager did not start:" >&2; cat "$T/am.log" >&2; exit 1; }
echo "http://127.0.0.1:$AMPORT" > "$T/am_url"
check am_ready wait_for 10 curl -sf -o /dev/null "http://127.0.0.1:$AMPORT/-/ready"

# vigild with an alertmanager receiver
cat > "$T/vigild.yaml" << EOF
receivers:
  - name: am
    type: alertmanager
    url: http://127.0.0.1:$AMPORT
    timeout: 5s
EOF
E2E_CWD=$T vigild_start "$T/db" "$T/vigild.log" --config "$T/vigild.yaml" \
    --runbooks "$SRC/tests/e2e/runbooks/alertmanager.yaml" || exit 1
echo "$URL" > "$T/vigild_url"

ns=$(date +%s%N)
check write test "$(curl -s -o /dev/null -w '%{http_code}' --max-time 5 -XPOST "$URL/write" \
    --data-binary "t_am,host=a x=50 $ns"$'\n'"t_am,host=b x=1 $ns")" = 204

# firing: in Alertmanager with its labels, endsAt minutes ahead
check am_has_alert wait_for 8 py 'assert am_alerts()'
check am_alert_labels py '
a = am_alerts(); assert len(a) == 1, a
a = a[0]
assert a["labels"] == {"alertname": "AmX", "host": "a", "runbook": "e2e-alertmanager",
                       "severity": "ticket"}, a["labels"]
assert a["annotations"]["summary"] == "x on a at 50", a["annotations"]
assert a["status"]["state"] == "active", a["status"]
assert ts(a["endsAt"]) > time.time() + 60, ("endsAt should be minutes ahead", a["endsAt"])
assert abs(ts(a["startsAt"]) - time.time()) < 20, a["startsAt"]
assert "receivers" in a and a["receivers"][0]["name"] == "hook", a'
check am_routes_to_webhook wait_for 8 py '
h = [b for b in hooks() if b["status"] == "firing"]
assert h and h[0]["receiver"] == "hook" and h[0]["alerts"][0]["labels"]["alertname"] == "AmX", h'

# resolution: the row leaves the 8s window; no_data: ok resolves the group,
# and vigild posts it with endsAt in the past
check vigild_resolves wait_for 15 py '
with urllib.request.urlopen(open(T + "/vigild_url").read().strip() + "/api/v1/alerts") as r:
    d = json.loads(r.read())
assert d["data"]["alerts"] == [], d'
check am_resolved wait_for 5 py '
a = am_alerts()
assert not a or ts(a[0]["endsAt"]) <= time.time(), ("still active in Alertmanager", a)'
# Alertmanager resolves on vigild's endsAt, not on the one minutes ahead
check am_webhook_resolved wait_for 8 py '
r = [b for b in hooks() if b["status"] == "resolved"]; assert r, hooks()
a = r[0]["alerts"][0]
assert a["labels"]["alertname"] == "AmX" and a["status"] == "resolved", a
assert 0 < ts(a["endsAt"]) - ts(a["startsAt"]) < 30, (a["startsAt"], a["endsAt"])'

check vigild_stops vigild_stop
e2e_done
