// LectureClientOptions.request takes the signaling functions hosts have without
// a cast: types/signaling-request.fixture.ts compiles cleanly (strict, the
// repository's settings), and each line it marks as an expected error fails
// once its directive is removed (so the fixture cannot pass by accident).
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, '..', '..', '..');
const fixture = path.join(here, 'types', 'signaling-request.fixture.ts');
const DIRECTIVE = '// @ts-expect-error';

/** Diagnostics of one file compiled with the repository's compiler options: "line: message". */
function diagnostics(file: string): string[] {
  const base = ts.readConfigFile(path.join(root, 'tsconfig.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(base.config, ts.sys, root);
  const program = ts.createProgram([file], { ...options, noEmit: true });
  return ts
    .getPreEmitDiagnostics(program)
    .filter((d) => d.file?.fileName === file || d.file === undefined)
    .map((d) => {
      const line = d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0;
      return `${line}: ${ts.flattenDiagnosticMessageText(d.messageText, '\n')}`;
    });
}

test('every signaling function of the fixture fits LectureClientOptions.request without a cast', () => {
  assert.deepEqual(diagnostics(fixture), []);
});

test('each line the fixture marks as wrong is an error without its directive (control)', () => {
  const source = readFileSync(fixture, 'utf8').split('\n');
  const marked = source.flatMap((line, i) => (line.trimStart().startsWith(DIRECTIVE) ? [i + 2] : []));
  assert.ok(marked.length >= 4, `expected the wrong cases, found ${marked.length}`);
  // Same directory, so the fixture's relative imports resolve; removed afterwards.
  const copy = path.join(here, 'types', 'signaling-request.unmarked.generated.ts');
  try {
    mkdirSync(path.dirname(copy), { recursive: true });
    writeFileSync(copy, source.map((line) => (line.trimStart().startsWith(DIRECTIVE) ? '//' : line)).join('\n'));
    const errors = diagnostics(copy);
    const failingLines = new Set(errors.map((e) => Number(e.split(':')[0])));
    for (const line of marked) assert.ok(failingLines.has(line), `line ${line} compiles although it is marked wrong:\n${errors.join('\n')}`);
    assert.ok([...failingLines].every((line) => marked.includes(line)), `only the marked lines fail:\n${errors.join('\n')}`);
  } finally {
    rmSync(copy, { force: true });
  }
});
