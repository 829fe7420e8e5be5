#!/usr/bin/env bash
# bench/pty-throughput.sh [MB] [CONTAINER]
# Output throughput through a pty, attachkit side by side with lxc-attach:
# both attach to the same running LXC container under script(1) (so every
# std fd is a terminal and each allocates and proxies a pty), and the command
# writes MB mebibytes of zeros to it. Also shown: the same command under
# script(1) with no attach at all (one pty instead of two), and each tool's
# time for an empty output (start-up), which the MB/s figures exclude.
# Creates the busybox container (test/lxc/make-container.sh) when missing.
# Run as root, after scripts/setup.sh.
set -euo pipefail
cd "$(dirname "$0")/.."
MB=${1:-256}
NAME=${2:-attachkit-bench}
BYTES=$((MB * 1048576))

[ "$(lxc-info -n "$NAME" -sH 2>/dev/null)" = RUNNING ] || bash test/lxc/make-container.sh "$NAME" >/dev/null
PID=$(lxc-info -n "$NAME" -pH)
AK="$PWD/packages/cli/build/attachkit --pid $PID --"
LXC="lxc-attach -n $NAME --"

# seconds for one run of a command line under script(1), its output discarded
seconds() {
    local t0 t1
    t0=$(date +%s.%N)
    script -qec "$1" /dev/null </dev/null >/dev/null
    t1=$(date +%s.%N)
    awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.3f", b - a }'
}

# best of 3: MB/s with start-up taken out
row() {
    local label=$1 prefix=$2 best=999999 empty=999999 t
    for _ in 1 2 3; do
        t=$(seconds "$prefix head -c 0 /dev/zero"); empty=$(awk -v a="$t" -v b="$empty" 'BEGIN { print (a < b) ? a : b }')
        t=$(seconds "$prefix head -c $BYTES /dev/zero"); best=$(awk -v a="$t" -v b="$best" 'BEGIN { print (a < b) ? a : b }')
    done
    awk -v l="$label" -v t="$best" -v e="$empty" -v mb="$MB" \
        'BEGIN { d = t - e; printf "%-22s %8.1f MB/s   (%d MiB in %.3fs, start-up %.3fs)\n", l, (d > 0 ? mb / d : 0), mb, t, e }'
}

echo "output through a pty under script(1), $MB MiB of zeros, container $NAME (pid $PID)"
row "script only (1 pty)" ""
row "lxc-attach 5.0.2" "$LXC"
row "attachkit" "$AK"
