import os from 'node:os';
import { syncBuiltinESMExports } from 'node:module';

/** The home of a user without one, as Debian's nobody has: nothing can be written there. */
const NO_HOME = '/nonexistent';

/**
 * A caller whose uid has no passwd entry (a uid of its own, a DynamicUser)
 * must still attach. oclif asks node for the home directory when HOME is
 * unset and for the login shell when SHELL is; node then throws ENOENT.
 * Node's own answers get a home nobody has and no shell; the command's
 * environment is not touched.
 */
export function tolerateMissingPasswdEntry(): void {
  if (process.env.HOME && process.env.SHELL) return; // oclif asks node nothing then
  try {
    os.userInfo();
    return;
  } catch {
    // No entry for this uid: answer for it below.
  }
  // Answered once: the entry is missing, and node's home is HOME when set.
  const home = process.env.HOME || NO_HOME;
  const uid = process.getuid!();
  os.homedir = () => home;
  os.userInfo = (() => ({ uid, gid: process.getgid!(), username: String(uid), homedir: home, shell: null })) as typeof os.userInfo;
  syncBuiltinESMExports();
}
