// Smoke test (a): a real worker receives real Opus RTP from FFmpeg on a
// PlainTransport bound to 127.0.0.1, and the producer's stats prove it.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as mediasoup from 'mediasoup';
import { opusRtpParameters, sendOpusRtp } from '@lectern/testkit';
import { readFileSync } from 'node:fs';
import { DEFAULT_MEDIA_CODECS, isSupportedMediasoupVersion, SUPPORTED_MEDIASOUP_RANGE } from '@lectern/server-sdk';

let worker: mediasoup.types.Worker;

before(async () => {
  worker = await mediasoup.createWorker({ logLevel: 'warn' });
});
after(() => worker.close());

test('the installed mediasoup is a supported version', () => {
  assert.ok(isSupportedMediasoupVersion(), `mediasoup ${mediasoup.version}`);
  assert.equal(isSupportedMediasoupVersion('3.13.16'), false);
  assert.equal(isSupportedMediasoupVersion('3.27.0'), false);
  assert.equal(isSupportedMediasoupVersion('3.27.1'), true);
  assert.equal(isSupportedMediasoupVersion('4.0.0'), false);
  const pkg = JSON.parse(readFileSync(new URL('../package.json', import.meta.url), 'utf8'));
  assert.equal(pkg.peerDependencies.mediasoup, SUPPORTED_MEDIASOUP_RANGE, 'the runtime check and the peer range agree');
});

test('FFmpeg Opus RTP reaches a producer on a 127.0.0.1 PlainTransport', async () => {
  const router = await worker.createRouter({ mediaCodecs: DEFAULT_MEDIA_CODECS });
  assert.deepEqual(
    router.rtpCapabilities.codecs?.filter((c) => c.kind).map((c) => c.mimeType).filter((m) => !m.endsWith('/rtx')),
    ['audio/opus', 'video/VP8', 'video/H264'],
  );
  const transport = await router.createPlainTransport({
    listenInfo: { protocol: 'udp', ip: '127.0.0.1' },
    rtcpMux: true,
    comedia: true,
  });
  assert.equal(transport.tuple.localIp, '127.0.0.1');
  const ssrc = 22220001;
  const producer = await transport.produce({ kind: 'audio', rtpParameters: opusRtpParameters(ssrc, 100) });

  const ffmpeg = sendOpusRtp({ port: transport.tuple.localPort, ssrc, payloadType: 100, durationSeconds: 3 });
  const code = await ffmpeg.exited;
  assert.equal(code, 0, `ffmpeg failed: ${ffmpeg.stderr()}`);

  const [stats] = await producer.getStats();
  assert.ok(stats, 'producer has inbound stats');
  assert.equal(stats.ssrc, ssrc);
  // 3 s of 20 ms Opus frames is ~150 packets; allow start-up slack.
  assert.ok(stats.packetCount > 120, `packets received: ${stats.packetCount}`);
  assert.ok(stats.byteCount > 10_000, `bytes received: ${stats.byteCount}`);
  assert.equal(stats.packetsLost, 0);
  // comedia latched onto FFmpeg's single socket, also on loopback.
  assert.equal(transport.tuple.remoteIp, '127.0.0.1');
  router.close();
  assert.ok(transport.closed && producer.closed, 'router close cascades');
});
