// A listener as Envoy runs one: accept, run the listener filters (tls_inspector, http_inspector) over peeked
// bytes, choose the filter chain (policy/filter-chain-match.ts), set up its transport socket (TLS terminated
// with Envoy's checks, or raw), and hand the connection to the chain's network filter. Everything that can be
// decided from the config is decided once, here in the constructor, not per connection.

import net from 'node:net';
import { parseIp } from '../../core/ip.js';
import type { Logger } from '../../core/log.js';
import { type ConnectionFacts, FilterChainSelector } from '../../policy/filter-chain-match.js';
import { connectionLogContext } from '../access-log/context.js';
import type { AccessLoggers, AccessLogWriters } from '../access-log/writer.js';
import type { ExtensionRegistry } from '../config/extension.js';
import type {
  FilterChainConfig,
  ListenerConfig,
  ListenerFilterConfig,
  PortPredicate,
  SocketAddress,
} from '../config/model.js';
import {
  type ClientHelloResult,
  DEFAULT_MAX_CLIENT_HELLO_SIZE,
  parseClientHello,
} from '../detect/client-hello.js';
import { type HttpInspectResult, inspectHttp, MAX_HTTP_INSPECT_SIZE } from '../detect/http-inspector.js';
import { PROXY_EXTENSIONS } from '../extensions.js';
import type { ConnectionInfo, NetworkFilter } from '../filters/network-filter.js';
import type { Counter, Gauge, StatsStore } from '../stats/index.js';
import type { ProxyTelemetry } from '../telemetry/context.js';
import { DownstreamTls, sslStats } from '../transport/downstream-tls.js';
import type { SecretStore } from '../transport/secrets.js';
import type { ClusterManager } from '../upstream/cluster.js';
import type { ConnectionLimit } from './connection-limit.js';
import { peek } from './peek.js';

/** Skiff's answer to "who still sends plaintext?" (documented in docs/proxy-config.md). */
export const PLAINTEXT_METRIC = 'skiff_permissive_plaintext_connections_total';
export const PLAINTEXT_HELP =
  'Plaintext connections accepted on a port that also terminates mutual TLS with a required client certificate (PERMISSIVE): the clients STRICT would refuse.';

/** One accepted downstream connection, as the listener knows it. */
export type { ConnectionInfo };

/** Envoy's connection ids: one count for the whole process. */
let nextConnectionId = 0;

interface ChainRuntime {
  config: FilterChainConfig;
  tls: DownstreamTls | undefined;
  /** The terminal network filter (a chain without one closes its connections, as Envoy's empty chain). */
  filter: NetworkFilter | undefined;
  /** Raw chain on a port that also has a terminating mTLS chain. */
  permissivePlaintext: boolean;
}

type ListenerFilterKind = ListenerFilterConfig['kind'];

interface ListenerStats {
  cxTotal: Counter;
  cxActive: Gauge;
  cxDestroy: Counter;
  noFilterChainMatch: Counter;
  preCxTimeout: Counter;
  preCxActive: Gauge;
  filterRemoteClose: Counter;
  filterError: Counter;
  globalCxOverflow: Counter;
}

interface InspectorStats {
  tlsFound: Counter;
  tlsNotFound: Counter;
  alpnFound: Counter;
  alpnNotFound: Counter;
  sniFound: Counter;
  sniNotFound: Counter;
  helloTooLarge: Counter;
  http10: Counter;
  http11: Counter;
  http2: Counter;
  httpNotFound: Counter;
  httpReadError: Counter;
}

export interface ListenerDeps {
  stats: StatsStore;
  clusters: ClusterManager;
  secrets: SecretStore;
  log: Logger;
  /** The proxy's Istio telemetry (made on first use by a filter with Istio's filters). */
  telemetry?: () => ProxyTelemetry;
  /** Where the terminal network filters' factories are (default: every extension Skiff has). */
  extensions?: ExtensionRegistry;
  /** The proxy-wide limit on open downstream connections (Envoy's global_downstream_max_connections). */
  connectionLimit?: ConnectionLimit;
  /** Where access logs are written (the listener's own, and its filters'). */
  accessLogs?: AccessLogWriters;
}

