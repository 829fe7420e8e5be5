// Builds the CLI's V8 start-up snapshot (docs/startup.md): esbuild bundles
// dist/src/snapshot.js with everything it imports but the native addons into
// one CommonJS file, and `node --build-snapshot` runs it once and saves the
// heap. The launcher (native/launcher.c) starts node from that heap when it
// can, and from the modules on disk (bin/run.js) otherwise.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build } from 'esbuild';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const out = join(root, 'dist', 'snapshot');
const bundle = join(out, 'attachkit.cjs');
const blob = join(out, 'attachkit.blob');
rmSync(out, { recursive: true, force: true });
mkdirSync(out, { recursive: true });

// A module finds files next to it through import.meta.url (the executor, package.json):
// in the bundle, each keeps its own file's URL.
const importMetaUrl = {
  name: 'import-meta-url',
  setup(b) {
    b.onLoad({ filter: /\.js$/ }, (args) => {
      const source = readFileSync(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return undefined;
      return { contents: source.replaceAll('import.meta.url', JSON.stringify(pathToFileURL(args.path).href)), loader: 'js' };
    });
  },
};

const result = await build({
  entryPoints: [join(root, 'dist', 'src', 'snapshot.js')],
  outfile: bundle,
  bundle: true,
  platform: 'node',
  format: 'cjs',
  target: 'node20',
  // Native addons load at run time, through createRequire; oclif reads a
  // tsconfig.json with typescript in development only.
  external: ['koffi', '@lydell/node-pty', '@lydell/node-pty-*', 'typescript'],
  plugins: [importMetaUrl],
  metafile: true,
  // No comments: one character beyond Latin-1 in them makes V8 keep the whole
  // source two bytes a character, a megabyte more to deserialize at each start.
  minifyWhitespace: true,
  logLevel: 'warning',
});

// What the snapshot holds: when one of these changes, the snapshot is stale. Our
// files one by one; a dependency by its package.json (pnpm keeps each version in
// a directory of its own, and never changes a file there).
const inputs = new Set([join(root, 'package.json')]);
for (const input of Object.keys(result.metafile.inputs).map((p) => resolve(p))) {
  const dep = /^(.*\/node_modules\/(?:@[^/]+\/)?[^/]+)\//.exec(input);
  inputs.add(dep && existsSync(join(dep[1], 'package.json')) ? join(dep[1], 'package.json') : input);
}
// koffi's native module, as koffi itself finds it for this machine: the
// snapshot loads it by path (core's setKoffiLoader), not through the package.
// koffi as core resolves it, wherever the package manager put core.
const coreRequire = createRequire(createRequire(join(root, 'package.json')).resolve('@attachkit/core'));
const koffiVersion = coreRequire('koffi').version;
const koffiNative = Object.keys(coreRequire.cache).find((path) => path.endsWith('.node'));
if (!koffiNative) throw new Error('attachkit: cannot find the native module koffi loaded');
inputs.add(koffiNative);
const koffiFile = join(out, 'koffi.json');
writeFileSync(koffiFile, JSON.stringify({ path: koffiNative, version: koffiVersion }));
const inputsFile = join(out, 'inputs.json');
writeFileSync(inputsFile, JSON.stringify([...inputs]));

// A clean environment and no terminal: modules that read the environment when
// evaluated (colours, widths, debug switches) must not keep the builder's.
const r = spawnSync(process.execPath, ['--snapshot-blob', blob, '--build-snapshot', bundle], {
  stdio: ['ignore', 'pipe', 'pipe'],
  env: { PATH: process.env.PATH ?? '/usr/bin:/bin', ATTACHKIT_SNAPSHOT_INPUTS: inputsFile, ATTACHKIT_SNAPSHOT_KOFFI: koffiFile },
  encoding: 'utf8',
});
// Node warns that some built-in modules (tty, child_process...) are "not yet fully
// verified" in snapshots; the suite runs every command from the snapshot.
const output = `${r.stdout}${r.stderr}`.replace(/\(node:\d+\) Warning: It's not yet fully verified[^\n]*\n(?:[^\n(][^\n]*\n)*/g, '')
  .replace(/\(Use `node --trace-warnings[^\n]*\n/g, '');
process.stderr.write(output);
if (r.status !== 0) {
  console.error(`attachkit: building the start-up snapshot failed (${r.status ?? r.signal}); the launcher starts the CLI from its modules`);
  process.exit(1);
}

// The launcher uses the snapshot only with the node binary that built it, unchanged since.
const node = statSync(process.execPath, { bigint: true });
writeFileSync(join(out, 'node'), `${process.execPath}\n${node.ino} ${node.size} ${node.mtimeNs / 1000000000n} ${node.mtimeNs % 1000000000n}\n`);
