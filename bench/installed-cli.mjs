// The CLI as a user installs it: every published package packed (`pnpm
// pack`) and the tarballs installed with npm into a temporary project, whose
// install scripts pick the shipped binaries and build the start-up snapshot.
// For the bench row "installed CLI beside the repository's"; the consumer
// suite (test/suites/consumer.test.ts) checks the same install for real.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** { bin, cleanup } of a fresh install, or { error } saying why there is none. */
export function installCli(root) {
  const dir = mkdtempSync(join(tmpdir(), 'attachkit-bench-install-'));
  const cleanup = () => rmSync(dir, { recursive: true, force: true });
  const fail = (why) => { cleanup(); return { error: why }; };
  const tarballs = [];
  for (const name of readdirSync(join(root, 'packages')).sort()) {
    const pkg = JSON.parse(readFileSync(join(root, 'packages', name, 'package.json'), 'utf8'));
    if (pkg.private) continue;
    const r = spawnSync('pnpm', ['pack', '--pack-destination', join(dir, 'packs')], { cwd: join(root, 'packages', name), encoding: 'utf8' });
    if (r.status !== 0) return fail(`pnpm pack ${pkg.name}: ${r.stderr.trim().split('\n').pop()}`);
    tarballs.push(join(dir, 'packs', `${pkg.name.slice(1).replace('/', '-')}-${pkg.version}.tgz`));
  }
  const project = join(dir, 'project');
  spawnSync('mkdir', [project]);
  writeFileSync(join(project, 'package.json'), JSON.stringify({
    name: 'attachkit-bench-install', private: true,
    allowScripts: { '@attachkit/core': true, '@attachkit/cli': true, koffi: false, esbuild: false },
  }));
  const r = spawnSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', ...tarballs], { cwd: project, encoding: 'utf8' });
  if (r.status !== 0) return fail(`npm install: ${r.stderr.trim().split('\n').pop()}`);
  return { bin: join(project, 'node_modules', '.bin', 'attachkit'), cleanup };
}
