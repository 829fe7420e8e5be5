#!/usr/bin/env node
// The benchmark: attachkit beside lxc-attach 5, in the same run, on the same
// real LXC container (test/lxc/make-container.sh makes and starts it), and
// attachkit --oci beside runc exec on the same runc container (test/oci/).
// Writes bench/results/latest.json (every sample) and latest.md (the table).
// Run as root after the build: `pnpm bench` (or `node bench/run.mjs`).
// Nothing here is asserted: the figures are reported, as ratios, for people.
import { spawn, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, release, tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { defaultPipeline } from '@attachkit/cli';
import { installCli } from './installed-cli.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
// The CLI as installed: its launcher (V8 start-up snapshot, docs/startup.md) when built, else node and the modules.
const LAUNCHER = join(ROOT, 'packages/cli/build/attachkit');
const CLI = existsSync(LAUNCHER) ? [LAUNCHER] : [process.execPath, join(ROOT, 'packages/cli/bin/run.js')];
const CONTAINER = process.env.BENCH_CONTAINER ?? 'attachkit-bench';
const QUICK = process.argv.includes('--quick'); // fewer samples, for trying the script out
const RUNS = QUICK ? 5 : 21;
const LIB_RUNS = QUICK ? 20 : 100;
const LIB_WARMUP = 50;
// 1 GiB: at ~3 GiB/s a smaller transfer is over before the CLI has finished
// its own start-up work on a 2-core machine, and would measure that instead.
const PIPE_BYTES = 1024 * 1024 * 1024;
const PTY_BYTES = 32 * 1024 * 1024;
const THROUGHPUT_RUNS = QUICK ? 3 : 9;
const RATE_SECONDS = QUICK ? 1 : 3;
const CONCURRENCY = [1, 8, 32];

if (process.getuid?.() !== 0) {
  console.error('the benchmark attaches to a real LXC container: run it as root');
  process.exit(1);
}

// ── tools ──────────────────────────────────────────────────────────────
const TOOLS = {
  attachkit: (args) => [...CLI, '-n', CONTAINER, ...args],
  'lxc-attach': (args) => ['lxc-attach', '-n', CONTAINER, ...args],
};

const now = () => Number(process.hrtime.bigint()) / 1e6; // ms
const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m] : (s[m - 1] + s[m]) / 2;
};
const round = (x, digits = 2) => Number(x.toFixed(digits));
const log = (line) => process.stderr.write(`[bench] ${line}\n`);

/** Run argv to completion with stdio ignored; its wall time in ms. */
function wall(argv, env = process.env) {
  const t0 = now();
  const r = spawnSync(argv[0], argv.slice(1), { stdio: 'ignore', env });
  const ms = now() - t0;
  if (r.status !== 0) throw new Error(`${argv.join(' ')} exited ${r.status ?? r.signal}`);
  return ms;
}

/** Bytes per second of a command's stdout as this process reads it, from the first byte to the end. */
function throughput(argv, expected) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: ['ignore', 'pipe', 'ignore'] });
    let first;
    let bytes = 0;
    child.stdout.on('data', (chunk) => {
      first ??= now();
      bytes += chunk.length;
    });
    child.on('error', reject);
    child.on('close', (code) => {
      const ms = now() - first;
      if (code !== 0 || bytes < expected) reject(new Error(`${argv.join(' ')}: status ${code}, ${bytes} of ${expected} bytes`));
      else resolve((bytes / (1024 * 1024)) / (ms / 1000));
    });
  });
}

/** GNU time's maximum resident set size, in KB. */
function peakRss(argv) {
  const r = spawnSync('/usr/bin/time', ['-f', '%M', ...argv], { encoding: 'utf8', stdio: ['ignore', 'ignore', 'pipe'] });
  if (r.status !== 0) throw new Error(`/usr/bin/time ${argv.join(' ')}: ${r.stderr}`);
  return Number(r.stderr.trim().split('\n').at(-1));
}

/** Attaches completed per second by `workers` loops running `one` for about `seconds`. */
async function rate(workers, seconds, one) {
  const end = now() + seconds * 1000;
  let done = 0;
  const t0 = now();
  await Promise.all(Array.from({ length: workers }, async () => {
    while (now() < end) {
      await one();
      done++;
    }
  }));
  return done / ((now() - t0) / 1000);
}

