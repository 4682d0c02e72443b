/**
 * The WebRTC parameters that cross the wire inside requests and replies. They
 * are mediasoup's own structures (see https://mediasoup.org/documentation/v3/
 * mediasoup/rtp-parameters-and-capabilities/), declared here as JSON so neither
 * SDK's wire types depend on the other's mediasoup package: the server hands
 * mediasoup's objects out, the client hands them to mediasoup-client. The
 * capability and parameter shapes are the request schemas' own
 * (`@lectern/protocol/schemas`), so what the server accepts and what the client
 * sends are one declaration.
 */
import type { z } from 'zod';
import type { dtlsParametersSchema, rtpCapabilitiesSchema, rtpParametersSchema } from './schemas/rtp.js';

/** What a device or router can send and receive (codecs, header extensions). */
export type RtpCapabilities = z.output<typeof rtpCapabilitiesSchema>;

/** How one RTP stream is sent (codecs, encodings, header extensions, RTCP). */
export type RtpParameters = z.output<typeof rtpParametersSchema>;

/** A DTLS role and the certificate fingerprints of one side of a WebRTC transport. */
export type DtlsParameters = z.output<typeof dtlsParametersSchema>;

/** The server's ICE credentials for one WebRTC transport (mediasoup is ICE-lite). */
export interface IceParameters {
  usernameFragment: string;
  password: string;
  iceLite?: boolean;
}

/** A server ICE candidate (host candidates only: mediasoup is ICE-lite). */
export interface IceCandidate {
  foundation: string;
  priority: number;
  /** The address the client connects to (an IP, or the announced address / host name). */
  address: string;
  /** The same as `address` (mediasoup still sends it; mediasoup-client still requires it). */
  ip: string;
  protocol: 'udp' | 'tcp';
  port: number;
  type: 'host';
  tcpType?: 'passive';
}

/** SRTP crypto suites a plain transport may use. */
export type SrtpCryptoSuite = 'AEAD_AES_256_GCM' | 'AEAD_AES_128_GCM' | 'AES_CM_128_HMAC_SHA1_80' | 'AES_CM_128_HMAC_SHA1_32';

/** An SRTP key of one side of a plain transport. */
export interface SrtpParameters {
  cryptoSuite: SrtpCryptoSuite;
  keyBase64: string;
}

/** How a consumer forwards its producer's streams. */
export type ConsumerType = 'simple' | 'simulcast' | 'svc' | 'pipe';
