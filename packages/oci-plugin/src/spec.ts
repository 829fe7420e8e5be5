import {
  CAPABILITY_NAMES, capabilityBit, parseJsonExact, type CapabilitySets, type ContainerModel, type ContainerUser, type ResourceLimit,
} from '@attachkit/core';
import type { OciState } from './state.js';
import { readTrustedBytes, readTrustedFile } from './trusted-file.js';

/** A spec that cannot be applied exactly, as one sentence naming the field. */
export class OciSpecError extends Error {
  constructor(readonly field: string, message: string) {
    super(`${field} ${message}`);
    this.name = 'OciSpecError';
  }
}

/**
 * The fields of the process spec attachkit knows. Those it applies map onto
 * the container model; `terminal`, `consoleSize`, `args` and `commandLine`
 * describe the container's own first process and are no demand on one that
 * enters it (`runc exec` takes its own too). Anything else — ioPriority,
 * scheduler, execCPUAffinity, a field newer than this list — is refused:
 * never dropped, so a container never gets less confinement than it asked for.
 */
const PROCESS_FIELDS = new Set(['terminal', 'consoleSize', 'args', 'commandLine', 'user', 'env', 'cwd', 'capabilities', 'rlimits',
  'noNewPrivileges', 'apparmorProfile', 'oomScoreAdj', 'selinuxLabel']);
const USER_FIELDS = new Set(['uid', 'gid', 'umask', 'additionalGids', 'username']);
const CAPABILITY_SETS = ['bounding', 'effective', 'inheritable', 'permitted', 'ambient'] as const;

/** Read a container's process spec and map it onto the container model. */
export function readSpec(state: OciState): { model: ContainerModel; raw: Record<string, unknown> } {
  let json: unknown;
  try {
    json = parseJsonExact(readTrustedFile(state.configFile));
  } catch (err) {
    throw new OciSpecError(state.configFile, `cannot be read: ${(err as Error).message}`);
  }
  return { model: specModel(json, state), raw: json as Record<string, unknown> };
}

/** The model of a config.json, checked field by field. */
export function specModel(json: unknown, state: Pick<OciState, 'runtime' | 'configFile' | 'seccompBpf'>): ContainerModel {
  const file = state.configFile;
  const spec = object(json, file);
  const process = object(spec.process ?? {}, 'process');
  for (const key of Object.keys(process)) if (!PROCESS_FIELDS.has(key)) throw new OciSpecError(`process.${key}`, 'cannot be applied by attachkit: refused rather than dropped');
  const linux = object(spec.linux ?? {}, 'linux');

  const user = userOf(process.user);
  const env = envOf(process.env);
  const cwd = process.cwd === undefined ? undefined : string(process.cwd, 'process.cwd');
  const caps = process.capabilities === undefined ? undefined : object(process.capabilities, 'process.capabilities');
  const rlimits = rlimitsOf(process.rlimits);
  const oom = process.oomScoreAdj === undefined ? undefined : int(process.oomScoreAdj, 'process.oomScoreAdj', -1000, 1000);
  const nnp = process.noNewPrivileges === undefined ? false : bool(process.noNewPrivileges, 'process.noNewPrivileges');
  const apparmor = process.apparmorProfile === undefined ? undefined : string(process.apparmorProfile, 'process.apparmorProfile');
  const selinux = process.selinuxLabel === undefined ? undefined : string(process.selinuxLabel, 'process.selinuxLabel');
  const personality = personalityOf(linux.personality);
  const seccomp = linux.seccomp;

  const capabilitySets = (lastCap: number): CapabilitySets | undefined => {
    if (!caps) return undefined;
    const set = (name: (typeof CAPABILITY_SETS)[number]) => capabilityMask(caps[name] ?? [], `process.capabilities.${name}`, lastCap);
    for (const key of Object.keys(caps)) {
      if (!(CAPABILITY_SETS as readonly string[]).includes(key)) throw new OciSpecError(`process.capabilities.${key}`, 'is not a capability set');
    }
    return { bounding: set('bounding'), effective: set('effective'), permitted: set('permitted'), inheritable: set('inheritable'), ambient: set('ambient') };
  };
  return {
    runtime: state.runtime,
    boundingSet: (lastCap) => capabilitySets(lastCap)?.bounding,
    capabilities: capabilitySets,
    noNewPrivileges: () => nnp,
    lsmLabel: (lsm) => (lsm === 'apparmor' ? apparmor : selinux) || undefined,
    // crun's own compiled filter is what it loads at exec; runc compiles the spec's.
    seccomp: () => (state.seccompBpf !== undefined && seccomp !== undefined
      ? { format: 'bpf', program: readTrustedBytes(state.seccompBpf), flags: seccompFlags(seccomp), from: state.seccompBpf }
      : seccomp === undefined ? undefined : { format: 'oci', spec: seccomp, from: `${file} linux.seccomp` }),
    personality: () => (personality ? { arch: personality, from: `${file} linux.personality` } : undefined),
    environment: () => env,
    environmentReplaces: true,
    user: () => user,
    cwd: () => cwd,
    rlimits: () => rlimits,
    oomScoreAdj: () => oom,
    umask: () => user?.umask,
  };
}