function runProcess(argv) {
  return new Promise((resolve, reject) => {
    const child = spawn(argv[0], argv.slice(1), { stdio: 'ignore' });
    child.on('error', reject);
    child.on('close', (code) => (code === 0 ? resolve() : reject(new Error(`${argv.join(' ')} exited ${code}`))));
  });
}

// ── setup ──────────────────────────────────────────────────────────────
for (const [tool, pkg] of [['/usr/bin/time', 'time'], ['/usr/bin/script', 'bsdutils']]) {
  if (!existsSync(tool)) {
    console.error(`the benchmark needs ${tool} (Debian: ${pkg}; scripts/setup-test-deps.sh installs it)`);
    process.exit(1);
  }
}
log(`container ${CONTAINER}: making sure it exists and runs (test/lxc/make-container.sh)`);
const made = spawnSync('bash', [join(ROOT, 'test/lxc/make-container.sh'), CONTAINER], { encoding: 'utf8' });
if (made.status !== 0) {
  console.error(made.stderr);
  process.exit(1);
}
const started = now();
const pipeline = defaultPipeline();
const hasPty = pipeline.has('open-pty');
const request = (command, stdio = ['ignore', 'ignore', 'ignore']) => ({ target: { name: CONTAINER }, command, stdio });
// Both tools warm: page cache, the container's monitor, our executor image.
for (let i = 0; i < 3; i++) {
  wall(TOOLS['lxc-attach'](['--', 'true']));
  wall(TOOLS.attachkit(['--', 'true']));
  await pipeline.attach(request(['true']));
}

const results = {};

// How the CLI starts (docs/startup.md): from its snapshot, or from its modules
// when the build is stale (`tsc -b` without the snapshot build), which would
// measure something else. The table says which.
const logDir = mkdtempSync(join(tmpdir(), 'attachkit-bench-'));
wall(TOOLS.attachkit(['-o', join(logDir, 'log'), '-l', 'DEBUG', '--', 'true']));
const cliStartup = /startup - (.*)/.exec(readFileSync(join(logDir, 'log'), 'utf8'))?.[1] ?? 'unknown';
rmSync(logDir, { recursive: true, force: true });
if (cliStartup !== 'from the start-up snapshot') log(`the CLI starts ${cliStartup}: run the build (pnpm run build) for its start-up snapshot`);

// ── 1. CLI `-- true`, wall time ────────────────────────────────────────
// Each command back to back, after warming up: on this VM a process started
// after an idle moment (or right after another tool) can take 3x longer, so
// interleaving the tools would measure the neighbour, not the tool.
log(`CLI -- true: ${RUNS} back-to-back runs each of node -e 0, lxc-attach, attachkit`);
const commands = { node: [process.execPath, '-e', '0'], 'lxc-attach': TOOLS['lxc-attach'](['--', 'true']), attachkit: TOOLS.attachkit(['--', 'true']) };
const samples = {};
const measure = (name, argv, env) => {
  for (let i = 0; i < 3; i++) wall(argv, env);
  samples[name] = Array.from({ length: RUNS }, () => wall(argv, env));
};
for (const [name, argv] of Object.entries(commands)) measure(name, argv);
// With NODE_EXTRA_CA_CERTS set (as on the project's machine), node reads and
// parses that file at every start; attachkit's launcher spares node that
// (docs/startup.md). Both again without it, to compare like with like.
const EXTRA_CA = process.env.NODE_EXTRA_CA_CERTS !== undefined;
if (EXTRA_CA) {
  const { NODE_EXTRA_CA_CERTS: _, ...bare } = process.env;
  measure('node, no NODE_EXTRA_CA_CERTS', commands.node, bare);
  measure('attachkit, no NODE_EXTRA_CA_CERTS', commands.attachkit, bare);
}
// The CLI installed from the packed tarballs with npm (its install builds the
// start-up snapshot from the installed modules), beside the repository's.
log('installed CLI: packing the packages and installing the tarballs with npm');
const installed = installCli(ROOT);
if (installed.error) log(`no installed CLI to measure: ${installed.error}`);
else {
  try {
    measure('attachkit (installed)', [installed.bin, '-n', CONTAINER, '--', 'true']);
  } finally {
    installed.cleanup();
  }
}
const cli = Object.fromEntries(Object.entries(samples).map(([k, v]) => [k, median(v)]));
results.cliTrue = { unit: 'ms (median)', ...cli, samples };

