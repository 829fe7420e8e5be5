import { parseJsonExact } from '@attachkit/core';

/**
 * The OCI runtime spec's `linux.seccomp` object (config-linux.md, "Seccomp"),
 * as runc applies it through libseccomp. The reader takes what JSON.parse (or
 * parseJsonExact) gives and refuses, naming the field, everything it cannot
 * apply exactly: an unknown field, action, operator, architecture or flag, a
 * field of the wrong type, a value that does not fit, SCMP_ACT_NOTIFY and
 * listenerPath (they need a seccomp listener fd and an agent to hand it to),
 * errnoRet on an action that has no return value. Nothing is dropped
 * silently. Syscall names are only checked to be non-empty strings: a name
 * no architecture of the filter knows is skipped when compiling, as runc
 * skips it.
 */

export const OCI_SECCOMP_ACTIONS = [
  'SCMP_ACT_KILL_PROCESS', 'SCMP_ACT_KILL_THREAD', 'SCMP_ACT_KILL', 'SCMP_ACT_TRAP',
  'SCMP_ACT_ERRNO', 'SCMP_ACT_TRACE', 'SCMP_ACT_ALLOW', 'SCMP_ACT_LOG',
] as const;
export type OciSeccompAction = (typeof OCI_SECCOMP_ACTIONS)[number];

export const OCI_SECCOMP_OPERATORS = [
  'SCMP_CMP_NE', 'SCMP_CMP_LT', 'SCMP_CMP_LE', 'SCMP_CMP_EQ', 'SCMP_CMP_GE', 'SCMP_CMP_GT', 'SCMP_CMP_MASKED_EQ',
] as const;
export type OciSeccompOperator = (typeof OCI_SECCOMP_OPERATORS)[number];

/** Every architecture runc knows (libcontainer/seccomp/config.go). */
export const OCI_SECCOMP_ARCHITECTURES = [
  'SCMP_ARCH_X86', 'SCMP_ARCH_X86_64', 'SCMP_ARCH_X32', 'SCMP_ARCH_ARM', 'SCMP_ARCH_AARCH64',
  'SCMP_ARCH_MIPS', 'SCMP_ARCH_MIPS64', 'SCMP_ARCH_MIPS64N32', 'SCMP_ARCH_MIPSEL', 'SCMP_ARCH_MIPSEL64',
  'SCMP_ARCH_MIPSEL64N32', 'SCMP_ARCH_PPC', 'SCMP_ARCH_PPC64', 'SCMP_ARCH_PPC64LE', 'SCMP_ARCH_RISCV64',
  'SCMP_ARCH_S390', 'SCMP_ARCH_S390X', 'SCMP_ARCH_LOONGARCH64',
] as const;
export type OciSeccompArchitecture = (typeof OCI_SECCOMP_ARCHITECTURES)[number];

/** seccomp(2) SECCOMP_FILTER_FLAG_* (linux/seccomp.h) that a filter of this compiler can be loaded with. */
export const OCI_SECCOMP_FLAGS = {
  SECCOMP_FILTER_FLAG_TSYNC: 1,
  SECCOMP_FILTER_FLAG_LOG: 2,
  SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4,
} as const;
export type OciSeccompFlag = keyof typeof OCI_SECCOMP_FLAGS;

/** Flags that are refused, and why. */
const REFUSED_FLAGS: Readonly<Record<string, string>> = {
  SECCOMP_FILTER_FLAG_NEW_LISTENER: 'it makes seccomp(2) return a listener fd for a seccomp agent (SCMP_ACT_NOTIFY), which attachkit does not run',
  SECCOMP_FILTER_FLAG_TSYNC_ESRCH: 'it only changes how TSYNC reports a failure together with NEW_LISTENER, which attachkit does not use (runc does not know it either)',
  SECCOMP_FILTER_FLAG_WAIT_KILLABLE_RECV: 'it only applies to SCMP_ACT_NOTIFY, which needs a seccomp agent attachkit does not run',
};

