// The one adapter between a socket and the pure inspectors (ClientHello, HTTP): it reads what arrives, offers
// all bytes so far to `decide` after every chunk, and when `decide` is done puts every byte back
// (`socket.unshift`) so the next stage reads the connection from its first byte. Nothing is consumed.

import type { Socket } from 'node:net';

export type PeekEnd = 'decided' | 'timeout' | 'closed' | 'error';

export interface PeekResult {
  end: PeekEnd;
  /** Every byte read: put back into the socket after 'decided' and 'timeout', only reported otherwise. */
  bytes: Buffer;
}

/**
 * Reads until `decide(bytes)` returns true, the timeout fires (0: none), or the peer closes/errs. The socket is
 * left paused with the bytes unshifted. `decide` is pure and must not throw.
 */
export function peek(
  socket: Socket,
  decide: (bytes: Buffer) => boolean,
  timeoutMs: number,
): Promise<PeekResult> {
  return new Promise((resolve) => {
    let chunks: Buffer[] = [];
    let total = 0;
    let timer: NodeJS.Timeout | undefined;
    const finish = (end: PeekEnd) => {
      if (timer) clearTimeout(timer);
      socket.off('data', onData);
      socket.off('end', onEnd);
      socket.off('error', onError);
      socket.off('close', onEnd);
      socket.pause();
      const bytes = chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks, total);
      chunks = [];
      if (end === 'decided' || end === 'timeout') {
        if (bytes.length > 0) socket.unshift(bytes);
      }
      resolve({ end, bytes });
    };
    const onData = (chunk: Buffer) => {
      chunks.push(chunk);
      total += chunk.length;
      const all = chunks.length === 1 ? chunk : Buffer.concat(chunks, total);
      if (chunks.length > 1) chunks = [all];
      if (decide(all)) finish('decided');
    };
    const onEnd = () => finish('closed');
    const onError = () => finish('error');
    socket.on('data', onData);
    socket.on('end', onEnd);
    socket.on('close', onEnd);
    socket.on('error', onError);
    if (timeoutMs > 0) timer = setTimeout(() => finish('timeout'), timeoutMs);
    socket.resume();
  });
}
