// `envoy.filters.network.http_connection_manager` with the router. Downstream codecs: HTTP/1.1 (h1-server.ts, a
// lean codec on the raw socket: keep-alive, chunked bodies, pipelined requests served one at a time as Envoy
// serves them, Expect: 100-continue answered by the proxy) and HTTP/2 (node:http2; over TLS
// when ALPN chose `h2`; with codec AUTO also whenever the connection opens with the HTTP/2 preface — h2c prior
// knowledge, or TLS where the client offered Istio's `istio-h2`). The route table picks a cluster
// (policy/routes.ts); the request goes upstream over the cluster's HTTP/1.1 or HTTP/2 pool (upstream.ts), so
// gRPC works end to end. Envoy's local replies and response flags: 404 NR (no route), 503 NC (no cluster),
// 503 UF (connect failure), 503 UC / UR (upstream reset before headers), 502 UPE (the upstream broke HTTP/1.1),
// 504 UT (route timeout), 431 (headers too large), 400 (bad framing, a `#fragment` in the path, no Host), 501
// (transfer coding other than chunked), 426 (HTTP/1.0 without accept_http_10), 404 (a path not starting with
// `/`), 408 (request headers timeout); gRPC requests get them as trailers-only gRPC responses. An absolute-form
// target's host is the request's Host and picks the virtual host (http1-target.ts). After the response headers
// an upstream reset resets the downstream stream. x-forwarded-client-cert as Envoy writes it (xfcc.ts);
// `Connection: upgrade` passed through for configured upgrade types (websocket); CONNECT refused as by Envoy
// without CONNECT support. Envoy's timers: the connection idle timeout (no stream), request_headers_timeout and
// stream_idle_timeout, on HTTP/1.1, HTTP/2 and while codec AUTO waits for bytes.

import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import http from 'node:http';
import http2 from 'node:http2';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../../core/log.js';
import { selectRoute, VirtualHostIndex } from '../../../policy/routes.js';
import { addressText, connectionLogContext } from '../../access-log/context.js';
import type { AccessLoggers, AccessLogWriters } from '../../access-log/writer.js';
import type { HttpConnectionManagerConfig, RouteActionConfig } from '../../config/model.js';
import { peek } from '../../listener/peek.js';
import type { Counter, Gauge, StatsStore } from '../../stats/index.js';
import {
  type ConnectionLabels,
  endpointWorkloadFromMetadata,
  grpcResponseStatus,
  grpcToHttpStatus,
  httpToGrpcStatus,
  PEER_METADATA_HEADER,
  PEER_METADATA_ID_HEADER,
  type ProxyTelemetry,
  requestProtocol,
  type ServiceRef,
  upstreamSecurityPolicy,
  type WorkloadMetadata,
} from '../../telemetry/index.js';
import type { Cluster, ClusterManager, Endpoint } from '../../upstream/cluster.js';
import { pickCluster } from '../../upstream/weighted-clusters.js';
import type { DownstreamFacts, NetworkFilter } from '../network-filter.js';
import { alpnOffer } from './alpn.js';
import { type BodySink, type BodySource, readableSource, writableSink } from './body.js';
import { DEFAULT_SERVER_NAME } from './config.js';
import { BodyDecoder, fieldLines } from './h1-codec.js';
import { H1Request, H1Response, H1Server, type H1Timeout } from './h1-server.js';
import {
  DEFAULT_HEAD_LIMITS,
  type HeaderField,
  parseResponseHead,
  serializeResponseHead,
} from './http1-head.js';
import { closeWhenFinished } from './http2-session.js';
import { RETRY_BUFFER_LIMIT, ReplayableBody } from './router/replay-body.js';
import { type AttemptOutcome, RetryState } from './router/retry.js';
import {
  type UpstreamConnectionFacts,
  type UpstreamExchange,
  type UpstreamFailure,
  type UpstreamHead,
  UpstreamPools,
  type UpstreamResponse,
} from './upstream.js';
import { type ClientCertFacts, mutateXfcc, rfc2253Subject, xfccElement } from './xfcc.js';

/** Connection-specific headers: never forwarded (and forbidden in HTTP/2). `te` is kept when it is `trailers`. */
const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'http2-settings',
  'host',
]);

/**
 * The request headers read from the request itself (HTTP/1.1's request line and Host, HTTP/2's pseudo-headers)
 * rather than from its header fields: `host` among them, since Envoy's header map files it under `:authority`
 * (its static lookup table), so a matcher on either name sees the authority.
 */
const PSEUDO_HEADERS: ReadonlySet<string> = new Set([':method', ':path', ':authority', ':scheme', 'host']);

const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');

type DownstreamRequest = H1Request | http2.Http2ServerRequest;
type DownstreamResponse = H1Response | http2.Http2ServerResponse;

/** A request's body as a source, whatever the codec. */
function bodyOf(req: DownstreamRequest): BodySource {
  return req instanceof H1Request ? req.body : readableSource(req);
}

/** Where a response's body goes, whatever the codec. */
function sinkOf(res: DownstreamResponse): BodySink {
  return res instanceof H1Response ? res : writableSink(res);
}

/** Calls `cb` once the response is over (written in full, or the downstream went away). */
function onResponseClose(res: DownstreamResponse, cb: () => void): void {
  if (res instanceof H1Response) res.onClose(cb);
  else res.once('close', cb);
}

interface HcmStats {
  cxTotal: Counter;
  cxActive: Gauge;
  cxHttp1Total: Counter;
  cxHttp2Total: Counter;
  cxProtocolError: Counter;
  rqTotal: Counter;
  rqHttp1Total: Counter;
  rqHttp2Total: Counter;
  rqActive: Gauge;
  rqByClass: Counter[];
  rqTimeout: Counter;
  rqIdleTimeout: Counter;
  rqHeaderTimeout: Counter;
  cxIdleTimeout: Counter;
  rqFailedPathNormalization: Counter;
  rqNonRelativePath: Counter;
  rqWsOnNonWsRoute: Counter;
  noRoute: Counter;
  noCluster: Counter;
  rxReset: Counter;
}

/** Decides as soon as the first bytes are, or cannot be, the HTTP/2 connection preface. */
function prefaceDecided(bytes: Buffer): boolean {
  const n = Math.min(bytes.length, H2_PREFACE.length);
  return n === H2_PREFACE.length || bytes.compare(H2_PREFACE, 0, n, 0, n) !== 0;
}

function startsWithPreface(bytes: Buffer): boolean {
  return (
    bytes.length >= H2_PREFACE.length &&
    bytes.compare(H2_PREFACE, 0, H2_PREFACE.length, 0, H2_PREFACE.length) === 0
  );
}

/** The keys of the destination-service resolvers for requests no route matched, or whose cluster is missing. */
const NO_ROUTE = {};
const NO_CLUSTER = {};

/** One request on its way through the router, and what Istio's metrics record of it at its end. */
interface Stream {
  readonly req: DownstreamRequest;
  readonly res: DownstreamResponse;
  /** `grpc` for gRPC requests (Envoy's isGrpcRequestHeaders): local replies and request_protocol. */
  readonly protocol: 'http' | 'grpc';
  /**
   * The connection's state, read when the request starts: an HTTP/2 request reaches its socket only through
   * the stream's session, which is gone once the stream closes.
   */
  readonly conn: ConnectionState | undefined;
  /** Set once: the first local reply, failure or upstream response decides the outcome. */
  done: boolean;
  abort?: () => void;
  timer?: NodeJS.Timeout;
  readonly start: number;
  /** HTTP/2: the request's size, its decoded header block plus body bytes (HTTP/1.1 reads the socket's meter). */
  requestBytes: number;
  /** HTTP/2: the response's size, its header block plus body bytes. */
  responseBytes: number;
  readonly h2: boolean;
  /** The response code sent (0: none, the downstream went away first). */
  code: number;
  /** Envoy's response flags ('-' when none). */
  flags: string;
  /** The other workload: the client's (inbound, from its headers) or the server's (outbound). */
  peer: WorkloadMetadata | undefined;
  /** The upstream connection that carried the request (outbound telemetry). */
  upstream: UpstreamConnectionFacts | undefined;
  /** The destination service for this request's route and cluster. */
  service: ((host: string | undefined) => ServiceRef) | undefined;
  grpcStatusHeader: string | undefined;
  grpcStatusTrailer: string | undefined;
  /** The client proxy sent its peer metadata headers (they are answered with ours). */
  peerHeaders: { value: boolean; id: boolean } | undefined;
  /** Attempts sent upstream so far (x-envoy-attempt-count). */
  attempts: number;
  /** The route's include_attempt_count_in_response. */
  attemptCountInResponse: boolean;
  /** The endpoint of the latest attempt (UPSTREAM_HOST; outlier detection on a route timeout). */
  upstreamEndpoint: Endpoint | undefined;
  /** What the access log says of the stream (set only when the connection manager has access logs). */
  log: StreamLog | undefined;
}

