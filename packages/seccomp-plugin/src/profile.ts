import { PROFILE_SECTIONS, X86_64, AARCH64, type SeccompArch } from './arch.js';
import { OTHER_ABI_SYSCALLS } from './syscall-table.js';

/**
 * The reader of LXC seccomp profiles (lxc.seccomp.profile), versions 1 and 2,
 * as LXC 5 reads them (src/lxc/seccomp.c; lxc.container.conf(5), "Seccomp
 * configuration"):
 *
 *   2                          version: 1 or 2
 *   denylist errno 1           policy (allowlist|denylist, or the old
 *                              whitelist|blacklist) and its default action
 *   reject_force_umount        umount2(…, MNT_FORCE) fails with EACCES
 *   [x86_64]                   rules below apply on this architecture
 *   kexec_load errno 1         syscall [action] [comparisons]
 *   ioctl errno 25 [1,0x5412,SCMP_CMP_EQ]
 *   mmap kill [2,0x4,SCMP_CMP_MASKED_EQ,0x4]    [arg,value,op,mask]
 *
 * A version 1 profile is an allowlist of syscall numbers, one per line.
 *
 * Whatever LXC accepts is accepted (the container started with it), and a
 * little more: syscall numbers in version 2, `#` comments at the end of any
 * line, indentation, the `log` action. Everything else is an error naming the
 * file and line. Unlike LXC, a name no architecture knows is an error (LXC
 * skips it silently, which hides typos); a name that only another ABI has
 * (socketcall under [all]) is skipped, as LXC skips it.
 */

export type SeccompAction =
  | { readonly kind: 'allow' | 'kill' | 'trap' | 'log' }
  | { readonly kind: 'errno'; readonly errno: number };

export type CompareOp = 'ne' | 'lt' | 'le' | 'eq' | 'ge' | 'gt' | 'masked-eq';

/** `args[index] op value`, on the whole 64-bit argument; masked-eq is `(args[index] & mask) == value`. */
export interface ArgCompare {
  readonly index: number;
  readonly op: CompareOp;
  readonly value: bigint;
  readonly mask: bigint;
}

export interface SeccompRule {
  /** As written in the profile: a name or a number. */
  readonly syscall: string;
  readonly nr: number;
  readonly action: SeccompAction;
  /** All must hold (libseccomp's rule semantics). */
  readonly args: readonly ArgCompare[];
  readonly line: number;
}

export interface SeccompProfile {
  readonly file: string;
  readonly version: 1 | 2;
  readonly policy: 'allowlist' | 'denylist';
  /** For a syscall no rule matches. */
  readonly defaultAction: SeccompAction;
  /** This architecture's rules, in file order. */
  readonly rules: readonly SeccompRule[];
}

/** A profile that cannot be read or compiled; the message starts with `file:line:`. */
export class ProfileError extends Error {
  constructor(readonly file: string, readonly line: number | undefined, readonly reason: string) {
    super(`${file}${line === undefined ? '' : `:${line}`}: ${reason}`);
    this.name = 'ProfileError';
  }
}

const ALLOW: SeccompAction = { kind: 'allow' };
const KILL: SeccompAction = { kind: 'kill' };
const EACCES = 13;
const MNT_FORCE = 1n;
const UMOUNT2 = 'umount2';

const OPS: Readonly<Record<string, CompareOp>> = {
  SCMP_CMP_NE: 'ne', '!=': 'ne',
  SCMP_CMP_LT: 'lt', '<': 'lt',
  SCMP_CMP_LE: 'le', '<=': 'le',
  SCMP_CMP_EQ: 'eq', '==': 'eq',
  SCMP_CMP_GE: 'ge', '>=': 'ge',
  SCMP_CMP_GT: 'gt', '>': 'gt',
  SCMP_CMP_MASKED_EQ: 'masked-eq', '&=': 'masked-eq',
};

const U64_MAX = (1n << 64n) - 1n;
/** seccomp(2) passes 16 bits of errno; the kernel caps it at MAX_ERRNO. */
const MAX_ERRNO = 4095;
/** LXC compares at most six arguments per rule (one per syscall argument). */
const MAX_COMPARES = 6;

export interface ReadProfileOptions {
  /** Named in every error. */
  readonly file: string;
  readonly arch: SeccompArch;
}

