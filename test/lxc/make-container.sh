#!/bin/bash
# make-container.sh NAME [--unpriv] [--stopped] [--lxcpath PATH] [--conf LINE]...
# Idempotently create + start a busybox LXC container with no networking
# (lxc.net.0.type = empty).  --unpriv adds lxc.idmap u/g 0 100000 65536.
# --conf appends LINE (`key = value`) to the config unless it is there already,
# restarting a running container whose config it changed.
# --stopped leaves it defined but stopped; --lxcpath creates it there
# instead of in `lxc-config lxc.lxcpath`.
# Must run as root.  Installs lxc + busybox-static if lxc-create is missing.
# Prints timings (create, start) to stderr.
set -euo pipefail

usage() { echo "usage: $0 NAME [--unpriv] [--stopped] [--lxcpath PATH] [--conf LINE]..." >&2; exit 2; }
[ $# -ge 1 ] || usage
NAME=$1; shift
UNPRIV=0
STOPPED=0
LXCPATH=
EXTRA=()
while [ $# -gt 0 ]; do
    case $1 in
        --unpriv) UNPRIV=1 ;;
        --stopped) STOPPED=1 ;;
        --lxcpath) [ $# -ge 2 ] || usage; LXCPATH=$2; shift ;;
        --conf) [ $# -ge 2 ] || usage; EXTRA+=("$2"); shift ;;
        *) usage ;;
    esac
    shift
done
[ "$(id -u)" = 0 ] || { echo "must be root" >&2; exit 1; }

SUBID_BASE=100000
SUBID_RANGE=65536

now() { date +%s.%N; }
elapsed() { awk -v a="$1" -v b="$(now)" 'BEGIN{printf "%.3f", b-a}'; }
log() { echo "[make-container] $*" >&2; }

# --- 1. packages -----------------------------------------------------------
if ! command -v lxc-create >/dev/null 2>&1 || ! command -v busybox >/dev/null 2>&1; then
    t=$(now)
    export DEBIAN_FRONTEND=noninteractive
    apt-get update -q >&2
    apt-get install -y -q lxc busybox-static >&2
    log "apt-get install took $(elapsed "$t")s"
fi

[ -n "$LXCPATH" ] || LXCPATH=$(lxc-config lxc.lxcpath)
mkdir -p "$LXCPATH"
P=(-P "$LXCPATH")
CDIR=$LXCPATH/$NAME
CONF=$CDIR/config

# --- 2. subordinate ids (unpriv only) ---------------------------------------
if [ $UNPRIV = 1 ]; then
    for f in /etc/subuid /etc/subgid; do
        touch "$f"
        grep -qx "root:$SUBID_BASE:$SUBID_RANGE" "$f" || echo "root:$SUBID_BASE:$SUBID_RANGE" >> "$f"
    done
fi

# --- helpers -----------------------------------------------------------------
fix_config() {
    # no bridge needed: veth -> empty, drop bridge-only keys
    sed -i -e 's/^lxc\.net\.0\.type *= *veth/lxc.net.0.type = empty/' \
           -e '/^lxc\.net\.0\.\(link\|flags\|hwaddr\)\b/d' "$CONF"
    grep -q '^lxc\.net\.0\.type' "$CONF" || echo 'lxc.net.0.type = empty' >> "$CONF"
    if [ $UNPRIV = 1 ] && ! grep -q '^lxc\.idmap' "$CONF"; then
        printf 'lxc.idmap = u 0 %d %d\nlxc.idmap = g 0 %d %d\n' \
            $SUBID_BASE $SUBID_RANGE $SUBID_BASE $SUBID_RANGE >> "$CONF"
    fi
    local line changed=0
    for line in ${EXTRA[@]+"${EXTRA[@]}"}; do
        grep -qxF -- "$line" "$CONF" && continue
        [ -z "$(tail -c1 "$CONF")" ] || echo >> "$CONF"   # the template ends without a newline
        echo "$line" >> "$CONF"; changed=1
    done
    if [ $changed = 1 ] && [ "$(state)" = RUNNING ]; then
        log "config of $NAME changed, restarting"
        lxc-stop "${P[@]}" -n "$NAME" -k >&2
    fi
}

