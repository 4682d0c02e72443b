import { after, before, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { LecternError } from '@lectern/server-sdk';
import { OpenAICompatibleSummarizer, type OpenAICompatibleSummarizerOptions, type TranscriptEntry } from '@lectern/server-sdk/transcription';
import { parseSummaryAnswer } from '../src/transcription/summary/answer.js';
import { chunkTranscript } from '../src/transcription/summary/prompts.js';

// ---------------------------------------------------------------------------
// A local chat-completions server. Its answers are computed from what it
// receives, so the assertions below only hold if the client really chunked the
// transcript and really combined the partial summaries.

const API_KEY = 'test-key';
const MODEL = 'test-model';

interface ChatMessage {
  role: string;
  content: string;
}
interface ChatBody {
  model: string;
  messages: ChatMessage[];
  temperature?: number;
  max_tokens?: number;
  max_completion_tokens?: number;
  response_format?: { type: string };
}
interface Received {
  authorization: string | undefined;
  body: ChatBody;
  user: string;
}
interface Reply {
  status?: number;
  /** Assistant message content (wrapped in a chat.completion), or a raw JSON body when `raw` is set. */
  content?: string;
  raw?: unknown;
  headers?: Record<string, string>;
  delayMs?: number;
}
type Behaviour = (request: Received, count: number) => Reply;

/** Entry ids as written in the raw transcript (`e0042`), not as echoed back (`first=e0042`). */
const RAW_ID = /(?<![=\w])e\d{4}\b/gu;

/**
 * The default model: for a transcript (part) it reports the first and last
 * entry ids it saw and how many; for partial summaries it combines those
 * reports (first of the first, last of the last, sum of counts).
 */
function echoAnswer(user: string): { summary: string; keyPoints: string[] } {
  const ids = user.match(RAW_ID) ?? [];
  if (ids.length > 0) {
    const range = /\[(\d[\d:]*–\d[\d:]*)\]/u.exec(user)?.[1] ?? '?';
    return {
      summary: `Part ${range} has ${ids.length} entries.`,
      keyPoints: [`first=${ids[0]}`, `last=${ids.at(-1)}`, `count=${ids.length}`],
    };
  }
  const firsts = [...user.matchAll(/first=(e\d{4})/gu)].map((m) => m[1]);
  const lasts = [...user.matchAll(/last=(e\d{4})/gu)].map((m) => m[1]);
  const count = [...user.matchAll(/count=(\d+)/gu)].reduce((sum, m) => sum + Number(m[1]), 0);
  const parts = (user.match(/^\[\d[\d:]*–\d[\d:]*\]$/gmu) ?? []).length;
  return {
    summary: `Combined ${parts} parts covering ${count} entries.`,
    keyPoints: [`first=${firsts[0]}`, `last=${lasts.at(-1)}`, `count=${count}`],
  };
}

const json = (request: Received): Reply => ({ content: JSON.stringify(echoAnswer(request.user)) });

let behaviour: Behaviour = json;
let requests: Received[] = [];
/** Every HTTP request, including refused ones. */
let hits = 0;
let inFlight = 0;
let maxInFlight = 0;
const pending = new Set<NodeJS.Timeout>();

function send(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  res.writeHead(status, { 'content-type': 'application/json', ...headers });
  res.end(JSON.stringify(body));
}

async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
  hits++;
  if (req.method !== 'POST' || req.url !== '/v1/chat/completions') return send(res, 404, { error: { message: 'no such route' } });
  const chunks: Buffer[] = [];
  for await (const chunk of req) chunks.push(chunk as Buffer);
  const body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as ChatBody;
  if (req.headers.authorization !== `Bearer ${API_KEY}`) {
    return send(res, 401, { error: { message: 'Incorrect API key provided', type: 'invalid_request_error', code: 'invalid_api_key' } });
  }
  if (body.model !== MODEL) return send(res, 404, { error: { message: `model '${body.model}' not found`, type: 'invalid_request_error' } });
  const received: Received = {
    authorization: req.headers.authorization,
    body,
    user: body.messages.find((m) => m.role === 'user')?.content ?? '',
  };
  requests.push(received);
  const reply = behaviour(received, requests.length);
  inFlight++;
  maxInFlight = Math.max(maxInFlight, inFlight);
  const respond = () => {
    inFlight--;
    if (res.destroyed) return;
    if (reply.raw !== undefined) return send(res, reply.status ?? 200, reply.raw, reply.headers);
    if ((reply.status ?? 200) !== 200) return send(res, reply.status ?? 500, { error: { message: 'server error', type: 'server_error' } }, reply.headers);
    const content = reply.content ?? '';
    send(
      res,
      200,
      {
        id: `chatcmpl-${requests.length}`,
        object: 'chat.completion',
        created: Math.floor(Date.now() / 1000),
        model: body.model,
        choices: [{ index: 0, message: { role: 'assistant', content }, finish_reason: 'stop' }],
        usage: { prompt_tokens: Math.ceil(received.user.length / 4), completion_tokens: Math.ceil(content.length / 4), total_tokens: 0 },
      },
      reply.headers,
    );
  };
  const timer = setTimeout(() => {
    pending.delete(timer);
    respond();
  }, reply.delayMs ?? 5);
  pending.add(timer);
}

