// The launcher (native/launcher.c, package.json "bin") as the build, the
// install and the pack check see it; built as core builds its executor
// (@attachkit/core/native-build): static, so that it starts without the
// dynamic loader, with musl when there is musl-gcc.
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const root = join(dirname(fileURLToPath(import.meta.url)), '..');

export const LAUNCHER = {
  what: 'launcher',
  name: 'attachkit',
  source: join(root, 'native', 'launcher.c'),
  flags: [],
};