/** The parts of a stream only its access log line needs. */
interface StreamLog {
  startTime: number;
  /** The x-request-id of a request that never went upstream (generated for its log line). */
  requestId?: string;
  details: string | undefined;
  transportFailure: string | undefined;
  routeName: string | undefined;
  cluster: string | undefined;
  requestHeaders: http.OutgoingHttpHeaders | undefined;
  responseHeaders: http.OutgoingHttpHeaders | undefined;
  trailers: http.IncomingHttpHeaders | undefined;
  bodyReceived: number;
  bodySent: number;
}

/** Envoy's response code details of the proxy's own replies, by flag. */
const DETAILS: Record<string, string> = {
  NR: 'route_not_found',
  NC: 'cluster_not_found',
  UH: 'no_healthy_upstream',
  UT: 'response_timeout',
  SI: 'stream_idle_timeout',
};

/** A header value for an access log: the first of repeated values. */
function firstValue(v: http.OutgoingHttpHeader | undefined): string | undefined {
  if (v === undefined) return undefined;
  return Array.isArray(v) ? v[0] : String(v);
}

/** A request that may be retried: its retry state, the body kept for the next attempt, the back-off timer. */
interface Retrying {
  readonly state: RetryState<Endpoint>;
  readonly body: ReplayableBody;
  backoff: NodeJS.Timeout | undefined;
  /** A unit of the cluster's max_retries circuit breaker is held by the retry in flight. */
  holding: boolean;
  /** A byte of the request went upstream in some attempt (reset-before-request). */
  sent: boolean;
}

const POOL_FAILURES: ReadonlySet<string> = new Set([
  'connection-failure',
  'connection-timeout',
  'no-healthy-upstream',
]);

/**
 * The router's report of a response to outlier detection: the HTTP status, or for a gRPC response whose
 * grpc-status is in the headers (trailers-only), the HTTP status it stands for (Envoy's router).
 */
function reportResponse(
  cluster: Cluster,
  endpoint: Endpoint,
  status: number,
  grpcStatus: string | undefined,
): void {
  const code =
    grpcStatus !== undefined && /^\d+$/.test(grpcStatus) ? grpcToHttpStatus(Number(grpcStatus)) : status;
  cluster.report(endpoint, code >= 500 ? 'ext-origin-request-failed' : 'ext-origin-request-success', code);
}

/** Adds a response flag; flags print in the order they were set (Envoy: `URX,UF`). */
function addFlag(st: Stream, flag: string): void {
  if (flag === '-') return;
  if (st.flags === '-') st.flags = flag;
  else if (!st.flags.split(',').includes(flag)) st.flags = `${st.flags},${flag}`;
}

/** What the connection manager keeps per downstream connection. */
interface ConnectionState {
  readonly facts: DownstreamFacts;
  /** HTTP/1.1 byte meter: the socket's bytesRead/bytesWritten when the previous request ended. */
  readMark: number;
  writeMark: number;
  /** The HTTP/1.1 parser failed on this connection (answered 400/408/431 once). */
  protocolError?: boolean;
  /** This proxy's XFCC element (computed on first use; null: no client certificate). */
  xfcc?: string | null;
  /** Destination-reporter labels of this connection (computed on first use). */
  labels?: ConnectionLabels;
}

/**
 * Where a connection's state hangs: a property of the socket, not a WeakMap entry, because HTTP/2 requests only
 * show the socket through Node's proxy object (`req.socket`), which forwards property reads to the real socket.
 */
const CONNECTION = Symbol('skiff.hcm.connection');
type SocketWithState = Socket & { [CONNECTION]?: ConnectionState };
function stateOf(socket: Socket): ConnectionState | undefined {
  return (socket as SocketWithState)[CONNECTION];
}

/** An HTTP/2 header block's size as HPACK counts an entry: name + value + 32 (RFC 7541, 4.1). */
function headerBlockBytes(headers: http.IncomingHttpHeaders | http.OutgoingHttpHeaders, extra = 0): number {
  let n = extra;
  for (const [k, v] of Object.entries(headers)) {
    if (Array.isArray(v)) for (const x of v) n += k.length + String(x).length + 32;
    else if (v !== undefined) n += k.length + String(v).length + 32;
  }
  return n;
}

export class HttpConnectionManager implements NetworkFilter {
  private readonly h1: H1Server;
  private readonly h2: http2.Http2Server;
  private readonly index: VirtualHostIndex<RouteActionConfig>;
  private readonly stats: HcmStats;
  private readonly pools = new UpstreamPools();
  /**
   * Destination-service resolvers by route entry and cluster config (objects stable for the filter's life; a
   * route with weighted clusters has one per cluster).
   */
  private readonly services = new WeakMap<
    object,
    WeakMap<object, (host: string | undefined) => ServiceRef>
  >();
  /** Istio's filters: set when the chain has istio.stats or istio.metadata_exchange. */
  private readonly telemetry: ProxyTelemetry | undefined;
  /** The connection manager's access logs (a line per stream). */
  private readonly accessLog: AccessLoggers | undefined;
  /**
   * The `server` header this connection manager puts on responses (server_name): on every one (OVERWRITE), on
   * those without one (APPEND_IF_ABSENT, so every local reply), or undefined with PASS_THROUGH.
   */
  private readonly server: string | undefined;
  private readonly serverOverwrites: boolean;
  /** Outbound: labels and peer of each upstream connection, worked out once. */
  private readonly upstreamLabels = new WeakMap<
    UpstreamConnectionFacts,
    { labels: ConnectionLabels; peer: WorkloadMetadata | undefined }
  >();

