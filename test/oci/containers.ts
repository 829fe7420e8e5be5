import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process';
import { closeSync, existsSync, lstatSync, mkdirSync, openSync, readdirSync, readFileSync, rmdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { bundleDir, bundleIsCurrent, CGROUP_PARENT, DEFAULT_PATH, makeBundle, makeRootfs, OCI_DIR, removeBundle, type OciSpec } from './bundle.js';

export * from './bundle.js';

/**
 * Real OCI containers for the differential suites: runc and crun from a
 * busybox bundle (./bundle.ts), Podman (with runc) and Docker 20.10 (runc
 * through containerd) from a busybox image imported from the same kind of
 * rootfs. Each `ensure` is idempotent and fast when the container already
 * runs as asked; each `remove` undoes it (container, state, cgroups, bundle).
 * Everything here shells out to the runtimes: it is the reference, the
 * product never does.
 */

export type Runtime = 'runc' | 'crun' | 'docker' | 'podman';

export interface OciContainer {
  /** The runtime's id (64 hex digits for Docker and Podman). */
  readonly id: string;
  /** What the fixture calls it: the runc/crun id, the Docker/Podman name. */
  readonly name: string;
  readonly runtime: Runtime;
  /** The OCI runtime's state directory: `<root>/<id>/state.json` (runc) or `<root>/<id>/status` (crun). */
  readonly root: string;
  readonly initPid: number;
  /** The bundle: its config.json is what `runc exec` re-reads. */
  readonly bundle: string;
}

export const RUNC_ROOT = '/run/runc';
export const CRUN_ROOT = '/run/crun';
/** Docker 20.10's runc root (containerd's shim adds the namespace to options.json's `/var/run/docker/runtime-runc`). */
export const DOCKER_RUNC_ROOT = '/run/docker/runtime-runc/moby';
export const DOCKER_BUNDLES = '/run/containerd/io.containerd.runtime.v2.task/moby';
/** Podman as root with `--runtime runc`: runc's default root. */
export const PODMAN_RUNC_ROOT = RUNC_ROOT;
export const PODMAN_BUNDLES = '/var/lib/containers/storage/overlay-containers';
/** The Debian client, matching the daemon (/usr/local/bin/docker may be newer). */
export const DOCKER = '/usr/bin/docker';
export const DOCKER_IMAGE = 'local/bb';
export const PODMAN_IMAGE = 'localhost/bb';
/** Label on the fixture's Docker and Podman containers: the extra `run` flags they were made with. */
export const LABEL = 'attachkit-test';
/** Fixture state: which daemons it started, their logs. */
export const STATE_DIR = '/run/attachkit-test';
export const LOG_DIR = '/var/log/attachkit-test';
/** The image's rootfs: root, u1000 (gid 1000) in g10 and g20. */
export const IMAGE_USERS = { uid: 1000, gid: 1000, additionalGids: [10, 20] } as const;

/** A fixed environment for the tools themselves (DOCKER_HOST and friends from the caller must not matter). */
const TOOL_ENV = { PATH: DEFAULT_PATH.slice('PATH='.length), HOME: '/root', LANG: 'C' };

function sleepMs(ms: number): void {
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, ms);
}

