// Node's own HTTP/1.1 parser (llhttp, strict mode, as in Envoy's codec) as an oracle for the `http1` fuzz
// target: a node:http server on 127.0.0.1 is sent the bytes on a fresh connection and tells whether it accepted
// the request (and what it read: method, target, fields, body, trailers) or refused it.

import http from 'node:http';
import net from 'node:net';

export type OracleVerdict =
  | {
      kind: 'accepted';
      method: string;
      target: string;
      /** [lower-case name, value] in arrival order. */
      headers: [string, string][];
      body: Buffer;
      trailers: [string, string][];
    }
  | { kind: 'refused'; reason: string }
  | { kind: 'undecided' };

function pairs(raw: string[]): [string, string][] {
  const out: [string, string][] = [];
  for (let i = 0; i + 1 < raw.length; i += 2)
    out.push([(raw[i] as string).toLowerCase(), raw[i + 1] as string]);
  return out;
}

export class LlhttpOracle {
  private server: http.Server | undefined;
  private port = 0;
  /** Who waits for a verdict, by the client's local port (a late event of an earlier connection is ignored). */
  private readonly pending = new Map<number, (v: OracleVerdict) => void>();

  private async start(): Promise<void> {
    const server = http.createServer((req, res) => {
      const body: Buffer[] = [];
      req.on('data', (c: Buffer) => body.push(c));
      req.on('end', () => {
        this.settle(req.socket.remotePort, {
          kind: 'accepted',
          method: req.method ?? '',
          target: req.url ?? '',
          headers: pairs(req.rawHeaders),
          body: Buffer.concat(body),
          trailers: pairs(req.rawTrailers),
        });
        res.end();
      });
      req.on('error', () => {});
    });
    server.on('clientError', (err: NodeJS.ErrnoException & { reason?: string }, socket) => {
      this.settle((socket as net.Socket).remotePort, {
        kind: 'refused',
        reason: `${err.code ?? ''} ${err.reason ?? err.message}`,
      });
      socket.destroy();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : 0;
    this.server = server;
  }

  private settle(port: number | undefined, v: OracleVerdict): void {
    if (port === undefined) return;
    const resolve = this.pending.get(port);
    this.pending.delete(port);
    resolve?.(v);
  }

  /**
   * Sends `bytes` on a new connection; one request at a time. A connection that gets no verdict in time (a
   * rare lost event on a loaded machine) is retried on a new one before the oracle says `undecided`.
   */
  async judge(bytes: Buffer, timeoutMs = 3000, tries = 3): Promise<OracleVerdict> {
    let v: OracleVerdict = { kind: 'undecided' };
    for (let i = 0; i < tries && v.kind === 'undecided'; i++) v = await this.judgeOnce(bytes, timeoutMs);
    return v;
  }

  private async judgeOnce(bytes: Buffer, timeoutMs: number): Promise<OracleVerdict> {
    if (!this.server) await this.start();
    const socket = net.connect(this.port, '127.0.0.1');
    const connected = await new Promise<boolean>((resolve) => {
      socket.once('connect', () => resolve(true));
      socket.once('error', () => resolve(false));
    });
    socket.on('error', () => {});
    if (!connected) return { kind: 'undecided' };
    const port = socket.localPort;
    const verdict = new Promise<OracleVerdict>((resolve) => {
      if (port === undefined) return resolve({ kind: 'undecided' });
      this.pending.set(port, resolve);
      // node:http answers some refusals itself (400 for a missing Host) without a clientError.
      socket.on('data', (d: Buffer) => {
        if (/^HTTP\/1\.1 4\d\d/.test(d.toString('latin1')))
          this.settle(port, { kind: 'refused', reason: 'answered 4xx' });
      });
      setTimeout(() => this.settle(port, { kind: 'undecided' }), timeoutMs).unref();
    });
    socket.write(bytes);
    const v = await verdict;
    socket.destroy();
    return v;
  }

  async close(): Promise<void> {
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
}
