#!/usr/bin/env bash
# kill -9 of vigild during acknowledged ingest (reliability plan, row 1).
# Each iteration starts vigild on a FRESH folder (so that the (conn, seq) keys
# of one iteration cannot meet another's), runs vigil-crash-driver with 3
# connections, kill -9s vigild after a random 0.3-1.5 s (RANDOM seeded by the
# iteration), restarts it on the same folder, stops it cleanly and checks the
# dump against the driver's fsynced log:
#   P1 every acked row present, with its payload hash
#   P2 no (conn, seq) twice
#   P3 per connection the seqs present are 0..m, m the end of a sent batch
#   P4 nothing beyond what was sent, no row answered ERR
#   P5 the restart listens within 20 s and the clean stop exits 0
# VIGIL_CRASH_ITER=N runs N iterations (default 3); KEEP=1 keeps the folders.
set -uo pipefail
: "${VIGIL:?set VIGIL to the vigil binary}"
VIGILD=${VIGILD:-"$(dirname "$VIGIL")/vigild"}
DRIVER=${VIGIL_CRASH_DRIVER:-"$(dirname "$VIGIL")/../bench/vigil-crash-driver"}
ITER=${VIGIL_CRASH_ITER:-3}
T=$(mktemp -d "${VG_TEST_TMP:-/tmp}/e2e-crash.XXXXXX" 2>/dev/null || mktemp -d)
PID=
DPID=
cleanup() {
  [ -n "$PID" ] && kill -9 "$PID" 2>/dev/null
  [ -n "$DPID" ] && kill -9 "$DPID" 2>/dev/null
  [ -n "${KEEP:-}" ] || rm -rf "$T"
}
trap cleanup EXIT
pass=0 fail=0
ok() { pass=$((pass + 1)); }
bad() { fail=$((fail + 1)); echo "FAIL: $*" >&2; }

for b in "$VIGIL" "$VIGILD" "$DRIVER"; do
  [ -x "$b" ] || { echo "missing $b" >&2; echo "0 passed, 1 failed"; exit 1; }
done

