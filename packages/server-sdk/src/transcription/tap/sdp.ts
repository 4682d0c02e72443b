import type { types } from 'mediasoup';
import { ErrorCode, LecternError } from '../../errors.js';

/**
 * The SDP that tells FFmpeg what the tap's consumer sends: one audio stream
 * (the consumer's codec and payload type) to `127.0.0.1:port`, RTCP on port + 1.
 */
export function tapSdp(rtpParameters: types.RtpParameters, port: number): string {
  const codec = rtpParameters.codecs[0];
  if (!codec) throw new LecternError(ErrorCode.INTERNAL, 'tap consumer has no codec');
  const [kind, name] = codec.mimeType.split('/');
  if (kind !== 'audio' || !name) {
    throw new LecternError(ErrorCode.INVALID_REQUEST, `the transcription tap takes audio, not ${codec.mimeType}`);
  }
  const pt = codec.payloadType;
  const fmtp = Object.entries(codec.parameters ?? {})
    .map(([key, value]) => `${key}=${String(value)}`)
    .join(';');
  return [
    'v=0',
    'o=- 0 0 IN IP4 127.0.0.1',
    's=lectern-tap',
    'c=IN IP4 127.0.0.1',
    't=0 0',
    `m=audio ${port} RTP/AVP ${pt}`,
    `a=rtcp:${port + 1}`,
    `a=rtpmap:${pt} ${name}/${codec.clockRate}${codec.channels && codec.channels > 1 ? `/${codec.channels}` : ''}`,
    ...(fmtp ? [`a=fmtp:${pt} ${fmtp}`] : []),
    'a=recvonly',
    '',
  ].join('\r\n');
}
