// Builds the CLI's launcher (native/launcher.c, package.json "bin") with the
// machine's C compiler, as the core builds its executor: static, so that it
// starts without the dynamic loader, and with musl when there is musl-gcc
// (see packages/core/scripts/build-executor.mjs).
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'build', 'attachkit');
mkdirSync(dirname(out), { recursive: true });
const cc = process.env.CC || (spawnSync('musl-gcc', ['--version']).status === 0 ? 'musl-gcc' : 'cc');
const args = ['-std=gnu11', '-O2', '-static', '-s', '-Wall', '-Wextra', '-Werror', '-o', out, join(root, 'native', 'launcher.c')];
try {
  execFileSync(cc, args, { stdio: 'inherit' });
} catch {
  console.error(`attachkit: building the launcher failed: ${cc} ${args.join(' ')}`);
  console.error('attachkit: a C compiler and a static libc (Debian: musl-tools, or gcc and libc6-dev) are required');
  process.exit(1);
}