  constructor(
    private readonly config: HttpConnectionManagerConfig,
    private readonly clusters: ClusterManager,
    store: StatsStore,
    private readonly log: Logger,
    telemetry?: () => ProxyTelemetry,
    accessLogs?: AccessLogWriters,
  ) {
    this.accessLog = accessLogs?.loggers(config.accessLogs);
    const transformation = config.serverHeaderTransformation ?? 'OVERWRITE';
    this.server = transformation === 'PASS_THROUGH' ? undefined : (config.serverName ?? DEFAULT_SERVER_NAME);
    this.serverOverwrites = transformation === 'OVERWRITE';
    this.telemetry = config.istioStats || config.peerMetadata ? telemetry?.() : undefined;
    this.index = new VirtualHostIndex(config.virtualHosts, config.ignorePortInHostMatching === true);
    const p = `http.${config.statPrefix}.`;
    this.stats = {
      cxTotal: store.counter(`${p}downstream_cx_total`),
      cxActive: store.gauge(`${p}downstream_cx_active`),
      cxHttp1Total: store.counter(`${p}downstream_cx_http1_total`),
      cxHttp2Total: store.counter(`${p}downstream_cx_http2_total`),
      cxProtocolError: store.counter(`${p}downstream_cx_protocol_error`),
      rqTotal: store.counter(`${p}downstream_rq_total`),
      rqHttp1Total: store.counter(`${p}downstream_rq_http1_total`),
      rqHttp2Total: store.counter(`${p}downstream_rq_http2_total`),
      rqActive: store.gauge(`${p}downstream_rq_active`),
      rqByClass: [1, 2, 3, 4, 5].map((c) => store.counter(`${p}downstream_rq_${c}xx`)),
      rqTimeout: store.counter(`${p}downstream_rq_timeout`),
      rqIdleTimeout: store.counter(`${p}downstream_rq_idle_timeout`),
      rqHeaderTimeout: store.counter(`${p}downstream_rq_header_timeout`),
      cxIdleTimeout: store.counter(`${p}downstream_cx_idle_timeout`),
      rqFailedPathNormalization: store.counter(`${p}downstream_rq_failed_path_normalization`),
      rqNonRelativePath: store.counter(`${p}downstream_rq_non_relative_path`),
      rqWsOnNonWsRoute: store.counter(`${p}downstream_rq_ws_on_non_ws_route`),
      noRoute: store.counter(`${p}no_route`),
      noCluster: store.counter(`${p}no_cluster`),
      rxReset: store.counter(`${p}downstream_rq_rx_reset`),
    };
    this.h1 = new H1Server(
      {
        // Envoy's max_request_headers_kb and its default max_headers_count.
        limits: { maxHeaderBytes: config.maxRequestHeadersKb * 1024, maxHeaders: 100 },
        request: {
          allowCustomMethods: config.allowCustomMethods,
          acceptHttp10: config.acceptHttp10,
          defaultHostForHttp10: config.defaultHostForHttp10,
          allowAbsoluteUrl: config.allowAbsoluteUrl,
          // Envoy: `xff_num_trusted_hops == 0 && use_remote_address` (HCM config.cc:381); Skiff has no trusted hops.
          validateScheme: config.useRemoteAddress,
        },
        server: this.server,
        headersTimeoutMs: config.requestHeadersTimeoutMs,
        streamIdleTimeoutMs: config.streamIdleTimeoutMs,
        idleTimeoutMs: config.idleTimeoutMs,
      },
      {
        request: (req, res) => this.onRequest(req, res),
        upgrade: (req, socket, rest) => this.onUpgrade(req, socket, rest),
        protocolError: (socket, status, reason) => this.onProtocolError(socket, status, reason),
        idleTimeout: (res) => this.onIdleTimeout(res.context as Stream),
        timeout: (_socket, kind, status) => this.onTimeout(kind, status),
      },
    );
    this.h2 = http2.createServer({
      maxHeaderListPairs: 100 * 2,
      maxSessionMemory: 64,
      settings: { maxHeaderListSize: config.maxRequestHeadersKb * 1024 },
    });
    this.h2.on('request', (req, res) => this.onRequest(req, res));
    // Node answers a CONNECT stream 405 itself unless this is listened to; Envoy's answer is the router's.
    this.h2.on('connect', (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) =>
      this.onRequest(req, res),
    );
    this.h2.on('sessionError', (err: Error) => {
      this.stats.cxProtocolError.inc();
      this.log.debug('HTTP/2 session error', { error: err.message });
    });
    this.h2.on('session', (session: http2.ServerHttp2Session) => {
      session.on('error', () => {});
      session.on('frameError', () => this.stats.cxProtocolError.inc());
      closeWhenFinished(session, () => {
        this.stats.cxProtocolError.inc();
        this.log.debug('HTTP/2 connection error: the session ended with a GOAWAY', {
          source: session.socket?.remoteAddress,
        });
      });
      this.closeWhenIdle(session);
    });
  }

  /**
   * Envoy's connection idle timeout on HTTP/2: a session without an open stream for that long is drained
   * (GOAWAY) and closed, counted in downstream_cx_idle_timeout. The timer runs from the session's start and
   * again whenever its last stream closes.
   */
  private closeWhenIdle(session: http2.ServerHttp2Session): void {
    const ms = this.config.idleTimeoutMs;
    if (ms <= 0) return;
    let open = 0;
    let timer: NodeJS.Timeout | undefined;
    const onIdle = () => {
      this.stats.cxIdleTimeout.inc();
      if (session.closed || session.destroyed) return;
      session.goaway(http2.constants.NGHTTP2_NO_ERROR);
      session.close();
    };
    // One listener for every stream's close (no closure per stream).
    const onStreamClose = () => {
      if (--open === 0 && !session.closed && !session.destroyed) timer = setTimeout(onIdle, ms);
    };
    session.on('stream', (stream: http2.ServerHttp2Stream) => {
      if (open++ === 0) clearTimeout(timer);
      stream.on('close', onStreamClose);
    });
    session.once('close', () => clearTimeout(timer));
    timer = setTimeout(onIdle, ms);
  }

  /**
   * Timers while codec AUTO waits for the bytes that decide between HTTP/1.1 and HTTP/2 (Envoy has a codec and
   * a stream by then): the connection idle timeout until the first byte; after it, request_headers_timeout (or,
   * without one, the stream idle timeout). The protocol is not known yet, so no reply can be written: the
   * connection is closed, and the timeout counted as Envoy counts it. Returns what stops them.
   */
  private prefaceTimers(socket: Socket): () => void {
    const c = this.config;
    const expire = (kind: H1Timeout) => () => {
      this.onTimeout(kind, 0);
      socket.destroy();
    };
    let timer = c.idleTimeoutMs > 0 ? setTimeout(expire('connection_idle'), c.idleTimeoutMs) : undefined;
    const onFirstBytes = () => {
      clearTimeout(timer);
      const ms = c.requestHeadersTimeoutMs || c.streamIdleTimeoutMs;
      const kind = c.requestHeadersTimeoutMs > 0 ? 'request_headers' : 'stream_idle';
      timer = ms > 0 ? setTimeout(expire(kind), ms) : undefined;
    };
    socket.once('data', onFirstBytes);
    return () => {
      clearTimeout(timer);
      socket.off('data', onFirstBytes);
    };
  }

  /** Takes over a downstream connection (plain or TLS), paused, possibly with bytes put back. */
  handle(socket: Socket, facts: DownstreamFacts): void {
    const s = this.stats;
    s.cxTotal.inc();
    s.cxActive.inc();
    socket.once('close', () => s.cxActive.dec());
    (socket as SocketWithState)[CONNECTION] = { facts, readMark: 0, writeMark: 0 };
    const codec = this.config.codec;
    if (codec === 'HTTP1') this.serveHttp1(socket);
    else if (codec === 'HTTP2' || (socket as TLSSocket).alpnProtocol === 'h2') this.serveHttp2(socket);
    else {
      const decided = peek(socket, prefaceDecided, 0);
      const stopTimers = this.prefaceTimers(socket);
      void decided.then(({ end, bytes }) => {
        stopTimers();
        if (end !== 'decided') socket.destroy();
        else if (startsWithPreface(bytes)) this.serveHttp2(socket);
        else this.serveHttp1(socket);
      });
    }
  }

  private serveHttp1(socket: Socket): void {
    this.stats.cxHttp1Total.inc();
    this.h1.serve(socket, stateOf(socket)?.facts.tls === true);
  }

  private serveHttp2(socket: Socket): void {
    this.stats.cxHttp2Total.inc();
    // Node's HTTP/2 server turns away TLS sockets whose ALPN was not h2; the bytes (preface) say it is.
    const tls = socket as TLSSocket & { secureConnecting?: boolean };
    if ('encrypted' in socket && tls.alpnProtocol !== 'h2') tls.alpnProtocol = 'h2';
    // Node's HTTP/2 session waits for 'secureConnect' while `secureConnecting` is set, which only tls.Server and
    // tls.connect clear: the listener's TLSSocket finished its handshake already.
    if (tls.secureConnecting) tls.secureConnecting = false;
    // Bytes put back by a peek stay in the socket's buffer: the session reads them first, so the socket stays
    // paused. A socket nobody has read yet (accepted paused, no listener filter) must start reading: resume()
    // starts the handle reading, pause() keeps the bytes in the buffer for the session.
    socket.resume();
    socket.pause();
    // The listener's sockets allow half-open connections; an HTTP/2 client's FIN ends its connection, as in
    // Envoy (a remote close). Without this the session waits for bytes that never come (CLOSE-WAIT).
    socket.once('end', () => socket.destroy());
    this.h2.emit('connection', socket);
  }

