#!/usr/bin/env bash
# ENOSPC on a real file system (reliability.md row 9): vigild on a small
# loop-mounted ext4 image, a filler file takes the free space, and HTTP
# /write batches (each 200 rows of 2 kB tagged b=<n>) are sent:
#  - a batch answered 204 is acknowledged; on a full disk batches must be
#    rejected (507 insufficient storage), never acknowledged;
#  - vigild stays up and, once the filler is removed, takes batches again
#    without a restart;
#  - after a restart, every acknowledged batch is there whole, and no rejected
#    batch ever appears (checked with `vigil dump`).
# Needs root and a loop device: otherwise prints "skipped: <reason>" and
# passes (reported as skipped).
set -uo pipefail
. "$(dirname "$0")/lib.sh"
skip() { echo "skipped: $*"; echo "0 passed, 0 failed (skipped)"; exit 0; }
[ -x "$VIGILD" ] || skip "vigild not built"
[ "$(id -u)" = 0 ] || skip "not root (a loop mount needs it)"
for t in truncate mkfs.ext4 mount umount curl; do
    command -v "$t" > /dev/null || skip "$t not installed"
done
e2e_init enospc
MNT="$T/mnt"
on_exit() { mountpoint -q "$MNT" 2> /dev/null && umount "$MNT"; }
mkdir -p "$MNT"
truncate -s 64M "$T/img" || skip "truncate failed"
mkfs.ext4 -q -F "$T/img" > "$T/mkfs.log" 2>&1 || skip "mkfs.ext4 failed: $(head -1 "$T/mkfs.log")"
mount -o loop "$T/img" "$MNT" 2> "$T/mount.log" || skip "mount -o loop failed: $(head -1 "$T/mount.log")"

start() { vigild_start "$MNT/db" "$T/vigild.log" || exit 1; }
stop() { vigild_stop; }

now=$(date +%s)
pad=$(head -c 2000 /dev/zero | tr '\0' 'x')
declare -A STATE # batch -> 204 / other status
send() { # send BATCH: one batch of 20 rows; records its HTTP status
    local b=$1 i
    for i in $(seq 0 199); do
        echo "enospc,b=$b seq=${i}i,pad=\"$pad\" $(( (now - 3600) * 1000000000 + b * 1000 + i ))"
    done > "$T/batch.lp"
    STATE[$b]=$(curl -s -o "$T/body" -w '%{http_code}' --max-time 30 -XPOST \
        "$URL/write?precision=ns" --data-binary @"$T/batch.lp")
}

start
b=0
for _ in 1 2 3; do send $b; b=$((b + 1)); done
for x in 0 1 2; do [ "${STATE[$x]}" = 204 ] || bad "batch $x before the disk filled: ${STATE[$x]}"; done
ok

# take every free block (root may use the reserved ones too, as vigild does)
dd if=/dev/zero of="$MNT/filler" bs=1M > /dev/null 2>&1
dd if=/dev/zero of="$MNT/filler2" bs=4k > /dev/null 2>&1
cat /dev/zero > "$MNT/filler3" 2> /dev/null
rejected=0
sent=0
# until the first rejection (the WAL may hold preallocated blocks), then 5 more
while [ "$sent" -lt 200 ] && { [ "$rejected" -eq 0 ] || [ "$rejected" -lt 5 ]; }; do
    send $b
    sent=$((sent + 1))
    case "${STATE[$b]}" in
        204) ;;
        507) rejected=$((rejected + 1)) ;;
        *) bad "batch $b on a full disk: status ${STATE[$b]} ($(head -c 200 "$T/body"))" ;;
    esac
    b=$((b + 1))
done
echo "full disk: $rejected of $sent batches rejected with 507"
[ "$rejected" -gt 0 ] && ok || bad "no batch was rejected on a full disk"
kill -0 "$PID" 2> /dev/null && ok || bad "vigild died on a full disk"

# space returns: ingest resumes without a restart
rm -f "$MNT/filler" "$MNT/filler2" "$MNT/filler3"
sync
resume_first=$b
for _ in 1 2 3 4 5; do send $b; b=$((b + 1)); done
for x in $(seq "$resume_first" $((b - 1))); do
    [ "${STATE[$x]}" = 204 ] || bad "batch $x after space returned: ${STATE[$x]} ($(head -c 200 "$T/body"))"
done
ok
stop || bad "vigild did not stop cleanly"

# after a restart: acknowledged batches whole, rejected ones absent
start
stop || bad "vigild did not stop cleanly after the restart"
"$VIGIL" dump "$MNT/db" enospc > "$T/dump.lp" 2> "$T/dump.err" || bad "dump: $(cat "$T/dump.err")"
for x in $(seq 0 $((b - 1))); do
    n=$(grep -c "^enospc,b=$x " "$T/dump.lp")
    if [ "${STATE[$x]}" = 204 ]; then
        [ "$n" = 200 ] || bad "acknowledged batch $x has $n of 200 rows after restart"
    else
        [ "$n" = 0 ] || bad "rejected batch $x (${STATE[$x]}) has $n rows after restart"
    fi
done
ok
echo "RELIABILITY suite=enospc_ext4 iterations=$b faults=$rejected failures=$fail"
e2e_done
