// The Aggregated Discovery Service protocol, state of the world, as pure state: one `AdsStream` per gRPC stream
// takes each DiscoveryRequest and each new configuration, and says what to send back. No sockets, no clock, no
// randomness (the nonce generator is given), so every rule is table-tested.
//
// The rules are Envoy's xDS protocol as istiod serves it (research/istio-generation.md §7.4, §7.5):
// - the first request must carry node.id (else InvalidArgument "missing node information");
// - LDS and CDS are wildcard types (no names, or `*`); EDS and RDS are subscribed by name, and an empty list of
//   names unsubscribes (no response);
// - a request without a response_nonce (or the first for its type on this stream) (re)subscribes and is
//   answered with every subscribed resource — except after a reconnect whose version_info names what this
//   server already sent that proxy, when nothing differs (Envoy reconnecting with known versions);
// - a nonce that is not the last one sent for the type is stale: ignored and counted;
// - an ACK (the last nonce, no error_detail) is answered only when the subscription grew, or when the type is
//   flagged AlwaysRespond: Istio flags EDS when CDS is (re)subscribed, so that Envoy's clusters finish warming
//   (istio pkg/xds/server.go ShouldRespond, WarmingDependencies; envoyproxy/envoy#13009). Skiff also flags it
//   when a CDS response is sent without an EDS response after it, since EDS is pushed only when it changed;
// - a NACK (error_detail) is recorded (version, nonce, message) and answered with nothing: the same
//   resources are not sent again until they change;
// - a new configuration pushes, in Envoy's order CDS, EDS, LDS, RDS, only the types whose resources for this
//   stream's subscriptions differ from what was last sent, and for EDS and RDS only the names subscribed;
// - a cluster is removed only after no listener or route refers to it (Envoy's xDS ordering rule): the push
//   that drops it sends CDS still with it while a listener or route the proxy ACKed (or was sent and has not
//   answered yet) names it; LDS/RDS then go without the reference, and their ACK (or the next push) sends CDS
//   without the cluster. A resource's `refs` say which clusters it names.

/** Type URLs of the four resource types served, in the order a push sends them (Istio's PushOrder). */
export const CLUSTER_TYPE = 'type.googleapis.com/envoy.config.cluster.v3.Cluster';
export const ENDPOINT_TYPE = 'type.googleapis.com/envoy.config.endpoint.v3.ClusterLoadAssignment';
export const LISTENER_TYPE = 'type.googleapis.com/envoy.config.listener.v3.Listener';
export const ROUTE_TYPE = 'type.googleapis.com/envoy.config.route.v3.RouteConfiguration';
export const PUSH_ORDER: readonly string[] = [CLUSTER_TYPE, ENDPOINT_TYPE, LISTENER_TYPE, ROUTE_TYPE];

/** LDS and CDS: a subscription without names means every resource (xDS "wildcard"). */
export function isWildcardType(typeUrl: string): boolean {
  return typeUrl === LISTENER_TYPE || typeUrl === CLUSTER_TYPE;
}

/** The short name Istio's logs and metrics use: cds, eds, lds, rds. */
export function shortType(typeUrl: string): string {
  switch (typeUrl) {
    case CLUSTER_TYPE:
      return 'cds';
    case ENDPOINT_TYPE:
      return 'eds';
    case LISTENER_TYPE:
      return 'lds';
    case ROUTE_TYPE:
      return 'rds';
    default:
      return typeUrl.slice(typeUrl.lastIndexOf('/') + 1);
  }
}

/** A DiscoveryRequest as the binding decodes it (proto3 JSON, snake_case; absent fields at their default). */
export interface DiscoveryRequest {
  version_info?: string;
  node?: { id?: string; metadata?: unknown; [key: string]: unknown } | null;
  resource_names?: readonly string[];
  type_url?: string;
  response_nonce?: string;
  error_detail?: { code?: number; message?: string } | null;
}

export interface DiscoveryResponse<B> {
  version_info: string;
  resources: B[];
  type_url: string;
  nonce: string;
}

/** One resource as the stream compares and sends it: `hash` stands for its content, `body` is what is sent. */
export interface Resource<B> {
  name: string;
  hash: string;
  body: B;
  /** For listeners and routes: the clusters it refers to (a cluster is kept while a reference is held). */
  refs?: readonly string[];
}

/** The subscription a stream asks a source for: every resource of the type, or these names. */
export type Subscription = { wildcard: true } | { wildcard: false; names: ReadonlySet<string> };

/** One proxy's resources at one configuration version. */
export interface ResourceSource<B> {
  /** The configuration version, as responses carry it (`<RFC 3339 time>/<counter>`, as Istio writes it). */
  readonly version: string;
  /** The resources of a type for a subscription; a name that names nothing is left out. */
  resources(typeUrl: string, subscription: Subscription): Resource<B>[];
}

