/**
 * Terminal constants of the architectures attachkit runs on (x86_64, arm64,
 * riscv64 share asm-generic's): include/uapi/asm-generic/ioctls.h,
 * termbits.h, fcntl.h. The ioctls take the kernel's struct termios (36 bytes),
 * not glibc's.
 */

export const TCGETS = 0x5401;
export const TCSETS = 0x5402;
/** TCSETS after the output written so far has been transmitted (tcsetattr TCSADRAIN). */
export const TCSETSW = 0x5403;
export const TIOCSCTTY = 0x540e;
export const TIOCGWINSZ = 0x5413;
export const TIOCSWINSZ = 0x5414;
/** The pty number of a master (pts/N). */
export const TIOCGPTN = 0x80045430;
/** Lock or unlock a new pty's slave (unlockpt(3)). */
export const TIOCSPTLCK = 0x40045431;
/** Open the slave of a master without a path lookup (Linux 4.13). */
export const TIOCGPTPEER = 0x5441;
export const O_NOCTTY = 0o400;
export const O_RDWR = 0o2;


/** struct termios: four tcflag_t, c_line, c_cc[19]. */
export const TERMIOS_SIZE = 36;
export const C_IFLAG = 0;
export const C_OFLAG = 4;
export const C_LFLAG = 12;
export const C_CC = 17;
/** struct winsize: rows, cols, xpixel, ypixel (unsigned short each). */
export const WINSIZE_SIZE = 8;

// c_cc indices
export const VEOF = 4;
export const VTIME = 5;
export const VMIN = 6;

// c_iflag
export const IGNPAR = 0o4;
export const ISTRIP = 0o40;
export const INLCR = 0o100;
export const IGNCR = 0o200;
export const ICRNL = 0o400;
export const IUCLC = 0o1000;
export const IXON = 0o2000;
export const IXANY = 0o4000;
export const IXOFF = 0o10000;
// c_oflag
export const OPOST = 0o1;
// c_lflag
export const ISIG = 0o1;
export const ICANON = 0o2;
export const ECHO = 0o10;
export const ECHOE = 0o20;
export const ECHOK = 0o40;
export const ECHONL = 0o100;
export const TOSTOP = 0o400;
export const IEXTEN = 0o100000;