/** Parse a profile for one architecture: rules of other architectures' sections are left out. */
export function parseProfile(text: string, { file, arch }: ReadProfileOptions): SeccompProfile {
  const fail = (line: number | undefined, reason: string): never => { throw new ProfileError(file, line, reason); };
  const lines = text.split('\n').map(stripComment);

  const version = lines[0] === '1' ? 1 : lines[0] === '2' ? 2 : fail(1, `the first line must be the profile's version, 1 or 2 (found ${quote(lines[0] ?? '')})`);
  const policyLine = lines[1];
  if (policyLine === undefined) return fail(1, 'the policy line (allowlist or denylist) is missing');
  // LXC refuses these too (parse_config).
  if (policyLine.includes('debug')) fail(2, "the 'debug' directive is not supported");
  const policyMatch = /^(allowlist|whitelist|denylist|blacklist)(?:\s+(.*))?$/.exec(policyLine);
  if (!policyMatch) return fail(2, `the second line must be the policy, allowlist or denylist (found ${quote(policyLine)})`);
  const policy = policyMatch[1] === 'denylist' || policyMatch[1] === 'blacklist' ? 'denylist' : 'allowlist';
  if (version === 1 && policy !== 'allowlist') fail(2, 'a version 1 profile can only be an allowlist');
  // LXC reads nothing after the policy of a version 1 profile: its default is always kill.
  const explicitDefault = version === 2 && policyMatch[2] ? parseAction(policyMatch[2], (reason) => fail(2, reason)) : undefined;
  // seccomp.c: an allowlist kills by default and allows what it lists; a denylist the reverse.
  const defaultAction = explicitDefault ?? (policy === 'allowlist' ? KILL : ALLOW);
  const ruleDefault = policy === 'allowlist' ? ALLOW : KILL;

  const rules: SeccompRule[] = [];
  // LXC starts in [all] on hosts with compat ABIs and in the native section elsewhere: both apply.
  let applies = true;
  lines.slice(2).forEach((content, i) => {
    const line = i + 3;
    const lineFail = (reason: string): never => fail(line, reason);
    if (!content) return;
    if (version === 1) {
      if (!/^\d+$/.test(content)) lineFail(`a version 1 profile lists one syscall number per line (found ${quote(content)})`);
      rules.push({ syscall: content, nr: Number(content), action: ALLOW, args: [], line });
      return;
    }
    if (content.startsWith('[')) {
      const section = /^\[(\w+)\]$/.exec(content)?.[1];
      // LXC matches the section in lower case or in upper case, not mixed.
      const name = section === undefined ? undefined : section === section.toUpperCase() ? section.toLowerCase() : section;
      if (name === undefined || !PROFILE_SECTIONS.includes(name)) {
        lineFail(`unknown architecture section ${quote(content)} (known: ${PROFILE_SECTIONS.map((s) => `[${s}]`).join(', ')})`);
      }
      applies = arch.sections.has(name!);
      return;
    }
    // Rules of another architecture's section are not read, as in LXC: their names are not ours to check.
    if (!applies) return;
    const rule = parseRule(content, line, ruleDefault, arch, lineFail);
    if (rule) rules.push(rule);
  });
  return { file, version, policy, defaultAction, rules };
}

/** `name [action] [comparison...]`; undefined for a syscall this architecture does not have. */
function parseRule(content: string, line: number, ruleDefault: SeccompAction, arch: SeccompArch, fail: (reason: string) => never): SeccompRule | undefined {
  const name = content.split(/\s/, 1)[0]!;
  const rest = content.slice(name.length);
  if (name === 'reject_force_umount') {
    // LXC's shorthand (seccomp.c, do_resolve_add_rule): umount2(…, MNT_FORCE) → EACCES; the rest of the line is ignored.
    return {
      syscall: UMOUNT2, nr: arch.syscalls[UMOUNT2]!, action: { kind: 'errno', errno: EACCES },
      args: [{ index: 1, op: 'masked-eq', value: MNT_FORCE, mask: MNT_FORCE }], line,
    };
  }
  const nr = syscallNumber(name, arch, fail);
  const compares = rest.match(/\[[^\]]*\]/g) ?? [];
  const actionText = rest.replace(/\[[^\]]*\]/g, ' ').trim();
  if (/[[\]]/.test(actionText)) fail(`unbalanced '[' or ']' in ${quote(content)}`);
  if (compares.length > MAX_COMPARES) fail(`at most ${MAX_COMPARES} argument comparisons per rule (found ${compares.length})`);
  const action = actionText ? parseAction(actionText, fail) : ruleDefault;
  const args = compares.map((c) => parseCompare(c, fail));
  return nr === undefined ? undefined : { syscall: name, nr, action, args, line };
}

