// `envoy.filters.network.http_connection_manager` with the router, HTTP/1.1 (HTTP/2 is not implemented yet):
// Node's HTTP/1 parser reads requests off the connection (keep-alive, chunked bodies, pipelined requests served
// one at a time as Envoy serves them), the route table picks a cluster (policy/routes.ts), and the request goes
// upstream over a per-cluster keep-alive pool whose connections come from the cluster (load balancer, TLS per
// endpoint). Envoy's local replies and response flags: 404 NR (no route), 503 NC (no cluster), 503 UF (connect
// failure), 503 UC (upstream reset before headers), 504 UT (route timeout), 431 (headers too large), 400 (bad
// framing), 408 (request headers timeout); after response headers an upstream reset resets the downstream.
// x-forwarded-client-cert as Envoy writes it (xfcc.ts); `Connection: upgrade` passed through for configured
// upgrade types (websocket), others refused with 403.

import { createHash, randomUUID, X509Certificate } from 'node:crypto';
import http from 'node:http';
import type { Socket } from 'node:net';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../../../core/log.js';
import { selectRoute, VirtualHostIndex } from '../../../policy/routes.js';
import type { HttpConnectionManagerConfig, RouteActionConfig } from '../../config/model.js';
import type { Counter, Gauge, StatsStore } from '../../stats/index.js';
import { parseSubjectAltNames } from '../../transport/san.js';
import type { Cluster, ClusterManager } from '../../upstream/cluster.js';
import type { DownstreamFacts, NetworkFilter } from '../network-filter.js';
import { type ClientCertFacts, mutateXfcc, rfc2253Subject } from './xfcc.js';

const HOP_BY_HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'upgrade',
  'te',
  'trailer',
  'http2-settings',
]);

interface HcmStats {
  cxTotal: Counter;
  cxActive: Gauge;
  cxProtocolError: Counter;
  rqTotal: Counter;
  rqActive: Gauge;
  rqByClass: Counter[];
  rqTimeout: Counter;
  noRoute: Counter;
  noCluster: Counter;
}

/** A per-cluster keep-alive pool whose new connections come from the cluster (LB pick, TLS per endpoint). */
class ClusterAgent extends http.Agent {
  constructor(private readonly cluster: Cluster) {
    super({ keepAlive: true, maxFreeSockets: 64, scheduling: 'lifo' });
  }

  override createConnection(
    _options: http.ClientRequestArgs,
    callback?: (err: Error | null, socket: Socket) => void,
  ): Socket {
    this.cluster.connect((r) => {
      if (r.ok) callback?.(null, r.socket);
      else
        callback?.(
          Object.assign(new Error(r.detail), { code: 'SKIFF_CONNECT_FAILED', reason: r.reason }),
          undefined as unknown as Socket,
        );
    });
    return undefined as unknown as Socket;
  }
}

export class HttpConnectionManager implements NetworkFilter {
  private readonly server: http.Server;
  private readonly index: VirtualHostIndex<RouteActionConfig>;
  private readonly stats: HcmStats;
  private readonly agents = new Map<string, ClusterAgent>();
  private readonly facts = new WeakMap<Socket, DownstreamFacts>();
  private readonly certFacts = new WeakMap<Socket, ClientCertFacts | null>();

