#!/usr/bin/env bash
# vigild's line-protocol port: fire-and-forget ingest read back exactly;
# acknowledged mode (ERR for the bad line, then OK for the last line);
# a line over the limit answered and closed; the token on the first line.
# All of it twice: on the io_uring loop and on the poll(2) fallback.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init lptcp

# send PORT FILE: write FILE, half-close, print what the server answers until it closes.
cat > "$T/send.py" <<'EOF'
import socket, sys
s = socket.create_connection(("127.0.0.1", int(sys.argv[1])), timeout=15)
try:
    s.sendall(open(sys.argv[2], "rb").read())
    s.shutdown(socket.SHUT_WR)
except OSError:
    pass  # the server may close first (a refused line); its answer is still queued
out = b""
try:
    while True:
        b = s.recv(65536)
        if not b:
            break
        out += b
except OSError:
    pass
sys.stdout.write(out.decode())
EOF

start() { # extra flags...
  vigild_start "$T/db$MODE" "$T/vigild.log" "$@" || exit 1
  PORT=$LPORT
}
stop() { vigild_stop; }
send() { python3 "$T/send.py" "$PORT" "$1"; }
count() { # table -> its row count, read from the folder
  "$VIGIL" query "$T/db$MODE" --format csv "SELECT count() FROM $1" | tail -n 1 | tr -d '\r'
}

[ -x "$VIGILD" ] || { echo "no vigild at $VIGILD" >&2; echo "0 passed, 1 failed"; exit 1; }
suite() {
  now=$(date +%s%N)
  start

  # fire-and-forget: 10,000 lines, nothing written back
  python3 -c 'import sys; now = int(sys.argv[1]); print("\n".join(
    "lp_ff,host=h%d v=%di,f=%d.5 %d" % (i % 7, i, i, now - i * 1000) for i in range(10000)))' \
    "$now" > "$T/ff.lp"
  check "fire-and-forget answers nothing" test -z "$(send "$T/ff.lp")"

  # acknowledged mode: line 3 is bad (a field without a value)
  {
    echo "#vigil ack"
    for i in 1 2 3 4 5; do
      if [ "$i" = 2 ]; then echo "lp_ack,host=a v="; else echo "lp_ack,host=a v=${i}i $((now - i))"; fi
    done
  } > "$T/ack.lp"
  send "$T/ack.lp" > "$T/ack.out"
  check "ack mode answers ERR for line 3" grep -q '^ERR 3 [0-9]* ' "$T/ack.out"
  check "ack mode answers OK 6 last" test "$(tail -n 1 "$T/ack.out")" = "OK 6"
  check "ack mode ERR comes before the OK" test "$(head -n 1 "$T/ack.out" | cut -c1-5)" = "ERR 3"

  # a line over the 64 KiB limit: the good line before it is kept, then ERR and close
  {
    echo "#vigil ack"
    echo "lp_long v=1i $now"
    printf 'lp_long v="%s" %s\n' "$(head -c 70000 /dev/zero | tr '\0' x)" "$now"
    echo "lp_long v=2i $((now + 1))"
  } > "$T/long.lp"
  send "$T/long.lp" > "$T/long.out"
  check "a long line is answered ERR 3 line" grep -q '^ERR 3 line line too long' "$T/long.out"
  check "the line before a long one is acknowledged" grep -qx 'OK 2' "$T/long.out"

  check "vigild stops on SIGTERM" stop
  check "10,000 fire-and-forget rows read back" test "$(count lp_ff)" = 10000
  check "4 acknowledged rows read back" test "$(count lp_ack)" = 4
  check "1 row before the long line read back" test "$(count lp_long)" = 1

  # token: the first line must authenticate
  start --token s3cret
  printf 'lp_tok v=1i %s\n' "$now" > "$T/noauth.lp"
  printf '#vigil auth wrong\nlp_tok v=1i %s\n' "$now" > "$T/badauth.lp"
  printf '#vigil auth s3cret\n#vigil ack\nlp_tok v=1i %s\nlp_tok v=2i %s\n' "$now" "$((now + 1))" > "$T/auth.lp"
  check "a missing token is ERR 1 auth" test "$(send "$T/noauth.lp")" = "ERR 1 auth"
  check "a wrong token is ERR 1 auth" test "$(send "$T/badauth.lp")" = "ERR 1 auth"
  check "the right token is acknowledged" test "$(send "$T/auth.lp")" = "OK 4"
  check "vigild stops on SIGTERM (token)" stop
  check "only the authenticated rows are stored" test "$(count lp_tok)" = 2
}

# the io_uring loop, then the poll(2) fallback the listener uses without it
MODE=uring suite
VIGIL_LP_POLL=1 MODE=poll suite
e2e_done
