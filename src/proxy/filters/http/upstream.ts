// The router's upstream side: one request sent to a cluster over HTTP/1.1 or HTTP/2, whatever the downstream
// spoke. Connections come from the cluster (load balancer, TLS per endpoint, outlier ejection) and are pooled per
// cluster and ALPN offer (istio.alpn): HTTP/1.1 keep-alive connections one request at a time (never pipelined, as
// Envoy), HTTP/2 sessions shared by many streams up to the server's SETTINGS_MAX_CONCURRENT_STREAMS. Failures come
// back as Envoy's reset reasons, which the connection manager turns into local replies and response flags:
//   UF connect failure · UC connection closed/reset · UR HTTP/2 RST_STREAM from the upstream.

import type http from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import { PassThrough } from 'node:stream';
import { addressText } from '../../access-log/context.js';
import type { Cluster, ConnectOptions, ConnectResult, Endpoint } from '../../upstream/cluster.js';
import { type BodySink, type BodySource, PushedBody, readableSource, writableSink } from './body.js';
import { BodyDecoder, type Framing, fieldLines, headersObject, MessageWriter } from './h1-codec.js';
import { DEFAULT_HEAD_LIMITS, type HeaderField, type HeadLimits, parseResponseHead } from './http1-head.js';
import { closeWhenFinished } from './http2-session.js';
import type { ResetReason } from './router/retry.js';

/** What the upstream connection was: the source reporter's connection_security_policy and principal. */
export interface UpstreamConnectionFacts {
  /** The verified server identity (URI SAN) when the connection is TLS with a checked SAN. */
  peerIdentity: string | undefined;
  /** Our own URI SAN presented on that connection ('' in plaintext). */
  localIdentity: string;
  tls: boolean;
  /** The endpoint's `metadata.filter_metadata` (Istio's `istio.workload` names a workload without a sidecar). */
  endpointMetadata: unknown;
  /** The endpoint itself (retries avoid it; outlier detection hears about it). */
  endpoint: Endpoint;
  /** Our side of the connection, `ip:port` (the access log's UPSTREAM_LOCAL_ADDRESS). */
  localAddress: string | undefined;
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

/** Envoy's reset reasons, as response flags; UH: the cluster had no healthy endpoint (no attempt was made). */
export type UpstreamFailure = 'UF' | 'UC' | 'UR' | 'UPE' | 'UH';

/** What the router needs to know about a failure to decide on a retry. */
export interface UpstreamReset {
  reason: ResetReason | 'no-healthy-upstream';
  /** A byte of the request was written upstream. */
  requestSent: boolean;
  /** The endpoint of the failed attempt (none when no endpoint was chosen). */
  endpoint: Endpoint | undefined;
}

export interface UpstreamCallbacks {
  response(r: UpstreamResponse): void;
  /** Trailers of the response, just before its body ends. */
  trailers(t: http.IncomingHttpHeaders): void;
  /** Before the response: connect failure or reset. After it: the stream was reset mid-body. */
  failed(flag: UpstreamFailure, detail: string, reset: UpstreamReset): void;
  /** The exchange has its connection (Envoy's pool ready): the request goes out now. */
  ready?(endpoint: Endpoint): void;
}

export interface UpstreamExchange {
  /** The request body goes here (end it when the downstream request ends). */
  body: BodySink;
  /** Abandons the exchange (downstream went away, timeout). */
  abort(): void;
}

function connectionFacts(r: Extract<ConnectResult, { ok: true }>): UpstreamConnectionFacts {
  const tls = 'encrypted' in r.socket;
  const localIdentity = r.localIdentity ?? '';
  const metadata = r.endpoint.config.metadata.filter_metadata;
  return {
    peerIdentity: r.peerIdentity,
    localIdentity,
    tls,
    endpointMetadata: metadata,
    endpoint: r.endpoint,
    localAddress: addressText(r.socket.localAddress, r.socket.localPort),
  };
}

/** A connection that could not be had, as the router sees it. */
interface ConnectFailure {
  error: string;
  flag: UpstreamFailure;
  reset: UpstreamReset;
}

function connectFailure(r: Extract<ConnectResult, { ok: false }>): ConnectFailure {
  const reason: UpstreamReset['reason'] =
    r.reason === 'none-healthy'
      ? 'no-healthy-upstream'
      : r.reason === 'timeout'
        ? 'connection-timeout'
        : 'connection-failure';
  return {
    error: r.detail,
    flag: r.reason === 'none-healthy' ? 'UH' : 'UF',
    reset: { reason, requestSent: false, endpoint: r.endpoint },
  };
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
    /** The ALPN every connection of this pool offers over TLS (istio.alpn), or the transport's own. */
    private readonly alpn: readonly string[] | undefined,
  ) {}

