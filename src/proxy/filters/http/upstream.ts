// The router's upstream side: one request sent to a cluster over HTTP/1.1 or HTTP/2, whatever the downstream
// spoke. Connections come from the cluster (load balancer, TLS per endpoint, outlier ejection) and are pooled per
// cluster: HTTP/1.1 keep-alive connections one request at a time (never pipelined, as Envoy), HTTP/2 sessions
// shared by many streams up to the server's SETTINGS_MAX_CONCURRENT_STREAMS. Failures come back as Envoy's
// reset reasons, which the connection manager turns into local replies and response flags:
//   UF connect failure · UC connection closed/reset · UR HTTP/2 RST_STREAM from the upstream.

import http from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import { PassThrough, type Readable, type Writable } from 'node:stream';
import type { Cluster, ConnectResult } from '../../upstream/cluster.js';

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
}

export interface UpstreamResponse {
  status: number;
  /** Regular headers (pseudo headers removed). */
  headers: http.IncomingHttpHeaders;
  body: Readable;
  /** True when the response ended with its headers (an HTTP/2 HEADERS frame with END_STREAM). */
  endedWithHeaders: boolean;
  connection: UpstreamConnectionFacts;
}

/** Envoy's reset reasons, as response flags. */
export type UpstreamFailure = 'UF' | 'UC' | 'UR';

export interface UpstreamCallbacks {
  response(r: UpstreamResponse): void;
  /** Trailers of the response, just before its body ends. */
  trailers(t: http.IncomingHttpHeaders): void;
  /** Before the response: connect failure or reset. After it: the stream was reset mid-body. */
  failed(flag: UpstreamFailure, detail: string): void;
}

export interface UpstreamExchange {
  /** The request body goes here (end it when the downstream request ends). */
  body: Writable;
  /** Abandons the exchange (downstream went away, timeout). */
  abort(): void;
}

const CONNECT_FAILED = 'SKIFF_CONNECT_FAILED';

const UNKNOWN_CONNECTION: UpstreamConnectionFacts = {
  peerIdentity: undefined,
  localIdentity: '',
  tls: false,
  endpointMetadata: undefined,
};

function connectionFacts(r: Extract<ConnectResult, { ok: true }>): UpstreamConnectionFacts {
  const tls = 'encrypted' in r.socket;
  const localIdentity = r.localIdentity ?? '';
  const metadata = r.endpoint.config.metadata.filter_metadata;
  return { peerIdentity: r.peerIdentity, localIdentity, tls, endpointMetadata: metadata };
}

/** A per-cluster HTTP/1.1 keep-alive pool whose new connections come from the cluster. */
class Http1Pool extends http.Agent {
  readonly facts = new WeakMap<Socket, UpstreamConnectionFacts>();

  constructor(private readonly cluster: Cluster) {
    super({ keepAlive: true, maxFreeSockets: 64, scheduling: 'lifo' });
  }

  override createConnection(
    _options: http.ClientRequestArgs,
    callback?: (err: Error | null, socket: Socket) => void,
  ): Socket {
    this.cluster.connect((r) => {
      if (r.ok) {
        this.facts.set(r.socket, connectionFacts(r));
        // Cluster sockets allow half-open connections, but an HTTP/1.1 server's FIN ends the connection: finish
        // ours too, so the socket closes and leaves the pool instead of taking the next request.
        r.socket.once('end', () => r.socket.end());
        callback?.(null, r.socket);
      } else
        callback?.(
          Object.assign(new Error(r.detail), { code: CONNECT_FAILED, reason: r.reason }),
          undefined as unknown as Socket,
        );
    });
    return undefined as unknown as Socket;
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
      pool = new Http1Pool(cluster);
      this.h1.set(cluster.config.name, pool);
    }
    const agent = pool;
    const req = http.request({
      agent,
      host: cluster.config.name,
      method: head.method,
      path: head.path,
      headers: { host: head.authority, ...head.headers },
      setHost: false,
    });
    let responded = false;
    let failed = false;
    const fail = (flag: UpstreamFailure, detail: string) => {
      if (failed) return;
      failed = true;
      cb.failed(flag, detail);
    };
    req.on('response', (up) => {
      responded = true;
      const socket = up.socket;
      const facts = agent.facts.get(socket) ?? UNKNOWN_CONNECTION;
      // Trailers are parsed by the time 'end' is emitted: hand them over before the body's end reaches the pipe.
      up.once('end', () => {
        if (up.rawTrailers.length > 0) cb.trailers(up.trailers);
      });
      up.on('aborted', () => fail('UC', 'upstream connection closed mid-response'));
      up.on('error', () => fail('UC', 'upstream connection closed mid-response'));
      cb.response({
        status: up.statusCode ?? 502,
        headers: up.headers,
        body: up,
        endedWithHeaders: false,
        connection: facts,
      });
    });
    req.on('error', (e: NodeJS.ErrnoException) => {
      if (responded) return;
      fail(e.code === CONNECT_FAILED ? 'UF' : 'UC', e.message);
    });
    return { body: req, abort: () => req.destroy() };
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
          body: st,
          endedWithHeaders: (flags & http2.constants.NGHTTP2_FLAG_END_STREAM) !== 0,
          connection: s.facts,
        });
      });
      body.pipe(st);
    });
    return {
      body,
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
