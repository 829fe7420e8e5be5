import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parseJsonExact } from '@attachkit/core';
import { defaultRoots, type StateRoot } from './roots.js';
import { readTrustedFile } from './trusted-file.js';

/** What a runtime's state says of a running container. */
export interface OciState {
  readonly id: string;
  readonly root: StateRoot;
  /** The format of the state: runc's (runc, Docker, containerd, Podman with runc) or crun's. */
  readonly runtime: 'runc' | 'crun';
  readonly pid: number;
  /** The init's start time, in clock ticks after boot (/proc/<pid>/stat field 22): the guard against a recycled pid. */
  readonly startTime: number;
  readonly bundle: string;
  /** The process spec to apply: the bundle's config.json, or crun's own copy of it. */
  readonly configFile: string;
  /** crun's compiled seccomp filter, when it keeps one. */
  readonly seccompBpf?: string;
}

/** A failure to find or read a container, as one sentence; `notFound` when no root has it. */
export class OciStateError extends Error {
  constructor(message: string, readonly notFound = false) {
    super(message);
    this.name = 'OciStateError';
  }
}

/**
 * The container `id` names: an exact id in any root, else the one id that
 * starts with it (Docker's 12-character ids). An ambiguous or unknown id
 * throws, listing what matched or where attachkit looked.
 */
export function findContainer(id: string, root?: string): OciState {
  if (id === '' || id === '.' || id === '..' || id.includes('/') || id.includes('\0')) throw new OciStateError(`'${id}' is not a container id`);
  const roots = root === undefined ? defaultRoots() : [{ dir: root, owner: 'the root given' }];
  const exact: StateRoot[] = [];
  const prefixed: Array<{ root: StateRoot; id: string }> = [];
  const unreadable: string[] = [];
  for (const r of roots) {
    let names: string[];
    try {
      names = readdirSync(r.dir);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (root !== undefined) {
        const hint = code === 'EACCES' || code === 'EPERM' ? ': it is not readable by this user (the runtime runs as root: run attachkit as root)' : '';
        throw new OciStateError(`cannot read the state root ${r.dir}: ${code ?? (err as Error).message}${hint}`);
      }
      if (code === 'EACCES' || code === 'EPERM') unreadable.push(`${r.dir} (${code})`);
      continue;
    }
    for (const name of names) {
      if (name === id) exact.push(r);
      else if (name.startsWith(id)) prefixed.push({ root: r, id: name });
    }
  }
  const where = () => roots.map((r) => r.dir).join(', ');
  if (exact.length > 1) throw new OciStateError(`container id '${id}' is in several state roots (${exact.map((r) => r.dir).join(', ')}): give --oci-root`);
  if (exact.length === 1) return readState(exact[0]!, id);
  if (prefixed.length > 1) {
    prefixed.sort((a, b) => a.id.localeCompare(b.id));
    throw new OciStateError(`container id '${id}' is ambiguous: ${prefixed.map((p) => `${p.id} (${p.root.dir})`).join(', ')}`);
  }
  if (prefixed.length === 1) return readState(prefixed[0]!.root, prefixed[0]!.id);
  const denied = unreadable.length ? `; could not read ${unreadable.join(', ')}: run as root or give --oci-root` : '';
  throw new OciStateError(`no OCI container '${id}' (looked in ${where()})${denied}`, true);
}

/** A container's state, in runc's state.json or crun's status. */
export function readState(root: StateRoot, id: string): OciState {
  const dir = join(root.dir, id);
  const json = (file: string): Record<string, unknown> => {
    let value: unknown;
    try {
      value = parseJsonExact(readTrustedFile(file));
    } catch (err) {
      throw new OciStateError(`the state of container '${id}' (${file}): ${(err as Error).message}`);
    }
    if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new OciStateError(`the state of container '${id}' (${file}) is not a JSON object`);
    return value as Record<string, unknown>;
  };
  const integer = (file: string, value: unknown, field: string): number => {
    if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new OciStateError(`the state of container '${id}' (${file}) has no valid ${field}`);
    return value;
  };
  if (existsSync(join(dir, 'state.json'))) {
    const file = join(dir, 'state.json');
    const state = json(file);
    const labels = (state.config as { labels?: unknown } | undefined)?.labels;
    const bundle = Array.isArray(labels) ? labels.find((l): l is string => typeof l === 'string' && l.startsWith('bundle='))?.slice('bundle='.length) : undefined;
    if (!bundle) throw new OciStateError(`the state of container '${id}' (${file}) names no bundle (config.labels bundle=…)`);
    return {
      id, root, runtime: 'runc', bundle, configFile: join(bundle, 'config.json'),
      pid: integer(file, state.init_process_pid, 'init_process_pid'), startTime: integer(file, state.init_process_start, 'init_process_start'),
    };
  }
  if (existsSync(join(dir, 'status'))) {
    const file = join(dir, 'status');
    const state = json(file);
    if (typeof state.bundle !== 'string' || state.bundle === '') throw new OciStateError(`the state of container '${id}' (${file}) names no bundle`);
    const bpf = join(dir, 'seccomp.bpf');
    return {
      id, root, runtime: 'crun', bundle: state.bundle,
      // crun keeps a copy of config.json as it started the container: what is in force.
      configFile: existsSync(join(dir, 'config.json')) ? join(dir, 'config.json') : join(state.bundle, 'config.json'),
      pid: integer(file, state.pid, 'pid'), startTime: integer(file, state['process-start-time'], 'process-start-time'),
      ...(existsSync(bpf) ? { seccompBpf: bpf } : {}),
    };
  }
  throw new OciStateError(`${dir} has neither runc's state.json nor crun's status: not a container of a runtime attachkit knows`);
}
