/**
 * How each TypeScript block of the README and docs/*.md is checked, keyed by
 * its file and its first line. A block that is not in this table fails the
 * suite until it is classified here, and an entry that matches no block
 * fails it too: the check stays complete as the docs change.
 *
 * - `module`: a whole program or module, compiled as it is;
 * - `fragment`: compiled with `before` (imports and `declare`s of its free
 *   identifiers) and `after` (closing what `before` opened), both kept small;
 * - `unchecked`: cannot be compiled even so, with the reason.
 */
export type Classification =
  | { readonly kind: 'module' }
  | { readonly kind: 'fragment'; readonly before: string; readonly after?: string }
  | { readonly kind: 'unchecked'; readonly reason: string };

export interface Classified {
  readonly file: string;
  readonly first: string;
  readonly how: Classification;
}

const core = (names: string) => `import { ${names} } from '@attachkit/core';`;

export const CLASSIFIED: readonly Classified[] = [
  {
    file: 'README.md',
    first: "import { createDefaultPipeline } from '@attachkit/preset';   // the CLI's full isolation",
    how: {
      kind: 'fragment',
      before: [
        "import type { Duplex } from 'node:stream';",
        core('type Stage'),
        'declare const myAuditStage: Stage; declare const socket: Duplex;',
      ].join('\n'),
    },
  },
  { file: 'docs/distroless.md', first: "import { createDefaultPipeline } from '@attachkit/preset';", how: { kind: 'module' } },
  { file: 'docs/targets.md', first: "import { readFileSync } from 'node:fs';", how: { kind: 'module' } },
  {
    file: 'docs/terminal.md',
    first: "import { createPipeline } from '@attachkit/core';",
    how: { kind: 'fragment', before: 'declare const pid: number;' },
  },
  { file: 'docs/terminal.md', first: "import { createDefaultPipeline } from '@attachkit/preset';", how: { kind: 'module' } },
  {
    // The interface as documented, held to the real one both ways (a member added to either is caught).
    file: 'docs/writing-a-stage.md',
    first: "import type { AttachRequest, IntermediateProcess, StageContext, StageRef, StageToggle, SyscallDefinitions } from '@attachkit/core';",
    how: {
      kind: 'fragment',
      before: '',
      after: [
        "import type { Stage as RealStage } from '@attachkit/core';",
        'declare const documented: Stage; declare const real: Required<RealStage>;',
        'export const asReal: RealStage = documented; export const asDocumented: Required<Stage> = real;',
        'type SameKeys<A, B> = [keyof A] extends [keyof B] ? ([keyof B] extends [keyof A] ? true : false) : false;',
        'export const sameMembers: SameKeys<Stage, RealStage> = true;',
      ].join('\n'),
    },
  },
  {
    file: 'docs/writing-a-stage.md',
    first: 'const config = ctx.get(CONTAINER_CONFIG);',
    how: {
      kind: 'fragment',
      before: `${core('CONTAINER_CONFIG, type StageContext')}\nexport function profile(ctx: StageContext): string | undefined {`,
      after: 'return path;\n}',
    },
  },
  {
    file: 'docs/writing-a-stage.md',
    first: 'ctx.program.syscall(phase, name, args, { operation, optional });',
    how: {
      kind: 'fragment',
      before: [
        core('type Arg, type Phase, type StageContext, type SyscallName'),
        'declare const ctx: StageContext; declare const phase: Phase; declare const name: SyscallName; declare const args: Arg[];',
        'declare const operation: string; declare const optional: boolean;',
      ].join('\n'),
    },
  },
  {
    file: 'docs/writing-a-stage.md',
    first: 'class PinToCpu implements Stage {',
    how: { kind: 'fragment', before: core('bytes, imm, type Stage, type StageContext') },
  },
  {
    file: 'docs/writing-a-stage.md',
    first: '// struct sock_fprog { unsigned short len; struct sock_filter *filter; }',
    how: {
      kind: 'fragment',
      before: [
        core('bytes, imm, type StageContext'),
        "import type { CompiledFilter } from '@attachkit/seccomp-plugin';",
        'declare const ctx: StageContext; declare const filter: CompiledFilter; declare const path: string;',
        'const SECCOMP_SET_MODE_FILTER = 1;',
      ].join('\n'),
    },
  },
  {
    file: 'docs/writing-a-stage.md',
    first: 'toggle(request: AttachRequest): StageToggle {',
    how: { kind: 'fragment', before: `${core('type AttachRequest, type StageToggle')}\nexport class Toggled {`, after: '}' },
  },
  {
    file: 'docs/writing-a-stage.md',
    first: "readonly after = ['resolve-target', optional('drop-caps'), optional('no-new-privs')];",
    how: {
      kind: 'fragment',
      before: `${core('optional, type Stage, type StageContext')}\nexport class Ordered implements Stage {\nreadonly id = 'ordered'; readonly description = 'ordered';`,
      after: 'plan(_ctx: StageContext): void {}\n}',
    },
  },
  {
    file: 'docs/writing-a-stage.md',
    first: 'export function seccompPlugin(options: Partial<SeccompOptions> = {}) {',
    how: {
      kind: 'fragment',
      before: [
        core('definePlugin, registerPluginOptions, STAGE'),
        "import { defaultSeccompOptions, LoadSeccomp, SECCOMP_OPTIONS, type SeccompOptions } from '@attachkit/seccomp-plugin';",
      ].join('\n'),
    },
  },
  {
    // An excerpt of the class: its other members come from Stage through declaration merging.
    file: 'docs/writing-a-stage.md',
    first: '@injectable()',
    how: {
      kind: 'fragment',
      before: [
        core('inject, injectable, type Stage'),
        "import { SECCOMP_OPTIONS, type SeccompOptions } from '@attachkit/seccomp-plugin';",
        'export interface LoadSeccomp extends Stage {}',
      ].join('\n'),
    },
  },
  { file: 'docs/writing-a-stage.md', first: "import { appendFileSync } from 'node:fs';", how: { kind: 'module' } },
  {
    file: 'docs/writing-a-stage.md',
    first: 'const parent = container.createChildContainer();',
    how: {
      kind: 'fragment',
      before: [
        core('container, STAGE, type Stage'),
        "import { CGROUP_OPTIONS, defaultCgroupOptions } from '@attachkit/cgroup-plugin';",
        "import { createDefaultPipeline } from '@attachkit/preset';",
        'declare const MarkEnvironment: new () => Stage;',
      ].join('\n'),
    },
  },
  {
    file: 'docs/writing-a-stage.md',
    first: 'const pipeline = createPipeline({ plugins: [nsPlugin(), cgroupPlugin(), seccompPlugin()] });',
    how: {
      kind: 'fragment',
      before: [
        core('createPipeline, type AttachRequest'),
        "import { nsPlugin } from '@attachkit/ns-plugin'; import { cgroupPlugin } from '@attachkit/cgroup-plugin'; import { seccompPlugin } from '@attachkit/seccomp-plugin';",
        'declare const request: AttachRequest;',
      ].join('\n'),
    },
  },
  // Each package's README: how to use it, as a whole module.
  ...['caps', 'cgroup', 'lsm', 'lxc', 'ns', 'oci', 'pty', 'seccomp'].map((name): Classified => ({
    file: `packages/${name}-plugin/README.md`, first: "import { createPipeline } from '@attachkit/core';", how: { kind: 'module' },
  })),
  { file: 'packages/core/README.md', first: "import { createPipeline, isAttachError } from '@attachkit/core';", how: { kind: 'module' } },
  { file: 'packages/host-plugin/README.md', first: "import { createDefaultPipeline } from '@attachkit/preset';", how: { kind: 'module' } },
  { file: 'packages/preset/README.md', first: "import { createDefaultPipeline } from '@attachkit/preset';", how: { kind: 'module' } },
];
