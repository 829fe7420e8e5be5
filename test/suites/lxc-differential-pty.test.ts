import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CLI } from '../helpers/cli.js';
import { q, underScript, type ScriptResult } from '../helpers/terminal.js';
import { ensureContainer, rootfs, stopContainer, targetArgs, type ContainerSpec } from '../lxc/containers.js';

/**
 * The terminal (issue 7), the same attach through lxc-attach 5 and attachkit
 * under script(1), so that every std fd is a terminal, on real LXC
 * containers. Where the two differ on purpose, the test says how:
 * lxc-attach leaves output processing on for the caller's terminal, so its
 * CR LF arrive as CR CR LF; attachkit's bytes are the command's own.
 * This file owns its containers.
 */

const CONTAINERS: readonly ContainerSpec[] = [{ name: 'attachkit-pty-priv' }, { name: 'attachkit-pty-unpriv', unpriv: true }];
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

/** A shell line running one tool with these arguments. */
const line = (tool: 'lxc' | 'attachkit', args: readonly string[]) =>
  (tool === 'lxc' ? ['lxc-attach', ...args] : [CLI, ...args]).map(q).join(' ');

/** The terminal's bytes with lxc-attach's extra CR taken out: what the command's pty sent. */
const unCR = (r: ScriptResult) => Buffer.from(r.output.toString('latin1').replace(/\r+\n/g, '\r\n'), 'latin1');

describe('the terminal: attachkit and lxc-attach 5 under script(1) (real LXC)', () => {
  let scratch: string;
  before(() => {
    for (const c of CONTAINERS) ensureContainer(c);
    scratch = mkdtempSync(join(tmpdir(), 'attachkit-lxc-pty-'));
  });
  after(() => {
    for (const c of CONTAINERS) stopContainer(c);
    rmSync(scratch, { recursive: true, force: true });
  });

  for (const c of CONTAINERS) {
    describe(`${c.unpriv ? 'unprivileged' : 'privileged'} container ${c.name}`, () => {
      /** The same shell line around each tool, under script. */
      const both = async (around: (tool: string) => string, args: readonly string[]) => ({
        lxc: await underScript(around(line('lxc', [...targetArgs(c), ...args]))),
        attachkit: await underScript(around(line('attachkit', [...targetArgs(c), ...args]))),
      });

      it("should size the pty as the caller's terminal, and exit with the command's status", async () => {
        const r = await both((t) => `stty rows 33 cols 77; ${t}`, ['--', 'sh', '-c', 'stty size; exit 4']);
        assert.equal(r.lxc.code, 4);
        assert.equal(r.attachkit.code, 4);
        assert.equal(r.attachkit.output.toString(), '33 77\r\n');
        assert.equal(r.lxc.output.toString(), '33 77\r\r\n', 'lxc-attach: output processing twice');
      });

      it('should put the pty on the same std fds for every redirection', async () => {
        const probe = 'for n in 0 1 2; do if [ -t $n ]; then echo -n "$n:tty "; else echo -n "$n:- "; fi; done > /tmp/fds';
        const result = `${rootfs(c)}/tmp/fds`;
        writeFileSync(`${scratch}/in`, '');
        for (let mask = 0; mask < 8; mask++) {
          const redirections = [`<${scratch}/in`, `>${scratch}/out`, `2>${scratch}/err`].filter((_, n) => (mask & (1 << n)) !== 0).join(' ');
          const seen: string[] = [];
          for (const tool of ['lxc', 'attachkit'] as const) {
            const r = await underScript(`${line(tool, [...targetArgs(c), '--', 'sh', '-c', probe])} ${redirections}`);
            assert.equal(r.code, 0, `${tool} ${redirections}`);
            seen.push(readFileSync(result, 'utf8'));
          }
          assert.equal(seen[1], seen[0], `redirected: ${redirections || 'none'}`);
        }
      });

      it('should deliver 1 MB of random data as hexdump prints it (LXC regression case), attachkit byte for byte', async () => {
        writeFileSync(`${rootfs(c)}/tmp/random`, randomBytes(1_000_000), { mode: 0o644 });
        const r = await both((t) => t, ['--', 'hexdump', '/tmp/random']);
        assert.equal(r.lxc.code, 0);
        assert.equal(r.attachkit.code, 0);
        assert.equal(sha256(r.attachkit.output), sha256(unCR(r.lxc)));
        assert.ok(!/\r\r/.test(r.attachkit.output.toString('latin1')), 'attachkit: one CR per line');
      });

      it('should write the same -L log, mode 0600', async () => {
        const logs = { lxc: `${scratch}/lxc.log`, attachkit: `${scratch}/attachkit.log` };
        for (const tool of ['lxc', 'attachkit'] as const) {
          rmSync(logs[tool], { force: true });
          assert.equal((await underScript(line(tool, [...targetArgs(c), '-L', logs[tool], '--', 'sh', '-c', 'echo one; echo two >&2']))).code, 0);
        }
        assert.equal(readFileSync(logs.attachkit, 'utf8'), readFileSync(logs.lxc, 'utf8'));
        assert.equal(readFileSync(logs.attachkit, 'utf8'), 'one\r\ntwo\r\n');
        for (const log of Object.values(logs)) assert.equal(statSync(log).mode & 0o777, 0o600, log);
      });

      it('should give a pty of the container\'s own devpts, named and owned inside as lxc-attach\'s', async () => {
        // Which pts/N each gets depends on what else is open: compare the shape, the owner and the mode.
        const probe = 'tty; stat -c "%u:%g %a" "$(tty)"; [ -e "$(tty)" ] && echo exists';
        const r = await both((t) => t, ['--', 'sh', '-c', probe]);
        const shape = (out: Buffer) => out.toString().replace(/\r+\n/g, '\n').replace(/\/dev\/pts\/\d+/, '/dev/pts/N');
        assert.equal(r.attachkit.code, 0, r.attachkit.output.toString());
        assert.match(r.attachkit.output.toString(), /^\/dev\/pts\/\d+\r\n/);
        assert.equal(shape(r.attachkit.output), shape(r.lxc.output));
      });
    });
  }
});