  /** The HTTP/1.1 codec answered a protocol error (status 0: it closed the connection) and closes. */
  private onProtocolError(socket: Socket, status: number, reason: string): void {
    const conn = stateOf(socket);
    if (conn) conn.protocolError = true;
    this.stats.cxProtocolError.inc();
    this.log.debug('HTTP protocol error', { status, reason, source: socket.remoteAddress });
    if (status > 0) this.countResponse(status);
  }

  /** A timer of the HTTP/1.1 codec (or of codec AUTO's wait) ended a connection or a request. */
  private onTimeout(kind: H1Timeout, status: number): void {
    const s = this.stats;
    if (kind === 'connection_idle') s.cxIdleTimeout.inc();
    else if (kind === 'request_headers') s.rqHeaderTimeout.inc();
    else s.rqIdleTimeout.inc();
    if (status > 0) this.countResponse(status);
  }

  /** Envoy's stream_idle_timeout on an HTTP/1.1 request whose response has not started. */
  private onIdleTimeout(st: Stream): void {
    this.stats.rqIdleTimeout.inc();
    st.abort?.();
    this.localReply(st, 408, 'stream timeout', 'SI');
  }

  /** This proxy's XFCC element for the connection's client certificate (made once per connection). */
  private xfccElementOf(conn: ConnectionState | undefined): string | undefined {
    if (conn?.xfcc !== undefined) return conn.xfcc ?? undefined;
    const facts = conn?.facts;
    let out: string | null = null;
    if (facts?.peer?.certificate && facts.peer.spiffeId !== undefined) {
      const der = facts.peer.certificate;
      const cert = new X509Certificate(der);
      const details = this.config.clientCertDetails;
      const c: ClientCertFacts = {
        localUri: facts.peer.localSpiffeId ?? '',
        hash: createHash('sha256').update(der).digest('hex'),
        subject: rfc2253Subject(cert.subject),
        uri: facts.peer.sans.find((x) => x.type === 'URI')?.value ?? '',
        dns: facts.peer.sans.filter((x) => x.type === 'DNS').map((x) => x.value),
        // PEM only when XFCC carries Cert= or Chain= (Istio asks for neither).
        certPem: details.cert ? cert.toString() : '',
        chainPem: details.chain ? cert.toString() : '',
      };
      out = xfccElement(c, details);
    }
    if (conn) conn.xfcc = out;
    return out ?? undefined;
  }

  private countResponse(status: number): void {
    this.stats.rqByClass[Math.floor(status / 100) - 1]?.inc();
  }

  /**
   * Envoy's local reply, once per stream. A gRPC request gets a trailers-only gRPC response (HTTP 200,
   * grpc-status from the HTTP status, grpc-message the text). After the response started, the stream is reset.
   */
  private localReply(st: Stream, status: number, body: string, flag: string, details = DETAILS[flag]): void {
    if (st.done) return;
    st.done = true;
    if (st.log) st.log.details = details;
    addFlag(st, flag);
    flag = st.flags;
    if (st.timer) clearTimeout(st.timer);
    const res = st.res;
    if (res.headersSent) {
      this.resetDownstream(st);
      return;
    }
    let headers: http.OutgoingHttpHeaders;
    if (st.protocol === 'grpc') {
      const grpcStatus = String(httpToGrpcStatus(status));
      headers = {
        'content-type': 'application/grpc',
        'grpc-status': grpcStatus,
        'grpc-message': encodeURIComponent(body),
        'x-skiff-response-flags': flag,
      };
      st.grpcStatusHeader = grpcStatus;
      status = 200;
      body = '';
    } else {
      headers = {
        'content-type': 'text/plain',
        'content-length': Buffer.byteLength(body),
        'x-skiff-response-flags': flag,
      };
    }
    if (st.attemptCountInResponse) headers['x-envoy-attempt-count'] = String(st.attempts);
    this.setServer(headers);
    this.countResponse(status);
    st.code = status;
    // ':status' (7) + 3 digits + 32.
    if (st.h2) st.responseBytes = headerBlockBytes(headers, 42) + Buffer.byteLength(body);
    if (st.log) {
      st.log.responseHeaders = headers;
      st.log.bodySent = Buffer.byteLength(body);
    }
    res.writeHead(status, headers);
    res.end(body);
  }

  /** server_header_transformation on a response's headers (Envoy's ActiveStream::encodeHeaders). */
  private setServer(headers: http.OutgoingHttpHeaders): void {
    if (this.server !== undefined && (this.serverOverwrites || headers.server === undefined))
      headers.server = this.server;
  }

  /**
   * server_header_transformation on an HTTP/1.1 response head relayed as bytes (an upgrade's answer): the head
   * as it came, or written again with its `server` field set.
   */
  private withServer(
    buf: Buffer,
    head: { status: number; reason: string; headers: HeaderField[]; end: number },
  ): Buffer {
    const server = this.server;
    const has = head.headers.some((f) => f[0] === 'server');
    if (server === undefined || (has && !this.serverOverwrites)) return buf.subarray(0, head.end);
    const fields = head.headers.filter((f) => f[0] !== 'server');
    fields.push(['server', server]);
    return serializeResponseHead(head.status, head.reason, fields);
  }

  private resetDownstream(st: Stream): void {
    const res = st.res;
    if (res instanceof H1Response) res.destroy();
    else res.stream.close(http2.constants.NGHTTP2_INTERNAL_ERROR);
  }

  private authority(req: DownstreamRequest): string {
    const h = req.headers;
    return (h[':authority'] as string | undefined) ?? h.host ?? '';
  }

  /**
   * One of PSEUDO_HEADERS as Envoy's header map has it, whatever the codec (HTTP/1.1 too: Envoy's codec fills the
   * map HTTP/2-style): `:method`; `:path` (`path`, the path routing sees, '' for a CONNECT, which has none);
   * `:authority`, also as `host`; `:scheme` — an absolute-form target's, an HTTP/2 request's own, else the
   * connection's (https with TLS).
   */
  private pseudoHeader(
    req: DownstreamRequest,
    name: string,
    conn: ConnectionState | undefined,
    path: string | undefined = req.url,
  ): string | undefined {
    switch (name) {
      case ':method':
        return req.method;
      case ':path':
        return path || undefined;
      case ':authority':
      case 'host':
        return this.authority(req) || undefined;
      case ':scheme': {
        const scheme = req instanceof H1Request ? req.scheme : req.headers[':scheme'];
        if (typeof scheme === 'string') return scheme;
        return conn?.facts.tls ? 'https' : 'http';
      }
    }
    return undefined;
  }

  /**
   * The route of a request; `path` replaces its target (a CONNECT has none: ''). Header matchers see the request
   * as Envoy's do, pseudo-headers included, over HTTP/1.1 as over HTTP/2; repeated headers joined with `,`.
   */
  private route(
    req: DownstreamRequest,
    conn: ConnectionState | undefined,
    path: string = req.url ?? '/',
  ): { name: string; action: RouteActionConfig } | undefined {
    const vhost = this.index.find(this.authority(req));
    if (!vhost) return undefined;
    const header = (name: string) => {
      if (PSEUDO_HEADERS.has(name)) return this.pseudoHeader(req, name, conn, path);
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(',') : v;
    };
    return selectRoute(vhost, { path, header });
  }

  private upstreamHeaders(
    req: DownstreamRequest,
    conn: ConnectionState | undefined,
  ): http.OutgoingHttpHeaders {
    const mx = this.config.peerMetadata;
    const dropPeerHeaders = mx?.downstreamDiscovery === true;
    const headers: http.OutgoingHttpHeaders = {};
    const from = req.headers;
    // Headers are copied, not deleted afterwards: an object that loses properties turns slow to read.
    for (const k in from) {
      const v = from[k];
      if (v === undefined || k.charCodeAt(0) === 58 /* ':' */ || k === 'x-forwarded-client-cert') continue;
      if (HOP_BY_HOP.has(k)) {
        if (k === 'te' && v === 'trailers') headers.te = v;
        continue;
      }
      if (dropPeerHeaders && (k === PEER_METADATA_HEADER || k === PEER_METADATA_ID_HEADER)) continue;
      headers[k] = v;
    }
    if (mx?.upstreamPropagation && this.telemetry) {
      headers[PEER_METADATA_HEADER] = this.telemetry.peerMetadata;
      headers[PEER_METADATA_ID_HEADER] = this.telemetry.peerMetadataId;
    }
    const facts = conn?.facts;
    const incoming = from['x-forwarded-client-cert'];
    const xfcc = mutateXfcc(
      this.config.forwardClientCertDetails,
      Array.isArray(incoming) ? incoming.join(',') : incoming,
      this.xfccElementOf(conn),
    );
    if (xfcc !== undefined) headers['x-forwarded-client-cert'] = xfcc;
    headers['x-forwarded-proto'] ??= facts?.tls ? 'https' : 'http';
    headers['x-request-id'] ??= randomUUID();
    return headers;
  }