function syscallNumber(name: string, arch: SeccompArch, fail: (reason: string) => never): number | undefined {
  if (/^\d+$/.test(name)) return Number(name);
  if (!/^\w+$/.test(name)) fail(`${quote(name)} is not a syscall name`);
  const nr = arch.syscalls[name];
  if (nr !== undefined) return nr;
  // Another architecture's syscall (a profile written for several): skipped, as LXC does.
  if (OTHER_ABI_SYSCALLS.has(name) || name in X86_64.syscalls || name in AARCH64.syscalls) return undefined;
  return fail(`unknown syscall ${quote(name)}`);
}

/** kill | allow | trap | log | errno N. notify needs LXC's seccomp proxy, which attachkit does not run. */
function parseAction(text: string, fail: (reason: string) => never): SeccompAction {
  const m = /^(kill|allow|trap|log|notify|errno)(?:\s*(\S+))?$/.exec(text.trim());
  if (!m) return fail(`unknown action ${quote(text.trim())} (known: kill, allow, trap, log, errno N)`);
  const [, kind, arg] = m;
  if (kind === 'errno') {
    if (arg === undefined) return fail("'errno' needs a number: errno N");
    if (!/^\d+$/.test(arg) || Number(arg) > MAX_ERRNO) return fail(`errno ${quote(arg)} is not a number from 0 to ${MAX_ERRNO}`);
    return { kind: 'errno', errno: Number(arg) };
  }
  if (arg !== undefined) fail(`unexpected ${quote(arg)} after action '${kind}'`);
  if (kind === 'notify') {
    fail("the 'notify' action needs LXC's seccomp notify proxy (lxc.seccomp.notify.proxy), which attachkit does not implement");
  }
  return { kind: kind as 'allow' | 'kill' | 'trap' | 'log' };
}

/** `[index,value,op]` or `[index,value,op,mask]` (seccomp.c, get_seccomp_arg_value). */
function parseCompare(text: string, fail: (reason: string) => never): ArgCompare {
  const fields = text.slice(1, -1).split(',').map((f) => f.trim());
  if (fields.length !== 3 && fields.length !== 4) {
    return fail(`argument comparison ${text} must be [index,value,op] or [index,value,op,mask]`);
  }
  const [index, value, op, mask = '0'] = fields as [string, string, string, string?];
  if (!/^[0-5]$/.test(index)) fail(`argument index ${quote(index)} in ${text} is not 0 to 5`);
  const cmp = OPS[op];
  if (!cmp) fail(`unknown comparison ${quote(op)} in ${text} (known: ${Object.keys(OPS).join(' ')})`);
  return { index: Number(index), op: cmp!, value: u64(value, text, fail), mask: u64(mask, text, fail) };
}

/** strtoull with base 0, as LXC reads values: decimal, 0x hex, 0 octal; no sign. */
function u64(text: string, where: string, fail: (reason: string) => never): bigint {
  let n: bigint | undefined;
  if (/^0x[0-9a-f]+$/i.test(text)) n = BigInt(text);
  else if (/^0[0-7]*$/.test(text)) n = BigInt(`0o${text.slice(1) || '0'}`);
  else if (/^[1-9]\d*$/.test(text)) n = BigInt(text);
  if (n === undefined || n > U64_MAX) return fail(`${quote(text)} in ${where} is not an unsigned 64-bit number`);
  return n;
}

/** A `#` at the start of a line or after whitespace starts a comment. */
function stripComment(line: string): string {
  const hash = line.search(/(^|\s)#/);
  return (hash < 0 ? line : line.slice(0, hash)).trim();
}

function quote(s: string): string {
  return `'${s}'`;
}
