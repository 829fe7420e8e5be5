// Builds the generic C executor from source with the machine's C compiler.
// Static, so that nothing of the host (ld.so, libc.so) is mapped into a
// process that will enter a container. With musl when there is musl-gcc:
// glibc's static start-up probes the CPU with CPUID, which traps to the
// hypervisor in a VM (~0.5 ms here, at every attach); musl's does not.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'build', 'attachkit-executor');
mkdirSync(dirname(out), { recursive: true });
const cc = process.env.CC || (spawnSync('musl-gcc', ['--version']).status === 0 ? 'musl-gcc' : 'cc');
const args = ['-std=gnu11', '-O2', '-static', '-s', '-Wall', '-Wextra', '-Werror', '-fstack-protector-strong',
  '-D_FORTIFY_SOURCE=2', '-o', out, join(root, 'native', 'executor.c')];
try {
  execFileSync(cc, args, { stdio: 'inherit' });
} catch (err) {
  console.error(`attachkit: building the executor failed: ${cc} ${args.join(' ')}`);
  console.error('attachkit: a C compiler and a static libc (Debian: musl-tools, or gcc and libc6-dev) are required');
  process.exit(1);
}
