import { createRequire } from 'node:module';
import { ErrorCode, LecternError } from '../errors.js';

/** The server SDK's optional peer dependencies, and what needs each (a caller may name its own feature). */
const PEERS = {
  ioredis: 'RedisTranscriptStore (with a `url`)',
  openai: 'OpenAICompatibleSummarizer',
  bullmq: 'the STT queue (TranscriptionService `sttQueue`, SttQueueWorker)',
} as const;

export type OptionalPeer = keyof typeof PEERS;

const requireFromHere = createRequire(import.meta.url);

/**
 * Loads an optional peer dependency at the moment a feature that needs it is
 * constructed — never when a module is imported — so a host that uses neither
 * Redis nor an LLM needs neither package installed, and one that imports only
 * `@lectern/server-sdk` loads neither.
 *
 * Loaded synchronously (both packages ship CommonJS), so the constructor that
 * needs one fails at once, with `INVALID_CONFIG`, when it is not installed —
 * at the host's start-up, not at the end of the first lecture.
 */
export function loadOptionalPeer<T>(name: OptionalPeer, feature: string = PEERS[name]): T {
  try {
    return requireFromHere(name) as T;
  } catch (error) {
    if (!isNotFound(error, name)) throw error;
    throw new LecternError(
      ErrorCode.INVALID_CONFIG,
      `${feature} needs the optional peer dependency "${name}", which is not installed: add it to the host (npm install ${name})`,
      { dependency: name },
      { cause: error },
    );
  }
}

/** The package itself is missing (not a file inside it, nor one of its own dependencies). */
function isNotFound(error: unknown, name: string): boolean {
  const code = (error as { code?: unknown } | null)?.code;
  if (code !== 'MODULE_NOT_FOUND' && code !== 'ERR_MODULE_NOT_FOUND') return false;
  const message = error instanceof Error ? error.message : String(error);
  return message.includes(`'${name}'`) || message.includes(`"${name}"`);
}
