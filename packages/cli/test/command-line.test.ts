import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { AttachError, ErrorCodes } from '@attachkit/core';
import { splitCommand } from '../src/command-line.js';
import Attach from '../src/commands/attach.js';
import Doctor from '../src/commands/doctor.js';
import Stages from '../src/commands/stages.js';
import { completionScript } from '../src/completion.js';
import { toRequest } from '../src/flags.js';
import { errorJson, isUsageError, logOptionsFrom } from '../src/log.js';

const split = (argv: string[]) => splitCommand(argv, Attach.flags);

describe('the attach command line: where the options end', () => {
  it('should end the options at the first positional after the target, as the command', () => {
    assert.deepEqual(split(['-n', 'c1', 'ls', '-l', '/etc']), ['-n', 'c1', '--', 'ls', '-l', '/etc']);
    assert.deepEqual(split(['-n', 'c1', 'sh', '-c', 'echo a']), ['-n', 'c1', '--', 'sh', '-c', 'echo a']);
    assert.deepEqual(split(['--pid', '5', '-q', 'id', '-u', '--', 'x']), ['--pid', '5', '-q', '--', 'id', '-u', '--', 'x']);
    assert.deepEqual(split(['--oci=abc', 'id']), ['--oci=abc', '--', 'id']);
    assert.deepEqual(split(['-nc1', 'id']), ['-nc1', '--', 'id']);
    assert.deepEqual(split(['-qn', 'c1', 'id']), ['-qn', 'c1', '--', 'id']);
  });

  it('should take the first positional as the name without -n, --pid or --oci, and the next as the command', () => {
    assert.deepEqual(split(['c1', '-q', 'echo', '-n', 'hi']), ['c1', '-q', '--', 'echo', '-n', 'hi']);
    assert.deepEqual(split(['-q', 'c1']), ['-q', 'c1']);
  });

  it("should give a value-taking flag the next argument, unless that is an option (then oclif reports it, or -e alone means all)", () => {
    assert.deepEqual(split(['-n', 'c1', '-u', 'root', '-v', 'A=1', 'env']), ['-n', 'c1', '-u', 'root', '-v', 'A=1', '--', 'env']);
    assert.deepEqual(split(['-n', 'c1', '-e', '-q', 'id']), ['-n', 'c1', '-e', '-q', '--', 'id']);
    assert.deepEqual(split(['-n', 'c1', '-l', 'DEBUG', '-o', '-', 'true']), ['-n', 'c1', '-l', 'DEBUG', '-o', '-', '--', 'true']);
  });

  it('should keep `--` as the end of the options, and leave everything after it', () => {
    assert.deepEqual(split(['-n', 'c1', '--', 'ls', '-l']), ['-n', 'c1', '--', 'ls', '-l']);
    assert.deepEqual(split(['-n', 'c1', '--']), ['-n', 'c1', '--']);
  });

  it("should read -h, -? and --help among the options as --help, and leave the command's own", () => {
    for (const h of ['-h', '-?', '--help']) {
      assert.deepEqual(split([h]), ['--help']);
      assert.deepEqual(split(['-n', 'c1', h]), ['-n', 'c1', '--help']);
    }
    assert.deepEqual(split(['-n', 'c1', 'ls', '-h']), ['-n', 'c1', '--', 'ls', '-h']);
    assert.deepEqual(split(['-n', 'c1', 'ls', '--help']), ['-n', 'c1', '--', 'ls', '--help']);
  });

  it('should leave an unknown option for oclif to report', () => {
    assert.deepEqual(split(['-n', 'c1', '--bogus', 'x', 'y']), ['-n', 'c1', '--bogus', '--', 'x', 'y']);
  });
});

