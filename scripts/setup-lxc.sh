#!/usr/bin/env bash
# Installs real LXC (lxc-attach is the reference the differential suite
# compares attachkit with) and busybox-static (the busybox template's rootfs)
# when they are missing. Idempotent; run as root. The test containers
# themselves are made by the suite (test/lxc/make-container.sh).
set -euo pipefail
installed() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
if installed lxc && installed busybox-static; then
  exit 0
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq lxc busybox-static >/dev/null
