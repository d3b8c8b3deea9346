// The router's upstream side: one request sent to a cluster over HTTP/1.1 or HTTP/2, whatever the downstream
// spoke. Connections come from the cluster (load balancer, TLS per endpoint, outlier ejection) and are pooled per
// cluster: HTTP/1.1 keep-alive connections one request at a time (never pipelined, as Envoy), HTTP/2 sessions
// shared by many streams up to the server's SETTINGS_MAX_CONCURRENT_STREAMS. Failures come back as Envoy's
// reset reasons, which the connection manager turns into local replies and response flags:
//   UF connect failure · UC connection closed/reset · UR HTTP/2 RST_STREAM from the upstream.

import type http from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import type { Cluster, ConnectResult } from '../../upstream/cluster.js';
import { type BodySink, type BodySource, PushedBody, readableSource, writableSink } from './body.js';
import { BodyDecoder, type Framing, fieldLines, headersObject, MessageWriter } from './h1-codec.js';
import { DEFAULT_HEAD_LIMITS, type HeaderField, type HeadLimits, parseResponseHead } from './http1-head.js';

/** What the upstream connection was: the source reporter's connection_security_policy and principal. */
export interface UpstreamConnectionFacts {
  /** The verified server identity (URI SAN) when the connection is TLS with a checked SAN. */
  peerIdentity: string | undefined;
  /** Our own URI SAN presented on that connection ('' in plaintext). */
  localIdentity: string;
  tls: boolean;
  /** The endpoint's `metadata.filter_metadata` (Istio's `istio.workload` names a workload without a sidecar). */
  endpointMetadata: unknown;
}

export interface UpstreamHead {
  method: string;
  path: string;
  authority: string;
  scheme: string;
  /** Regular headers only (lower-case names, no pseudo or hop-by-hop headers). */
  headers: http.OutgoingHttpHeaders;
  /** The request has a body (HTTP/1.1 sends it with its Content-Length, or chunked). */
  hasBody: boolean;
}

export interface UpstreamResponse {
  status: number;
  /** Regular headers (pseudo headers removed). */
  headers: http.IncomingHttpHeaders;
  body: BodySource;
  /** True when the response ended with its headers (an HTTP/2 HEADERS frame with END_STREAM). */
  endedWithHeaders: boolean;
  connection: UpstreamConnectionFacts;
}

/** Envoy's reset reasons, as response flags. */
export type UpstreamFailure = 'UF' | 'UC' | 'UR' | 'UPE';

export interface UpstreamCallbacks {
  response(r: UpstreamResponse): void;
  /** Trailers of the response, just before its body ends. */
  trailers(t: http.IncomingHttpHeaders): void;
  /** Before the response: connect failure or reset. After it: the stream was reset mid-body. */
  failed(flag: UpstreamFailure, detail: string): void;
}

export interface UpstreamExchange {
  /** The request body goes here (end it when the downstream request ends). */
  body: BodySink;
  /** Abandons the exchange (downstream went away, timeout). */
  abort(): void;
}

const CONNECT_FAILED = 'SKIFF_CONNECT_FAILED';

function connectionFacts(r: Extract<ConnectResult, { ok: true }>): UpstreamConnectionFacts {
  const tls = 'encrypted' in r.socket;
  const localIdentity = r.localIdentity ?? '';
  const metadata = r.endpoint.config.metadata.filter_metadata;
  return { peerIdentity: r.peerIdentity, localIdentity, tls, endpointMetadata: metadata };
}

/** Idle keep-alive connections kept per cluster (LIFO: the warmest first). */
const MAX_IDLE = 64;

/** One upstream HTTP/1.1 connection: idle in its pool, or carrying one exchange at a time (never pipelined). */
class Http1Connection {
  exchange: Http1Exchange | undefined;

  constructor(
    readonly socket: Socket,
    readonly facts: UpstreamConnectionFacts,
    private readonly pool: Http1Pool,
  ) {
    socket.on('data', (chunk: Buffer) => {
      if (this.exchange) this.exchange.onData(chunk);
      // Bytes on an idle connection: the server broke the protocol; the connection is not reused.
      else socket.destroy();
    });
    // Cluster sockets allow half-open connections, but an HTTP/1.1 server's FIN ends the connection: finish ours
    // too, so that it closes and leaves the pool instead of taking the next request.
    socket.once('end', () => {
      socket.end();
      this.pool.forget(this);
      this.exchange?.onEnd();
    });
    socket.on('error', () => {});
    socket.once('close', () => {
      this.pool.forget(this);
      this.exchange?.onClose();
    });
  }

