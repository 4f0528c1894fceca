#!/usr/bin/python3
"""oracle.py: the crash oracle of reliability.md part (b), P1-P5.

Compares what survived a crash (a CSV dump of table `crash`, columns conn,
seq, h) with the fsynced client log of bench/crash_driver.c:
  sent c k0 k1   the batch k0..k1 of connection c was about to go out
  acked c k1     the server acknowledged the batch ending at k1
  err c k        the server rejected row k
and requires
  P1 every acked row present, with its payload hash
  P2 no (conn, seq) twice
  P3 per connection the rows present are a prefix of its send order made of
     whole batches (the rows the driver sent malformed are the only holes)
  P4 nothing that was not sent; no row answered ERR; every ERR names a row
     that was sent malformed
  P5 the restart took at most --max-restart-ms, and no vigild log holds a
     sanitizer report (a torn tail cut at start is reported, as logged)
Optionally --same-as OTHER.csv: the rows must be exactly those of another
dump (a recovery interrupted by a crash converges to the same state).

Rows with seq % REJECT == REJECT - 1 were sent malformed (--reject REJECT).
Prints one summary line per connection, then one `FAIL Pn: ...` line per
violation (at most 20), then `ORACLE ok|failed ...`; exit 1 on any violation.
Standard library only: run it with /usr/bin/python3.
"""
import argparse
import csv
import re
import sys

M = (1 << 64) - 1
SANITIZER = re.compile(r"ERROR: (Address|Leak|Thread|Memory)Sanitizer|runtime error:|"
                       r"SUMMARY: UndefinedBehaviorSanitizer")


def row_hash(c, k):
    """splitmix64 of (c << 40) ^ k, shifted right once, as in crash_driver.c."""
    z = (((c << 40) ^ k) + 0x9e3779b97f4a7c15) & M
    z = ((z ^ (z >> 30)) * 0xbf58476d1ce4e5b9) & M
    z = ((z ^ (z >> 27)) * 0x94d049bb133111eb) & M
    z ^= z >> 31
    return z >> 1


class Log:
    """The driver's log, per connection."""

    def __init__(self, path, conns):
        self.ends = {c: set() for c in range(conns)}  # k1 of every batch sent
        self.last_sent = {c: -1 for c in range(conns)}
        self.last_acked = {c: -1 for c in range(conns)}
        self.errs = set()
        self.batches_acked = 0
        with open(path) as f:
            for line in f:
                self.take(line.split())

    def take(self, f):
        if len(f) < 3:
            return  # a line cut by the driver's own end; nothing acted on it
        c, k = int(f[1]), int(f[2])
        if c not in self.ends:
            raise SystemExit("oracle: log names connection %d, beyond --conns" % c)
        if f[0] == "sent" and len(f) == 4:
            self.ends[c].add(int(f[3]))
            self.last_sent[c] = max(self.last_sent[c], int(f[3]))
        elif f[0] == "acked":
            self.last_acked[c] = max(self.last_acked[c], k)
            self.batches_acked += 1
        elif f[0] == "err":
            self.errs.add((c, k))


def read_dump(path):
    """{(conn, seq): [hashes]} of the dump; integers may carry InfluxDB's i."""
    rows = {}
    with open(path) as f:
        for r in csv.DictReader(f):
            c, k = int(r["conn"]), int(r["seq"].rstrip("i"))
            rows.setdefault((c, k), []).append(int(r["h"].rstrip("i")))
    return rows


def check_rows(log, rows, conns, malformed, problems):
    for (c, k), hs in sorted(rows.items()):
        if len(hs) > 1:
            problems.append("P2: conn %d seq %d present %d times" % (c, k, len(hs)))
        if hs[0] != row_hash(c, k):
            problems.append("P1: conn %d seq %d has hash %d, sent %d" % (c, k, hs[0], row_hash(c, k)))
        if c not in log.last_sent or k < 0 or k > log.last_sent[c]:
            problems.append("P4: conn %d seq %d was never sent" % (c, k))
        if (c, k) in log.errs or malformed(k):
            problems.append("P4: conn %d seq %d was rejected (or malformed) yet is present" % (c, k))
    for (c, k) in sorted(log.errs):
        if not malformed(k):
            problems.append("P4: conn %d seq %d answered ERR but was well formed" % (c, k))


