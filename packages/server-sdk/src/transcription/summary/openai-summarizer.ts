import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, OpenAIError } from 'openai';
import type { TranscriptEntry } from '../store/transcript-store.js';
import type { LectureSummary, SummarizeInput, Summarizer } from './summarizer.js';
import { ErrorCode, LecternError, toLecternError, truncate } from '../../errors.js';
import { coveredSeconds, emptySummary, isEmptyTranscript } from './offline-summarizer.js';

/** Options of {@link OpenAICompatibleSummarizer}. */
export interface OpenAICompatibleSummarizerOptions {
  /**
   * Base URL of the chat-completions API, up to and including the version
   * segment, e.g. `http://localhost:11434/v1` (Ollama), `http://localhost:8000/v1`
   * (vLLM, llama.cpp) or `https://api.openai.com/v1`. Required.
   */
  baseUrl: string;
  /** Model name as the server knows it, e.g. `llama3.1:8b` or `gpt-4o-mini`. Required. */
  model: string;
  /**
   * Bearer token. Optional: many local servers need none, and a placeholder is
   * sent then. `OPENAI_API_KEY` is deliberately not read from the environment,
   * so a key meant for OpenAI never goes to another host.
   */
  apiKey?: string;
  /** Time limit of one HTTP attempt in milliseconds (default 120 000); exceeded → `TIMEOUT` once retries are spent. */
  timeoutMs?: number;
  /** Retries of a failed attempt (connection error, timeout, 408/409/429/5xx), with backoff, by the `openai` SDK (default 2). */
  maxRetries?: number;
  /** Sampling temperature (default 0.2: faithful, little invention). Reasoning models may require 1. */
  temperature?: number;
  /**
   * Most transcript characters sent in one request (default 12 000 ≈ 3 000
   * tokens, minimum 500). Longer transcripts are summarised map-reduce: in
   * chunks cut at entry boundaries, whose partial summaries are then combined.
   * Keep it well below the model's context window (the prompt adds ~1 000 chars).
   */
  maxChunkChars?: number;
  /** Most tokens the model may generate per request (default 1024). Sent as `max_completion_tokens` to api.openai.com, `max_tokens` elsewhere. */
  maxOutputTokens?: number;
  /** Replaces the default system prompt (the answer-format instructions are sent separately, so parsing keeps working). */
  systemPrompt?: string;
  /** ISO 639-1 language to write in when the input carries none (default: the transcript's own language). */
  language?: string;
  /** Chunk summaries requested at once during the map phase (default 2). */
  concurrency?: number;
  /** Ask for `response_format: { type: 'json_object' }` (default true). Turned off by itself when the server rejects it. */
  jsonMode?: boolean;
  /** Extra HTTP headers sent with every request (e.g. for a gateway). */
  headers?: Record<string, string>;
  /** A `fetch` implementation to use instead of the global one (proxies, tests). */
  fetch?: typeof globalThis.fetch;
}

/** A summary (of a chunk, of several partials, or of the lecture) as the model returned it. */
interface Part {
  start: number;
  end: number;
  summary: string;
  keyPoints: string[];
}

const DEFAULT_SYSTEM_PROMPT =
  'You summarise transcripts of university lectures for the students who attended. ' +
  'Stay faithful to the transcript: never add facts, examples or opinions that were not said. ' +
  'Skip greetings, filler and small talk, but keep organisational facts that matter to students (deadlines, exams, homework, reading). ' +
  'Transcripts come from speech recognition and may contain recognition errors; silently correct obvious ones.';

const PLACEHOLDER_API_KEY = 'lectern-no-key';
const MIN_CHUNK_CHARS = 500;

/**
 * Summarizes with any OpenAI-compatible chat-completions endpoint (OpenAI,
 * Ollama, vLLM, llama.cpp, LM Studio, gateways) through the official `openai`
 * SDK. A transcript longer than `maxChunkChars` is summarised map-reduce:
 * chunk summaries (bounded concurrency), then combined by further calls
 * (recursively when the partial summaries are themselves too long).
 *
 * Errors are `LecternError`s: unreachable / 5xx / 429 after retries →
 * `UNAVAILABLE`; timeout → `TIMEOUT`; 400/401/403/404/422 (bad key, unknown
 * model, refused parameters) → `INVALID_CONFIG`; empty or unparseable answers →
 * `UNAVAILABLE`. Aborting the signal rejects with the signal's reason.
 */