function userOf(value: unknown): (ContainerUser & { umask?: number }) | undefined {
  if (value === undefined) return undefined;
  const user = object(value, 'process.user');
  for (const key of Object.keys(user)) if (!USER_FIELDS.has(key)) throw new OciSpecError(`process.user.${key}`, 'cannot be applied by attachkit: refused rather than dropped');
  const additional = user.additionalGids === undefined ? [] : array(user.additionalGids, 'process.user.additionalGids')
    .map((g, i) => int(g, `process.user.additionalGids[${i}]`, 0, 0xfffffffe));
  return {
    uid: int(user.uid ?? 0, 'process.user.uid', 0, 0xfffffffe),
    gid: int(user.gid ?? 0, 'process.user.gid', 0, 0xfffffffe),
    additionalGids: additional,
    ...(user.umask === undefined ? {} : { umask: int(user.umask, 'process.user.umask', 0, 0o7777) }),
  };
}

function envOf(value: unknown): Array<readonly [string, string]> {
  if (value === undefined) return [];
  return array(value, 'process.env').map((entry, i) => {
    const text = string(entry, `process.env[${i}]`);
    const eq = text.indexOf('=');
    if (eq <= 0) throw new OciSpecError(`process.env[${i}]`, `is not NAME=VALUE: ${JSON.stringify(text)}`);
    return [text.slice(0, eq), text.slice(eq + 1)] as const;
  });
}

/** uint64 values as JSON gives them exactly (parseJsonExact): a number, or a bigint above 2^53. */
function uint64(value: unknown, field: string): bigint {
  if (typeof value === 'bigint' && value >= 0n && value < 1n << 64n) return value;
  if (typeof value === 'number' && Number.isSafeInteger(value) && value >= 0) return BigInt(value);
  throw new OciSpecError(field, `is not a uint64: ${String(value)}`);
}

function rlimitsOf(value: unknown): ResourceLimit[] {
  if (value === undefined) return [];
  return array(value, 'process.rlimits').map((entry, i) => {
    const limit = object(entry, `process.rlimits[${i}]`);
    const type = string(limit.type, `process.rlimits[${i}].type`);
    if (!type.startsWith('RLIMIT_')) throw new OciSpecError(`process.rlimits[${i}].type`, `is not RLIMIT_…: ${type}`);
    const hard = uint64(limit.hard, `process.rlimits[${i}].hard`);
    const soft = uint64(limit.soft, `process.rlimits[${i}].soft`);
    if (soft > hard) throw new OciSpecError(`process.rlimits[${i}]`, `has soft ${soft} above hard ${hard}`);
    return { type: type.slice('RLIMIT_'.length), soft, hard };
  });
}

function capabilityMask(value: unknown, field: string, lastCap: number): bigint {
  let mask = 0n;
  for (const [i, entry] of array(value, field).entries()) {
    const name = string(entry, `${field}[${i}]`);
    const cap = name.startsWith('CAP_') ? (CAPABILITY_NAMES as readonly string[]).indexOf(name.slice(4).toLowerCase()) : -1;
    if (cap < 0 || cap > lastCap) throw new OciSpecError(`${field}[${i}]`, `is not a capability this kernel knows: ${name}`);
    mask |= capabilityBit(cap);
  }
  return mask;
}

/** linux.personality: LINUX32 runs as an i686, LINUX as the machine is (by LXC's architecture names, which set-personality takes). */
function personalityOf(value: unknown): string | undefined {
  if (value === undefined) return undefined;
  const p = object(value, 'linux.personality');
  if (p.flags !== undefined && array(p.flags, 'linux.personality.flags').length) throw new OciSpecError('linux.personality.flags', 'cannot be applied by attachkit: refused rather than dropped');
  const domain = string(p.domain, 'linux.personality.domain');
  if (domain === 'LINUX32') return 'linux32';
  if (domain === 'LINUX') return 'linux64';
  throw new OciSpecError('linux.personality.domain', `is not LINUX or LINUX32: ${domain}`);
}

/** SECCOMP_FILTER_FLAG_* of a linux.seccomp object, for crun's compiled filter. */
function seccompFlags(seccomp: unknown): number {
  const flags = object(seccomp, 'linux.seccomp').flags;
  const known: Record<string, number> = { SECCOMP_FILTER_FLAG_TSYNC: 1, SECCOMP_FILTER_FLAG_LOG: 2, SECCOMP_FILTER_FLAG_SPEC_ALLOW: 4 };
  let mask = 0;
  for (const [i, flag] of (flags === undefined ? [] : array(flags, 'linux.seccomp.flags')).entries()) {
    const bit = known[string(flag, `linux.seccomp.flags[${i}]`)];
    if (bit === undefined) throw new OciSpecError(`linux.seccomp.flags[${i}]`, `cannot be applied by attachkit: ${String(flag)}`);
    mask |= bit;
  }
  return mask;
}

function object(value: unknown, field: string): Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new OciSpecError(field, 'is not an object');
  return value as Record<string, unknown>;
}
function array(value: unknown, field: string): unknown[] {
  if (!Array.isArray(value)) throw new OciSpecError(field, 'is not an array');
  return value;
}
function string(value: unknown, field: string): string {
  if (typeof value !== 'string') throw new OciSpecError(field, 'is not a string');
  return value;
}
function bool(value: unknown, field: string): boolean {
  if (typeof value !== 'boolean') throw new OciSpecError(field, 'is not a boolean');
  return value;
}
function int(value: unknown, field: string, min: number, max: number): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < min || value > max) throw new OciSpecError(field, `is not an integer in ${min}..${max}: ${String(value)}`);
  return value;
}
