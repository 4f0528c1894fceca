#!/usr/bin/env bash
# vigild under abusive clients, with a well-behaved client alongside:
# - a slowloris on the line-protocol port (one byte every 0.5 s for longer
#   than --idle-timeout): the idle timeout counts time WITHOUT data, so a
#   trickling client is allowed to stay; what matters is that it blocks no one;
# - a flood of idle connections past --max-conns: the ones past the limit get
#   `ERR 1 conns too many connections (limit N)` and are closed; the idle ones
#   are closed after the idle timeout;
# - half-open clients (half a line, then silence): `ERR <n> idle ...` in ack
#   mode, then closed; a client that sends bad lines and never reads its ERRs;
# - HTTP: a stalled request line is dropped after --http-timeout; a body over
#   --max-body is answered 413 (by Content-Length, and chunked);
# - meanwhile 20 acknowledged batches of 500 rows and 10 HTTP /write batches
#   complete before a generous deadline (progress, not throughput), RSS stays
#   bounded and the descriptor count returns near its start once the abusive
#   clients are gone; SIGTERM then exits 0.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init abuse

[ -x "$VIGILD" ] || { echo "no vigild at $VIGILD" >&2; echo "0 passed, 1 failed"; exit 1; }

IDLE=2 MAXCONNS=50 MAXBODY=1000000
cat > "$T/abuse.py" <<'EOF'
import http.client, os, socket, sys, threading, time

LP, HP, PID, IDLE, MAXCONNS, MAXBODY = (int(a) for a in sys.argv[1:7])
results = []  # (ok, name, detail)
lock = threading.Lock()


def check(ok, name, detail=""):
    with lock:
        results.append((bool(ok), name, detail))


def rss_kib():
    with open("/proc/%d/status" % PID) as f:
        for line in f:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    return 0


def nfds():
    return len(os.listdir("/proc/%d/fd" % PID))


def lp_conn(timeout=10):
    return socket.create_connection(("127.0.0.1", LP), timeout=timeout)


def read_until_closed(s, deadline):
    """Everything the server writes until it closes; None when it did not close by deadline."""
    out = b""
    while True:
        left = deadline - time.monotonic()
        if left <= 0:
            return None
        s.settimeout(left)
        try:
            b = s.recv(65536)
        except socket.timeout:
            return None
        except OSError:
            return out
        if not b:
            return out
        out += b


def still_open(s):
    """True when the server has neither closed s nor written to it."""
    s.setblocking(False)
    try:
        b = s.recv(1, socket.MSG_PEEK)
        return False  # closed, or the server wrote something
    except BlockingIOError:
        return True
    except OSError:
        return False
    finally:
        s.setblocking(True)


now_ns = time.time_ns()

# ---- the well-behaved clients ----

def good_lp(sock, out):
    """20 acknowledged batches of 500 rows, each acknowledged before the next."""
    try:
        f = sock.makefile("rb")
        sock.sendall(b"#vigil ack\n")
        line = 1
        done = 0
        for b in range(20):
            rows = "".join("good_lp,b=%d v=%di %d\n" % (b, i, now_ns - (b * 500 + i) * 1000)
                           for i in range(500)).encode()
            sock.sendall(rows)
            line += 500
            while True:
                ans = f.readline().decode().strip()
                if not ans:
                    out["err"] = "closed after %d batches" % done
                    return
                if ans.startswith("ERR"):
                    out["err"] = "unexpected " + ans
                    return
                if ans == "OK %d" % line:
                    break
            done += 1
        out["done"] = done
    except OSError as e:
        out["err"] = str(e)
    finally:
        out["t"] = time.monotonic()


def good_http(out):
    codes = []
    try:
        for b in range(10):
            c = http.client.HTTPConnection("127.0.0.1", HP, timeout=15)
            body = "".join("good_http,b=%d v=%di %d\n" % (b, i, now_ns - (b * 100 + i) * 1000)
                           for i in range(100))
            c.request("POST", "/write", body=body, headers={"Content-Type": "text/plain"})
            r = c.getresponse()
            r.read()
            codes.append(r.status)
            c.close()
    except OSError as e:
        out["err"] = str(e)
    out["codes"] = codes


