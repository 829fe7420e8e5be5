import { openSync } from 'node:fs';
import { basename } from 'node:path';
import { AttachError, contextKey, ErrorCodes, O_CLOEXEC, O_PATH, optional, type AttachRequest, type Stage, type StageContext, type StageToggle } from '@attachkit/core';
import { ElfError, isElf, readElf, type ElfInfo } from './elf.js';
import { closeQuietly, DEFAULT_SEARCH_PATH, findOnHost, head, openProgram, sealedCopy } from './host-program.js';
import { resolveLibraries, type HostLibrary } from './libraries.js';
import type { ViewMount } from './view-plan.js';

/** Where a dynamic host program's loader finds it and its libraries: a directory of the command's private view only. */
export const HOST_DIR = '/.attachkit-host';

/** ns-plugin's JOINED_NAMESPACES (by /proc/<pid>/ns name), read by name: this plugin does not need ns-plugin. */
export const JOINED = contextKey<readonly string[]>('joined-namespaces');

/** Mounts another stage of this plugin asks the private view for (mount-host makes them). */
export const VIEW_MOUNTS = contextKey<readonly ViewMount[]>('host-plugin.view-mounts');

/**
 * --exec-host: the command is a program of the host, found with the
 * caller's PATH and opened in the parent before anything is joined. It runs
 * from a sealed memfd copy (execveat AT_EMPTY_PATH): /proc/self/exe is
 * `/memfd:NAME (deleted)`, and no fd of it is left after exec. A static
 * program runs as it is. A dynamic one would have the kernel load its
 * PT_INTERP from the container (absent, or another libc): the host's loader
 * runs instead, itself from a sealed copy, with the program and the
 * libraries it needs (DT_NEEDED, resolved on the host) bound read-only in a
 * tmpfs at HOST_DIR of the command's private view (mount-host makes it),
 * `--library-path` pointing there. What the command execs in turn is the
 * container's, with the container's loader: nothing is put over its /lib and
 * no LD_LIBRARY_PATH is set. Without the container's mount namespace (-s
 * without MOUNT), a dynamic program is exec'd as a static one: its loader is
 * then found where the host has it.
 *
 * Needs: the command (request.command). Guarantees: execFd set, VIEW_MOUNTS
 * for a dynamic program.
 */
export class ExecHost implements Stage {
  readonly id = 'exec-host';
  readonly description = "run a host program (--exec-host), found with the caller's PATH, from a sealed memfd; a dynamic one under the host's loader with its libraries bound read-only for it alone";
  readonly after = ['resolve-target', optional('join-namespaces')];
  readonly before = ['exec', 'mount-host'];

  toggle(request: AttachRequest): StageToggle {
    return request.execHost ? { enabled: true, reason: '--exec-host' } : { enabled: false, reason: 'no --exec-host' };
  }

  plan(ctx: StageContext): void {
    const command = ctx.request.command;
    if (!command?.length) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: --exec-host needs a command (a program of the host, not the container's shell)`, { stage: this.id });
    }
    const searchPath = process.env.PATH ?? DEFAULT_SEARCH_PATH;
    const path = findOnHost(command[0]!, searchPath);
    if (path === undefined) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: no executable '${command[0]}' on the host (${command[0]!.includes('/') ? 'that path' : `PATH=${searchPath}`})`, { stage: this.id });
    }
    const fds: number[] = [];
    ctx.defer(() => fds.forEach(closeQuietly));
    const keep = (fd: number) => (fds.push(fd), fd);
    const fd = keep(this.open(ctx, path));
    if (!isElf(head(fd))) {
      throw new AttachError(ErrorCodes.BAD_REQUEST,
        `${this.id}: ${path} is not an ELF program (a script's interpreter would be looked up inside the container): run its interpreter with --exec-host`, { stage: this.id });
    }
    const elf = this.readElf(fd, path);
    // Without the container's mount namespace (-s without MOUNT, or a target
    // in ours), the kernel finds the program's loader where we do.
    const joined = ctx.get(JOINED);
    if (!elf.interpreter || (joined && !joined.includes('mnt'))) {
      ctx.program.execFd(keep(this.copy(ctx, fd, path)), { operation: `the sealed copy of ${path}` });
      return;
    }
    const loader = findOnHost(elf.interpreter, '');
    if (!loader) throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${path} needs the loader ${elf.interpreter}, which this host does not have`, { stage: this.id });
    const loaderFd = keep(this.open(ctx, loader));
    if (this.readElf(loaderFd, loader).interpreter) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: the loader ${loader} of ${path} is itself dynamically linked`, { stage: this.id });
    }
    let libraries: HostLibrary[];
    try {
      libraries = resolveLibraries(path, elf);
    } catch (err) {
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${(err as Error).message}`, { stage: this.id, cause: err });
    }
    const bad = libraries.find((l) => l.name.includes('/'));
    if (bad) throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${path} needs the library ${bad.name} by path, which would be looked up inside the container`, { stage: this.id });
    const opath = (file: string) => keep(this.openPath(ctx, file));
    const program = `bin/${basename(path)}`;
    ctx.set(VIEW_MOUNTS, [{
      target: HOST_DIR,
      source: {
        kind: 'files', label: `the host's loader directory for ${basename(path)}`, dirs: ['bin', 'lib'],
        files: [{ path: program, fd: opath(path) }, ...libraries.map((l) => ({ path: `lib/${l.name}`, fd: opath(l.path) }))],
      },
    }]);
    // glibc's loader: no ld.so.cache (the container's would name its own libraries); musl's has none.
    const glibc = !basename(loader).startsWith('ld-musl');
    ctx.program.execFd(keep(this.copy(ctx, loaderFd, loader)), {
      operation: `the sealed copy of ${loader} (the loader of ${path})`,
      argv: (argv) => [argv[0]!, ...(glibc ? ['--inhibit-cache'] : []), '--library-path', `${HOST_DIR}/lib`, '--argv0', argv[0]!,
        `${HOST_DIR}/${program}`, ...argv.slice(1)],
    });
  }

  private open(ctx: StageContext, path: string): number {
    try {
      return openProgram(path);
    } catch (err) {
      throw ctx.error(`open(${path}) of the host program`, err);
    }
  }

  private openPath(ctx: StageContext, path: string): number {
    try {
      return openSync(path, O_PATH | O_CLOEXEC);
    } catch (err) {
      throw ctx.error(`open(${path}, O_PATH) for the command's private view`, err);
    }
  }

  private readElf(fd: number, path: string): ElfInfo {
    try {
      return readElf(fd);
    } catch (err) {
      if (!(err instanceof ElfError)) throw err;
      throw new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${path}: ${err.message}`, { stage: this.id, cause: err });
    }
  }

  private copy(ctx: StageContext, fd: number, path: string): number {
    try {
      return sealedCopy(ctx.libc, fd, path);
    } catch (err) {
      throw ctx.error(`a sealed memfd copy of ${path}`, err);
    }
  }
}

