// The executor as the build, the install and the pack check see it.
import { join } from 'node:path';

export const EXECUTOR = (root) => ({
  what: 'executor',
  name: 'attachkit-executor',
  source: join(root, 'native', 'executor.c'),
  flags: ['-fstack-protector-strong', '-D_FORTIFY_SOURCE=2'],
});