export class OpenAICompatibleSummarizer implements Summarizer {
  readonly name: string;
  private readonly client: OpenAI;
  private readonly model: string;
  private readonly temperature: number;
  private readonly maxChunkChars: number;
  private readonly maxOutputTokens: number;
  private readonly maxTokensField: 'max_tokens' | 'max_completion_tokens';
  private readonly systemPrompt: string;
  private readonly language: string | undefined;
  private readonly concurrency: number;
  private readonly timeoutMs: number;
  private jsonMode: boolean;

  constructor(options: OpenAICompatibleSummarizerOptions) {
    const {
      baseUrl,
      model,
      apiKey,
      timeoutMs = 120_000,
      maxRetries = 2,
      temperature = 0.2,
      maxChunkChars = 12_000,
      maxOutputTokens = 1024,
      systemPrompt = DEFAULT_SYSTEM_PROMPT,
      language,
      concurrency = 2,
      jsonMode = true,
      headers,
      fetch,
    } = options;
    let url: URL;
    try {
      url = new URL(baseUrl);
    } catch {
      throw invalidConfig('baseUrl must be an absolute http(s) URL', { baseUrl: truncate(String(baseUrl)) });
    }
    if (url.protocol !== 'http:' && url.protocol !== 'https:') throw invalidConfig('baseUrl must be an http(s) URL', { baseUrl: truncate(baseUrl) });
    if (typeof model !== 'string' || model.trim() === '') throw invalidConfig('model is required');
    requireInteger('timeoutMs', timeoutMs, 1);
    requireInteger('maxRetries', maxRetries, 0);
    requireInteger('maxChunkChars', maxChunkChars, MIN_CHUNK_CHARS);
    requireInteger('maxOutputTokens', maxOutputTokens, 1);
    requireInteger('concurrency', concurrency, 1);
    if (!Number.isFinite(temperature) || temperature < 0 || temperature > 2) throw invalidConfig('temperature must be within [0, 2]', { temperature });

    this.model = model;
    this.name = `openai-compatible:${model}`;
    this.temperature = temperature;
    this.maxChunkChars = maxChunkChars;
    this.maxOutputTokens = maxOutputTokens;
    this.maxTokensField = url.hostname === 'api.openai.com' ? 'max_completion_tokens' : 'max_tokens';
    this.systemPrompt = systemPrompt;
    this.language = language;
    this.concurrency = concurrency;
    this.timeoutMs = timeoutMs;
    this.jsonMode = jsonMode;
    this.client = new OpenAI({
      baseURL: baseUrl,
      apiKey: apiKey === undefined || apiKey === '' ? PLACEHOLDER_API_KEY : apiKey,
      // Explicit nulls: the SDK would otherwise send OPENAI_ORG_ID / OPENAI_PROJECT_ID from the environment to any host.
      organization: null,
      project: null,
      timeout: timeoutMs,
      maxRetries,
      ...(headers ? { defaultHeaders: headers } : {}),
      ...(fetch ? { fetch } : {}),
    });
  }

