import assert from 'node:assert/strict';
import { execFile, spawnSync } from 'node:child_process';
import { existsSync, mkdtempSync, readdirSync, readFileSync, readlinkSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { compileSamples, OPTIONS, type SampleUnit } from '../docs/compile.js';
import { extractAll, extractSamples, type DocSample } from '../docs/extract.js';
import { RUNS, type SampleRun } from '../docs/runs.js';
import { CLASSIFIED } from '../docs/samples.js';
import { runProgram } from '../helpers/cli.js';
import { ensureContainer, initPid, type ContainerSpec } from '../lxc/containers.js';

/**
 * "README and docs samples all run" (#13): every ```ts block of README.md
 * and docs/*.md is type-checked with the settings docs/writing-a-stage.md
 * gives (strict, nodenext, experimentalDecorators) against the workspace
 * packages, a fragment with the small prelude docs/samples.ts keeps for it;
 * and the whole programs among them (docs/runs.ts) are compiled, run with
 * node against a real LXC container and held to what their text says.
 */
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CONTAINER: ContainerSpec = { name: 'attachkit-docs' };

const key = (s: { file: string; first: string }) => `${s.file}: ${s.first}`;
const slug = (s: DocSample) => `${s.file.replace(/\W+/g, '-')}-${s.line}`;
const lineCount = (text: string) => text.split('\n').length;

function unit(name: string, sample: DocSample, code: string, before: string, after = ''): SampleUnit {
  return {
    name,
    text: `${before}\n${code}\n${after}\nexport {};\n`,
    origin: { file: sample.file, line: sample.line, at: lineCount(before) },
    lines: lineCount(code),
  };
}

function substitute(run: SampleRun, code: string): string {
  let out = code;
  for (const [from, to] of run.substitute) {
    assert.ok(out.includes(from), `${run.file} (${run.name}): the sample no longer contains ${JSON.stringify(from)}; update docs/runs.ts`);
    out = out.replaceAll(from, to);
  }
  return out;
}

/** The pids in the pid namespace of `init` (the container's processes). */
function containerPids(init: number): Set<number> {
  const ns = readlinkSync(`/proc/${init}/ns/pid`);
  const pids = new Set<number>();
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      if (readlinkSync(`/proc/${entry}/ns/pid`) === ns) pids.add(Number(entry));
    } catch {
      // gone meanwhile
    }
  }
  return pids;
}

function result<T>(stdout: string): T {
  const line = stdout.split('\n').find((l) => l.startsWith('DOCS-RESULT '));
  assert.ok(line, `no DOCS-RESULT line in ${JSON.stringify(stdout)}`);
  return JSON.parse(line.slice('DOCS-RESULT '.length)) as T;
}