  /** Whether the connection can take a request. */
  get usable(): boolean {
    const s = this.socket;
    return !s.destroyed && !s.readableEnded && s.writable;
  }
}

/** A per-cluster HTTP/1.1 keep-alive pool whose new connections come from the cluster. */
class Http1Pool {
  private readonly idle: Http1Connection[] = [];
  private readonly all = new Set<Http1Connection>();

  constructor(
    private readonly cluster: Cluster,
    readonly limits: HeadLimits,
  ) {}

  acquire(done: (c: Http1Connection | { error: string }) => void): void {
    for (let c = this.idle.pop(); c !== undefined; c = this.idle.pop()) {
      if (c.usable) {
        done(c);
        return;
      }
      c.socket.destroy();
    }
    this.cluster.connect((r) => {
      if (!r.ok) {
        done({ error: r.detail });
        return;
      }
      const c = new Http1Connection(r.socket, connectionFacts(r), this);
      this.all.add(c);
      done(c);
    });
  }

  /** An exchange is over and the connection may carry the next one. */
  release(c: Http1Connection): void {
    c.exchange = undefined;
    if (!c.usable) return;
    if (this.idle.length >= MAX_IDLE) {
      c.socket.end();
      return;
    }
    this.idle.push(c);
  }

  forget(c: Http1Connection): void {
    this.all.delete(c);
    const i = this.idle.indexOf(c);
    if (i >= 0) this.idle.splice(i, 1);
  }

  destroy(): void {
    for (const c of this.all) c.socket.destroy();
    this.all.clear();
    this.idle.length = 0;
  }
}

const RESPONSE_HEAD = 0;
const RESPONSE_BODY = 1;
const RESPONSE_DONE = 2;

/**
 * One request over HTTP/1.1: the request is written as one buffer with the first bytes of its body, the
 * response head is parsed off the socket (http1-head.ts), and its body is pushed to the connection manager.
 * The request side is a `BodySink` (the downstream body goes in), the response side a `BodySource`.
 */
class Http1Exchange implements BodySink {
  private conn: Http1Connection | undefined;
  private writer: MessageWriter | undefined;
  /** Request body chunks written before the connection was there. */
  private pending: Buffer[] = [];
  private pendingDrain: (() => void) | undefined;
  private requestEnded = false;
  private aborted = false;
  private failed = false;
  private state = RESPONSE_HEAD;
  private buf: Buffer | undefined;
  private decoder: BodyDecoder | undefined;
  private keepAlive = false;
  /** The response body, once the head has arrived. */
  private response: PushedBody | undefined;
  private responseEnded = false;

  constructor(
    private readonly pool: Http1Pool,
    private readonly head: UpstreamHead,
    private readonly cb: UpstreamCallbacks,
  ) {
    pool.acquire((c) => this.connected(c));
  }

  private connected(c: Http1Connection | { error: string }): void {
    if (!(c instanceof Http1Connection)) {
      this.fail('UF', c.error);
      return;
    }
    if (this.aborted) {
      this.pool.release(c);
      return;
    }
    this.conn = c;
    c.exchange = this;
    const h = this.head;
    const headers = h.headers;
    let framing: Framing = 'none';
    let extra = '';
    if (h.hasBody) {
      if (headers['content-length'] !== undefined) framing = 'length';
      else {
        framing = 'chunked';
        extra = 'transfer-encoding: chunked\r\n';
      }
    }
    const text = `${h.method} ${h.path} HTTP/1.1\r\nhost: ${h.authority}\r\n${fieldLines(headers)}${extra}\r\n`;
    this.writer = new MessageWriter(c.socket, framing, Buffer.from(text, 'latin1'));
    const pending = this.pending;
    this.pending = [];
    for (const chunk of pending) this.writer.write(chunk);
    if (this.requestEnded) this.writer.end();
    const drain = this.pendingDrain;
    this.pendingDrain = undefined;
    drain?.();
  }

