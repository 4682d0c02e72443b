/**
 * Reading what an OpenAI-compatible server answered: the completion's content,
 * then the summary and key points in it, from strict JSON down to prose with
 * bullets (servers that ignore JSON mode).
 */

/** Reads `choices[0].message.content` from whatever the server sent, without trusting its shape. */
export function readCompletion(completion: unknown): { content: string | undefined; finishReason: string | undefined } {
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