# Shift ownership of an existing privileged rootfs by +SUBID_BASE
# (only used when converting an existing privileged container to --unpriv).
shift_rootfs() {
    local rootfs=$1
    find "$rootfs" -xdev -printf '%U %G %m %y %p\0' |
    while IFS=' ' read -r -d '' u g m t p; do
        [ "$u" -ge $SUBID_BASE ] && continue       # already shifted
        chown -h $((u + SUBID_BASE)):$((g + SUBID_BASE)) "$p"
        [ "$t" = l ] || chmod "$m" "$p"            # chown drops setuid/setgid
    done
    # lxc-start opens the rootfs as the mapped root: the container dir
    # (mode 0770) must be owned by the mapped root as well.
    chown $SUBID_BASE:$SUBID_BASE "$CDIR"
}

state() { lxc-info "${P[@]}" -n "$NAME" -sH 2>/dev/null || echo ABSENT; }

# --- 3. create -----------------------------------------------------------------
# A half-created container (config without rootfs init) is destroyed first.
if [ -e "$CONF" ] && ! [ -e "$CDIR/rootfs/sbin/init" ] && ! [ -L "$CDIR/rootfs/sbin/init" ]; then
    log "incomplete container $NAME, destroying"
    lxc-destroy "${P[@]}" -n "$NAME" -f >&2 || rm -rf "$CDIR"
fi

if ! [ -e "$CONF" ]; then
    tmpconf=$(mktemp)
    echo 'lxc.net.0.type = empty' > "$tmpconf"
    if [ $UNPRIV = 1 ]; then
        # With lxc.idmap in the -f config, lxc-create runs the template under
        # lxc-usernsexec and chowns rootfs + container dir to the mapped root.
        printf 'lxc.idmap = u 0 %d %d\nlxc.idmap = g 0 %d %d\n' \
            $SUBID_BASE $SUBID_RANGE $SUBID_BASE $SUBID_RANGE >> "$tmpconf"
    fi
    t=$(now)
    lxc-create "${P[@]}" -t busybox -n "$NAME" -f "$tmpconf" >&2
    log "lxc-create took $(elapsed "$t")s"
    rm -f "$tmpconf"
fi

fix_config
if [ $UNPRIV = 1 ]; then
    owner=$(stat -c %u "$CDIR/rootfs")
    if [ "$owner" != $SUBID_BASE ]; then
        [ "$(state)" = RUNNING ] && lxc-stop "${P[@]}" -n "$NAME" -k >&2
        log "shifting rootfs ownership of $NAME by +$SUBID_BASE"
        shift_rootfs "$CDIR/rootfs"
    fi
fi

# --- 4. start (or stop) -------------------------------------------------------
if [ $STOPPED = 1 ]; then
    [ "$(state)" = STOPPED ] || lxc-stop "${P[@]}" -n "$NAME" -k >&2
    log "$NAME STOPPED"
    exit 0
fi
if [ "$(state)" != RUNNING ]; then
    t=$(now)
    lxc-start "${P[@]}" -n "$NAME" -d >&2
    lxc-wait "${P[@]}" -n "$NAME" -s RUNNING -t 10
    log "lxc-start took $(elapsed "$t")s"
fi

# --- 5. verify ----------------------------------------------------------------
h=$(lxc-attach "${P[@]}" -n "$NAME" -- hostname)
[ "$h" = "$NAME" ] || { echo "verify failed: hostname=$h" >&2; exit 1; }
log "$NAME RUNNING (init pid $(lxc-info "${P[@]}" -n "$NAME" -pH)), hostname ok"
