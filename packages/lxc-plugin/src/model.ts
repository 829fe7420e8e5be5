import { AttachError, CAPABILITY_NAMES, ErrorCodes, allCapabilities, capabilityBit, type ContainerConfig, type ContainerModel, type ModelFailure } from '@attachkit/core';
import type { LxcContainer } from './container.js';

/** LXC puts attached processes in this cgroup2 child of the container's cgroup (cgfsng.c, __cgroup_attach_many). */
const LXC_LEAF = '.lxc';

/**
 * An LXC container's configuration as the runtime-neutral model: every
 * `lxc.*` key a stage would need, read with LXC's own rules (lxc 5.0.2,
 * confile.c), and what the monitor hands out (cgroups, devpts) when the
 * container is running. Errors name the key and the value LXC would refuse.
 */
export function lxcModel(config: ContainerConfig, container?: LxcContainer): ContainerModel {
  return {
    runtime: 'LXC',
    boundingSet: (lastCap) => configuredCapabilities(config, lastCap),
    noNewPrivileges: () => {
      const value = config.get('lxc.no_new_privs')?.trim() ?? '';
      // LXC reads it with lxc_safe_uint and takes 0 or 1 (confile.c, set_config_no_new_privs).
      if (value === '' || /^0+$/.test(value)) return false;
      if (!/^0*1$/.test(value)) throw new Error(`lxc.no_new_privs = ${value}: expected 0 or 1`);
      return true;
    },
    seccomp: () => {
      const path = config.get('lxc.seccomp.profile');
      return path ? { format: 'lxc-profile', path, from: 'lxc.seccomp.profile', allowNesting: config.get('lxc.seccomp.allow_nesting') === '1' } : undefined;
    },
    lsmLabel: (lsm) => {
      const value = config.get(lsm === 'apparmor' ? 'lxc.apparmor.profile' : 'lxc.selinux.context')?.trim();
      // AppArmor's `generated` and `unchanged` name no label.
      return value && !(lsm === 'apparmor' && (value === 'generated' || value === 'unchanged')) ? value : undefined;
    },
    personality: () => {
      const arch = config.get('lxc.arch');
      return arch ? { arch, from: "the container's lxc.arch" } : undefined;
    },
    // lxc-attach marks the environment `container=lxc`, then lxc.environment.
    environment: () => [['container', 'lxc'], ...containerEnvironment(config)],
    ...(container ? {
      cgroups: () => {
        let cgroups;
        try {
          cgroups = container.cgroups();
        } catch (cause) {
          throw Object.assign(new Error(`asking the monitor of container ${container.name} for its cgroups`, { cause }),
            { operation: `asking the monitor of container ${container.name} for its cgroups` }) as ModelFailure;
        }
        return cgroups && { dirs: cgroups.dirs.map((d) => ({ open: `/proc/self/fd/${d.fd}`, shown: d.dir, unified: d.unified })), leaf: LXC_LEAF };
      },
      devpts: () => {
        try {
          return container.monitor.devptsFd();
        } catch {
          return undefined; // an older monitor: LXC itself falls back to openpty(3)
        }
      },
    } : {}),
  };
}

/** LXC's lxc_safe_uint: strtoul(3) with base 0 (decimal, 0x hex, 0 octal), nothing after the digits. */
function lxcUint(token: string): number | undefined {
  const m = /^\s*\+?(0x[0-9a-f]+|0[0-7]*|[1-9][0-9]*)$/i.exec(token);
  if (!m) return undefined;
  const digits = m[1]!;
  const n = /^0x/i.test(digits) ? Number.parseInt(digits.slice(2), 16) : digits.startsWith('0') ? Number.parseInt(digits, 8) || 0 : Number(digits);
  return n <= 0xffffffff ? n : undefined;
}

/**
 * One capability as LXC's parse_cap reads it: a name of CAPABILITY_NAMES,
 * matched exactly (LXC refuses `CAP_SYS_ADMIN` and `SYS_ADMIN`), or a number
 * no greater than the kernel's last capability.
 */
export function parseCapability(token: string, lastCap: number): number | undefined {
  const named = (CAPABILITY_NAMES as readonly string[]).indexOf(token);
  if (named >= 0) return named;
  const n = lxcUint(token);
  return n !== undefined && n <= lastCap ? n : undefined;
}

/** A key's values after the last empty one: an empty value clears the list in LXC's config. */
function liveValues(config: ContainerConfig, key: string): string[] {
  let values: string[] = [];
  for (const value of config.getAll(key)) {
    if (value.trim() === '') values = [];
    else values.push(value);
  }
  return values;
}

/**
 * The capabilities the container's config allows, with LXC's semantics
 * (lxc 5.0.2 confile.c, add_cap_entry / set_config_cap_{drop,keep}):
 * `lxc.cap.drop` removes the caps it lists, `lxc.cap.keep` removes every cap
 * it does not list; several per line, split on blanks; `keep = none` keeps
 * nothing (and forgets the caps listed before it); the two keys exclude each
 * other. Undefined when the config sets neither. Throws one message naming
 * the key and the value it cannot read.
 *
 * LXC refuses a mix of the two keys in file order; the config interface
 * gives each key's values apart, so a mix is refused whatever the order.
 */
export function configuredCapabilities(config: ContainerConfig, lastCap: number): bigint | undefined {
  const drop = liveValues(config, 'lxc.cap.drop');
  const keep = liveValues(config, 'lxc.cap.keep');
  if (drop.length && keep.length) throw new Error('lxc.cap.drop and lxc.cap.keep exclude each other; the config sets both');
  if (!drop.length && !keep.length) return undefined;
  const key = keep.length ? 'lxc.cap.keep' : 'lxc.cap.drop';
  let listed = 0n;
  for (const token of (keep.length ? keep : drop).join(' ').split(/[ \t]+/).filter(Boolean)) {
    if (token === 'none') {
      if (!keep.length) throw new Error('lxc.cap.drop: "none" is only valid for lxc.cap.keep');
      listed = 0n;
      continue;
    }
    const cap = parseCapability(token, lastCap);
    if (cap === undefined) {
      throw new Error(`${key}: unknown capability '${token}' (LXC takes lower-case names without CAP_, such as sys_admin, or numbers 0..${lastCap})`);
    }
    listed |= capabilityBit(cap);
  }
  return keep.length ? listed : allCapabilities(lastCap) & ~listed;
}

/**
 * The container's `lxc.environment` entries, in file order, with LXC's rules
 * (lxc 5.0.2 confile.c, set_config_environment): an empty value clears the
 * entries before it; `NAME=VALUE` sets NAME; a bare `NAME` copies NAME from
 * the caller's environment, and LXC refuses the config when it is unset there.
 */
export function containerEnvironment(config: ContainerConfig, callerEnv: NodeJS.ProcessEnv = process.env): Array<[string, string]> {
  let entries: Array<[string, string]> = [];
  for (const value of config.getAll('lxc.environment')) {
    if (value === '') {
      entries = [];
      continue;
    }
    const eq = value.indexOf('=');
    const name = eq < 0 ? value : value.slice(0, eq);
    const copied = eq < 0 ? callerEnv[name] : value.slice(eq + 1);
    if (name === '' || copied === undefined) {
      const why = name === '' ? 'has no variable name' : `copies ${name} from the caller's environment, where it is not set`;
      throw new AttachError(ErrorCodes.BAD_REQUEST, `build-env: lxc.environment = ${value} ${why}`, { stage: 'build-env' });
    }
    entries.push([name, copied]);
  }
  return entries;
}