function sh(file: string, args: readonly string[], input?: string): SpawnSyncReturns<string> {
  return spawnSync(file, args, { encoding: 'utf8', env: TOOL_ENV, input, stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

function must(file: string, args: readonly string[], input?: string): string {
  const r = sh(file, args, input);
  if (r.status !== 0) throw new Error(`${file} ${args.join(' ')} failed (${r.status ?? r.error?.message}): ${(r.stderr ?? '').trim()}`);
  return r.stdout;
}

/** Field 22 of /proc/PID/stat (start time in clock ticks), or undefined when the process is gone or a zombie. */
export function startTime(pid: number): number | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return fields[0] === 'Z' ? undefined : Number(fields[19]);
  } catch {
    return undefined;
  }
}

function alive(pid: number, start?: number): boolean {
  const s = startTime(pid);
  return s !== undefined && (start === undefined || s === start);
}

// --- cgroups ---------------------------------------------------------------

/** The mounted hierarchies: /sys/fs/cgroup/<ctrl> and /sys/fs/cgroup/unified on this hybrid host, /sys/fs/cgroup itself on a cgroup2-only one. */
export function cgroupHierarchies(): string[] {
  if (existsSync('/sys/fs/cgroup/cgroup.controllers')) return ['/sys/fs/cgroup'];
  return readdirSync('/sys/fs/cgroup').map((d) => join('/sys/fs/cgroup', d)).filter((d) => {
    try {
      return lstatSync(d).isDirectory();
    } catch {
      return false;
    }
  });
}

/** rmdir `path` in every hierarchy, children first; an empty `parent` chain above it too. Busy ones are left. */
function removeCgroup(path: string, parents: readonly string[] = []): void {
  for (const h of cgroupHierarchies()) {
    const rm = (dir: string): void => {
      let entries: string[] = [];
      try {
        entries = readdirSync(dir, { withFileTypes: true }).filter((e) => e.isDirectory()).map((e) => e.name);
      } catch {
        return;
      }
      for (const e of entries) rm(join(dir, e));
      try {
        rmdirSync(dir);
      } catch {
        // busy (a process left) or not empty: left for the next cleanup
      }
    };
    rm(join(h, path));
    for (const p of parents) {
      try {
        rmdirSync(join(h, p));
      } catch {
        // another container's cgroup is under it
      }
    }
  }
}

// --- runc and crun ------------------------------------------------------------

type OciRuntime = 'runc' | 'crun';
const ROOTS: Record<OciRuntime, string> = { runc: RUNC_ROOT, crun: CRUN_ROOT };

/** `runc state` / `crun state`, or undefined for an unknown container. */
function ociState(runtime: OciRuntime, id: string): { pid: number; status: string; bundle: string } | undefined {
  const r = sh(runtime, ['--root', ROOTS[runtime], 'state', id]);
  if (r.status !== 0) return undefined;
  return JSON.parse(r.stdout) as { pid: number; status: string; bundle: string };
}

/** crun cannot create on a hybrid host while cgroup2 lists a controller: hide the list in a private mount namespace (`crun exec` and `crun delete` need no such trick). */
function crunNeedsHiddenControllers(): boolean {
  try {
    return readFileSync('/sys/fs/cgroup/unified/cgroup.controllers', 'utf8').trim() !== '';
  } catch {
    return false;
  }
}

function ensureOci(runtime: OciRuntime, spec: OciSpec): OciContainer {
  const root = ROOTS[runtime];
  const current = bundleIsCurrent(spec);
  let state = ociState(runtime, spec.id);
  if (current && state?.status === 'running' && state.bundle === bundleDir(spec.id)) {
    return { id: spec.id, name: spec.id, runtime, root, initPid: state.pid, bundle: state.bundle };
  }
  if (state) must(runtime, ['--root', root, 'delete', '-f', spec.id]);
  removeCgroup(`${CGROUP_PARENT}/${spec.id}`);
  const bundle = makeBundle(spec);
  // The container's init keeps the runtime's stdio: files, never a pipe of ours.
  const out = openSync(join(bundle.dir, `${runtime}.log`), 'w');
  try {
    const run = [runtime, '--root', root, 'run', '-d', '-b', bundle.dir, spec.id];
    const r = runtime === 'crun' && crunNeedsHiddenControllers()
      ? spawnSync('unshare', ['-m', '--propagation', 'private', 'sh', '-c', 'mount --bind /dev/null /sys/fs/cgroup/unified/cgroup.controllers && exec "$@"', 'sh', ...run], { stdio: ['ignore', out, out], env: TOOL_ENV })
      : spawnSync(run[0]!, run.slice(1), { stdio: ['ignore', out, out], env: TOOL_ENV });
    if (r.status !== 0) {
      throw new Error(`${run.join(' ')} failed (${r.status ?? r.error?.message}): ${readFileSync(join(bundle.dir, `${runtime}.log`), 'utf8').trim()}`);
    }
  } finally {
    closeSync(out);
  }
  state = ociState(runtime, spec.id);
  if (state?.status !== 'running') throw new Error(`${runtime} container ${spec.id} is ${state?.status ?? 'gone'} right after run`);
  return { id: spec.id, name: spec.id, runtime, root, initPid: state.pid, bundle: bundle.dir };
}

function removeOci(runtime: OciRuntime, id: string): void {
  if (ociState(runtime, id)) must(runtime, ['--root', ROOTS[runtime], 'delete', '-f', id]);
  removeCgroup(`${CGROUP_PARENT}/${id}`, [CGROUP_PARENT]);
  removeBundle(id);
}

/** A runc container (`runc run -d`) from the spec's bundle, root /run/runc, cgroup /attachkit-test/<id>. */
export function ensureRuncContainer(spec: OciSpec): OciContainer {
  return ensureOci('runc', spec);
}

/** A crun container, root /run/crun (created in a private mount namespace on a hybrid host). */
export function ensureCrunContainer(spec: OciSpec): OciContainer {
  return ensureOci('crun', spec);
}

/** Kill and delete a runc container, its cgroups and its bundle. No error when absent. */
export function removeRuncContainer(id: string): void {
  removeOci('runc', id);
}

export function removeCrunContainer(id: string): void {
  removeOci('crun', id);
}

// --- images ------------------------------------------------------------------

/** The rootfs Docker and Podman import (made once). */
export function imageRootfs(): string {
  const dir = join(OCI_DIR, 'image-rootfs');
  if (!existsSync(join(dir, 'etc', 'group'))) makeRootfs(dir, IMAGE_USERS);
  return dir;
}

/** Bumped when imageRootfs() changes: an image with another label is imported again. */
const IMAGE_VERSION = 'busybox-1';

function imageLabel(tool: string, image: string): string | undefined {
  const r = sh(tool, ['image', 'inspect', '--format', `{{index .Config.Labels "${LABEL}"}}`, image]);
  return r.status === 0 ? r.stdout.trim() : undefined;
}

function importImage(tool: string, image: string): void {
  const label = imageLabel(tool, image);
  if (label === IMAGE_VERSION) return;
  const old = label === undefined ? undefined : sh(tool, ['image', 'inspect', '--format', '{{.Id}}', image]).stdout.trim();
  const tar = spawnSync('tar', ['-C', imageRootfs(), '-c', '.'], { maxBuffer: 256 << 20 });
  if (tar.status !== 0) throw new Error(`tar of ${imageRootfs()} failed: ${tar.stderr}`);
  const r = spawnSync(tool, ['import', '--change', `LABEL ${LABEL}=${IMAGE_VERSION}`, '-', image], { input: tar.stdout, env: TOOL_ENV, encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`${tool} import - ${image} failed (${r.status ?? r.error?.message}): ${r.stderr}`);
  if (imageLabel(tool, image) !== IMAGE_VERSION) throw new Error(`${tool} import - ${image}: the image has not the label ${LABEL}=${IMAGE_VERSION}`);
  if (old) sh(tool, ['rmi', old]); // the previous version, now untagged (kept while a container uses it)
}

/** Options of a Docker or Podman container: extra `run` flags (before the image), the command. */
export interface EngineSpec {
  /** Docker / Podman name; default attachkit-docker / attachkit-podman. */
  readonly name?: string;
  readonly runArgs?: readonly string[];
  /** Default `sleep 1000`. */
  readonly args?: readonly string[];
}

/** `inspect` of a container by name: id, pid, running, the fixture's label; undefined when absent. */
function inspect(tool: string, name: string): { id: string; pid: number; running: boolean; label: string } | undefined {
  const r = sh(tool, ['inspect', '--type', 'container', '--format', `{{.Id}} {{.State.Pid}} {{.State.Running}} {{index .Config.Labels "${LABEL}"}}`, name]);
  if (r.status !== 0) return undefined;
  const [id, pid, running, ...label] = r.stdout.trim().split(' ');
  return { id: id!, pid: Number(pid), running: running === 'true', label: label.join(' ') };
}

function ensureEngine(tool: 'docker' | 'podman', spec: EngineSpec, base: readonly string[], image: string): { id: string; pid: number } {
  const name = spec.name ?? `attachkit-${tool}`;
  const wanted = JSON.stringify({ image: IMAGE_VERSION, runArgs: spec.runArgs ?? [], args: spec.args ?? ['sleep', '1000'] });
  const file = tool === 'docker' ? DOCKER : 'podman';
  const seen = inspect(file, name);
  if (seen?.running && seen.label === wanted) return { id: seen.id, pid: seen.pid };
  if (seen) must(file, tool === 'podman' ? ['rm', '-f', '-t', '0', name] : ['rm', '-f', name]);
  const id = must(file, [...base, '--name', name, '--label', `${LABEL}=${wanted}`, ...(spec.runArgs ?? []), image, ...(spec.args ?? ['sleep', '1000'])]).trim();
  const now = inspect(file, name);
  if (!now?.running || now.id !== id) throw new Error(`${tool} container ${name} is not running right after run`);
  return { id, pid: now.pid };
}

// --- Docker --------------------------------------------------------------------

interface Daemon { readonly pid: number; readonly start: number }
interface DockerDaemons { containerd?: Daemon; dockerd?: Daemon }
const DAEMONS = join(STATE_DIR, 'docker-daemons.json');

function readDaemons(): DockerDaemons {
  try {
    return JSON.parse(readFileSync(DAEMONS, 'utf8')) as DockerDaemons;
  } catch {
    return {};
  }
}

function startDaemon(file: string, args: readonly string[], log: string): Daemon {
  mkdirSync(LOG_DIR, { recursive: true });
  const fd = openSync(join(LOG_DIR, log), 'a');
  try {
    const child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd], env: TOOL_ENV });
    child.unref();
    if (child.pid === undefined) throw new Error(`cannot start ${file}`);
    const start = startTime(child.pid);
    if (start === undefined) throw new Error(`${file} exited at once: see ${join(LOG_DIR, log)}`);
    return { pid: child.pid, start };
  } finally {
    closeSync(fd);
  }
}

