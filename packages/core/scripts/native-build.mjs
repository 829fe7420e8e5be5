// Building, shipping and installing attachkit's static C programs (core's
// executor, the CLI's launcher). The build compiles one for this machine and
// a prebuilt one per architecture (build/prebuilt/linux-<arch>/, in the
// tarball); the install copies the prebuilt one that fits the machine and
// compiles only when none does, so that installing needs no C compiler.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, copyFileSync, existsSync, mkdirSync, openSync, readSync, closeSync, renameSync, statSync } from 'node:fs';
import { dirname, join } from 'node:path';

/** The architectures shipped prebuilt: node's name → the GNU triple of its cross compiler and the ELF e_machine. */
export const ARCHES = {
  x64: { triple: 'x86_64-linux-gnu', machine: 62 },
  arm64: { triple: 'aarch64-linux-gnu', machine: 183 },
};

const works = (cc) => spawnSync(cc, ['--version'], { stdio: 'ignore' }).status === 0;

/**
 * The compiler for an architecture: this machine's (CC, else musl-gcc, else
 * cc: musl's start-up does not trap to the hypervisor as glibc's CPUID does),
 * or Debian's cross compiler (static glibc; no musl cross compiler there).
 */
export function compilerFor(arch) {
  if (arch === process.arch) return process.env.CC || (works('musl-gcc') ? 'musl-gcc' : 'cc');
  const cc = `${ARCHES[arch].triple}-gcc`;
  return works(cc) ? cc : undefined;
}

/** The ELF e_machine of a file, or undefined when it is not an ELF file. */
export function elfMachine(path) {
  const header = Buffer.alloc(20);
  let fd;
  try {
    fd = openSync(path, 'r');
    if (readSync(fd, header, 0, 20, 0) < 20) return undefined;
  } catch {
    return undefined;
  } finally {
    if (fd !== undefined) closeSync(fd);
  }
  return header.readUInt32BE(0) === 0x7f454c46 ? header.readUInt16LE(18) : undefined;
}

export const prebuiltPath = (root, arch, name) => join(root, 'build', 'prebuilt', `linux-${arch}`, name);

/** Compiles source into out with cc; throws with the command line on failure. */
export function compile(cc, flags, source, out) {
  mkdirSync(dirname(out), { recursive: true });
  const args = ['-std=gnu11', '-O2', '-static', '-s', '-Wall', '-Wextra', '-Werror', ...flags, '-o', out, source];
  try {
    execFileSync(cc, args, { stdio: 'inherit' });
  } catch (err) {
    throw new Error(err.code === 'ENOENT' ? `there is no ${cc} on PATH` : `${cc} ${args.join(' ')} failed`);
  }
}

/** Copies a file into place whole (a rename), executable. */
function install(from, to) {
  mkdirSync(dirname(to), { recursive: true });
  const tmp = `${to}.${process.pid}.tmp`;
  copyFileSync(from, tmp);
  chmodSync(tmp, 0o755);
  renameSync(tmp, to);
}

/**
 * `pnpm run build`: build/<name> for this machine, and build/prebuilt/ for
 * every architecture there is a compiler for (scripts/setup.sh installs
 * Debian's cross compilers); a missing one is a warning here, and an error
 * when packing (checkPrebuilt).
 */
export function buildAll({ root, name, source, flags, what }) {
  const out = join(root, 'build', name);
  try {
    compile(compilerFor(process.arch), flags, source, out);
  } catch (err) {
    console.error(`attachkit: building the ${what} failed: ${err.message}`);
    console.error('attachkit: a C compiler and a static libc (Debian: musl-tools, or gcc and libc6-dev) are required');
    process.exit(1);
  }
  for (const arch of Object.keys(ARCHES)) {
    const prebuilt = prebuiltPath(root, arch, name);
    if (arch === process.arch) {
      install(out, prebuilt);
      continue;
    }
    const cc = compilerFor(arch);
    if (!cc) {
      console.error(`attachkit: no ${ARCHES[arch].triple}-gcc: the ${what} for linux-${arch} is not built (scripts/setup.sh installs it)`);
      continue;
    }
    try {
      compile(cc, flags, source, prebuilt);
    } catch (err) {
      console.error(`attachkit: building the ${what} for linux-${arch} failed: ${err.message}`);
      process.exit(1);
    }
  }
}

/**
 * The package's install script: the shipped binary for this machine when
 * there is one (an ELF file for its architecture), compiled from source
 * only when none fits.
 */
export function installNative({ root, name, source, flags, what }) {
  const out = join(root, 'build', name);
  const arch = ARCHES[process.arch];
  const prebuilt = arch && process.platform === 'linux' ? prebuiltPath(root, process.arch, name) : undefined;
  if (prebuilt && elfMachine(prebuilt) === arch.machine) {
    install(prebuilt, out);
    return;
  }
  try {
    compile(compilerFor(process.arch), flags, source, out);
  } catch (err) {
    console.error(`attachkit: no prebuilt ${what} for ${process.platform}-${process.arch}, and building it failed: ${err.message}`);
    console.error('attachkit: a C compiler and a static libc (Debian: musl-tools, or gcc and libc6-dev) are required');
    process.exit(1);
  }
}

/** Before packing: a prebuilt binary for every architecture, of that architecture, not older than its source. */
export function checkPrebuilt({ root, name, source, what }) {
  const problems = [];
  for (const [arch, { machine }] of Object.entries(ARCHES)) {
    const prebuilt = prebuiltPath(root, arch, name);
    if (!existsSync(prebuilt)) problems.push(`${prebuilt} is missing`);
    else if (elfMachine(prebuilt) !== machine) problems.push(`${prebuilt} is not a linux-${arch} ELF file`);
    else if (statSync(prebuilt).mtimeMs < statSync(source).mtimeMs) problems.push(`${prebuilt} is older than ${source}`);
  }
  if (problems.length) {
    console.error(`attachkit: cannot pack the ${what}: ${problems.join('; ')} (run \`pnpm run build\` after scripts/setup.sh)`);
    process.exit(1);
  }
}
