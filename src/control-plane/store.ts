// The control plane's model store: reads every config source together, loads and builds the mesh model, and
// rebuilds it when a source changes — debounced as istiod debounces pushes — keeping the last good model when a
// change does not load. Subscribers are told what changed, by the object identity buildModel keeps.
// Istio: pilot/pkg/xds/discovery.go (debounce: PILOT_DEBOUNCE_AFTER 100ms, PILOT_DEBOUNCE_MAX 10s, one push in
// flight); rejected configuration keeps the last pushed PushContext.

import { type ConfigFile, type ConfigSnapshot, loadConfig } from '../config/load.js';
import type { Resource } from '../config/resource.js';
import { type Diagnostic, formatDiagnostic } from '../core/diagnostics.js';
import { type Logger, silentLogger } from '../core/log.js';
import { buildModel } from '../model/build.js';
import type { MeshModel, ModelProblem, ServiceModel } from '../model/types.js';
import type { ConfigSource } from './sources/source.js';

/** What an accepted change changed. Hostnames are sorted. */
export interface ModelChange {
  servicesAdded: readonly string[];
  servicesRemoved: readonly string[];
  /** Hostnames whose service (any of them, when namespaces share a host) is a new object. */
  servicesChanged: readonly string[];
  meshConfigChanged: boolean;
  /** PeerAuthentication, DestinationRule or VirtualService. */
  policiesChanged: boolean;
  workloadsChanged: boolean;
  /** Anything besides services: mesh config, policies, workloads, or any other resource (a Gateway, …). */
  otherChanged: boolean;
}

export type ModelListener = (model: MeshModel, change: ModelChange) => void;

export interface ModelStoreOptions {
  sources: readonly ConfigSource[];
  /** Rebuild once no event arrived for this long (istiod's PILOT_DEBOUNCE_AFTER); default 100 ms. */
  debounceMs?: number;
  /** …or at most this long after the first event of a burst (PILOT_DEBOUNCE_MAX); default 10 s. */
  debounceMaxMs?: number;
  logger?: Logger;
}

export class ModelStore {
  /** Configurations applied, the first load included. */
  accepted = 0;
  /** Changes refused because they had errors (the first load's refusal included). */
  rejected = 0;
  /** The error diagnostics of the last refused change; empty once a change is accepted again. */
  lastErrors: readonly Diagnostic[] = [];
  /** Warnings of the configuration being served (loader and model). */
  warnings: readonly Diagnostic[] = [];

  private current: MeshModel | undefined;
  private currentKey = '';
  /** The content of the resources the model does not read (Gateways, …): their changes are "other" changes. */
  private othersKey = '';
  private readonly listeners = new Set<ModelListener>();
  private readonly stops: (() => void)[] = [];
  private readonly sources: readonly ConfigSource[];
  private readonly debounceMs: number;
  private readonly debounceMaxMs: number;
  private readonly log: Logger;
  private timer: NodeJS.Timeout | undefined;
  private burstStart: number | undefined;
  private building: Promise<void> | undefined;
  private flushWhenIdle = false;
  private eventsWhileStarting = false;
  private closed = false;

  constructor(options: ModelStoreOptions) {
    this.sources = options.sources;
    this.debounceMs = options.debounceMs ?? 100;
    this.debounceMaxMs = options.debounceMaxMs ?? 10_000;
    this.log = options.logger ?? silentLogger;
  }

  /** The model being served; undefined before `start()` resolved. */
  get model(): MeshModel | undefined {
    return this.current;
  }

  /**
   * Watches the sources, then loads them. Rejects — and stops watching — when the first load has errors; the
   * error's message lists them, one `file:line` each.
   */
  async start(): Promise<MeshModel> {
    // Watch before reading, so that nothing written during the first read is missed.
    for (const source of this.sources) this.stops.push(source.watch(() => this.onSourceEvent()));
    const { snapshot, errors, key } = await this.load();
    const model = errors.length === 0 ? buildModel(snapshot) : undefined;
    const all = model ? modelErrors(model) : errors;
    if (all.length > 0 || !model) {
      this.refuse(all);
      this.close();
      throw new Error(
        `the configuration has ${all.length} error(s):\n${all.map((d) => `  ${formatDiagnostic(d)}`).join('\n')}`,
      );
    }
    if (this.closed) throw new Error('the model store was closed while starting');
    this.apply(snapshot, key, model);
    if (this.eventsWhileStarting) this.onSourceEvent();
    return model;
  }