/** Something a request or a push did that is worth a log line or a counter. */
export type StreamEvent =
  | { kind: 'ack'; typeUrl: string; version: string; nonce: string }
  | { kind: 'nack'; typeUrl: string; version: string; nonce: string; message: string }
  | { kind: 'stale-nonce'; typeUrl: string; nonce: string }
  | { kind: 'unsubscribe'; typeUrl: string }
  | { kind: 'unknown-type'; typeUrl: string }
  | { kind: 'known-version'; typeUrl: string; version: string };

export interface Outcome<B> {
  responses: DiscoveryResponse<B>[];
  events: StreamEvent[];
}

export interface VersionNonce {
  version: string;
  nonce: string;
}

/** Per type: what this stream subscribes to and what happened to the last responses. */
export interface TypeStatus {
  typeUrl: string;
  wildcard: boolean;
  /** The names subscribed (empty for a wildcard subscription). */
  names: string[];
  sent?: VersionNonce;
  acked?: VersionNonce;
  /** The last NACK: the version and nonce it rejected and the proxy's error_detail message. */
  nacked?: VersionNonce & { message: string };
  /** Responses sent for this type on this stream. */
  responses: number;
  /** Requests ignored because their nonce was not the last one sent. */
  staleNonces: number;
}

export interface StreamStatus {
  /** Configuration changes that sent this stream at least one response. */
  pushes: number;
  /** In push order. */
  types: TypeStatus[];
}

/** A node id, or the status to end the stream with (istio ads.go: "missing node information"). */
export function requestNode(
  request: DiscoveryRequest,
): { ok: true; id: string } | { ok: false; code: 'INVALID_ARGUMENT'; message: string } {
  const id = request.node?.id;
  if (typeof id !== 'string' || id === '') {
    return { ok: false, code: 'INVALID_ARGUMENT', message: 'missing node information' };
  }
  return { ok: true, id };
}

interface Sent {
  version: string;
  nonce: string;
  hashes: ReadonlyMap<string, string>;
}

/**
 * What was last sent to each proxy (by node id), per type, kept across its streams: a proxy that reconnects with
 * a version it holds is not sent the same resources again. Bounded: the oldest proxies are forgotten first (then
 * a reconnect is simply answered).
 */
export class KnownVersions {
  private readonly byProxy = new Map<string, Map<string, Sent>>();

  constructor(private readonly limit = 10_000) {}

  get(proxy: string, typeUrl: string): Sent | undefined {
    return this.byProxy.get(proxy)?.get(typeUrl);
  }

  set(proxy: string, typeUrl: string, sent: Sent): void {
    let types = this.byProxy.get(proxy);
    if (types) {
      // Most recently used last.
      this.byProxy.delete(proxy);
    } else {
      types = new Map();
    }
    this.byProxy.set(proxy, types);
    types.set(typeUrl, sent);
    while (this.byProxy.size > this.limit) {
      const oldest = this.byProxy.keys().next().value;
      if (oldest === undefined) break;
      this.byProxy.delete(oldest);
    }
  }

  get size(): number {
    return this.byProxy.size;
  }
}

interface Watch<B> {
  typeUrl: string;
  wildcard: boolean;
  names: Set<string>;
  sent?: Sent;
  /** The resources last sent, and those the proxy holds (its last ACK), by name: their bodies and refs. */
  sentResources: Map<string, Resource<B>>;
  ackedResources: Map<string, Resource<B>>;
  /** CDS: the clusters last sent only because a listener or route still referred to them. */
  retained: Set<string>;
  acked?: VersionNonce;
  nacked?: VersionNonce & { message: string };
  alwaysRespond: boolean;
  responses: number;
  staleNonces: number;
}

export interface AdsStreamOptions<B> {
  /** The proxy's node id: the key of what it was sent, across reconnects. */
  proxy: string;
  source: ResourceSource<B>;
  /** A fresh nonce per response (Istio: the version and a UUID). */
  nonce: () => string;
  known?: KnownVersions;
}

export class AdsStream<B> {
  private source: ResourceSource<B>;
  private readonly watches = new Map<string, Watch<B>>();
  private readonly nonce: () => string;
  private readonly known: KnownVersions;
  private readonly proxy: string;
  private pushes = 0;
  /** The clusters the last CDS `generate` kept only because they are still referenced. */
  private kept = new Set<string>();

  constructor(options: AdsStreamOptions<B>) {
    this.source = options.source;
    this.nonce = options.nonce;
    this.known = options.known ?? new KnownVersions();
    this.proxy = options.proxy;
  }

