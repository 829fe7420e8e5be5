import { posix } from 'node:path';
import { AttachError, ErrorCodes, type AttachRequest } from '@attachkit/core';

/** A host path bound for the command alone (`--mount-host SRC:DST[:rw]`). */
export interface HostMount {
  /** Absolute path on the host; a file or a directory (with what is mounted under it). */
  readonly source: string;
  /** Absolute path in the container's view; created, in the command's private view only, when absent. */
  readonly target: string;
  /** Writable; default read-only. */
  readonly writable?: boolean;
}

declare module '@attachkit/core' {
  interface AttachRequest {
    /**
     * --exec-host: the command is a program of the host, looked up with the
     * caller's PATH and opened before anything is joined; it runs from a
     * sealed copy inside the container's full isolation. A dynamically linked
     * one runs under the host's loader, with the host's libraries bound
     * read-only where only this command sees them.
     */
    readonly execHost?: boolean;
    /** --mount-host: host paths bound for the command alone, in a private copy of its mount namespace. */
    readonly mountHost?: readonly HostMount[];
  }
}

/**
 * `SRC:DST[:rw]` → HostMount. Both absolute; `:ro` is accepted for the
 * default. A path holding `:` cannot be given this way (the library takes
 * any path).
 */
export function parseMountHost(spec: string): HostMount {
  const parts = spec.split(':');
  const mode = parts.length === 3 ? parts[2] : undefined;
  if (parts.length < 2 || parts.length > 3 || (mode !== undefined && mode !== 'rw' && mode !== 'ro')) {
    throw new Error(`--mount-host expects SRC:DST or SRC:DST:rw, got '${spec}'`);
  }
  const mount = { source: parts[0]!, target: parts[1]!, ...(mode === 'rw' ? { writable: true } : {}) };
  checkMount(mount, (why) => new Error(`--mount-host '${spec}': ${why}`));
  return mount;
}

/** The request's host mounts, checked: absolute paths without NUL, a DST that is not / and not below another DST. */
export function hostMounts(request: AttachRequest, stage: string): HostMount[] {
  const given: unknown = request.mountHost;
  if (given === undefined) return [];
  const refuse = (why: string) => new AttachError(ErrorCodes.BAD_REQUEST, `${stage}: mountHost: ${why}`, { stage });
  if (!Array.isArray(given)) throw refuse('must be an array of { source, target, writable? }');
  const mounts = given.map((m: unknown) => {
    if (typeof m !== 'object' || m === null) throw refuse('each entry must be { source, target, writable? }');
    const { source, target, writable } = m as Record<string, unknown>;
    if (typeof source !== 'string' || typeof target !== 'string' || (writable !== undefined && typeof writable !== 'boolean')) {
      throw refuse('each entry must be { source: string, target: string, writable?: boolean }');
    }
    const mount = { source, target, ...(writable ? { writable } : {}) };
    checkMount(mount, (why) => refuse(`${source}:${target}: ${why}`));
    return { ...mount, target: posix.normalize(target).replace(/(.)\/+$/, '$1') };
  });
  for (const a of mounts) {
    for (const b of mounts) {
      if (a !== b && (a.target === b.target || a.target.startsWith(`${b.target}/`))) {
        throw refuse(`the target ${a.target} is ${a.target === b.target ? 'given twice' : `below the target ${b.target} of another mount`}`);
      }
    }
  }
  return mounts;
}

function checkMount(m: HostMount, refuse: (why: string) => Error): void {
  for (const [what, path] of [['the source', m.source], ['the target', m.target]] as const) {
    if (!path.startsWith('/')) throw refuse(`${what} must be an absolute path`);
    if (path.includes('\0')) throw refuse(`${what} contains a NUL byte`);
  }
  if (posix.normalize(m.target) === '/') throw refuse('the target cannot be /');
  if (m.target.split('/').includes('..')) throw refuse('the target cannot contain ..');
}
