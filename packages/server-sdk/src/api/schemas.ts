import { z } from 'zod';

// Every client request is parsed here before anything reaches mediasoup. Sizes
// are bounded everywhere (strings, arrays, appData) so a hostile payload cannot
// make the server allocate or echo unbounded data. mediasoup-defined structures
// are "loose" objects: known fields are checked, fields a newer mediasoup(-client)
// adds pass through to mediasoup, which validates RTP semantics itself.

/** mediasoup ids (UUIDs) and host-chosen room/peer ids. */
export const idSchema = z.string().regex(/^[A-Za-z0-9_.:-]{1,64}$/, 'must be 1-64 characters of [A-Za-z0-9_.:-]');

const shortString = z.string().max(256);
const byte = z.number().int().min(0).max(255);
const u32 = z.number().int().min(0).max(0xffffffff);
const codecParameters = z
  .record(z.string().max(64), z.union([z.string().max(256), z.number().finite()]))
  .refine((r) => Object.keys(r).length <= 32, 'too many codec parameters');
const rtcpFeedback = z.array(z.looseObject({ type: z.string().max(32), parameter: z.string().max(32).optional() })).max(16);
const mediaKind = z.enum(['audio', 'video']);

/** Free-form data the host or client attaches; JSON, at most 4 KiB. */
export const appDataSchema = z
  .record(z.string().max(64), z.unknown())
  .refine((v) => JSON.stringify(v).length <= 4096, 'appData must serialise to at most 4096 bytes');

export const rtpCapabilitiesSchema = z.looseObject({
  codecs: z
    .array(
      z.looseObject({
        kind: mediaKind,
        mimeType: z.string().regex(/^(audio|video)\/[A-Za-z0-9._-]{1,32}$/),
        preferredPayloadType: byte.optional(),
        clockRate: z.number().int().positive().max(1_000_000),
        channels: z.number().int().min(1).max(8).optional(),
        parameters: codecParameters.optional(),
        rtcpFeedback: rtcpFeedback.optional(),
      }),
    )
    .max(64)
    .optional(),
  headerExtensions: z
    .array(
      z.looseObject({
        kind: mediaKind,
        uri: shortString,
        preferredId: z.number().int().min(1).max(255),
        preferredEncrypt: z.boolean().optional(),
        direction: z.enum(['sendrecv', 'sendonly', 'recvonly', 'inactive']).optional(),
      }),
    )
    .max(64)
    .optional(),
});

export const rtpParametersSchema = z.looseObject({
  mid: z.string().max(32).optional(),
  codecs: z
    .array(
      z.looseObject({
        mimeType: z.string().regex(/^(audio|video)\/[A-Za-z0-9._-]{1,32}$/),
        payloadType: byte,
        clockRate: z.number().int().positive().max(1_000_000),
        channels: z.number().int().min(1).max(8).optional(),
        parameters: codecParameters.optional(),
        rtcpFeedback: rtcpFeedback.optional(),
      }),
    )
    .min(1)
    .max(16),
  headerExtensions: z
    .array(
      z.looseObject({
        uri: shortString,
        id: z.number().int().min(1).max(255),
        encrypt: z.boolean().optional(),
        parameters: codecParameters.optional(),
      }),
    )
    .max(32)
    .optional(),
  encodings: z
    .array(
      z.looseObject({
        ssrc: u32.optional(),
        rid: z.string().max(32).optional(),
        codecPayloadType: byte.optional(),
        rtx: z.looseObject({ ssrc: u32 }).optional(),
        dtx: z.boolean().optional(),
        scalabilityMode: z.string().max(16).optional(),
        scaleResolutionDownBy: z.number().min(1).max(64).optional(),
        maxBitrate: z.number().int().positive().max(100_000_000).optional(),
      }),
    )
    .max(8)
    .optional(),
  rtcp: z
    .looseObject({ cname: z.string().max(256).optional(), reducedSize: z.boolean().optional(), mux: z.boolean().optional() })
    .optional(),
});

export const dtlsParametersSchema = z.looseObject({
  role: z.enum(['auto', 'client', 'server']).optional(),
  fingerprints: z
    .array(
      z.looseObject({
        algorithm: z.enum(['sha-1', 'sha-224', 'sha-256', 'sha-384', 'sha-512']),
        value: z.string().regex(/^[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){15,63}$/, 'must be a colon-separated hex fingerprint'),
      }),
    )
    .min(1)
    .max(8),
});

/** What a producer carries; decides its kind and what roles may send it. */
export const mediaSourceSchema = z.enum(['microphone', 'camera', 'screen', 'screen-audio']);
export type MediaSource = z.infer<typeof mediaSourceSchema>;

/** The hand gestures a client's recogniser reports (see `sendGesture`). */
export const gestureNameSchema = z.enum(['raised-hand', 'thumbs-up', 'thumbs-down', 'open-palm']);
export type GestureName = z.infer<typeof gestureNameSchema>;

/** Where a gesture is in its life: first seen, still held, gone. */
export const gesturePhaseSchema = z.enum(['start', 'hold', 'end']);
export type GesturePhase = z.infer<typeof gesturePhaseSchema>;

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
    kind: mediaKind,
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
} as const;

/** SRTP crypto suites a plain transport may use (mediasoup 3.13.16 fails AEAD_AES_256_GCM). */
export const plainSrtpCryptoSuiteSchema = z.enum(['AES_CM_128_HMAC_SHA1_80', 'AES_CM_128_HMAC_SHA1_32', 'AEAD_AES_128_GCM']);
export type PlainSrtpCryptoSuite = z.infer<typeof plainSrtpCryptoSuiteSchema>;

/** An IPv4 or IPv6 literal (no host names, no ports, no zone ids), not the unspecified address. */
const ipLiteralSchema = z
  .union([z.ipv4(), z.ipv6()])
  .refine((ip) => ip !== '0.0.0.0' && !/^[0:]+$/.test(ip), 'must not be the unspecified address');
const udpPort = z.number().int().min(1).max(65535);

/**
 * Host-enabled request methods: PlainTransports (raw RTP, optionally SRTP) for
 * server-side peers the host controls (recorders, SIP/RTMP gateways, load
 * generators). Refused with FORBIDDEN unless `RoomManagerOptions.plainTransport.enabled`.
 * They are not part of the client wire protocol ({@link requestMethods}).
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

/** Every schema the manager dispatches on: the client methods and the host-enabled ones. */
export const allRequestSchemas = { ...requestSchemas, ...hostRequestSchemas } as const;

/** A method of the client wire protocol (what the client SDK sends). */
export type ClientRequestMethod = keyof typeof requestSchemas;
/** A host-enabled method (see {@link hostRequestSchemas}). */
export type HostRequestMethod = keyof typeof hostRequestSchemas;
export type RequestMethod = ClientRequestMethod | HostRequestMethod;
export type RequestData<M extends RequestMethod> = z.infer<(typeof allRequestSchemas)[M]>;
/** The client wire protocol: the methods any peer may send (the client SDK mirrors this list). */
export const requestMethods = Object.keys(requestSchemas) as ClientRequestMethod[];
/** Methods the manager serves only when the host enables them (off by default). */
export const hostRequestMethods = Object.keys(hostRequestSchemas) as HostRequestMethod[];