# ---- the abusers ----

def slowloris(out):
    """One byte every 0.5 s, for 2.5x the idle timeout, then the rest of the line."""
    try:
        s = lp_conn()
        s.sendall(b"#vigil ack\n")
        msg = b"slow,h=a v=1i\n"
        t0 = time.monotonic()
        i = 0
        while time.monotonic() - t0 < IDLE * 2.5 and i < len(msg) - 1:
            s.sendall(msg[i:i + 1])
            i += 1
            time.sleep(0.5)
        out["open_after"] = still_open(s)
        out["elapsed"] = time.monotonic() - t0
        s.sendall(msg[i:])
        s.settimeout(5)
        out["answer"] = s.makefile("rb").readline().decode().strip()
        s.close()
    except OSError as e:
        out["err"] = str(e)


def half_line(out):
    """Half a line in ack mode, then silence: ERR <n> idle ..., then closed."""
    s = lp_conn()
    t0 = time.monotonic()
    s.sendall(b"#vigil ack\nhalf,h=a v=")
    out["answer"] = read_until_closed(s, t0 + IDLE + 5)
    out["after"] = time.monotonic() - t0
    s.close()


def half_silent(out):
    """Half a line without ack mode: closed after the idle timeout, with no answer."""
    s = lp_conn()
    t0 = time.monotonic()
    s.sendall(b"half2,h=a v=1")
    out["answer"] = read_until_closed(s, t0 + IDLE + 5)
    out["after"] = time.monotonic() - t0
    s.close()


def http_slow_headers(out):
    s = socket.create_connection(("127.0.0.1", HP), timeout=10)
    t0 = time.monotonic()
    s.sendall(b"POST /write HTTP/1.1\r\nHost: x")
    out["answer"] = read_until_closed(s, t0 + IDLE + 6)
    out["after"] = time.monotonic() - t0
    s.close()


def http_status(raw):
    if not raw:
        return None
    first = raw.split(b"\r\n", 1)[0].split()
    return int(first[1]) if len(first) > 1 and first[1].isdigit() else None


def http_big_by_length(out):
    """Content-Length past the limit: 413 before the body is read."""
    s = socket.create_connection(("127.0.0.1", HP), timeout=10)
    s.sendall(b"POST /write HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n" % (MAXBODY * 3))
    try:
        s.sendall(b"x" * 65536)  # the start of it; the server may already have closed
    except OSError:
        pass
    out["answer"] = read_until_closed(s, time.monotonic() + 10)
    s.close()


def http_big_chunked(out):
    """A chunked body with no length, past the limit as it arrives: 413."""
    s = socket.create_connection(("127.0.0.1", HP), timeout=10)
    s.sendall(b"POST /write HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
    line = b"big,h=a v=1i 1\n" * 4000
    sent = 0
    try:
        while sent < MAXBODY * 2:
            s.sendall(b"%x\r\n%s\r\n" % (len(line), line))
            sent += len(line)
        s.sendall(b"0\r\n\r\n")
    except OSError:
        pass
    out["answer"] = read_until_closed(s, time.monotonic() + 10)
    s.close()


# A client whose batch is all bad lines (regression: rejected lines used to
# be collected in quadratic time on the loop thread, stalling every client).
NBAD = 20000


def nonreader(out):
    """Ack mode, NBAD bad lines, never reads one ERR (a small receive buffer)."""
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)
    s.settimeout(10)
    s.connect(("127.0.0.1", LP))
    try:
        s.sendall(b"#vigil ack\n" + b"bad v=\n" * NBAD)
        out["sent"] = True
    except OSError as e:
        out["err"] = str(e)
    out["sock"] = s  # closed by the main thread once the checks are done


# ---- the run ----

time.sleep(0.3)
rss0, fd0 = rss_kib(), nfds()
t0 = time.monotonic()