// ── 2. library attach latency in a warm process ────────────────────────
log(`library: ${LIB_RUNS} sequential pipeline.attach(-- true) in this process, after ${LIB_WARMUP} to warm it`);
// Warm: a long-lived program attaches through code V8 has compiled; the
// first few dozen attaches run in its interpreter and take about 1.5x as long.
for (let i = 0; i < LIB_WARMUP; i++) await pipeline.attach(request(['true']));
const lib = [];
for (let i = 0; i < LIB_RUNS; i++) {
  const t0 = now();
  const r = await pipeline.attach(request(['true']));
  lib.push(now() - t0);
  if (r.exitCode !== 0) throw new Error(`library attach exited ${r.exitCode}`);
}
results.libraryAttach = { unit: 'ms (median)', attachkit: median(lib), 'lxc-attach': cli['lxc-attach'], samples: lib };

// ── 3. pipe throughput ─────────────────────────────────────────────────
// dd with 1 MiB blocks: busybox's head copies in small reads and would measure itself.
const ZERO = (bytes) => ['--', 'dd', 'if=/dev/zero', 'bs=1048576', `count=${bytes >> 20}`];
log(`pipe: ${PIPE_BYTES >> 20} MiB of /dev/zero (dd), read from the tool's stdout pipe`);
const pipe = { attachkit: [], 'lxc-attach': [] };
for (let i = 0; i < THROUGHPUT_RUNS; i++) {
  for (const tool of ['lxc-attach', 'attachkit']) {
    pipe[tool].push(await throughput(TOOLS[tool](ZERO(PIPE_BYTES)), PIPE_BYTES));
  }
}
results.pipe = { unit: 'MiB/s (median)', attachkit: median(pipe.attachkit), 'lxc-attach': median(pipe['lxc-attach']), samples: pipe };

// ── 4. pty throughput under script(1) ──────────────────────────────────
// script gives the tool a terminal on 0, 1, 2: lxc-attach then allocates a
// pty in the container and proxies it; attachkit does the same with its pty
// plugin, and without one the command writes to script's terminal itself.
log(`pty: ${PTY_BYTES >> 20} MiB under script(1)${hasPty ? '' : ' (attachkit has no pty stage in this build)'}`);
// `script` alone (dd on the host, one pty instead of two) is the ceiling.
const pty = { attachkit: [], 'lxc-attach': [], script: [] };
for (let i = 0; i < THROUGHPUT_RUNS; i++) {
  for (const tool of ['lxc-attach', 'attachkit', 'script']) {
    const line = (tool === 'script' ? ZERO(PTY_BYTES).slice(1) : TOOLS[tool](ZERO(PTY_BYTES))).join(' ');
    pty[tool].push(await throughput(['script', '-qec', line, '/dev/null'], PTY_BYTES));
  }
}
results.pty = {
  unit: 'MiB/s (median)', attachkit: median(pty.attachkit), 'lxc-attach': median(pty['lxc-attach']), scriptAlone: median(pty.script), samples: pty,
  note: hasPty ? undefined : 'no pty stage in this build: the command wrote to script\'s terminal directly, no proxy',
};

// ── 5. peak RSS ────────────────────────────────────────────────────────
log('peak RSS of -- true, by GNU time (the CLI process tree and lxc-attach)');
const rss = { attachkit: [], 'lxc-attach': [] };
for (let i = 0; i < 3; i++) for (const tool of ['lxc-attach', 'attachkit']) rss[tool].push(peakRss(TOOLS[tool](['--', 'true'])));
results.peakRss = { unit: 'MiB (median)', attachkit: median(rss.attachkit) / 1024, 'lxc-attach': median(rss['lxc-attach']) / 1024, samples: rss };

// ── 6. attaches per second at 1, 8, 32 concurrent ──────────────────────
results.rate = { unit: 'attaches/s' };
for (const n of CONCURRENCY) {
  log(`rate: ${n} concurrent, ${RATE_SECONDS} s each: library attaches in this process, lxc-attach processes`);
  const lxc = await rate(n, RATE_SECONDS, () => runProcess(TOOLS['lxc-attach'](['--', 'true'])));
  const ours = await rate(n, RATE_SECONDS, async () => {
    const r = await pipeline.attach(request(['true']));
    if (r.exitCode !== 0) throw new Error(`library attach exited ${r.exitCode}`);
  });
  results.rate[n] = { attachkit: ours, 'lxc-attach': lxc };
}

