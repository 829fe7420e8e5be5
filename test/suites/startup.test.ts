import assert from 'node:assert/strict';
import { spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, renameSync, rmSync, utimesSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CLI, runCli } from '../helpers/cli.js';

const CLI_ROOT = fileURLToPath(new URL('../../../packages/cli/', import.meta.url));
const SNAPSHOT = join(CLI_ROOT, 'dist/snapshot');
const dir = mkdtempSync(join(tmpdir(), 'attachkit-startup-'));
const self = ['--pid', String(process.pid)];

/** How the CLI started, from its log at DEBUG (the output is the same either way); `prefix` runs it under a wrapper (setpriv ...). */
async function startup(args: readonly string[], env?: NodeJS.ProcessEnv, prefix?: readonly string[]): Promise<string> {
  const log = join(dir, 'log');
  rmSync(log, { force: true });
  const end = args.includes('--') ? args.indexOf('--') : args.length;
  const r = await runCli([...args.slice(0, end), '-o', log, '-l', 'DEBUG', ...args.slice(end)], { ...(env ? { env } : {}), ...(prefix ? { prefix } : {}) });
  assert.equal(r.code, 0, r.stderr);
  return /DEBUG +startup - (.*)/.exec(readFileSync(log, 'utf8'))?.[1] ?? '';
}

/** Change a file for the duration of `body`, then put it back as it was, to the nanosecond of its mtime (cp -p). */
async function whileChanged(path: string, change: () => void, body: () => Promise<void>): Promise<void> {
  const saved = join(dir, 'saved');
  assert.equal(spawnSync('cp', ['-p', path, saved]).status, 0);
  try {
    change();
    await body();
  } finally {
    assert.equal(spawnSync('cp', ['-p', saved, path]).status, 0);
  }
}

describe('start-up: the launcher and the V8 start-up snapshot (docs/startup.md)', () => {
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('should start an attach from the start-up snapshot', async () => {
    assert.equal(await startup([...self, '--', 'true']), 'from the start-up snapshot');
  });

  it("should give the command the caller's environment as it is, as from the modules", async () => {
    const env = { PATH: process.env.PATH!, FOO: 'bar baz' };
    const fromSnapshot = await runCli([...self, '--', 'env'], { env, cwd: '/' });
    const fromModules = spawnSync(process.execPath, [join(CLI_ROOT, 'bin/run.js'), ...self, '--', 'env'], { env, cwd: '/', encoding: 'utf8' });
    assert.equal(fromSnapshot.code, 0, fromSnapshot.stderr);
    assert.equal(fromSnapshot.stdout, fromModules.stdout);
    assert.deepEqual(fromSnapshot.stdout.trim().split('\n').sort(), [`PATH=${env.PATH}`, 'FOO=bar baz', 'container=lxc'].sort());
  });

  // The launcher hides NODE_EXTRA_CA_CERTS from node's start (node parses
  // the file at every start) and the CLI gives it back, in its place.
  it('should give the command NODE_EXTRA_CA_CERTS where the caller had it, and nothing of how node was spared it', async () => {
    const env = { PATH: process.env.PATH!, A: '1', NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem', Z: '2' };
    const r = await runCli([...self, '--', 'env'], { env, cwd: '/' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'),
      [`PATH=${env.PATH}`, 'A=1', 'NODE_EXTRA_CA_CERTS=/nonexistent/ca.pem', 'Z=2', 'container=lxc']);
    // Node warns at its start when it cannot read the file: it never saw it.
    assert.equal(r.stderr, '');
  });

  it('should end quietly with status 0 when its stdout is closed (`| head`), from the snapshot and from the modules', async () => {
    for (const argv of [[CLI, 'stages'], [process.execPath, join(CLI_ROOT, 'bin/run.js'), 'stages']]) {
      const child = spawn(argv[0]!, argv.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      child.stdout.destroy();
      let stderr = '';
      child.stderr.on('data', (d) => { stderr += d; });
      const code = await new Promise((resolve) => child.on('close', resolve));
      assert.deepEqual({ code, stderr }, { code: 0, stderr: '' }, argv.join(' '));
    }
  });

  it('should start help from the modules: its width and colours follow the terminal', async () => {
    assert.equal(await startup(['stages', '--help']), 'from the modules: help');
  });

  // NODE_OPTIONS reaches node (and makes it refuse the snapshot) only when
  // the caller is unprivileged: root's node never sees it (security-env.test.ts).
  it('should start from the modules with a debug switch set, or NODE_OPTIONS set by an unprivileged caller', async () => {
    const nodeOptions = { ...process.env, NODE_OPTIONS: '--max-old-space-size=512' };
    assert.equal(await startup(['stages'], { ...process.env, DEBUG: 'attachkit:none' }), 'from the modules: DEBUG is set');
    assert.equal(await startup(['stages'], nodeOptions), 'from the start-up snapshot');
    chmodSync(dir, 0o777); // the log, and oclif's data directory (HOME)
    try {
      assert.equal(await startup(['stages'], { ...nodeOptions, HOME: dir }, ['setpriv', '--reuid=65534', '--regid=65534', '--clear-groups']), 'from the modules');
    } finally {
      chmodSync(dir, 0o700);
    }
  });

  // oclif asks node for the home directory and the login shell, which throw
  // ENOENT for a uid with no passwd entry when HOME or SHELL is unset.
  it('should attach for a caller whose uid has no passwd entry, with no HOME and no SHELL, from the snapshot and from the modules', async () => {
    const asUser = ['setpriv', '--reuid=64125', '--regid=64125', '--clear-groups'];
    const sleeper = spawn(asUser[0]!, [...asUser.slice(1), 'sleep', '100'], { stdio: 'ignore' });
    try {
      await new Promise((resolve) => sleeper.on('spawn', resolve));
      const env = { PATH: process.env.PATH! };
      for (const argv of [[CLI], [process.execPath, join(CLI_ROOT, 'bin/run.js')]]) {
        const r = spawnSync(asUser[0]!, [...asUser.slice(1), ...argv, '--pid', String(sleeper.pid), '--', 'id', '-u'], { env, cwd: '/', encoding: 'utf8' });
        assert.deepEqual({ status: r.status, stdout: r.stdout, stderr: r.stderr }, { status: 0, stdout: '64125\n', stderr: '' }, argv.join(' '));
      }
    } finally {
      sleeper.kill('SIGKILL');
    }
  });

  it('should start from the modules when a file the snapshot was built from has changed', async () => {
    const file = join(CLI_ROOT, 'dist/src/one-line.js');
    const expected = spawnSync(process.execPath, [join(CLI_ROOT, 'bin/run.js'), 'stages'], { encoding: 'utf8' }).stdout;
    await whileChanged(file, () => utimesSync(file, new Date(), new Date(Date.now() + 60_000)), async () => {
      assert.equal(await startup(['stages']), `from the modules: ${file} changed since the snapshot was built`);
      assert.equal((await runCli(['stages'])).stdout, expected);
    });
  });

  it('should start from the modules when the node that built the snapshot has changed, or there is no snapshot', async () => {
    const record = join(SNAPSHOT, 'node');
    await whileChanged(record, () => writeFileSync(record, readFileSync(record, 'utf8').replace(/\n(\d+) (\d+)/, '\n$1 1$2')), async () => {
      assert.equal(await startup([...self, '--', 'true']), 'from the modules');
    });
    const blob = join(SNAPSHOT, 'attachkit.blob');
    renameSync(blob, `${blob}.away`);
    try {
      assert.equal(await startup([...self, '--', 'true']), 'from the modules');
    } finally {
      renameSync(`${blob}.away`, blob);
    }
  });
});
