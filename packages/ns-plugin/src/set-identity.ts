import { readFileSync } from 'node:fs';
import {
  AttachError, bytes, COMMAND_IDENTITY, DEFAULT_COMMAND, describeMap, ErrorCodes, imm, insideId, isMapped, parseIdMap,
  type IdRange, type Stage, type StageContext,
} from '@attachkit/core';
import { readTargetEntries } from './container-files.js';
import { JOINED_NAMESPACES } from './join-namespaces.js';
import { parseGroupLine, parsePasswdLine, type GroupEntry, type PasswdEntry } from './passwd.js';

/**
 * Set identity: who the command runs as inside the target, by lxc-attach's
 * rules (attach.c, userns_setup_ids/userns_target_ids):
 * - supplementary groups dropped (setgroups(0); EPERM tolerated, as LXC
 *   does, where setgroups is denied), or set to --groups (an extension);
 * - in a joined user namespace, first switch to the setup ids (0 when 0 is
 *   mapped, else the init's ids), so that what follows runs as the
 *   namespace's root, not as an unmapped overflow id;
 * - last, after seccomp: -u/-g if given, else the setup ids (user
 *   namespace) or 0. A numeric -u keeps gid 0 as lxc-attach does; -u NAME
 *   (an extension) takes the user's primary group, as su(1) does.
 * Names are looked up in the target's own /etc/passwd and /etc/group, read
 * without leaving its root (openat2 RESOLVE_IN_ROOT), never through the
 * host's NSS. Without a command, the user's shell is the default command.
 *
 * Needs: join-namespaces (which namespaces were joined). Guarantees: ops in
 * the `groups` and `ids` phases; DEFAULT_COMMAND when no command was given.
 */
export class SetIdentity implements Stage {
  readonly id = 'set-identity';
  readonly description = 'uid, gid and groups inside the target, and its default shell';
  readonly after = ['resolve-target', 'join-namespaces'];
  readonly before = ['exec'];

  plan(ctx: StageContext): void {
    const { request } = ctx;
    const joined = ctx.get(JOINED_NAMESPACES) ?? [];
    const userns = joined.includes('user');
    const ownRoot = !joined.includes('mnt');
    let passwd: PasswdEntry[] | undefined;
    let group: GroupEntry[] | undefined;
    // Read once, when a name or the shell needs them; refused unless regular files within the cap.
    const users = () => (passwd ??= readTargetEntries(ctx, 'etc/passwd', parsePasswdLine, ownRoot));
    const groups = () => (group ??= readTargetEntries(ctx, 'etc/group', parseGroupLine, ownRoot));

    const maps = userns ? this.idMaps(ctx) : undefined;
    const setupUid = maps ? setupId(maps.uid, maps.initUid, 'uid') : 0;
    const setupGid = maps ? setupId(maps.gid, maps.initGid, 'gid') : 0;

    let user: PasswdEntry | undefined;
    let uid = setupUid;
    if (typeof request.uid === 'string') {
      user = users().find((u) => u.name === request.uid);
      if (!user) throw this.badRequest(`no user '${request.uid}' in the target's /etc/passwd`);
      uid = user.uid;
    } else if (request.uid !== undefined) {
      uid = request.uid;
    }
    let gid = user?.gid ?? setupGid;
    if (typeof request.gid === 'string') {
      const g = groups().find((e) => e.name === request.gid);
      if (!g) throw this.badRequest(`no group '${request.gid}' in the target's /etc/group`);
      gid = g.gid;
    } else if (request.gid !== undefined) {
      gid = request.gid;
    }
    const extra = (request.groups ?? []).map((g) => {
      if (typeof g === 'number') return g;
      const e = groups().find((x) => x.name === g);
      if (!e) throw this.badRequest(`no group '${g}' in the target's /etc/group`);
      return e.gid;
    });
    if (maps) {
      for (const [what, id, map] of [['uid', uid, maps.uid], ['gid', gid, maps.gid], ...extra.map((g) => ['group', g, maps.gid] as const)] as const) {
        if (!isMapped(map, id)) {
          throw this.badRequest(`${what} ${id} is not mapped in the user namespace of ${ctx.target.description} (${what === 'uid' ? 'uid' : 'gid'}_map: ${describeMap(map)})`);
        }
      }
    }

    ctx.set(COMMAND_IDENTITY, { uid, gid });
    const p = ctx.program;
    if (request.groups) {
      const list = Buffer.alloc(4 * extra.length);
      extra.forEach((g, i) => list.writeUInt32LE(g, 4 * i));
      p.syscall('groups', 'setgroups', [imm(extra.length), bytes(list)], { operation: `setgroups([${extra.join(', ')}])` });
    } else {
      p.syscall('groups', 'setgroups', [imm(0), imm(0)], { operation: 'setgroups(0)', optional: true });
    }
    if (userns) this.switchIds(ctx, 'groups', setupUid, setupGid, 'the user namespace\'s setup ids');
    if (userns || request.uid !== undefined || request.gid !== undefined) {
      if (!userns || uid !== setupUid || gid !== setupGid) this.switchIds(ctx, 'ids', uid, gid, 'the requested ids');
    }

    if (!request.command?.length) {
      const shell = users().find((u) => u.uid === uid)?.shell;
      ctx.set(DEFAULT_COMMAND, [shell || '/bin/sh']);
    }
  }

  private switchIds(ctx: StageContext, phase: 'groups' | 'ids', uid: number, gid: number, why: string): void {
    ctx.program.syscall(phase, 'setresgid', [imm(gid), imm(gid), imm(gid)], { operation: `setresgid(${gid}) to ${why}` });
    ctx.program.syscall(phase, 'setresuid', [imm(uid), imm(uid), imm(uid)], { operation: `setresuid(${uid}) to ${why}` });
  }

  /** The target's id maps and its init's host ids, read before any join and checked against the pidfd. */
  private idMaps(ctx: StageContext): { uid: IdRange[]; gid: IdRange[]; initUid: number | undefined; initGid: number | undefined } {
    const { pid, pidfd } = ctx.target;
    try {
      const uid = parseIdMap(readFileSync(`/proc/${pid}/uid_map`, 'utf8'));
      const gid = parseIdMap(readFileSync(`/proc/${pid}/gid_map`, 'utf8'));
      const status = readFileSync(`/proc/${pid}/status`, 'utf8');
      ctx.libc.pidfdSendSignal(pidfd, 0);
      const hostUid = Number(/^Uid:\s+(\d+)/m.exec(status)?.[1]);
      const hostGid = Number(/^Gid:\s+(\d+)/m.exec(status)?.[1]);
      return { uid, gid, initUid: insideId(uid, hostUid), initGid: insideId(gid, hostGid) };
    } catch (err) {
      throw ctx.error(`reading the id maps of ${ctx.target.description}`, err);
    }
  }

  private badRequest(message: string): AttachError {
    return new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${message}`, { stage: this.id });
  }
}

/** LXC's setup id: 0 when 0 is mapped, else the id the init runs as. */
function setupId(map: readonly IdRange[], init: number | undefined, what: string): number {
  if (isMapped(map, 0)) return 0;
  if (init !== undefined) return init;
  throw new AttachError(ErrorCodes.TARGET, `set-identity: the target's user namespace maps neither ${what} 0 nor the init's ${what} (${describeMap(map)})`, { stage: 'set-identity' });
}