function predicateMatches(p: PortPredicate, port: number): boolean {
  switch (p.kind) {
    case 'any':
      return true;
    case 'or':
      return p.rules.some((r) => predicateMatches(r, port));
    case 'and':
      return p.rules.every((r) => predicateMatches(r, port));
    case 'not':
      return !predicateMatches(p.rule, port);
    case 'port-range':
      return port >= p.start && port < p.end;
  }
}

export class Listener {
  readonly connections = new Map<net.Socket, ConnectionInfo>();
  private readonly servers: net.Server[];
  private readonly limit: ConnectionLimit | undefined;
  private readonly accessLog: AccessLoggers | undefined;
  private readonly selector: FilterChainSelector<FilterChainConfig>;
  private readonly chains = new Map<FilterChainConfig, ChainRuntime>();
  private readonly stats: ListenerStats;
  private readonly inspector: InspectorStats;
  private readonly plaintext;
  /** The listener filters that run for a destination port (filter_disabled), in config order, once per port. */
  private readonly filtersByPort = new Map<number, readonly ListenerFilterKind[]>();
  private readonly log: Logger;

  constructor(
    readonly config: ListenerConfig,
    deps: ListenerDeps,
  ) {
    this.log = deps.log.child(`listener.${config.name}`);
    const store = deps.stats;
    const p = `listener.${config.statPrefix}.`;
    this.stats = {
      cxTotal: store.counter(`${p}downstream_cx_total`),
      cxActive: store.gauge(`${p}downstream_cx_active`),
      cxDestroy: store.counter(`${p}downstream_cx_destroy`),
      noFilterChainMatch: store.counter(`${p}no_filter_chain_match`),
      preCxTimeout: store.counter(`${p}downstream_pre_cx_timeout`),
      preCxActive: store.gauge(`${p}downstream_pre_cx_active`),
      filterRemoteClose: store.counter(`${p}downstream_listener_filter_remote_close`),
      filterError: store.counter(`${p}downstream_listener_filter_error`),
      globalCxOverflow: store.counter(`${p}downstream_global_cx_overflow`),
    };
    this.inspector = {
      tlsFound: store.counter('tls_inspector.tls_found'),
      tlsNotFound: store.counter('tls_inspector.tls_not_found'),
      alpnFound: store.counter('tls_inspector.alpn_found'),
      alpnNotFound: store.counter('tls_inspector.alpn_not_found'),
      sniFound: store.counter('tls_inspector.sni_found'),
      sniNotFound: store.counter('tls_inspector.sni_not_found'),
      helloTooLarge: store.counter('tls_inspector.client_hello_too_large'),
      http10: store.counter('http_inspector.http10_found'),
      http11: store.counter('http_inspector.http11_found'),
      http2: store.counter('http_inspector.http2_found'),
      httpNotFound: store.counter('http_inspector.http_not_found'),
      httpReadError: store.counter('http_inspector.read_error'),
    };
    this.plaintext = store.counterFamily(PLAINTEXT_METRIC, PLAINTEXT_HELP, [
      'listener',
      'filter_chain',
      'source_address',
    ]);
    const ssl = sslStats(store, `${p}ssl.`);
    const all = [...config.filterChains, ...(config.defaultFilterChain ? [config.defaultFilterChain] : [])];
    const mtlsPorts = new Set(
      all
        .filter((c) => c.transport.kind === 'tls' && c.transport.tls.requireClientCertificate)
        .map((c) => c.match.destinationPort ?? 0),
    );
    for (const chain of all) {
      const tlsConfig = chain.transport.kind === 'tls' ? chain.transport.tls : undefined;
      const filter = chain.filters[0];
      if (!filter) {
        this.log.warn('filter chain without a network filter: its connections are closed', {
          chain: chain.name,
        });
      }
      const http = filter?.kind === 'http_connection_manager';
      this.chains.set(chain, {
        config: chain,
        // An HTTP chain forced to HTTP/1.1 does not offer h2 in ALPN, so clients fall back to HTTP/1.1.
        tls: tlsConfig
          ? new DownstreamTls(
              http && filter.codec === 'HTTP1'
                ? { ...tlsConfig, alpn: tlsConfig.alpn.filter((p) => p !== 'h2') }
                : tlsConfig,
              deps.secrets,
              ssl,
              this.log,
            )
          : undefined,
        filter: filter
          ? (deps.extensions ?? PROXY_EXTENSIONS).networkFilter(filter.kind)?.create(filter, {
              clusters: deps.clusters,
              stats: store,
              log: this.log,
              ...(deps.telemetry ? { telemetry: deps.telemetry } : {}),
              ...(deps.accessLogs ? { accessLogs: deps.accessLogs } : {}),
            })
          : undefined,
        permissivePlaintext:
          chain.transport.kind === 'raw' &&
          chain.match.transportProtocol !== 'tls' &&
          mtlsPorts.has(chain.match.destinationPort ?? 0),
      });
    }
    this.selector = new FilterChainSelector(config.filterChains, config.defaultFilterChain);
    this.limit = deps.connectionLimit;
    this.accessLog = deps.accessLogs?.loggers(config.accessLogs);
    // One socket per address (Envoy's additional_addresses): the same chains, filters and statistics for all.
    this.servers = [config.address, ...(config.additionalAddresses ?? [])].map(() =>
      net.createServer({ allowHalfOpen: true, pauseOnConnect: true, noDelay: true }, (socket) =>
        this.onConnection(socket),
      ),
    );
  }