  /**
   * What to answer one DiscoveryRequest with (the node was checked by `requestNode` on the first). `source`, when
   * given, is the configuration to answer from from now on (a newer one than the last push's).
   */
  request(req: DiscoveryRequest, source?: ResourceSource<B>): Outcome<B> {
    if (source) this.source = source;
    const out: Outcome<B> = { responses: [], events: [] };
    const typeUrl = req.type_url ?? '';
    if (!PUSH_ORDER.includes(typeUrl)) {
      out.events.push({ kind: 'unknown-type', typeUrl });
      return out;
    }
    const names = [...(req.resource_names ?? [])];
    const nonce = req.response_nonce ?? '';
    let watch = this.watches.get(typeUrl);

    // A NACK is recorded and answered with nothing, whatever else it says (Istio checks error_detail first).
    if (req.error_detail) {
      const message = req.error_detail.message ?? '';
      const version =
        watch?.sent && watch.sent.nonce === nonce ? watch.sent.version : (req.version_info ?? '');
      if (watch) watch.nacked = { version, nonce, message };
      // What the proxy holds stays what it last ACKed (Envoy keeps its previous configuration on a NACK).
      out.events.push({ kind: 'nack', typeUrl, version, nonce, message });
      return out;
    }

    const wildcard = names.includes('*') || (isWildcardType(typeUrl) && names.length === 0);
    const named = new Set(names.filter((n) => n !== '*'));

    // A new subscription (or a resubscription: no nonce).
    if (!watch || nonce === '') {
      if (!wildcard && named.size === 0) {
        if (watch) this.watches.delete(typeUrl);
        out.events.push({ kind: 'unsubscribe', typeUrl });
        return out;
      }
      watch = {
        typeUrl,
        wildcard,
        names: wildcard ? new Set() : named,
        // A resubscription on the same stream: the proxy still holds what it had.
        sentResources: watch?.sentResources ?? new Map(),
        ackedResources: watch?.ackedResources ?? new Map(),
        retained: new Set(),
        alwaysRespond: false,
        responses: watch?.responses ?? 0,
        staleNonces: watch?.staleNonces ?? 0,
        ...(watch?.nacked ? { nacked: watch.nacked } : {}),
      };
      this.watches.set(typeUrl, watch);
      if (typeUrl === CLUSTER_TYPE) this.flagEndpoints();
      const resources = this.generate(watch);
      const version = req.version_info ?? '';
      const known = this.known.get(this.proxy, typeUrl);
      if (version !== '' && known && known.version === version && sameResources(known.hashes, resources)) {
        watch.sent = known;
        watch.acked = { version, nonce: known.nonce };
        watch.sentResources = new Map(resources.map((r) => [r.name, r]));
        watch.ackedResources = watch.sentResources;
        out.events.push({ kind: 'known-version', typeUrl, version });
        return out;
      }
      out.responses.push(this.respond(watch, resources));
      return out;
    }

    if (nonce !== watch.sent?.nonce) {
      watch.staleNonces++;
      out.events.push({ kind: 'stale-nonce', typeUrl, nonce });
      return out;
    }

    // An ACK of the last response; it may change the subscription too.
    watch.acked = { version: watch.sent.version, nonce };
    watch.ackedResources = watch.sentResources;
    out.events.push({ kind: 'ack', typeUrl, version: watch.sent.version, nonce });
    if (!wildcard && named.size === 0) {
      this.watches.delete(typeUrl);
      out.events.push({ kind: 'unsubscribe', typeUrl });
      this.releaseClusters(out);
      return out;
    }
    const grew = wildcard
      ? !watch.wildcard
      : watch.wildcard
        ? false
        : [...named].some((n) => !watch.names.has(n));
    watch.wildcard = wildcard;
    watch.names = wildcard ? new Set() : named;
    if (!wildcard) {
      // Names dropped: nothing to send (the proxy forgets them), and what it holds is now only the names kept.
      const kept = new Map([...watch.sent.hashes].filter(([name]) => named.has(name)));
      if (kept.size < watch.sent.hashes.size) {
        watch.sent = { ...watch.sent, hashes: kept };
        this.known.set(this.proxy, typeUrl, watch.sent);
        const held = (m: Map<string, Resource<B>>) => new Map([...m].filter(([name]) => named.has(name)));
        watch.sentResources = held(watch.sentResources);
        watch.ackedResources = held(watch.ackedResources);
      }
    }
    if (grew || watch.alwaysRespond) out.responses.push(this.respond(watch, this.generate(watch)));
    this.releaseClusters(out);
    return out;
  }

  /**
   * After an LDS or RDS ACK (or unsubscription): clusters CDS kept only because they were referenced, and that
   * nothing the proxy holds or was sent names any more, are removed now (a CDS response without them).
   */
  private releaseClusters(out: Outcome<B>): void {
    const cds = this.watches.get(CLUSTER_TYPE);
    if (!cds?.sent || cds.retained.size === 0) return;
    const referenced = this.referencedClusters();
    if ([...cds.retained].every((name) => referenced.has(name))) return;
    const resources = this.generate(cds);
    if (sameResources(cds.sent.hashes, resources)) return;
    out.responses.push(this.respond(cds, resources));
  }

