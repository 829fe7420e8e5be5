import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, realpathSync, rmSync, symlinkSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { runCli, runProgram as run } from '../helpers/cli.js';
import { ensureContainer, type ContainerSpec } from '../lxc/containers.js';

/**
 * The packages as a third party gets them: every published package packed
 * (`pnpm pack`: workspace:* becomes the version), the tarballs installed with
 * npm into a fresh project on a PATH with no C compiler, a TypeScript
 * program (test/consumer/main.ts) type-checked with tsc (nodenext, strict)
 * and run against a real LXC container, and the installed CLI run.
 * Nothing is kept between runs but npm's cache of registry packages.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CONSUMER = join(ROOT, 'test', 'consumer');
const CONTAINER: ContainerSpec = {
  name: 'attachkit-consumer',
  conf: ['lxc.include = /usr/share/lxc/config/common.conf', 'lxc.no_new_privs = 1'],
};
/**
 * What must not be on the consumer's PATH: no install may build anything.
 * (npm puts its own node-gyp shim there; node-gyp builds nothing without these.)
 */
const COMPILERS = ['cc', 'c++', 'gcc', 'g++', 'clang', 'musl-gcc', 'aarch64-linux-gnu-gcc', 'x86_64-linux-gnu-gcc', 'make', 'python', 'python3'];
/** ELF e_machine of each architecture the native packages ship prebuilt. */
const MACHINES: Record<string, number> = { x64: 62, arm64: 183 };

function which(name: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, name))) return realpathSync(join(dir, name));
  }
  throw new Error(`${name} is not on PATH`);
}

function elfMachine(path: string): number | undefined {
  if (!existsSync(path)) return undefined;
  const header = readFileSync(path).subarray(0, 20);
  return header.readUInt32BE(0) === 0x7f454c46 ? header.readUInt16LE(18) : undefined;
}