/** `args[index] op value`; SCMP_CMP_MASKED_EQ is `(args[index] & value) == valueTwo` (mask first, unlike LXC's profiles). */
export interface OciSeccompArg {
  readonly index: number;
  readonly value: bigint;
  readonly valueTwo: bigint;
  readonly op: OciSeccompOperator;
}

export interface OciSeccompSyscall {
  readonly names: readonly string[];
  readonly action: OciSeccompAction;
  /** SCMP_ACT_ERRNO: the errno (EPERM when absent); SCMP_ACT_TRACE: the value the tracer gets (EPERM, 1, when absent). */
  readonly errnoRet?: number;
  readonly args: readonly OciSeccompArg[];
}

export interface OciSeccomp {
  readonly defaultAction: OciSeccompAction;
  /** As errnoRet, for the default action. */
  readonly defaultErrnoRet?: number;
  readonly architectures: readonly OciSeccompArchitecture[];
  readonly flags: readonly OciSeccompFlag[];
  readonly syscalls: readonly OciSeccompSyscall[];
}

/** A `linux.seccomp` that cannot be applied exactly; `field` is the JSON path of the offending field. */
export class OciSeccompError extends Error {
  constructor(readonly field: string, readonly reason: string) {
    super(`${field}: ${reason}`);
    this.name = 'OciSeccompError';
  }
}

const ROOT = 'linux.seccomp';
/** The kernel caps SECCOMP_RET_ERRNO's data at MAX_ERRNO: a larger errnoRet would not come back as written. */
export const MAX_ERRNO = 4095;
/** SECCOMP_RET_DATA: 16 bits for SCMP_ACT_TRACE's value. */
const MAX_TRACE = 0xffff;
const U64_MAX = (1n << 64n) - 1n;
const MAX_ARG_INDEX = 5;

const SECCOMP_KEYS = ['defaultAction', 'defaultErrnoRet', 'architectures', 'flags', 'listenerPath', 'listenerMetadata', 'syscalls'];
const SYSCALL_KEYS = ['names', 'action', 'errnoRet', 'args'];
const ARG_KEYS = ['index', 'value', 'valueTwo', 'op'];

/** Read a JSON text holding a `linux.seccomp` object, keeping 64-bit argument values exact. */
export function parseOciSeccompJson(text: string): OciSeccomp {
  let json: unknown;
  try {
    json = parseJsonExact(text);
  } catch (err) {
    throw new OciSeccompError(ROOT, `not JSON: ${(err as Error).message}`);
  }
  return parseOciSeccomp(json);
}

/**
 * Validate a parsed `linux.seccomp` object. Argument values may be numbers
 * (safe integers only: a larger JSON number has been rounded by JSON.parse;
 * read the text with parseOciSeccompJson) or bigints.
 */
