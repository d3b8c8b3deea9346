// The admin server, on Envoy's paths and in Envoy's formats: /stats (text, ?format=json, ?filter=, ?usedonly),
// /stats/prometheus, /config_dump, /ready, /server_info, /listeners, /clusters, POST /quitquitquit, plus
// /skiff/connections (open downstream connections with their transport and peer identity).

import http from 'node:http';
import type { Logger } from '../../core/log.js';
import type { Json, JsonObject } from '../../xds/decode.js';
import type { ProxyConfig } from '../config/model.js';
import type { ConnectionInfo, Listener } from '../listener/listener.js';
import { renderPrometheus, renderStatsJson, renderStatsText, type StatsStore } from '../stats/index.js';
import type { ClusterManager } from '../upstream/cluster.js';

export type ServerState = 'PRE_INITIALIZING' | 'LIVE' | 'DRAINING';

export interface AdminContext {
  config: ProxyConfig;
  stats: StatsStore;
  listeners: () => readonly Listener[];
  clusters: ClusterManager;
  state: () => ServerState;
  startedAt: number;
  version: string;
  quit: () => void;
  log: Logger;
}

const TYPE_PREFIX = 'type.googleapis.com/';

/** The /help text (also after "invalid path. " on a 404, as Envoy). */
const HELP = [
  'admin commands are:',
  '  /clusters: upstream cluster status',
  '  /config_dump: dump current Envoy configs',
  '  /listeners: print listener info',
  '  /quitquitquit (POST): drain and exit the server',
  '  /ready: print server state, return 200 if LIVE, otherwise return 503',
  '  /server_info: print server version/status information',
  '  /skiff/connections: open downstream connections with transport and peer identity',
  '  /stats: print server stats (?format=json, ?filter=REGEX, ?usedonly)',
  '  /stats/prometheus: print server stats in prometheus format',
  '',
].join('\n');

const REDACTED = '[redacted]';

/** A private key's DataSource: inline material becomes "[redacted]" (bytes: the base64 of it, as Envoy's JSON
 * shows redacted bytes); a file name or an environment variable's name is shown, it is not the key. */
function redactKey(source: JsonObject): JsonObject {
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(source)) {
    if (k === 'inline_string') out[k] = REDACTED;
    else if (k === 'inline_bytes') out[k] = Buffer.from(REDACTED).toString('base64');
    else out[k] = v;
  }
  return out;
}

/** Envoy shows sensitive fields (private keys) as "[redacted]" when given inline. */
function redact(value: Json): Json {
  if (Array.isArray(value)) return value.map(redact);
  if (typeof value !== 'object' || value === null) return value;
  const out: JsonObject = {};
  for (const [k, v] of Object.entries(value)) {
    if (k === 'private_key' && typeof v === 'object' && v !== null && !Array.isArray(v)) {
      out[k] = redactKey(v);
    } else out[k] = redact(v);
  }
  return out;
}

/** The /config_dump document: bootstrap, then clusters, listeners and secrets, as Envoy orders them. */
export function configDump(config: ProxyConfig, lastUpdated: string): JsonObject {
  const sr = (config.bootstrap.static_resources ?? {}) as JsonObject;
  const list = (v: Json | undefined): JsonObject[] => (Array.isArray(v) ? (v as JsonObject[]) : []);
  return {
    configs: [
      {
        '@type': `${TYPE_PREFIX}envoy.admin.v3.BootstrapConfigDump`,
        bootstrap: redact(config.bootstrap),
        last_updated: lastUpdated,
      },
      {
        '@type': `${TYPE_PREFIX}envoy.admin.v3.ClustersConfigDump`,
        static_clusters: list(sr.clusters).map((c) => ({
          // A cluster's UpstreamTlsContext may hold an inline client key too.
          cluster: { '@type': `${TYPE_PREFIX}envoy.config.cluster.v3.Cluster`, ...(redact(c) as JsonObject) },
          last_updated: lastUpdated,
        })),
      },
      {
        '@type': `${TYPE_PREFIX}envoy.admin.v3.ListenersConfigDump`,
        static_listeners: list(sr.listeners).map((l) => ({
          listener: {
            '@type': `${TYPE_PREFIX}envoy.config.listener.v3.Listener`,
            ...(redact(l) as JsonObject),
          },
          last_updated: lastUpdated,
        })),
      },
      {
        '@type': `${TYPE_PREFIX}envoy.admin.v3.SecretsConfigDump`,
        static_secrets: list(sr.secrets).map((s) => ({
          name: typeof s.name === 'string' ? s.name : '',
          last_updated: lastUpdated,
          secret: {
            '@type': `${TYPE_PREFIX}envoy.extensions.transport_sockets.tls.v3.Secret`,
            ...(redact(s) as JsonObject),
          },
        })),
      },
    ],
  };
}

function formatUptime(ms: number): string {
  return `${Math.floor(ms / 1000)}s`;
}

