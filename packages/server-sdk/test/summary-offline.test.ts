import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { prng } from '@lectern/testkit/random';
import { OfflineSummarizer, emptySummary, type TranscriptEntry } from '@lectern/server-sdk/transcription';
import { coveredSeconds } from '../src/transcription/summary/common.js';

/**
 * Cuts prose into transcript entries the way an STT engine does: by time, about
 * `wordsPerEntry` words each, ignoring sentence boundaries.
 */
function toEntries(text: string, options: { wordsPerEntry?: number; secondsPerWord?: number; start?: number; batchId?: string } = {}): TranscriptEntry[] {
  const { wordsPerEntry = 11, secondsPerWord = 0.4, start = 0, batchId = 'b0' } = options;
  const words = text.split(/\s+/u).filter((w) => w !== '');
  const entries: TranscriptEntry[] = [];
  for (let i = 0; i < words.length; i += wordsPerEntry) {
    const chunk = words.slice(i, i + wordsPerEntry);
    const t0 = start + i * secondsPerWord;
    entries.push({ batchId, index: entries.length, start: t0, end: t0 + chunk.length * secondsPerWord, text: ` ${chunk.join(' ')}` });
  }
  return entries;
}

/** A 40-minute-style networking lecture: an intro, four distinct topics, and a wrap-up, with the usual filler. */
const TOPICS = {
  dns: `Okay, so let's get started with the first topic, which is the Domain Name System.
When you type a name like example.org into your browser, your computer does not know where that server is.
The Domain Name System translates human readable domain names into numeric IP addresses.
Your machine first asks a recursive resolver, usually run by your internet provider, to resolve the domain name.
The resolver walks the hierarchy: it asks a root name server, then the top level domain server for org, then the authoritative name server for example.org.
Every DNS answer carries a time to live, so resolvers cache domain names and their addresses and do not repeat the whole lookup each time.
Um, that caching is also why a changed DNS record can take a while to reach everyone.`,
  tcp: `Right. Now that we have an IP address, we need a reliable connection, and that is the job of TCP.
TCP, the Transmission Control Protocol, gives applications a reliable, ordered byte stream on top of unreliable IP packets.
A TCP connection starts with the three way handshake: the client sends a SYN segment, the server answers with SYN ACK, and the client replies with an ACK.
During the handshake both sides pick initial sequence numbers, and every byte in the TCP stream is numbered with a sequence number.
The receiver acknowledges the sequence numbers it got, and the sender retransmits segments whose acknowledgement does not arrive before a timeout.
TCP congestion control, like slow start, grows the sending window until packets are lost and then backs off.
Yeah, so that is why a download starts slowly and then speeds up.`,
  tls: `Okay. The third piece is security, because TCP alone sends everything in plain text.
TLS, Transport Layer Security, encrypts the data stream between the browser and the server and authenticates the server.
In the TLS handshake the server presents a certificate signed by a certificate authority that the browser already trusts.
The browser verifies the certificate chain and checks that the certificate matches the domain name it asked for.
Then both sides agree on fresh session keys using Diffie Hellman key exchange, so a recorded session cannot be decrypted later with a stolen certificate key.
After the TLS handshake, every record is encrypted and authenticated with those symmetric session keys.`,
  routing: `So how do packets actually find their way across the internet? That is routing.
The internet is made of thousands of autonomous systems, networks run by providers, universities and companies.
Inside one autonomous system, routers use protocols like OSPF to compute shortest paths to every destination in that network.
Between autonomous systems, routers use BGP, the Border Gateway Protocol, to announce which IP address prefixes they can reach.
BGP routers choose routes by policy, like business relationships between providers, not only by path length.
Because BGP trusts the routes that neighbours announce, a misconfigured router can hijack prefixes and send traffic around the world the wrong way.`,
};
const INTRO = `Good morning everyone, can you hear me at the back? Great. Today we follow what happens when you open a web page.`;
const OUTRO = `Alright, that is all for today. Next week we look at HTTP and caching. Please read chapter four before the lab.`;
const LECTURE = [INTRO, TOPICS.dns, TOPICS.tcp, TOPICS.tls, TOPICS.routing, OUTRO].join('\n');

/** Words that identify each topic in a chosen sentence. */
const TOPIC_MARKERS: Record<keyof typeof TOPICS, RegExp> = {
  dns: /\b(DNS|domain|resolver|name server)/iu,
  tcp: /\b(TCP|handshake|sequence|SYN|acknowledg|congestion)/iu,
  tls: /\b(TLS|certificate|encrypt|session key)/iu,
  routing: /\b(BGP|routing|autonomous system|router|OSPF|prefix)/iu,
};

