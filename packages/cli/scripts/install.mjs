// The package's install script. The launcher: the shipped one for this
// machine, built from source only when none fits. Then the start-up snapshot
// (docs/startup.md), bundled from the modules just installed: without it
// every run starts from the modules, at several times the cost. A snapshot
// that cannot be built fails nothing: the CLI then starts from the modules,
// and says why in its DEBUG log. In a source checkout (tsconfig.json is not
// shipped) `pnpm run build` makes the snapshot, after tsc.
import { spawnSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { installNative } from '@attachkit/core/native-build';
import { LAUNCHER, root } from './launcher.mjs';

installNative({ root, ...LAUNCHER });
if (existsSync(join(root, 'tsconfig.json'))) process.exit(0);
const r = spawnSync(process.execPath, [join(root, 'scripts', 'build-snapshot.mjs')], { stdio: 'inherit' });
if (r.status !== 0) console.error('attachkit: no start-up snapshot; the CLI starts from its modules (slower)');