def check_prefix(log, rows, c, malformed, problems):
    """P3 and P1 for one connection; returns the last seq present (-1: none)."""
    ks = sorted(k for (cc, k) in rows if cc == c)
    m = ks[-1] if ks else -1
    if ks != [k for k in range(m + 1) if not malformed(k)]:
        problems.append("P3: conn %d has holes below seq %d (%d rows present)" % (c, m, len(ks)))
    while m >= 0 and m not in log.ends[c] and malformed(m + 1):
        m += 1  # the batch's last row was the rejected one
    if m >= 0 and m not in log.ends[c]:
        problems.append("P3: conn %d ends at seq %d, inside a batch" % (c, m))
    if m < log.last_acked[c]:
        problems.append("P1: conn %d acked up to seq %d, present only up to %d" % (c, log.last_acked[c], m))
    return m


def check_logs(paths, problems, notes):
    for p in paths:
        try:
            text = open(p, errors="replace").read()
        except OSError as e:
            problems.append("P5: cannot read the log %s: %s" % (p, e))
            continue
        m = SANITIZER.search(text)
        if m:
            problems.append("P5: %s holds a sanitizer report: %s" % (p, text[m.start():m.start() + 200].splitlines()[0]))
        for line in text.splitlines():
            if "torn tail" in line:
                notes.append("logged: " + line.strip())


def main():
    ap = argparse.ArgumentParser(description="P1-P5 over a crash driver log and a dump")
    ap.add_argument("log")
    ap.add_argument("dump")
    ap.add_argument("conns", type=int)
    ap.add_argument("reject", type=int, nargs="?", default=0)
    ap.add_argument("--restart-ms", type=int, help="how long the restart took")
    ap.add_argument("--max-restart-ms", type=int, default=20000)
    ap.add_argument("--vigild-log", action="append", default=[], help="a vigild log to scan (repeat)")
    ap.add_argument("--same-as", help="another dump that must hold exactly the same rows")
    ap.add_argument("--min-acked", type=int, default=0, help="fail unless this many batches were acked")
    a = ap.parse_args()

    def malformed(k):
        return a.reject > 0 and k % a.reject == a.reject - 1

    log = Log(a.log, a.conns)
    rows = read_dump(a.dump)
    problems, notes = [], []
    check_rows(log, rows, a.conns, malformed, problems)
    for c in range(a.conns):
        m = check_prefix(log, rows, c, malformed, problems)
        print("conn %d: sent 0..%d, acked 0..%d, present 0..%d, %d ERR" %
              (c, log.last_sent[c], log.last_acked[c], m, sum(1 for e in log.errs if e[0] == c)))
    if a.restart_ms is not None and a.restart_ms > a.max_restart_ms:
        problems.append("P5: the restart took %d ms (limit %d)" % (a.restart_ms, a.max_restart_ms))
    check_logs(a.vigild_log, problems, notes)
    if a.same_as is not None:
        other = read_dump(a.same_as)
        if other != rows:
            only_a = len(set(rows) - set(other))
            only_b = len(set(other) - set(rows))
            problems.append("converge: %d rows only here, %d only in %s" % (only_a, only_b, a.same_as))
    if log.batches_acked < a.min_acked:
        problems.append("vacuous: %d batches acked, at least %d expected" % (log.batches_acked, a.min_acked))
    for n in notes[:5]:
        print(n)
    for p in problems[:20]:
        print("FAIL " + p)
    print("ORACLE %s rows=%d acked_batches=%d problems=%d" %
          ("failed" if problems else "ok", len(rows), log.batches_acked, len(problems)))
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
