#!/usr/bin/env bash
# kill -9 of `vigil ingest` at random moments (fixed seed), several times
# over one folder: each time the folder must reopen (dump succeeds), hold no
# point twice, and hold only points that were sent. Finally an ingest that
# runs to completion must leave exactly what a clean ingest of the same data
# leaves, byte for byte in the dump, with stats counting each point once.
set -uo pipefail
. "$(dirname "$0")/lib.sh"
e2e_init kill9
RANDOM=4242

# a fixed start, so that every run of simulate sends the same points
start=$(( $(date +%s) / 3600 * 3600 - 3 * 3600 ))000000000
sim() { "$VIGIL" simulate --seed 11 --start "$start" --duration 12m; }
sim > "$T/sim.lp" || { echo "0 passed, 1 failed"; exit 1; }
tables="llm_request tool_call eval_result"

# the (series, time) key of each line: text up to the first unescaped space, and the last word
# with the tags sorted (dump writes them sorted, simulate does not)
keys() {
    perl -ne 'chomp; /^((?:\\.|[^ \\])*) .* (-?[0-9]+)$/ or next;
        my ($m, @t) = split /(?<!\\),/, $1; print join(",", $m, sort @t), " $2\n"'
}
for t in $tables; do grep "^$t," "$T/sim.lp" | keys | sort -u > "$T/sent.$t"; done

# a clean ingest, for the final comparison
"$VIGIL" ingest "$T/clean" "$T/sim.lp" > /dev/null || bad "clean ingest"
for t in $tables; do "$VIGIL" dump "$T/clean" "$t"; done > "$T/clean.lp"

check_folder() { # $1: label
    local t n dups extra
    for t in $tables; do
        if ! "$VIGIL" dump "$T/db" "$t" > "$T/dump.$t" 2> "$T/dump.err"; then
            # a table may not exist yet when the kill came early
            grep -q "no table" "$T/dump.err" && { : > "$T/dump.$t"; continue; }
            bad "$1: dump $t failed: $(cat "$T/dump.err")"
            return
        fi
        keys < "$T/dump.$t" | sort > "$T/got.$t"
        dups=$(uniq -d < "$T/got.$t" | wc -l)
        [ "$dups" -eq 0 ] || { bad "$1: $t has $dups points twice"; return; }
        extra=$(comm -23 "$T/got.$t" "$T/sent.$t" | wc -l)
        [ "$extra" -eq 0 ] || { bad "$1: $t has $extra points never sent"; return; }
    done
    ok
}

kill_ingest() { # kill -9 an ingest of the simulated stream into $T/db after a random delay
    "$VIGIL" ingest "$T/db" - < <(sim) > /dev/null 2>&1 &
    local pid=$!
    sleep "0.$((RANDOM % 6))$((RANDOM % 10))"
    kill -9 "$pid" 2> /dev/null
    wait "$pid" 2> /dev/null
}

for i in 1 2 3; do
    rm -rf "$T/db"
    kill_ingest
    check_folder "round $i, first kill"
    echo "round $i: $(cat "$T"/got.* 2>/dev/null | wc -l) of $(cat "$T"/sent.* | wc -l) points after a kill"
    kill_ingest # a second crash over the first one's leftovers
    check_folder "round $i, second kill"
    echo "round $i: $(cat "$T"/got.* 2>/dev/null | wc -l) points after another kill"
    # a run to completion converges on the clean result
    if "$VIGIL" ingest "$T/db" "$T/sim.lp" > "$T/final.out" 2>&1; then ok; else
        bad "round $i: final ingest: $(cat "$T/final.out")"
    fi
    check_folder "round $i, after the final ingest"
    for t in $tables; do "$VIGIL" dump "$T/db" "$t"; done > "$T/final.lp"
    if cmp -s "$T/clean.lp" "$T/final.lp"; then ok; else bad "round $i: final dump differs from a clean ingest"; fi
    "$VIGIL" stats "$T/db" > "$T/stats.out" || bad "stats"
    for t in $tables; do
        n=$(grep -c "^$t," "$T/final.lp")
        if grep -A1 "^table $t\$" "$T/stats.out" | grep -q "rows $n "; then ok; else
            bad "round $i: stats of $t do not count $n rows: $(grep -A1 "^table $t\$" "$T/stats.out" | tail -1)"
        fi
    done
done

echo "$pass passed, $fail failed"
[ "$fail" -eq 0 ]