start() { # DIR LOG: start vigild, set PID and PORT
  PORT=
  "$VIGILD" --data "$1" --http 127.0.0.1:0 --lp 127.0.0.1:0 2> "$2" &
  PID=$!
  for _ in $(seq 200); do
    PORT=$(sed -n 's/.*info lp listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$2" | head -n 1)
    [ -n "$PORT" ] && return 0
    kill -0 "$PID" 2>/dev/null || break
    sleep 0.1
  done
  echo "vigild did not start:" >&2
  cat "$2" >&2
  return 1
}

# check.py LOG DUMP.csv CONNS REJECT: P1-P4, one line per violation, exit 1 on any.
# Rows with seq % REJECT == REJECT - 1 were sent malformed: they must be absent,
# and they are the only holes allowed; every ERR must name one of them.
cat > "$T/check.py" <<'EOF'
import csv, sys
M = (1 << 64) - 1
def row_hash(c, k):  # splitmix64 of (c << 40) ^ k, shifted right once, as in crash_driver.c
    z = (((c << 40) ^ k) + 0x9e3779b97f4a7c15) & M
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    z ^= z >> 31
    return z >> 1
conns = int(sys.argv[3])
rej = int(sys.argv[4])
def malformed(k):
    return rej > 0 and k % rej == rej - 1
ends = {c: set() for c in range(conns)}   # k1 of every batch sent
last_sent = {c: -1 for c in range(conns)}
last_acked = {c: -1 for c in range(conns)}
errs = set()
for line in open(sys.argv[1]):
    f = line.split()
    if f[0] == "sent":
        c, k1 = int(f[1]), int(f[3]); ends[c].add(k1); last_sent[c] = max(last_sent[c], k1)
    elif f[0] == "acked":
        last_acked[int(f[1])] = max(last_acked[int(f[1])], int(f[2]))
    elif f[0] == "err":
        errs.add((int(f[1]), int(f[2])))
problems = []
seen = {}
for r in csv.DictReader(open(sys.argv[2])):
    c, k, h = int(r["conn"]), int(r["seq"].rstrip("i")), int(r["h"].rstrip("i"))
    if (c, k) in seen:
        problems.append("P2: conn %d seq %d twice" % (c, k))
    seen[(c, k)] = h
    if h != row_hash(c, k):
        problems.append("P1: conn %d seq %d has hash %d, sent %d" % (c, k, h, row_hash(c, k)))
    if c not in last_sent or k > last_sent[c] or k < 0:
        problems.append("P4: conn %d seq %d was never sent" % (c, k))
    if (c, k) in errs or malformed(k):
        problems.append("P4: conn %d seq %d was rejected (or malformed) yet is present" % (c, k))
for (c, k) in sorted(errs):
    if not malformed(k):
        problems.append("P4: conn %d seq %d answered ERR but was well formed" % (c, k))
for c in range(conns):
    ks = sorted(k for (cc, k) in seen if cc == c)
    m = ks[-1] if ks else -1
    if ks != [k for k in range(m + 1) if not malformed(k)]:
        problems.append("P3: conn %d has holes below seq %d (%d rows present)" % (c, m, len(ks)))
    while m >= 0 and m not in ends[c] and malformed(m + 1):
        m += 1  # the batch's last row was the rejected one
    if m >= 0 and m not in ends[c]:
        problems.append("P3: conn %d ends at seq %d, inside a batch" % (c, m))
    if m < last_acked[c]:
        problems.append("P1: conn %d acked up to seq %d, present only up to %d" % (c, last_acked[c], m))
    print("conn %d: sent 0..%d, acked 0..%d, present 0..%d, %d ERR" % (c, last_sent[c], last_acked[c], m, sum(1 for e in errs if e[0] == c)))
for p in problems[:20]:
    print("FAIL " + p)
sys.exit(1 if problems else 0)
EOF

CONNS=3
REJECT=37 # a malformed row now and then (prime, so it moves within batches)
total_acked=0
for i in $(seq "$ITER"); do
  RANDOM=$((7919 * i))
  r=$((300 + RANDOM % 1201)) # ms
  delay=$(printf '%d.%03d' $((r / 1000)) $((r % 1000)))
  D="$T/db$i"
  L="$T/log$i"
  : > "$L"
  start "$D" "$T/vigild$i.log" || { bad "iteration $i: vigild did not start"; continue; }
  "$DRIVER" --target "127.0.0.1:$PORT" --connections "$CONNS" --batch 50 --seconds 10 --reject "$REJECT" --log "$L" \
    > "$T/driver$i.out" 2>&1 &
  DPID=$!
  sleep "$delay"
  kill -9 "$PID"
  wait "$PID" 2>/dev/null
  PID=
  # the driver stops when its connections drop; a hang here is a failure
  for _ in $(seq 150); do kill -0 "$DPID" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$DPID" 2>/dev/null; then
    bad "iteration $i: the driver did not notice the kill"
    kill -9 "$DPID"
  fi
  wait "$DPID" 2>/dev/null
  DPID=
  acked=$(grep -c '^acked' "$L")
  total_acked=$((total_acked + acked))

  t0=$(date +%s%N)
  if start "$D" "$T/restart$i.log"; then
    ms=$((($(date +%s%N) - t0) / 1000000))
    if [ "$ms" -lt 20000 ]; then ok; else bad "iteration $i: restart took ${ms} ms"; fi
    kill -TERM "$PID"
    if wait "$PID"; then ok; else bad "iteration $i: vigild did not stop cleanly after the restart"; fi
    PID=
  else
    bad "iteration $i: vigild did not restart"
    continue
  fi

  if "$VIGIL" dump "$D" crash --format csv > "$T/dump$i.csv" 2> "$T/dump$i.err"; then ok; else
    bad "iteration $i: dump failed: $(cat "$T/dump$i.err")"
    continue
  fi
  if python3 "$T/check.py" "$L" "$T/dump$i.csv" "$CONNS" "$REJECT" > "$T/check$i.out"; then ok; else
    bad "iteration $i (kill after ${delay}s): $(grep FAIL "$T/check$i.out" | head -5)"
  fi
  echo "iteration $i: kill after ${delay}s, $acked batches acked; $(grep -c . "$T/dump$i.csv") dump lines"
  sed 's/^/  /' "$T/check$i.out"
  [ -n "${KEEP:-}" ] || rm -rf "$D"
done

# a loaded machine may ack nothing in 0.3 s; over all iterations nothing acked
# would make the test vacuous
if [ "$total_acked" -gt 0 ]; then ok; else bad "no batch was acknowledged in any iteration"; fi
echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
