// Before packing (every package's prepack, run in its directory): refuse to
// ship compiled output whose source is gone (a renamed or deleted module
// that `tsc -b` leaves behind in dist/), nor a package that was not built.
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';

const dist = join('dist', 'src');
if (!existsSync(dist)) {
  console.error(`attachkit: cannot pack ${process.cwd()}: no ${dist} (run \`pnpm run build\`)`);
  process.exit(1);
}
const stale = readdirSync(dist, { recursive: true })
  .filter((f) => f.endsWith('.js') && !existsSync(join('src', f.replace(/\.js$/, '.ts'))))
  .map((f) => join(dist, f));
if (stale.length) {
  console.error(`attachkit: cannot pack ${process.cwd()}: compiled from no source any more: ${stale.join(', ')} (delete them, or run \`pnpm run clean\` then \`pnpm run build\`)`);
  process.exit(1);
}
