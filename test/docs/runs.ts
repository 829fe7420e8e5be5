/**
 * The documentation's whole programs, run against a real LXC container.
 * Each names its sample (file + first line), the text substituted in it (a
 * placeholder of the docs: 'c1', pid 4089, { oci: 'web' }, /srv/out; every
 * one must occur, so a changed sample fails here instead of running
 * something else), and what comes before and after it: the definitions of
 * its free identifiers, and an epilogue that prints `DOCS-RESULT <json>`
 * for the suite's assertions. Values of the run (container, pid, paths)
 * come from DOCS_* environment variables, so one compilation serves every run.
 */
export interface SampleRun {
  readonly name: string;
  readonly file: string;
  readonly first: string;
  readonly substitute: readonly (readonly [from: string, to: string])[];
  readonly before: string;
  readonly after: string;
}

const ENV = [
  'const CONTAINER = process.env.DOCS_CONTAINER!;',
  'const INIT_PID = Number(process.env.DOCS_INIT_PID);',
  'const WORK = process.env.DOCS_WORK!;',
  'void CONTAINER, INIT_PID, WORK;',
].join('\n');
const RESULT = (json: string) => `console.log('DOCS-RESULT ' + JSON.stringify(${json}));`;

export const RUNS: readonly SampleRun[] = [
  {
    name: 'readme-library',
    file: 'README.md',
    first: "import { createDefaultPipeline } from '@attachkit/preset';   // the CLI's full isolation",
    substitute: [
      ["{ name: 'c1' }", '{ name: CONTAINER }'],
      ['{ pid: 4089 }', '{ pid: INIT_PID }'],
      ["{ oci: 'web' }", '{ name: CONTAINER }'],
    ],
    before: [
      ENV,
      "import { connect, createServer, type AddressInfo, type Socket } from 'node:net';",
      "import { gunzipSync } from 'node:zlib';",
      "import type { Stage } from '@attachkit/core';",
      // A real stage: records the target of every attach it takes part in.
      'const audited: string[] = [];',
      "const myAuditStage: Stage = { id: 'audit', description: 'records every attach', after: ['resolve-target'], plan: (ctx) => { audited.push(ctx.target.description); } };",
      // `socket`: the server's end of a real TCP connection, as a web terminal's; `browser` is the other end.
      'const server = createServer();',
      "await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));",
      "const accepted = new Promise<Socket>((resolve) => server.once('connection', resolve));",
      "const browser = connect((server.address() as AddressInfo).port, '127.0.0.1');",
      'const socket = await accepted;',
    ].join('\n'),
    after: [
      "let screen = '';",
      "browser.on('data', (d: Buffer) => { screen += d.toString('latin1'); });",
      "const hungUp = new Promise((resolve) => browser.once('end', resolve));",
      "browser.write('stty size; exit 7\\r');",
      'const shExit = await sh.exited;',
      'await hungUp;',
      'browser.destroy();',
      'server.close();',
      RESULT('{ exitCode, code, stdout, gzip: { exitCode: out.exitCode, isBuffer: Buffer.isBuffer(out.stdout), text: gunzipSync(out.stdout).toString() }, sh: shExit, screen, audited }'),
    ].join('\n'),
  },
  {
    name: 'distroless-library',
    file: 'docs/distroless.md',
    first: "import { createDefaultPipeline } from '@attachkit/preset';",
    substitute: [
      ["{ oci: 'web' }", '{ name: CONTAINER }'],
      ["'/srv/out'", 'WORK'],
    ],
    before: `${ENV}\nimport '@attachkit/lxc-plugin';`,
    after: RESULT('await proc.exited'),
  },
  {
    name: 'targets-pid-file',
    file: 'docs/targets.md',
    first: "import { readFileSync } from 'node:fs';",
    // The usage the sample gives in comments, run.
    substitute: [
      ['// const pipeline = ', 'const pipeline = '],
      ["// await pipeline.attach({ target: { pidFile: '/run/app.pid' }, command: ['env'] });", "const env = await pipeline.spawn({ target: { pidFile: `${WORK}/app.pid` }, command: ['env'], stdio: ['ignore', 'pipe', 'pipe'] });"],
    ],
    before: [
      ENV,
      "import { createPipeline } from '@attachkit/core';",
      "import { nsPlugin } from '@attachkit/ns-plugin';",
      "import { capsPlugin } from '@attachkit/caps-plugin';",
    ].join('\n'),
    after: [
      'const nnp = await pipeline.spawn({ target: { pidFile: `${WORK}/app.pid` }, command: [\'grep\', \'^NoNewPrivs\', \'/proc/self/status\'], stdio: [\'ignore\', \'pipe\', \'pipe\'] });',
      RESULT('{ env: await env.output(), nnp: await nnp.output() }'),
    ].join('\n'),
  },
  {
    name: 'terminal-tty',
    file: 'docs/terminal.md',
    first: "import { createDefaultPipeline } from '@attachkit/preset';",
    substitute: [["{ name: 'c1' }", '{ name: CONTAINER }']],
    before: ENV,
    after: [
      "await new Promise((resolve) => (terminal.readableEnded ? resolve(null) : terminal.once('end', resolve)));",
      `process.stdout.write('\\n'); ${RESULT('{ exitCode }')}`,
    ].join('\n'),
  },
  {
    // A stage's own syscall, by the numbers it declares: the command runs on CPU 0 alone.
    name: 'stage-pin-to-cpu',
    file: 'docs/writing-a-stage.md',
    first: 'class PinToCpu implements Stage {',
    substitute: [],
    before: [
      ENV,
      "import { bytes, imm, type Stage, type StageContext } from '@attachkit/core';",
      "import '@attachkit/lxc-plugin';",
      "import { createDefaultPipeline } from '@attachkit/preset';",
    ].join('\n'),
    after: [
      'const pipeline = createDefaultPipeline().add(new PinToCpu());',
      "const proc = await pipeline.spawn({ target: { name: CONTAINER }, command: ['grep', '^Cpus_allowed_list', '/proc/self/status'], stdio: ['ignore', 'pipe', 'pipe'] });",
      RESULT('await proc.output()'),
    ].join('\n'),
  },
  {
    name: 'stage-audit-plugin',
    file: 'docs/writing-a-stage.md',
    first: "import { appendFileSync } from 'node:fs';",
    substitute: [],
    before: [
      ENV,
      "import { createPipeline } from '@attachkit/core';",
      "import '@attachkit/lxc-plugin';",
      "import { defaultPlugins } from '@attachkit/preset';",
    ].join('\n'),
    after: [
      'const pipeline = createPipeline({ plugins: [...defaultPlugins(), auditPlugin({ file: `${WORK}/attach.log` })] });',
      "const ids = pipeline.describe({ target: { name: CONTAINER }, command: ['true'] }).map((e) => e.id);",
      "const proc = await pipeline.spawn({ target: { name: CONTAINER }, command: ['sh', '-c', 'echo \"ATTACHED=$ATTACHED\"'], stdio: ['ignore', 'pipe', 'pipe'] });",
      RESULT('{ ids, output: await proc.output() }'),
    ].join('\n'),
  },
];
