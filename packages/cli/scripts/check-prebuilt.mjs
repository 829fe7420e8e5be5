// Before packing (prepack): the tarball must hold the launcher for every
// architecture it promises.
import { checkPrebuilt } from '@attachkit/core/native-build';
import { LAUNCHER, root } from './launcher.mjs';

checkPrebuilt({ root, ...LAUNCHER });