let server: Server;
let baseUrl = '';

before(async () => {
  server = createServer((req, res) => {
    handle(req, res).catch((error: unknown) => send(res, 500, { error: { message: String(error) } }));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/v1`;
});

after(async () => {
  for (const timer of pending) clearTimeout(timer);
  server.closeAllConnections();
  await new Promise<void>((resolve) => server.close(() => resolve()));
});

beforeEach(() => {
  behaviour = json;
  requests = [];
  hits = 0;
  inFlight = 0;
  maxInFlight = 0;
});

function summarizer(options: Partial<OpenAICompatibleSummarizerOptions> = {}): OpenAICompatibleSummarizer {
  return new OpenAICompatibleSummarizer({ baseUrl, model: MODEL, apiKey: API_KEY, timeoutMs: 5000, ...options });
}

/** `count` entries of ~`chars` characters, each starting with its id `eNNNN`, 6 s apart. */
function transcript(count: number, chars = 100): TranscriptEntry[] {
  const filler = 'the lecturer explains the idea with an example and then answers a question from the audience ';
  return Array.from({ length: count }, (_, i) => {
    const id = `e${String(i).padStart(4, '0')}`;
    const text = ` ${id} ${filler.repeat(Math.ceil(chars / filler.length))}`.slice(0, chars).trimEnd();
    return { batchId: `b${Math.floor(i / 20)}`, index: i % 20, start: i * 6, end: i * 6 + 5.5, text };
  });
}

const ids = (entries: TranscriptEntry[]) => entries.map((e) => e.text.trim().slice(0, 5));
const isMap = (r: Received) => (r.user.match(RAW_ID) ?? []).length > 0;

// ---------------------------------------------------------------------------

describe('OpenAICompatibleSummarizer', () => {
  it('summarises a short transcript with one request', async () => {
    const entries = transcript(10);
    const summary = await summarizer().summarize({ lectureId: 'l1', entries, language: 'de' });
    assert.equal(requests.length, 1);
    const [request] = requests;
    assert.ok(request);
    assert.equal(request.authorization, `Bearer ${API_KEY}`);
    assert.equal(request.body.model, MODEL);
    assert.equal(request.body.temperature, 0.2);
    assert.equal(request.body.max_tokens, 1024);
    assert.deepEqual(request.body.response_format, { type: 'json_object' });
    assert.equal(request.body.messages[0]?.role, 'system');
    assert.match(request.user, /German/u);
    assert.match(request.user, /\[00:00–00:59\]/u);
    for (const id of ids(entries)) assert.ok(request.user.includes(id));

    assert.deepEqual(summary.keyPoints, ['first=e0000', 'last=e0009', 'count=10']);
    assert.equal(summary.text, 'Part 00:00–00:59 has 10 entries.');
    assert.equal(summary.generator, 'openai-compatible:test-model');
    assert.equal(summary.coveredSeconds, 59.5);
    assert.ok(!Number.isNaN(Date.parse(summary.createdAt)));
  });

  it('summarises a long transcript map-reduce: each part sent once, then one combining call', async () => {
    const entries = transcript(300); // ~30 000 chars
    behaviour = (r) => ({ ...json(r), delayMs: 30 });
    const maxChunkChars = 3000;
    const summary = await summarizer({ maxChunkChars }).summarize({ lectureId: 'l2', entries });

    const maps = requests.filter(isMap);
    const reduces = requests.filter((r) => !isMap(r));
    const expectedChunks = chunkTranscript(entries, maxChunkChars).length;
    assert.ok(expectedChunks >= 10, `${expectedChunks} chunks`);
    assert.equal(maps.length, expectedChunks);
    assert.equal(reduces.length, 1);
    assert.equal(requests.length, expectedChunks + 1);
    assert.equal(requests.at(-1), reduces[0], 'the combining call comes last');
    assert.equal(maxInFlight, 2, 'map calls run two at a time');

    // Every entry went to exactly one map call, and no map call exceeded the budget.
    const sent = maps.flatMap((r) => r.user.match(RAW_ID) ?? []).sort();
    assert.deepEqual(sent, ids(entries));
    for (const map of maps) {
      const part = map.user.slice(map.user.lastIndexOf('\n[') + 1);
      const text = part.replace(/^\[[^\]]+\] /u, '');
      assert.ok(text.length <= maxChunkChars, `chunk of ${text.length} chars`);
      assert.match(part, /^\[\d\d:\d\d–\d\d:\d\d\] e\d{4}/u, 'each chunk is headed by its time range');
    }
    // The combining call received every partial summary with its time range.
    for (const map of maps) {
      const range = /\n(\[\d\d:\d\d–\d\d:\d\d\]) e\d{4}/u.exec(map.user)?.[1];
      assert.ok(range !== undefined && reduces[0]?.user.includes(range), `partial ${range} missing from the reduce call`);
    }
    assert.deepEqual(summary.keyPoints, ['first=e0000', 'last=e0299', 'count=300']);
    assert.equal(summary.text, `Combined ${expectedChunks} parts covering 300 entries.`);
  });

  it('combines recursively when the partial summaries exceed maxChunkChars', async () => {
    const entries = transcript(200); // ~20 000 chars in chunks of ≤ 500
    const summary = await summarizer({ maxChunkChars: 500, concurrency: 3 }).summarize({ lectureId: 'l3', entries });
    const maps = requests.filter(isMap);
    const reduces = requests.filter((r) => !isMap(r));
    assert.ok(maps.length >= 40, `${maps.length} map calls`);
    assert.ok(reduces.length > 1, `${reduces.length} reduce calls`);
    assert.equal(maxInFlight, 3);
    assert.deepEqual(maps.flatMap((r) => r.user.match(RAW_ID) ?? []).sort(), ids(entries));
    for (const reduce of reduces) {
      const partials = reduce.user.slice(reduce.user.indexOf('\n[') + 1);
      assert.ok(partials.length <= 500, `reduce input of ${partials.length} chars`);
    }
    // Counts add up through every level of the tree: nothing lost, nothing counted twice.
    assert.deepEqual(summary.keyPoints, ['first=e0000', 'last=e0199', 'count=200']);
  });

  it('parses a plain-text answer with bullets when the server ignores JSON mode', async () => {
    behaviour = (r) => {
      const answer = echoAnswer(r.user);
      return { content: `## Summary\n${answer.summary}\n\n**Key points:**\n${answer.keyPoints.map((p, i) => `${i + 1}. **${p}**`).join('\n')}\n` };
    };
    const summary = await summarizer().summarize({ lectureId: 'l4', entries: transcript(5) });
    assert.equal(summary.text, 'Part 00:00–00:29 has 5 entries.');
    assert.deepEqual(summary.keyPoints, ['first=e0000', 'last=e0004', 'count=5']);

    behaviour = (r) => ({ content: `Sure! Here it is:\n\`\`\`json\n${JSON.stringify({ summary: 'S', key_points: echoAnswer(r.user).keyPoints })}\n\`\`\`` });
    const fenced = await summarizer().summarize({ lectureId: 'l4', entries: transcript(3) });
    assert.deepEqual(fenced.keyPoints, ['first=e0000', 'last=e0002', 'count=3']);
    assert.equal(fenced.text, 'S');
  });

  it('drops response_format when the server rejects it, and keeps working', async () => {
    behaviour = (r) => (r.body.response_format ? { raw: { error: { message: "Unrecognized request argument: 'response_format'" } }, status: 400 } : { content: `- ${echoAnswer(r.user).keyPoints.join('\n- ')}` });
    const s = summarizer();
    const first = await s.summarize({ lectureId: 'l5', entries: transcript(4) });
    assert.deepEqual(first.keyPoints, ['first=e0000', 'last=e0003', 'count=4']);
    assert.equal(first.text, 'first=e0000 last=e0003 count=4');
    assert.deepEqual(requests.map((r) => r.body.response_format?.type), ['json_object', undefined]);
    await s.summarize({ lectureId: 'l5', entries: transcript(2) });
    assert.equal(requests.length, 3);
    assert.equal(requests[2]?.body.response_format, undefined, 'JSON mode stays off afterwards');
  });

  it('retries a 500 (SDK retry) and succeeds', async () => {
    behaviour = (r, n) => (n === 1 ? { status: 500, headers: { 'retry-after-ms': '10' } } : json(r));
    const summary = await summarizer().summarize({ lectureId: 'l6', entries: transcript(3) });
    assert.equal(requests.length, 2);
    assert.deepEqual(summary.keyPoints, ['first=e0000', 'last=e0002', 'count=3']);
  });

  it('maps a persistent 500 to UNAVAILABLE after the retries', async () => {
    behaviour = () => ({ status: 503, headers: { 'retry-after-ms': '10' } });
    await assert.rejects(summarizer({ maxRetries: 2 }).summarize({ lectureId: 'l7', entries: transcript(3) }), (error: unknown) => {
      assert.ok(error instanceof LecternError);
      assert.equal(error.code, 'UNAVAILABLE');
      assert.equal(error.details?.['status'], 503);
      return true;
    });
    assert.equal(requests.length, 3);
  });

  it('maps a failing map call to UNAVAILABLE and stops the other calls', async () => {
    behaviour = (r, n) => (n === 3 ? { status: 500 } : { ...json(r), delayMs: 20 });
    await assert.rejects(summarizer({ maxChunkChars: 1000, maxRetries: 0 }).summarize({ lectureId: 'l7b', entries: transcript(100) }), {
      name: 'LecternError',
      code: 'UNAVAILABLE',
    });
    assert.ok(requests.length < 6, `${requests.length} requests after the failure`);
  });

  it('maps 401 (bad key) and 404 (unknown model) to INVALID_CONFIG without retrying', async () => {
    await assert.rejects(summarizer({ apiKey: 'wrong' }).summarize({ lectureId: 'l8', entries: transcript(3) }), (error: unknown) => {
      assert.ok(error instanceof LecternError);
      assert.equal(error.code, 'INVALID_CONFIG');
      assert.equal(error.details?.['status'], 401);
      assert.doesNotMatch(JSON.stringify(error.toJSON()), /wrong/u, 'the key is not echoed');
      return true;
    });
    await assert.rejects(summarizer({ model: 'no-such-model' }).summarize({ lectureId: 'l8', entries: transcript(3) }), {
      name: 'LecternError',
      code: 'INVALID_CONFIG',
      message: /no-such-model.*404/u,
    });
    assert.equal(hits, 2, 'one request each: 401 and 404 are not retried');
  });

  it('maps a server slower than timeoutMs to TIMEOUT', async () => {
    behaviour = (r) => ({ ...json(r), delayMs: 3000 });
    const started = Date.now();
    await assert.rejects(summarizer({ timeoutMs: 200, maxRetries: 0 }).summarize({ lectureId: 'l9', entries: transcript(3) }), {
      name: 'LecternError',
      code: 'TIMEOUT',
    });
    assert.ok(Date.now() - started < 1500);
    assert.equal(requests.length, 1);
  });

  it('maps an unreachable server to UNAVAILABLE', async () => {
    const closed = createServer();
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve));
    const port = (closed.address() as AddressInfo).port;
    await new Promise<void>((resolve) => closed.close(() => resolve()));
    await assert.rejects(
      new OpenAICompatibleSummarizer({ baseUrl: `http://127.0.0.1:${port}/v1`, model: MODEL, maxRetries: 0 }).summarize({ lectureId: 'l10', entries: transcript(3) }),
      (error: unknown) => {
        assert.ok(error instanceof LecternError);
        assert.equal(error.code, 'UNAVAILABLE');
        assert.match(error.message, /cannot reach/u);
        assert.doesNotMatch(JSON.stringify(error.toJSON()), /127\.0\.0\.1/u, 'no internal address in what a client may see');
        return true;
      },
    );
  });

  it('maps empty or malformed answers to UNAVAILABLE', async () => {
    behaviour = () => ({ content: '   ' });
    await assert.rejects(summarizer().summarize({ lectureId: 'l11', entries: transcript(3) }), { name: 'LecternError', code: 'UNAVAILABLE', message: /empty answer/u });
    behaviour = () => ({ raw: { id: 'x', object: 'chat.completion', created: 0, model: MODEL, choices: [] } });
    await assert.rejects(summarizer().summarize({ lectureId: 'l11', entries: transcript(3) }), { name: 'LecternError', code: 'UNAVAILABLE' });
    behaviour = () => ({ content: '<think>I should summarise.</think>\n```\n```' });
    await assert.rejects(summarizer().summarize({ lectureId: 'l11', entries: transcript(3) }), { name: 'LecternError', code: 'UNAVAILABLE', message: /could not be parsed/u });
  });

  it('aborts a request in flight, and during the retry backoff, when the signal fires', async () => {
    behaviour = (r) => ({ ...json(r), delayMs: 3000 });
    const controller = new AbortController();
    const started = Date.now();
    setTimeout(() => controller.abort(), 100);
    await assert.rejects(summarizer().summarize({ lectureId: 'l12', entries: transcript(3) }, { signal: controller.signal }), { name: 'AbortError' });
    assert.ok(Date.now() - started < 1000);

    behaviour = () => ({ status: 500, headers: { 'retry-after-ms': '2000' } });
    const backoff = new AbortController();
    const reason = new Error('lecture deleted');
    const t0 = Date.now();
    setTimeout(() => backoff.abort(reason), 100);
    await assert.rejects(summarizer().summarize({ lectureId: 'l12', entries: transcript(3) }, { signal: backoff.signal }), (error: unknown) => error === reason);
    assert.ok(Date.now() - t0 < 1000);

    await assert.rejects(summarizer().summarize({ lectureId: 'l12', entries: transcript(3) }, { signal: AbortSignal.abort() }), { name: 'AbortError' });
  });

  it('makes no request for an empty transcript', async () => {
    const none = await summarizer().summarize({ lectureId: 'l13', entries: [] });
    const blank = await summarizer().summarize({ lectureId: 'l13', entries: [{ batchId: 'b', index: 0, start: 1, end: 4, text: ' ' }], language: 'de' });
    assert.equal(hits, 0);
    assert.deepEqual(none.keyPoints, []);
    assert.match(none.text, /no speech/iu);
    assert.equal(none.generator, 'openai-compatible:test-model');
    assert.equal(none.coveredSeconds, 0);
    assert.equal(blank.coveredSeconds, 3);
    assert.equal(blank.text, 'Es wurde keine Sprache transkribiert.');
  });

  it('refuses invalid configuration', () => {
    assert.throws(() => new OpenAICompatibleSummarizer({ baseUrl: 'localhost:11434', model: MODEL }), { code: 'INVALID_CONFIG' });
    assert.throws(() => new OpenAICompatibleSummarizer({ baseUrl, model: '' }), { code: 'INVALID_CONFIG' });
    assert.throws(() => new OpenAICompatibleSummarizer({ baseUrl, model: MODEL, maxChunkChars: 10 }), { code: 'INVALID_CONFIG' });
    assert.throws(() => new OpenAICompatibleSummarizer({ baseUrl, model: MODEL, timeoutMs: 0 }), { code: 'INVALID_CONFIG' });
  });
});

describe('parseSummaryAnswer', () => {
  it('reads JSON, fenced JSON, bullets and headings in other languages', () => {
    assert.deepEqual(parseSummaryAnswer('{"summary":"A.","keyPoints":["x","y"]}'), { summary: 'A.', keyPoints: ['x', 'y'] });
    assert.deepEqual(parseSummaryAnswer('Zusammenfassung: Es geht um Licht.\n\nWichtige Punkte:\n* Chlorophyll\n* Glukose'), {
      summary: 'Es geht um Licht.',
      keyPoints: ['Chlorophyll', 'Glukose'],
    });
    assert.deepEqual(parseSummaryAnswer('Note: the exam is on Friday.\n- Bring a calculator'), {
      summary: 'Note: the exam is on Friday.',
      keyPoints: ['Bring a calculator'],
    });
    assert.equal(parseSummaryAnswer(''), undefined);
    assert.equal(parseSummaryAnswer('<think>hmm</think>'), undefined);
  });
});
