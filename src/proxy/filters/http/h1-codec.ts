// What the lean HTTP/1.1 codecs share on both sides of the proxy (h1-server.ts downstream, upstream.ts's pool):
// header lists as node-style objects and back, a message writer that frames a body (Content-Length, chunked or
// close-delimited) and sends the head with the first bytes of the body in one write, and a body decoder for
// what http1-head.ts found in the head.

import type { IncomingHttpHeaders, OutgoingHttpHeaders } from 'node:http';
import type { Socket } from 'node:net';
import type { BodySink } from './body.js';
import {
  ChunkedDecoder,
  type HeaderField,
  type HeadLimits,
  type RequestBody,
  type ResponseBody,
} from './http1-head.js';

/**
 * A head's fields as a node-style header object: lower-case names, a repeated field's values joined with ", "
 * (RFC 9110 §5.3), `cookie` with "; ", and `set-cookie` always an array (it cannot be joined).
 */
export function headersObject(fields: readonly HeaderField[]): IncomingHttpHeaders {
  // A plain object (fast properties). Names that are Object.prototype members are still plain fields: a
  // non-string, non-array value seen first is the prototype's, and `__proto__` is defined, not assigned.
  const out: Record<string, string | string[]> = {};
  for (const [name, value] of fields) {
    const prev = out[name];
    if (name === 'set-cookie') {
      if (Array.isArray(prev)) prev.push(value);
      else out[name] = [value];
    } else if (typeof prev === 'string') out[name] = `${prev}${name === 'cookie' ? '; ' : ', '}${value}`;
    else if (name === '__proto__')
      Object.defineProperty(out, name, { value, enumerable: true, writable: true });
    else out[name] = value;
  }
  return out as IncomingHttpHeaders;
}

/** A node-style header object as field lines (`name: value\r\n` each; arrays give one line per value). */
export function fieldLines(headers: IncomingHttpHeaders | OutgoingHttpHeaders): string {
  let s = '';
  for (const name in headers) {
    const v = headers[name];
    if (v === undefined) continue;
    if (Array.isArray(v)) for (const x of v) s += `${name}: ${x}\r\n`;
    else s += `${name}: ${v}\r\n`;
  }
  return s;
}

/** How a message's body is delimited on the wire. */
export type Framing = 'none' | 'length' | 'chunked' | 'close';

const CRLF = Buffer.from('\r\n', 'latin1');
const LAST_CHUNK = Buffer.from('0\r\n\r\n', 'latin1');
/** Up to this size the head and a body chunk are copied into one buffer (one write, one TLS record). */
const COALESCE_BYTES = 16 * 1024;

/**
 * Writes one HTTP/1.1 message on a socket: the head waits for the first body chunk (or the end, or the next
 * tick) so that a small message leaves in one write; the body is framed as the head said. A `BodySink`.
 */
export class MessageWriter implements BodySink {
  private head: Buffer | undefined;
  private ended = false;
  /** Trailer field lines for a chunked body's last chunk. */
  trailers = '';

  constructor(
    private readonly socket: Socket,
    private readonly framing: Framing,
    head: Buffer,
  ) {
    this.head = head;
    process.nextTick(() => this.flushHead());
  }

  /** The whole message has been handed to the socket. */
  get finished(): boolean {
    return this.ended;
  }

  private flushHead(): void {
    const head = this.head;
    if (head === undefined || this.socket.destroyed || this.socket.writableEnded) return;
    this.head = undefined;
    this.socket.write(head);
  }

  write(chunk: Buffer): boolean {
    if (this.ended || chunk.length === 0 || this.framing === 'none') return true;
    const socket = this.socket;
    // A connection given up (closed after an early response, or reset) takes nothing more: the bytes are
    // dropped rather than left waiting for a drain that will not come.
    if (socket.destroyed || socket.writableEnded) return true;
    const head = this.head;
    this.head = undefined;
    if (this.framing === 'chunked') {
      const size = Buffer.from(`${chunk.length.toString(16)}\r\n`, 'latin1');
      if (chunk.length <= COALESCE_BYTES)
        return socket.write(Buffer.concat(head ? [head, size, chunk, CRLF] : [size, chunk, CRLF]));
      socket.cork();
      if (head) socket.write(head);
      socket.write(size);
      socket.write(chunk);
      const ok = socket.write(CRLF);
      socket.uncork();
      return ok;
    }
    if (head === undefined) return socket.write(chunk);
    if (chunk.length <= COALESCE_BYTES) return socket.write(Buffer.concat([head, chunk]));
    socket.write(head);
    return socket.write(chunk);
  }

  end(): void {
    if (this.ended) return;
    this.ended = true;
    const socket = this.socket;
    if (socket.destroyed || socket.writableEnded) return;
    const head = this.head;
    this.head = undefined;
    if (this.framing === 'chunked') {
      const last = this.trailers === '' ? LAST_CHUNK : Buffer.from(`0\r\n${this.trailers}\r\n`, 'latin1');
      socket.write(head ? Buffer.concat([head, last]) : last);
    } else if (head) socket.write(head);
  }

  onDrain(cb: () => void): void {
    this.socket.once('drain', cb);
  }
}

/** What one push into a body decoder gave. */
export interface DecodedBody {
  /** Payload slices (views of the pushed buffer). */
  data: Buffer[];
  /** Bytes of the push that belonged to the body; after `done`, the rest is the next message. */
  consumed: number;
  done: boolean;
  trailers?: HeaderField[];
  error?: string;
}

/** Reads a body delimited as its head said: by Content-Length, chunked, or by the connection's end. */
export class BodyDecoder {
  private remaining: number;
  private readonly chunked: ChunkedDecoder | undefined;

  constructor(
    readonly body: RequestBody | ResponseBody,
    limits: HeadLimits,
  ) {
    this.remaining = body.kind === 'length' ? body.length : 0;
    this.chunked = body.kind === 'chunked' ? new ChunkedDecoder(limits) : undefined;
  }

  /** Whether the body is complete without any bytes (no body). */
  get empty(): boolean {
    return this.body.kind === 'none';
  }

  push(buf: Buffer, from: number): DecodedBody {
    const bytes = from === 0 ? buf : buf.subarray(from);
    switch (this.body.kind) {
      case 'none':
        return { data: [], consumed: 0, done: true };
      case 'close':
        return { data: bytes.length > 0 ? [bytes] : [], consumed: bytes.length, done: false };
      case 'length': {
        const take = Math.min(this.remaining, bytes.length);
        this.remaining -= take;
        const data = take === 0 ? [] : [take === bytes.length ? bytes : bytes.subarray(0, take)];
        return { data, consumed: take, done: this.remaining === 0 };
      }
      case 'chunked': {
        const r = (this.chunked as ChunkedDecoder).push(bytes);
        return {
          data: r.data,
          consumed: r.consumed,
          done: r.done,
          ...(r.trailers !== undefined && r.trailers.length > 0 ? { trailers: r.trailers } : {}),
          ...(r.error !== undefined ? { error: r.error } : {}),
        };
      }
    }
  }
}
