// Request targets and static-file paths, checked before anything touches the
// file system: every way a path can be malformed is a 400 here, never a throw.
import * as path from 'node:path';

/**
 * The URL of a request target, or undefined when it is not one this server
 * answers (`*`, garbage). Origin-form (`/path?query`) is read as a path even
 * when it starts with `//`, so `//host/x` cannot turn into another host.
 */
export function requestTarget(target: string | undefined): URL | undefined {
  const raw = target ?? '/';
  try {
    if (raw.startsWith('/')) return new URL(`http://localhost${raw}`);
    const absolute = new URL(raw); // absolute-form, as a proxy would send it
    return absolute.protocol === 'http:' || absolute.protocol === 'https:' ? absolute : undefined;
  } catch {
    return undefined;
  }
}

export type DecodedPath =
  | { ok: true; segments: string[] }
  | { ok: false; reason: string };

/**
 * The decoded segments of a URL pathname. Refused: bad percent-encoding, NUL
 * bytes, a decoded `/` or `\` inside a segment (`..%2f`), and `.` / `..`
 * segments (the URL parser already resolved the literal ones, so what is left
 * came encoded: a traversal attempt).
 */
export function decodePathname(pathname: string): DecodedPath {
  const segments: string[] = [];
  for (const encoded of pathname.split('/').slice(1)) {
    let segment: string;
    try {
      segment = decodeURIComponent(encoded);
    } catch {
      return { ok: false, reason: 'malformed percent-encoding' };
    }
    if (segment.includes('\0')) return { ok: false, reason: 'NUL byte in path' };
    if (segment.includes('/') || segment.includes('\\')) return { ok: false, reason: 'encoded separator in path' };
    if (segment === '.' || segment === '..') return { ok: false, reason: 'dot segment in path' };
    segments.push(segment);
  }
  return { ok: true, segments };
}

/** `segments` joined under `root`, or undefined when that would leave `root` (or be `root` itself). */
export function fileUnder(root: string, segments: readonly string[]): string | undefined {
  const resolved = path.resolve(root, ...segments);
  return resolved.startsWith(root + path.sep) ? resolved : undefined;
}