function topicsOf(keyPoints: string[]): Set<string> {
  const found = new Set<string>();
  for (const point of keyPoints) {
    for (const [topic, marker] of Object.entries(TOPIC_MARKERS)) if (marker.test(point)) found.add(topic);
  }
  return found;
}

/** Normalises whitespace so a key point can be found in the source text. */
const squash = (text: string) => text.replace(/\s+/gu, ' ').trim();


/** ~2 hours of speech: ~20 000 words in ~1500 sentences over 12 drifting topics, entries of ~11 words. */
function twoHourLecture(): TranscriptEntry[] {
  const random = prng(42);
  const pick = <T>(items: readonly T[]): T => items[Math.floor(random() * items.length)] as T;
  const fillers = ['so', 'now', 'okay', 'you know', 'basically', 'right', 'and then', 'of course'];
  const common = ['the', 'a', 'we', 'is', 'of', 'to', 'that', 'this', 'and', 'in', 'it', 'can', 'see', 'here'];
  const topics = Array.from({ length: 12 }, (_, t) => Array.from({ length: 60 }, (_, w) => `topic${t}term${w}`));
  const sentences: string[] = [];
  let words = 0;
  while (words < 20_000) {
    const topic = topics[Math.min(11, Math.floor((sentences.length / 1500) * 12))] ?? [];
    const length = 8 + Math.floor(random() * 12);
    const sentence: string[] = [pick(fillers)];
    for (let i = 1; i < length; i++) sentence.push(random() < 0.5 ? pick(common) : pick(topic));
    const text = `${sentence.join(' ')}.`;
    sentences.push(text.charAt(0).toUpperCase() + text.slice(1));
    words += length;
  }
  return toEntries(sentences.join(' '), { wordsPerEntry: 11, secondsPerWord: 0.36 });
}

