// Builds the generic C executor from source (`pnpm run build`): for this
// machine, and prebuilt for every architecture the package ships
// (native-build.mjs). Static, so that nothing of the host (ld.so, libc.so)
// is mapped into a process that will enter a container.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildAll } from './native-build.mjs';
import { EXECUTOR } from './executor.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
buildAll({ root, ...EXECUTOR(root) });