  private onRequest(req: DownstreamRequest, res: DownstreamResponse): void {
    const s = this.stats;
    const h2 = req.httpVersionMajor === 2;
    s.rqTotal.inc();
    (h2 ? s.rqHttp2Total : s.rqHttp1Total).inc();
    s.rqActive.inc();
    const st: Stream = {
      req,
      res,
      protocol: requestProtocol(req.url, req.headers['content-type']),
      conn: stateOf(req.socket),
      done: false,
      start: performance.now(),
      requestBytes: h2 ? headerBlockBytes(req.headers) : 0,
      responseBytes: 0,
      h2,
      code: 0,
      flags: '-',
      peer: undefined,
      upstream: undefined,
      service: undefined,
      grpcStatusHeader: undefined,
      grpcStatusTrailer: undefined,
      peerHeaders: undefined,
      attempts: 0,
      attemptCountInResponse: false,
      upstreamEndpoint: undefined,
      log: this.accessLog
        ? {
            startTime: Date.now(),
            details: undefined,
            transportFailure: undefined,
            routeName: undefined,
            cluster: undefined,
            requestHeaders: undefined,
            responseHeaders: undefined,
            trailers: undefined,
            bodyReceived: 0,
            bodySent: 0,
          }
        : undefined,
    };
    if (this.telemetry) {
      if (h2) {
        req.on('data', (chunk: Buffer) => {
          st.requestBytes += chunk.length;
        });
      }
      if (this.config.peerMetadata?.downstreamDiscovery) this.discoverDownstreamPeer(st);
    }
    if (res instanceof H1Response) res.context = st;
    onResponseClose(res, () => {
      s.rqActive.dec();
      if (st.timer) clearTimeout(st.timer);
      if (!res.writableFinished) {
        if (!st.done) {
          s.rxReset.inc();
          addFlag(st, 'DC');
        } else if (st.flags === '-') st.flags = 'DC';
        st.done = true;
        st.abort?.();
      }
      if (this.config.istioStats) this.record(st);
      if (st.log) this.logStream(st, st.log);
    });
    const refused = this.refusedBeforeRoute(req);
    if (refused !== undefined) {
      // On HTTP/1 a 400 local reply closes the connection (conn_manager_impl.cc:1868-1874 onLocalReply).
      if (refused.status === 400 && res instanceof H1Response) res.closeAfter = true;
      bodyOf(req).discard();
      this.localReply(st, refused.status, '', '-', refused.details);
      return;
    }
    // Envoy's path checks come before the route: a `#fragment` is refused (runtime
    // http_reject_path_with_fragment, true by default; conn_manager_impl.cc → path_normalization_failed).
    if (h2 ? (req.url ?? '').includes('#') : (req as H1Request).fragment) {
      s.rqFailedPathNormalization.inc();
      bodyOf(req).discard();
      this.localReply(st, 400, '', '-');
      return;
    }
    // An HTTP/2 CONNECT (HTTP/1.1 ones come as upgrades): no path, so no route (404 NR), or 403 where a route
    // matches an empty path, as for any upgrade the route does not allow (Envoy without CONNECT support).
    const connect = req.method === 'CONNECT';
    const route = this.route(req, st.conn, connect ? '' : undefined);
    // The route's cluster, or one of its weighted clusters picked for this request (retries stay on it).
    const clusterName = route ? pickCluster(route.action) : '';
    if (st.log && route) {
      st.log.routeName = route.name || undefined;
      st.log.cluster = clusterName;
    }
    if (!route) {
      s.noRoute.inc();
      bodyOf(req).discard();
      this.localReply(st, 404, '', 'NR');
      return;
    }
    if (connect) {
      s.rqWsOnNonWsRoute.inc();
      bodyOf(req).discard();
      this.localReply(st, 403, '', '-');
      return;
    }
    const cluster = this.clusters.get(clusterName);
    if (this.telemetry) st.service = this.serviceOf(route, cluster, this.telemetry);
    if (!cluster) {
      s.noCluster.inc();
      bodyOf(req).discard();
      this.localReply(st, 503, 'no healthy upstream', 'NC');
      return;
    }
    this.forward(st, cluster, route.action, h2);
  }

  /**
   * Envoy's connection manager before the path checks and the route (conn_manager_impl.cc:1424-1467): no Host
   * (:authority) → 400 `missing_host_header` — an HTTP/1.0 request without one and no default_host_for_http_10,
   * or an absolute-form target without allow_absolute_url and without Host; a path that does not start with `/`
   * (`OPTIONS *`, an absolute-form target taken as the path, `http://h?q`'s `?q`) → 404 `absolute_path_rejected`,
   * counted in downstream_rq_non_relative_path. A CONNECT has no path.
   */
  private refusedBeforeRoute(req: DownstreamRequest): { status: 400 | 404; details: string } | undefined {
    const h = req.headers;
    if (h[':authority'] === undefined && h.host === undefined)
      return { status: 400, details: 'missing_host_header' };
    const path = req.url ?? '';
    if (req.method !== 'CONNECT' && path !== '' && path.charCodeAt(0) !== 0x2f) {
      this.stats.rqNonRelativePath.inc();
      return { status: 404, details: 'absolute_path_rejected' };
    }
    return undefined;
  }

  /** The destination-service resolver of a route (and of no route), made once and kept with the route. */
  private serviceOf(
    route: { name: string } | undefined,
    cluster: Cluster | undefined,
    t: ProxyTelemetry,
  ): (host: string | undefined) => ServiceRef {
    const key = route ?? NO_ROUTE;
    let byCluster = this.services.get(key);
    if (byCluster === undefined) {
      byCluster = new WeakMap();
      this.services.set(key, byCluster);
    }
    let r = byCluster.get(cluster?.config ?? NO_CLUSTER);
    if (r === undefined) {
      r = t.resolver(route?.name, cluster?.config);
      byCluster.set(cluster?.config ?? NO_CLUSTER, r);
    }
    return r;
  }

  /** Inbound `istio.metadata_exchange`: the client proxy's workload from its request headers. */
  private discoverDownstreamPeer(st: Stream): void {
    const h = st.req.headers;
    const value = h[PEER_METADATA_HEADER];
    const id = h[PEER_METADATA_ID_HEADER];
    if (value === undefined && id === undefined) return;
    st.peerHeaders = { value: value !== undefined, id: id !== undefined };
    const found = this.telemetry?.peers.lookup(typeof value === 'string' ? value : undefined);
    if (found?.peer) st.peer = found.peer;
    else if (value !== undefined)
      this.log.debug('unreadable x-envoy-peer-metadata', { reason: found?.reason });
  }

  /** Istio's standard HTTP metrics for one finished stream (istio.stats). */
  private record(st: Stream): void {
    const stats = this.config.istioStats;
    const t = this.telemetry;
    if (!stats || !t) return;
    let labels: ConnectionLabels;
    let peer = st.peer;
    if (stats.reporter === 'destination') labels = this.destinationLabels(st.conn, t);
    else if (st.upstream) {
      const u = this.sourceLabels(st.upstream, t);
      labels = u.labels;
      peer ??= u.peer;
    } else labels = t.metrics.connection('source', undefined, undefined, 'unknown');
    const host = stats.disableHostHeaderFallback ? undefined : this.authority(st.req);
    const service = (st.service ?? this.serviceOf(undefined, undefined, t))(host);
    const protocol = st.protocol;
    const grpc =
      protocol === 'grpc'
        ? grpcResponseStatus(st.grpcStatusTrailer, st.grpcStatusHeader, st.code)
        : undefined;
    labels
      .labels(peer, service)
      .http(protocol, st.code, grpc, st.flags)
      .record(Math.trunc(performance.now() - st.start), ...this.streamBytes(st));
  }