good_sock = lp_conn(15)
good_lp_out, good_http_out = {}, {}
outs = {k: {} for k in ("slow", "half", "half2", "hslow", "hbig", "hchunk", "nonread")}
threads = [
    threading.Thread(target=slowloris, args=(outs["slow"],)),
    threading.Thread(target=half_line, args=(outs["half"],)),
    threading.Thread(target=half_silent, args=(outs["half2"],)),
    threading.Thread(target=nonreader, args=(outs["nonread"],)),
    threading.Thread(target=http_slow_headers, args=(outs["hslow"],)),
    threading.Thread(target=http_big_by_length, args=(outs["hbig"],)),
    threading.Thread(target=http_big_chunked, args=(outs["hchunk"],)),
]
for th in threads:
    th.start()
time.sleep(0.3)  # the abusers hold their slots before the flood

# the flood: idle connections up to and past the limit
flood = []
for i in range(MAXCONNS + 10):
    try:
        flood.append(lp_conn(5))
    except OSError:
        break
time.sleep(0.5)
refused, idle_open = 0, 0
refusal = b""
for s in flood:
    s.setblocking(False)
    try:
        b = s.recv(256)
        if b.startswith(b"ERR 1 conns"):
            refused += 1
            refusal = b
    except BlockingIOError:
        idle_open += 1
    except OSError:
        pass
    s.setblocking(True)
check(refused >= 10, "connections past --max-conns are refused with ERR 1 conns",
      "refused %d of %d; one said %r" % (refused, len(flood), refusal))
check(refusal.endswith(b"(limit %d)\n" % MAXCONNS), "the refusal names the limit", repr(refusal))
rss_peak = rss_kib()

# the good clients start while every slot is taken... except theirs, opened first
g1 = threading.Thread(target=good_lp, args=(good_sock, good_lp_out))
g2 = threading.Thread(target=good_http, args=(good_http_out,))
g_start = time.monotonic()
g1.start()
g2.start()

# the idle flood is closed by the server after the idle timeout
deadline = time.monotonic() + IDLE + 4
closed = 0
for s in flood:
    r = read_until_closed(s, deadline)
    if r is not None:
        closed += 1
check(closed == len(flood), "idle connections are closed after --idle-timeout",
      "%d of %d closed within %ds" % (closed, len(flood), IDLE + 4))
for s in flood:
    s.close()

g1.join(20)
g2.join(20)
check(good_lp_out.get("done") == 20 and good_lp_out["t"] - g_start < 15,
      "the acknowledged client completes 20 batches of 500 within 15 s", repr(good_lp_out))
check(good_http_out.get("codes") == [204] * 10, "10 HTTP /write batches are answered 204",
      repr(good_http_out))
good_sock.close()

for th in threads:
    th.join(20)
rss_peak = max(rss_peak, rss_kib())

o = outs["slow"]
# Documented behaviour: the idle timeout counts time without data, so a
# client that trickles a byte every 0.5 s is not idle and stays connected.
check(o.get("elapsed", 0) > IDLE and o.get("open_after"),
      "a slowloris trickling bytes is not cut by the idle timeout", repr(o))
check(o.get("answer") == "OK 2", "the slowloris's line is acknowledged once complete", repr(o))

o = outs["half"]
check(o.get("answer") is not None and o["answer"].startswith(b"ERR 2 idle"),
      "half a line in ack mode: ERR 2 idle, then closed", repr(o))
check(IDLE - 0.5 <= o.get("after", 0) <= IDLE + 3, "the half line is dropped near the idle timeout",
      repr(o))
o = outs["half2"]
check(o.get("answer") == b"", "half a line without ack: closed after the timeout, no answer", repr(o))

o = outs["hslow"]
check(o.get("answer") is not None and IDLE - 0.5 <= o.get("after", 0) <= IDLE + 5,
      "HTTP: a stalled request line is closed after --http-timeout", repr(o))
check(http_status(outs["hbig"].get("answer")) == 413, "HTTP: Content-Length past --max-body is 413",
      repr(outs["hbig"].get("answer", b"")[:80]))
