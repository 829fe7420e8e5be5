import { spawn, type ChildProcess } from 'node:child_process';
import { appendFileSync, readFileSync } from 'node:fs';
import { setTimeout as sleep } from 'node:timers/promises';
import { hierarchies, makeCgroups, removeCgroups } from './cgroup.js';

/**
 * A throwaway container the project starts itself, for tests and the demo:
 * its own mount, pid, uts, ipc, net and cgroup namespaces, its own hostname,
 * /proc, and cgroups (a fresh directory in every hierarchy, v1 and v2, as
 * LXC makes its payload cgroups; the root of its cgroup namespace). It runs
 * the host's binaries. Built with util-linux
 * `unshare` (and `setpriv` for a smaller bounding set) — a fixture may; the product never does.
 */
export interface Sandbox {
  /** The sandbox's init (pid 1 inside), as the host sees it. */
  readonly pid: number;
  readonly hostname: string;
  /** Its cgroup2 directory on the host, if the host has cgroup2. */
  readonly cgroupDir: string | undefined;
  /** Its cgroup directory in every hierarchy. */
  readonly cgroupDirs: readonly string[];
  stop(): Promise<void>;
}

export interface SandboxOptions {
  readonly hostname?: string;
  /** Also a user namespace, as an unprivileged container: ids 0-65535 inside are 100000-165535 on the host. */
  readonly userns?: boolean;
  /** Capabilities (setpriv names: sys_module) its init lacks in its bounding set, as LXC's lxc.cap.drop leaves an init. */
  readonly dropBounding?: readonly string[];
}

/** The host ids an unprivileged sandbox's ids start at (LXC's usual root:100000:65536). */
export const USERNS_BASE = 100000;

const running = new Set<Sandbox>();
let counter = 0;

export async function startSandbox(options: SandboxOptions = {}): Promise<Sandbox> {
  const name = `attachkit-sandbox-${process.pid}-${++counter}`;
  const hostname = options.hostname ?? 'attachkit-sandbox';
  const mount = hierarchies().find((h) => h.unified)?.mountPoint;
  const cgroupDirs = makeCgroups(name);
  const cgroupDir = mount ? `${mount}/${name}` : undefined;

  // pid 1 inside: name the host, mount a cgroup2 view rooted at its own
  // cgroup, say it is ready, and sleep. --mount-proc gives it its own /proc.
  if (options.userns) allowSubordinateIds();
  // In a user namespace the inherited cgroup2 mount is locked: it cannot be replaced.
  const cgroupView = mount && !options.userns ? `umount -l ${mount} && mount -t cgroup2 cgroup2 ${mount}` : ':';
  const init = [
    `hostname ${hostname}`,
    cgroupView,
    'echo ready',
    'exec sleep infinity',
  ].join(' && ');
  const userns = options.userns
    ? ['--user', `--map-users=${USERNS_BASE},0,65536`, `--map-groups=${USERNS_BASE},0,65536`, '--setuid', '0', '--setgid', '0']
    : [];
  const bounding = options.dropBounding?.length ? ['setpriv', `--bounding-set=${options.dropBounding.map((c) => `-${c}`).join(',')}`, '--'] : [];
  const unshare = ['unshare', ...userns, '--mount', '--uts', '--ipc', '--net', '--pid', '--cgroup', '--fork',
    '--mount-proc', '--propagation', 'private', '--', ...bounding, 'sh', '-c', JSON.stringify(init)].join(' ');
  // Enter the cgroups first, so that the cgroup namespace is rooted there.
  const script = `${cgroupDirs.map((d) => `echo $$ > ${d}/cgroup.procs && `).join('')}exec ${unshare}`;
  const child = spawn('sh', ['-c', script], { stdio: ['ignore', 'pipe', 'pipe'] });
  try {
    await waitForReady(child);
    const pid = Number(readFileSync(`/proc/${child.pid}/task/${child.pid}/children`, 'utf8').trim().split(' ')[0]);
    if (!pid) throw new Error('sandbox: cannot find its init process');
    const sandbox: Sandbox = { pid, hostname, cgroupDir, cgroupDirs, stop: () => stop(sandbox, child) };
    running.add(sandbox);
    return sandbox;
  } catch (err) {
    child.kill('SIGKILL');
    removeCgroups(cgroupDirs);
    throw err;
  }
}

/** newuidmap(1), which unshare uses for --map-users, takes the ranges root may hand out from /etc/subuid and /etc/subgid. */
function allowSubordinateIds(): void {
  const line = `root:${USERNS_BASE}:65536`;
  for (const file of ['/etc/subuid', '/etc/subgid']) {
    let text = '';
    try { text = readFileSync(file, 'utf8'); } catch { /* absent: created below */ }
    if (!text.split('\n').includes(line)) appendFileSync(file, `${text && !text.endsWith('\n') ? '\n' : ''}${line}\n`);
  }
}

function waitForReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => { err += d; });
    child.stdout!.on('data', (d: Buffer) => {
      out += d;
      if (out.includes('ready\n')) resolve();
    });
    child.on('exit', (code) => reject(new Error(`sandbox: unshare exited (${code}) before it was ready: ${err.trim() || out}`)));
  });
}

async function stop(sandbox: Sandbox, child: ChildProcess): Promise<void> {
  if (!running.delete(sandbox)) return;
  const exited = new Promise((resolve) => child.once('exit', resolve));
  try {
    process.kill(sandbox.pid, 'SIGKILL'); // the pid namespace dies with its init
  } catch { /* already gone */ }
  if (child.exitCode === null && child.signalCode === null) await exited;
  for (let i = 0; i < 100; i++) {
    if (removeCgroups(sandbox.cgroupDirs)) return;
    await sleep(20);
  }
}

// A test that dies must not leave sandboxes behind.
process.once('exit', () => {
  for (const s of running) {
    try { process.kill(s.pid, 'SIGKILL'); } catch { /* gone */ }
  }
});
