// The package's install script: the shipped executor for this machine, built
// from source only when none fits (native-build.mjs), so that installing
// needs no C compiler on x64 and arm64.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installNative } from './native-build.mjs';
import { EXECUTOR } from './executor.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
installNative({ root, ...EXECUTOR(root) });