check(http_status(outs["hchunk"].get("answer")) == 413, "HTTP: a chunked body past --max-body is 413",
      repr(outs["hchunk"].get("answer", b"")[:80]))

o = outs["nonread"]
check(o.get("sent"), "the non-reading client could send its lines", repr(o))
rss_peak = max(rss_peak, rss_kib())
if o.get("sock"):
    o["sock"].close()

# the abusers are gone: descriptors come back near the start
deadline = time.monotonic() + IDLE + 4
fd1 = nfds()
while fd1 > fd0 + 4 and time.monotonic() < deadline:
    time.sleep(0.2)
    fd1 = nfds()
check(fd1 <= fd0 + 4, "descriptors return near their start", "start %d, end %d" % (fd0, fd1))
check(rss_peak - rss0 < 300 * 1024, "RSS stays within 300 MiB of its start",
      "start %d KiB, peak %d KiB" % (rss0, rss_peak))

# still serving after all of it
s = lp_conn()
s.sendall(b"#vigil ack\nafter,h=a v=1i\n")
s.shutdown(socket.SHUT_WR)
check(read_until_closed(s, time.monotonic() + 5) == b"OK 2\n", "a new client is served afterwards")
s.close()

# one client's batch full of bad lines must not stall the others
bad = lp_conn()
bad.sendall(b"#vigil ack\n" + b"bad v=\n" * 20000)
probe = lp_conn()
tp = time.monotonic()
probe.sendall(b"#vigil ack\nprobe,h=a v=1i\n")
probe.shutdown(socket.SHUT_WR)
got = read_until_closed(probe, tp + 10)
check(got == b"OK 2\n" and time.monotonic() - tp < 2.0,
      "a batch of 20000 bad lines does not stall other clients",
      "%r after %.1fs" % (got, time.monotonic() - tp))
# bad.close()
# probe.close()

for ok, name, detail in results:
    print("%s %s%s" % ("PASS" if ok else "FAIL", name, "" if ok else ": " + detail))
EOF

count() { # table -> its row count, read from the folder
  "$VIGIL" query "$T/db$MODE" --format csv "SELECT count() FROM $1" 2>/dev/null | tail -n 1 | tr -d '\r'
}

suite() { # MODE names the run; VIGIL_LP_POLL in the environment picks the poll(2) loop
  if ! vigild_start "$T/db$MODE" "$T/vigild$MODE.log" --max-conns $MAXCONNS \
    --idle-timeout ${IDLE}s --http-timeout ${IDLE}s --max-body $MAXBODY; then
    bad "[$MODE] vigild did not start"
    return
  fi
  LP=$LPORT HP=$HPORT
  python3 "$T/abuse.py" "$LP" "$HP" "$PID" "$IDLE" "$MAXCONNS" "$MAXBODY" > "$T/abuse$MODE.out" 2> "$T/abuse$MODE.err"
  prc=$?
  sed "s/^/[$MODE] /" "$T/abuse$MODE.out"
  [ -s "$T/abuse$MODE.err" ] && cat "$T/abuse$MODE.err" >&2
  check "[$MODE] the abuse driver ran to its end" test "$prc" = 0
  pass=$((pass + $(grep -c '^PASS ' "$T/abuse$MODE.out")))
  nf=$(grep -c '^FAIL ' "$T/abuse$MODE.out")
  fail=$((fail + nf))
  check "[$MODE] vigild exits 0 on SIGTERM" vigild_stop
  # what the well-behaved clients were acknowledged for is all there
  check "[$MODE] the 10000 acknowledged rows are stored" test "$(count good_lp)" = 10000
  check "[$MODE] the 1000 HTTP rows are stored" test "$(count good_http)" = 1000
  if [ "$fail" != 0 ]; then echo "--- vigild log (tail)" >&2; tail -n 30 "$T/vigild$MODE.log" >&2; fi
}

MODE=uring suite
MODE=poll VIGIL_LP_POLL=1 suite

e2e_done