// ── 7. OCI: attachkit --oci beside runc exec, on the same runc container ─
// The test fixture's bundle (busybox, runc's default spec); removed after.
const { ensureRuncContainer, removeRuncContainer } = await import(join(ROOT, 'test/dist/oci/containers.js'));
const OCI_ID = 'attachkit-bench-oci';
log(`OCI: runc container ${OCI_ID}: ${RUNS} runs each of runc exec and attachkit --oci, ${LIB_RUNS} library attaches`);
ensureRuncContainer({ id: OCI_ID });
try {
  const ociCommands = { runc: ['runc', 'exec', OCI_ID, 'true'], attachkit: [...CLI, '--oci', OCI_ID, '--', 'true'] };
  const ociSamples = {};
  for (const [name, argv] of Object.entries(ociCommands)) {
    for (let i = 0; i < 3; i++) wall(argv);
    ociSamples[name] = Array.from({ length: RUNS }, () => wall(argv));
  }
  const ociRequest = { target: { oci: OCI_ID }, command: ['true'], stdio: ['ignore', 'ignore', 'ignore'] };
  for (let i = 0; i < LIB_WARMUP; i++) await pipeline.attach(ociRequest);
  const ociLib = [];
  for (let i = 0; i < LIB_RUNS; i++) {
    const t0 = now();
    const r = await pipeline.attach(ociRequest);
    ociLib.push(now() - t0);
    if (r.exitCode !== 0) throw new Error(`library attach --oci exited ${r.exitCode}`);
  }
  results.oci = {
    unit: 'ms (median)', runcExec: median(ociSamples.runc), cli: median(ociSamples.attachkit), library: median(ociLib),
    samples: { ...ociSamples, library: ociLib },
  };
} finally {
  removeRuncContainer(OCI_ID);
}

