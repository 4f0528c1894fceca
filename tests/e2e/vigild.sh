#!/usr/bin/env bash
# vigild's start-up and shutdown: help, required and bad options, the config
# file's errors with their line, the loopback rule, free ports, SIGTERM.
set -euo pipefail
VIGILD="$(dirname "$VIGIL")/vigild"
T=$(mktemp -d "${VG_TEST_TMP:-/tmp}/e2e-vigild.XXXXXX" 2>/dev/null || mktemp -d)
pid=
trap '[ -n "$pid" ] && kill -9 "$pid" 2>/dev/null; rm -rf "$T"' EXIT
pass=0
ok() { pass=$((pass + 1)); }

"$VIGILD" --help | grep -q -- '--data DIR' && ok
"$VIGILD" --help | grep -q -- '--wal-sync' && ok
if "$VIGILD" 2> "$T/e"; then exit 1; fi
grep -q -- '--data DIR is required' "$T/e" && ok
if "$VIGILD" --data "$T/db" --bogus 1 2> "$T/e"; then exit 1; fi
grep -q "unknown option '--bogus'" "$T/e" && ok
# a bad database option names the flag and the value (in a config file too)
if "$VIGILD" --data "$T/db" --seal-age 0 2> "$T/e"; then exit 1; fi
grep -q "bad value '0' for --seal-age" "$T/e" && ok
if "$VIGILD" --data "$T/db" --seal-rows many 2> "$T/e"; then exit 1; fi
grep -q "bad value 'many' for --seal-rows" "$T/e" && ok
printf 'seal_age: soon\n' > "$T/c0.yaml"
if "$VIGILD" --data "$T/db" --config "$T/c0.yaml" 2> "$T/e"; then exit 1; fi
grep -q "c0.yaml: line 1, column 11: bad value for 'seal_age'" "$T/e" && ok
# listening beyond loopback needs a token
if "$VIGILD" --data "$T/db" --http 0.0.0.0:0 --lp 127.0.0.1:0 2> "$T/e"; then exit 1; fi
grep -q 'refusing to listen beyond loopback' "$T/e" && ok
# config file errors name the file, the line and the column
printf 'max_conns: 10\nbogus_key: 1\n' > "$T/c1.yaml"
if "$VIGILD" --data "$T/db" --config "$T/c1.yaml" 2> "$T/e"; then exit 1; fi
grep -q "c1.yaml: line 2, column 12: unknown key 'bogus_key'" "$T/e" && ok
printf 'max_conns: [1, 2\n' > "$T/c2.yaml"
if "$VIGILD" --data "$T/db" --config "$T/c2.yaml" 2> "$T/e"; then exit 1; fi
grep -q 'c2.yaml: line' "$T/e" && ok
printf 'retention: soon\n' > "$T/c3.yaml"
if "$VIGILD" --data "$T/db" --config "$T/c3.yaml" 2> "$T/e"; then exit 1; fi
grep -q "bad value for 'retention'" "$T/e" && ok
# a good file, a flag that wins over it, free ports, a clean stop on SIGTERM
printf 'wal_sync: group:2\nhttp: 127.0.0.1:1\nlp: 127.0.0.1:0\n' > "$T/c4.yaml"
"$VIGILD" --data "$T/db" --config "$T/c4.yaml" --http 127.0.0.1:0 2> "$T/log" &
pid=$!
for _ in $(seq 100); do grep -q ' ready' "$T/log" && break; sleep 0.1; done
grep -q ' ready' "$T/log" && ok
grep -qE 'info http listening on 127\.0\.0\.1:[1-9][0-9]*' "$T/log" && ok
grep -qE 'info lp listening on 127\.0\.0\.1:[1-9][0-9]*' "$T/log" && ok
kill -TERM "$pid"
wait "$pid"
pid=
grep -q 'SIGTERM: stopping' "$T/log" && grep -q ' stopped' "$T/log" && ok
# every log line: time, level, message
awk '!/^[0-9-]+T[0-9:.]+Z (debug|info|warn|error) /{bad=1} END {exit bad}' "$T/log" && ok
echo "$pass passed, 0 failed"
[ "$pass" = 16 ]
