// The bootstrap's proxy-wide settings beyond its resources: the overload manager's global downstream connection
// limit (the resource monitor) and the runtime layers, of which Skiff honours one key,
// `overload.global_downstream_max_connections` (Envoy's older way to set the same limit). As in Envoy, the
// resource monitor wins when both are set. Other runtime keys are listed with a warning: they are accepted
// (Istio's bootstrap sets several) but change nothing in Skiff.

import { showValue } from '../../core/diagnostics.js';
import type { SupportTable } from '../../xds/decode.js';
import type { TranslateContext } from './context.js';
import { type JsonObject, list, obj, str } from './json.js';

export const OVERLOAD_SUPPORT: SupportTable = {
  'envoy.config.overload.v3.OverloadManager': {
    resource_monitors:
      'Only `envoy.resource_monitors.global_downstream_max_connections` (Skiff has no overload actions).',
    refresh_interval: 'Recorded.',
  },
  'envoy.config.overload.v3.ResourceMonitor': {
    name: 'Monitor name.',
    typed_config: 'The monitor’s configuration (an extension of category `envoy.resource_monitors`).',
  },
  'envoy.config.bootstrap.v3.LayeredRuntime': {
    layers: 'Runtime layers; later layers override earlier ones.',
  },
  'envoy.config.bootstrap.v3.RuntimeLayer': {
    name: 'Layer name.',
    static_layer:
      'Runtime keys: `overload.global_downstream_max_connections` is honoured; any other key is accepted with a warning and has no effect.',
    admin_layer: 'Accepted (Skiff’s admin server has no /runtime_modify).',
  },
  'envoy.config.bootstrap.v3.RuntimeLayer.AdminLayer': {},
};

const RUNTIME_KEY = 'overload.global_downstream_max_connections';

/** The runtime key's value, as Envoy reads it from a Struct: a number or a numeric string. */
function runtimeLimit(value: unknown): number | undefined {
  const n =
    typeof value === 'number'
      ? value
      : typeof value === 'string' && /^\d+$/.test(value)
        ? Number(value)
        : NaN;
  return Number.isSafeInteger(n) && n > 0 ? n : undefined;
}

/** The global downstream connection limit the bootstrap sets, if any. */
export function translateConnectionLimit(b: JsonObject, ctx: TranslateContext): number | undefined {
  let fromRuntime: number | undefined;
  list(obj(b.layered_runtime).layers).forEach((l, i) => {
    const layer = obj(l);
    const at = ['layered_runtime', 'layers', i, 'static_layer'];
    for (const [key, value] of Object.entries(obj(layer.static_layer))) {
      if (key !== RUNTIME_KEY) {
        ctx.warn(
          [...at, key],
          'proxy.runtime',
          `runtime key ${showValue(key)} is not implemented by Skiff: ignored`,
        );
        continue;
      }
      const n = runtimeLimit(value);
      if (n === undefined) {
        ctx.error(
          [...at, key],
          'proxy.runtime',
          `${showValue(value)} is not a positive whole number of connections`,
        );
      } else fromRuntime = n;
    }
  });
  let fromMonitor: number | undefined;
  list(obj(b.overload_manager).resource_monitors).forEach((m, i) => {
    const path = ['overload_manager', 'resource_monitors', i];
    const monitor = ctx.registry.translate('envoy.resource_monitors', obj(m), path, ctx);
    if (monitor && fromMonitor !== undefined) {
      ctx.error(
        [...path, 'name'],
        'proxy.duplicate',
        `resource monitor ${showValue(str(obj(m).name))} is given twice`,
      );
    }
    if (monitor) fromMonitor = monitor.max;
  });
  if (fromMonitor !== undefined && fromRuntime !== undefined) {
    ctx.warn(
      ['layered_runtime'],
      'proxy.runtime',
      `the connection limit is set both by ${RUNTIME_KEY} and by the resource monitor; the resource monitor's (${fromMonitor}) is used, as in Envoy`,
    );
  }
  return fromMonitor ?? fromRuntime;
}