  /** Called after every accepted change that changed something, with the new model. Returns an unsubscribe. */
  subscribe(listener: ModelListener): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** Stops watching and every timer; a rebuild in progress finishes without telling anyone. */
  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    for (const stop of this.stops.splice(0)) stop();
    this.listeners.clear();
  }

  /** Rebuilds now (no debounce); resolves once done. For callers that know something changed (and tests). */
  async reload(): Promise<void> {
    if (this.timer) clearTimeout(this.timer);
    this.timer = undefined;
    this.burstStart = undefined;
    while (this.building) await this.building;
    if (this.closed) return;
    await this.runRebuild();
  }

  private onSourceEvent(): void {
    if (this.closed) return;
    if (this.current === undefined) {
      // During the first load: once it is served, reload (what was read may predate the event).
      this.eventsWhileStarting = true;
      return;
    }
    const now = Date.now();
    this.burstStart ??= now;
    // istiod's rule: push when quiet for debounceMs, or once debounceMaxMs passed since the burst began.
    const delay = Math.max(0, Math.min(this.debounceMs, this.burstStart + this.debounceMaxMs - now));
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => this.onQuiet(), delay);
  }

  private onQuiet(): void {
    this.timer = undefined;
    this.burstStart = undefined;
    if (this.closed) return;
    // One rebuild at a time: events during a rebuild make one more once it ends.
    if (this.building) {
      this.flushWhenIdle = true;
      return;
    }
    void this.runRebuild();
  }

  private runRebuild(): Promise<void> {
    const run = this.rebuild()
      .catch((e: unknown) => {
        // A bug, not bad input (that is refused with its diagnostics): counted, logged, the old model kept.
        this.refuse([
          {
            severity: 'error',
            code: 'SKIFF_MODEL_INTERNAL',
            message: `rebuilding the model failed: ${(e as Error)?.stack ?? String(e)}`,
          },
        ]);
      })
      .finally(() => {
        this.building = undefined;
        if (this.flushWhenIdle && !this.closed) {
          this.flushWhenIdle = false;
          this.onQuiet();
        }
      });
    this.building = run;
    return run;
  }

  private async rebuild(): Promise<void> {
    const { snapshot, errors, key } = await this.load();
    if (this.closed) return;
    if (errors.length > 0) {
      this.refuse(errors);
      return;
    }
    if (key === this.currentKey) {
      // Saved without a change (or changed back): nothing to build or tell.
      if (this.lastErrors.length > 0)
        this.log.info('configuration accepted again: the model being served is unchanged');
      else this.log.debug('configuration reloaded: nothing changed');
      this.accepted += 1;
      this.lastErrors = [];
      return;
    }
    const previous = this.current as MeshModel;
    const model = buildModel(snapshot, previous);
    const problems = modelErrors(model);
    if (problems.length > 0) {
      this.refuse(problems);
      return;
    }
    const previousOthers = this.othersKey;
    this.apply(snapshot, key, model);
    const change = diffModels(previous, model, previousOthers !== this.othersKey);
    for (const listener of this.listeners) {
      try {
        listener(model, change);
      } catch (e) {
        this.log.error('a model subscriber failed', { error: (e as Error)?.message ?? String(e) });
      }
    }
  }

  private async load(): Promise<{ snapshot: ConfigSnapshot; errors: Diagnostic[]; key: string }> {
    const files: ConfigFile[] = [];
    const readProblems: Diagnostic[] = [];
    for (const source of this.sources) {
      try {
        const result = await source.read();
        files.push(...result.files);
        readProblems.push(...result.diagnostics);
      } catch (e) {
        readProblems.push({
          severity: 'error',
          code: 'SKIFF_CONFIG_IO',
          file: source.name,
          message: `cannot read the source: ${(e as Error)?.message ?? String(e)}`,
        });
      }
    }
    const snapshot = loadConfig(files);
    snapshot.diagnostics.unshift(...readProblems);
    const errors = snapshot.diagnostics.filter((d) => d.severity === 'error');
    return { snapshot, errors, key: contentKey(snapshot.resources) };
  }

  private refuse(errors: Diagnostic[]): void {
    this.rejected += 1;
    this.lastErrors = errors;
    this.log.error(
      this.current
        ? 'configuration change refused: the last good model keeps serving'
        : 'configuration refused: it does not load',
      { errors: errors.length },
    );
    for (const d of errors) {
      this.log.error(formatDiagnostic(d), {
        file: d.file,
        line: d.line,
        ...(d.resource ? { resource: d.resource } : {}),
        code: d.code,
      });
    }
  }

  private apply(snapshot: ConfigSnapshot, key: string, model: MeshModel): void {
    const before = new Set(this.warnings.map(formatDiagnostic));
    const warnings: Diagnostic[] = [
      ...snapshot.diagnostics.filter((d) => d.severity === 'warning'),
      ...model.problems.filter((p) => p.severity === 'warning').map(problemDiagnostic),
    ];
    for (const w of warnings) {
      const text = formatDiagnostic(w);
      if (!before.has(text)) this.log.warn(text, { file: w.file, line: w.line, code: w.code });
    }
    this.current = model;
    this.currentKey = key;
    this.othersKey = contentKey(snapshot.resources.filter((r) => !MODEL_KINDS.has(r.kind)));
    this.warnings = warnings;
    this.lastErrors = [];
    this.accepted += 1;
    this.log.info(this.accepted === 1 ? 'configuration loaded' : 'configuration change applied', {
      services: model.services.length,
      workloads: model.workloads.length,
      warnings: warnings.length,
    });
  }
}