  /**
   * As Envoy: the load balancer picks the endpoint first, then the request takes that endpoint's warmest idle
   * connection, or a new one to it. Idle connections are per endpoint, so keep-alive does not bypass balancing.
   */
  acquire(done: (c: Http1Connection | ConnectFailure) => void, opts: ConnectOptions = {}): void {
    const endpoint = this.cluster.choose(opts);
    if (!endpoint) {
      done(connectFailure(this.cluster.noneHealthy()));
      return;
    }
    for (let i = this.idle.length - 1; i >= 0; i--) {
      const c = this.idle[i] as Http1Connection;
      if (!c.usable) {
        this.idle.splice(i, 1);
        c.socket.destroy();
        continue;
      }
      if (c.facts.endpoint !== endpoint) continue;
      this.idle.splice(i, 1);
      done(c);
      return;
    }
    const connected = (r: ConnectResult): void => {
      if (!r.ok) {
        done(connectFailure(r));
        return;
      }
      const c = new Http1Connection(r.socket, connectionFacts(r), this);
      this.all.add(c);
      done(c);
    };
    this.cluster.connectTo(endpoint, connected, 'router', this.alpn);
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
    opts: ConnectOptions,
  ) {
    pool.acquire((c) => this.connected(c), opts);
  }

  private connected(c: Http1Connection | ConnectFailure): void {
    if (!(c instanceof Http1Connection)) {
      this.failWith(c.flag, c.error, c.reset);
      return;
    }
    if (this.aborted) {
      this.pool.release(c);
      return;
    }
    this.conn = c;
    c.exchange = this;
    this.cb.ready?.(c.facts.endpoint);
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
    const reason: ResetReason = flag === 'UPE' ? 'protocol-error' : 'connection-termination';
    // The head went out with the first write: a connection that got the exchange has been sent to.
    this.failWith(flag, detail, {
      reason,
      requestSent: this.writer !== undefined,
      endpoint: this.conn?.facts.endpoint,
    });
  }

