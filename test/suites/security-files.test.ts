import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { lstatSync, readlinkSync } from 'node:fs';
import { after, afterEach, before, describe, it } from 'node:test';
import { realLibc } from '@attachkit/core';
import { CLI, type CliResult } from '../helpers/cli.js';
import { children, pidNamespaceMembers } from '../helpers/process.js';
import { startSandbox, type Sandbox } from '../sandbox/index.js';

/**
 * The files an attach reads from inside the container (its /etc/passwd and
 * /etc/group: -u NAME, -g NAME, --groups NAME, and the default shell) belong
 * to the container, which can make them a FIFO (an open that never returns,
 * deaf to SIGTERM), a link to /dev/zero (memory without bound) or a huge
 * sparse file (seconds and gigabytes). Protection: core's readLinesInRoot —
 * O_PATH and fstat first, a regular file only, opened O_NONBLOCK|O_NOCTTY,
 * a 4 MiB cap checked on the size and on what is read, parsed line by line.
 * Each case was seen to fail (killed after KILL_AFTER_MS, or another error)
 * with that protection removed (readFileSync of an O_RDONLY openInRoot fd).
 */

/** A hung attach is killed then: far above a refusal (well under a second), below a full read of the sparse file. */
const KILL_AFTER_MS = 8000;
const PR_SET_CHILD_SUBREAPER = 36;
const PASSWD = 'root:x:0:0:root:/root:/bin/sh\nsomeuser:x:1234:1234::/:/bin/sh\n';
const GROUP = 'root:x:0:\nsomegroup:x:1234:\n';

/** The CLI, SIGKILLed should it hang. */
function runCliWithin(args: readonly string[]): Promise<CliResult> {
  return new Promise((resolve, reject) => {
    const child = spawn(CLI, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    const timer = setTimeout(() => child.kill('SIGKILL'), KILL_AFTER_MS);
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
  });
}

const nsenter = (pid: number, script: string) => spawnSync('nsenter', ['-t', String(pid), '-m', '--', 'sh', '-c', script], { encoding: 'utf8' });

describe("security: the container's own files (passwd, group) read by the attach", () => {
  let box: Sandbox;
  let ours: number[]; // our children before each case
  let etcMounted = false;
  const passwd = () => `/proc/${box.pid}/root/etc/passwd`;

  before(async () => {
    box = await startSandbox();
    // An executor orphaned by the attach would be reparented to us, and seen.
    realLibc().syscall('prctl', [PR_SET_CHILD_SUBREAPER, 1]);
  });
  after(async () => { await box.stop(); });

  /** The container's /etc, replaced (a tmpfs in its mount namespace only) by what `script` makes there. */
  function containerEtc(script: string): void {
    ours = children().map((c) => c.pid);
    const r = nsenter(box.pid, `mount -t tmpfs attachkit-etc /etc && cd /etc && ${script}`);
    assert.equal(r.status, 0, r.stderr);
    etcMounted = true;
  }

  afterEach(() => {
    if (etcMounted) {
      const r = nsenter(box.pid, 'umount /etc');
      assert.equal(r.status, 0, r.stderr);
      etcMounted = false;
    }
    // Restored: the container sees its own (the host's) /etc/passwd again.
    assert.ok(lstatSync(passwd()).isFile());
    // Nothing of a hung attach outlives the case (it was killed; its executor came to us).
    for (const c of children()) if (!ours.includes(c.pid)) process.kill(c.pid, 'SIGKILL');
  });

  /** The attach failed at once with `line`, and left nothing behind: no process in the container, no executor of its own. */
  function assertRefused(r: CliResult, line: string): void {
    assert.deepEqual({ code: r.code, signal: r.signal, stderr: r.stderr, stdout: r.stdout }, { code: 1, signal: null, stderr: `attachkit: ${line}\n`, stdout: '' });
    assert.deepEqual(pidNamespaceMembers(box.pid), [], 'no process is left in the container');
    const executors = children().filter((c) => !ours.includes(c.pid)).map((c) => `${c.pid} ${c.state} ${exe(c.pid)}`);
    assert.deepEqual(executors, [], 'no executor is left behind');
  }

  it('should read a regular passwd from the replaced /etc (the cases below do reach it)', async () => {
    containerEtc(`printf '${PASSWD}' > passwd && printf '${GROUP}' > group`);
    const r = await runCliWithin(['--pid', String(box.pid), '-u', 'someuser', '-g', 'somegroup', '--groups', 'somegroup', '--', 'sh', '-c', 'id -u; id -g; id -G']);
    assert.equal(r.stdout, '1234\n1234\n1234\n', r.stderr);
  });

  // Opened blocking, a FIFO's open waits for a writer that never comes.
  it('should refuse a FIFO as /etc/passwd at once (-u NAME)', async () => {
    containerEtc('mkfifo passwd');
    assertRefused(await runCliWithin(['--pid', String(box.pid), '-u', 'someuser', '--', 'true']),
      "set-identity: the target's /etc/passwd is not a regular file (a FIFO): refused");
  });

  // Without a command the user's shell is looked up in the passwd: the same read.
  it('should refuse a FIFO as /etc/passwd when looking up the default shell (no command)', async () => {
    containerEtc('mkfifo passwd');
    assertRefused(await runCliWithin(['--pid', String(box.pid)]),
      "set-identity: the target's /etc/passwd is not a regular file (a FIFO): refused");
  });

  // Read whole, /dev/zero never ends: memory grows until the host kills something.
  it('should refuse /etc/passwd linked to /dev/zero', async () => {
    containerEtc('ln -s /dev/zero passwd');
    assertRefused(await runCliWithin(['--pid', String(box.pid), '-u', 'someuser', '--', 'true']),
      "set-identity: the target's /etc/passwd is not a regular file (a character device): refused");
  });

  // Read whole, 600 MiB of holes take seconds and gigabytes; the cap on its size fails it before a byte is read.
  it('should refuse a sparse 600 MiB /etc/passwd on its size, before reading it', async () => {
    containerEtc('truncate -s 600M passwd');
    assertRefused(await runCliWithin(['--pid', String(box.pid), '-u', 'someuser', '--', 'true']),
      "set-identity: the target's /etc/passwd is larger than 4 MiB: refused");
  });

  it('should refuse a FIFO as /etc/group (-g NAME, --groups NAME)', async () => {
    containerEtc(`printf '${PASSWD}' > passwd && mkfifo group`);
    const line = "set-identity: the target's /etc/group is not a regular file (a FIFO): refused";
    assertRefused(await runCliWithin(['--pid', String(box.pid), '-g', 'somegroup', '--', 'true']), line);
    assertRefused(await runCliWithin(['--pid', String(box.pid), '-u', '0', '--groups', 'somegroup', '--', 'true']), line);
  });
});

function exe(pid: number): string {
  try {
    return readlinkSync(`/proc/${pid}/exe`);
  } catch {
    return '?';
  }
}
