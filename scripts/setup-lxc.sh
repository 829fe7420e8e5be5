#!/usr/bin/env bash
# Installs real LXC (lxc-attach is the reference the differential suite
# compares attachkit with), busybox-static (the busybox template's rootfs)
# and a C compiler with a static libc (test programs copied into containers)
# when they are missing. Idempotent; run as root. The test containers
# themselves are made by the suite (test/lxc/make-container.sh).
set -euo pipefail
installed() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
PACKAGES=(lxc busybox-static gcc libc6-dev)
missing=()
for p in "${PACKAGES[@]}"; do installed "$p" || missing+=("$p"); done
[ ${#missing[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq "${missing[@]}" >/dev/null
