import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { executorPath } from '@attachkit/core';
import { runCli } from '../helpers/cli.js';

/**
 * Whoever can set root's environment must not run code as root through
 * attachkit (security issue 16, item 6). Run as root, as every suite: the
 * CLI ignores ATTACHKIT_EXECUTOR (core's executorPath; --executor PATH is
 * the explicit choice), and its launcher hides from node's start every
 * variable that makes node or its dynamic loader load code from a path it
 * names (NODE_OPTIONS, OPENSSL_CONF, LD_PRELOAD, ...), which the command
 * still gets, in its place (native/launcher.c, main.ts; docs/startup.md).
 * Each case was seen to fail with that protection removed.
 */

const self = ['--pid', String(process.pid)];
/** The command's environment as it should be: the caller's, in order, then what the attach adds. */
const asCommandSees = (env: Record<string, string>) => [...Object.entries(env).map(([k, v]) => `${k}=${v}`), 'container=lxc'];

describe('security: code that the environment names is not loaded by a privileged attachkit', () => {
  let dir: string;
  let evilExecutor: string;
  let evilLibrary: string;
  /** What evil.so writes: the program that loaded it, a line each. */
  let libraryMarker: string;
  const base = () => ({ PATH: process.env.PATH! });

  before(() => {
    assert.equal(process.geteuid?.(), 0, 'this suite tests what root does');
    dir = mkdtempSync(join(tmpdir(), 'attachkit-security-env-'));
    libraryMarker = join(dir, 'library-loaded-by');
    // An "executor" that only leaves a mark: run, it would run as root in every attach.
    writeFileSync(join(dir, 'evil-executor.c'),
      `#include <fcntl.h>\n#include <unistd.h>\nint main(void) { close(open("${join(dir, 'executor-ran')}", O_WRONLY | O_CREAT, 0600)); return 1; }\n`);
    evilExecutor = join(dir, 'evil-executor');
    execFileSync('cc', ['-static', '-O2', '-o', evilExecutor, join(dir, 'evil-executor.c')]);
    // A library that notes who loaded it (an OpenSSL provider or LD_PRELOAD: its constructor runs either way).
    writeFileSync(join(dir, 'evil.c'), `#include <fcntl.h>
#include <unistd.h>
__attribute__((constructor)) static void loaded(void) {
  char exe[4096];
  ssize_t n = readlink("/proc/self/exe", exe, sizeof(exe) - 1);
  int fd = open("${libraryMarker}", O_WRONLY | O_CREAT | O_APPEND, 0600);
  if (n < 0 || fd < 0) return;
  exe[n] = '\\n';
  write(fd, exe, (size_t)n + 1);
  close(fd);
}
`);
    evilLibrary = join(dir, 'evil.so');
    execFileSync('cc', ['-shared', '-fPIC', '-O2', '-o', evilLibrary, join(dir, 'evil.c')]);
    writeFileSync(join(dir, 'evil.cjs'), `require('node:fs').writeFileSync(${JSON.stringify(join(dir, 'required'))}, 'x');\n`);
    writeFileSync(join(dir, 'evil.mjs'), `import { writeFileSync } from 'node:fs';\nwriteFileSync(${JSON.stringify(join(dir, 'imported'))}, 'x');\n`);
    // Loads evil.so as an OpenSSL provider at node's start (node reads the nodejs_conf section).
    writeFileSync(join(dir, 'openssl.cnf'),
      `nodejs_conf = nodejs_init\n[nodejs_init]\nproviders = providers\n[providers]\nevil = evil\n[evil]\nmodule = ${evilLibrary}\nactivate = 1\n`);
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  // The executor runs as root at every attach, before the command, with the
  // caller's privileges: an environment that names it would own every attach.
  it('should not run the executor ATTACHKIT_EXECUTOR names, and attach with the built one', async () => {
    const log = join(dir, 'executor.log');
    const r = await runCli(['-o', log, '-l', 'WARN', ...self, '--', 'echo', 'attached'], { env: { ...base(), ATTACHKIT_EXECUTOR: evilExecutor } });
    assert.equal(existsSync(join(dir, 'executor-ran')), false, 'the executor ATTACHKIT_EXECUTOR names ran');
    assert.deepEqual({ code: r.code, stdout: r.stdout, stderr: r.stderr }, { code: 0, stdout: 'attached\n', stderr: '' });
    assert.match(readFileSync(log, 'utf8'), /WARN +attach - ATTACHKIT_EXECUTOR is ignored in a privileged process: --executor PATH/);
  });

  it('should ignore ATTACHKIT_EXECUTOR in the library too, in a privileged process', () => {
    const built = executorPath();
    process.env.ATTACHKIT_EXECUTOR = evilExecutor;
    try {
      assert.equal(executorPath(), built);
    } finally {
      delete process.env.ATTACHKIT_EXECUTOR;
    }
  });

  it('should run the executor --executor names: the explicit choice', async () => {
    const copy = join(dir, 'executor-copy');
    copyFileSync(executorPath(), copy); // the built one: ATTACHKIT_EXECUTOR is not set here
    const ok = await runCli(['--executor', copy, ...self, '--', 'echo', 'attached'], { env: base() });
    assert.deepEqual({ code: ok.code, stdout: ok.stdout, stderr: ok.stderr }, { code: 0, stdout: 'attached\n', stderr: '' });
    const evil = await runCli(['--executor', evilExecutor, ...self, '--', 'true'], { env: base() });
    assert.equal(existsSync(join(dir, 'executor-ran')), true, `--executor was not run: ${JSON.stringify(evil)}`);
    assert.notEqual(evil.code, 0);
    rmSync(join(dir, 'executor-ran'));
  });

  // NODE_OPTIONS --require/--import runs a module in node as root before
  // attachkit's first line; the command must still get the variable.
  it('should not load what NODE_OPTIONS requires or imports, and give the command NODE_OPTIONS in its place', async () => {
    for (const [option, marker] of [[`--require ${join(dir, 'evil.cjs')}`, 'required'], [`--import ${join(dir, 'evil.mjs')}`, 'imported']] as const) {
      const env = { ...base(), A: '1', NODE_OPTIONS: option, Z: '2' };
      const r = await runCli([...self, '--', 'env'], { env, cwd: '/' });
      assert.equal(existsSync(join(dir, marker)), false, `NODE_OPTIONS=${option} was loaded`);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), asCommandSees(env));
    }
  });

  it('should not load an OpenSSL provider that OPENSSL_CONF names, nor what LD_PRELOAD names, into node', async () => {
    for (const env of [{ ...base(), OPENSSL_CONF: join(dir, 'openssl.cnf') }, { ...base(), LD_PRELOAD: evilLibrary }]) {
      rmSync(libraryMarker, { force: true });
      const r = await runCli([...self, '--', 'env'], { env, cwd: '/' });
      // The command is the caller's to choose: LD_PRELOAD loads evil.so into `env`, never into node.
      const loaders = existsSync(libraryMarker) ? readFileSync(libraryMarker, 'utf8').trim().split('\n') : [];
      assert.deepEqual(loaders.filter((exe) => exe === process.execPath), [], `${Object.keys(env).at(-1)} was loaded into node`);
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(r.stdout.trim().split('\n'), asCommandSees(env));
    }
  });

  // The launcher renames each one in place with one more ATTACHKIT_, and
  // main() strips it: a caller's own ATTACHKIT_NODE_OPTIONS must come out as it was.
  it("should give the command the caller's environment as it is, names like the launcher's included", async () => {
    const env = {
      ...base(), ATTACHKIT_NODE_OPTIONS: 'theirs', NODE_OPTIONS: '--max-old-space-size=512', NODE_PATH: '/nonexistent',
      ATTACHKIT_ATTACHKIT_NODE_PATH: 'theirs too', NODE_EXTRA_CA_CERTS: '/nonexistent/ca.pem', ATTACHKIT_OPENSSL_CONF_X: 'kept',
      LD_AUDIT: '/nonexistent/audit.so', Z: '2',
    };
    const r = await runCli([...self, '--', 'env'], { env, cwd: '/' });
    assert.equal(r.code, 0, r.stderr);
    assert.deepEqual(r.stdout.trim().split('\n'), asCommandSees(env));
  });
});