function waitFor(what: string, ready: () => boolean, ms: number, daemon?: Daemon, log?: string): void {
  for (const end = Date.now() + ms; Date.now() < end; sleepMs(50)) {
    if (ready()) return;
    if (daemon && !alive(daemon.pid, daemon.start)) break;
  }
  const tail = log ? readFileSync(join(LOG_DIR, log), 'utf8').trim().split('\n').slice(-5).join(' | ') : '';
  throw new Error(`${what} not ready within ${ms} ms${tail ? `: ${tail}` : ''}`);
}

function dockerUp(): boolean {
  return sh(DOCKER, ['version', '--format', '{{.Server.Version}}']).status === 0;
}

function processNamed(comm: string): number | undefined {
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readFileSync(`/proc/${entry}/comm`, 'utf8').trim() === comm && alive(Number(entry))) return Number(entry);
    } catch {
      // gone meanwhile
    }
  }
  return undefined;
}

/**
 * containerd and dockerd, started by hand (no systemd here) with their state
 * under the default paths, unless they already run; waits until `docker
 * version` answers. Returns the daemons the fixture started (and will stop).
 */
export function startDocker(): DockerDaemons {
  mkdirSync(STATE_DIR, { recursive: true });
  const started = readDaemons();
  for (const k of ['containerd', 'dockerd'] as const) {
    const d = started[k];
    if (d && !alive(d.pid, d.start)) delete started[k];
  }
  if (!started.containerd && processNamed('containerd') === undefined) {
    started.containerd = startDaemon('containerd', [], 'containerd.log');
    writeFileSync(DAEMONS, JSON.stringify(started));
    waitFor('containerd', () => existsSync('/run/containerd/containerd.sock') && sh('ctr', ['version']).status === 0, 10_000, started.containerd, 'containerd.log');
  }
  if (!dockerUp()) {
    if (!started.dockerd && processNamed('dockerd') === undefined) {
      started.dockerd = startDaemon('dockerd', ['--containerd=/run/containerd/containerd.sock', '--iptables=false', '--ip6tables=false', '--bridge=none', '--storage-driver=overlay2'], 'dockerd.log');
      writeFileSync(DAEMONS, JSON.stringify(started));
    }
    waitFor('dockerd', dockerUp, 30_000, started.dockerd, 'dockerd.log');
  }
  writeFileSync(DAEMONS, JSON.stringify(started));
  return started;
}