describe('OfflineSummarizer', () => {
  const summarizer = new OfflineSummarizer();
  const entries = toEntries(LECTURE);

  it('picks central sentences that cover every topic of a multi-topic lecture', async () => {
    const summary = await summarizer.summarize({ lectureId: 'net-101', entries, language: 'en' });
    assert.equal(summary.generator, 'offline-extractive');
    assert.ok(summary.keyPoints.length >= 4 && summary.keyPoints.length <= 5, `got ${summary.keyPoints.length} key points`);
    assert.deepEqual([...topicsOf(summary.keyPoints)].sort(), ['dns', 'routing', 'tcp', 'tls'], summary.keyPoints.join('\n'));
    // Extractive: every key point is a sentence of the lecture, and no filler sentence was chosen.
    const source = squash(LECTURE);
    for (const point of summary.keyPoints) {
      assert.ok(source.includes(point), `not from the lecture: ${point}`);
      assert.doesNotMatch(point, /^(Um|Yeah|Okay\.|Right\.|Great\.)/u);
    }
    assert.equal(summary.text, summary.keyPoints.join(' '));
    assert.ok(summary.text.length <= 1500);
    assert.ok(!Number.isNaN(Date.parse(summary.createdAt)));
    assert.equal(summary.coveredSeconds, coveredSeconds(entries));
    const last = entries.at(-1);
    assert.ok(last !== undefined && Math.abs(summary.coveredSeconds - last.end) < 1e-9);
  });

  it('returns the key points in lecture order', async () => {
    const summary = await summarizer.summarize({ lectureId: 'net-101', entries, language: 'en' });
    const source = squash(LECTURE);
    const positions = summary.keyPoints.map((point) => source.indexOf(point));
    assert.deepEqual(positions, [...positions].sort((a, b) => a - b));
    assert.ok(positions.every((p) => p >= 0));
  });

  it('is deterministic', async () => {
    const a = await summarizer.summarize({ lectureId: 'x', entries, language: 'en' });
    const b = await new OfflineSummarizer().summarize({ lectureId: 'x', entries: structuredClone(entries), language: 'en' });
    assert.deepEqual(a.keyPoints, b.keyPoints);
    assert.equal(a.text, b.text);
  });

  it('honours maxSentences and the maxChars budget', async () => {
    const two = await new OfflineSummarizer({ maxSentences: 2 }).summarize({ lectureId: 'x', entries });
    assert.equal(two.keyPoints.length, 2);
    const tight = await new OfflineSummarizer({ maxChars: 300 }).summarize({ lectureId: 'x', entries });
    assert.ok(tight.keyPoints.length >= 1);
    assert.ok(tight.text.length <= 300, `text is ${tight.text.length} chars`);
    const tiny = await new OfflineSummarizer({ maxChars: 40 }).summarize({ lectureId: 'x', entries });
    assert.equal(tiny.keyPoints.length, 1);
    assert.ok(tiny.text.length <= 40 && tiny.text.endsWith('…'), tiny.text);
    assert.throws(() => new OfflineSummarizer({ maxSentences: 0 }), { name: 'LecternError', code: 'INVALID_CONFIG' });
  });

  it('scales the number of key points down for short lectures', async () => {
    const short = toEntries(TOPICS.tls);
    const summary = await summarizer.summarize({ lectureId: 'x', entries: short, language: 'en' });
    assert.ok(summary.keyPoints.length >= 1 && summary.keyPoints.length <= 3, `got ${summary.keyPoints.length}`);
    assert.match(summary.text, /TLS|certificate|encrypt/u);
  });

  it('summarises an empty transcript as "no speech" without key points', async () => {
    const none = await summarizer.summarize({ lectureId: 'x', entries: [] });
    assert.deepEqual(none.keyPoints, []);
    assert.equal(none.coveredSeconds, 0);
    assert.match(none.text, /no speech/iu);
    const blank = await summarizer.summarize({
      lectureId: 'x',
      entries: [
        { batchId: 'b', index: 0, start: 3, end: 5, text: '  ' },
        { batchId: 'b', index: 1, start: 5, end: 9.5, text: '' },
      ],
      language: 'de',
    });
    assert.deepEqual(blank.keyPoints, []);
    assert.equal(blank.coveredSeconds, 6.5);
    assert.equal(blank.text, emptySummary('x', [], 'de').text);
  });

  it('summarises a single sentence as itself', async () => {
    const summary = await summarizer.summarize({
      lectureId: 'x',
      entries: [{ batchId: 'b', index: 0, start: 10, end: 14, text: ' Entropy measures the uncertainty of a random variable.' }],
    });
    assert.deepEqual(summary.keyPoints, ['Entropy measures the uncertainty of a random variable.']);
    assert.equal(summary.coveredSeconds, 4);
    const word = await summarizer.summarize({ lectureId: 'x', entries: [{ batchId: 'b', index: 0, start: 0, end: 1, text: 'Hello' }] });
    assert.deepEqual(word.keyPoints, ['Hello']);
  });

  it('does not pick duplicate or near-duplicate sentences twice', async () => {
    const repeated = [
      'Gradient descent updates the weights in the direction of the negative gradient of the loss.',
      'Gradient descent updates the weights in the direction of the negative gradient of the loss.',
      'So again: gradient descent updates the weights in the direction of the negative gradient of the loss!',
      'The learning rate controls how large each gradient descent step on the weights is.',
      'Gradient descent updates the weights in the direction of the negative gradient of the loss.',
      'Overfitting happens when the model memorises the training data instead of learning general patterns.',
      'Regularisation such as weight decay penalises large weights and reduces overfitting on the training data.',
      'Gradient descent updates the weights in the direction of the negative gradient of the loss.',
      'Validation data, held out from training, tells us when the model starts overfitting.',
    ].join(' ');
    const summary = await summarizer.summarize({ lectureId: 'ml', entries: toEntries(repeated), language: 'en' });
    const normalised = summary.keyPoints.map((p) => p.toLowerCase().replace(/^so again: /u, '').replace(/[.!]$/u, ''));
    assert.equal(new Set(normalised).size, normalised.length, summary.keyPoints.join('\n'));
    const gradientCopies = summary.keyPoints.filter((p) => /negative gradient of the loss/u.test(p));
    assert.ok(gradientCopies.length <= 1, summary.keyPoints.join('\n'));
    assert.ok(summary.keyPoints.length >= 2);
  });

  it('summarises a 2-hour lecture (~20 000 words) quickly and within budget', async () => {
    const long = twoHourLecture();
    const words = long.reduce((sum, e) => sum + e.text.split(/\s+/u).filter(Boolean).length, 0);
    assert.ok(words >= 20_000 && words < 21_000, `${words} words`);
    await summarizer.summarize({ lectureId: 'warm-up', entries: long.slice(0, 50) });
    const started = performance.now();
    const summary = await summarizer.summarize({ lectureId: 'long', entries: long, language: 'en' });
    const elapsed = performance.now() - started;
    console.log(`2-hour lecture: ${long.length} entries, ${words} words, summarised in ${elapsed.toFixed(0)} ms`);
    assert.ok(elapsed < 2000, `took ${elapsed.toFixed(0)} ms`);
    assert.equal(summary.keyPoints.length, 5);
    assert.ok(summary.text.length <= 1500);
    assert.ok(summary.coveredSeconds > 7000 && summary.coveredSeconds < 7600, `${summary.coveredSeconds} s`);
    // Key points come from different parts of the lecture (different topics), in order.
    const topicIds = summary.keyPoints.map((p) => Number(/topic(\d+)term/u.exec(p)?.[1] ?? -1));
    assert.deepEqual(topicIds, [...topicIds].sort((a, b) => a - b));
    assert.ok(new Set(topicIds).size >= 4, `topics ${topicIds.join(',')}`);
  });

  it('handles non-English transcripts (German, Korean, Japanese) with sentences from the input', async () => {
    const german =
      'Heute sprechen wir über die Photosynthese. Pflanzen wandeln Lichtenergie in chemische Energie um. ' +
      'Das Chlorophyll in den Chloroplasten absorbiert vor allem rotes und blaues Licht. ' +
      'Aus Kohlendioxid und Wasser entstehen Glukose und Sauerstoff. ' +
      'Die Lichtreaktion findet an der Thylakoidmembran der Chloroplasten statt. ' +
      'Der Calvin-Zyklus bindet das Kohlendioxid im Stroma und erzeugt Zucker.';
    const korean =
      '오늘은 광합성에 대해 이야기하겠습니다. 식물은 빛 에너지를 화학 에너지로 바꿉니다. ' +
      '엽록체의 엽록소는 주로 빨간빛과 파란빛을 흡수합니다. 이산화탄소와 물에서 포도당과 산소가 만들어집니다. ' +
      '명반응은 틸라코이드 막에서 일어납니다. 캘빈 회로는 스트로마에서 이산화탄소를 고정하여 당을 만듭니다.';
    const japanese =
      '今日は光合成について話します。植物は光エネルギーを化学エネルギーに変えます。' +
      '葉緑体の中のクロロフィルは主に赤い光と青い光を吸収します。二酸化炭素と水からブドウ糖と酸素が作られます。' +
      'カルビン回路はストロマで二酸化炭素を固定して糖を作ります。';
    const jaEntries: TranscriptEntry[] = [...japanese.matchAll(/.{1,20}/gsu)].map((m, i) => ({
      batchId: 'ja',
      index: i,
      start: i * 3,
      end: i * 3 + 3,
      text: m[0],
    }));
    const cases: [string, string, TranscriptEntry[]][] = [
      ['de', german, toEntries(german, { wordsPerEntry: 7 })],
      ['ko', korean, toEntries(korean, { wordsPerEntry: 5 })],
      ['ja', japanese, jaEntries],
    ];
    for (const [language, source, input] of cases) {
      const summary = await summarizer.summarize({ lectureId: language, entries: input, language });
      assert.ok(summary.keyPoints.length >= 1, `${language}: no key points`);
      for (const point of summary.keyPoints) assert.ok(squash(source).includes(point), `${language}: not from input: ${point}`);
      assert.ok(summary.keyPoints.every((p) => p.length < source.length / 2), `${language}: sentences were not split`);
    }
    // Unknown or malformed language tags fall back without throwing.
    const odd = await summarizer.summarize({ lectureId: 'x', entries: toEntries(german), language: 'not a tag!' });
    assert.ok(odd.keyPoints.length >= 1);
  });

  it('cuts unpunctuated speech into bounded pieces', async () => {
    const words = Array.from({ length: 600 }, (_, i) => ['neurons', 'fire', 'when', 'their', 'membrane', 'potential', 'crosses', 'threshold'][i % 8]);
    const summary = await summarizer.summarize({ lectureId: 'x', entries: toEntries(words.join(' ')) });
    assert.ok(summary.keyPoints.length >= 1);
    assert.ok(summary.keyPoints.every((p) => p.length <= 400), 'pieces are bounded');
  });

  it('rejects when the signal is already aborted', async () => {
    await assert.rejects(summarizer.summarize({ lectureId: 'x', entries }, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });
});
