#!/usr/bin/env node
// Start-up times of the CLI beside `node -e 0` (docs/startup.md): each command
// is run RUNS times (default 40), the commands taking turns so that load from
// elsewhere on the machine falls on all of them alike; prints the median and
// the minimum wall time of each, and the medians' ratio to `node -e 0`.
// Run as root after the build: `node scripts/startup-times.mjs`.
import { spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const cli = join(root, 'packages/cli');
const launcher = join(cli, 'build/attachkit');
const blob = join(cli, 'dist/snapshot/attachkit.blob');
const runs = Number(process.env.RUNS ?? 40);
const attach = ['--pid', String(process.pid), '--', 'true'];

const commands = [
  ['node -e 0', [process.execPath, '-e', '0']],
  ['attachkit --pid PID -- true', [launcher, ...attach]],
  ['  the same, node --snapshot-blob without the launcher', [process.execPath, '--snapshot-blob', blob, '--', ...attach]],
  ['  the same, from the modules (bin/run.js)', [process.execPath, join(cli, 'bin/run.js'), ...attach]],
  ['attachkit stages', [launcher, 'stages']],
  ['attachkit --version', [launcher, '--version']],
  ['attachkit --help (from the modules)', [launcher, '--help']],
];

const times = commands.map(() => []);
for (let round = -3; round < runs; round++) {
  commands.forEach(([name, argv], i) => {
    const start = process.hrtime.bigint();
    const r = spawnSync(argv[0], argv.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
    const ms = Number(process.hrtime.bigint() - start) / 1e6;
    if (r.status !== 0) throw new Error(`${name}: exit ${r.status ?? r.signal}: ${r.stderr}`);
    if (round >= 0) times[i].push(ms); // the first rounds warm the page cache
  });
}

const median = (xs) => [...xs].sort((a, b) => a - b)[xs.length >> 1];
const base = median(times[0]);
console.log(`${runs} runs each; median, minimum (ms); median / median of node -e 0`);
commands.forEach(([name], i) => {
  console.log(`${median(times[i]).toFixed(1).padStart(7)} ${Math.min(...times[i]).toFixed(1).padStart(7)} ${(median(times[i]) / base).toFixed(2).padStart(6)}x  ${name}`);
});
