// Lectern quick start (until the full lecture app lands in examples/): one room on
// a real mediasoup worker; a "lecturer" voice (flite speech, sent by FFmpeg as
// Opus RTP into a 127.0.0.1 PlainTransport) and a "student" (a real WebRTC peer)
// who receives it over DTLS/SRTP. Prints what flows, then closes everything.
//
//   npm run demo                        (sets everything up first)
//   LECTERN_DEMO_SECONDS=30 npm run demo
import * as fs from 'node:fs/promises';
import * as os from 'node:os';
import * as path from 'node:path';
import * as mediasoup from 'mediasoup';
import { DEFAULT_MEDIA_CODECS } from '@lectern/server-sdk';
import { opusRtpParameters, sendOpusRtp, speak, TestWebRtcPeer } from '@lectern/testkit';

const seconds = Number(process.env.LECTERN_DEMO_SECONDS ?? 10);
const say = (msg: string) => console.log(`[quickstart] ${msg}`);

const tmp = await fs.mkdtemp(path.join(os.tmpdir(), 'lectern-quickstart-'));
const worker = await mediasoup.createWorker({ logLevel: 'warn' });
worker.on('died', (error) => {
  console.error('[quickstart] worker died:', error);
  process.exitCode = 1;
});
say(`mediasoup ${mediasoup.version}, worker pid ${worker.pid}`);
const router = await worker.createRouter({ mediaCodecs: DEFAULT_MEDIA_CODECS });
say(`room router ${router.id} with ${DEFAULT_MEDIA_CODECS.map((c) => c.mimeType).join(', ')}`);

// Lecturer: flite speech -> FFmpeg -> Opus RTP -> PlainTransport (comedia) -> producer.
const wav = path.join(tmp, 'lecture.wav');
await speak(
  'Welcome to the lecture. Today we talk about how a selective forwarding unit sends ' +
    'one speaker to many listeners without decoding the media.',
  wav,
);
const plain = await router.createPlainTransport({ listenInfo: { protocol: 'udp', ip: '127.0.0.1' }, rtcpMux: true, comedia: true });
const ssrc = 31337;
const producer = await plain.produce({ kind: 'audio', rtpParameters: opusRtpParameters(ssrc, 100), appData: { role: 'lecturer' } });
const ffmpeg = sendOpusRtp({ port: plain.tuple.localPort, ssrc, payloadType: 100, inputFile: wav, loop: true });
say(`lecturer voice: FFmpeg -> udp://127.0.0.1:${plain.tuple.localPort} -> producer ${producer.id}`);

// Student: a real WebRTC peer (ICE + DTLS + SRTP) consuming the lecturer.
const webrtc = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] });
const student = await TestWebRtcPeer.create(router.rtpCapabilities);
const recv = student.createRecvTransport(
  { id: webrtc.id, iceParameters: webrtc.iceParameters, iceCandidates: webrtc.iceCandidates, dtlsParameters: webrtc.dtlsParameters },
  {
    connectTransport: (_id, dtlsParameters) => webrtc.connect({ dtlsParameters: dtlsParameters as mediasoup.types.DtlsParameters }),
    produce: () => Promise.reject(new Error('the student does not produce here')),
  },
);
const consumer = await webrtc.consume({
  producerId: producer.id,
  rtpCapabilities: student.rtpCapabilities as mediasoup.types.RtpCapabilities,
  paused: true,
});
const received = await student.consume(recv, { id: consumer.id, producerId: producer.id, kind: 'audio', rtpParameters: consumer.rtpParameters });
await consumer.resume();
say(`student: WebRTC transport ${webrtc.id}, consumer ${consumer.id}`);

for (let s = 1; s <= seconds; s++) {
  await new Promise((r) => setTimeout(r, 1000));
  const [inbound] = await producer.getStats();
  const usage = await worker.getResourceUsage();
  say(
    `t=${String(s).padStart(2)}s  producer rx ${inbound?.packetCount ?? 0} pkts  ` +
      `student rx ${received.packets()} pkts (${received.bytes()} B)  dtls=${webrtc.dtlsState}  ` +
      `worker cpu ${((usage.ru_utime + usage.ru_stime) / 1000).toFixed(2)} s`,
  );
}

await ffmpeg.stop();
await student.close();
router.close();
worker.close();
await fs.rm(tmp, { recursive: true, force: true });
if (received.packets() === 0) {
  console.error('[quickstart] the student received nothing');
  process.exitCode = 1;
} else {
  say(`done: the student received ${received.packets()} packets; everything closed.`);
}
