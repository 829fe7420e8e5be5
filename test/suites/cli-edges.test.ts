import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { runCli } from '../helpers/cli.js';
import { DEFAULT_LXCPATH, ensureContainer, stopContainer, targetArgs, type ContainerSpec } from '../lxc/containers.js';

/**
 * The CLI's rough edges (issue 14, item 8, and item 7's kernel threads),
 * through the built launcher on a real busybox LXC container.
 */
const spec: ContainerSpec = { name: 'attachkit-cli-edges' };
const lines = (s: string) => s.split('\n').filter(Boolean);

describe('CLI edges', () => {
  let dir: string;
  before(() => {
    ensureContainer(spec);
    dir = mkdtempSync(join(tmpdir(), 'attachkit-cli-edges-'));
  });
  after(() => {
    stopContainer(spec);
    rmSync(dir, { recursive: true, force: true });
  });

  it('should print the attach help, with its options, for -h, -? and --help (status 0)', async () => {
    for (const flag of ['-h', '-?', '--help']) {
      const r = await runCli([flag]);
      assert.equal(r.code, 0, `${flag}: ${r.stderr}`);
      assert.equal(r.stderr, '', flag);
      for (const option of ['--name', '--pty-log', '--elevated-privileges', '--json', 'USAGE']) assert.ok(r.stdout.includes(option), `${flag}: ${option}`);
    }
    const detach = (await runCli(['--help'])).stdout.replace(/\s+/g, ' ');
    assert.match(detach, /-d, --detach .*print its pid \(the host's pid, not the one inside the container\)/);
    assert.match(detach, /--json errors as a JSON object on stderr/);
  });

  it("should end the options at the command's first word: `-n C ls -l /etc` runs `ls -l /etc`, `sh -c` is sh's", async () => {
    const [plain, dashed] = await Promise.all([runCli([...targetArgs(spec), 'ls', '-l', '/etc']), runCli([...targetArgs(spec), '--', 'ls', '-l', '/etc'])]);
    assert.equal(plain.code, 0, plain.stderr);
    assert.equal(plain.stdout, dashed.stdout);
    assert.match(plain.stdout, /^total /m);
    const sh = await runCli([...targetArgs(spec), 'sh', '-c', 'echo a; echo "$0" "$@"', 'zero', '-q', '--version']);
    assert.equal(sh.code, 0, sh.stderr);
    assert.equal(sh.stdout, 'a\nzero -q --version\n');
    // Without -n, the first positional is the name and the next starts the command.
    const named = await runCli(['-P', DEFAULT_LXCPATH, spec.name, '-q', 'echo', '-n', 'hi', '-h']);
    assert.equal(named.code, 0, named.stderr);
    assert.equal(named.stdout, 'hi -h');
  });

  it('should print usage errors even with -q, as lxc-attach, with status 1 (not 2); -q drops the line of a failed attach', async () => {
    const unknown = await runCli(['-q', ...targetArgs(spec), '--bogus', '--', 'true']);
    assert.equal(unknown.code, 1);
    assert.deepEqual(lines(unknown.stderr), ['attachkit: Nonexistent flag: --bogus']);
    const lxc = spawnSync('lxc-attach', ['-q', ...targetArgs(spec), '--bogus', '--', 'true'], { encoding: 'utf8' });
    assert.equal(lxc.status, unknown.code, 'lxc-attach: the same status');
    assert.match(lxc.stderr, /unrecognized option '--bogus'/, 'lxc-attach prints it too');

    const badValue = await runCli(['-q', ...targetArgs(spec), '-l', 'LOUD', '--', 'true']);
    assert.equal(badValue.code, 1);
    assert.equal(lines(badValue.stderr).length, 1);

    const failed = await runCli(['-q', '-n', 'attachkit-no-such-container', '--', 'true']);
    assert.equal(failed.code, 1);
    assert.equal(failed.stderr, '');
  });

  it('should print errors as JSON on stderr with --json, with or without -d', async () => {
    const failed = await runCli(['--json', '-n', 'attachkit-no-such-container', '--', 'true']);
    assert.equal(failed.code, 1);
    assert.equal(lines(failed.stderr).length, 1);
    const { error } = JSON.parse(failed.stderr) as { error: Record<string, unknown> };
    assert.deepEqual(Object.keys(error).sort(), ['code', 'errno', 'message', 'operation', 'stage', 'syscall']);
    assert.equal(error.code, 'AK_TARGET');
    assert.equal(error.stage, 'resolve-target');
    assert.match(String(error.message), /^resolve-target: container 'attachkit-no-such-container' is not defined/);

    const usage = await runCli(['--json', ...targetArgs(spec), '--bogus']);
    assert.equal(usage.code, 1);
    assert.deepEqual(JSON.parse(usage.stderr), {
      error: { code: 'AK_BAD_REQUEST', stage: null, operation: null, syscall: null, errno: null, message: 'Nonexistent flag: --bogus' },
    });

    // Without -d and without an error: accepted, the command's output unchanged.
    const ok = await runCli(['--json', ...targetArgs(spec), '--', 'echo', 'x']);
    assert.deepEqual([ok.code, ok.stdout, ok.stderr], [0, 'x\n', '']);
    const detached = await runCli(['--json', '-d', ...targetArgs(spec), '--', 'true']);
    assert.equal(detached.code, 0, detached.stderr);
    assert.ok(Number.isSafeInteger((JSON.parse(detached.stdout) as { pid: number }).pid));
  });

  it('should refuse an empty -L or -o path with one line', async () => {
    for (const flag of ['-L', '-o']) {
      const r = await runCli([...targetArgs(spec), flag, '', '--', 'true']);
      assert.equal(r.code, 1, flag);
      assert.equal(lines(r.stderr).length, 1, r.stderr);
      assert.match(r.stderr, /: an empty path$/m);
    }
  });

  it('should refuse a kernel thread as the target, naming resolve-target and why', async (t) => {
    const stat = readFileSync('/proc/2/stat', 'utf8');
    const flags = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[6]);
    if (!(flags & 0x00200000)) return t.skip('pid 2 is not a kernel thread here');
    const r = await runCli(['--pid', '2', '--', 'true']);
    assert.equal(r.code, 1);
    assert.equal(r.stdout, '');
    assert.deepEqual(lines(r.stderr), [
      'attachkit: resolve-target: pid 2 is a kernel thread: it has no namespaces of its own to enter and no userspace to run a command in',
    ]);
    // A process of the host is still a target.
    const self = await runCli(['--pid', String(process.pid), '--', 'true']);
    assert.equal(self.code, 0, self.stderr);
  });

  it("should show the stages for the container resolved, by what its config asks, and fail for an unknown one", async () => {
    const unknown = await runCli(['stages', '-n', 'attachkit-no-such-container']);
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /^attachkit: resolve-target: container 'attachkit-no-such-container' is not defined/);

    type Entry = { id: string; enabled: boolean; reason: string };
    const plan = async (args: string[]) => {
      const r = await runCli(['stages', '--json', ...args]);
      assert.equal(r.code, 0, r.stderr);
      return new Map((JSON.parse(r.stdout) as Entry[]).map((e) => [e.id, e]));
    };
    const bare = await plan(targetArgs(spec));
    assert.equal(bare.get('resolve-target')!.enabled, true);
    assert.equal(bare.get('load-seccomp')!.enabled, false, bare.get('load-seccomp')!.reason);
    assert.match(bare.get('load-seccomp')!.reason, /no seccomp profile/);
    assert.equal(bare.get('no-new-privs')!.enabled, false);

    // The same container, through an rcfile that asks for both.
    const profile = join(dir, 'seccomp');
    writeFileSync(profile, '2\ndenylist\nkexec_load errno 1\n');
    const rcfile = join(dir, 'asks.conf');
    writeFileSync(rcfile, `lxc.include = ${DEFAULT_LXCPATH}/${spec.name}/config\nlxc.no_new_privs = 1\nlxc.seccomp.profile = ${profile}\n`);
    const asks = await plan([...targetArgs(spec), '-f', rcfile]);
    assert.equal(asks.get('load-seccomp')!.enabled, true, asks.get('load-seccomp')!.reason);
    assert.equal(asks.get('no-new-privs')!.enabled, true);

    // -e LSM still turns seccomp off, whatever the container asks.
    assert.equal((await plan([...targetArgs(spec), '-f', rcfile, '-e', 'LSM'])).get('load-seccomp')!.enabled, false);
  });

  it('should refuse an -f rcfile with a key LXC does not know, naming the file and line, as lxc-attach refuses it', async () => {
    const rcfile = join(dir, 'typo.conf');
    writeFileSync(rcfile, `lxc.include = ${DEFAULT_LXCPATH}/${spec.name}/config\nlxc.enviroment = X=1\n`);
    const r = await runCli([...targetArgs(spec), '-f', rcfile, '--', 'true']);
    assert.equal(r.code, 1);
    assert.deepEqual(lines(r.stderr), [`attachkit: resolve-target: the config of container '${spec.name}': ${rcfile}:2: unsupported configuration key 'lxc.enviroment'`]);
    const lxc = spawnSync('lxc-attach', [...targetArgs(spec), '-f', rcfile, '--', 'true'], { encoding: 'utf8' });
    assert.equal(lxc.status, 1);
    assert.match(lxc.stderr, /Unsupported config key "lxc.enviroment"/);
  });

  it('should print the completion script, which completes the container names after -n', async () => {
    const script = await runCli(['autocomplete', 'bash']);
    assert.equal(script.code, 0, script.stderr);
    const file = join(dir, 'attachkit.bash');
    writeFileSync(file, script.stdout);
    const r = spawnSync('bash', ['--norc', '--noprofile', '-c', `source "$1"; COMP_WORDS=(attachkit -n "$2"); COMP_CWORD=2; _attachkit; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', file, spec.name.slice(0, -2)], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'],
    });
    assert.equal(r.stderr, '');
    assert.ok(lines(r.stdout).includes(spec.name), r.stdout);
  });
});