function connectionJson(c: ConnectionInfo): JsonObject {
  return {
    listener: c.listener,
    filter_chain: c.filterChain,
    source: `${c.sourceAddress}:${c.sourcePort}`,
    destination_port: c.destinationPort,
    transport: c.transport,
    peer_principal: c.peer?.spiffeId ?? null,
    alpn: c.peer?.alpn ?? null,
    tls_version: c.peer?.version ?? null,
    opened_at: new Date(c.openedAt).toISOString(),
  };
}

export class AdminServer {
  private readonly server: http.Server;
  private readonly configLoadedAt = new Date().toISOString();

  constructor(private readonly ctx: AdminContext) {
    this.server = http.createServer((req, res) => {
      try {
        this.handle(req, res);
      } catch (e) {
        ctx.log.error('admin request failed', { path: req.url, error: (e as Error).message });
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'text/plain' });
        res.end('internal error\n');
      }
    });
    this.server.keepAliveTimeout = 5_000;
  }

  listen(host: string, port: number): Promise<number> {
    return new Promise((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen({ host, port }, () => {
        this.server.off('error', reject);
        const a = this.server.address();
        resolve(typeof a === 'object' && a ? a.port : port);
      });
    });
  }

  close(): Promise<void> {
    return new Promise((resolve) => {
      this.server.close(() => resolve());
      this.server.closeAllConnections();
    });
  }

  private handle(req: http.IncomingMessage, res: http.ServerResponse): void {
    const url = new URL(req.url ?? '/', 'http://admin');
    const send = (status: number, body: string, type = 'text/plain; charset=UTF-8') => {
      res.writeHead(status, { 'content-type': type, 'cache-control': 'no-cache, max-age=0' });
      res.end(body);
    };
    const json = (value: unknown) => send(200, `${JSON.stringify(value, null, 2)}\n`, 'application/json');
    const ctx = this.ctx;
    switch (url.pathname) {
      case '/stats': {
        const filterText = url.searchParams.get('filter');
        let filter: RegExp | undefined;
        if (filterText !== null) {
          try {
            filter = new RegExp(filterText);
          } catch (e) {
            send(400, `Invalid re2 regex: ${(e as Error).message}\n`);
            return;
          }
        }
        const usedOnly = url.searchParams.has('usedonly');
        if (url.searchParams.get('format') === 'json') {
          send(
            200,
            renderStatsJson(ctx.stats, { ...(filter ? { filter } : {}), usedOnly }),
            'application/json',
          );
        } else if (url.searchParams.get('format') === 'prometheus') {
          send(200, renderPrometheus(ctx.stats), 'text/plain; version=0.0.4');
        } else send(200, renderStatsText(ctx.stats, { ...(filter ? { filter } : {}), usedOnly }));
        return;
      }
      case '/stats/prometheus':
        send(200, renderPrometheus(ctx.stats), 'text/plain; version=0.0.4');
        return;
      case '/config_dump':
        json(configDump(ctx.config, this.configLoadedAt));
        return;
      case '/ready': {
        const state = ctx.state();
        send(state === 'LIVE' ? 200 : 503, `${state}\n`);
        return;
      }
      case '/server_info':
        json({
          version: ctx.version,
          state: ctx.state(),
          uptime_current_epoch: formatUptime(Date.now() - ctx.startedAt),
          uptime_all_epochs: formatUptime(Date.now() - ctx.startedAt),
          node: ctx.config.bootstrap.node ?? {},
        });
        return;
      case '/listeners':
        if (url.searchParams.get('format') === 'json') {
          json({
            listener_statuses: ctx.listeners().map((l) => {
              const [first, ...more] = l.boundAddresses().map((a) => ({
                socket_address: { address: a.host, port_value: a.port },
              }));
              return {
                name: l.config.name,
                local_address: first,
                ...(more.length > 0 ? { additional_local_addresses: more } : {}),
              };
            }),
          });
        } else
          send(
            200,
            ctx
              .listeners()
              .map((l) => `${l.config.name}::${l.addressText}\n`)
              .join(''),
          );
        return;
      case '/clusters': {
        const lines: string[] = [];
        for (const c of ctx.clusters.all()) {
          for (const e of c.config.endpoints) {
            const host = `${c.config.name}::${e.address.host}:${e.address.port}`;
            lines.push(`${host}::health_flags::${e.healthy ? 'healthy' : '/failed_eds_health'}`);
          }
        }
        send(200, lines.map((l) => `${l}\n`).join(''));
        return;
      }
      case '/skiff/connections':
        json(ctx.listeners().flatMap((l) => [...l.connections.values()].map(connectionJson)));
        return;
      case '/quitquitquit':
        if (req.method !== 'POST') {
          send(405, `Method ${req.method ?? ''} not allowed, POST required.\n`);
          return;
        }
        send(200, 'OK\n');
        ctx.quit();
        return;
      case '/':
      case '/help':
        send(200, HELP);
        return;
      default:
        // Envoy: "invalid path. " followed by the help text.
        send(404, `invalid path. ${HELP}`);
    }
  }
}
