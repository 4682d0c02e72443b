import { ErrorCode, LecternError } from '../../errors.js';

/** `language: 'auto'`: the engine detects the lecture's language once, on the first batch with speech. */
export const AUTO_LANGUAGE = 'auto';

/** What a lecture's language may be set to: {@link AUTO_LANGUAGE} or an ISO 639-1 code (`en`, `ko`, ...). */
export type RequestedLanguage = typeof AUTO_LANGUAGE | (string & {});

/** ISO 639-1 (two letters) or the few three-letter codes Whisper uses (`haw`, `yue`). */
const LANGUAGE_CODE = /^[a-z]{2,3}$/;

/** A BCP 47 tag whose language subtag Whisper may know (`ko-KR` → `ko`). */
const LANGUAGE_TAG = /^([a-z]{2,3})(?:-[a-z0-9]{1,8})*$/;

/**
 * The requested language in canonical form (`'auto'` or a lower-case code; a
 * BCP 47 tag such as `ko-KR` is reduced to its language, `ko`).
 * @throws LecternError `INVALID_REQUEST` for anything else.
 */
export function parseRequestedLanguage(value: string): RequestedLanguage {
  const tag = typeof value === 'string' ? value.trim().toLowerCase() : '';
  if (tag === AUTO_LANGUAGE) return AUTO_LANGUAGE;
  const code = LANGUAGE_TAG.exec(tag)?.[1];
  if (code !== undefined) return code;
  throw new LecternError(
    ErrorCode.INVALID_REQUEST,
    `language must be 'auto' or an ISO 639-1 code such as 'en' or 'ko' (got ${JSON.stringify(String(value).slice(0, 32))})`,
    { field: 'language' },
  );
}

/**
 * One lecture's language: what was asked for, and what it is. An explicit code
 * holds from the start; `'auto'` leaves it open until {@link pin} is called
 * with what the engine heard in the first batch with speech, and from then on
 * every batch (and anything else that needs the lecture's language, such as
 * the summary or live captions) uses that. Detection happens once per lecture:
 * it costs the engine ~0.7 s per request, and one lecture should not come back
 * in several languages.
 */
export class LectureLanguage {
  #current: string | undefined;

  constructor(
    /** `'auto'` or the code the host asked for. */
    readonly requested: RequestedLanguage,
    /** A language already detected for this lecture (a resumed or recovered lecture). */
    detected?: string,
  ) {
    this.#current = requested !== AUTO_LANGUAGE ? requested : detected !== undefined && LANGUAGE_CODE.test(detected) ? detected : undefined;
  }

  /** The lecture's language; undefined while `'auto'` has not heard speech yet. */
  get current(): string | undefined {
    return this.#current;
  }

  /** True when the language came from detection (not from the host). */
  get detected(): boolean {
    return this.requested === AUTO_LANGUAGE && this.#current !== undefined;
  }

  /**
   * Pins what the engine detected, if the language is still open. Returns true
   * when this call pinned it (exactly once per lecture).
   */
  pin(language: string): boolean {
    if (this.#current !== undefined) return false;
    const code = language.trim().toLowerCase();
    if (!LANGUAGE_CODE.test(code)) return false;
    this.#current = code;
    return true;
  }
}