// ── report ─────────────────────────────────────────────────────────────
const lxcVersion = spawnSync('lxc-attach', ['--version'], { encoding: 'utf8' }).stdout.trim();
const runcVersion = spawnSync('runc', ['--version'], { encoding: 'utf8' }).stdout.split('\n')[0]?.replace(/^runc version /, '') ?? 'unknown';
const machine = {
  date: new Date().toISOString(), kernel: release(), node: process.version, lxc: lxcVersion, runc: runcVersion, cliStartup,
  cpus: cpus().length, cpu: cpus()[0]?.model, container: CONTAINER, cli: CLI.join(' '), seconds: round((now() - started) / 1000, 1),
};
const ratio = (a, b) => round(a / b);
const rows = [
  // [metric, attachkit, lxc-attach, ratio, target, met]
  ['CLI `-- true`, wall (median)', `${round(cli.attachkit, 1)} ms`, `${round(cli['lxc-attach'], 1)} ms`,
    `${ratio(cli.attachkit, cli['lxc-attach'])}× lxc-attach; ${ratio(cli.attachkit, cli.node)}× \`node -e 0\` (${round(cli.node, 1)} ms)`,
    '≤ 1.25× `node -e 0`', cli.attachkit <= 1.25 * cli.node],
  ...(EXTRA_CA ? [(() => {
    const [a, n] = [cli['attachkit, no NODE_EXTRA_CA_CERTS'], cli['node, no NODE_EXTRA_CA_CERTS']];
    return ['CLI `-- true`, like for like: both without NODE_EXTRA_CA_CERTS', `${round(a, 1)} ms`, '',
      `${ratio(a, n)}× \`node -e 0\` (${round(n, 1)} ms)`, '≤ 1.25× `node -e 0`', a <= 1.25 * n];
  })()] : []),
  ...(cli['attachkit (installed)'] === undefined ? [] : [[
    'CLI `-- true`, installed from the packed tarballs (npm) beside the repository\'s (median)', `${round(cli['attachkit (installed)'], 1)} ms`,
    `${round(cli.attachkit, 1)} ms (repository's CLI)`, `${ratio(cli['attachkit (installed)'], cli.attachkit)}×`, '≤ 1.3×',
    cli['attachkit (installed)'] <= 1.3 * cli.attachkit]]),
  ['library attach in a warm process (median)', `${round(results.libraryAttach.attachkit, 1)} ms`, `${round(cli['lxc-attach'], 1)} ms (CLI)`,
    `${ratio(results.libraryAttach.attachkit, cli['lxc-attach'])}×`, '≤ 0.5×', results.libraryAttach.attachkit <= 0.5 * cli['lxc-attach']],
  ['pipe throughput, 1 GiB (dd, 1 MiB blocks)', `${Math.round(results.pipe.attachkit)} MiB/s`, `${Math.round(results.pipe['lxc-attach'])} MiB/s`,
    `${ratio(results.pipe.attachkit, results.pipe['lxc-attach'])}×`, '≥ 0.95×', results.pipe.attachkit >= 0.95 * results.pipe['lxc-attach']],
  [`pty throughput under \`script\`, 32 MiB${hasPty ? '' : ' †'}`, `${Math.round(results.pty.attachkit)} MiB/s`, `${Math.round(results.pty['lxc-attach'])} MiB/s`,
    `${ratio(results.pty.attachkit, results.pty['lxc-attach'])}× (script alone: ${Math.round(results.pty.scriptAlone)} MiB/s)`, '≥ 2×', hasPty ? results.pty.attachkit >= 2 * results.pty['lxc-attach'] : undefined],
  ['peak RSS, CLI `-- true`', `${round(results.peakRss.attachkit, 1)} MiB`, `${round(results.peakRss['lxc-attach'], 1)} MiB`,
    `${ratio(results.peakRss.attachkit, results.peakRss['lxc-attach'])}×`, '—', undefined],
  ...CONCURRENCY.map((n) => {
    const r = results.rate[n];
    return [`attaches/s, ${n} concurrent (library vs processes)`, `${round(r.attachkit, 1)}/s`, `${round(r['lxc-attach'], 1)}/s`,
      `${ratio(r.attachkit, r['lxc-attach'])}×`, '≥ 1×', r.attachkit >= r['lxc-attach']];
  }),
  ['OCI: library attach `{ oci }` beside `runc exec -- true` (median)', `${round(results.oci.library, 1)} ms`, `${round(results.oci.runcExec, 1)} ms (runc exec)`,
    `${ratio(results.oci.library, results.oci.runcExec)}×`, '≤ 0.5×', results.oci.library <= 0.5 * results.oci.runcExec],
  ['OCI: CLI `--oci ID -- true` beside `runc exec` (median)', `${round(results.oci.cli, 1)} ms`, `${round(results.oci.runcExec, 1)} ms (runc exec)`,
    `${ratio(results.oci.cli, results.oci.runcExec)}×`, '≤ 2×', results.oci.cli <= 2 * results.oci.runcExec],
];
const mark = (met) => (met === undefined ? '—' : met ? 'yes' : 'no');
const md = [
  `# attachkit beside lxc-attach`,
  '',
  `${machine.date} · Linux ${machine.kernel} · Node ${machine.node} · lxc-attach ${machine.lxc} · runc ${machine.runc} · ${machine.cpus} × ${machine.cpu} · container \`${CONTAINER}\` (privileged, busybox) · CLI \`${CLI.map((a) => a.replace(`${ROOT}/`, '')).join(' ')}\`, started ${cliStartup} · ${machine.seconds} s`,
  '',
  '| measure | attachkit | lxc-attach (runc exec for OCI) | ratio | target | met |',
  '| --- | --- | --- | --- | --- | --- |',
  ...rows.map(([m, a, l, r, t, met]) => `| ${m} | ${a} | ${l} | ${r} | ${t} | ${mark(met)} |`),
  '',
  `Medians of ${RUNS} back-to-back CLI runs per command, ${LIB_RUNS} library attaches (after ${LIB_WARMUP} unmeasured), ${THROUGHPUT_RUNS} throughput and 3 RSS runs; rates over ${RATE_SECONDS} s per level.`,
  'Throughput is measured from the first byte to the end of the stream, as this process reads the tool\'s stdout.',
  'Under `script` both tools are held to what script itself relays (the "script alone" figure: dd on the host, no attach).',
  ...(EXTRA_CA ? ['NODE_EXTRA_CA_CERTS is set here: `node -e 0` reads and parses that file at its start, which attachkit\'s launcher spares node (docs/startup.md); the like-for-like row runs both without it.'] : []),
  ...(hasPty ? [] : ['', '† No pty stage in this build: under `script` the command wrote to script\'s terminal itself, with no proxy — not yet comparable with lxc-attach\'s proxied pty.']),
  '',
].join('\n');

const outDir = join(ROOT, 'bench/results');
mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'latest.json'), `${JSON.stringify({ machine, results }, (_, v) => (typeof v === 'number' ? round(v, 3) : v), 2)}\n`);
writeFileSync(join(outDir, 'latest.md'), md);
process.stdout.write(md);
log(`wrote bench/results/latest.json and latest.md in ${machine.seconds} s`);
