import * as dgram from 'node:dgram';

function bind(port: number): Promise<dgram.Socket | undefined> {
  return new Promise((resolve) => {
    const socket = dgram.createSocket('udp4');
    socket.once('error', () => {
      socket.close();
      resolve(undefined);
    });
    socket.bind({ port, address: '127.0.0.1', exclusive: true }, () => resolve(socket));
  });
}

const closeSocket = (socket: dgram.Socket) => new Promise<void>((resolve) => socket.close(() => resolve()));

/**
 * A free pair (even RTP port, RTP + 1 for RTCP) on 127.0.0.1. The ports are
 * released before returning, so another process can still take them; the
 * caller (FFmpeg) then fails to bind and the tap retries on a fresh pair.
 */
export async function freeUdpPortPair(): Promise<number> {
  for (let attempt = 0; attempt < 50; attempt++) {
    const first = await bind(0);
    if (!first) continue;
    const port = first.address().port;
    const rtp = port % 2 === 0 ? port : port + 1;
    const sockets = [first];
    if (rtp !== port) {
      const s = await bind(rtp);
      if (s) sockets.push(s);
      else {
        await closeSocket(first);
        continue;
      }
    }
    const rtcp = await bind(rtp + 1);
    await Promise.all(sockets.map(closeSocket));
    if (!rtcp) continue;
    await closeSocket(rtcp);
    return rtp;
  }
  throw new Error('no free UDP port pair on 127.0.0.1');
}

/** True once some process holds `port` on 127.0.0.1 (used to see that FFmpeg is listening). */
export async function isUdpPortTaken(port: number): Promise<boolean> {
  const socket = await bind(port);
  if (!socket) return true;
  await closeSocket(socket);
  return false;
}
