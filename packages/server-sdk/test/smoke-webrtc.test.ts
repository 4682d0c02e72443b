// Smoke test (b): a real WebRTC peer (werift via msc-node: ICE + DTLS + SRTP)
// sends Opus to a WebRtcTransport and a second peer receives it back through a
// consumer. This is the regression test for the DTLS/kernel-TLS crash of a worker
// built against Debian's OpenSSL: without the fix the worker dies at the handshake.
import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import * as mediasoup from 'mediasoup';
import { TestWebRtcPeer, type TestPeerSignaling } from '@lectern/testkit';
import { DEFAULT_MEDIA_CODECS } from '@lectern/server-sdk';

let worker: mediasoup.types.Worker;
let workerDied: Error | undefined;

before(async () => {
  worker = await mediasoup.createWorker({ logLevel: 'warn' });
  worker.on('died', (error) => (workerDied = error));
});
after(() => worker.close());

async function waitFor(what: string, check: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (workerDied) throw new Error(`worker died while waiting for ${what}: ${workerDied.message}`);
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

test('a WebRTC peer produces Opus over DTLS/SRTP and another peer consumes it', async () => {
  const router = await worker.createRouter({ mediaCodecs: DEFAULT_MEDIA_CODECS });
  const transports = new Map<string, mediasoup.types.WebRtcTransport>();
  const producers = new Map<string, mediasoup.types.Producer>();
  const createTransport = async () => {
    const t = await router.createWebRtcTransport({ listenInfos: [{ protocol: 'udp', ip: '127.0.0.1' }] });
    transports.set(t.id, t);
    return { id: t.id, iceParameters: t.iceParameters, iceCandidates: t.iceCandidates, dtlsParameters: t.dtlsParameters };
  };
  const signaling: TestPeerSignaling = {
    async connectTransport(id, dtlsParameters) {
      await transports.get(id)!.connect({ dtlsParameters: dtlsParameters as mediasoup.types.DtlsParameters });
    },
    async produce(id, kind, rtpParameters) {
      const p = await transports.get(id)!.produce({ kind, rtpParameters: rtpParameters as mediasoup.types.RtpParameters });
      producers.set(p.id, p);
      return p.id;
    },
  };

  const sender = await TestWebRtcPeer.create(router.rtpCapabilities);
  const receiver = await TestWebRtcPeer.create(router.rtpCapabilities);
  try {
    const sendTransport = sender.createSendTransport(await createTransport(), signaling);
    const clientProducer = await sender.produceAudio(sendTransport);
    const serverSend = transports.get(sendTransport.id)!;
    const producer = producers.get(clientProducer.id);
    assert.ok(producer, 'server-side producer exists');

    await waitFor('DTLS connected on the send transport', () => serverSend.dtlsState === 'connected');
    await waitFor('the producer to receive RTP', async () => ((await producer.getStats())[0]?.packetCount ?? 0) > 50);

    const recvInfo = await createTransport();
    const recvTransport = receiver.createRecvTransport(recvInfo, signaling);
    const serverRecv = transports.get(recvInfo.id)!;
    const consumer = await serverRecv.consume({
      producerId: producer.id,
      rtpCapabilities: receiver.rtpCapabilities as mediasoup.types.RtpCapabilities,
      paused: true,
    });
    const received = await receiver.consume(recvTransport, {
      id: consumer.id, producerId: producer.id, kind: consumer.kind, rtpParameters: consumer.rtpParameters,
    });
    await consumer.resume();

    await waitFor('the receiving peer to get RTP through the consumer', () => received.packets() > 50);
    const out = (await consumer.getStats()).find((s) => s.type === 'outbound-rtp');
    assert.ok(out && out.packetCount > 50, `consumer forwarded ${out?.packetCount} packets`);
    assert.equal(serverRecv.dtlsState, 'connected');
    assert.ok(received.bytes() > 1000);
    assert.equal(workerDied, undefined);
    assert.equal(worker.closed, false, 'worker survived the DTLS handshakes');
  } finally {
    await sender.close();
    await receiver.close();
    router.close();
  }
});