  // The request body (BodySink).

  write(chunk: Buffer): boolean {
    if (this.aborted || this.failed) return true;
    if (this.writer === undefined) {
      this.pending.push(chunk);
      return false;
    }
    return this.writer.write(chunk);
  }

  end(): void {
    this.requestEnded = true;
    if (this.writer === undefined) return;
    this.writer.end();
    this.maybeRelease();
  }

  onDrain(cb: () => void): void {
    if (this.writer === undefined) this.pendingDrain = cb;
    else this.writer.onDrain(cb);
  }

  // The connection's events.

  onData(chunk: Buffer): void {
    if (this.aborted) return;
    this.buf = this.buf === undefined ? chunk : Buffer.concat([this.buf, chunk]);
    while (this.buf !== undefined) {
      if (this.state === RESPONSE_HEAD) {
        if (!this.readHead()) return;
      } else if (this.state === RESPONSE_BODY) {
        if (!this.readBody()) return;
      } else {
        // Bytes after the response: the server broke HTTP/1.1; the connection is not reused.
        this.keepAlive = false;
        this.buf = undefined;
        this.maybeRelease();
        return;
      }
    }
  }

  private readHead(): boolean {
    const buf = this.buf as Buffer;
    const r = parseResponseHead(buf, 0, this.pool.limits, this.head.method);
    if (r.kind === 'need-more') return false;
    if (r.kind === 'error' || r.status === 101) {
      this.fail('UPE', r.kind === 'error' ? r.reason : 'unexpected 101 Switching Protocols');
      this.conn?.socket.destroy();
      return false;
    }
    this.buf = r.end === buf.length ? undefined : buf.subarray(r.end);
    // Interim responses (100 Continue, 103) end here: the proxy answered Expect itself, as Envoy does.
    if (r.status < 200) return true;
    this.keepAlive = r.keepAlive;
    this.decoder = new BodyDecoder(r.body, this.pool.limits);
    this.state = RESPONSE_BODY;
    const socket = (this.conn as Http1Connection).socket;
    // While the downstream is full the socket is paused; once it drains, the connection may go back to the pool.
    const body = new PushedBody({
      pause: () => socket.pause(),
      resume: () => {
        socket.resume();
        this.maybeRelease();
      },
    });
    this.response = body;
    this.cb.response({
      status: r.status,
      headers: headersObject(r.headers),
      body,
      endedWithHeaders: false,
      connection: (this.conn as Http1Connection).facts,
    });
    if (this.aborted) return false;
    if (this.decoder.empty) this.responseDone(undefined);
    return true;
  }

  private readBody(): boolean {
    const buf = this.buf as Buffer;
    const r = (this.decoder as BodyDecoder).push(buf, 0);
    for (const c of r.data) this.response?.push(c);
    if (this.aborted) return false;
    if (r.error !== undefined) {
      this.fail('UPE', r.error);
      this.conn?.socket.destroy();
      return false;
    }
    this.buf = r.consumed === buf.length ? undefined : buf.subarray(r.consumed);
    if (r.done) this.responseDone(r.trailers);
    return r.done;
  }

  private responseDone(trailers: HeaderField[] | undefined): void {
    this.state = RESPONSE_DONE;
    this.decoder = undefined;
    this.responseEnded = true;
    if (trailers !== undefined) this.cb.trailers(headersObject(trailers));
    this.response?.end();
    this.maybeRelease();
  }

  /** Both directions are complete: the connection goes back to the pool (or closes). */
  private maybeRelease(): void {
    const c = this.conn;
    if (c === undefined || !this.responseEnded || c.exchange !== this) return;
    // A body still waiting for the downstream to drain keeps the connection (paused) until it is delivered.
    if (this.response !== undefined && !this.response.delivered) return;
    if (this.requestEnded && this.keepAlive && this.buf === undefined && this.writer?.finished) {
      this.pool.release(c);
      return;
    }
    // A response before the whole request was sent, or a connection the server will not keep.
    c.exchange = undefined;
    c.socket.end();
  }

  onEnd(): void {
    // A close-delimited body ends with the connection.
    if (this.state === RESPONSE_BODY && this.decoder?.body.kind === 'close') {
      this.responseDone(undefined);
      return;
    }
    this.onClose();
  }

