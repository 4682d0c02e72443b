import * as dgram from 'node:dgram';
import * as net from 'node:net';

/** A TCP port on 127.0.0.1 that was free a moment ago (the OS picked it). */
export async function freeTcpPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = net.createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as net.AddressInfo;
      server.close(() => resolve(port));
    });
  });
}

/** A UDP socket bound to 127.0.0.1 on an OS-chosen port; the caller closes it. */
export async function bindUdp(): Promise<{ socket: dgram.Socket; port: number }> {
  const socket = dgram.createSocket('udp4');
  await new Promise<void>((resolve, reject) => {
    socket.once('error', reject);
    socket.bind(0, '127.0.0.1', () => resolve());
  });
  return { socket, port: socket.address().port };
}