  /** The bound port of the listener's first address (the configured one, or the one the OS chose for 0). */
  get port(): number {
    return this.boundAddresses()[0]?.port ?? this.config.address.port;
  }

  /** Every address the listener binds, with the ports the OS chose for port 0. */
  boundAddresses(): SocketAddress[] {
    const configured = [this.config.address, ...(this.config.additionalAddresses ?? [])];
    return configured.map((c, i) => {
      const a = this.servers[i]?.address();
      return { host: c.host, port: typeof a === 'object' && a ? a.port : c.port };
    });
  }

  /** `127.0.0.1:15006,127.0.1.2:15006`: the bound addresses, for logs and the admin server. */
  get addressText(): string {
    return this.boundAddresses()
      .map((a) => `${a.host}:${a.port}`)
      .join(',');
  }

  get ready(): boolean {
    return [...this.chains.values()].every((c) => !c.tls || c.tls.ready);
  }

  /** Binds every address; when one fails, the ones already bound are closed again. */
  async listen(): Promise<void> {
    const configured = [this.config.address, ...(this.config.additionalAddresses ?? [])];
    try {
      for (const [i, server] of this.servers.entries()) {
        const { host, port } = configured[i] as SocketAddress;
        await new Promise<void>((resolve, reject) => {
          server.once('error', reject);
          server.listen({ host, port }, () => {
            server.off('error', reject);
            server.on('error', (e) => this.log.error('listener error', { error: e.message }));
            resolve();
          });
        });
      }
    } catch (e) {
      this.stopAccepting();
      throw e;
    }
  }

  /** Stops accepting at once; open connections go on (net.Server.close's callback would wait for them). */
  stopAccepting(): void {
    for (const server of this.servers) if (server.listening) server.close();
    for (const c of this.chains.values()) c.tls?.close();
  }

  /** Releases the filters' upstream pools (after the connections are gone). */
  close(): void {
    this.stopAccepting();
    for (const c of this.chains.values()) c.filter?.close?.();
  }

  /** Closes every open connection now (those still in the listener filters too). */
  destroyAll(): void {
    for (const socket of this.connections.keys()) socket.destroy();
  }

