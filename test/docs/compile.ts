import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ts from 'typescript';

/** A TypeScript file made from a doc sample: its text and where its sample's lines start in it. */
export interface SampleUnit {
  /** File name without extension, unique in one compilation. */
  readonly name: string;
  readonly text: string;
  /** The sample's Markdown file and fence line, and the line of `text` (0-based) where the sample's first line is. */
  readonly origin: { readonly file: string; readonly line: number; readonly at: number };
  /** Lines of the sample in `text`: a diagnostic outside them is reported as the prelude's. */
  readonly lines: number;
}

/**
 * What docs/writing-a-stage.md tells a stage author to use: strict, ES
 * modules resolved as Node does (nodenext), and TypeScript's legacy
 * decorators for tsyringe's parameter decorators (no decorator metadata).
 */
export const OPTIONS = {
  target: 'ES2022',
  module: 'NodeNext',
  moduleResolution: 'NodeNext',
  lib: ['ES2023'],
  types: ['node'],
  strict: true,
  experimentalDecorators: true,
  emitDecoratorMetadata: false,
  // The packages' own .d.ts are checked by their build; the samples are what is under test here.
  skipLibCheck: true,
};

/**
 * Type-check each unit in a program of its own (written under `dir/src`, so
 * that `@attachkit/*` resolve from test/node_modules, as a consumer's
 * would): a module augmentation one sample imports (a plugin's target kind)
 * must not make another compile. Emit the units named in `emit` as ES
 * modules under `dir/out`. Returns each diagnostic as one line that names
 * the Markdown file and line.
 */
export function compileSamples(dir: string, units: readonly SampleUnit[], emit: readonly string[]): string[] {
  const src = join(dir, 'src');
  mkdirSync(src, { recursive: true });
  const { options, errors } = ts.convertCompilerOptionsFromJson({ ...OPTIONS, rootDir: src, outDir: join(dir, 'out') }, dir);
  if (errors.length) throw new Error(ts.flattenDiagnosticMessageText(errors[0]!.messageText, '\n'));
  // The packages' and node's declaration files are parsed once for all programs.
  const host = ts.createCompilerHost(options);
  const parsed = new Map<string, ts.SourceFile | undefined>();
  const getSourceFile = host.getSourceFile.bind(host);
  host.getSourceFile = (fileName, language, onError, fresh) => {
    if (fileName.startsWith(src)) return getSourceFile(fileName, language, onError, fresh);
    if (!parsed.has(fileName)) parsed.set(fileName, getSourceFile(fileName, language, onError, fresh));
    return parsed.get(fileName);
  };
  const lines: string[] = [];
  for (const unit of units) {
    const path = join(src, `${unit.name}.ts`);
    writeFileSync(path, unit.text);
    const program = ts.createProgram([path], options, host);
    const own = new Map([[path, unit]]);
    lines.push(...ts.getPreEmitDiagnostics(program).map((d) => describe(d, own)));
    if (emit.includes(unit.name)) lines.push(...program.emit(program.getSourceFile(path)).diagnostics.map((d) => describe(d, own)));
  }
  for (const name of emit) if (!units.some((u) => u.name === name)) throw new Error(`no unit ${name} to emit`);
  return lines;
}

function describe(d: ts.Diagnostic, units: ReadonlyMap<string, SampleUnit>): string {
  const message = ts.flattenDiagnosticMessageText(d.messageText, '\n  ');
  const unit = d.file && units.get(d.file.fileName);
  if (!d.file || d.start === undefined || !unit) return `${d.file?.fileName ?? '(program)'}: TS${d.code}: ${message}`;
  const { line, character } = d.file.getLineAndCharacterOfPosition(d.start);
  const inSample = line - unit.origin.at;
  const where = inSample >= 0 && inSample < unit.lines
    ? `${unit.origin.file}:${unit.origin.line + 1 + inSample}:${character + 1}`
    : `${unit.origin.file}:${unit.origin.line} (the test's ${inSample < 0 ? 'prelude' : 'epilogue'} of ${unit.name}, line ${line + 1})`;
  return `${where}: TS${d.code}: ${message}`;
}
