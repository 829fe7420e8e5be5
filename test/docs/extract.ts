import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

/** One fenced TypeScript block of the documentation. */
export interface DocSample {
  /** The Markdown file, relative to the repository root (`docs/terminal.md`). */
  readonly file: string;
  /** 1-based line of the opening fence. */
  readonly line: number;
  /** Its first non-blank line, trimmed: with `file`, the key the classification table uses (stable when text above moves). */
  readonly first: string;
  /** The code, dedented by the fence's indentation (a block inside a list item). */
  readonly code: string;
}

/** Info strings that mean TypeScript: every one must be checked, so none may hide under a variant spelling. */
export const TS_LANGS: ReadonlySet<string> = new Set(['ts', 'typescript', 'tsx', 'mts', 'cts']);

/** The documentation whose samples the suite holds to: the README, docs/*.md, and each package's and example's README. */
export function docFiles(root: string): string[] {
  const readmes = (dir: string) => readdirSync(join(root, dir)).sort().map((d) => `${dir}/${d}/README.md`).filter((f) => existsSync(join(root, f)));
  return ['README.md', ...readdirSync(join(root, 'docs')).filter((f) => f.endsWith('.md')).sort().map((f) => `docs/${f}`), ...readmes('packages'), ...readmes('examples')];
}

/** Every block of one Markdown file in one of `langs` (CommonMark fences: ``` or ~~~, closed by a fence at least as long). */
export function extractSamples(root: string, file: string, langs: ReadonlySet<string> = TS_LANGS): DocSample[] {
  const lines = readFileSync(join(root, file), 'utf8').split('\n');
  const samples: DocSample[] = [];
  let open: { fence: string; indent: number; lang: string; line: number; body: string[] } | undefined;
  lines.forEach((text, i) => {
    if (!open) {
      const m = /^(\s*)(`{3,}|~{3,})\s*([^\s`{]*)/.exec(text);
      if (m) open = { fence: m[2]!, indent: m[1]!.length, lang: m[3]!.toLowerCase(), line: i + 1, body: [] };
      return;
    }
    const close = new RegExp(`^\\s*${open.fence[0] === '`' ? '`' : '~'}{${open.fence.length},}\\s*$`);
    if (close.test(text)) {
      if (langs.has(open.lang)) {
        const code = open.body.map((l) => l.slice(Math.min(open!.indent, /^\s*/.exec(l)![0].length))).join('\n');
        samples.push({ file, line: open.line, first: code.split('\n').find((l) => l.trim())?.trim() ?? '', code });
      }
      open = undefined;
      return;
    }
    open.body.push(text);
  });
  if (open) throw new Error(`${file}:${open.line}: a code fence that is never closed`);
  return samples;
}

/** Every TypeScript block of the documentation, in file order. */
export function extractAll(root: string): DocSample[] {
  return docFiles(root).flatMap((f) => extractSamples(root, f));
}
