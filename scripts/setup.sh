#!/usr/bin/env bash
# Prepares a fresh machine for attachkit: pnpm (the version pinned in
# package.json), the dependencies, and the build (TypeScript and the C
# executor). Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node headers live under /usr here; a node-gyp fallback build (a native
# dependency with no prebuilt binary for this machine) must not download them.
export npm_config_nodedir="${npm_config_nodedir:-/usr}"

pnpm_version="$(node -p "require('./package.json').packageManager.split('@')[1]")"
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$pnpm_version" ]; then
  npm install --global --no-audit --no-fund "pnpm@${pnpm_version}" >/dev/null
fi
# The executor and the launcher are static C programs, built with musl
# (packages/core/scripts/native-build.mjs says why), else glibc; the build
# also cross-compiles them for the other architecture the packages ship
# prebuilt (x64 and arm64), with Debian's cross compiler (static glibc).
case "$(uname -m)" in
  x86_64) cross=aarch64-linux-gnu cross_cc=aarch64-linux-gnu-gcc cross_libc=libc6-dev-arm64-cross ;;
  aarch64) cross=x86-64-linux-gnu cross_cc=x86_64-linux-gnu-gcc cross_libc=libc6-dev-amd64-cross ;;
  *) cross= ;;
esac
packages=()
if ! command -v musl-gcc >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1 ||
   { [ ! -e /usr/lib/x86_64-linux-gnu/libc.a ] && [ ! -e /usr/lib/aarch64-linux-gnu/libc.a ]; }; then
  packages+=(gcc libc6-dev musl-tools)
fi
if [ -n "$cross" ] && ! command -v "$cross_cc" >/dev/null 2>&1; then
  packages+=("gcc-$cross" "$cross_libc")
fi
if [ "${#packages[@]}" -gt 0 ]; then
  apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
fi
pnpm install --frozen-lockfile --reporter=silent
pnpm run --silent build
