import { readFileSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { startupSnapshot } from 'node:v8';
import vm from 'node:vm';
import {
  bytes, createPipeline, cstring, imm, PreExecProgram, resultOf, scratch, scratchAt, setKoffiLoader, type KoffiModule, type Libc,
} from '@attachkit/core';
import { Config, Parser, Plugin } from '@oclif/core';
import { COMMANDS } from './commands/index.js';
import { attachFlags, toRequest } from './flags.js';
import { CLI_ROOT, main } from './main.js';
import { defaultPlugins } from './pipeline.js';

/**
 * The entry of the CLI's V8 start-up snapshot (docs/startup.md). Bundled with
 * everything it imports but the native addons (scripts/build-snapshot.mjs)
 * and run once by `node --build-snapshot`: the modules are evaluated and
 * oclif's plugins loaded then, and `node --snapshot-blob` (native/launcher.c)
 * starts with them in its heap. koffi and node-pty load on first use.
 *
 * What a module does when it is evaluated happens once, at build time, in a
 * clean environment with no terminal. So help (its width and colours), a run
 * with a debug switch set, and every run once an input has changed start
 * from the modules on disk;
 * and the listeners modules put on stdout and stderr go on the new streams.
 */

type StdStream = 'stdout' | 'stderr';

/** A file the snapshot was built from, with its size and mtime then. */
type Input = readonly [path: string, size: number, mtimeMs: number];

const MAIN_MODULE = new URL('./main.js', import.meta.url).href;
/** Read by modules when they are evaluated (debug, oclif's flag parser, Node's debuglog). */
const DEBUG_SWITCHES = ['DEBUG', 'CLI_FLAGS_DEBUG', 'NODE_DEBUG'];

let inputs: Input[] = [];
/** koffi's native module for this machine (scripts/build-snapshot.mjs), and koffi's version. */
let koffiNative: { path: string; version: string };
let plugins: Map<string, Plugin>;
/**
 * 'error' listeners that modules put on process.stdout and process.stderr
 * when evaluated: oclif's command module swallows EPIPE on stdout (`attachkit
 * stages | head`). A snapshot starts with new streams; the listeners go on them.
 */
let streamListeners: Array<[StdStream, (err: Error) => void]> = [];

/** oclif's plugins as `Config.load` finds them: the root (this package, its commands from this bundle) and its core plugins (none today: completion is the root's own command). */
async function loadPlugins(): Promise<Map<string, Plugin>> {
  const root = new Plugin({ isRoot: true, root: CLI_ROOT });
  // What oclif's `explicit` discovery would import from disk: code in a snapshot has no dynamic import().
  // A private field of oclif's Plugin: were it renamed, load() would try the import and fail the build.
  (root as unknown as { commandCache: typeof COMMANDS }).commandCache = COMMANDS;
  await root.load();
  const loaded = new Map<string, Plugin>([[root.name, root]]);
  for (const name of root.pjson.oclif.plugins ?? []) {
    const plugin = new Plugin({ name, root: CLI_ROOT, type: 'core' });
    await plugin.load();
    loaded.set(plugin.name, plugin);
  }
  return loaded;
}

/**
 * Runs once, at build time, the JavaScript every start runs before it needs
 * libc: V8 compiles a function when it is first called, and what was compiled
 * here is in the snapshot, not compiled again at each start. Nothing native
 * can run here: the pipeline gets a libc that refuses every call.
 */
async function warmUp(): Promise<void> {
  await Config.load({ root: CLI_ROOT, plugins });
  await Parser.parse(['--pid', '1', '--', 'true'], { flags: attachFlags, strict: false });
  const noLibc = new Proxy({}, { get() { throw new Error('no libc call while the snapshot is built'); } }) as Libc;
  createPipeline({ plugins: defaultPlugins(), libc: noLibc }).describe(toRequest({ pid: 1 }, ['true']));
  // The program's encoding is plain JavaScript, and a long one: every kind of op and argument once.
  const program = new PreExecProgram();
  program.setLifeline(9);
  const emit = program.emitter('warm-up');
  const pid = emit.syscall('namespaces', 'getpid', [], { operation: 'getpid()' });
  emit.syscall('capabilities', 'capget', [bytes(Buffer.alloc(8)), scratchAt(scratch(16))], { operation: 'capget' });
  emit.syscall('cwd', 'chdir', [cstring('/'), resultOf(pid), imm(0)], { operation: 'chdir' });
  emit.forkIntoCgroup(5, 'clone3');
  emit.keepFd(7);
  emit.passFd(8, { attached: true });
  emit.setStdio(1, 8);
  emit.receiveFd('lsm', 'warm-up', () => 8);
  emit.exec({ file: 'true', argv: ['true'], env: ['A=b'] });
  program.setChannels({ page: 10, report: 11, inbox: 12 });
  program.serialize({ sync: false });
}

function stat(path: string): Input {
  try {
    const s = statSync(path);
    return [path, s.size, s.mtimeMs];
  } catch {
    return [path, -1, -1];
  }
}

/** koffi's native module by path: what koffi's package exports is the module's own exports. */
function loadKoffiNative(): KoffiModule {
  const module = { exports: {} as KoffiModule & { version?: string } };
  process.dlopen(module, koffiNative.path);
  if (module.exports.version !== koffiNative.version) {
    throw new Error(`koffi's native module ${koffiNative.path} is version ${module.exports.version}, not ${koffiNative.version}`);
  }
  return module.exports;
}

/** A file changed since the snapshot was built (`tsc -b` without the snapshot build, a new dependency): the code on disk is not the snapshot's. */
function changedInput(): string | undefined {
  return inputs.find(([path, size, mtimeMs]) => {
    const [, s, m] = stat(path);
    return s !== size || m !== mtimeMs;
  })?.[0];
}

/** Why this run must start from the modules: its output depends on the environment now (see above), or the code on disk is not the snapshot's. */
function modulesNeeded(argv: readonly string[]): string | undefined {
  const options = argv.includes('--') ? argv.slice(0, argv.indexOf('--')) : argv;
  if (argv[0] === 'help' || options.includes('--help') || options.includes('-h') || options.includes('-?')) return 'help';
  const debug = DEBUG_SWITCHES.find((name) => process.env[name]);
  if (debug) return `${debug} is set`;
  const changed = changedInput();
  return changed === undefined ? undefined : `${changed} changed since the snapshot was built`;
}

/**
 * The CLI from its modules on disk. Code from a snapshot has no dynamic
 * import(); a script compiled now, with the main context's loader, has.
 * That loader is experimental in Node 20, and says so: not to our users.
 */
async function mainFromModules(argv: readonly string[], reason: string): Promise<void> {
  const emitWarning = process.emitWarning;
  process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
    if (!String(warning).includes('USE_MAIN_CONTEXT_DEFAULT_LOADER')) Reflect.apply(emitWarning, process, [warning, ...rest]);
  }) as typeof process.emitWarning;
  let loaded: { main: typeof main };
  try {
    const load = new vm.Script('(url) => import(url)', { importModuleDynamically: vm.constants.USE_MAIN_CONTEXT_DEFAULT_LOADER })
      .runInThisContext() as (url: string) => Promise<{ main: typeof main }>;
    loaded = await load(MAIN_MODULE);
  } finally {
    process.emitWarning = emitWarning;
  }
  await loaded.main(argv, { startup: `from the modules: ${reason}` });
}