/** What differs between two models built one from the other (buildModel keeps unchanged objects). */
export function diffModels(before: MeshModel, after: MeshModel, othersChanged = false): ModelChange {
  const hosts = (m: MeshModel) => {
    const byHost = new Map<string, ServiceModel[]>();
    for (const s of m.services) byHost.set(s.hostname, [...(byHost.get(s.hostname) ?? []), s]);
    return byHost;
  };
  const a = hosts(before);
  const b = hosts(after);
  const servicesAdded = [...b.keys()].filter((h) => !a.has(h)).sort();
  const servicesRemoved = [...a.keys()].filter((h) => !b.has(h)).sort();
  const servicesChanged = [...b.keys()]
    .filter((h) => {
      const old = a.get(h);
      const now = b.get(h) ?? [];
      return old !== undefined && (old.length !== now.length || old.some((s, i) => s !== now[i]));
    })
    .sort();
  const meshConfigChanged = before.meshConfig !== after.meshConfig;
  const policiesChanged =
    before.peerAuthentications !== after.peerAuthentications ||
    before.destinationRules !== after.destinationRules ||
    before.virtualServices !== after.virtualServices;
  const workloadsChanged = before.workloads !== after.workloads;
  return {
    servicesAdded,
    servicesRemoved,
    servicesChanged,
    meshConfigChanged,
    policiesChanged,
    workloadsChanged,
    otherChanged: meshConfigChanged || policiesChanged || workloadsChanged || othersChanged,
  };
}

/** The kinds buildModel reads; a change to any other kind is an "other" change. */
const MODEL_KINDS = new Set([
  'MeshConfig',
  'Service',
  'ServiceEntry',
  'WorkloadEntry',
  'PeerAuthentication',
  'DestinationRule',
  'VirtualService',
]);

/** Resources' content, without where they were read or their order: equal keys load the same mesh. */
function contentKey(resources: readonly Resource<unknown>[]): string {
  return JSON.stringify(
    resources.map((r) => JSON.stringify([r.apiVersion, r.kind, r.metadata, r.spec])).sort(),
  );
}

function modelErrors(model: MeshModel): Diagnostic[] {
  return model.problems.filter((p) => p.severity === 'error').map(problemDiagnostic);
}

function problemDiagnostic(p: ModelProblem): Diagnostic {
  const r = p.resource;
  return {
    severity: p.severity,
    code: p.code,
    message: p.message,
    ...(r ? { file: r.source.file, line: r.source.line } : {}),
  };
}