  onClose(): void {
    if (this.state === RESPONSE_DONE || this.aborted) return;
    this.fail(
      'UC',
      this.state === RESPONSE_HEAD
        ? 'upstream connection closed before the response'
        : 'upstream connection closed mid-response',
    );
  }

  private fail(flag: UpstreamFailure, detail: string): void {
    if (this.failed || this.aborted) return;
    this.failed = true;
    this.state = RESPONSE_DONE;
    this.cb.failed(flag, detail);
  }

  abort(): void {
    if (this.aborted) return;
    this.aborted = true;
    this.response?.discard();
    const c = this.conn;
    if (c !== undefined && c.exchange === this) {
      c.exchange = undefined;
      c.socket.destroy();
    }
  }
}

interface PooledSession {
  session: http2.ClientHttp2Session;
  facts: UpstreamConnectionFacts;
  streams: number;
  /** The server's SETTINGS arrived: its stream limit is known. */
  settled: boolean;
  /** The server closed its side (FIN): streams still open end as connection termination (UC). */
  peerEnded: boolean;
}

/** Streams a session may carry before the server's SETTINGS say (Envoy assumes no limit; nghttp2's default). */
const DEFAULT_MAX_STREAMS = 100;

/**
 * Per-cluster HTTP/2 sessions: a stream goes on the first session with room, or on a new connection. Until a new
 * session has the server's SETTINGS only its first stream goes on it; the others wait and are placed then, so a
 * burst on a cold pool does not exceed the server's SETTINGS_MAX_CONCURRENT_STREAMS.
 */
class Http2Pool {
  private readonly sessions: PooledSession[] = [];
  private connecting = false;
  private waiting: ((s: PooledSession | Error) => void)[] = [];

  constructor(private readonly cluster: Cluster) {}

  acquire(done: (s: PooledSession | Error) => void): void {
    for (const s of this.sessions) {
      const limit = s.session.remoteSettings?.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS;
      if (s.settled && !s.peerEnded && !s.session.closed && !s.session.destroyed && s.streams < limit) {
        done(s);
        return;
      }
    }
    if (this.connecting || this.sessions.some((s) => !s.settled)) {
      this.waiting.push(done);
      return;
    }
    this.connect(done);
  }

  /** Places the streams that waited for a session to connect or settle. */
  private placeWaiting(): void {
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) this.acquire(w);
  }

  private connect(first: (s: PooledSession | Error) => void): void {
    this.connecting = true;
    this.cluster.connect((r) => {
      this.connecting = false;
      if (!r.ok) {
        const e = Object.assign(new Error(r.detail), { code: CONNECT_FAILED });
        const waiting = this.waiting;
        this.waiting = [];
        for (const w of [first, ...waiting]) w(e);
        return;
      }
      // The URL only names the scheme: every stream carries its own :authority, and the socket is given.
      // Node's HTTP/2 client waits for 'secureConnect' while `secureConnecting` is set: only tls.connect clears
      // it, and the cluster's TLS socket is a bare TLSSocket whose handshake is already done.
      const socket = r.socket as Socket & { secureConnecting?: boolean };
      if (socket.secureConnecting) socket.secureConnecting = false;
      let session: http2.ClientHttp2Session;
      try {
        session = http2.connect('http://upstream', { createConnection: () => socket });
      } catch (e) {
        socket.destroy();
        first(e as Error);
        this.placeWaiting();
        return;
      }
      const pooled: PooledSession = {
        session,
        facts: connectionFacts(r),
        streams: 0,
        settled: false,
        peerEnded: false,
      };
      this.sessions.push(pooled);
      const forget = () => {
        const i = this.sessions.indexOf(pooled);
        if (i >= 0) this.sessions.splice(i, 1);
        this.placeWaiting();
      };
      session.on('error', forget);
      session.on('close', forget);
      session.on('goaway', forget);
      session.once('remoteSettings', () => {
        pooled.settled = true;
        this.placeWaiting();
      });
      // Cluster sockets allow half-open connections; an HTTP/2 server's FIN ends the session (Envoy: the
      // connection is closed).
      socket.once('end', () => {
        pooled.peerEnded = true;
        forget();
        session.destroy();
      });
      first(pooled);
    });
  }

  close(): void {
    for (const s of this.sessions.splice(0)) s.session.destroy();
    const waiting = this.waiting;
    this.waiting = [];
    for (const w of waiting) w(new Error('the connection manager closed'));
  }
}