  async summarize(input: SummarizeInput, options: { signal?: AbortSignal } = {}): Promise<LectureSummary> {
    const { signal } = options;
    signal?.throwIfAborted();
    const language = input.language ?? this.language;
    if (isEmptyTranscript(input.entries)) return emptySummary(this.name, input.entries, language);

    // One controller for the whole run: the caller's abort, or the first failed call, cancels the calls in flight.
    const controller = new AbortController();
    const onAbort = () => controller.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      const chunks = chunkTranscript(input.entries, this.maxChunkChars);
      let result: Part;
      if (chunks.length === 1 && chunks[0] !== undefined) {
        result = await this.complete(wholePrompt(chunks[0], language), chunks[0], controller.signal);
      } else {
        const partials = await this.mapBounded(chunks, controller, (chunk, i) =>
          this.complete(chunkPrompt(chunk, i, chunks.length, language), chunk, controller.signal),
        );
        result = await this.reduce(partials, language, controller);
      }
      return {
        text: result.summary,
        keyPoints: result.keyPoints,
        generator: this.name,
        createdAt: new Date().toISOString(),
        coveredSeconds: coveredSeconds(input.entries),
      };
    } catch (error) {
      if (signal?.aborted) throw signal.reason;
      throw error;
    } finally {
      signal?.removeEventListener('abort', onAbort);
      if (!controller.signal.aborted) controller.abort();
    }
  }

  /** Combines partial summaries until one remains; groups that would exceed `maxChunkChars` are combined in rounds. */
  private async reduce(partials: Part[], language: string | undefined, controller: AbortController): Promise<Part> {
    const limit = Math.floor((this.maxChunkChars - 2) / 2);
    let parts = partials.map((part) => ({ part, text: truncateText(formatPart(part), limit) }));
    for (;;) {
      const total = parts.reduce((sum, p) => sum + p.text.length + 2, 0);
      if (total - 2 <= this.maxChunkChars) {
        return this.complete(reducePrompt(parts, language, true), spanOf(parts.map((p) => p.part)), controller.signal);
      }
      // Consecutive groups that fit; each holds ≥ 2 parts (each part ≤ half the budget), so every round shrinks the list.
      const groups: (typeof parts)[] = [];
      let group: typeof parts = [];
      let size = 0;
      for (const p of parts) {
        if (group.length > 0 && size + p.text.length + 2 > this.maxChunkChars) {
          groups.push(group);
          group = [];
          size = 0;
        }
        group.push(p);
        size += p.text.length + 2;
      }
      if (group.length > 0) groups.push(group);
      const combined = await this.mapBounded(groups, controller, (g) =>
        g.length === 1 && g[0] !== undefined
          ? Promise.resolve(g[0].part)
          : this.complete(reducePrompt(g, language, false), spanOf(g.map((p) => p.part)), controller.signal),
      );
      parts = combined.map((part) => ({ part, text: truncateText(formatPart(part), limit) }));
    }
  }

  /** Runs `task` over `items` with at most `concurrency` at once, keeping order; the first failure cancels the rest. */
  private async mapBounded<T, R>(items: readonly T[], controller: AbortController, task: (item: T, index: number) => Promise<R>): Promise<R[]> {
    const results: R[] = new Array<R>(items.length);
    let next = 0;
    let failure: { error: unknown } | undefined;
    const worker = async () => {
      while (failure === undefined && next < items.length) {
        const index = next++;
        try {
          results[index] = await task(items[index] as T, index);
        } catch (error) {
          failure ??= { error };
          controller.abort();
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.concurrency, items.length) }, worker));
    if (failure !== undefined) throw failure.error;
    return results;
  }

  /** One chat completion, parsed into a summary and key points. */
  private async complete(prompt: string, span: { start: number; end: number }, signal: AbortSignal): Promise<Part> {
    signal.throwIfAborted();
    const json = this.jsonMode;
    let completion: unknown;
    try {
      completion = await this.request(prompt, json, signal);
    } catch (error) {
      // Many compatible servers reject `response_format`: retry once without it, and stop asking.
      if (json && error instanceof APIError && (error.status === 400 || error.status === 422) && !signal.aborted) {
        this.jsonMode = false;
        try {
          completion = await this.request(prompt, false, signal);
        } catch (retryError) {
          throw this.mapError(retryError, signal);
        }
      } else {
        throw this.mapError(error, signal);
      }
    }
    const { content, finishReason } = readCompletion(completion);
    if (content === undefined) throw this.unavailable('the response carries no choices[0].message.content (not a chat completion?)');
    if (content.trim() === '') {
      throw this.unavailable(`the model returned an empty answer${finishReason ? ` (finish_reason ${finishReason})` : ''}`);
    }
    const parsed = parseSummaryAnswer(content);
    if (parsed === undefined) {
      const cut = finishReason === 'length' ? ' (cut off by maxOutputTokens)' : '';
      throw this.unavailable(`the model's answer could not be parsed as a summary${cut}: ${truncate(content.trim(), 120)}`);
    }
    return { ...span, ...parsed };
  }

  private async request(prompt: string, json: boolean, signal: AbortSignal): Promise<unknown> {
    const body: OpenAI.Chat.ChatCompletionCreateParamsNonStreaming = {
      model: this.model,
      messages: [
        { role: 'system', content: this.systemPrompt },
        { role: 'user', content: prompt },
      ],
      temperature: this.temperature,
      [this.maxTokensField]: this.maxOutputTokens,
      ...(json ? { response_format: { type: 'json_object' as const } } : {}),
    };
    // A signal per request: the SDK adds an abort listener per attempt and never removes it, which
    // would pile up on the run's long-lived signal over dozens of chunk calls.
    const child = new AbortController();
    const onAbort = () => child.abort(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      // The SDK checks the signal between retries only after its backoff sleep: race it so an abort is prompt.
      return await raceAbort(this.client.chat.completions.create(body, { signal: child.signal }), child.signal);
    } finally {
      signal.removeEventListener('abort', onAbort);
    }
  }

  private mapError(error: unknown, signal: AbortSignal): unknown {
    if (signal.aborted) return signal.reason ?? error;
    if (error instanceof LecternError) return error;
    // No URL in messages or details: hosts may forward these errors to clients; the SDK error (the cause) has it for logs.
    const details: Record<string, unknown> = { generator: this.name };
    const cause = { cause: error };
    if (error instanceof APIConnectionTimeoutError) {
      return new LecternError(ErrorCode.TIMEOUT, `LLM (${this.name}) did not answer within ${this.timeoutMs} ms`, details, cause);
    }
    if (error instanceof APIUserAbortError) return new LecternError(ErrorCode.UNAVAILABLE, 'LLM request was cancelled', details, cause);
    if (error instanceof APIConnectionError) {
      const reason = error.cause instanceof Error ? `: ${error.cause.message}` : '';
      return new LecternError(ErrorCode.UNAVAILABLE, `cannot reach the LLM server (${this.name})${truncate(reason, 160)}`, details, cause);
    }
    if (error instanceof APIError && typeof error.status === 'number') {
      const status = error.status;
      const withStatus = { ...details, status };
      const serverMessage = truncate(error.message, 200);
      if (status === 401 || status === 403) {
        return new LecternError(ErrorCode.INVALID_CONFIG, `LLM refused the credentials (${status}); check apiKey`, withStatus, cause);
      }
      if (status === 404) {
        return new LecternError(ErrorCode.INVALID_CONFIG, `LLM endpoint or model "${truncate(this.model)}" not found (404); check baseUrl and model`, withStatus, cause);
      }
      if (status === 400 || status === 422) {
        return new LecternError(ErrorCode.INVALID_CONFIG, `LLM rejected the request (${status}): ${serverMessage}`, withStatus, cause);
      }
      return new LecternError(ErrorCode.UNAVAILABLE, `LLM failed with status ${status}: ${serverMessage}`, withStatus, cause);
    }
    if (error instanceof OpenAIError) return new LecternError(ErrorCode.UNAVAILABLE, `LLM request failed: ${truncate(error.message, 200)}`, details, cause);
    return toLecternError(error);
  }

  private unavailable(message: string): LecternError {
    return new LecternError(ErrorCode.UNAVAILABLE, `LLM (${this.name}): ${message}`, { generator: this.name });
  }
}