  /**
   * Envoy's downstream wire bytes of a stream, [received, sent]. HTTP/1.1: what the connection read and wrote
   * since the previous request ended (exact, after TLS; pipelined requests over-count as in Envoy). HTTP/2: the
   * header blocks as HPACK sizes them plus the body bytes (frame overhead and compression are not seen).
   */
  private streamBytes(st: Stream): [number, number] {
    if (st.h2) return [st.requestBytes, st.responseBytes];
    const socket = st.req.socket;
    const conn = st.conn;
    if (!conn) return [0, 0];
    const read = socket.bytesRead;
    const written = socket.bytesWritten;
    const out: [number, number] = [read - conn.readMark, written - conn.writeMark];
    conn.readMark = read;
    conn.writeMark = written;
    return out;
  }

  private destinationLabels(conn: ConnectionState | undefined, t: ProxyTelemetry): ConnectionLabels {
    if (conn?.labels) return conn.labels;
    const peer = conn?.facts.peer;
    const labels = t.metrics.connection('destination', peer?.spiffeId, peer?.localSpiffeId);
    if (conn) conn.labels = labels;
    return labels;
  }

  private sourceLabels(
    u: UpstreamConnectionFacts,
    t: ProxyTelemetry,
  ): { labels: ConnectionLabels; peer: WorkloadMetadata | undefined } {
    let found = this.upstreamLabels.get(u);
    if (found === undefined) {
      const local = u.localIdentity === '' ? undefined : u.localIdentity;
      found = {
        labels: t.metrics.connection(
          'source',
          u.peerIdentity,
          local,
          upstreamSecurityPolicy({ tls: u.tls, peerPrincipal: u.peerIdentity, localPrincipal: local }),
        ),
        peer: endpointWorkloadFromMetadata(u.endpointMetadata),
      };
      this.upstreamLabels.set(u, found);
    }
    return found;
  }

  private forward(st: Stream, cluster: Cluster, action: RouteActionConfig, h2: boolean): void {
    const { req } = st;
    const configured = cluster.config.httpProtocol;
    const protocol = configured === 'downstream' ? (h2 ? 'http2' : 'http1') : configured;
    const head: UpstreamHead = {
      method: req.method ?? 'GET',
      path: req.url ?? '/',
      authority: this.authority(req),
      scheme: 'http',
      headers: this.upstreamHeaders(req, st.conn),
      hasBody: req instanceof H1Request ? req.hasBody : !req.stream.endAfterHeaders,
    };
    st.attemptCountInResponse = action.includeAttemptCountInResponse === true;
    if (st.log) st.log.requestHeaders = head.headers;
    const policy = action.retryPolicy;
    if (!policy) {
      // The common path: one attempt, the body piped straight through, nothing kept.
      const exchange = this.sendAttempt(st, cluster, protocol, head, action, undefined);
      this.startRouteTimer(st, cluster, action);
      bodyOf(req).pipeTo(this.countedBody(st, exchange.body));
      return;
    }
    const retrying: Retrying = {
      state: new RetryState<Endpoint>(policy),
      body: new ReplayableBody(RETRY_BUFFER_LIMIT, () => {
        cluster.stats.retryOrShadowAbandoned.inc();
        // Between attempts, with the body no longer replayable: Envoy's 507.
        if (retrying.backoff !== undefined) {
          clearTimeout(retrying.backoff);
          retrying.backoff = undefined;
          this.localReply(
            st,
            507,
            'exceeded request buffer limit while retrying upstream',
            '-',
            'request_payload_exceeded_retry_buffer_limit',
          );
        }
      }),
      backoff: undefined,
      holding: false,
      sent: false,
    };
    onResponseClose(st.res, () => this.releaseRetry(cluster, retrying));
    const exchange = this.sendAttempt(st, cluster, protocol, head, action, retrying);
    retrying.body.attach(exchange.body);
    this.startRouteTimer(st, cluster, action);
    bodyOf(req).pipeTo(this.countedBody(st, retrying.body));
  }

  /** Istio's `istio.alpn` filter: the ALPN list for an upstream connection of `cluster` speaking `protocol`. */
  private alpnOf(cluster: Cluster, protocol: 'http1' | 'http2'): { alpn?: readonly string[] } {
    const alpn = alpnOffer(this.config.alpnOverride, cluster.config, protocol);
    return alpn ? { alpn } : {};
  }

  /** The request body's sink, counting its bytes for the access log when there is one. */
  private countedBody(st: Stream, sink: BodySink): BodySink {
    const log = st.log;
    if (!log) return sink;
    return {
      write(chunk) {
        log.bodyReceived += chunk.length;
        return sink.write(chunk);
      },
      end: () => sink.end(),
      onDrain: (cb) => sink.onDrain(cb),
    };
  }

  /** Envoy's access log line for one finished stream. */
  private logStream(st: Stream, log: StreamLog): void {
    const { req } = st;
    const ctx = connectionLogContext(st.conn?.facts.connection);
    ctx.startTime = log.startTime;
    ctx.durationMs = Math.trunc(performance.now() - st.start);
    ctx.protocol = st.h2 ? 'HTTP/2' : req.httpVersion === '1.0' ? 'HTTP/1.0' : 'HTTP/1.1';
    ctx.requestHeader = (name) => {
      if (PSEUDO_HEADERS.has(name)) return this.pseudoHeader(req, name, st.conn);
      const value = firstValue(log.requestHeaders?.[name] ?? req.headers[name]);
      // Envoy gives every request an x-request-id before routing; one that never went upstream shows it too.
      if (value !== undefined || name !== 'x-request-id') return value;
      if (log.requestId === undefined) log.requestId = randomUUID();
      return log.requestId;
    };
    ctx.responseHeader = (name) => firstValue(log.responseHeaders?.[name]);
    ctx.responseTrailer = (name) => firstValue(log.trailers?.[name]);
    ctx.responseCode = st.code;
    ctx.responseFlags = st.flags === '-' ? [] : st.flags.split(',');
    ctx.responseCodeDetails = log.details;
    ctx.upstreamTransportFailureReason = log.transportFailure;
    ctx.bytesReceived = log.bodyReceived;
    ctx.bytesSent = log.bodySent;
    const up = st.upstreamEndpoint?.config.address;
    ctx.upstreamHost = up ? addressText(up.host, up.port) : undefined;
    ctx.upstreamCluster = log.cluster;
    ctx.upstreamLocalAddress = st.upstream?.localAddress;
    ctx.upstreamPeerUriSan = st.upstream?.peerIdentity;
    ctx.routeName = log.routeName;
    ctx.upstreamRequestAttemptCount = st.attempts;
    (this.accessLog as AccessLoggers).log(ctx);
  }

  /** The route's timeout over the whole request, retries included: 504 UT. */
  private startRouteTimer(st: Stream, cluster: Cluster, action: RouteActionConfig): void {
    // A cluster with no healthy endpoint fails inside send(): the stream is over and needs no timer.
    if (action.timeoutMs <= 0 || st.done) return;
    st.timer = setTimeout(() => {
      if (st.done) return;
      this.stats.rqTimeout.inc();
      if (st.upstreamEndpoint && !st.res.headersSent)
        cluster.report(st.upstreamEndpoint, 'local-origin-timeout', 504);
      st.abort?.();
      this.localReply(st, 504, 'upstream request timeout', 'UT');
    }, action.timeoutMs);
  }