  /** The clusters the listeners and routes the proxy ACKed, or was sent and has not answered, refer to. */
  private referencedClusters(): Set<string> {
    const out = new Set<string>();
    for (const typeUrl of [LISTENER_TYPE, ROUTE_TYPE]) {
      const w = this.watches.get(typeUrl);
      if (!w) continue;
      for (const r of w.ackedResources.values()) for (const c of r.refs ?? []) out.add(c);
      if (w.sent && w.acked?.nonce !== w.sent.nonce)
        for (const r of w.sentResources.values()) for (const c of r.refs ?? []) out.add(c);
    }
    return out;
  }

  /** A new configuration: what this stream must be sent, type by type in push order. */
  push(source: ResourceSource<B>): Outcome<B> {
    this.source = source;
    const out: Outcome<B> = { responses: [], events: [] };
    for (const typeUrl of PUSH_ORDER) {
      const watch = this.watches.get(typeUrl);
      if (!watch?.sent) continue;
      const resources = this.generate(watch);
      // A cluster kept for the first time is a change too: this version's CDS is sent, still with it.
      const newlyKept = typeUrl === CLUSTER_TYPE && [...this.kept].some((n) => !watch.retained.has(n));
      if (sameResources(watch.sent.hashes, resources) && !newlyKept) continue;
      out.responses.push(this.respond(watch, resources));
    }
    if (out.responses.length > 0) this.pushes++;
    return out;
  }

  status(): StreamStatus {
    const types: TypeStatus[] = [];
    for (const typeUrl of PUSH_ORDER) {
      const w = this.watches.get(typeUrl);
      if (!w) continue;
      types.push({
        typeUrl,
        wildcard: w.wildcard,
        names: [...w.names].sort(),
        ...(w.sent ? { sent: { version: w.sent.version, nonce: w.sent.nonce } } : {}),
        ...(w.acked ? { acked: { ...w.acked } } : {}),
        ...(w.nacked ? { nacked: { ...w.nacked } } : {}),
        responses: w.responses,
        staleNonces: w.staleNonces,
      });
    }
    return { pushes: this.pushes, types };
  }

  private flagEndpoints(): void {
    const eds = this.watches.get(ENDPOINT_TYPE);
    if (eds) eds.alwaysRespond = true;
  }

  /** The resources to send for a watch; for CDS, with the clusters gone that are still referenced (kept). */
  private generate(watch: Watch<B>): Resource<B>[] {
    const subscription: Subscription = watch.wildcard
      ? { wildcard: true }
      : { wildcard: false, names: watch.names };
    const all = this.source.resources(watch.typeUrl, subscription);
    const fresh = watch.wildcard ? all : all.filter((r) => watch.names.has(r.name));
    if (watch.typeUrl !== CLUSTER_TYPE) return fresh;
    const kept = keptClusters(watch.sentResources, fresh, this.referencedClusters());
    this.kept = new Set(kept.map((r) => r.name));
    return [...fresh, ...kept];
  }

  private respond(watch: Watch<B>, resources: Resource<B>[]): DiscoveryResponse<B> {
    const nonce = this.nonce();
    const version = this.source.version;
    const sent: Sent = { version, nonce, hashes: new Map(resources.map((r) => [r.name, r.hash])) };
    // `generate` for CDS has just said which of these are kept only for their references.
    if (watch.typeUrl === CLUSTER_TYPE) watch.retained = this.kept;
    watch.sentResources = new Map(resources.map((r) => [r.name, r]));
    watch.sent = sent;
    watch.responses++;
    watch.alwaysRespond = false;
    if (watch.typeUrl === CLUSTER_TYPE) this.flagEndpoints();
    this.known.set(this.proxy, watch.typeUrl, sent);
    return { version_info: version, resources: resources.map((r) => r.body), type_url: watch.typeUrl, nonce };
  }
}

/**
 * The clusters last sent that are gone from `fresh` but still named by a listener or route the proxy holds:
 * kept in the next CDS response, as they were sent (Envoy's rule: a cluster goes after its last reference).
 */
export function keptClusters<B>(
  sent: ReadonlyMap<string, Resource<B>>,
  fresh: readonly Resource<B>[],
  referenced: ReadonlySet<string>,
): Resource<B>[] {
  const now = new Set(fresh.map((r) => r.name));
  return [...sent.values()].filter((r) => !now.has(r.name) && referenced.has(r.name));
}

function sameResources(sent: ReadonlyMap<string, string>, now: readonly Resource<unknown>[]): boolean {
  if (sent.size !== now.length) return false;
  return now.every((r) => sent.get(r.name) === r.hash);
}
