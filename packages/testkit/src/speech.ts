import { execFile } from 'node:child_process';
import { promisify } from 'node:util';

const run = promisify(execFile);

/** Speaks `text` with Debian's flite (voice slt, 16 kHz mono WAV) into `wavPath`. */
export async function speak(text: string, wavPath: string): Promise<void> {
  await run('flite', ['-voice', 'slt', '-t', text, '-o', wavPath]);
}

/** Duration of an audio file in seconds, from ffprobe. */
export async function audioDuration(file: string): Promise<number> {
  const { stdout } = await run('ffprobe', [
    '-v', 'error', '-show_entries', 'format=duration', '-of', 'default=nw=1:nk=1', file,
  ]);
  return Number(stdout.trim());
}
