import { getSystemErrorMap } from 'node:util';

const systemErrors = getSystemErrorMap();
// Where libuv's wording differs from glibc's strerror, say what users see elsewhere.
const overrides: Record<number, string> = { 95: 'Operation not supported' };

/** The symbolic name of a Linux errno value, e.g. 1 → "EPERM". */
export function errnoName(errno: number): string {
  return systemErrors.get(-errno)?.[0] ?? `errno ${errno}`;
}

/** The strerror-style text of an errno value, e.g. 1 → "Operation not permitted". */
export function errnoMessage(errno: number): string {
  const text = overrides[errno] ?? systemErrors.get(-errno)?.[1];
  if (!text) return `unknown error ${errno}`;
  return text.charAt(0).toUpperCase() + text.slice(1);
}

/** "EPERM (Operation not permitted)": how every attachkit error ends. */
export function describeErrno(errno: number): string {
  return `${errnoName(errno)} (${errnoMessage(errno)})`;
}
