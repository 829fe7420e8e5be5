// Before packing (prepack): the tarball must hold the executor for every
// architecture it promises (native-build.mjs).
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { checkPrebuilt } from './native-build.mjs';
import { EXECUTOR } from './executor.mjs';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
checkPrebuilt({ root, ...EXECUTOR(root) });
