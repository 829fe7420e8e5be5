import assert from 'node:assert/strict';
import { closeSync } from 'node:fs';
import { describe, it } from 'node:test';
import { realLibc } from '@attachkit/core';
import {
  C_IFLAG, C_LFLAG, C_OFLAG, ECHO, ICANON, ICRNL, IEXTEN, ISIG, IXON, OPOST,
} from '../src/constants.js';
import { openPtyPair } from '../src/node-pty.js';
import { terminalFds } from '../src/terminals.js';
import { eofChar, getTermios, getWinsize, rawOutputTermios, rawTermios, winsizeCols, winsizeRows } from '../src/termios.js';

describe('termios and terminal fds (real ptys)', () => {
  it('should allocate a bare pair with node-pty, sized, spawning nothing', () => {
    const pair = openPtyPair(91, 37);
    try {
      assert.match(pair.path, /^\/dev\/pts\/\d+$/);
      const size = getWinsize(realLibc(), pair.slave);
      assert.deepEqual([winsizeRows(size), winsizeCols(size)], [37, 91]);
    } finally {
      closeSync(pair.master);
      closeSync(pair.slave);
    }
  });

  it("should make raw mode as ssh does: no echo, no line editing, no signal keys, no flow control, no output processing", () => {
    const pair = openPtyPair(80, 24);
    try {
      const cooked = getTermios(realLibc(), pair.slave);
      assert.equal(eofChar(cooked), 4, 'Ctrl-D');
      const raw = rawTermios(cooked);
      const lflag = raw.readUInt32LE(C_LFLAG);
      for (const flag of [ISIG, ICANON, ECHO, IEXTEN]) assert.equal(lflag & flag, 0);
      assert.equal(raw.readUInt32LE(C_IFLAG) & (ICRNL | IXON), 0);
      assert.equal(raw.readUInt32LE(C_OFLAG) & OPOST, 0);
      const outputOnly = rawOutputTermios(cooked);
      assert.equal(outputOnly.readUInt32LE(C_OFLAG) & OPOST, 0);
      assert.equal(outputOnly.readUInt32LE(C_LFLAG), cooked.readUInt32LE(C_LFLAG), 'input left alone');
    } finally {
      closeSync(pair.master);
      closeSync(pair.slave);
    }
  });

  it('should find the terminals among the stdio a request gives, and nothing in pipes', () => {
    const pair = openPtyPair(80, 24);
    try {
      assert.deepEqual(terminalFds({ target: { pid: 1 }, stdio: [pair.slave, 'pipe', pair.slave] }), [pair.slave, null, pair.slave]);
      assert.deepEqual(terminalFds({ target: { pid: 1 }, stdio: ['ignore', 'pipe', 'pipe'] }), [null, null, null]);
    } finally {
      closeSync(pair.master);
      closeSync(pair.slave);
    }
  });
});
