// `skiff control-plane` as a library: the model store over the config (and registry) folders, a generation
// context per accepted model, the ADS server (plaintext on loopback; with --xds, the TLS port of
// src/xds/server/secure.ts), and the HTTP port (/ready, /metrics, the debug API).
// - The configuration is loaded before anything listens: a folder with errors rejects `startControlPlane`
//   with every error as `file:line`, and nothing is bound.
// - Each accepted model gets a GenerationContext made from the previous one (its per-service cache), pushed to
//   the ADS server, which sends each proxy only the types that changed for it.
// - The outbound port allocator's allocations are kept in `<state>/outbound-ports.json`, so that restarts give
//   each proxy the same outbound listener ports (apps were given them in their environment).
// Istio: pilot/pkg/bootstrap/server.go (istiod's ports: 15010 plaintext gRPC, 15012 TLS, 15014 HTTP).

import { mkdirSync, readFileSync, realpathSync, renameSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { loadCa } from '../ca/store.js';
import { type Logger, silentLogger } from '../core/log.js';
import type { MeshModel } from '../model/types.js';
import type { JsonObject } from '../xds/decode.js';
import { GenerationContext, type OutboundPorts } from '../xds/generate/context.js';
import { DEFAULT_OUTBOUND_RANGE, OutboundPortAllocator } from '../xds/generate/outbound-ports.js';
import type { ProxyNode } from '../xds/generate/proxy.js';
import { envoyRoot } from '../xds/protos.js';
import { anyToJson } from '../xds/server/codec.js';
import type { TypeStatus } from '../xds/server/protocol.js';
import { ProxyResources, ResourceEncoder } from '../xds/server/resources.js';
import { startSecureXds } from '../xds/server/secure.js';
import { AdsServer, type Authorizer } from '../xds/server/server.js';
import {
  authenticationz,
  type ConnectedProxy,
  configDump,
  type DebugResult,
  findProxy,
  notFound,
  registryz,
  syncz,
  unknownProxy,
  workloadFor,
} from './api/debug.js';
import { type ApiServer, startApiServer } from './api/http.js';
import { ControlPlaneMetrics } from './api/metrics.js';
import { FolderSource } from './sources/folder.js';
import type { ConfigSource } from './sources/source.js';
import { ModelStore } from './store.js';

export const STATE_FILE = 'outbound-ports.json';

export interface ControlPlaneOptions {
  /** The user's configuration folder (Istio YAML, Kubernetes Services, MeshConfig). */
  configDir: string;
  /** The runtime's registry folder (WorkloadEntries written by `skiff up`); may not exist yet. */
  registryDir?: string;
  /**
   * Where `outbound-ports.json` is kept; default the registry folder's parent (the runtime's state folder).
   * Without either, allocations live in memory only.
   */
  stateDir?: string;
  /** Plaintext ADS, loopback only (istiod's 15010); `127.0.0.1:0` picks a free port. */
  xdsPlaintext: string;
  /** HTTP: /ready, /metrics, /debug/* (istiod's 15014), loopback only. */
  http: string;
  /**
   * ADS and Istio's certificate service over TLS (istiod's 15012), with authentication and Istio's identity
   * check; needs `caDir`. Absent: no TLS port.
   */
  xds?: string;
  /** The mesh CA's folder (`skiff ca init`): the TLS port's certificate, the tokens it accepts, the CSRs it signs. */
  caDir?: string;
  logger?: Logger;
  /**
   * Decides whether a stream may connect (the TLS port's authentication, when it lands); the plaintext port
   * has none. Called for every stream of the one ADS server, before its node is recorded for the debug API.
   */
  authorize?: Authorizer;
  /** The store's debounce (istiod's PILOT_DEBOUNCE_AFTER); default 100 ms. */
  debounceMs?: number;
  version?: string;
}

/** Every address the control plane listens on, by role. */
export interface ControlPlaneAddresses {
  xdsPlaintext: string;
  http: string;
  /** The TLS port, when it is served. */
  xds?: string;
}

/**
 * The outbound port allocator, with its allocations saved to a file (atomically, shortly after one is made)
 * when a state folder is given. A bad or unreadable file is logged and ignored: ports are allocated afresh.
 */
export class PersistentOutboundPorts implements OutboundPorts {
  private readonly allocator: OutboundPortAllocator;
  private readonly known = new Set<string>();
  private timer: NodeJS.Timeout | undefined;

  constructor(
    readonly file: string | undefined,
    private readonly log: Logger = silentLogger,
  ) {
    let saved: Record<string, number> = {};
    if (file) {
      try {
        const parsed = JSON.parse(readFileSync(file, 'utf8')) as unknown;
        const allocations = (parsed as { allocations?: unknown } | null)?.allocations;
        if (typeof allocations !== 'object' || allocations === null || Array.isArray(allocations)) {
          throw new Error('expected {"allocations": {"<proxy> <host>:<port>": <port>, …}}');
        }
        saved = allocations as Record<string, number>;
      } catch (e) {
        if ((e as NodeJS.ErrnoException).code !== 'ENOENT')
          log.warn('outbound port state ignored: ports are allocated afresh', {
            file,
            error: (e as Error).message,
          });
      }
    }
    this.allocator = new OutboundPortAllocator(DEFAULT_OUTBOUND_RANGE, saved);
    for (const key of Object.keys(this.allocator.snapshot())) this.known.add(key);
  }

  portFor(proxyId: string, host: string, port: number): number {
    const result = this.allocator.portFor(proxyId, host, port);
    const key = `${proxyId} ${host}:${port}`;
    if (!this.known.has(key)) {
      this.known.add(key);
      this.scheduleSave();
    }
    return result;
  }

  snapshot(): Record<string, number> {
    return this.allocator.snapshot();
  }

  /** Writes the allocations now (if there is a file and something is waiting to be written). */
  flush(): void {
    if (!this.timer) return;
    clearTimeout(this.timer);
    this.timer = undefined;
    this.save();
  }

  private scheduleSave(): void {
    if (!this.file || this.timer) return;
    this.timer = setTimeout(() => {
      this.timer = undefined;
      this.save();
    }, 200);
    this.timer.unref();
  }

  private save(): void {
    if (!this.file) return;
    try {
      mkdirSync(path.dirname(this.file), { recursive: true });
      const temp = `${this.file}.${process.pid}.tmp`;
      const range = this.allocator.range;
      writeFileSync(
        temp,
        `${JSON.stringify({ range: { first: range.first, last: range.last }, allocations: this.snapshot() }, null, 2)}\n`,
      );
      renameSync(temp, this.file);
    } catch (e) {
      this.log.error('cannot save the outbound port allocations', {
        file: this.file,
        error: (e as Error).message,
      });
    }
  }
}

/** Where the state file goes: `stateDir`, else the registry's parent; refused inside a watched folder. */
export function stateFile(
  o: Pick<ControlPlaneOptions, 'configDir' | 'registryDir' | 'stateDir'>,
): string | undefined {
  const dir = o.stateDir ?? (o.registryDir ? path.dirname(path.resolve(o.registryDir)) : undefined);
  if (dir === undefined) return undefined;
  const real = (p: string) => {
    try {
      return realpathSync(p);
    } catch {
      return path.resolve(p);
    }
  };
  const at = real(dir);
  for (const [flag, watched] of [
    ['--config', o.configDir],
    ['--registry', o.registryDir],
  ] as const) {
    if (watched === undefined) continue;
    const w = real(watched);
    if (at === w || at.startsWith(`${w}${path.sep}`)) {
      throw new Error(
        `the outbound port state would be written to ${JSON.stringify(dir)}, inside the ${flag} folder ${JSON.stringify(watched)} (read as configuration): give --state DIR elsewhere`,
      );
    }
  }
  return path.join(dir, STATE_FILE);
}

/** A source whose change events are timed: the first event of a burst starts the convergence clock. */
class TimedSource implements ConfigSource {
  constructor(
    private readonly inner: ConfigSource,
    private readonly onEvent: () => void,
  ) {}
  get name(): string {
    return this.inner.name;
  }
  read() {
    return this.inner.read();
  }
  watch(onChange: () => void): () => void {
    return this.inner.watch(() => {
      this.onEvent();
      onChange();
    });
  }
}

interface RecordedNode {
  node: ProxyNode;
  at: number;
}

export class ControlPlane {
  private closed = false;
  /** The TLS xDS port, when served. */
  private secure: { address: string; close(): Promise<void> } | undefined;
  private readonly encoder: ResourceEncoder;
  private firstEventAt: number | undefined;
  private pushing: Promise<void> = Promise.resolve();

  private constructor(
    readonly store: ModelStore,
    readonly ads: AdsServer,
    readonly metrics: ControlPlaneMetrics,
    readonly ports: PersistentOutboundPorts,
    private ctx: GenerationContext,
    readonly addresses: ControlPlaneAddresses,
    private api: ApiServer | undefined,
    /** The node each stream announced, by node id and peer (ConnectionStatus does not carry the metadata). */
    private readonly nodes: Map<string, RecordedNode>,
  ) {
    this.encoder = new ResourceEncoder(envoyRoot());
  }

  /**
   * Loads the configuration (rejecting with its errors before anything listens), then serves ADS and HTTP.
   * Everything started is stopped again if a later step fails (a port in use, …).
   */
  static async start(o: ControlPlaneOptions): Promise<ControlPlane> {
    const log = o.logger ?? silentLogger;
    const file = stateFile(o);
    const metrics = new ControlPlaneMetrics(o.version ?? '0.1.0');
    let plane: ControlPlane | undefined;
    const noteEvent = () => plane?.noteEvent();
    const sources: ConfigSource[] = [
      new TimedSource(new FolderSource(o.configDir, { name: `config:${o.configDir}` }), noteEvent),
    ];
    if (o.registryDir)
      sources.push(
        new TimedSource(new FolderSource(o.registryDir, { name: `registry:${o.registryDir}` }), noteEvent),
      );
    const store = new ModelStore({
      sources,
      logger: log.child('config'),
      ...(o.debounceMs !== undefined ? { debounceMs: o.debounceMs } : {}),
    });
    const model = await store.start();
    const ports = new PersistentOutboundPorts(file, log);
    const ctx = new GenerationContext(model, ports);
    const nodes = new Map<string, RecordedNode>();
    const ads = new AdsServer({
      context: ctx,
      logger: log.child('ads'),
      onEvent: (e) => metrics.adsEvent(e),
      authorize: async (call, node) => {
        const refusal = o.authorize ? await o.authorize(call, node) : undefined;
        if (refusal) return refusal;
        nodes.set(nodeKey(node.id, call.getPeer()), { node, at: Date.now() });
        // Streams that come and go without anyone reading the API: forget the gone ones now and then.
        if (nodes.size > 256 && nodes.size % 256 === 0) plane?.connected();
        return undefined;
      },
    });
    let api: ApiServer | undefined;
    let secure: { address: string; close(): Promise<void> } | undefined;
    try {
      if (o.xds !== undefined) {
        if (o.caDir === undefined) throw new Error('the TLS xDS port needs the mesh CA: give --ca-dir');
        const ca = await loadCa(o.caDir);
        secure = await startSecureXds({
          address: o.xds,
          ads,
          ca,
          model: () => store.model,
          logger: log.child('xds-tls'),
          registry: metrics.registry,
        });
      }
      const xds = await ads.listen(o.xdsPlaintext);
      plane = new ControlPlane(
        store,
        ads,
        metrics,
        ports,
        ctx,
        { xdsPlaintext: xds.address, http: '', ...(secure ? { xds: secure.address } : {}) },
        undefined,
        nodes,
      );
      plane.secure = secure;
      const created = plane;
      api = await startApiServer(o.http, created.handlers(), log.child('http'));
      created.api = api;
      created.addresses.http = api.address;
    } catch (e) {
      store.close();
      await secure?.close();
      await ads.close();
      await api?.close();
      throw e;
    }
    const created = plane;
    metrics.observe({
      proxyVersions: () => created.connected().map((p) => p.node?.istioVersion ?? ''),
      services: () => created.ctx.services().length,
      config: () => ({ accepted: store.accepted, rejected: store.rejected }),
    });
    store.subscribe((next, change) => {
      metrics.modelChanged(change);
      created.apply(next);
    });
    if (file) log.info('outbound port allocations kept in', { file });
    else log.info('outbound port allocations are kept in memory only (no --registry or --state)');
    return created;
  }

  /** The generation context being served. */
  get context(): GenerationContext {
    return this.ctx;
  }

  /** Resolves once every push queued so far was sent (tests, the benchmark). */
  async settled(): Promise<void> {
    await this.pushing;
    await this.ads.settled();
  }

  /** Stops watching, ends every stream, closes the ports, saves the port allocations. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.store.close();
    // The TLS port first: it ends its streams before the ADS server closes the rest.
    await this.secure?.close();
    await Promise.all([this.ads.close(), this.api?.close()]);
    this.ports.flush();
  }

  /** The connected proxies, with the nodes they announced. */
  connected(): ConnectedProxy[] {
    const statuses = this.ads.status();
    const live = new Set(statuses.map((s) => nodeKey(s.nodeId, s.peer)));
    const now = Date.now();
    // A node recorded in the last few seconds may be a stream still being connected: kept.
    for (const [key, r] of this.nodes) if (!live.has(key) && now - r.at > 10_000) this.nodes.delete(key);
    return statuses.map((status) => ({
      status,
      node: this.nodes.get(nodeKey(status.nodeId, status.peer))?.node,
    }));
  }

  private noteEvent(): void {
    this.firstEventAt ??= Date.now();
  }

  private apply(model: MeshModel): void {
    if (this.closed) return;
    const since = this.firstEventAt ?? Date.now();
    this.firstEventAt = undefined;
    this.ctx = new GenerationContext(model, this.ports, this.ctx);
    // The first connection is pushed within push(): start timing before.
    this.metrics.pushStarting();
    this.ads.push(this.ctx);
    const version = this.ads.currentVersion;
    this.pushing = this.ads.settled().then(() => this.metrics.pushSettled(version, since));
  }

  private handlers() {
    const trustDomain = () => this.ctx.model.meshConfig.trustDomain;
    return {
      ready: () => !this.closed && this.store.model !== undefined,
      metrics: () => this.metrics.text(),
      syncz: (): DebugResult => ({
        status: 200,
        body: syncz(this.connected(), {
          version: this.ads.currentVersion,
          trustDomain: trustDomain(),
        }),
      }),
      configDump: async (id: string): Promise<DebugResult> => {
        await this.settled();
        const proxies = this.connected();
        const p = findProxy(proxies, id);
        if (!p) return unknownProxy(id, proxies);
        if (!p.node) return notFound(`proxyID ${JSON.stringify(id)}: its node was not recorded`);
        const source = new ProxyResources(p.status.version, this.ctx, p.node, this.encoder, () => {});
        const root = envoyRoot();
        const dump = configDump(p.status, (t: TypeStatus) =>
          source
            .resources(
              t.typeUrl,
              t.wildcard ? { wildcard: true } : { wildcard: false, names: new Set(t.names) },
            )
            .map((r) => anyToJson(root, r.body) as JsonObject),
        );
        return { status: 200, body: dump };
      },
      registryz: (): DebugResult => ({ status: 200, body: registryz(this.ctx.model, this.ctx) }),
      authenticationz: (id: string): DebugResult => {
        const proxies = this.connected();
        const p = findProxy(proxies, id);
        const workload = workloadFor(this.ctx, id, p);
        if (!workload) {
          return notFound(
            p
              ? `proxyID ${JSON.stringify(id)}: the proxy is connected but no WorkloadEntry is at its address ${p.status.address} in its namespace`
              : `proxyID ${JSON.stringify(id)}: no connected proxy and no WorkloadEntry <name>.<namespace> has that id`,
          );
        }
        return { status: 200, body: authenticationz(this.ctx, p?.status.proxyId ?? id, workload) };
      },
    };
  }
}

function nodeKey(nodeId: string, peer: string): string {
  return `${nodeId}\n${peer}`;
}
