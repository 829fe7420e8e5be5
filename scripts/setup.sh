#!/usr/bin/env bash
# Prepares a fresh machine for attachkit: pnpm (the version pinned in
# package.json), the dependencies, and the build (TypeScript and the C
# executor). Idempotent; run as root.
set -euo pipefail
cd "$(dirname "$0")/.."

# Node headers live under /usr here; node-gyp (node-pty) must not download them.
export npm_config_nodedir="${npm_config_nodedir:-/usr}"

pnpm_version="$(node -p "require('./package.json').packageManager.split('@')[1]")"
if ! command -v pnpm >/dev/null 2>&1 || [ "$(pnpm --version)" != "$pnpm_version" ]; then
  npm install --global --no-audit --no-fund "pnpm@${pnpm_version}" >/dev/null
fi
# The executor and the launcher are static C programs, built with musl
# (packages/core/scripts/build-executor.mjs says why), else glibc.
if ! command -v musl-gcc >/dev/null 2>&1 || ! command -v cc >/dev/null 2>&1 ||
   { [ ! -e /usr/lib/x86_64-linux-gnu/libc.a ] && [ ! -e /usr/lib/aarch64-linux-gnu/libc.a ]; }; then
  apt-get update -qq && apt-get install -y -qq gcc libc6-dev musl-tools >/dev/null
fi
pnpm install --frozen-lockfile --reporter=silent
pnpm run --silent build
