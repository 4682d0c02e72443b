/**
 * @lectern/server-sdk/cluster — Lectern beyond one machine: media nodes that
 * find each other, and the rooms they serve, through Redis.
 * @packageDocumentation
 */
export {};