  /** The listener filters Envoy runs for a connection to `port`: config order, minus the disabled ones. */
  private filtersFor(port: number): readonly ListenerFilterKind[] {
    let f = this.filtersByPort.get(port);
    if (!f) {
      const kinds: ListenerFilterKind[] = [];
      for (const lf of this.config.listenerFilters) {
        if (lf.disabled && predicateMatches(lf.disabled, port)) continue;
        if (!kinds.includes(lf.kind)) kinds.push(lf.kind);
      }
      f = kinds;
      if (this.filtersByPort.size < 1024) this.filtersByPort.set(port, f);
    }
    return f;
  }

  private onConnection(socket: net.Socket): void {
    const s = this.stats;
    socket.on('error', () => {});
    // Envoy closes a connection over the global limit right after accept: no filter, no TLS, no access log.
    if (this.limit && !this.limit.tryAcquire()) {
      s.globalCxOverflow.inc();
      socket.destroy();
      return;
    }
    if (this.limit) {
      const limit = this.limit;
      socket.once('close', () => limit.release());
    }
    const info: ConnectionInfo = {
      id: nextConnectionId++,
      listener: this.config.name,
      filterChain: '',
      sourceAddress: socket.remoteAddress ?? '',
      sourcePort: socket.remotePort ?? 0,
      destinationAddress: socket.localAddress ?? '',
      destinationPort: socket.localPort ?? 0,
      transport: 'raw_buffer',
      serverName: undefined,
      peer: undefined,
      openedAt: Date.now(),
    };
    this.connections.set(socket, info);
    socket.once('close', () => {
      this.connections.delete(socket);
      // Envoy's listener access log: every accepted connection when it ends, and one no chain matched (NR).
      if (this.accessLog) {
        const ctx = connectionLogContext(info);
        ctx.bytesReceived = socket.bytesRead;
        ctx.bytesSent = socket.bytesWritten;
        if (info.filterChain === '' && info.noChain) {
          ctx.responseFlags = ['NR'];
          ctx.responseCodeDetails = 'filter_chain_not_found';
        }
        this.accessLog.log(ctx);
      }
    });
    const filters = this.filtersFor(info.destinationPort);
    if (filters.length === 0) {
      this.dispatch(socket, info, undefined, undefined);
      return;
    }
    let hello: ClientHelloResult | undefined;
    let http: HttpInspectResult | undefined;
    // Envoy runs the listener filters one after the other, in config order, each until it is done.
    let step = 0;
    const decide = (bytes: Buffer): boolean => {
      for (; step < filters.length; step++) {
        if (filters[step] === 'tls_inspector') {
          hello = parseClientHello(bytes, DEFAULT_MAX_CLIENT_HELLO_SIZE);
          if (hello.kind === 'need-more') return false;
          if (hello.kind === 'too-large') return true;
        } else if (hello?.kind !== 'tls') {
          // http_inspector skips a connection tls_inspector found to be TLS.
          http = inspectHttp(bytes);
          // Envoy's http_inspector gives up (read_error, close) when the first line is not over in 64 KiB.
          if (http.kind === 'need-more') return bytes.length >= MAX_HTTP_INSPECT_SIZE;
        }
      }
      return true;
    };
    s.preCxActive.inc();
    void peek(socket, decide, this.config.listenerFiltersTimeoutMs).then(({ end }) => {
      s.preCxActive.dec();
      if (end === 'closed' || end === 'error') {
        // Envoy's ListenerFilterBufferImpl: a read error (a reset) counts downstream_listener_filter_error, the
        // peer's FIN downstream_listener_filter_remote_close. A close with neither is ours (destroyAll while
        // the connection was being inspected), not the peer's.
        if (end === 'error') s.filterError.inc();
        else if (socket.readableEnded) s.filterRemoteClose.inc();
        socket.destroy();
        return;
      }
      if (end === 'timeout') {
        s.preCxTimeout.inc();
        if (!this.config.continueOnListenerFiltersTimeout) {
          socket.destroy();
          return;
        }
      }
      if (hello?.kind === 'too-large') {
        this.inspector.helloTooLarge.inc();
        socket.destroy();
        return;
      }
      if (end === 'decided' && http?.kind === 'need-more') {
        this.inspector.httpReadError.inc();
        socket.destroy();
        return;
      }
      this.countInspection(hello, http);
      this.dispatch(
        socket,
        info,
        hello?.kind === 'tls' ? hello : undefined,
        http?.kind === 'http' ? http.protocol : undefined,
      );
    });
  }

