/**
 * Strict parsers for the subtitle files Lectern writes, for tests: they refuse
 * anything a player may reject or misread (WebVTT after the W3C WebVTT syntax:
 * the `WEBVTT` signature, blank-line separated blocks, `HH:MM:SS.mmm` timings;
 * SubRip's de-facto rules: cues numbered from 1, `HH:MM:SS,mmm`), and check
 * what Lectern promises on top: cue times in order and never overlapping, every
 * cue lasting, no empty cue or line, no `-->` or raw `<` `&` in cue text.
 */
export interface ParsedCue {
  startMs: number;
  endMs: number;
  lines: string[];
}

export class SubtitleSyntaxError extends Error {
  override readonly name = 'SubtitleSyntaxError';
}

function fail(message: string): never {
  throw new SubtitleSyntaxError(message);
}

/** `HH:MM:SS.mmm` (hours two or more digits), minutes and seconds below 60. */
function parseTime(text: string, separator: '.' | ',', where: string): number {
  const m = new RegExp(`^(\\d{2,}):([0-5]\\d):([0-5]\\d)\\${separator}(\\d{3})$`).exec(text);
  if (!m) fail(`${where}: bad timestamp ${JSON.stringify(text)}`);
  return ((Number(m[1]) * 60 + Number(m[2])) * 60 + Number(m[3])) * 1000 + Number(m[4]);
}

function parseTiming(line: string, separator: '.' | ',', where: string): { startMs: number; endMs: number } {
  const parts = line.split(' --> ');
  if (parts.length !== 2) fail(`${where}: timing line must be "start --> end": ${JSON.stringify(line)}`);
  const startMs = parseTime(parts[0]!, separator, where);
  const endMs = parseTime(parts[1]!, separator, where);
  if (!(endMs > startMs)) fail(`${where}: cue ends (${endMs} ms) before or when it starts (${startMs} ms)`);
  return { startMs, endMs };
}

function checkText(lines: string[], where: string): void {
  if (lines.length === 0) fail(`${where}: empty cue`);
  for (const line of lines) {
    if (line.trim() === '') fail(`${where}: blank line inside a cue`);
    if (line.includes('-->')) fail(`${where}: "-->" in cue text`);
    if (line.includes('<')) fail(`${where}: raw "<" in cue text (a tag)`);
    if (/&(?!(amp|lt|gt);)/.test(line)) fail(`${where}: "&" that is not a character reference`);
    if (/[\r\u0000]/.test(line)) fail(`${where}: CR or NUL in cue text`);
  }
}

function checkOrder(cues: ParsedCue[]): void {
  for (let i = 1; i < cues.length; i++) {
    const previous = cues[i - 1]!;
    const cue = cues[i]!;
    if (!(cue.startMs > previous.startMs)) fail(`cue ${i + 1} starts at ${cue.startMs} ms, not after cue ${i} (${previous.startMs} ms)`);
    if (cue.startMs < previous.endMs) fail(`cue ${i + 1} starts at ${cue.startMs} ms, before cue ${i} ends (${previous.endMs} ms)`);
  }
}

/** Blocks of a file with LF line ends: separated by exactly one blank line, the file ending in one LF. */
function blocks(body: string, what: string): string[] {
  if (body.includes('\r')) fail(`${what}: CR in the file (Lectern writes LF)`);
  if (body === '') return [];
  if (!body.endsWith('\n') || body.endsWith('\n\n')) fail(`${what}: must end with exactly one line feed`);
  const parts = body.slice(0, -1).split('\n\n');
  if (parts.some((p) => p === '' || p.startsWith('\n'))) fail(`${what}: more than one blank line between blocks`);
  return parts;
}

/** Parses a WebVTT file; throws {@link SubtitleSyntaxError} at the first problem. */
export function parseWebVtt(text: string): ParsedCue[] {
  if (text.startsWith('\uFEFF')) text = text.slice(1);
  if (text === 'WEBVTT\n') return [];
  if (!text.startsWith('WEBVTT\n\n')) fail('WebVTT: must start with the line "WEBVTT" and a blank line');
  const cues = blocks(text.slice('WEBVTT\n\n'.length), 'WebVTT').map((block, i): ParsedCue => {
    const where = `WebVTT cue ${i + 1}`;
    let lines = block.split('\n');
    // An optional cue identifier line (no "-->").
    if (!lines[0]!.includes('-->')) lines = lines.slice(1);
    if (lines.length === 0) fail(`${where}: no timing line`);
    const { startMs, endMs } = parseTiming(lines[0]!, '.', where);
    const payload = lines.slice(1);
    checkText(payload, where);
    return { startMs, endMs, lines: payload };
  });
  checkOrder(cues);
  return cues;
}

/** Parses a SubRip file; throws {@link SubtitleSyntaxError} at the first problem. */
export function parseSrt(text: string): ParsedCue[] {
  const cues = blocks(text, 'SRT').map((block, i): ParsedCue => {
    const where = `SRT cue ${i + 1}`;
    const [counter = '', timing = '', ...payload] = block.split('\n');
    if (counter !== String(i + 1)) fail(`${where}: counter ${JSON.stringify(counter)}, expected ${i + 1}`);
    const { startMs, endMs } = parseTiming(timing, ',', where);
    checkText(payload, where);
    return { startMs, endMs, lines: payload };
  });
  checkOrder(cues);
  return cues;
}
