import { readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { describeErrno, type ContainerConfig } from '@attachkit/core';

/** One `key = value` line, and where it was read. */
export interface ConfigEntry {
  readonly key: string;
  readonly value: string;
  readonly file: string;
  /** 1-based. */
  readonly line: number;
}

/** A config file that cannot be read or parsed; the message names the file and line. */
export class LxcConfigError extends Error {
  constructor(
    message: string,
    readonly file: string,
    readonly line: number | undefined,
    /** The errno of a failed read. */
    readonly errno?: number,
  ) {
    super(message);
    this.name = 'LxcConfigError';
  }
}

/**
 * An LXC container config, read as LXC 5 reads it (src/lxc/confile.c,
 * parse_line), with every lxc.include expanded in place. Repeated keys are
 * kept in file order. An empty value clears the key's earlier values, as
 * LXC's setters do (`lxc.cap.drop =` resets the list).
 */
export class LxcConfig implements ContainerConfig {
  constructor(
    /** Every line that set a key, includes expanded, in order. */
    readonly entries: readonly ConfigEntry[],
    /** The top-level file, when the config came from one. */
    readonly file?: string,
  ) {}

  static empty(): LxcConfig {
    return new LxcConfig([]);
  }

  getAll(key: string): readonly string[] {
    return this.entriesOf(key).map((e) => e.value);
  }

  get(key: string): string | undefined {
    return this.entriesOf(key).at(-1)?.value;
  }

  /** The lines that give a key its values (after the last clearing one): for errors that say where a value came from. */
  entriesOf(key: string): readonly ConfigEntry[] {
    const all = this.entries.filter((e) => e.key === key);
    const cleared = all.findLastIndex((e) => e.value === '');
    return all.slice(cleared + 1);
  }
}

/** Read a config file and everything it includes. */
export function readLxcConfig(file: string): LxcConfig {
  const entries: ConfigEntry[] = [];
  readFile(file, entries, [], undefined);
  return new LxcConfig(entries, file);
}

interface Origin {
  readonly file: string;
  readonly line: number;
}

function readFile(file: string, out: ConfigEntry[], stack: readonly string[], from: Origin | undefined): void {
  const where = from ? `${from.file}:${from.line}: lxc.include = ${file}` : file;
  let text: string;
  let real: string;
  try {
    real = realpathSync(file);
    text = readFileSync(real, 'utf8');
  } catch (err) {
    const errno = Math.abs((err as NodeJS.ErrnoException).errno ?? 0);
    const what = from ? `${where}: cannot read the included file` : `cannot read ${file}`;
    throw new LxcConfigError(`${what}: ${errno ? describeErrno(errno) : String(err)}`, from?.file ?? file, from?.line, errno || undefined);
  }
  if (stack.includes(real)) {
    const chain = [...stack.slice(stack.indexOf(real)), real].join(' → ');
    throw new LxcConfigError(`${where}: include cycle (${chain})`, from!.file, from!.line);
  }
  const inner = [...stack, real];
  const lines = text.split('\n');
  lines.forEach((raw, i) => {
    const entry = parseLine(raw, file, i + 1);
    if (!entry) return;
    out.push(entry);
    if (entry.key === 'lxc.include' && entry.value !== '') include(entry.value, out, inner, { file, line: i + 1 });
  });
}

/**
 * lxc.include of a directory reads every `*.conf` in it (LXC: a name of at
 * least one character before `.conf`); a path ending in `/` is a directory,
 * and a missing directory is no error there (LXC's do_includedir). LXC takes
 * readdir order, which the filesystem decides; we sort, so the result does
 * not depend on it.
 */
function include(path: string, out: ConfigEntry[], stack: readonly string[], from: Origin): void {
  let isDir = path.endsWith('/');
  if (!isDir) {
    try {
      isDir = statSync(path).isDirectory();
    } catch {
      // Not there: reading it as a file reports the error.
    }
  }
  if (!isDir) {
    readFile(path, out, stack, from);
    return;
  }
  let names: string[];
  try {
    names = readdirSync(path);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    if (code === 'ENOENT') return;
    const errno = Math.abs((err as NodeJS.ErrnoException).errno ?? 0);
    throw new LxcConfigError(`${from.file}:${from.line}: lxc.include = ${path}: cannot read the directory: ${describeErrno(errno)}`, from.file, from.line, errno);
  }
  const dir = path.replace(/\/+$/, '');
  for (const name of names.filter((n) => n.length > 5 && n.endsWith('.conf')).sort()) {
    readFile(`${dir}/${name}`, out, stack, from);
  }
}

/**
 * One line, as LXC's parse_line: blank lines and `#` comments are skipped, so
 * is any line that does not start with `lxc.` (LXC ignores those); a `lxc.`
 * line without `=` is malformed, and so is a key LXC does not know (LXC's
 * set_config_unsupported_key: a misspelt `lxc.enviroment` is refused, not ignored). Key and value are trimmed of blanks, and a
 * value in matching single or double quotes loses them.
 */
function parseLine(raw: string, file: string, line: number): ConfigEntry | undefined {
  if (/^[ \t\n\r\f]*$/.test(raw)) return undefined;
  const text = raw.replace(/^[ \t]+/, '');
  if (text.startsWith('#') || !text.startsWith('lxc.')) return undefined;
  const eq = text.indexOf('=');
  if (eq < 0) throw new LxcConfigError(`${file}:${line}: invalid configuration line '${text.trimEnd()}' (expected 'key = value')`, file, line);
  const key = text.slice(0, eq).replace(/[ \t\n\0]+$/, '');
  if (!isKnownKey(key)) throw new LxcConfigError(`${file}:${line}: unsupported configuration key '${key}'`, file, line);
  let value = text.slice(eq + 1).replace(/^[ \t]+/, '').replace(/[ \t\n\0]+$/, '');
  const quote = value[0];
  if ((quote === '"' || quote === "'") && value.length > 1 && value.endsWith(quote)) value = value.slice(1, -1);
  return { key, value, file, line };
}

/**
 * The keys LXC knows (src/lxc/confile.c, config_jump_table, LXC 5.0; as
 * lxc.container.conf(5) lists them), and LXC 6's additions, so a newer
 * container's config still reads. Checked against lxc-attach 5.0.2 -f.
 */
const KNOWN_KEYS = new Set([
  'lxc.arch', 'lxc.apparmor.profile', 'lxc.apparmor.allow_incomplete', 'lxc.apparmor.allow_nesting', 'lxc.apparmor.raw',
  'lxc.autodev', 'lxc.autodev.tmpfs.size', 'lxc.cap.drop', 'lxc.cap.keep',
  'lxc.console.buffer.size', 'lxc.console.logfile', 'lxc.console.path', 'lxc.console.rotate', 'lxc.console.size',
  'lxc.sched.core', 'lxc.environment', 'lxc.environment.runtime', 'lxc.environment.hooks', 'lxc.ephemeral', 'lxc.execute.cmd', 'lxc.group',
  'lxc.hook', 'lxc.hook.autodev', 'lxc.hook.clone', 'lxc.hook.destroy', 'lxc.hook.mount', 'lxc.hook.post-stop', 'lxc.hook.pre-mount',
  'lxc.hook.pre-start', 'lxc.hook.start', 'lxc.hook.start-host', 'lxc.hook.stop', 'lxc.hook.version',
  'lxc.idmap', 'lxc.include', 'lxc.init.cmd', 'lxc.init.cwd', 'lxc.init.gid', 'lxc.init.groups', 'lxc.init.uid', 'lxc.keyring.session',
  'lxc.log.file', 'lxc.log.level', 'lxc.log.syslog', 'lxc.monitor.signal.pdeath', 'lxc.monitor.unshare',
  'lxc.mount.auto', 'lxc.mount.entry', 'lxc.mount.fstab', 'lxc.namespace.clone', 'lxc.namespace.keep',
  'lxc.net', 'lxc.no_new_privs', 'lxc.pty.max', 'lxc.rootfs.managed', 'lxc.rootfs.mount', 'lxc.rootfs.options', 'lxc.rootfs.path',
  'lxc.seccomp.allow_nesting', 'lxc.seccomp.notify.cookie', 'lxc.seccomp.notify.proxy', 'lxc.seccomp.profile',
  'lxc.selinux.context', 'lxc.selinux.context.keyring', 'lxc.signal.halt', 'lxc.signal.reboot', 'lxc.signal.stop',
  'lxc.start.auto', 'lxc.start.delay', 'lxc.start.order', 'lxc.time.offset.boot', 'lxc.time.offset.monotonic',
  'lxc.tty.dir', 'lxc.tty.max', 'lxc.uts.name',
]);
/**
 * LXC's non-strict entries, matched as prefixes: `lxc.cgroup` takes
 * lxc.cgroup.*, lxc.cgroup2.* and lxc.cgroup.dir.*; the rest name a
 * controller file, a limit, a sysctl, a /proc file, a network or namespace.
 */
const KEY_PREFIXES = ['lxc.cgroup', 'lxc.prlimit', 'lxc.sysctl', 'lxc.proc', 'lxc.net.', 'lxc.namespace.share.'];

/** Whether LXC would take this key (its lxc_get_config), rather than refuse it as unsupported. */
export function isKnownKey(key: string): boolean {
  return KNOWN_KEYS.has(key) || KEY_PREFIXES.some((prefix) => key.startsWith(prefix));
}