describe('the packed packages in a fresh project', { timeout: 600_000 }, () => {
  let work: string;
  let project: string;
  let env: NodeJS.ProcessEnv;
  const tarballs: string[] = [];

  before(() => {
    ensureContainer(CONTAINER);
    work = mkdtempSync(join(tmpdir(), 'attachkit-consumer-'));
    project = join(work, 'project');
    mkdirSync(project);
    // A PATH of node, npm, npx and sh alone: the install scripts must use the shipped binaries.
    const bin = join(work, 'bin');
    mkdirSync(bin);
    symlinkSync(process.execPath, join(bin, 'node'));
    for (const tool of ['npm', 'npx', 'sh']) symlinkSync(which(tool), join(bin, tool));
    env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !/^(npm_|pnpm_|CC$|CXX$|NODE_OPTIONS$)/i.test(k)));
    env.PATH = bin;
  });
  after(async () => {
    await new Promise<void>((resolve) => { execFile('lxc-stop', ['-n', CONTAINER.name, '-k'], () => resolve()); });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('should pack every published package with its LICENSE, README and prebuilt x64 and arm64 binaries', async () => {
    const packs = join(work, 'packs');
    const problems: string[] = [];
    // Every package packed first, so that the next steps have them all; then what is wrong with any.
    for (const dir of readdirSync(join(ROOT, 'packages')).sort()) {
      const pkg = JSON.parse(readFileSync(join(ROOT, 'packages', dir, 'package.json'), 'utf8')) as { name: string; version: string; private?: boolean };
      if (pkg.private) continue;
      const r = await run('pnpm', ['pack', '--pack-destination', packs], { cwd: join(ROOT, 'packages', dir), env: process.env });
      assert.equal(r.code, 0, `pnpm pack ${pkg.name}: ${r.stderr}${r.stdout}`);
      const tarball = join(packs, `${pkg.name.slice(1).replace('/', '-')}-${pkg.version}.tgz`);
      tarballs.push(tarball);
      const out = join(work, 'unpacked', dir);
      mkdirSync(out, { recursive: true });
      assert.equal((await run('tar', ['xzf', tarball, '-C', out], { cwd: work, env: process.env })).code, 0, tarball);
      const root = join(out, 'package');
      for (const file of ['LICENSE', 'README.md']) if (!existsSync(join(root, file))) problems.push(`${pkg.name} lacks ${file}`);
      // Every source map points at a shipped file.
      const maps = (readdirSync(root, { recursive: true }) as string[]).filter((f) => f.endsWith('.map'));
      if (maps.length === 0) problems.push(`${pkg.name} ships no source map (not built?)`);
      for (const map of maps) {
        for (const source of (JSON.parse(readFileSync(join(root, map), 'utf8')) as { sources: string[] }).sources) {
          if (!existsSync(join(root, map, '..', source))) problems.push(`${pkg.name}: ${map} points at ${source}, which is not shipped`);
        }
      }
    }
    for (const [dir, binary] of [['core', 'attachkit-executor'], ['cli', 'attachkit']] as const) {
      for (const [arch, machine] of Object.entries(MACHINES)) {
        const file = join(work, 'unpacked', dir, 'package', 'build', 'prebuilt', `linux-${arch}`, binary);
        if (elfMachine(file) !== machine) problems.push(`${file}: not a linux-${arch} program`);
      }
    }
    assert.deepEqual(problems, []);
  });

  it('should install the tarballs with npm on a PATH with no C compiler', async () => {
    writeFileSync(join(project, 'package.json'), `${JSON.stringify({
      name: 'attachkit-consumer', private: true, type: 'module',
      scripts: { path: 'node -p process.env.PATH' },
      // npm 11 runs a dependency's install script only when allowed: ours pick the shipped binaries and build the snapshot.
      allowScripts: { '@attachkit/core': true, '@attachkit/cli': true, koffi: false, esbuild: false },
    }, null, 2)}\n`);
    // The PATH npm gives scripts: ours, plus node_modules/.bin directories; no compiler in any.
    const path = await run('npm', ['run', '--silent', 'path'], { cwd: project, env });
    assert.equal(path.code, 0, path.stderr);
    for (const dir of path.stdout.trim().split(delimiter)) {
      for (const tool of COMPILERS) assert.ok(!existsSync(join(dir, tool)), `${join(dir, tool)} is on the install's PATH`);
    }
    const r = await run('npm', ['install', '--engine-strict', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs, 'typescript@5.9.3', '@types/node@^20.19.0'], { cwd: project, env });
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
    assert.doesNotMatch(r.stderr, /EBADENGINE|gyp|attachkit: (building|no start-up snapshot)/, r.stderr);
    const modules = join(project, 'node_modules', '@attachkit');
    const arch = `linux-${process.arch}`;
    assert.deepEqual(readFileSync(join(modules, 'core', 'build', 'attachkit-executor')), readFileSync(join(modules, 'core', 'build', 'prebuilt', arch, 'attachkit-executor')));
    assert.deepEqual(readFileSync(join(modules, 'cli', 'build', 'attachkit')), readFileSync(join(modules, 'cli', 'build', 'prebuilt', arch, 'attachkit')));
    assert.ok(existsSync(join(modules, 'cli', 'dist', 'snapshot', 'attachkit.blob')), 'the install built no start-up snapshot');
  });

  it('should type-check the consumer program with tsc (nodenext, strict)', async () => {
    for (const file of ['main.ts', 'tsconfig.json']) copyFileSync(join(CONSUMER, file), join(project, file));
    const r = await run('npx', ['--no', '--', 'tsc', '-p', 'tsconfig.json'], { cwd: project, env });
    assert.equal(r.code, 0, `${r.stdout}${r.stderr}`);
  });

  it('should attach with the preset, a third-party stage and syscall, Buffers, an AbortSignal, a tty and an error code', async () => {
    const r = await run('node', ['dist/main.js', CONTAINER.name], { cwd: project, env });
    assert.equal(r.code, 0, r.stderr);
    const report = JSON.parse(r.stdout) as {
      order: { stage: number; buildEnv: number; exec: number };
      status: { exitCode: number; isBuffer: boolean; text: string; stderr: string };
      planned: number;
      binary: { exitCode: number; length: number; same: boolean };
      aborted: string;
      timeout: { exitCode: number; signal: string };
      missing: { code?: string; stage?: string };
      tty: { sizes: string[]; exit: { exitCode: number } };
    };
    assert.ok(report.order.buildEnv < report.order.stage && report.order.stage < report.order.exec, JSON.stringify(report.order));
    assert.equal(report.status.exitCode, 0, report.status.stderr);
    assert.equal(report.status.isBuffer, true);
    assert.match(report.status.text, /^NoNewPrivs:\t1$/m);
    assert.match(report.status.text, /^Seccomp:\t2$/m);
    assert.match(report.status.text, /^7$/m, 'the third-party stage set niceness 7 with setpriority');
    assert.equal(report.planned, 1);
    assert.deepEqual(report.binary, { exitCode: 0, length: 4096, same: true });
    assert.equal(report.aborted, 'AK_ABORTED');
    assert.deepEqual(report.timeout, { exitCode: 137, signal: 'SIGKILL' });
    assert.equal(report.missing.code, 'AK_TARGET');
    assert.equal(report.missing.stage, 'resolve-target');
    assert.deepEqual(report.tty.sizes, ['30 100', '40 120']);
    assert.equal(report.tty.exit.exitCode, 0);
    // The same confinement as the repository's CLI.
    const cli = await runCli(['-n', CONTAINER.name, '--', 'grep', '-E', '^(CapBnd|NoNewPrivs|Seccomp):', '/proc/self/status']);
    assert.equal(cli.code, 0, cli.stderr);
    assert.equal(report.status.text.split('\n').slice(0, 3).join('\n'), cli.stdout.trim());
  });

  it('should run the installed CLI from its start-up snapshot, with its own completion', async () => {
    const log = join(work, 'attach.log');
    const r = await run('npx', ['--no', '--', 'attachkit', '-n', CONTAINER.name, '--clear-env', '-o', log, '-l', 'DEBUG', '--', 'cat', '/proc/self/status'], { cwd: project, env });
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^NoNewPrivs:\t1$/m);
    assert.match(r.stdout, /^Seccomp:\t2$/m);
    assert.match(readFileSync(log, 'utf8'), /startup - from the start-up snapshot/);
    const status = await run('npx', ['--no', '--', 'attachkit', '-n', CONTAINER.name, '--clear-env', '--', 'sh', '-c', 'exit 3'], { cwd: project, env });
    assert.equal(status.code, 3, status.stderr);
    const completion = await run('npx', ['--no', '--', 'attachkit', 'autocomplete', 'bash'], { cwd: project, env });
    assert.equal(completion.code, 0, completion.stderr);
    assert.match(completion.stdout, /--pid/);
  });
});
