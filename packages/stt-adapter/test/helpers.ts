// Shared bits of the stt-adapter tests: temp audio made with flite, a word error rate.
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import { speak } from '@lectern/testkit';

/**
 * The model these tests run on: English-only tiny.en (2-3× faster than the
 * server's default, base; some tests rely on it refusing other languages).
 */
export const TINY_EN = { WHISPER_MODEL: 'tiny.en' } as const;

/** About 9 s of flite speech. */
export const LECTURE_SENTENCE =
  'Good morning everyone. Today we will talk about the structure of the solar system ' +
  'and the orbits of the planets around the sun.';

/** About 35 s of flite speech: long enough to still be in flight after a few hundred ms. */
export const LONG_PARAGRAPH =
  'Welcome back to the course. In the last lecture we looked at the history of astronomy, ' +
  'from the first observations of the night sky to the telescopes of the modern age. ' +
  'Today we will move on to the planets themselves. We will start with the inner planets, ' +
  'which are small and rocky, and then we will look at the giant planets of the outer system, ' +
  'which are made mostly of gas and ice. At the end of the lecture there will be time for questions, ' +
  'so please write down anything that is not clear while we go through the material together.';

/** A temporary directory removed by `remove()`. */
export async function tempDir(prefix = 'lectern-stt-'): Promise<{ dir: string; file(name: string): string; remove(): Promise<void> }> {
  const dir = await fs.mkdtemp(path.join(os.tmpdir(), prefix));
  return {
    dir,
    file: (name) => path.join(dir, name),
    remove: () => fs.rm(dir, { recursive: true, force: true }),
  };
}

/** Speaks `text` into `<dir>/<name>.wav` and returns the path. */
export async function speech(dir: string, name: string, text: string): Promise<string> {
  const file = path.join(dir, `${name}.wav`);
  await speak(text, file);
  return file;
}

/** The testkit's word normalisation and word error rate (one implementation for every test). */
export { normalizeWords as words, wordErrorRate as wer } from '@lectern/testkit';

/** Milliseconds `promise` took to settle, and how it settled. */
export async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now();
  try {
    const value = await promise;
    return { ms: performance.now() - started, value };
  } catch (error) {
    return { ms: performance.now() - started, error };
  }
}