describe('the CLI checks of the command line', () => {
  it('should refuse an empty -L, -o, -f or -P with one line', () => {
    for (const [flag, shown] of [['pty-log', '-L/--pty-log'], ['logfile', '-o/--logfile'], ['rcfile', '-f/--rcfile'], ['lxcpath', '-P/--lxcpath']] as const) {
      assert.throws(() => toRequest({ name: 'c1', [flag]: '' }, []), new Error(`${shown}: an empty path`));
    }
  });

  it('should read --json among the options for the error output', () => {
    assert.equal(logOptionsFrom(['attach', '--json', '-n', 'c1']).json, true);
    assert.equal(logOptionsFrom(['attach', '-n', 'c1', '--', 'x', '--json']).json, false);
  });

  it('should describe an error as JSON with every member, AK_BAD_REQUEST for a usage error', () => {
    const usage = new Error('Nonexistent flag: --bogus');
    assert.ok(isUsageError(usage));
    assert.deepEqual(errorJson(usage.message, usage), { code: ErrorCodes.BAD_REQUEST, stage: null, operation: null, syscall: null, errno: null, message: usage.message });
    const failed = AttachError.fromErrno(ErrorCodes.STAGE_FAILED, { stage: 'join-namespaces', operation: 'setns(CLONE_NEWNS)', syscall: 'setns', errno: 1 });
    assert.ok(!isUsageError(failed));
    assert.deepEqual(errorJson(failed.message, failed), {
      code: 'AK_STAGE_FAILED', stage: 'join-namespaces', operation: 'setns(CLONE_NEWNS)', syscall: 'setns', errno: 1, message: failed.message,
    });
  });
});

describe('shell completion (bash)', () => {
  let dir: string;
  let script: string;
  before(() => {
    dir = mkdtempSync(join(tmpdir(), 'attachkit-completion-'));
    for (const name of ['web1', 'web2', 'db']) {
      mkdirSync(join(dir, 'lxc', name), { recursive: true });
      writeFileSync(join(dir, 'lxc', name, 'config'), '');
    }
    mkdirSync(join(dir, 'lxc', 'webnoconfig'));
    for (const [root, id, file] of [['runc', 'abc123', 'state.json'], ['crun', 'abd456', 'status'], ['runc', 'abzzz', 'other']]) {
      mkdirSync(join(dir, root!, id!), { recursive: true });
      writeFileSync(join(dir, root!, id!, file!), '{}');
    }
    script = join(dir, 'attachkit.bash');
    writeFileSync(script, completionScript('bash', { attach: Attach.flags, stages: Stages.flags, doctor: Doctor.flags }));
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  /** COMPREPLY for the words typed, the last one being completed (XDG_RUNTIME_DIR points at the fixture's OCI roots). */
  const complete = (...words: string[]): { reply: string[]; stderr: string } => {
    const r = spawnSync('bash', ['--norc', '--noprofile', '-c', `source "$1"; shift; COMP_WORDS=("$@"); COMP_CWORD=$(( $# - 1 )); _attachkit; printf '%s\\n' "\${COMPREPLY[@]}"`, 'bash', script, ...words], {
      encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, XDG_RUNTIME_DIR: dir },
    });
    assert.equal(r.status, 0, r.stderr);
    return { reply: r.stdout.split('\n').filter(Boolean).sort(), stderr: r.stderr };
  };

  it('should complete container names after -n, from -P (directories with a config file)', () => {
    assert.deepEqual(complete('attachkit', '-P', join(dir, 'lxc'), '-n', 'web').reply, ['web1', 'web2']);
    assert.deepEqual(complete('attachkit', '-P', join(dir, 'lxc'), '--name', '=', 'd').reply, ['db']);
    assert.deepEqual(complete('attachkit', 'stages', '--lxcpath', join(dir, 'lxc'), '-n', '').reply, ['db', 'web1', 'web2']);
    assert.deepEqual(complete('attachkit', '-P', join(dir, 'lxc'), 'w').reply, ['web1', 'web2']);
  });

  it('should complete OCI ids after --oci, from the state roots', () => {
    assert.deepEqual(complete('attachkit', '--oci', 'ab').reply, ['abc123', 'abd456']);
    assert.deepEqual(complete('attachkit', '--oci-root', join(dir, 'crun'), '--oci', '').reply, ['abd456']);
  });

  it('should complete the flags of the command after -n NAME without an error (no grep of the typed words)', () => {
    const { reply, stderr } = complete('attachkit', '-n', 'c1', '--cl');
    assert.deepEqual(reply, ['--clear-env']);
    assert.equal(stderr, '');
    assert.deepEqual(complete('attachkit', 'doctor', '--j').reply, ['--json']);
    assert.deepEqual(complete('attachkit', '-l', 'D').reply, ['DEBUG']);
    assert.ok(complete('attachkit', '').reply.includes('stages'));
  });

  it("should leave the command's words to the shell", () => {
    assert.deepEqual(complete('attachkit', '-n', 'c1', 'ls', '--cl').reply, []);
    assert.deepEqual(complete('attachkit', '-n', 'c1', '--', '--cl').reply, []);
  });
});