  private countInspection(hello: ClientHelloResult | undefined, http: HttpInspectResult | undefined): void {
    const i = this.inspector;
    if (hello?.kind === 'tls') {
      i.tlsFound.inc();
      (hello.alpn.length > 0 ? i.alpnFound : i.alpnNotFound).inc();
      (hello.serverName ? i.sniFound : i.sniNotFound).inc();
    } else if (hello?.kind === 'not-tls') i.tlsNotFound.inc();
    if (http?.kind === 'http') {
      (http.protocol === 'h2c' ? i.http2 : http.protocol === 'http/1.0' ? i.http10 : i.http11).inc();
    } else if (http?.kind === 'not-http') i.httpNotFound.inc();
  }

  private dispatch(
    socket: net.Socket,
    info: ConnectionInfo,
    hello: Extract<ClientHelloResult, { kind: 'tls' }> | undefined,
    httpProtocol: string | undefined,
  ): void {
    const local = parseIp(socket.localAddress ?? '') ?? new Uint8Array(4);
    const remote = parseIp(info.sourceAddress) ?? new Uint8Array(4);
    const facts: ConnectionFacts = {
      destinationPort: info.destinationPort,
      destinationIp: local,
      serverName: hello?.serverName,
      transportProtocol: hello ? 'tls' : 'raw_buffer',
      applicationProtocols: hello ? hello.alpn : httpProtocol ? [httpProtocol] : [],
      sourceIp: remote,
      directSourceIp: remote,
      sourcePort: info.sourcePort,
    };
    info.serverName = hello?.serverName;
    const chain = this.selector.select(facts);
    const runtime = chain ? this.chains.get(chain) : undefined;
    if (!runtime) {
      info.noChain = true;
      this.stats.noFilterChainMatch.inc();
      this.log.debug('no filter chain match', {
        source: `${info.sourceAddress}:${info.sourcePort}`,
        destinationPort: info.destinationPort,
        transport: facts.transportProtocol,
        alpn: facts.applicationProtocols,
      });
      socket.destroy();
      return;
    }
    info.filterChain = runtime.config.name;
    // Envoy counts a downstream connection (ActiveTcpConnection) once it has a filter chain: connections
    // closed by the listener filters or without a matching chain are not in downstream_cx_*.
    const s = this.stats;
    s.cxTotal.inc();
    s.cxActive.inc();
    const destroyed = () => {
      s.cxActive.dec();
      s.cxDestroy.inc();
    };
    if (socket.closed) destroyed();
    else socket.once('close', destroyed);
    if (runtime.permissivePlaintext && facts.transportProtocol === 'raw_buffer') {
      this.plaintext.get([this.config.name, runtime.config.name, info.sourceAddress]).inc();
    }
    const filter = runtime.filter;
    if (!filter) {
      this.log.debug('closing connection: no network filters', { chain: runtime.config.name });
      socket.destroy();
      return;
    }
    if (!runtime.tls) {
      filter.handle(socket, { peer: undefined, tls: false, connection: info });
      return;
    }
    info.transport = 'tls';
    runtime.tls.accept(socket, hello?.alpn ?? [], runtime.config.handshakeTimeoutMs, (outcome) => {
      if (!outcome.ok) {
        this.log.debug('TLS handshake refused', {
          source: `${info.sourceAddress}:${info.sourcePort}`,
          chain: runtime.config.name,
          reason: outcome.detail,
        });
        return;
      }
      info.peer = outcome.peer;
      this.log.debug('mTLS connection', {
        source: info.sourceAddress,
        peer: outcome.peer.spiffeId,
        chain: runtime.config.name,
      });
      filter.handle(outcome.socket, { peer: outcome.peer, tls: true, connection: info });
    });
  }
}