  constructor(
    private readonly config: HttpConnectionManagerConfig,
    private readonly clusters: ClusterManager,
    store: StatsStore,
    private readonly log: Logger,
  ) {
    this.index = new VirtualHostIndex(config.virtualHosts);
    const p = `http.${config.statPrefix}.`;
    this.stats = {
      cxTotal: store.counter(`${p}downstream_cx_total`),
      cxActive: store.gauge(`${p}downstream_cx_active`),
      cxProtocolError: store.counter(`${p}downstream_cx_protocol_error`),
      rqTotal: store.counter(`${p}downstream_rq_total`),
      rqActive: store.gauge(`${p}downstream_rq_active`),
      rqByClass: [1, 2, 3, 4, 5].map((c) => store.counter(`${p}downstream_rq_${c}xx`)),
      rqTimeout: store.counter(`${p}downstream_rq_timeout`),
      noRoute: store.counter(`${p}no_route`),
      noCluster: store.counter(`${p}no_cluster`),
    };
    this.server = http.createServer({
      maxHeaderSize: config.maxRequestHeadersKb * 1024,
      requestTimeout: 0,
      headersTimeout: config.requestHeadersTimeoutMs,
      keepAliveTimeout: config.streamIdleTimeoutMs,
      insecureHTTPParser: false,
    });
    this.server.on('request', (req, res) => this.onRequest(req, res));
    this.server.on('upgrade', (req, socket: Socket, head: Buffer) => this.onUpgrade(req, socket, head));
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket: Socket) =>
      this.onClientError(err, socket),
    );
  }

  /** Takes over a downstream connection (plain or TLS). */
  handle(socket: Socket, facts: DownstreamFacts): void {
    const s = this.stats;
    s.cxTotal.inc();
    s.cxActive.inc();
    socket.once('close', () => s.cxActive.dec());
    this.facts.set(socket, facts);
    this.server.emit('connection', socket);
    socket.resume();
  }

  private onClientError(err: NodeJS.ErrnoException, socket: Socket): void {
    this.stats.cxProtocolError.inc();
    this.log.debug('HTTP protocol error', { code: err.code, source: socket.remoteAddress });
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const status =
      err.code === 'HPE_HEADER_OVERFLOW' ? 431 : err.code === 'ERR_HTTP_REQUEST_TIMEOUT' ? 408 : 400;
    const body =
      status === 431 ? 'Request Header Fields Too Large' : status === 408 ? 'request timeout' : 'Bad Request';
    socket.end(
      `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\nconnection: close\r\n\r\n${body}`,
    );
  }

  private agentFor(cluster: Cluster): ClusterAgent {
    let a = this.agents.get(cluster.config.name);
    if (!a) {
      a = new ClusterAgent(cluster);
      this.agents.set(cluster.config.name, a);
    }
    return a;
  }

  /** What XFCC needs about the client certificate of this connection (computed once per connection). */
  private clientCert(socket: Socket): ClientCertFacts | undefined {
    const cached = this.certFacts.get(socket);
    if (cached !== undefined) return cached ?? undefined;
    const facts = this.facts.get(socket);
    let out: ClientCertFacts | null = null;
    if (facts?.peer?.certificate && facts.peer.spiffeId !== undefined) {
      const der = facts.peer.certificate;
      const cert = new X509Certificate(der);
      const local = (socket as TLSSocket).getX509Certificate?.();
      const localSans = parseSubjectAltNames(local?.subjectAltName);
      out = {
        localUri: localSans.find((x) => x.type === 'URI')?.value ?? '',
        hash: createHash('sha256').update(der).digest('hex'),
        subject: rfc2253Subject(cert.subject),
        uri: facts.peer.sans.find((x) => x.type === 'URI')?.value ?? '',
        dns: facts.peer.sans.filter((x) => x.type === 'DNS').map((x) => x.value),
        certPem: cert.toString(),
        chainPem: cert.toString(),
      };
    }
    this.certFacts.set(socket, out);
    return out ?? undefined;
  }

  private localReply(res: http.ServerResponse, status: number, body: string, flag: string): void {
    this.countResponse(status);
    if (res.headersSent) {
      res.destroy();
      return;
    }
    res.writeHead(status, {
      'content-type': 'text/plain',
      'content-length': Buffer.byteLength(body),
      'x-skiff-response-flags': flag,
    });
    res.end(body);
  }

  private countResponse(status: number): void {
    this.stats.rqByClass[Math.floor(status / 100) - 1]?.inc();
  }

  private route(req: http.IncomingMessage): RouteActionConfig | undefined {
    const vhost = this.index.find(req.headers.host ?? '');
    if (!vhost) return undefined;
    const header = (name: string) => {
      const v = req.headers[name];
      return Array.isArray(v) ? v.join(',') : v;
    };
    return selectRoute(vhost, { path: req.url ?? '/', header })?.action;
  }

  private upstreamHeaders(req: http.IncomingMessage, socket: Socket): http.OutgoingHttpHeaders {
    const headers: http.OutgoingHttpHeaders = {};
    for (const [k, v] of Object.entries(req.headers)) {
      if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
    }
    const facts = this.facts.get(socket);
    const incoming = req.headers['x-forwarded-client-cert'];
    const xfcc = mutateXfcc(
      this.config.forwardClientCertDetails,
      this.config.clientCertDetails,
      Array.isArray(incoming) ? incoming.join(',') : incoming,
      this.clientCert(socket),
    );
    if (xfcc === undefined) delete headers['x-forwarded-client-cert'];
    else headers['x-forwarded-client-cert'] = xfcc;
    headers['x-forwarded-proto'] ??= facts?.tls ? 'https' : 'http';
    headers['x-request-id'] ??= randomUUID();
    return headers;
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    const s = this.stats;
    s.rqTotal.inc();
    s.rqActive.inc();
    res.once('close', () => s.rqActive.dec());
    const action = this.route(req);
    if (!action) {
      s.noRoute.inc();
      req.resume();
      this.localReply(res, 404, '', 'NR');
      return;
    }
    const cluster = this.clusters.get(action.cluster);
    if (!cluster) {
      s.noCluster.inc();
      req.resume();
      this.localReply(res, 503, 'no healthy upstream', 'NC');
      return;
    }
    const socket = req.socket;
    const upstream = http.request({
      agent: this.agentFor(cluster),
      host: cluster.config.name,
      method: req.method,
      path: req.url,
      headers: this.upstreamHeaders(req, socket),
      setHost: false,
    });
    let timer: NodeJS.Timeout | undefined;
    if (action.timeoutMs > 0) {
      timer = setTimeout(() => {
        s.rqTimeout.inc();
        upstream.destroy();
        this.localReply(res, 504, 'upstream request timeout', 'UT');
      }, action.timeoutMs);
    }
    const done = () => {
      if (timer) clearTimeout(timer);
    };
    upstream.on('response', (up) => {
      const headers: http.OutgoingHttpHeaders = {};
      for (const [k, v] of Object.entries(up.headers))
        if (!HOP_BY_HOP.has(k) && v !== undefined) headers[k] = v;
      this.countResponse(up.statusCode ?? 502);
      res.writeHead(up.statusCode ?? 502, headers);
      up.pipe(res);
      up.on('end', done);
      up.on('error', () => res.destroy());
      up.on('aborted', () => res.destroy());
    });
    upstream.on('error', (e: NodeJS.ErrnoException & { reason?: string }) => {
      done();
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e.code === 'SKIFF_CONNECT_FAILED') {
        this.localReply(
          res,
          503,
          `upstream connect error or disconnect/reset before headers. reset reason: connection failure, transport failure reason: ${e.message}`,
          'UF',
        );
      } else {
        this.localReply(
          res,
          503,
          'upstream connect error or disconnect/reset before headers. reset reason: connection termination',
          'UC',
        );
      }
    });
    res.once('close', () => {
      if (!res.writableFinished) upstream.destroy();
    });
    req.pipe(upstream);
  }

  /** `Connection: upgrade`: configured types become a raw byte relay to an endpoint; others get 403. */
  private onUpgrade(req: http.IncomingMessage, socket: Socket, head: Buffer): void {
    const type = String(req.headers.upgrade ?? '').toLowerCase();
    const action = this.route(req);
    const cluster = action ? this.clusters.get(action.cluster) : undefined;
    const refuse = (status: number, flag: string) => {
      this.countResponse(status);
      socket.end(
        `HTTP/1.1 ${status} ${http.STATUS_CODES[status]}\r\ncontent-length: 0\r\nx-skiff-response-flags: ${flag}\r\nconnection: close\r\n\r\n`,
      );
    };
    if (!this.config.upgrades.includes(type)) {
      refuse(403, '-');
      return;
    }
    if (!action) {
      refuse(404, 'NR');
      return;
    }
    if (!cluster) {
      refuse(503, 'NC');
      return;
    }
    this.stats.rqTotal.inc();
    cluster.connect((r) => {
      if (!r.ok) {
        refuse(503, 'UF');
        return;
      }
      const up = r.socket;
      const lines = [`${req.method} ${req.url} HTTP/1.1`];
      const headers = this.upstreamHeaders(req, socket);
      for (const [k, v] of Object.entries(headers))
        lines.push(`${k}: ${Array.isArray(v) ? v.join(', ') : String(v)}`);
      lines.push(`connection: upgrade`, `upgrade: ${req.headers.upgrade}`);
      up.write(`${lines.join('\r\n')}\r\n\r\n`);
      if (head.length > 0) up.write(head);
      socket.pipe(up).pipe(socket);
      const close = () => {
        socket.destroy();
        up.destroy();
      };
      socket.on('error', close);
      up.on('error', close);
      socket.on('close', close);
      up.on('close', close);
    });
  }

  /** Closes the upstream pools (the listener is gone). */
  close(): void {
    for (const a of this.agents.values()) a.destroy();
  }
}
