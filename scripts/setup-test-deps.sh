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
# - runc, crun, podman, docker.io (with containerd): the OCI runtimes whose
#   containers test/oci/containers.ts makes (`runc exec`, `docker exec`, ...
#   are references too). Installed without recommends (needrestart, apparmor,
#   cgroupfs-mount), and with services kept from starting: there is no
#   systemd, the fixture starts containerd and dockerd by hand.
# - libseccomp-dev: libseccomp, which the OCI seccomp compiler is compared
#   with (packages/seccomp-plugin/test/oci-libseccomp.test.ts).
set -euo pipefail
installed() { dpkg-query -W -f '${Status}' "$1" 2>/dev/null | grep -q 'ok installed'; }
missing=()
for pkg in lxc busybox-static uidmap bsdutils tmux bsdextrautils keyutils time; do
  installed "$pkg" || missing+=("$pkg")
done
oci=()
for pkg in runc crun podman docker.io containerd libseccomp-dev; do
  installed "$pkg" || oci+=("$pkg")
done
# chromium: the headless browser of the web-terminal example's test (examples/web-terminal).
installed chromium || { apt-get update -qq; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends chromium >/dev/null; }
[ ${#missing[@]} -eq 0 ] && [ ${#oci[@]} -eq 0 ] && exit 0
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
[ ${#missing[@]} -eq 0 ] || apt-get install -y -qq "${missing[@]}" >/dev/null
if [ ${#oci[@]} -gt 0 ]; then
  # invoke-rc.d asks policy-rc.d: 101 means "do not start". Put one in place
  # for the install unless the machine has its own.
  policy=/usr/sbin/policy-rc.d
  own_policy=0
  if [ ! -e "$policy" ]; then
    printf '#!/bin/sh\nexit 101\n' > "$policy"; chmod 755 "$policy"; own_policy=1
  fi
  rc=0
  apt-get install -y -qq --no-install-recommends "${oci[@]}" >/dev/null || rc=$?
  [ $own_policy = 0 ] || rm -f "$policy"
  exit $rc
fi
