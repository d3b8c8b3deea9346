// Captures what real clients send first: a one-shot TCP server on 127.0.0.1 reads until `decided(bytes)`.

import net from 'node:net';

/** Starts a client against the port and returns a function that stops it. */
export type Client = (port: number) => () => void;

/** Runs `start(port)` against a one-shot server and resolves with the first bytes for which `decided` holds. */
export function captureFirstBytes(
  start: Client,
  decided: (bytes: Buffer) => boolean,
  timeoutMs = 5000,
): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    let stop: (() => void) | undefined;
    const server = net.createServer((socket) => {
      let bytes = Buffer.alloc(0);
      socket.on('error', () => {});
      socket.on('data', (chunk: Buffer) => {
        bytes = Buffer.concat([bytes, chunk]);
        if (!decided(bytes)) return;
        socket.destroy();
        finish(() => resolve(bytes));
      });
    });
    const timer = setTimeout(() => finish(() => reject(new Error('nothing decisive in time'))), timeoutMs);
    const finish = (settle: () => void) => {
      clearTimeout(timer);
      stop?.();
      server.close();
      settle();
    };
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      if (address === null || typeof address === 'string') return reject(new Error('no port'));
      stop = start(address.port);
    });
  });
}
