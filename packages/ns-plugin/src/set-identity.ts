import { readFileSync } from 'node:fs';
import {
  AttachError, bytes, COMMAND_IDENTITY, CONTAINER_MODEL, DEFAULT_COMMAND, describeMap, ErrorCodes, imm, insideId, isMapped, optional, parseIdMap,
  type ContainerUser, type IdRange, type ModelFailure, type Stage, type StageContext,
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
 * A container model's user (an OCI process spec's, as `runc exec` applies
 * it) is the identity when the request names none of -u, -g, --groups:
 * setgroups(additionalGids) (setgroups(0), EPERM tolerated, when empty),
 * then setresgid, setresuid, each id checked against the id maps as -u's
 * is. Any of those flags replaces the model's user as a whole, and the
 * request's identity is built as without a model (where runc exec -u keeps
 * the spec's gid and -g adds to additionalGids).
 *
 * HOME: a model whose environment replaces the caller's gets runc's rule —
 * when the environment has no HOME (or an empty one), the home of the user
 * the command runs as, from the container's /etc/passwd, `/` without an
 * entry. It is done here, not in build-env: this stage knows the user and
 * reads the container's files, build-env (core) reads none; so it plans
 * after build-env and adds HOME to the environment build-env made.
 *
 * Needs: join-namespaces (which namespaces were joined), the container
 * model (resolve-target), the environment (build-env). Guarantees: ops in
 * the `groups` and `ids` phases; DEFAULT_COMMAND when no command was given;
 * HOME in ctx.env for a model whose environment replaces the caller's.
 */
export class SetIdentity implements Stage {
  readonly id = 'set-identity';
  readonly description = 'uid, gid and groups inside the target, and its default shell';
  // After build-env, whose environment it completes with HOME (see above).
  readonly after = ['resolve-target', 'join-namespaces', optional('build-env')];
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

    const model = ctx.get(CONTAINER_MODEL);
    const named = request.uid !== undefined || request.gid !== undefined || request.groups !== undefined;
    const container = named ? undefined : this.modelUser(ctx);

    let user: PasswdEntry | undefined;
    let uid = container?.uid ?? setupUid;
    if (typeof request.uid === 'string') {
      user = users().find((u) => u.name === request.uid);
      if (!user) throw this.badRequest(`no user '${request.uid}' in the target's /etc/passwd`);
      uid = user.uid;
    } else if (request.uid !== undefined) {
      uid = request.uid;
    }
    let gid = user?.gid ?? container?.gid ?? setupGid;
    if (typeof request.gid === 'string') {
      const g = groups().find((e) => e.name === request.gid);
      if (!g) throw this.badRequest(`no group '${request.gid}' in the target's /etc/group`);
      gid = g.gid;
    } else if (request.gid !== undefined) {
      gid = request.gid;
    }
    const extra = container ? [...container.additionalGids] : (request.groups ?? []).map((g) => {
      if (typeof g === 'number') return g;
      const e = groups().find((x) => x.name === g);
      if (!e) throw this.badRequest(`no group '${g}' in the target's /etc/group`);
      return e.gid;
    });
    if (maps) {
      const from = container ? ` (${model!.runtime}'s user)` : '';
      for (const [what, id, map] of [['uid', uid, maps.uid], ['gid', gid, maps.gid], ...extra.map((g) => ['group', g, maps.gid] as const)] as const) {
        if (!isMapped(map, id)) {
          throw this.badRequest(`${what} ${id}${from} is not mapped in the user namespace of ${ctx.target.description} (${what === 'uid' ? 'uid' : 'gid'}_map: ${describeMap(map)})`);
        }
      }
    }

    ctx.set(COMMAND_IDENTITY, { uid, gid });
    const p = ctx.program;
    if (request.groups || extra.length) {
      const list = Buffer.alloc(4 * extra.length);
      extra.forEach((g, i) => list.writeUInt32LE(g, 4 * i));
      p.syscall('groups', 'setgroups', [imm(extra.length), bytes(list)], { operation: `setgroups([${extra.join(', ')}])` });
    } else {
      p.syscall('groups', 'setgroups', [imm(0), imm(0)], { operation: 'setgroups(0)', optional: true });
    }
    if (userns) this.switchIds(ctx, 'groups', setupUid, setupGid, 'the user namespace\'s setup ids');
    if (userns || request.uid !== undefined || request.gid !== undefined || container) {
      const why = container ? `${model!.runtime}'s user` : 'the requested ids';
      if (!userns || uid !== setupUid || gid !== setupGid) this.switchIds(ctx, 'ids', uid, gid, why);
    }

    if (!request.command?.length) {
      const shell = users().find((u) => u.uid === uid)?.shell;
      ctx.set(DEFAULT_COMMAND, [shell || '/bin/sh']);
    }
    if (model?.environmentReplaces && model.environment && !ctx.env.get('HOME')) {
      // runc (setupUser): the passwd entry of the uid, else its default user's home, /.
      ctx.env.set('HOME', users().find((u) => u.uid === uid)?.home ?? '/');
    }
  }

  /**
   * The model's user, its ids checked. A failure is one AttachError naming
   * this stage, as core's stages report the model's (model-member.ts): a
   * failed operation with its errno, else a bad request with the message.
   */
  private modelUser(ctx: StageContext): ContainerUser | undefined {
    const model = ctx.get(CONTAINER_MODEL);
    if (!model?.user) return undefined;
    let user: ContainerUser | undefined;
    try {
      user = model.user();
    } catch (err) {
      if (err instanceof AttachError) throw err;
      const failure = err as ModelFailure;
      if (failure instanceof Error && failure.operation) throw ctx.error(failure.operation, failure.cause ?? failure);
      throw this.badRequest(err instanceof Error ? err.message : String(err), err);
    }
    if (!user) return undefined;
    const ids = [['uid', user.uid], ['gid', user.gid], ...user.additionalGids.map((g) => ['group', g] as const)] as const;
    for (const [what, id] of ids) {
      // (uid_t)-1 means "unchanged" to setresuid: never an id to run as.
      if (!Number.isInteger(id) || id < 0 || id > 0xfffffffe) throw this.badRequest(`the user's ${what} ${String(id)} is not a valid id (from ${model.runtime})`);
    }
    return user;
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

  private badRequest(message: string, cause?: unknown): AttachError {
    return new AttachError(ErrorCodes.BAD_REQUEST, `${this.id}: ${message}`, { stage: this.id, ...(cause === undefined ? {} : { cause }) });
  }
}

/** LXC's setup id: 0 when 0 is mapped, else the id the init runs as. */
function setupId(map: readonly IdRange[], init: number | undefined, what: string): number {
  if (isMapped(map, 0)) return 0;
  if (init !== undefined) return init;
  throw new AttachError(ErrorCodes.TARGET, `set-identity: the target's user namespace maps neither ${what} 0 nor the init's ${what} (${describeMap(map)})`, { stage: 'set-identity' });
}
