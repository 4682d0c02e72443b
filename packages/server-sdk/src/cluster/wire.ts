import { z } from 'zod';
import { appDataSchema, gestureNameSchema, gesturePhaseSchema, idSchema, mediaKindSchema, mediaSourceSchema, peerGrantsSchema, peerRoleSchema, rtpParametersSchema } from '@lectern/protocol/schemas';
import type { RoomChange } from '../rooms/room-link.js';

/**
 * What media nodes send each other over Redis, as schemas: every frame from
 * another node is checked before it is used (a bad one is dropped and reported,
 * never thrown into the room). One place for the node-to-node wire.
 */

const peerInfoSchema = z.object({
  peerId: idSchema,
  role: peerRoleSchema,
  displayName: z.string().max(256).optional(),
  appData: appDataSchema,
});

const producerInfoSchema = z.object({
  producerId: z.string().min(1).max(64),
  peerId: idSchema,
  kind: mediaKindSchema,
  source: mediaSourceSchema,
  paused: z.boolean(),
  appData: appDataSchema,
});

const handEntrySchema = z.object({
  peerId: idSchema,
  displayName: z.string().max(256).optional(),
  raisedAt: z.string().max(64),
  source: z.enum(['gesture', 'button']),
});

const leaveReasonSchema = z.enum(['left', 'replaced', 'worker-died', 'node-died', 'room-closed', 'removed']);

const roomChangeSchema = z.discriminatedUnion('type', [
  z.object({ type: z.literal('peerJoined'), info: peerInfoSchema }),
  z.object({ type: z.literal('peerLeft'), peerId: idSchema, reason: leaveReasonSchema }),
  z.object({ type: z.literal('producerAdded'), info: producerInfoSchema }),
  z.object({ type: z.literal('producerClosed'), producerId: z.string().min(1).max(64), peerId: idSchema }),
  z.object({ type: z.enum(['producerPaused', 'producerResumed']), info: producerInfoSchema }),
  z.object({
    type: z.literal('gesture'),
    event: z.object({ peerId: idSchema, gesture: gestureNameSchema, phase: gesturePhaseSchema, confidence: z.number().min(0).max(1) }),
  }),
  // A caption is made by this SDK's own pipeline on another node: its shape is checked loosely.
  z.object({ type: z.literal('caption'), data: z.looseObject({ lectureId: z.string(), peerId: z.string(), kind: z.enum(['partial', 'final']), seq: z.number(), text: z.string() }) }),
  z.object({ type: z.literal('handRaised'), entry: handEntrySchema }),
  z.object({ type: z.literal('handLowered'), peerId: idSchema }),
  z.object({ type: z.literal('handsCleared') }),
  z.object({ type: z.literal('peerBanned'), peerId: idSchema, until: z.string().max(64).optional() }),
  z.object({ type: z.literal('roomEnded'), reason: z.string().max(512).optional() }),
]);

/** A frame on a room's channel: a change, or a node leaving the room. */
export const roomFrameSchema = z.object({
  from: z.string().min(1).max(128),
  inc: z.string().min(1).max(64),
  change: roomChangeSchema.optional(),
  /** The node left the room. */
  left: z.literal(true).optional(),
  /** The node wrote its part of the room again (after lost frames): re-read it. */
  resync: z.literal(true).optional(),
});
export type RoomFrame = { from: string; inc: string; change?: RoomChange; left?: true; resync?: true };

/** A value in a room's shared hash: `<incarnation>|{"n": nodeId, "v": …}`. */
export const memberValueSchema = z.object({ n: z.string().min(1).max(128), v: z.unknown() });
/** `b:<peerId>`: a ban, until (ISO 8601) or for the room's lifetime. */
const banSchema = z.object({ until: z.string().max(64).optional() });
export const memberSchemas = { p: peerInfoSchema, r: producerInfoSchema, h: handEntrySchema, b: banSchema } as const;

const srtpParametersSchema = z.object({ cryptoSuite: z.string().max(64), keyBase64: z.string().max(256) });
const tupleSchema = { ip: z.string().min(1).max(64), port: z.number().int().min(1).max(65535), srtpParameters: srtpParametersSchema };

/** Node-to-node requests, by method: what is asked, and what is answered. */
export const nodeRequests = {
  /** The asking node made its end of a pipe pair for the room; the origin makes (or finds) its end and connects it. */
  pipeOpen: {
    params: z.object({ roomId: z.string().min(1).max(256), ingressId: z.string().min(1).max(64), ...tupleSchema }),
    result: z.object({ egressId: z.string().min(1).max(64), ...tupleSchema }),
  },
  /** Send one producer over the pair (one pipe consumer per producer and pair; asking twice gives the same). */
  pipeProducer: {
    params: z.object({ roomId: z.string().min(1).max(256), egressId: z.string().min(1).max(64), producerId: z.string().min(1).max(64) }),
    result: z.object({ kind: mediaKindSchema, rtpParameters: rtpParametersSchema, paused: z.boolean() }),
  },
  /** An admin action on a peer or producer this node holds (a lecturer elsewhere removes or mutes it). */
  roomAdmin: {
    params: z.object({
      roomId: z.string().min(1).max(256),
      action: z.discriminatedUnion('type', [
        z.object({ type: z.literal('expel'), peerId: idSchema, reason: z.string().max(512).optional(), ban: z.boolean().optional(), banSeconds: z.number().positive().max(10 * 365 * 86400).optional(), by: idSchema.optional() }),
        z.object({ type: z.literal('mute'), producerId: z.string().min(1).max(64), close: z.boolean().optional(), reason: z.string().max(512).optional(), by: idSchema.optional() }),
      ]),
    }),
    result: z.object({}),
  },
  /** This node's peers of a room with their grants and media (a lecturer's `listPeers` on another node). */
  peerDetails: {
    params: z.object({ roomId: z.string().min(1).max(256) }),
    result: z.object({
      peers: z
        .array(
          peerInfoSchema.extend({
            joinedAt: z.string().max(64),
            grants: peerGrantsSchema.required(),
            producers: z.array(producerInfoSchema),
            consumers: z.number().int().min(0),
            transports: z.number().int().min(0),
          }),
        )
        .max(100_000),
    }),
  },
  /** The asking node lost its end of a pair (its router's worker died): close ours. */
  pipeLost: {
    params: z.object({ roomId: z.string().min(1).max(256), egressId: z.string().min(1).max(64).optional(), ingressId: z.string().min(1).max(64).optional() }),
    result: z.object({}),
  },
  /** The asking node no longer uses the producer: close its pipe consumer. */
  pipeRelease: {
    params: z.object({ roomId: z.string().min(1).max(256), egressId: z.string().min(1).max(64), producerId: z.string().min(1).max(64) }),
    result: z.object({}),
  },
} as const;
export type NodeRequestMethod = keyof typeof nodeRequests;
export type NodeRequestParams<M extends NodeRequestMethod> = z.infer<(typeof nodeRequests)[M]['params']>;
export type NodeRequestResult<M extends NodeRequestMethod> = z.infer<(typeof nodeRequests)[M]['result']>;

export function isNodeRequestMethod(method: string): method is NodeRequestMethod {
  return Object.hasOwn(nodeRequests, method);
}
