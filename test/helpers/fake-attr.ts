import { mkdirSync, openSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { Stage } from '@attachkit/core';

/**
 * A fake host procfs has no directory for a process made during the attach:
 * this stage makes `<procRoot>/<attached pid>/attr/{current,exec,apparmor/current}`
 * (empty) as soon as the attached process exists, through the same hand-over
 * apply-lsm uses (receiveFd, in a phase before 'lsm'), and remembers the pid.
 */
export function fakeAttrFiles(procRoot: string): Stage & { readonly attr: (file: string) => string } {
  let pid: number | undefined;
  return {
    id: 'fake-attr-files', description: "the attached process's attr files in the fake procfs", after: ['resolve-target'], before: ['exec'],
    plan: (ctx) => {
      ctx.program.receiveFd('personality', 'a placeholder (/dev/null)', (attached) => {
        pid = attached.pid;
        mkdirSync(join(procRoot, String(pid), 'attr', 'apparmor'), { recursive: true });
        for (const file of ['current', 'exec', 'apparmor/current']) writeFileSync(join(procRoot, String(pid), 'attr', file), '');
        return openSync('/dev/null', 'r');
      });
    },
    attr: (file) => {
      if (pid === undefined) throw new Error('no attached process was made');
      return join(String(pid), 'attr', file);
    },
  };
}
