// WebVTT / SRT export of a stored transcript, and Korean (and other scripts) in
// the offline summarizer: sentence ends, graphemes, no broken characters.
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  OfflineSummarizer,
  graphemeLength,
  toSrt,
  toWebVtt,
  truncateGraphemes,
  type TranscriptEntry,
} from '@lectern/server-sdk/transcription';
import { splitKoreanSentenceEnds } from '../src/transcription/text.js';

const entry = (index: number, start: number, end: number, text: string): TranscriptEntry => ({ batchId: 'b0', index, start, end, text });

/** No lone surrogates, no U+FFFD: every character survived intact. */
function assertWellFormed(text: string): void {
  assert.ok(!/\p{Cs}/u.test(text), `lone surrogate in ${JSON.stringify(text)}`);
  assert.ok(!text.includes('\uFFFD'), `replacement character in ${JSON.stringify(text)}`);
}

/** Parses a WebVTT file strictly enough to catch what players reject. */
function parseVtt(vtt: string): { start: string; end: string; lines: string[] }[] {
  assert.ok(vtt.startsWith('WEBVTT\n\n'), 'header, then a blank line');
  assert.ok(vtt.endsWith('\n') && !vtt.endsWith('\n\n\n'));
  return vtt
    .slice('WEBVTT\n\n'.length)
    .trimEnd()
    .split('\n\n')
    .map((block) => {
      const [timing = '', ...lines] = block.split('\n');
      const m = /^(\d{2,}:\d{2}:\d{2}\.\d{3}) --> (\d{2,}:\d{2}:\d{2}\.\d{3})$/.exec(timing);
      assert.ok(m, `timing line: ${timing}`);
      assert.ok(lines.length > 0 && lines.every((l) => l.trim() !== '' && !l.includes('-->')), `cue text: ${JSON.stringify(lines)}`);
      return { start: m[1]!, end: m[2]!, lines };
    });
}

function parseSrt(srt: string): { n: number; start: string; end: string; lines: string[] }[] {
  assert.ok(srt.endsWith('\n'));
  return srt
    .trimEnd()
    .split('\n\n')
    .map((block) => {
      const [n = '', timing = '', ...lines] = block.split('\n');
      const m = /^(\d{2,}:\d{2}:\d{2},\d{3}) --> (\d{2,}:\d{2}:\d{2},\d{3})$/.exec(timing);
      assert.ok(m, `timing line: ${timing}`);
      assert.ok(lines.length > 0 && lines.every((l) => l.trim() !== '' && !l.includes('-->')));
      return { n: Number(n), start: m[1]!, end: m[2]!, lines };
    });
}

describe('WebVTT and SRT export', () => {
  const entries = [
    entry(0, 0, 2.5, 'Good morning everyone.'),
    entry(1, 3.0456, 65.5, '  Today: a < b && c > d --> done \n\n with   blank lines '),
    entry(2, 70, 70, '   '),
    entry(3, 3725.25, 3727, 'One hour in.'),
  ];

  it('writes a valid WebVTT file: header, HH:MM:SS.mmm times, escaped text, no blank lines in cues', () => {
    const vtt = toWebVtt(entries);
    const cues = parseVtt(vtt);
    assert.deepEqual(cues.map((c) => [c.start, c.end]), [
      ['00:00:00.000', '00:00:02.500'],
      ['00:00:03.046', '00:01:05.500'],
      ['01:02:05.250', '01:02:07.000'],
    ]);
    // Lines are measured as displayed (41 graphemes), then escaped.
    assert.deepEqual(cues[1]!.lines, ['Today: a &lt; b &amp;&amp; c &gt; d --&gt; done with blank', 'lines']);
    assert.equal(toWebVtt([]), 'WEBVTT\n');
  });

  it('writes a valid SRT file: numbered cues, HH:MM:SS,mmm times, the same escaping', () => {
    const cues = parseSrt(toSrt(entries));
    assert.deepEqual(cues.map((c) => c.n), [1, 2, 3]);
    assert.deepEqual(cues.map((c) => [c.start, c.end]), [
      ['00:00:00,000', '00:00:02,500'],
      ['00:00:03,046', '00:01:05,500'],
      ['01:02:05,250', '01:02:07,000'],
    ]);
    assert.ok(cues[1]!.lines.join(' ').includes('a &lt; b &amp;&amp; c &gt; d --&gt; done'));
    assert.equal(toSrt([]), '');
  });

  it('wraps by graphemes at word boundaries and splits long entries into timed cues', () => {
    const long = 'one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen';
    const cues = parseVtt(toWebVtt([entry(0, 10, 20, long)], { maxLineLength: 20, maxLines: 2 }));
    assert.ok(cues.length >= 2, 'long entry split into several cues');
    assert.ok(cues.every((c) => c.lines.length <= 2 && c.lines.every((l) => graphemeLength(l) <= 20)));
    assert.equal(cues.flatMap((c) => c.lines).join(' '), long, 'no word lost or cut');
    assert.equal(cues[0]!.start, '00:00:10.000');
    assert.equal(cues.at(-1)!.end, '00:00:20.000');
    for (let i = 1; i < cues.length; i++) assert.equal(cues[i]!.start, cues[i - 1]!.end, 'consecutive cues');
  });

  it('Korean: 16 graphemes per line by default, whole syllables and words', () => {
    const text = '안녕하세요 여러분 오늘은 광합성에 대해 배웁니다 식물은 햇빛으로 양분을 만듭니다';
    const cues = parseVtt(toWebVtt([entry(0, 0, 8, text)], { language: 'ko' }));
    const lines = cues.flatMap((c) => c.lines);
    assert.ok(lines.every((l) => graphemeLength(l) <= 16), JSON.stringify(lines));
    assert.equal(lines.join(' '), text);
    lines.forEach(assertWellFormed);
  });

  it('never cuts a surrogate pair, an emoji sequence or a decomposed syllable', () => {
    // 👍🏽 (2 code points, 4 code units), a family emoji (ZWJ sequence), 한 in decomposed jamo (3 code points).
    const nasty = `${'👍🏽'.repeat(7)}👨‍👩‍👧${'\u1112\u1161\u11AB'.repeat(9)}`;
    for (const out of [toWebVtt([entry(0, 0, 5, nasty)], { maxLineLength: 5 }), toSrt([entry(0, 0, 5, nasty)], { maxLineLength: 5 })]) {
      assertWellFormed(out);
      const lines = out.split('\n').filter((l) => l && !l.includes('-->') && !/^(WEBVTT|\d+)$/.test(l));
      assert.ok(lines.every((l) => graphemeLength(l) <= 5), JSON.stringify(lines));
      assert.equal(lines.join(''), nasty, 'every grapheme kept, in order');
    }
  });
});