function stopDaemon(d: Daemon | undefined, ms: number): void {
  if (!d || !alive(d.pid, d.start)) return;
  process.kill(d.pid, 'SIGTERM');
  for (const end = Date.now() + ms; Date.now() < end && alive(d.pid, d.start); sleepMs(20));
  if (alive(d.pid, d.start)) process.kill(d.pid, 'SIGKILL');
  for (let i = 0; i < 100 && alive(d.pid, d.start); i++) sleepMs(20);
}

/**
 * Remove the fixture's Docker containers, then stop (by pid) the daemons
 * startDocker started; daemons it found running are left alone. Empty
 * /docker cgroups go too.
 */
export function stopDocker(): void {
  const started = readDaemons();
  if (dockerUp()) {
    const ids = must(DOCKER, ['ps', '-aq', '--filter', `label=${LABEL}`]).split('\n').filter(Boolean);
    if (ids.length) must(DOCKER, ['rm', '-f', ...ids]);
  }
  stopDaemon(started.dockerd, 15_000);
  stopDaemon(started.containerd, 15_000);
  rmSync(DAEMONS, { force: true });
  removeCgroup('/docker');
}

/** The Docker daemons' pids, when running (whoever started them). */
export function dockerDaemonPids(): { containerd?: number; dockerd?: number } {
  const containerd = processNamed('containerd');
  const dockerd = processNamed('dockerd');
  return { ...(containerd && { containerd }), ...(dockerd && { dockerd }) };
}

/**
 * `docker run -d --network none local/bb sleep 1000` (the image imported from
 * the busybox rootfs first), named attachkit-docker unless said otherwise.
 * The daemons must run (startDocker). Made again when runArgs/args changed.
 */