export function parseOciSeccomp(json: unknown): OciSeccomp {
  const obj = object(json, ROOT, SECCOMP_KEYS);
  if (!has(obj, 'defaultAction')) throw new OciSeccompError(`${ROOT}.defaultAction`, 'is required');
  const defaultAction = action(obj.defaultAction, `${ROOT}.defaultAction`);
  const defaultErrnoRet = errnoRet(obj, 'defaultErrnoRet', defaultAction, ROOT);

  const listenerPath = optional(obj, 'listenerPath');
  if (listenerPath !== undefined) {
    if (typeof listenerPath !== 'string') throw new OciSeccompError(`${ROOT}.listenerPath`, `must be a string (found ${describe(listenerPath)})`);
    if (listenerPath !== '') {
      throw new OciSeccompError(`${ROOT}.listenerPath`, "is not supported: it names the seccomp agent's socket that gets the filter's listener fd (SCMP_ACT_NOTIFY), and attachkit runs no agent");
    }
  }
  const listenerMetadata = optional(obj, 'listenerMetadata');
  if (listenerMetadata !== undefined) {
    if (typeof listenerMetadata !== 'string') throw new OciSeccompError(`${ROOT}.listenerMetadata`, `must be a string (found ${describe(listenerMetadata)})`);
    if (listenerMetadata !== '') throw new OciSeccompError(`${ROOT}.listenerMetadata`, 'is not supported: it is sent to a seccomp agent (listenerPath), which attachkit does not run');
  }

  const architectures = array(optional(obj, 'architectures') ?? [], `${ROOT}.architectures`).map((a, i) => {
    const field = `${ROOT}.architectures[${i}]`;
    return oneOf(a, field, OCI_SECCOMP_ARCHITECTURES, 'architecture');
  });

  const flags = array(optional(obj, 'flags') ?? [], `${ROOT}.flags`).map((f, i) => {
    const field = `${ROOT}.flags[${i}]`;
    if (typeof f !== 'string') throw new OciSeccompError(field, `must be a string (found ${describe(f)})`);
    const refused = REFUSED_FLAGS[f];
    if (refused) throw new OciSeccompError(field, `${f} is not supported: ${refused}`);
    return oneOf(f, field, Object.keys(OCI_SECCOMP_FLAGS) as OciSeccompFlag[], 'flag');
  });

  const syscalls = array(optional(obj, 'syscalls') ?? [], `${ROOT}.syscalls`).map((s, i) => syscall(s, `${ROOT}.syscalls[${i}]`));
  return {
    defaultAction,
    ...(defaultErrnoRet === undefined ? {} : { defaultErrnoRet }),
    architectures, flags, syscalls,
  };
}

function syscall(json: unknown, where: string): OciSeccompSyscall {
  const obj = object(json, where, SYSCALL_KEYS);
  if (!has(obj, 'names')) throw new OciSeccompError(`${where}.names`, 'is required');
  const names = array(obj.names, `${where}.names`).map((n, i) => {
    const field = `${where}.names[${i}]`;
    if (typeof n !== 'string') throw new OciSeccompError(field, `must be a string (found ${describe(n)})`);
    // runc: "empty string is not a valid syscall".
    if (n === '') throw new OciSeccompError(field, 'is empty: not a syscall name');
    return n;
  });
  if (!has(obj, 'action')) throw new OciSeccompError(`${where}.action`, 'is required');
  const act = action(obj.action, `${where}.action`);
  const ret = errnoRet(obj, 'errnoRet', act, where);
  const args = array(optional(obj, 'args') ?? [], `${where}.args`).map((a, i) => arg(a, `${where}.args[${i}]`));
  return { names, action: act, ...(ret === undefined ? {} : { errnoRet: ret }), args };
}

function arg(json: unknown, where: string): OciSeccompArg {
  const obj = object(json, where, ARG_KEYS);
  for (const key of ['index', 'value', 'op']) {
    if (!has(obj, key)) throw new OciSeccompError(`${where}.${key}`, 'is required');
  }
  const index = integer(obj.index, `${where}.index`);
  if (index > BigInt(MAX_ARG_INDEX)) throw new OciSeccompError(`${where}.index`, `must be 0 to ${MAX_ARG_INDEX}, a syscall argument (found ${index})`);
  const op = oneOf(obj.op, `${where}.op`, OCI_SECCOMP_OPERATORS, 'comparison');
  const value = integer(obj.value, `${where}.value`);
  const two = optional(obj, 'valueTwo');
  const valueTwo = two === undefined ? 0n : integer(two, `${where}.valueTwo`);
  // runc passes valueTwo to libseccomp, which reads it for SCMP_CMP_MASKED_EQ only.
  if (op !== 'SCMP_CMP_MASKED_EQ' && valueTwo !== 0n) {
    throw new OciSeccompError(`${where}.valueTwo`, `is only used by SCMP_CMP_MASKED_EQ; with ${op} it would be ignored (found ${valueTwo})`);
  }
  return { index: Number(index), value, valueTwo, op };
}

