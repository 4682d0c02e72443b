import { setImmediate as yieldToEventLoop } from 'node:timers/promises';
import type { Sentence } from './sentences.js';

/** Edges of the similarity graph below this cosine are dropped (noise; keeps the graph sparse). */
const EDGE_MIN_SIMILARITY = 0.05;
/** Each sentence is compared with at most this many following sentences (bounds the work on very long lectures; exact below 2 × this). */
const SIMILARITY_WINDOW = 1200;
const DAMPING = 0.85;
const MAX_ITERATIONS = 100;
const CONVERGENCE = 1e-7;
/** Rows of the similarity graph computed between two yields to the event loop. */
const ROWS_PER_YIELD = 250;

/**
 * LexRank: builds the sparse cosine-similarity graph (via posting lists, each
 * sentence compared with at most {@link SIMILARITY_WINDOW} followers) and runs
 * a damped power iteration on it. Returns one centrality score per sentence.
 */
export async function lexRank(sentences: Sentence[], signal: AbortSignal | undefined): Promise<Float64Array> {
  const n = sentences.length;
  const scores = new Float64Array(n).fill(1 / Math.max(n, 1));
  if (n <= 1) return scores;

  // Posting lists: for each term, the sentences containing it (ascending) and its weight there.
  const postingSentences: number[][] = [];
  const postingWeights: number[][] = [];
  sentences.forEach((sentence, s) => {
    sentence.terms.forEach((term, t) => {
      (postingSentences[term] ??= []).push(s);
      (postingWeights[term] ??= []).push(sentence.weights[t] ?? 0);
    });
  });

  // Upper triangle of the similarity matrix, row by row, with an accumulator.
  const neighbours: number[][] = Array.from({ length: n }, () => []);
  const edgeWeights: number[][] = Array.from({ length: n }, () => []);
  const accumulator = new Float64Array(n);
  const touched = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const sentence = sentences[i];
    if (sentence === undefined) continue;
    let touchedCount = 0;
    const limit = i + SIMILARITY_WINDOW;
    for (let t = 0; t < sentence.terms.length; t++) {
      const term = sentence.terms[t] ?? 0;
      const weight = sentence.weights[t] ?? 0;
      const others = postingSentences[term] ?? [];
      const otherWeights = postingWeights[term] ?? [];
      for (let p = (sentence.postingIndex[t] ?? 0) + 1; p < others.length; p++) {
        const j = others[p] ?? 0;
        if (j > limit) break;
        if (accumulator[j] === 0) touched[touchedCount++] = j;
        accumulator[j] = (accumulator[j] ?? 0) + weight * (otherWeights[p] ?? 0);
      }
    }
    for (let k = 0; k < touchedCount; k++) {
      const j = touched[k] ?? 0;
      const similarity = accumulator[j] ?? 0;
      accumulator[j] = 0;
      if (similarity < EDGE_MIN_SIMILARITY) continue;
      neighbours[i]?.push(j);
      edgeWeights[i]?.push(similarity);
      neighbours[j]?.push(i);
      edgeWeights[j]?.push(similarity);
    }
    if (i % ROWS_PER_YIELD === ROWS_PER_YIELD - 1) {
      await yieldToEventLoop();
      signal?.throwIfAborted();
    }
  }

  const degree = new Float64Array(n);
  for (let i = 0; i < n; i++) for (const w of edgeWeights[i] ?? []) degree[i] = (degree[i] ?? 0) + w;

  // p' = (1-d)/n + d * (Σ_i p_i * w_ij / deg_i + dangling/n)
  let next = new Float64Array(n);
  let current = scores;
  for (let iteration = 0; iteration < MAX_ITERATIONS; iteration++) {
    let dangling = 0;
    next.fill(0);
    for (let i = 0; i < n; i++) {
      const p = current[i] ?? 0;
      const deg = degree[i] ?? 0;
      if (deg === 0) {
        dangling += p;
        continue;
      }
      const js = neighbours[i] ?? [];
      const ws = edgeWeights[i] ?? [];
      const share = p / deg;
      for (let e = 0; e < js.length; e++) {
        const j = js[e] ?? 0;
        next[j] = (next[j] ?? 0) + share * (ws[e] ?? 0);
      }
    }
    const base = (1 - DAMPING) / n + (DAMPING * dangling) / n;
    let delta = 0;
    for (let j = 0; j < n; j++) {
      const value = base + DAMPING * (next[j] ?? 0);
      delta += Math.abs(value - (current[j] ?? 0));
      next[j] = value;
    }
    [current, next] = [next, current];
    if (delta < CONVERGENCE) break;
  }
  return current;
}