  private failWith(flag: UpstreamFailure, detail: string, reset: UpstreamReset): void {
    if (this.failed || this.aborted) return;
    this.failed = true;
    this.state = RESPONSE_DONE;
    this.cb.failed(flag, detail, reset);
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
  /** Endpoints a session is being connected to. */
  private readonly connecting = new Set<Endpoint>();
  /** Streams waiting, per endpoint, for its session to connect or settle. */
  private readonly waiting = new Map<Endpoint, ((s: PooledSession | ConnectFailure) => void)[]>();

  constructor(
    private readonly cluster: Cluster,
    /** The ALPN every connection of this pool offers over TLS (istio.alpn), or the transport's own. */
    private readonly alpn: readonly string[] | undefined,
  ) {}

  /** As Envoy: the balancer picks the endpoint, then the stream goes on a session to it. */
  acquire(done: (s: PooledSession | ConnectFailure) => void, opts: ConnectOptions = {}): void {
    const endpoint = this.cluster.choose(opts);
    if (!endpoint) {
      done(connectFailure(this.cluster.noneHealthy()));
      return;
    }
    this.place(endpoint, done);
  }

  /** A session to `endpoint` with room, or a wait for the one being connected or settled, or a new one. */
  private place(endpoint: Endpoint, done: (s: PooledSession | ConnectFailure) => void): void {
    let unsettled = false;
    for (const s of this.sessions) {
      if (s.facts.endpoint !== endpoint) continue;
      const limit = s.session.remoteSettings?.maxConcurrentStreams ?? DEFAULT_MAX_STREAMS;
      if (!s.settled) unsettled = true;
      else if (!s.peerEnded && !s.session.closed && !s.session.destroyed && s.streams < limit) {
        done(s);
        return;
      }
    }
    if (unsettled || this.connecting.has(endpoint)) {
      const list = this.waiting.get(endpoint);
      if (list) list.push(done);
      else this.waiting.set(endpoint, [done]);
      return;
    }
    this.connect(endpoint, done);
  }

  /** Places the streams that waited for a session to `endpoint` to connect or settle. */
  private placeWaiting(endpoint: Endpoint): void {
    const waiting = this.waiting.get(endpoint);
    if (!waiting) return;
    this.waiting.delete(endpoint);
    for (const w of waiting) this.place(endpoint, w);
  }

  private connect(endpoint: Endpoint, first: (s: PooledSession | ConnectFailure) => void): void {
    this.connecting.add(endpoint);
    const connected = (r: ConnectResult): void => {
      this.connecting.delete(endpoint);
      if (!r.ok) {
        const failure = connectFailure(r);
        const waiting = this.waiting.get(endpoint) ?? [];
        this.waiting.delete(endpoint);
        for (const w of [first, ...waiting]) w(failure);
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
        first({
          error: (e as Error).message,
          flag: 'UF',
          reset: { reason: 'connection-failure', requestSent: false, endpoint },
        });
        this.placeWaiting(endpoint);
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
        this.placeWaiting(endpoint);
      };
      session.on('error', forget);
      session.on('close', forget);
      session.on('goaway', forget);
      // nghttp2 ending the session on a connection error leaves it open in Node: destroyed ('close' forgets it).
      closeWhenFinished(session);
      session.once('remoteSettings', () => {
        pooled.settled = true;
        this.placeWaiting(endpoint);
      });
      // Cluster sockets allow half-open connections; an HTTP/2 server's FIN ends the session (Envoy: the
      // connection is closed).
      socket.once('end', () => {
        pooled.peerEnded = true;
        forget();
        session.destroy();
      });
      first(pooled);
    };
    this.cluster.connectTo(endpoint, connected, 'router', this.alpn);
  }

  close(): void {
    for (const s of this.sessions.splice(0)) s.session.destroy();
    const waiting = [...this.waiting.values()].flat();
    this.waiting.clear();
    for (const w of waiting) {
      w({
        error: 'the connection manager closed',
        flag: 'UF',
        reset: { reason: 'connection-failure', requestSent: false, endpoint: undefined },
      });
    }
  }
}

/**
 * The pool for a cluster and an ALPN offer (Envoy hashes the offer into its pool key too). Offers come from the
 * connection manager's istio.alpn config, one array per upstream protocol, so the array itself is the key: no
 * per-request string is built.
 */
function poolOf<P>(
  pools: Map<string, Map<readonly string[] | undefined, P>>,
  cluster: Cluster,
  alpn: readonly string[] | undefined,
  make: () => P,
): P {
  let byAlpn = pools.get(cluster.config.name);
  if (!byAlpn) {
    byAlpn = new Map();
    pools.set(cluster.config.name, byAlpn);
  }
  let pool = byAlpn.get(alpn);
  if (!pool) {
    pool = make();
    byAlpn.set(alpn, pool);
  }
  return pool;
}

/**
 * The upstream pools of one connection manager, by cluster and ALPN offer (istio.alpn): a connection is only
 * reused by requests that would have offered the same ALPN list.
 */
export class UpstreamPools {
  private readonly h1 = new Map<string, Map<readonly string[] | undefined, Http1Pool>>();
  private readonly h2 = new Map<string, Map<readonly string[] | undefined, Http2Pool>>();

