// The README cannot drift from the packages: every ```ts block in README.md is
// compiled (tsc, strict, the same settings as the repository) against the
// packages' real sources, with only the host's own functions declared
// (test/readme-host.d.ts). A failure names the README line.
import assert from 'node:assert/strict';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import ts from 'typescript';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const outDir = path.join(root, 'test-output', 'readme-examples');

interface Block {
  /** 1-based README line of the block's first code line. */
  line: number;
  code: string;
}

function tsBlocks(markdown: string): Block[] {
  const blocks: Block[] = [];
  const lines = markdown.split('\n');
  for (let i = 0; i < lines.length; i++) {
    if (lines[i]!.trim() !== '```ts') continue;
    const start = i + 1;
    let end = start;
    while (end < lines.length && lines[end]!.trim() !== '```') end++;
    blocks.push({ line: start + 1, code: lines.slice(start, end).join('\n') });
    i = end;
  }
  return blocks;
}

/** Compiles each snippet as its own ES module; returns "README:line: message" per diagnostic. */
function check(snippets: Block[], origin: string): string[] {
  rmSync(outDir, { recursive: true, force: true });
  mkdirSync(outDir, { recursive: true });
  writeFileSync(path.join(outDir, 'package.json'), '{ "type": "module" }\n');
  const files = snippets.map((block, i) => {
    const file = path.join(outDir, `example-${i + 1}.ts`);
    // `export {}` keeps a snippet without imports a module (top-level await).
    writeFileSync(file, `${block.code}\nexport {};\n`);
    return file;
  });
  const base = ts.readConfigFile(path.join(root, 'tsconfig.base.json'), ts.sys.readFile);
  const { options } = ts.parseJsonConfigFileContent(
    { ...base.config, compilerOptions: { ...base.config.compilerOptions, noEmit: true, types: ['node'], lib: ['ES2023', 'DOM', 'DOM.Iterable'] } },
    ts.sys,
    root,
  );
  const program = ts.createProgram([...files, path.join(root, 'test', 'readme-host.d.ts')], options);
  return ts.getPreEmitDiagnostics(program).map((d) => {
    const message = ts.flattenDiagnosticMessageText(d.messageText, '\n');
    const index = d.file ? files.indexOf(d.file.fileName) : -1;
    if (!d.file || d.start === undefined || index === -1) return `${d.file?.fileName ?? 'tsc'}: ${message}`;
    const { line } = d.file.getLineAndCharacterOfPosition(d.start);
    return `${origin}:${snippets[index]!.line + line}: ${message}`;
  });
}

test("README.md's TypeScript examples compile against the packages", () => {
  const blocks = tsBlocks(readFileSync(path.join(root, 'README.md'), 'utf8'));
  assert.ok(blocks.length >= 3, `expected the server, transcription and client examples, found ${blocks.length} ts blocks`);
  const errors = check(blocks, 'README.md');
  assert.deepEqual(errors, [], `README examples do not compile:\n${errors.join('\n')}`);
});

test('the check catches an example that misuses an API (control)', () => {
  const errors = check(
    [
      { line: 1, code: "import { RoomManager } from '@lectern/server-sdk';\nawait RoomManager.create({ workers: { numWorkers: 'four' } });" },
      { line: 1, code: "import { LectureClient } from '@lectern/client-sdk';\nnew LectureClient({ request: 42 });" },
    ],
    'control',
  );
  assert.ok(errors.some((e) => e.startsWith('control:2:') && /numWorkers|string/.test(e)), errors.join('\n'));
  assert.equal(errors.length, 2, errors.join('\n'));
});
