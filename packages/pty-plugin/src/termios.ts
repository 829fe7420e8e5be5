import type { Libc } from '@attachkit/core';
import {
  C_CC, C_IFLAG, C_LFLAG, C_OFLAG, ECHO, ECHOE, ECHOK, ECHONL, ICANON, ICRNL, IEXTEN, IGNCR, IGNPAR, INLCR, ISIG,
  ISTRIP, IUCLC, IXANY, IXOFF, IXON, OPOST, TCGETS, TCSETS, TCSETSW, TERMIOS_SIZE, TIOCGWINSZ, TIOCSWINSZ, TOSTOP,
  VEOF, VMIN, VTIME, WINSIZE_SIZE,
} from './constants.js';

/** A terminal's settings (the kernel's struct termios). */
export function getTermios(libc: Libc, fd: number): Buffer {
  const t = Buffer.alloc(TERMIOS_SIZE);
  libc.ioctl(fd, TCGETS, t);
  return t;
}

/**
 * Set them. `drain` waits until what was written has been transmitted
 * (TCSADRAIN), for restoring. Never TCSAFLUSH: that discards input typed
 * but not yet read, which is how lxc-attach loses keystrokes.
 */
export function setTermios(libc: Libc, fd: number, termios: Buffer, drain = false): void {
  libc.ioctl(fd, drain ? TCSETSW : TCSETS, termios);
}

/**
 * Raw mode for the caller's terminal while it is proxied: ssh's settings
 * (sshtty.c enter_raw_mode), which LXC's lxc_setup_tios means to copy — no
 * echo, no line editing, no signals from Ctrl-C or Ctrl-\ (they travel as
 * bytes to the command's terminal), no flow control, no CR/NL mapping. Output
 * processing off as well (ssh does; LXC keeps OPOST|ONLCR): the command's own
 * terminal already turned its NL into CR NL, and a second pass would change
 * the bytes.
 */
export function rawTermios(original: Buffer): Buffer {
  const t = Buffer.from(original);
  let iflag = t.readUInt32LE(C_IFLAG);
  iflag |= IGNPAR;
  iflag &= ~(ISTRIP | INLCR | IGNCR | ICRNL | IXON | IXANY | IXOFF | IUCLC);
  t.writeUInt32LE(iflag >>> 0, C_IFLAG);
  t.writeUInt32LE((t.readUInt32LE(C_LFLAG) & ~(ISIG | ICANON | ECHO | ECHOE | ECHOK | ECHONL | IEXTEN | TOSTOP)) >>> 0, C_LFLAG);
  t.writeUInt32LE(outputRawFlag(t), C_OFLAG);
  t[C_CC + VMIN] = 1;
  t[C_CC + VTIME] = 0;
  return t;
}

/** Only output processing off: for a terminal that receives the pty's output but is not read from. */
export function rawOutputTermios(original: Buffer): Buffer {
  const t = Buffer.from(original);
  t.writeUInt32LE(outputRawFlag(t), C_OFLAG);
  return t;
}

function outputRawFlag(t: Buffer): number {
  return (t.readUInt32LE(C_OFLAG) & ~OPOST) >>> 0;
}

/** Whether a terminal's settings are canonical mode (line editing). */
export function isCanonical(termios: Buffer): boolean {
  return (termios.readUInt32LE(C_LFLAG) & ICANON) !== 0;
}

/** The same settings with no end-of-file character (VEOF disabled: _POSIX_VDISABLE, a NUL). */
export function withoutEof(original: Buffer): Buffer {
  const t = Buffer.from(original);
  t[C_CC + VEOF] = 0;
  return t;
}

/** The end-of-file character of a terminal's settings (Ctrl-D unless changed). */
export function eofChar(termios: Buffer): number {
  return termios[C_CC + VEOF]!;
}

/** The window size (struct winsize, as is). */
export function getWinsize(libc: Libc, fd: number): Buffer {
  const w = Buffer.alloc(WINSIZE_SIZE);
  libc.ioctl(fd, TIOCGWINSZ, w);
  return w;
}

export function setWinsize(libc: Libc, fd: number, winsize: Buffer): void {
  libc.ioctl(fd, TIOCSWINSZ, winsize);
}

export const winsizeRows = (w: Buffer): number => w.readUInt16LE(0);
export const winsizeCols = (w: Buffer): number => w.readUInt16LE(2);

/** A struct winsize of cols × rows (no pixel sizes). */
export function winsize(cols: number, rows: number): Buffer {
  const w = Buffer.alloc(WINSIZE_SIZE);
  w.writeUInt16LE(rows, 0);
  w.writeUInt16LE(cols, 2);
  return w;
}
