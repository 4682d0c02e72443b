import { z } from 'zod';
import { mediaKindSchema } from './common.js';

// mediasoup-defined structures are "loose" objects: known fields are checked,
// fields a newer mediasoup(-client) adds pass through to mediasoup, which
// validates RTP semantics itself.

const shortString = z.string().max(256);
const byte = z.number().int().min(0).max(255);
const u32 = z.number().int().min(0).max(0xffffffff);

/**
 * Codec parameters: strings and finite numbers only, at most 32. Typed as
 * mediasoup(-client) types them (`Record<string, unknown>`), so a device's own
 * capabilities need no cast; the check is at run time.
 */
const codecParameters = z
  .record(z.string().max(64), z.unknown())
  .refine((r) => Object.keys(r).length <= 32, 'too many codec parameters')
  .refine(
    (r) => Object.values(r).every((v) => (typeof v === 'string' ? v.length <= 256 : typeof v === 'number' && Number.isFinite(v))),
    'codec parameters must be strings (at most 256 characters) or finite numbers',
  );
const rtcpFeedback = z.array(z.looseObject({ type: z.string().max(32), parameter: z.string().max(32).optional() })).max(16);
const mimeType = z.string().regex(/^(audio|video)\/[A-Za-z0-9._-]{1,32}$/);

export const rtpCapabilitiesSchema = z.looseObject({
  codecs: z
    .array(
      z.looseObject({
        kind: mediaKindSchema,
        mimeType,
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
        kind: mediaKindSchema,
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
        mimeType,
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