function invalidConfig(message: string, details?: Record<string, unknown>): LecternError {
  return new LecternError(ErrorCode.INVALID_CONFIG, message, details);
}

function requireInteger(name: string, value: number, min: number): void {
  if (!Number.isInteger(value) || value < min) throw invalidConfig(`${name} must be an integer ≥ ${min}`, { [name]: value });
}

function raceAbort<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) return Promise.reject(signal.reason);
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => reject(signal.reason);
    signal.addEventListener('abort', onAbort, { once: true });
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort);
        resolve(value);
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort);
        reject(error);
      },
    );
  });
}

/** Reads `choices[0].message.content` from whatever the server sent, without trusting its shape. */
function readCompletion(completion: unknown): { content: string | undefined; finishReason: string | undefined } {
  const choices = isRecord(completion) && Array.isArray(completion['choices']) ? (completion['choices'] as unknown[]) : [];
  const first = choices[0];
  const message = isRecord(first) ? first['message'] : undefined;
  const content = isRecord(message) && typeof message['content'] === 'string' ? message['content'] : undefined;
  const finishReason = isRecord(first) && typeof first['finish_reason'] === 'string' ? first['finish_reason'] : undefined;
  return { content, finishReason };
}

function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}

// ---------------------------------------------------------------------------
// Chunking and prompts

/** A stretch of the transcript sent in one request (see {@link chunkTranscript}). */
export interface TranscriptChunk {
  start: number;
  end: number;
  /** The entries' text joined with spaces (no header). */
  text: string;
}

/** `[12:30–17:30]`; hours appear when needed (`[1:02:03–1:07:00]`). */
export function formatTimeRange(start: number, end: number): string {
  return `[${formatTime(start)}–${formatTime(end)}]`;
}

