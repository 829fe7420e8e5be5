// The main job (see scripts/demo): a sandbox container, one attach with the
// full pipeline through the CLI, and what the attached process sees beside
// what the host sees.
import { spawnSync } from 'node:child_process';
import { startSandbox } from '../test/dist/sandbox/index.js';

// The launcher that package.json's bin names (the start-up snapshot, else the modules).
const cli = new URL('../packages/cli/build/attachkit', import.meta.url).pathname;
const probes = [
  ['hostname', 'hostname'],
  ['pid namespace', 'readlink /proc/self/ns/pid'],
  ['mount namespace', 'readlink /proc/self/ns/mnt'],
  ['network namespace', 'readlink /proc/self/ns/net'],
  ['network devices', "tail -n +3 /proc/net/dev | cut -d: -f1 | tr -d ' ' | paste -sd, -"],
  ['processes in /proc', "ls /proc | grep -c '^[0-9]'"],
  ['my pid', 'echo $$'],
  ['cgroup (v2)', "grep '^0::' /proc/self/cgroup | cut -d: -f3"],
  ['environment: container=', 'echo "${container:-(unset)}"'],
  ['uid:gid', 'echo "$(id -u):$(id -g)"'],
  ['capability bounding set', "grep CapBnd /proc/self/status | cut -f2"],
  ['session leader (own session)', "[ \"$(cut -d' ' -f6 /proc/$$/stat)\" = $$ ] && echo yes || echo no"],
  ['open fds', 'ls /proc/$$/fd | paste -sd, -'],
];
const script = probes.map(([, cmd]) => `{ ${cmd}; } 2>&1 | head -1`).join('; ');

const dashdash = process.argv.indexOf('--');
const userCommand = dashdash >= 0 ? process.argv.slice(dashdash + 1) : [];

const sandbox = await startSandbox();
let status = 0;
try {
  console.log(`sandbox container started: init pid ${sandbox.pid}, hostname ${sandbox.hostname}${sandbox.cgroupDir ? `, cgroup ${sandbox.cgroupDir}` : ''}`);
  if (userCommand.length) {
    console.log(`$ attachkit --pid ${sandbox.pid} -- ${userCommand.join(' ')}`);
    status = spawnSync(cli, ['--pid', String(sandbox.pid), '--', ...userCommand], { stdio: 'inherit' }).status ?? 1;
  } else {
    console.log(`$ attachkit stages\n${spawnSync(cli, ['stages'], { encoding: 'utf8' }).stdout}`);
    const host = spawnSync('sh', ['-c', script], { encoding: 'utf8' });
    console.log(`$ attachkit --pid ${sandbox.pid} -- sh -c '<probes>'`);
    const inside = spawnSync(cli, ['--pid', String(sandbox.pid), '--', 'sh', '-c', script], { encoding: 'utf8' });
    if (inside.status !== 0) {
      process.stderr.write(inside.stderr);
      status = inside.status ?? 1;
    } else {
      const h = host.stdout.trimEnd().split('\n');
      const c = inside.stdout.trimEnd().split('\n');
      const w = [Math.max(...probes.map(([l]) => l.length)), Math.max(4, ...h.map((s) => s.length))];
      console.log(`\n${'what'.padEnd(w[0])} | ${'host'.padEnd(w[1])} | attached process`);
      console.log(`${'-'.repeat(w[0])}-+-${'-'.repeat(w[1])}-+-${'-'.repeat(16)}`);
      probes.forEach(([label], i) => console.log(`${label.padEnd(w[0])} | ${(h[i] ?? '').padEnd(w[1])} | ${c[i] ?? ''}`));
    }
  }
} finally {
  await sandbox.stop();
  console.log('\nsandbox container stopped and removed');
}
process.exit(status);
