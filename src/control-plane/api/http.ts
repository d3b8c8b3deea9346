// The control plane's HTTP port (istiod's 15014), on loopback only: it authenticates no one and shows every
// proxy's configuration. `/ready`, `/metrics` (Prometheus), and the debug API (debug.ts), each JSON.
// A handler that throws answers 500 with the message; nothing a client sends stops the server.

import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isLoopback, parseIp } from '../../core/ip.js';
import { type Logger, silentLogger } from '../../core/log.js';
import { badRequest, type DebugResult } from './debug.js';

/** What the HTTP port serves; the control plane implements it (server.ts), tests may fake it. */
export interface ApiHandlers {
  /** True once the first configuration is served. */
  ready(): boolean;
  metrics(): Promise<{ contentType: string; body: string }>;
  syncz(): DebugResult | Promise<DebugResult>;
  configDump(proxyId: string): DebugResult | Promise<DebugResult>;
  registryz(): DebugResult | Promise<DebugResult>;
  authenticationz(proxyId: string): DebugResult | Promise<DebugResult>;
}

/** The debug endpoints, for `/debug` and for the docs. */
export const DEBUG_ENDPOINTS: Readonly<Record<string, string>> = {
  '/debug/syncz':
    'each connected proxy: identity, address, per type the last sent, ACKed and NACKed version and nonce, pushes, outbound listener addresses',
  '/debug/config_dump?proxyID=': "what that proxy was sent, in Envoy's config-dump shape",
  '/debug/registryz': 'services, ports, protocols, endpoints with their tlsMode; workloads',
  '/debug/authenticationz?proxyID=':
    'the merged PeerAuthentication per port of that proxy, and which policy decided',
};

/** Parses `host:port` for the HTTP port: an IP literal in 127.0.0.0/8 or ::1 only. Throws naming the value. */
export function parseLoopbackAddress(option: string, address: string): { host: string; port: number } {
  const m = /^(?:\[([^\]]+)\]|([^:[\]]+)):([0-9]{1,5})$/.exec(address);
  const port = m ? Number(m[3]) : Number.NaN;
  if (!m || port > 65535) {
    throw new Error(
      `${option}: invalid address ${JSON.stringify(address)}: expected HOST:PORT, such as 127.0.0.1:15014 (port 0 picks a free one)`,
    );
  }
  const host = m[1] ?? m[2] ?? '';
  const ip = parseIp(host);
  if (!ip || !isLoopback(ip)) {
    throw new Error(
      `${option}: ${JSON.stringify(address)} is not a loopback address: the HTTP port (metrics, debug API) authenticates no one, so it is served on 127.0.0.1 or [::1] only`,
    );
  }
  return { host, port };
}

export interface ApiServer {
  /** `host:port` bound (`[::1]:port` for IPv6). */
  readonly address: string;
  close(): Promise<void>;
}

export async function startApiServer(
  address: string,
  handlers: ApiHandlers,
  logger: Logger = silentLogger,
): Promise<ApiServer> {
  const { host, port } = parseLoopbackAddress('--http', address);
  const server = http.createServer((req, res) => {
    void respond(handlers, req, res).catch((e: unknown) => {
      const message = (e as Error)?.message ?? String(e);
      logger.error('HTTP handler failed', { path: req.url, error: message });
      send(res, 500, { error: `internal error: ${message}` });
    });
  });
  server.keepAliveTimeout = 5000;
  server.headersTimeout = 10_000;
  server.requestTimeout = 30_000;
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  server.on('error', (e) => logger.error('HTTP server error', { error: e.message }));
  const bound = (server.address() as AddressInfo).port;
  const shown = host.includes(':') ? `[${host}]:${bound}` : `${host}:${bound}`;
  return {
    address: shown,
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

async function respond(handlers: ApiHandlers, req: http.IncomingMessage, res: http.ServerResponse) {
  let url: URL;
  try {
    url = new URL(req.url ?? '/', 'http://localhost');
  } catch {
    return send(res, 400, { error: `invalid request target ${JSON.stringify(req.url)}` });
  }
  if (req.method !== 'GET' && req.method !== 'HEAD') {
    res.setHeader('allow', 'GET, HEAD');
    return send(res, 405, { error: `method ${req.method} not allowed: the API is read-only (GET)` });
  }
  const proxyId = () => url.searchParams.get('proxyID') ?? '';
  const withProxy = async (fn: (id: string) => DebugResult | Promise<DebugResult>) => {
    const id = proxyId();
    if (id === '')
      return badRequest(`${url.pathname}: the query parameter proxyID is required, e.g. ?proxyID=b-0.shop`);
    return fn(id);
  };
  let result: DebugResult;
  switch (url.pathname) {
    case '/ready':
      return handlers.ready()
        ? sendText(res, 200, 'ready\n')
        : sendText(res, 503, 'not ready: the first configuration is not served yet\n');
    case '/metrics':
    case '/stats/prometheus': {
      const m = await handlers.metrics();
      res.writeHead(200, { 'content-type': m.contentType });
      res.end(req.method === 'HEAD' ? undefined : m.body);
      return;
    }
    case '/debug':
    case '/debug/':
      result = { status: 200, body: { endpoints: DEBUG_ENDPOINTS } };
      break;
    case '/debug/syncz':
      result = await handlers.syncz();
      break;
    case '/debug/config_dump':
      result = await withProxy((id) => handlers.configDump(id));
      break;
    case '/debug/registryz':
      result = await handlers.registryz();
      break;
    case '/debug/authenticationz':
      result = await withProxy((id) => handlers.authenticationz(id));
      break;
    default:
      result = {
        status: 404,
        body: {
          error: `${url.pathname}: not found; try /ready, /metrics, ${Object.keys(DEBUG_ENDPOINTS).join(', ')}`,
        },
      };
  }
  send(res, result.status, result.body);
}

function send(res: http.ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) {
    res.destroy();
    return;
  }
  const text = `${JSON.stringify(body, null, 2)}\n`;
  res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store' });
  res.end(text);
}

function sendText(res: http.ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'content-type': 'text/plain; charset=utf-8' });
  res.end(text);
}
