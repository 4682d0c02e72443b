import { ErrorCode, LecternError } from '../errors.js';
import { config } from './redis-connection.js';

/** Default key prefix of the cluster modules (the transcript store's default too; the `{cluster}` tag keeps them apart). */
export const DEFAULT_CLUSTER_KEY_PREFIX = 'lectern:';
const NODE_ID = /^[A-Za-z0-9._-]{1,128}$/;
const MAX_ROOM_ID_LENGTH = 256;

/** The Redis key names (layout documented in scripts.ts). One place builds them. */
export class ClusterKeys {
  /** `<prefix>{cluster}:` — the hash tag puts every cluster key in one Redis Cluster slot. */
  readonly base: string;
  readonly nodes: string;
  readonly gone: string;

  constructor(prefix: string) {
    if (typeof prefix !== 'string' || prefix.length > 256 || /[{}\p{Cc}\p{Cs}]/u.test(prefix)) {
      throw config('keyPrefix must be a string of at most 256 characters without braces or control characters');
    }
    this.base = `${prefix}{cluster}:`;
    this.nodes = `${this.base}nodes`;
    this.gone = `${this.base}gone`;
  }

  node(nodeId: string): string {
    return `${this.base}node:${nodeId}`;
  }

  nodeRooms(nodeId: string): string {
    return `${this.base}node:${nodeId}:rooms`;
  }

  room(roomId: string): string {
    return `${this.base}room:${roomId}`;
  }

  /** What a room's nodes share: its peers, producers and raised hands, by node incarnation. */
  members(roomId: string): string {
    return `${this.base}members:${roomId}`;
  }

  /** The rooms where a node incarnation has members. */
  nodeMembers(incarnation: string): string {
    return `${this.base}nodemembers:${incarnation}`;
  }

  /** The channel of a room's changes. */
  roomChannel(roomId: string): string {
    return `${this.base}roomch:${roomId}`;
  }

  /** The channel of requests to (and replies for) a node. */
  rpcChannel(nodeId: string): string {
    return `${this.base}rpc:${nodeId}`;
  }
}

/** Node ids: 1–128 of `A–Z a–z 0–9 . _ -` (they are part of key names and of the `gone` entries). */
export function validateNodeId(nodeId: unknown, code: ErrorCode = ErrorCode.INVALID_CONFIG): string {
  if (typeof nodeId !== 'string' || !NODE_ID.test(nodeId)) throw new LecternError(code, 'nodeId must be 1–128 characters of A–Z a–z 0–9 . _ -');
  return nodeId;
}

/** Room ids: 1–256 characters, no control characters (INVALID_REQUEST otherwise). */
export function validateRoomId(roomId: unknown): string {
  if (typeof roomId !== 'string' || roomId.length === 0 || roomId.length > MAX_ROOM_ID_LENGTH || /[\p{Cc}\p{Cs}]/u.test(roomId)) {
    throw new LecternError(ErrorCode.INVALID_REQUEST, 'roomId must be 1–256 characters without control characters');
  }
  return roomId;
}