function action(json: unknown, field: string): OciSeccompAction {
  if (json === 'SCMP_ACT_NOTIFY') {
    throw new OciSeccompError(field, 'SCMP_ACT_NOTIFY is not supported: it needs the filter\'s listener fd handed to a seccomp agent (listenerPath), and attachkit runs no agent');
  }
  return oneOf(json, field, OCI_SECCOMP_ACTIONS, 'action');
}

/** errnoRet / defaultErrnoRet: only for SCMP_ACT_ERRNO and SCMP_ACT_TRACE, where it is the filter's return data. */
function errnoRet(obj: Record<string, unknown>, key: string, act: OciSeccompAction, where: string): number | undefined {
  const raw = optional(obj, key);
  if (raw === undefined) return undefined;
  const field = `${where}.${key}`;
  if (act !== 'SCMP_ACT_ERRNO' && act !== 'SCMP_ACT_TRACE') {
    throw new OciSeccompError(field, `only SCMP_ACT_ERRNO and SCMP_ACT_TRACE return a value; with ${act} it would be ignored`);
  }
  const n = integer(raw, field);
  const max = act === 'SCMP_ACT_ERRNO' ? MAX_ERRNO : MAX_TRACE;
  if (n > BigInt(max)) {
    throw new OciSeccompError(field, act === 'SCMP_ACT_ERRNO'
      ? `must be 0 to ${MAX_ERRNO} (MAX_ERRNO: the kernel returns larger values as ${MAX_ERRNO}; found ${n})`
      : `must be 0 to ${MAX_TRACE}, the 16 bits of SECCOMP_RET_DATA (found ${n})`);
  }
  return Number(n);
}

/** An unsigned 64-bit integer: a safe-integer number or a bigint. */
function integer(json: unknown, field: string): bigint {
  let n: bigint;
  if (typeof json === 'bigint') n = json;
  else if (typeof json === 'number' && Number.isInteger(json)) {
    if (!Number.isSafeInteger(json)) {
      throw new OciSeccompError(field, `${json} is above 2^53 and may have been rounded by JSON.parse: read the JSON with parseOciSeccompJson, or pass a bigint`);
    }
    n = BigInt(json);
  } else throw new OciSeccompError(field, `must be an unsigned integer (found ${describe(json)})`);
  if (n < 0n || n > U64_MAX) throw new OciSeccompError(field, `must be an unsigned 64-bit integer (found ${n})`);
  return n;
}

function oneOf<T extends string>(json: unknown, field: string, known: readonly T[], what: string): T {
  if (typeof json !== 'string') throw new OciSeccompError(field, `must be a string (found ${describe(json)})`);
  if (!(known as readonly string[]).includes(json)) throw new OciSeccompError(field, `unknown ${what} '${json}' (known: ${known.join(', ')})`);
  return json as T;
}

function object(json: unknown, where: string, keys: readonly string[]): Record<string, unknown> {
  if (typeof json !== 'object' || json === null || Array.isArray(json)) throw new OciSeccompError(where, `must be an object (found ${describe(json)})`);
  for (const key of Object.keys(json)) {
    if (!keys.includes(key)) throw new OciSeccompError(`${where}.${key}`, `unknown field (known: ${keys.join(', ')})`);
  }
  return json as Record<string, unknown>;
}

function array(json: unknown, field: string): unknown[] {
  if (!Array.isArray(json)) throw new OciSeccompError(field, `must be an array (found ${describe(json)})`);
  return json;
}

function has(obj: Record<string, unknown>, key: string): boolean {
  return Object.hasOwn(obj, key);
}

/** An optional field: absent or null (Go's nil) is undefined. */
function optional(obj: Record<string, unknown>, key: string): unknown {
  return has(obj, key) && obj[key] !== null ? obj[key] : undefined;
}

function describe(json: unknown): string {
  if (json === null) return 'null';
  if (Array.isArray(json)) return 'an array';
  if (typeof json === 'object') return 'an object';
  if (typeof json === 'string') return `'${json}'`;
  return `${typeof json} ${String(json)}`;
}
