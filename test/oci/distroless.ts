import { spawnSync } from 'node:child_process';
import { chmodSync, closeSync, copyFileSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { BUSYBOX, bundleDir, makeConfig, removeRuncContainer, RUNC_ROOT, type OciContainer } from './containers.js';

/** The one program of the distroless rootfs: a static busybox (it runs the applet its first argument names). */
export const APP = '/busybox';

/**
 * A runc container whose rootfs holds one static program and nothing else:
 * no shell, no libc, no /etc (runc makes the mount points it needs). Its
 * init is `/busybox sleep 100000`. Made afresh each time; removeDistroless()
 * undoes it (container, cgroups, bundle).
 */
export function ensureDistroless(id: string, spec: { readonly userns?: boolean } = {}): OciContainer {
  removeRuncContainer(id);
  const dir = bundleDir(id);
  const rootfs = join(dir, 'rootfs');
  mkdirSync(rootfs, { recursive: true, mode: 0o755 });
  copyFileSync(BUSYBOX, join(rootfs, APP));
  chmodSync(join(rootfs, APP), 0o755);
  if (spec.userns) spawnSync('chown', ['-R', '100000:100000', rootfs]);
  const config = makeConfig({ id, args: [APP, 'sleep', '100000'], env: ['PATH=/'], ...(spec.userns ? { userns: true } : {}) });
  writeFileSync(join(dir, 'config.json'), `${JSON.stringify(config, null, '\t')}\n`);
  const log = openSync(join(dir, 'runc.log'), 'w');
  try {
    const r = spawnSync('runc', ['--root', RUNC_ROOT, 'run', '-d', '-b', dir, id], { stdio: ['ignore', log, log] });
    if (r.status !== 0) throw new Error(`runc run ${id} failed (${r.status}): ${readFileSync(join(dir, 'runc.log'), 'utf8').trim()}`);
  } finally {
    closeSync(log);
  }
  const state = JSON.parse(spawnSync('runc', ['--root', RUNC_ROOT, 'state', id], { encoding: 'utf8' }).stdout) as { pid: number; status: string };
  if (state.status !== 'running') throw new Error(`runc container ${id} is ${state.status} right after run`);
  return { id, name: id, runtime: 'runc', root: RUNC_ROOT, initPid: state.pid, bundle: dir };
}

export function removeDistroless(id: string): void {
  removeRuncContainer(id);
  rmSync(bundleDir(id), { recursive: true, force: true });
}
