#!/usr/bin/env bash
# What the test suites need besides the build, installed from Debian's
# packages when missing. Idempotent; run as root.
# - lxc: lxc-attach is the reference the differential suite compares with;
#   busybox-static is the busybox template's rootfs. The containers
#   themselves are made by the suite (test/lxc/make-container.sh).
# - uidmap: newuidmap, for the user-namespaced sandbox (unshare --map-users).
# - bsdutils, tmux, bsdextrautils: script(1), tmux and hexdump drive the
#   terminal suites.
# - keyutils: keyctl, for the security suite's session-keyring case.
# - time: GNU time, the benchmark's peak RSS (bench/run.mjs).
set -euo pipefail
installed() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
missing=()
for pkg in lxc busybox-static uidmap bsdutils tmux bsdextrautils keyutils time; do
  installed "$pkg" || missing+=("$pkg")
done
[ ${#missing[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