if (startupSnapshot.isBuildingSnapshot()) {
  const files = JSON.parse(readFileSync(process.env.ATTACHKIT_SNAPSHOT_INPUTS!, 'utf8')) as string[];
  koffiNative = JSON.parse(readFileSync(process.env.ATTACHKIT_SNAPSHOT_KOFFI!, 'utf8')) as typeof koffiNative;
  streamListeners = (['stdout', 'stderr'] as const).flatMap((name) =>
    process[name].listeners('error').map((listener): [StdStream, (err: Error) => void] => [name, listener as (err: Error) => void]));
  // Settled before the heap is saved (node runs the event loop dry first); a failure fails the build.
  void (async () => {
    plugins = await loadPlugins();
    const pjsons = [...plugins.values()].map((p) => join(p.root, 'package.json'));
    inputs = [...new Set([...files, ...pjsons])].map(stat);
    await warmUp();
  })();

  startupSnapshot.setDeserializeMainFunction(() => {
    for (const [name, listener] of streamListeners) process[name].on('error', listener);
    // `node --snapshot-blob BLOB -- ARGS`: process.argv is [node, ...ARGS].
    const argv = process.argv.slice(1);
    const reason = modulesNeeded(argv);
    if (!reason) setKoffiLoader(loadKoffiNative);
    void (reason ? mainFromModules(argv, reason) : main(argv, { oclif: { root: CLI_ROOT, plugins }, startup: 'from the start-up snapshot' }));
  });
}
