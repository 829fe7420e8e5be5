import assert from 'node:assert/strict';
import { execFile, spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { defaultPipeline } from '@attachkit/cli';
import '@attachkit/lxc-plugin'; // its target kind: { name }
import type { AttachedProcess } from '@attachkit/core';
import { CLI } from '../helpers/cli.js';
import { beyond, parseRacer } from '../helpers/racer.js';
import { DEFAULT_LXCPATH, ensureContainer, type ContainerSpec } from '../lxc/containers.js';

/**
 * --exec-host against root inside a privileged container that keeps
 * CAP_SYS_PTRACE (test/security/racer.c, as security-race.test.ts runs it):
 * it stops each new process of the container the moment it appears and
 * takes every fd it holds (pidfd_getfd). Before its exec, the attached
 * process of an --exec-host attach holds what any attach's holds, and the
 * sealed copy of the host program: nothing that leads to a host file, and no
 * directory but its own root and working directory inside.
 */

const RACER_C = fileURLToPath(new URL('../../security/racer.c', import.meta.url));
const PROBE_C = fileURLToPath(new URL('../../security/host-probe.c', import.meta.url));
const SEC: ContainerSpec = { name: 'attachkit-exechost-sec' };
const ROOTFS = `${DEFAULT_LXCPATH}/${SEC.name}/rootfs`;
/** What any attach hands over (security-race.test.ts), and the sealed copy of the host program. */
const ALLOWED = /^(\/dev\/null|pipe:\[\d+\]|\/memfd:attachkit-zeros \(deleted\)|\/dev\/pts\/\d+|\/memfd:host-probe \(deleted\))$/;

async function until(ok: () => boolean, ms = 10_000): Promise<void> {
  for (const end = Date.now() + ms; !ok(); await new Promise((r) => setTimeout(r, 20))) {
    if (Date.now() > end) throw new Error(`not within ${ms} ms`);
  }
}

function cli(args: readonly string[]): Promise<{ code: number | null; stderr: string }> {
  const child: ChildProcess = spawn(CLI, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (d) => { stderr += d; });
  return new Promise((resolve) => child.on('close', (code) => resolve({ code, stderr })));
}

describe('security: --exec-host against a ptrace-capable root inside racing the attach', () => {
  let scratch: string;
  let victim: ChildProcess;
  before(() => {
    ensureContainer(SEC);
    scratch = mkdtempSync(join(tmpdir(), 'attachkit-exechost-race-'));
    for (const [src, out, flags] of [[RACER_C, `${ROOTFS}/racer`, ['-static']], [PROBE_C, join(scratch, 'host-probe'), ['-static']]] as const) {
      const r = spawnSync('cc', [...flags, '-O2', '-Wall', '-Werror', '-o', out, src], { encoding: 'utf8' });
      assert.equal(r.status, 0, r.stderr);
    }
    victim = spawn('sleep', ['600'], { stdio: 'ignore' });
  });
  after(async () => {
    victim.kill('SIGKILL');
    rmSync(scratch, { recursive: true, force: true });
    await new Promise<void>((resolve) => { execFile('lxc-stop', ['-n', SEC.name, '-k'], () => resolve()); });
  });

  it('should let it take nothing of the host but the sealed copy, over 60 attaches', async () => {
    const racer: AttachedProcess = await defaultPipeline().spawn({
      target: { name: SEC.name }, command: ['/racer', '60', String(victim.pid), 'steal'], stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    racer.stdout!.setEncoding('utf8').on('data', (d: string) => { out += d; });
    racer.stderr!.resume();
    const outcomes: string[] = [];
    try {
      await until(() => out.includes('ready'));
      for (let i = 0; i < 60; i++) {
        const r = await cli(['-n', SEC.name, '--exec-host', '--', join(scratch, 'host-probe')]);
        // The racer may make an attach fail (forged reports): with one line, as any attach.
        const ours = r.stderr.split('\n').filter((l) => l.includes('attachkit:'));
        outcomes.push(r.code === 0 && ours.length === 0 ? 'ok' : r.code === 1 && ours.length === 1 ? 'failed with one line' : `${r.code}: ${r.stderr}`);
      }
    } finally {
      racer.kill('SIGKILL');
      await racer.exited;
    }
    // What the probe opens once it runs is its own: only what was taken before the exec counts.
    const seen = parseRacer(out);
    const stolen = seen.stolen.filter((s) => seen.beforeExec.has(s.pid));
    assert.ok(seen.beforeExec.size >= 5, `the racer caught ${seen.beforeExec.size} attached processes before their exec: too few to prove anything`);
    assert.deepEqual(outcomes.filter((o) => o !== 'ok' && o !== 'failed with one line'), []);
    assert.ok(stolen.some((s) => s.what === '/memfd:host-probe (deleted)'), 'it saw the sealed copy');
    assert.deepEqual(beyond(stolen, ALLOWED, statSync(ROOTFS).ino), [], 'only what the command needs crosses, and no directory of the host');
    assert.equal(victim.exitCode, null, 'the victim lives');
  });
});