/** The upstream pools of one connection manager, by cluster. */
export class UpstreamPools {
  private readonly h1 = new Map<string, Http1Pool>();
  private readonly h2 = new Map<string, Http2Pool>();

  /** `limits`: Envoy's response head limits (max_response_headers_kb, max_headers_count). */
  constructor(private readonly limits: HeadLimits = DEFAULT_HEAD_LIMITS) {}

  /** Sends one request; `cb` hears the response, its trailers and any failure. */
  send(
    cluster: Cluster,
    protocol: 'http1' | 'http2',
    head: UpstreamHead,
    cb: UpstreamCallbacks,
  ): UpstreamExchange {
    return protocol === 'http2' ? this.sendHttp2(cluster, head, cb) : this.sendHttp1(cluster, head, cb);
  }

  private sendHttp1(cluster: Cluster, head: UpstreamHead, cb: UpstreamCallbacks): UpstreamExchange {
    let pool = this.h1.get(cluster.config.name);
    if (!pool) {
      pool = new Http1Pool(cluster, this.limits);
      this.h1.set(cluster.config.name, pool);
    }
    const exchange = new Http1Exchange(pool, head, cb);
    return { body: exchange, abort: () => exchange.abort() };
  }

  private sendHttp2(cluster: Cluster, head: UpstreamHead, cb: UpstreamCallbacks): UpstreamExchange {
    let pool = this.h2.get(cluster.config.name);
    if (!pool) {
      pool = new Http2Pool(cluster);
      this.h2.set(cluster.config.name, pool);
    }
    // The body may start before the session exists: it waits in a pass-through until the stream is open.
    const body = new PassThrough();
    let stream: http2.ClientHttp2Stream | undefined;
    let aborted = false;
    let responded = false;
    let failed = false;
    const fail = (flag: UpstreamFailure, detail: string) => {
      if (failed) return;
      failed = true;
      cb.failed(flag, detail);
    };
    pool.acquire((s) => {
      if (aborted) return;
      if (s instanceof Error) {
        fail('UF', s.message);
        return;
      }
      let st: http2.ClientHttp2Stream;
      try {
        st = s.session.request({
          ':method': head.method,
          ':path': head.path,
          ':authority': head.authority,
          ':scheme': head.scheme,
          ...head.headers,
        });
      } catch (e) {
        fail('UC', (e as Error).message);
        return;
      }
      stream = st;
      s.streams++;
      st.once('close', () => {
        s.streams--;
        const flag: UpstreamFailure = s.peerEnded || st.rstCode === 0 ? 'UC' : 'UR';
        if (!responded) fail(flag, `stream closed (code ${st.rstCode})`);
        else if (!st.readableEnded && (st.rstCode !== 0 || s.peerEnded)) {
          fail(flag, `stream reset mid-response (code ${st.rstCode})`);
        }
      });
      st.on('error', (e: NodeJS.ErrnoException) =>
        fail(e.code === 'ERR_HTTP2_STREAM_ERROR' ? 'UR' : 'UC', e.message),
      );
      st.on('response', (headers, flags: number) => {
        responded = true;
        const status = Number(headers[':status'] ?? 502);
        const regular: http.IncomingHttpHeaders = {};
        for (const [k, v] of Object.entries(headers)) if (k[0] !== ':') regular[k] = v as string | string[];
        st.once('trailers', (t) => cb.trailers(t));
        cb.response({
          status,
          headers: regular,
          body: readableSource(st),
          endedWithHeaders: (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0,
          connection: s.facts,
        });
      });
      body.pipe(st);
    });
    return {
      body: writableSink(body),
      abort: () => {
        aborted = true;
        body.destroy();
        stream?.close(http2.constants.NGHTTP2_CANCEL);
      },
    };
  }

  close(): void {
    for (const p of this.h1.values()) p.destroy();
    for (const p of this.h2.values()) p.close();
    this.h1.clear();
    this.h2.clear();
  }
}
