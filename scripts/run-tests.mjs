// Runs every compiled test file with node's test runner, one file at a time
// (suites start containers and count this process's fds and children).
import { spawnSync } from 'node:child_process';
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';

if (process.getuid?.() !== 0) {
  console.error('attachkit tests attach to real namespaces and cgroups: run them as root');
  process.exit(1);
}

function find(dir) {
  let out = [];
  let entries;
  try { entries = readdirSync(dir); } catch { return out; }
  for (const name of entries) {
    const path = join(dir, name);
    if (statSync(path).isDirectory()) out = out.concat(find(path));
    else if (name.endsWith('.test.js')) out.push(path);
  }
  return out;
}

const roots = [
  ...readdirSync('packages').map((p) => join('packages', p, 'dist', 'test')),
  join('test', 'dist', 'suites'),
  ...readdirSync('examples').map((p) => join('examples', p, 'dist', 'test')),
];
const files = roots.flatMap(find).sort();
if (files.length === 0) {
  console.error('no test files found: did the build run?');
  process.exit(1);
}
const filter = process.argv.slice(2);
const selected = filter.length ? files.filter((f) => filter.some((x) => f.includes(x))) : files;
const r = spawnSync(process.execPath, ['--test', '--test-concurrency=1', '--test-reporter=spec', ...selected], { stdio: 'inherit' });
process.exit(r.status ?? 1);