export function ensureDockerContainer(spec: EngineSpec = {}): OciContainer {
  importImage(DOCKER, DOCKER_IMAGE);
  const { id, pid } = ensureEngine('docker', spec, ['run', '-d', '--network', 'none'], DOCKER_IMAGE);
  return { id, name: spec.name ?? 'attachkit-docker', runtime: 'docker', root: DOCKER_RUNC_ROOT, initPid: pid, bundle: join(DOCKER_BUNDLES, id) };
}

export function removeDockerContainer(name = 'attachkit-docker'): void {
  if (dockerUp()) sh(DOCKER, ['rm', '-f', name]);
}

// --- Podman ------------------------------------------------------------------

/**
 * `podman --runtime runc run -d --network none --ulimit nofile=1024:1024
 * --ulimit nproc=1024:1024 localhost/bb sleep 1000` (crun, Podman's default,
 * cannot create here; the default nofile is above this host's hard limit).
 */
export function ensurePodmanContainer(spec: EngineSpec = {}): OciContainer {
  importImage('podman', PODMAN_IMAGE);
  const { id, pid } = ensureEngine('podman', spec,
    ['--runtime', 'runc', 'run', '-d', '--network', 'none', '--ulimit', 'nofile=1024:1024', '--ulimit', 'nproc=1024:1024'], PODMAN_IMAGE);
  return { id, name: spec.name ?? 'attachkit-podman', runtime: 'podman', root: PODMAN_RUNC_ROOT, initPid: pid, bundle: join(PODMAN_BUNDLES, id, 'userdata') };
}

export function removePodmanContainer(name = 'attachkit-podman'): void {
  sh('podman', ['rm', '-f', '-t', '0', '--ignore', name]);
  removeCgroup('/libpod_parent');
}

/** Remove every container the fixture makes by default, and stop the Docker daemons it started. */
export function removeAll(ids: readonly string[] = []): void {
  for (const id of ids) {
    removeRuncContainer(id);
    removeCrunContainer(id);
  }
  removePodmanContainer();
  removeDockerContainer();
  stopDocker();
}

// --- the reference exec -------------------------------------------------------

export interface ExecOptions {
  /** `--user` (runc/crun: uid[:gid]; docker/podman: name|uid[:gid]). */
  readonly user?: string;
  /** `--env NAME=VALUE`, each. */
  readonly env?: readonly string[];
  /** `--cwd` / `--workdir`. */
  readonly cwd?: string;
  /** More flags of the tool's exec, before the container's id. */
  readonly flags?: readonly string[];
  /** Fed on stdin (docker/podman need `-i` in flags to read it); stdin is /dev/null without it. */
  readonly input?: string;
  /** Killed (SIGKILL) after this long; default 30 s. */
  readonly timeoutMs?: number;
}

export interface ExecResult {
  readonly code: number | null;
  readonly stdout: string;
  readonly stderr: string;
}

/** The argv of the reference exec (`runc exec`, `crun exec`, `docker exec`, `podman exec`). */
export function runtimeExecArgv(c: OciContainer, args: readonly string[], opts: ExecOptions = {}): string[] {
  const oci = c.runtime === 'runc' || c.runtime === 'crun';
  const flags: string[] = [];
  if (opts.user !== undefined) flags.push('--user', opts.user);
  for (const e of opts.env ?? []) flags.push('--env', e);
  if (opts.cwd !== undefined) flags.push(oci ? '--cwd' : '--workdir', opts.cwd);
  flags.push(...(opts.flags ?? []));
  switch (c.runtime) {
    case 'runc':
    case 'crun': return [c.runtime, '--root', c.root, 'exec', ...flags, c.id, ...args];
    case 'docker': return [DOCKER, 'exec', ...flags, c.id, ...args];
    case 'podman': return ['podman', 'exec', ...flags, c.id, ...args];
  }
}

/** Run the command in the container through its runtime: the reference the differential suites compare with. */
export function runtimeExec(c: OciContainer, args: readonly string[], opts: ExecOptions = {}): Promise<ExecResult> {
  const [file, ...argv] = runtimeExecArgv(c, args, opts);
  return new Promise((resolve, reject) => {
    const child = spawn(file!, argv, { stdio: [opts.input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'], env: TOOL_ENV, cwd: '/' });
    let stdout = '';
    let stderr = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 30_000);
    child.stdin?.end(opts.input);
    child.stdout!.on('data', (d) => { stdout += d; });
    child.stderr!.on('data', (d) => { stderr += d; });
    child.on('error', (err) => { clearTimeout(timer); reject(err); });
    child.on('close', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}
