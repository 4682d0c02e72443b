import type OpenAI from 'openai';
import type { LectureSummary } from '@lectern/protocol';
import type { SummarizeInput, Summarizer } from './summarizer.js';
import { ErrorCode, LecternError, toLecternError, truncate } from '../../errors.js';
import { loadOptionalPeer } from '../../util/optional-peer.js';
import { parseSummaryAnswer, readCompletion } from './answer.js';
import { coveredSeconds, emptySummary, isEmptyTranscript } from './common.js';
import { chunkPrompt, chunkTranscript, formatPart, reducePrompt, spanOf, truncateText, wholePrompt, type Part } from './prompts.js';

/** The `openai` package: an optional peer dependency, loaded by the constructor (see optional-peer.ts). */
type OpenAIModule = typeof import('openai');

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
  /**
   * Retries of a failed attempt (connection error, timeout, 408/409/429/5xx), with backoff, by the `openai` SDK (default 2).
   * This is the only retry of a summary request: the SDK owns it (see util/backoff.ts); the
   * pipeline does not retry a failed summary, it falls back to the offline summarizer.
   */
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
 * Needs the optional peer dependency `openai`, loaded when this class is
 * constructed (never by importing the module): the constructor throws
 * `INVALID_CONFIG` when it is not installed.
 *
 * Errors are `LecternError`s: unreachable / 5xx / 429 after retries →
 * `UNAVAILABLE`; timeout → `TIMEOUT`; 400/401/403/404/422 (bad key, unknown
 * model, refused parameters) → `INVALID_CONFIG`; empty or unparseable answers →
 * `UNAVAILABLE`. Aborting the signal rejects with the signal's reason.
 */
export class OpenAICompatibleSummarizer implements Summarizer {
  readonly name: string;
  private readonly sdk: OpenAIModule;
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
    this.sdk = loadOptionalPeer<OpenAIModule>('openai');
    this.client = new this.sdk.OpenAI({
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
      if (json && error instanceof this.sdk.APIError && (error.status === 400 || error.status === 422) && !signal.aborted) {
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
    const { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError, OpenAIError } = this.sdk;
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