  /**
   * One attempt upstream. With a retry policy a retriable outcome — response headers, or a reset before them —
   * starts the next attempt after a back-off instead of answering (retryAfter); an attempt given up on is
   * abandoned, and whatever its exchange still reports is ignored.
   */
  private sendAttempt(
    st: Stream,
    cluster: Cluster,
    protocol: 'http1' | 'http2',
    head: UpstreamHead,
    action: RouteActionConfig,
    r: Retrying | undefined,
  ): UpstreamExchange {
    st.attempts++;
    const sent: UpstreamHead = action.includeAttemptCount
      ? { ...head, headers: { ...head.headers, 'x-envoy-attempt-count': String(st.attempts) } }
      : head;
    const perTryMs = r?.state.policy.perTryTimeoutMs ?? 0;
    let perTry: NodeJS.Timeout | undefined;
    /** The endpoint this attempt went to, once it has one. */
    let endpoint: Endpoint | undefined;
    let settled = false;
    let abandoned = false;
    let exchange: UpstreamExchange | undefined;
    const giveUp = () => {
      abandoned = true;
      if (perTry) clearTimeout(perTry);
      exchange?.abort();
    };
    const onPerTryTimeout = () => {
      perTry = undefined;
      if (settled || abandoned || st.done) return;
      settled = true;
      cluster.stats.perTryTimeout.inc();
      if (endpoint) cluster.report(endpoint, 'local-origin-timeout', 504);
      giveUp();
      if (
        r &&
        this.retryAfter(st, cluster, protocol, head, action, r, {
          kind: 'reset',
          reason: 'local-reset',
          requestSent: true,
        })
      )
        return;
      this.localReply(st, 504, 'upstream request timeout', 'UT', 'upstream_per_try_timeout');
    };
    exchange = this.pools.send(
      cluster,
      protocol,
      sent,
      {
        ready: (chosen) => {
          if (abandoned) return;
          endpoint = chosen;
          st.upstreamEndpoint = chosen;
          r?.state.attempted.add(chosen);
          // Envoy's per-try timer runs once the attempt has its connection and the request is complete.
          if (perTryMs > 0 && r) {
            r.body.whenComplete(() => {
              if (!settled && !abandoned) perTry = setTimeout(onPerTryTimeout, perTryMs);
            });
          }
        },
        response: (up) => {
          if (abandoned) {
            up.body.discard();
            return;
          }
          settled = true;
          if (perTry) clearTimeout(perTry);
          const header = (name: string) => {
            const v = up.headers[name];
            return Array.isArray(v) ? v[0] : v;
          };
          reportResponse(cluster, up.connection.endpoint, up.status, header('grpc-status'));
          if (r && !st.done) {
            const outcome = { kind: 'response', status: up.status, header } as const;
            if (this.retryAfter(st, cluster, protocol, head, action, r, outcome)) {
              up.body.discard();
              giveUp();
              return;
            }
          }
          this.relayResponse(st, up);
        },
        trailers: (t) => {
          if (abandoned || !st.res.headersSent) return;
          const out: http.OutgoingHttpHeaders = {};
          for (const [k, v] of Object.entries(t)) if (v !== undefined && k.charCodeAt(0) !== 58) out[k] = v;
          const grpcStatus = t['grpc-status'];
          if (typeof grpcStatus === 'string') st.grpcStatusTrailer = grpcStatus;
          if (st.log) st.log.trailers = t;
          st.res.addTrailers(out as Record<string, string>);
        },
        failed: (flag, detail, reset) => {
          if (abandoned) return;
          const before = settled;
          settled = true;
          if (perTry) clearTimeout(perTry);
          if (reset.endpoint) {
            r?.state.attempted.add(reset.endpoint);
            st.upstreamEndpoint = reset.endpoint;
          }
          // A reset after the connection was had (pool failures were reported by the cluster).
          if (reset.endpoint && !POOL_FAILURES.has(reset.reason)) {
            cluster.report(reset.endpoint, 'local-origin-connect-failed');
          }
          if (r && reset.requestSent) r.sent = true;
          if (r && !before && !st.done && !st.res.headersSent && reset.reason !== 'no-healthy-upstream') {
            const outcome = { kind: 'reset', reason: reset.reason, requestSent: r.sent } as const;
            if (this.retryAfter(st, cluster, protocol, head, action, r, outcome)) {
              giveUp();
              return;
            }
          }
          this.upstreamFailed(st, flag, detail, (r?.state.retries ?? 0) > 0);
        },
      },
      {
        ...(r ? { avoid: r.state.avoid, picks: r.state.picks } : {}),
        // istio.alpn: the ALPN this request's upstream TLS connection offers, by the protocol it speaks.
        ...this.alpnOf(cluster, protocol),
      },
    );
    st.abort = () => {
      giveUp();
      if (r?.backoff !== undefined) {
        clearTimeout(r.backoff);
        r.backoff = undefined;
      }
    };
    return exchange;
  }

  /**
   * Envoy's retry decision after an attempt's outcome, with its counters and flags (URX when the retries are
   * used up, UO when the max_retries circuit breaker is full). True when the next attempt is scheduled.
   */
  private retryAfter(
    st: Stream,
    cluster: Cluster,
    protocol: 'http1' | 'http2',
    head: UpstreamHead,
    action: RouteActionConfig,
    r: Retrying,
    outcome: AttemptOutcome,
  ): boolean {
    if (r.body.abandoned) return false;
    this.releaseRetry(cluster, r);
    const c = cluster.stats;
    const decision = r.state.decide(outcome, () => cluster.tryTakeRetry());
    if (decision === 'final') {
      if (r.state.retries > 0) c.retrySuccess.inc();
      return false;
    }
    if (decision === 'limit-exceeded') {
      c.retryLimitExceeded.inc();
      addFlag(st, 'URX');
      return false;
    }
    if (decision === 'overflow') {
      c.retryOverflow.inc();
      addFlag(st, 'UO');
      return false;
    }
    r.holding = true;
    c.retry.inc();
    c.retryBackoffExponential.inc();
    r.body.detach();
    r.backoff = setTimeout(() => {
      r.backoff = undefined;
      if (st.done) return;
      const exchange = this.sendAttempt(st, cluster, protocol, head, action, r);
      r.body.attach(exchange.body);
    }, r.state.nextBackoffMs());
    return true;
  }

  /** Gives back the cluster's max_retries unit a retry held. */
  private releaseRetry(cluster: Cluster, r: Retrying): void {
    if (!r.holding) return;
    r.holding = false;
    cluster.releaseRetry();
  }

  private upstreamFailed(st: Stream, flag: UpstreamFailure, detail: string, retried = false): void {
    if (st.res.headersSent || st.done) {
      // After the response started no local reply is possible: Envoy resets the downstream stream.
      if (!st.res.writableFinished) {
        if (st.flags === '-') st.flags = flag;
        this.resetDownstream(st);
      }
      st.done = true;
      return;
    }
    if (flag === 'UH') {
      // No endpoint to try (none healthy, or all ejected with panic mode off): Envoy's 503 UH.
      this.localReply(st, 503, 'no healthy upstream', 'UH');
      return;
    }
    const reason =
      flag === 'UF'
        ? `connection failure, transport failure reason: ${detail}`
        : flag === 'UR'
          ? 'remote reset'
          : flag === 'UPE'
            ? 'protocol error'
            : 'connection termination';
    if (st.log && flag === 'UF') st.log.transportFailure = detail;
    const short = flag === 'UF' ? `connection failure|${detail}` : reason;
    this.localReply(
      st,
      // An upstream that broke HTTP is a bad gateway (Envoy's UPE); every other reset is unavailability.
      flag === 'UPE' ? 502 : 503,
      `upstream connect error or disconnect/reset before headers. ${retried ? 'retried and the latest ' : ''}reset reason: ${reason}`,
      flag,
      `upstream_reset_before_response_started{${short}}`.replace(/\s/g, '_'),
    );
  }

