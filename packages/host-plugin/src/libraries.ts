import { closeSync, existsSync, openSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { dirname, isAbsolute, join } from 'node:path';
import { readElf, type ElfInfo } from './elf.js';

/** A library a host program needs, found on the host: `name` as DT_NEEDED says it, `path` the real file. */
export interface HostLibrary {
  readonly name: string;
  readonly path: string;
}

export interface LibrarySearchOptions {
  /** The host's loader configuration (default /etc/ld.so.conf). */
  readonly ldSoConf?: string;
  /** The loader's built-in directories, searched last. */
  readonly systemDirs?: readonly string[];
}

/** Debian's multiarch triplets, for the loader's built-in directories. */
const TRIPLETS: Partial<Record<NodeJS.Architecture, string>> = { x64: 'x86_64-linux-gnu', arm64: 'aarch64-linux-gnu', riscv64: 'riscv64-linux-gnu' };

export function defaultSystemDirs(arch: NodeJS.Architecture = process.arch): string[] {
  const triplet = TRIPLETS[arch];
  return [...(triplet ? [`/lib/${triplet}`, `/usr/lib/${triplet}`] : []), '/lib64', '/usr/lib64', '/lib', '/usr/lib'];
}

/**
 * Every library `program` needs, transitively, found as the host's loader
 * would find it (glibc's order: DT_RPATH, DT_RUNPATH with $ORIGIN, the
 * directories of ld.so.conf, the built-in ones), each of the program's ELF
 * class and machine. The caller's LD_LIBRARY_PATH is not used: the command
 * is run with these and nothing else. Throws Error naming a library that
 * cannot be found.
 */
export function resolveLibraries(programPath: string, program: ElfInfo, options: LibrarySearchOptions = {}): HostLibrary[] {
  const confDirs = readLdSoConf(options.ldSoConf ?? '/etc/ld.so.conf');
  const systemDirs = options.systemDirs ?? defaultSystemDirs();
  const found = new Map<string, string>();
  const queue: Array<{ path: string; elf: ElfInfo }> = [{ path: programPath, elf: program }];
  const expand = (list: readonly string[], objectPath: string) => {
    const origin = dirname(realpathSync(objectPath));
    return list.flatMap((d) => {
      const dir = d.replace(/\$(ORIGIN|\{ORIGIN\})/g, origin);
      return dir.includes('$') || !isAbsolute(dir) ? [] : [dir];
    });
  };
  const programRpath = program.rpath ? expand(program.runpath, programPath) : [];
  while (queue.length) {
    const object = queue.shift()!;
    // DT_RPATH (of the object, then of the executable) is searched only when the object has no DT_RUNPATH.
    const hasRunpath = object.elf.runpath.length > 0 && !object.elf.rpath;
    const rpath = hasRunpath ? [] : [...(object.elf.rpath ? expand(object.elf.runpath, object.path) : []), ...(object.path === programPath ? [] : programRpath)];
    const runpath = hasRunpath ? expand(object.elf.runpath, object.path) : [];
    for (const name of object.elf.needed) {
      if (found.has(name)) continue;
      const hit = name.includes('/') ? match(name, program) : [...rpath, ...runpath, ...confDirs, ...systemDirs]
        .map((dir) => match(join(dir, name), program)).find((h) => h !== undefined);
      if (!hit) throw new Error(`the library ${name} (needed by ${object.path}) is not on this host`);
      found.set(name, hit.path);
      queue.push(hit);
    }
  }
  return [...found].map(([name, path]) => ({ name, path }));
}

/** The file at `path` when it is an ELF object of the program's class and machine. */
function match(path: string, program: ElfInfo): { path: string; elf: ElfInfo } | undefined {
  let fd: number;
  try {
    if (!statSync(path).isFile()) return undefined;
    fd = openSync(path, 'r');
  } catch {
    return undefined;
  }
  try {
    const elf = readElf(fd);
    return elf.class === program.class && elf.machine === program.machine ? { path: realpathSync(path), elf } : undefined;
  } catch {
    return undefined;
  } finally {
    closeSync(fd);
  }
}

/** The directories of ld.so.conf, with its `include` globs (a `*` in the last component), in order. */
export function readLdSoConf(path: string, seen = new Set<string>()): string[] {
  if (seen.has(path) || !existsSync(path)) return [];
  seen.add(path);
  const dirs: string[] = [];
  for (const raw of readFileSync(path, 'utf8').split('\n')) {
    const line = raw.replace(/#.*/, '').trim();
    if (!line || line.startsWith('hwcap ')) continue;
    const include = /^include\s+(.*)$/.exec(line);
    if (include) {
      for (const pattern of include[1]!.split(/\s+/)) {
        const full = isAbsolute(pattern) ? pattern : join(dirname(path), pattern);
        dirs.push(...expandGlob(full).flatMap((file) => readLdSoConf(file, seen)));
      }
      continue;
    }
    dirs.push(...line.split(/[\s,:]+/).filter((d) => isAbsolute(d)));
  }
  return dirs;
}

function expandGlob(pattern: string): string[] {
  const dir = dirname(pattern);
  const base = pattern.slice(dir.length + 1);
  if (!base.includes('*')) return [pattern];
  const re = new RegExp(`^${base.split('*').map((p) => p.replace(/[.+?^${}()|[\]\\]/g, '\\$&')).join('.*')}$`);
  try {
    return readdirSync(dir).filter((f) => re.test(f)).sort().map((f) => join(dir, f));
  } catch {
    return [];
  }
}