describe('Korean and other scripts in the offline summarizer', () => {
  it('splits Korean at sentence endings when the engine gave no punctuation', () => {
    assert.deepEqual(splitKoreanSentenceEnds('오늘은 광합성에 대해 배웁니다 식물은 햇빛으로 양분을 만듭니다 바다 위에 비가 옵니다 정말 필요 없어요 감사합니다'), [
      '오늘은 광합성에 대해 배웁니다',
      '식물은 햇빛으로 양분을 만듭니다',
      '바다 위에 비가 옵니다',
      '정말 필요 없어요',
      '감사합니다',
    ]);
  });

  const korean = [
    '안녕하세요 여러분 오늘은 광합성에 대해 배웁니다',
    '광합성은 식물이 햇빛으로 양분을 만드는 과정입니다 식물의 잎에는 엽록소가 있습니다',
    '엽록소는 햇빛의 에너지를 흡수합니다 광합성에서 식물은 이산화탄소와 물을 사용합니다',
    '광합성의 결과로 산소가 만들어집니다 우리가 마시는 산소는 대부분 광합성에서 옵니다',
    '다음 주에는 물의 순환에 대해 이야기하겠습니다 감사합니다',
  ];

  it('summarises a Korean lecture into whole Korean sentences', async () => {
    const entries = korean.map((text, i) => entry(i, i * 10, i * 10 + 9, text));
    const summary = await new OfflineSummarizer().summarize({ lectureId: 'ko', entries, language: 'ko' });
    assert.ok(summary.keyPoints.length >= 2, JSON.stringify(summary));
    const joined = korean.join(' ');
    for (const point of summary.keyPoints) {
      assert.ok(joined.includes(point), `a key point is a sentence of the transcript: ${point}`);
      assert.ok(/[가-힣]/u.test(point));
      assertWellFormed(point);
    }
    // Sentences were found without punctuation: no key point spans two of them.
    assert.ok(summary.keyPoints.every((p) => !/니다 [가-힣]/u.test(p)), JSON.stringify(summary.keyPoints));
    assert.ok(summary.keyPoints.some((p) => p.includes('광합성')), 'the topic that links the lecture is central');
    // Without a language, Hangul is recognised as well.
    const unknown = await new OfflineSummarizer().summarize({ lectureId: 'ko', entries });
    assert.deepEqual(unknown.keyPoints, summary.keyPoints);
  });

  it('splits at CJK punctuation 。！？ and counts the budget in graphemes', async () => {
    const ja = '今日は光合成について学びます。植物は光を使って糖を作ります！本当ですか？はい、植物の葉には葉緑素があります。';
    const summary = await new OfflineSummarizer({ maxChars: 20 }).summarize({ lectureId: 'ja', entries: [entry(0, 0, 9, ja)], language: 'ja' });
    assert.ok(summary.keyPoints.length >= 1);
    for (const point of summary.keyPoints) {
      assert.ok(!/[。！？]./u.test(point), `one sentence per key point: ${point}`);
      assertWellFormed(point);
    }
    assert.ok(summary.keyPoints.reduce((n, p) => n + graphemeLength(p), 0) <= 20 + summary.keyPoints.length);
  });

  it('a key point over the budget is cut between graphemes, never inside one', async () => {
    const emoji = `${'👍🏽멋진 '.repeat(40)}끝`;
    const summary = await new OfflineSummarizer({ maxChars: 25 }).summarize({ lectureId: 'e', entries: [entry(0, 0, 9, emoji)] });
    const [point] = summary.keyPoints;
    assert.ok(point !== undefined && point.endsWith('…'));
    assert.ok(graphemeLength(point) <= 25, `${graphemeLength(point)}: ${point}`);
    assertWellFormed(point);
    assert.equal(truncateGraphemes('👍🏽👍🏽👍🏽', 2), '👍🏽…');
    assert.equal(graphemeLength('한국어👨‍👩‍👧e\u0301'), 5);
  });
});