describe('the README and docs samples', { timeout: 120_000 }, () => {
  const samples = extractAll(ROOT);
  const found = (c: { file: string; first: string }) => samples.filter((s) => key(s) === key(c));
  let work: string;
  let diagnostics: string[] = [];
  let init: number;
  let existing: Set<number>;

  before(() => {
    ensureContainer(CONTAINER);
    init = initPid(CONTAINER);
    existing = containerPids(init);
    // Under test/dist: @attachkit/* resolve from test/node_modules, as from a consumer's node_modules.
    work = mkdtempSync(join(ROOT, 'test', 'dist', 'docs-samples-'));
    const units: SampleUnit[] = [];
    for (const sample of samples) {
      const how = CLASSIFIED.find((c) => key(c) === key(sample))?.how;
      if (how?.kind === 'module') units.push(unit(slug(sample), sample, sample.code, ''));
      if (how?.kind === 'fragment') units.push(unit(slug(sample), sample, sample.code, how.before, how.after));
    }
    for (const run of RUNS) {
      const [sample] = found(run);
      if (sample) units.push(unit(run.name, sample, substitute(run, sample.code), run.before, run.after));
    }
    diagnostics = compileSamples(work, units, RUNS.filter((r) => found(r).length === 1).map((r) => r.name));
  });
  after(async () => {
    await new Promise<void>((resolve) => { execFile('lxc-stop', ['-n', CONTAINER.name, '-k'], () => resolve()); });
    if (work) rmSync(work, { recursive: true, force: true });
  });

  it('should find the samples in README.md and docs/*.md', () => {
    assert.ok(samples.length >= 15, `only ${samples.length} samples found`);
    assert.ok(samples.some((s) => s.file === 'README.md'));
  });

  it('should classify every sample exactly once, and keep no entry for a sample that is gone', () => {
    const problems: string[] = [];
    for (const s of samples) {
      const n = CLASSIFIED.filter((c) => key(c) === key(s)).length;
      if (n === 0) problems.push(`${s.file}:${s.line}: a TypeScript sample not classified in test/docs/samples.ts (first line: ${s.first})`);
      if (samples.filter((o) => key(o) === key(s)).length > 1) problems.push(`${s.file}:${s.line}: two samples of ${s.file} begin with ${s.first}: make their first lines differ`);
      if (n > 1) problems.push(`${s.file}:${s.line}: classified ${n} times`);
    }
    for (const c of CLASSIFIED) if (found(c).length === 0) problems.push(`test/docs/samples.ts: no sample of ${c.file} begins with ${c.first}`);
    for (const r of RUNS) if (found(r).length !== 1) problems.push(`test/docs/runs.ts (${r.name}): no single sample of ${r.file} begins with ${r.first}`);
    assert.deepEqual(problems, []);
  });

  it('should give a reason for every sample that is not type-checked', () => {
    for (const c of CLASSIFIED) if (c.how.kind === 'unchecked') assert.ok(c.how.reason.trim().length > 10, `${key(c)}: no reason given`);
  });

  it('should type-check every sample (strict, nodenext, experimentalDecorators) against the workspace packages', () => {
    assert.deepEqual(diagnostics, []);
  });

  it("should check with the compiler settings writing-a-stage.md gives stage authors", () => {
    const blocks = extractSamples(ROOT, 'docs/writing-a-stage.md', new Set(['json'])).filter((b) => b.code.includes('compilerOptions'));
    assert.equal(blocks.length, 1);
    const documented = (JSON.parse(blocks[0]!.code) as { compilerOptions: Record<string, unknown> }).compilerOptions;
    assert.deepEqual({ ...OPTIONS, ...documented }, OPTIONS);
    assert.equal(OPTIONS.strict, true);
    assert.equal(OPTIONS.module, 'NodeNext');
  });

  it('should report a sample that does not compile at its Markdown line, each sample checked alone', () => {
    // A target kind whose plugin the sample does not import: another program's import of it must not hide the error.
    const sample: DocSample = { file: 'docs/example.md', line: 10, first: '', code: "await createPipeline({ plugins: [] }).attach({ target: { oci: 'web' }, command: ['id'] });" };
    const dir = join(work, 'negative');
    const reported = compileSamples(dir, [
      unit('imports-oci', sample, "import '@attachkit/oci-plugin';", ''),
      unit('lacks-oci', sample, sample.code, "import { createPipeline } from '@attachkit/core';\nimport '@attachkit/lxc-plugin';"),
    ], []);
    assert.equal(reported.length, 1, reported.join('\n'));
    assert.match(reported[0]!, /^docs\/example\.md:11:\d+: TS2353: .*'oci' does not exist/);
  });

  it('should find every fenced TypeScript block, however it is fenced or indented', () => {
    const dir = mkdtempSync(join(work, 'md-'));
    writeFileSync(join(dir, 'x.md'), [
      'text', '```ts', 'const a = 1;', '```', '- item', '', '  ```typescript', '  const b = 2;', '  ```',
      '~~~~tsx', '```ts', 'not a fence', '~~~~', '```sh', 'echo', '```', '```', 'plain', '```', '',
    ].join('\n'));
    assert.deepEqual(extractSamples(dir, 'x.md').map((s) => [s.line, s.code]), [[2, 'const a = 1;'], [7, 'const b = 2;'], [10, '```ts\nnot a fence']]);
  });

  describe('run against a real LXC container', () => {
    async function runSample(name: string, env: Record<string, string> = {}) {
      const js = join(work, 'out', `${name}.js`);
      assert.ok(existsSync(js), `${name} was not compiled (see the type-check)`);
      return runProgram(process.execPath, [js], {
        cwd: work,
        env: { ...process.env, DOCS_CONTAINER: CONTAINER.name, DOCS_INIT_PID: String(init), DOCS_WORK: work, ...env },
      });
    }

    it("README's library sample: attach, spawn, kill, output, abort signal, Buffers and input, a pty over a socket", async () => {
      const r = await runSample('readme-library');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stderr, '');
      // attach({ command: ['id'] }) inherits stdout; console.log(await proc.exited) prints what the comment says.
      assert.match(r.stdout, /^uid=0\(root\) gid=0\(root\)/m);
      assert.match(r.stdout, /^\{ exitCode: 143, signal: 'SIGTERM' \}$/m);
      const out = result<{
        exitCode: number; code: number; stdout: string;
        gzip: { exitCode: number; isBuffer: boolean; text: string };
        sh: { exitCode: number; signal: string | null }; screen: string; audited: string[];
      }>(r.stdout);
      assert.equal(out.exitCode, 0);
      assert.equal(out.code, 0);
      assert.equal(out.stdout, `${CONTAINER.name}\n`, 'hostname inside the container');
      assert.deepEqual(out.gzip, { exitCode: 0, isBuffer: true, text: 'hello\n' });
      assert.deepEqual(out.sh, { exitCode: 7, signal: null });
      assert.match(out.screen, /\b40 120\r\n/, 'stty size after resize(120, 40)');
      assert.equal(out.audited.length, 6, `myAuditStage took part in every attach: ${out.audited.join(' | ')}`);
    });

    it("distroless.md's library sample: a host tar with a host path bound read-write", async () => {
      const r = await runSample('distroless-library');
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(result(r.stdout), { exitCode: 0, signal: null });
      const list = spawnSync('tar', ['-tf', join(work, 'etc.tar')], { encoding: 'utf8' });
      assert.equal(list.status, 0, list.stderr);
      const names = list.stdout.split('\n');
      for (const f of ['./passwd', './group', './inittab']) assert.ok(names.includes(f), `${f} not in the container's /etc archive: ${list.stdout}`);
    });

    it("targets.md's pid-file target plugin: the fixed environment alone, and no_new_privs", async () => {
      writeFileSync(join(work, 'app.pid'), `${init}\n`);
      const r = await runSample('targets-pid-file');
      assert.equal(r.code, 0, r.stderr);
      const out = result<{ env: { exitCode: number; stdout: string; stderr: string }; nnp: { exitCode: number; stdout: string } }>(r.stdout);
      assert.equal(out.env.exitCode, 0, out.env.stderr);
      // The model's entries alone (environmentReplaces), and HOME from the container's passwd, set by set-identity as runc exec sets it.
      assert.deepEqual(out.env.stdout.trim().split('\n').sort(), ['APP_ENV=debug', 'HOME=/root', 'PATH=/usr/bin:/bin']);
      assert.deepEqual(out.nnp, { ...out.nnp, exitCode: 0, stdout: 'NoNewPrivs:\t1\n' });
    });

    it("terminal.md's pty for a library caller: what the comment says the command writes, and status 0", async () => {
      const r = await runSample('terminal-tty');
      assert.equal(r.code, 0, r.stderr);
      assert.equal(r.stdout.slice(0, r.stdout.indexOf('\nDOCS-RESULT ')), 'hello\r\ngot hello\r\n40 120\r\n');
      assert.deepEqual(result(r.stdout), { exitCode: 0 });
    });

    it("writing-a-stage.md's PinToCpu: a syscall the stage declares, run in the attached process", async () => {
      const r = await runSample('stage-pin-to-cpu');
      assert.equal(r.code, 0, r.stderr);
      assert.deepEqual(result(r.stdout), { exitCode: 0, signal: null, stdout: 'Cpus_allowed_list:\t0\n', stderr: '' });
    });

    it("writing-a-stage.md's plugin without decorators: its three stages, the environment mark and the audit log", async () => {
      const r = await runSample('stage-audit-plugin');
      assert.equal(r.code, 0, r.stderr);
      const out = result<{ ids: string[]; output: { exitCode: number; stdout: string; stderr: string } }>(r.stdout);
      for (const id of ['mark-environment', 'audit', 'hello']) assert.ok(out.ids.includes(id), `${id} not in ${out.ids.join(', ')}`);
      assert.ok(out.ids.indexOf('build-env') < out.ids.indexOf('mark-environment') && out.ids.indexOf('mark-environment') < out.ids.indexOf('exec'));
      assert.deepEqual(out.output, { ...out.output, exitCode: 0, stdout: 'ATTACHED=1\n' });
      assert.match(readFileSync(join(work, 'attach.log'), 'utf8'), new RegExp(`^.*${CONTAINER.name}.*\\n$`));
    });

    it('should leave no process of the samples in the container', () => {
      const left = [...containerPids(init)].filter((p) => !existing.has(p));
      assert.deepEqual(left, []);
    });
  });
});
