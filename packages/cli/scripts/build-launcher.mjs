// Builds the CLI's launcher from source (`pnpm run build`): for this machine,
// and prebuilt for every architecture the package ships.
import { buildAll } from '@attachkit/core/native-build';
import { LAUNCHER, root } from './launcher.mjs';

buildAll({ root, ...LAUNCHER });