function formatTime(seconds: number): string {
  const total = Math.max(0, Math.floor(Number.isFinite(seconds) ? seconds : 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  const mm = String(m).padStart(2, '0');
  const ss = String(s).padStart(2, '0');
  return h > 0 ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
}

/**
 * Splits the transcript into chunks of at most `maxChars` characters of text,
 * cut at entry boundaries (an entry longer than `maxChars` alone is cut at
 * spaces). Every entry's text lands in exactly one chunk, in order.
 */
export function chunkTranscript(entries: readonly TranscriptEntry[], maxChars: number): TranscriptChunk[] {
  const chunks: TranscriptChunk[] = [];
  let current: TranscriptChunk | undefined;
  for (const entry of entries) {
    const text = entry.text.trim().replace(/\s+/gu, ' ');
    if (text === '') continue;
    for (const piece of splitText(text, maxChars)) {
      if (current !== undefined && current.text.length + 1 + piece.length <= maxChars) {
        current.text += ` ${piece}`;
        current.end = Math.max(current.end, entry.end);
      } else {
        current = { start: entry.start, end: entry.end, text: piece };
        chunks.push(current);
      }
    }
  }
  return chunks;
}

function splitText(text: string, maxChars: number): string[] {
  if (text.length <= maxChars) return [text];
  const pieces: string[] = [];
  let rest = text;
  while (rest.length > maxChars) {
    let cut = rest.lastIndexOf(' ', maxChars);
    if (cut < maxChars / 2) cut = maxChars;
    pieces.push(rest.slice(0, cut).trim());
    rest = rest.slice(cut).trim();
  }
  if (rest !== '') pieces.push(rest);
  return pieces;
}

function spanOf(parts: readonly { start: number; end: number }[]): { start: number; end: number } {
  let start = Infinity;
  let end = -Infinity;
  for (const part of parts) {
    start = Math.min(start, part.start);
    end = Math.max(end, part.end);
  }
  return { start: Number.isFinite(start) ? start : 0, end: Number.isFinite(end) ? end : 0 };
}

function formatPart(part: Part): string {
  const points = part.keyPoints.map((point) => `- ${point}`).join('\n');
  return `${formatTimeRange(part.start, part.end)}\nSummary: ${part.summary}${points ? `\nKey points:\n${points}` : ''}`;
}

function truncateText(text: string, max: number): string {
  return text.length <= max ? text : `${text.slice(0, max - 1)}…`;
}

function languageInstruction(language: string | undefined): string {
  const code = language?.trim();
  if (code) {
    let name: string | undefined;
    try {
      name = new Intl.DisplayNames(['en'], { type: 'language' }).of(code);
    } catch {
      name = undefined;
    }
    if (name !== undefined && name !== code) return `Write the summary and the key points in ${name} (the language of the lecture).`;
    return `Write the summary and the key points in the language with ISO code "${truncate(code, 16)}" (the language of the lecture).`;
  }
  return 'Write the summary and the key points in the same language as the transcript.';
}

function answerFormat(summarySentences: string, keyPoints: string): string {
  return (
    'Answer with a JSON object only, no other text, in this form:\n' +
    '{"summary": "<' + summarySentences + ' of prose>", "keyPoints": ["<one sentence per key point>", "..."]}\n' +
    `Give ${keyPoints} key points, in the order the lecture covers them.`
  );
}

function wholePrompt(chunk: TranscriptChunk, language: string | undefined): string {
  return [
    `Summarise this lecture transcript ${formatTimeRange(chunk.start, chunk.end)}.`,
    languageInstruction(language),
    answerFormat('3 to 6 sentences', '3 to 8'),
    '',
    'Transcript:',
    `${formatTimeRange(chunk.start, chunk.end)} ${chunk.text}`,
  ].join('\n');
}

function chunkPrompt(chunk: TranscriptChunk, index: number, count: number, language: string | undefined): string {
  return [
    `This is part ${index + 1} of ${count} of a lecture transcript. Summarise this part only.`,
    languageInstruction(language),
    answerFormat('2 to 4 sentences', '2 to 6'),
    '',
    'Transcript part:',
    `${formatTimeRange(chunk.start, chunk.end)} ${chunk.text}`,
  ].join('\n');
}

function reducePrompt(parts: readonly { text: string }[], language: string | undefined, final: boolean): string {
  return [
    `Below are partial summaries of consecutive parts of ${final ? 'one lecture' : 'a stretch of one lecture'}, in order, each headed by its time range.`,
    `Combine them into one summary of ${final ? 'the whole lecture' : 'this stretch'}: merge repeated points, keep the order of the lecture.`,
    languageInstruction(language),
    answerFormat(final ? '3 to 6 sentences' : '2 to 5 sentences', final ? '3 to 8' : '3 to 6'),
    '',
    'Partial summaries:',
    parts.map((p) => p.text).join('\n\n'),
  ].join('\n');
}

// ---------------------------------------------------------------------------
// Answer parsing

const BULLET = /^\s*(?:[-*•‣◦·–]|\d{1,2}[.)]|\(\d{1,2}\))\s+(.+)$/u;
/** A bare heading: `Key points:`, `## Summary`, `**Wichtige Punkte**`. */
const HEADING = /^(?:#{1,6}\s*[^\n]{1,60}|(?:\*\*)?[\p{L}\p{M}\p{N} ]{1,40}(?:\*\*)?\s*[:：]\s*(?:\*\*)?|\*\*[^*]{1,60}\*\*)$/u;
/** `Summary: text` (a few languages): the text is kept without its label. */
const SUMMARY_LINE = /^(?:\*\*)?(?:summary|abstract|overview|zusammenfassung|résumé|resumen|riassunto|samenvatting|요약|要約|摘要|总结|概要)(?:\*\*)?\s*[:：]\s*(?:\*\*)?\s*(.+)$/iu;

/**
 * Reads `{ "summary": string, "keyPoints": string[] }` from a model's answer,
 * tolerating code fences, `<think>` blocks, `key_points`, and servers that
 * ignore JSON mode (prose plus `-`/`*`/`1.` bullets, optional headings).
 * Returns undefined when nothing usable is found.
 */
export function parseSummaryAnswer(content: string): { summary: string; keyPoints: string[] } | undefined {
  const text = content.replace(/<think>[\s\S]*?<\/think>/giu, '').trim();
  if (text === '') return undefined;
  const fromJson = parseJsonAnswer(text);
  if (fromJson !== undefined) return fromJson;

  const summaryLines: string[] = [];
  const keyPoints: string[] = [];
  for (const rawLine of text.split(/\r?\n/u)) {
    const line = rawLine.trim();
    if (line === '' || /^```/u.test(line)) continue;
    const bullet = BULLET.exec(line);
    if (bullet?.[1] !== undefined) {
      const point = cleanMarkdown(bullet[1]);
      if (point !== '') keyPoints.push(point);
      continue;
    }
    if (HEADING.test(line)) continue;
    const labelled = SUMMARY_LINE.exec(line);
    summaryLines.push(cleanMarkdown(labelled?.[1] ?? line));
  }
  const summary = summaryLines.filter((line) => line !== '').join(' ').trim();
  if (summary === '' && keyPoints.length === 0) return undefined;
  return { summary: summary !== '' ? summary : keyPoints.join(' '), keyPoints };
}

function parseJsonAnswer(text: string): { summary: string; keyPoints: string[] } | undefined {
  const fenced = /```(?:json)?\s*([\s\S]*?)```/iu.exec(text)?.[1];
  const candidates = [fenced, text];
  const open = text.indexOf('{');
  const close = text.lastIndexOf('}');
  if (open >= 0 && close > open) candidates.push(text.slice(open, close + 1));
  for (const candidate of candidates) {
    if (candidate === undefined || !candidate.trim().startsWith('{')) continue;
    let value: unknown;
    try {
      value = JSON.parse(candidate.trim());
    } catch {
      continue;
    }
    if (!isRecord(value)) continue;
    const summaryValue = value['summary'] ?? value['text'] ?? value['abstract'];
    const pointsValue = value['keyPoints'] ?? value['key_points'] ?? value['keypoints'] ?? value['points'];
    const summary = typeof summaryValue === 'string' ? summaryValue.trim() : '';
    const keyPoints = Array.isArray(pointsValue)
      ? pointsValue.filter((p): p is string => typeof p === 'string').map((p) => cleanMarkdown(p.replace(/^\s*(?:[-*•]|\d{1,2}[.)])\s+/u, ''))).filter((p) => p !== '')
      : typeof pointsValue === 'string'
        ? pointsValue.split(/\r?\n/u).map((p) => cleanMarkdown(p.replace(/^\s*(?:[-*•]|\d{1,2}[.)])\s+/u, ''))).filter((p) => p !== '')
        : [];
    if (summary === '' && keyPoints.length === 0) continue;
    return { summary: summary !== '' ? summary : keyPoints.join(' '), keyPoints };
  }
  return undefined;
}

function cleanMarkdown(text: string): string {
  return text.replace(/\*\*(.+?)\*\*/gu, '$1').replace(/__(.+?)__/gu, '$1').trim();
}
