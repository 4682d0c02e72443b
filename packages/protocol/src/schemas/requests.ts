import { z } from 'zod';
import { appDataSchema, gestureNameSchema, gesturePhaseSchema, idSchema, mediaKindSchema, mediaSourceSchema } from './common.js';
import { dtlsParametersSchema, rtpCapabilitiesSchema, rtpParametersSchema } from './rtp.js';

/**
 * The client request API: every payload a peer may send, by method. The server
 * parses each request with its schema before anything reaches mediasoup; the
 * request types (`RequestMap` in `@lectern/protocol`) are these schemas' input
 * types, so client and server cannot disagree about a payload.
 */
/** A reason shown to peers (removal, mute, room end): 1-200 characters. */
const reasonSchema = z.string().min(1).max(200);

export const requestSchemas = {
  getRouterRtpCapabilities: z.object({}),
  join: z.object({
    rtpCapabilities: rtpCapabilitiesSchema,
    displayName: z.string().max(128).optional(),
    appData: appDataSchema.optional(),
  }),
  createWebRtcTransport: z.object({
    direction: z.enum(['send', 'recv']),
    forceTcp: z.boolean().optional(),
  }),
  connectTransport: z.object({ transportId: idSchema, dtlsParameters: dtlsParametersSchema }),
  restartIce: z.object({ transportId: idSchema }),
  produce: z.object({
    transportId: idSchema,
    kind: mediaKindSchema,
    rtpParameters: rtpParametersSchema,
    source: mediaSourceSchema,
    paused: z.boolean().optional(),
    appData: appDataSchema.optional(),
  }),
  closeProducer: z.object({ producerId: idSchema }),
  pauseProducer: z.object({ producerId: idSchema }),
  resumeProducer: z.object({ producerId: idSchema }),
  consume: z.object({ producerId: idSchema, transportId: idSchema.optional() }),
  pauseConsumer: z.object({ consumerId: idSchema }),
  resumeConsumer: z.object({ consumerId: idSchema }),
  setConsumerPreferredLayers: z.object({
    consumerId: idSchema,
    spatialLayer: z.number().int().min(0).max(3),
    temporalLayer: z.number().int().min(0).max(3).optional(),
  }),
  leave: z.object({}),
  // Gestures and the raised-hand queue: strict, so unknown keys are refused, not dropped.
  sendGesture: z
    .object({
      gesture: gestureNameSchema,
      phase: gesturePhaseSchema,
      /** The recogniser's confidence; finite by zod's default (NaN and Infinity are refused). */
      confidence: z.number().min(0).max(1),
    })
    .strict(),
  raiseHand: z.object({}).strict(),
  lowerHand: z.object({}).strict(),
  getHandQueue: z.object({}).strict(),
  dismissHand: z.object({ peerId: idSchema }).strict(),
  clearHandQueue: z.object({}).strict(),
  // The admin API (grant roomAdmin: lecturers by default): strict, like the hand queue.
  listPeers: z.object({}).strict(),
  removePeer: z
    .object({
      peerId: idSchema,
      /** Shown to the removed peer (`removed` notification). */
      reason: reasonSchema.optional(),
      /** Keep the identity out: for the room's lifetime, or `banSeconds` when given. */
      ban: z.boolean().optional(),
      /** With `ban`: how long the ban lasts (it then outlives the room); at most 30 days. */
      banSeconds: z.number().int().min(1).max(30 * 86400).optional(),
    })
    .strict()
    .refine((d) => d.banSeconds === undefined || d.ban === true, { message: 'banSeconds needs ban: true', path: ['banSeconds'] }),
  muteProducer: z
    .object({
      producerId: idSchema,
      /** Close the producer instead of pausing it (the peer must publish again). Default false: paused, the peer may unmute. */
      close: z.boolean().optional(),
      reason: reasonSchema.optional(),
    })
    .strict(),
  endRoom: z.object({ reason: reasonSchema.optional() }).strict(),
} as const;

/** SRTP crypto suites a plain transport may use (all of mediasoup's; 3.13 failed AEAD_AES_256_GCM, 3.27 does not). */
export const plainSrtpCryptoSuiteSchema = z.enum(['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_128_GCM', 'AEAD_AES_256_GCM']);

/** An IPv4 or IPv6 literal (no host names, no ports, no zone ids), not the unspecified address. */
const ipLiteralSchema = z
  .union([z.ipv4(), z.ipv6()])
  .refine((ip) => ip !== '0.0.0.0' && !/^[0:]+$/.test(ip), 'must not be the unspecified address');
const udpPort = z.number().int().min(1).max(65535);

/**
 * Host-enabled request methods: PlainTransports (raw RTP, optionally SRTP) for
 * server-side peers the host controls (recorders, SIP/RTMP gateways, load
 * generators). The server refuses them with FORBIDDEN unless the host enabled
 * them; they are not part of the client protocol.
 */
export const hostRequestSchemas = {
  createPlainTransport: z
    .object({
      /** Learn the remote address from the first packet received (default false). */
      comedia: z.boolean().optional(),
      /** RTP and RTCP on one port (default true). */
      rtcpMux: z.boolean().optional(),
      /** Default false. */
      enableSrtp: z.boolean().optional(),
      /** Default AES_CM_128_HMAC_SHA1_80. */
      srtpCryptoSuite: plainSrtpCryptoSuiteSchema.optional(),
      appData: appDataSchema.optional(),
    })
    .strict(),
  connectPlainTransport: z
    .object({
      transportId: idSchema,
      /** Where the transport sends RTP (mediasoup ignores ip/port/rtcpPort on a comedia transport). */
      ip: z.string().max(45).pipe(ipLiteralSchema),
      port: udpPort,
      /** Required when the transport was created with `rtcpMux: false`; refused otherwise. */
      rtcpPort: udpPort.optional(),
      /** The remote's SRTP key; required when the transport has SRTP, refused otherwise. */
      srtpParameters: z
        .object({
          cryptoSuite: plainSrtpCryptoSuiteSchema,
          keyBase64: z.string().regex(/^[A-Za-z0-9+/]{4,128}={0,2}$/, 'must be base64 (at most 130 characters)'),
        })
        .strict()
        .optional(),
    })
    .strict(),
} as const;

/** Every schema the server dispatches on: the client methods and the host-enabled ones. */
export const allRequestSchemas = { ...requestSchemas, ...hostRequestSchemas } as const;
