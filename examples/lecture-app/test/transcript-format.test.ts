// The page's transcript downloads (web/transcript-format.ts): plain text and WebVTT.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import {
  clockTimestamp,
  toPlainText,
  toWebVtt,
  transcriptFileName,
  vttCueText,
  vttTimestamp,
} from '../web/transcript-format.js';

const CUE_TIMING = /^\d{2,}:\d{2}:\d{2}\.\d{3} --> \d{2,}:\d{2}:\d{2}\.\d{3}$/;

test('timestamps: HH:MM:SS.mmm, rounded to the millisecond, hours past 99, nonsense clamped to zero', () => {
  assert.equal(vttTimestamp(0), '00:00:00.000');
  assert.equal(vttTimestamp(5.0004), '00:00:05.000');
  assert.equal(vttTimestamp(65.4567), '00:01:05.457');
  assert.equal(vttTimestamp(3723.5), '01:02:03.500');
  assert.equal(vttTimestamp(59.9996), '00:01:00.000');
  assert.equal(vttTimestamp(100 * 3600), '100:00:00.000');
  assert.equal(vttTimestamp(-3), '00:00:00.000');
  assert.equal(vttTimestamp(Number.NaN), '00:00:00.000');
  assert.equal(clockTimestamp(3723.5), '01:02:03');
});

test('plain text: one [HH:MM:SS] line per entry, in lecture order, line breaks folded, empty entries left out', () => {
  const text = toPlainText([
    { start: 12.2, end: 15, text: 'second\nline' },
    { start: 1, end: 4.5, text: '  first  ' },
    { start: 20, end: 21, text: '   ' },
  ]);
  assert.equal(text, '[00:00:01] first\n[00:00:12] second line\n');
  assert.equal(toPlainText([]), '');
});

test('WebVTT: header, numbered cues with start --> end, blank line between cues', () => {
  const vtt = toWebVtt([
    { start: 30, end: 34.25, text: 'Then the second.' },
    { start: 0.5, end: 4, text: 'First words.' },
  ]);
  assert.equal(vtt, 'WEBVTT\n\n1\n00:00:00.500 --> 00:00:04.000\nFirst words.\n\n2\n00:00:30.000 --> 00:00:34.250\nThen the second.\n');
  assert.equal(toWebVtt([]), 'WEBVTT\n');
  assertValidVtt(vtt);
});

test('WebVTT cue text: "-->" and markup characters escaped, blank lines dropped so the cue does not end early', () => {
  assert.equal(vttCueText('a --> b'), 'a --&gt; b');
  assert.equal(vttCueText('x < y & z > w'), 'x &lt; y &amp; z &gt; w');
  assert.equal(vttCueText('one\n\n  \r\ntwo\rthree'), 'one\ntwo\nthree');
  const vtt = toWebVtt([{ start: 1, end: 2, text: 'arrow --> here\n\nafter a blank line' }]);
  assert.ok(!vtt.includes('arrow -->'), vtt);
  assertValidVtt(vtt);
});

test('WebVTT: an entry without duration still ends after it starts', () => {
  const vtt = toWebVtt([{ start: 7, end: 7, text: 'instant' }, { start: 9, end: 8, text: 'backwards' }]);
  assert.match(vtt, /00:00:07\.000 --> 00:00:07\.001/);
  assert.match(vtt, /00:00:09\.000 --> 00:00:09\.001/);
  assertValidVtt(vtt);
});

test('file names keep only safe characters', () => {
  assert.equal(transcriptFileName('demo', 'vtt'), 'lecture-demo-transcript.vtt');
  assert.equal(transcriptFileName('../a b', 'txt'), 'lecture-___a_b-transcript.txt');
  assert.equal(transcriptFileName('', 'txt'), 'lecture-lecture-transcript.txt');
});

/** The structure a WebVTT parser expects: header block, then blocks of [id], timing, ≥1 payload line. */
function assertValidVtt(vtt: string): void {
  const blocks = vtt.replace(/\n$/, '').split('\n\n');
  assert.equal(blocks[0], 'WEBVTT');
  for (const block of blocks.slice(1)) {
    const lines = block.split('\n');
    assert.ok(lines.length >= 3, `cue has id, timing and text: ${JSON.stringify(block)}`);
    assert.match(lines[1]!, CUE_TIMING);
    for (const payload of lines.slice(2)) {
      assert.ok(payload.trim() !== '' && !payload.includes('-->'), `payload line: ${JSON.stringify(payload)}`);
    }
  }
}