  /** `limits`: Envoy's response head limits (max_response_headers_kb, max_headers_count). */
  constructor(private readonly limits: HeadLimits = DEFAULT_HEAD_LIMITS) {}

  /** Sends one request; `cb` hears the response, its trailers and any failure. */
  send(
    cluster: Cluster,
    protocol: 'http1' | 'http2',
    head: UpstreamHead,
    cb: UpstreamCallbacks,
    opts: ConnectOptions = {},
  ): UpstreamExchange {
    return protocol === 'http2'
      ? this.sendHttp2(cluster, head, cb, opts)
      : this.sendHttp1(cluster, head, cb, opts);
  }

  private sendHttp1(
    cluster: Cluster,
    head: UpstreamHead,
    cb: UpstreamCallbacks,
    opts: ConnectOptions,
  ): UpstreamExchange {
    const pool = poolOf(this.h1, cluster, opts.alpn, () => new Http1Pool(cluster, this.limits, opts.alpn));
    const exchange = new Http1Exchange(pool, head, cb, opts);
    return { body: exchange, abort: () => exchange.abort() };
  }

  private sendHttp2(
    cluster: Cluster,
    head: UpstreamHead,
    cb: UpstreamCallbacks,
    opts: ConnectOptions,
  ): UpstreamExchange {
    const pool = poolOf(this.h2, cluster, opts.alpn, () => new Http2Pool(cluster, opts.alpn));
    // The body may start before the session exists: it waits in a pass-through until the stream is open.
    const body = new PassThrough();
    let stream: http2.ClientHttp2Stream | undefined;
    let aborted = false;
    let responded = false;
    let failed = false;
    let endpoint: Endpoint | undefined;
    const fail = (flag: UpstreamFailure, detail: string, reason: ResetReason = 'connection-termination') => {
      if (failed || aborted) return;
      failed = true;
      // Headers go out as soon as the stream is opened.
      cb.failed(flag, detail, { reason, requestSent: stream !== undefined, endpoint });
    };
    pool.acquire((s) => {
      if (aborted) return;
      if (!('session' in s)) {
        if (failed) return;
        failed = true;
        cb.failed(s.flag, s.error, s.reset);
        return;
      }
      endpoint = s.facts.endpoint;
      cb.ready?.(endpoint);
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
        const termination = s.peerEnded || st.rstCode === 0;
        const flag: UpstreamFailure = termination ? 'UC' : 'UR';
        const reason: ResetReason = termination
          ? 'connection-termination'
          : st.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM
            ? 'remote-refused-stream'
            : 'remote-reset';
        if (!responded) fail(flag, `stream closed (code ${st.rstCode})`, reason);
        else if (!st.readableEnded && (st.rstCode !== 0 || s.peerEnded)) {
          fail(flag, `stream reset mid-response (code ${st.rstCode})`, reason);
        }
      });
      st.on('error', (e: NodeJS.ErrnoException) => {
        const refused = st.rstCode === http2.constants.NGHTTP2_REFUSED_STREAM;
        const remote = e.code === 'ERR_HTTP2_STREAM_ERROR';
        fail(
          remote ? 'UR' : 'UC',
          e.message,
          refused ? 'remote-refused-stream' : remote ? 'remote-reset' : 'connection-termination',
        );
      });
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
    }, opts);
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
    for (const byAlpn of this.h1.values()) for (const p of byAlpn.values()) p.destroy();
    for (const byAlpn of this.h2.values()) for (const p of byAlpn.values()) p.close();
    this.h1.clear();
    this.h2.clear();
  }
}
