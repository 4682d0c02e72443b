/**
 * @lectern/client-sdk — the browser side of a Lectern lecture.
 * @packageDocumentation
 */
export type { SignalingRequest } from './signaling.js';