  private relayResponse(st: Stream, up: UpstreamResponse): void {
    if (st.done) {
      up.body.discard();
      return;
    }
    st.done = true;
    st.upstream = up.connection;
    const res = st.res;
    const mx = this.config.peerMetadata;
    const from = up.headers;
    // Outbound metadata exchange reads the server proxy's headers and does not pass them on.
    const dropPeerHeaders =
      mx?.upstreamDiscovery === true &&
      this.telemetry !== undefined &&
      (from[PEER_METADATA_HEADER] !== undefined || from[PEER_METADATA_ID_HEADER] !== undefined);
    const headers: http.OutgoingHttpHeaders = {};
    for (const k in from) {
      const v = from[k];
      if (v === undefined || HOP_BY_HOP.has(k)) continue;
      if (dropPeerHeaders && (k === PEER_METADATA_HEADER || k === PEER_METADATA_ID_HEADER)) continue;
      headers[k] = v;
    }
    if (mx && this.telemetry) this.exchangeOnResponse(st, from, headers, mx, dropPeerHeaders);
    if (st.attemptCountInResponse) headers['x-envoy-attempt-count'] = String(st.attempts);
    this.setServer(headers);
    this.countResponse(up.status);
    st.code = up.status;
    const log = st.log;
    if (log) {
      log.details = 'via_upstream';
      log.responseHeaders = headers;
    }
    const count = st.h2 && this.telemetry !== undefined;
    if (this.telemetry) {
      const grpcStatus = headers['grpc-status'];
      if (typeof grpcStatus === 'string') st.grpcStatusHeader = grpcStatus;
      if (count) st.responseBytes = headerBlockBytes(headers, 42);
    }
    if (up.endedWithHeaders && !(res instanceof H1Response)) {
      // A trailers-only response (gRPC errors): one HEADERS frame with END_STREAM, as the upstream sent it.
      if (st.timer) clearTimeout(st.timer);
      res.stream.respond({ ':status': up.status, ...headers }, { endStream: true });
      up.body.discard();
      return;
    }
    res.writeHead(up.status, headers);
    let sink = sinkOf(res);
    const timer = st.timer;
    if (count || timer || log) {
      // HTTP/2 counts the body bytes, and so does an access log; the route timeout ends with the body.
      const inner = sink;
      sink = {
        write(chunk) {
          if (count) st.responseBytes += chunk.length;
          if (log) log.bodySent += chunk.length;
          return inner.write(chunk);
        },
        end() {
          if (timer) clearTimeout(timer);
          inner.end();
        },
        onDrain: (cb) => inner.onDrain(cb),
      };
    }
    up.body.pipeTo(sink);
  }

  /**
   * `istio.metadata_exchange` on a response: outbound, the server proxy's workload is read from the response and
   * its headers removed; inbound, ours are added when the client proxy sent its own.
   */
  private exchangeOnResponse(
    st: Stream,
    from: http.IncomingHttpHeaders,
    headers: http.OutgoingHttpHeaders,
    mx: NonNullable<HttpConnectionManagerConfig['peerMetadata']>,
    sawPeerHeaders: boolean,
  ): void {
    const t = this.telemetry as ProxyTelemetry;
    if (sawPeerHeaders) {
      const value = from[PEER_METADATA_HEADER];
      const found = t.peers.lookup(typeof value === 'string' ? value : undefined);
      if (found.peer) st.peer = found.peer;
    }
    if (mx.downstreamPropagation && st.peerHeaders) {
      if (st.peerHeaders.value) headers[PEER_METADATA_HEADER] = t.peerMetadata;
      if (st.peerHeaders.id) headers[PEER_METADATA_ID_HEADER] = t.peerMetadataId;
    }
  }

  /**
   * `Connection: upgrade`, or CONNECT: configured upgrade types become a raw byte relay to an endpoint. In
   * Envoy's order: a `#fragment` → 400; no route → 404 NR (a CONNECT has no path, so path matchers do not match
   * it: Envoy's FAQ "Why is Envoy sending 404s to CONNECT requests?"); a route that does not allow the upgrade →
   * 403 (upgrade_failed, downstream_rq_ws_on_non_ws_route). CONNECT is never relayed (not implemented).
   */
  private onUpgrade(req: H1Request, socket: Socket, head: Buffer): void {
    const s = this.stats;
    s.rqTotal.inc();
    s.rqHttp1Total.inc();
    const refused = this.refusedBeforeRoute(req);
    if (refused !== undefined) {
      this.refuseUpgrade(socket, refused.status, '-');
      return;
    }
    if (req.fragment) {
      s.rqFailedPathNormalization.inc();
      this.refuseUpgrade(socket, 400, '-');
      return;
    }
    const connect = req.upgrade === 'CONNECT';
    const type = connect ? 'connect' : String(req.upgrade).toLowerCase();
    const action = this.route(req, stateOf(socket), connect ? '' : undefined)?.action;
    if (!action) {
      s.noRoute.inc();
      this.refuseUpgrade(socket, 404, 'NR');
      return;
    }
    if (connect || !this.config.upgrades.includes(type)) {
      s.rqWsOnNonWsRoute.inc();
      this.refuseUpgrade(socket, 403, '-');
      return;
    }
    const cluster = this.clusters.get(pickCluster(action));
    if (!cluster) {
      s.noCluster.inc();
      this.refuseUpgrade(socket, 503, 'NC');
      return;
    }
    cluster.connect((r) => {
      if (!r.ok) {
        this.refuseUpgrade(socket, 503, 'UF');
        return;
      }
      const up = r.socket;
      const headers = this.upstreamHeaders(req, stateOf(socket));
      up.write(
        `${req.method} ${req.url} HTTP/1.1\r\nhost: ${this.authority(req)}\r\n${fieldLines(headers)}` +
          `connection: upgrade\r\nupgrade: ${req.headers.upgrade}\r\n\r\n`,
      );
      const close = () => {
        socket.destroy();
        up.destroy();
      };
      socket.on('error', close);
      up.on('error', close);
      socket.on('close', close);
      up.on('close', close);
      this.awaitSwitch(req.method, socket, up, head, action.timeoutMs || this.config.streamIdleTimeoutMs);
    });
  }

  /** An upgrade answered by the proxy itself (Envoy's local reply and flag), and the connection closed. */
  private refuseUpgrade(socket: Socket, status: number, flag: string): void {
    this.countResponse(status);
    const server = this.server === undefined ? '' : `server: ${this.server}\r\n`;
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-length: 0\r\nx-skiff-response-flags: ${flag}\r\n${server}connection: close\r\n\r\n`,
    );
  }

  /**
   * The upgrade's upstream answer. Only a 101 turns the connection into a byte relay (Envoy): until then the
   * client's bytes are held, so that nothing reaches the app unparsed. Any other answer is relayed and both
   * connections close.
   */
  private awaitSwitch(method: string, socket: Socket, up: Socket, held: Buffer, timeoutMs: number): void {
    let buf: Buffer | undefined;
    let decoder: BodyDecoder | undefined;
    // An upstream that never answers the upgrade: the route timeout (or the stream idle timeout) as a 504 UT.
    const timer =
      timeoutMs > 0
        ? setTimeout(() => {
            this.refuseUpgrade(socket, 504, 'UT');
            up.destroy();
          }, timeoutMs)
        : undefined;
    up.once('close', () => clearTimeout(timer));
    const onData = (chunk: Buffer) => {
      if (decoder !== undefined) {
        // Relaying a refusal: its bytes as they come, until its body ends (nothing after it).
        const r = decoder.push(chunk, 0);
        socket.write(r.done ? chunk.subarray(0, r.consumed) : chunk);
        if (r.done) {
          socket.end();
          up.destroy();
        }
        return;
      }
      buf = buf === undefined ? chunk : Buffer.concat([buf, chunk]);
      const r = parseResponseHead(buf, 0, DEFAULT_HEAD_LIMITS, method);
      if (r.kind === 'need-more') return;
      clearTimeout(timer);
      up.off('data', onData);
      if (r.kind === 'error') {
        this.refuseUpgrade(socket, 502, 'UPE');
        up.destroy();
        return;
      }
      this.countResponse(r.status);
      const head = this.withServer(buf, r);
      if (r.status === 101) {
        socket.write(head);
        if (r.end < buf.length) socket.write(buf.subarray(r.end));
        if (held.length > 0) up.write(held);
        socket.pipe(up);
        up.pipe(socket);
        socket.resume();
        return;
      }
      socket.write(head);
      decoder = new BodyDecoder(r.body, DEFAULT_HEAD_LIMITS);
      up.on('data', onData);
      const rest = buf.subarray(r.end);
      if (decoder.empty) socket.end();
      else if (rest.length > 0) onData(rest);
    };
    up.on('data', onData);
    up.on('end', () => socket.end());
  }

  /** Closes the upstream pools (the listener is gone). */
  close(): void {
    this.pools.close();
  }
}
