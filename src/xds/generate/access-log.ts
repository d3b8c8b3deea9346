// Access logs as Istio configures them when `meshConfig.accessLogFile` is set and no Telemetry resource applies:
// the same file logger on every HTTP connection manager and tcp_proxy, and on every listener with a filter that
// keeps only connections no filter chain matched (flag NR), unless the file is empty (no logs, Istio's default).
// Istio: pilot/pkg/networking/core/accesslog.go (setHTTPAccessLog, setTCPAccessLog, setListenerAccessLog),
// pilot/pkg/model/telemetry_logging.go (EnvoyTextLogFormat, EnvoyJSONLogFormatIstio).

import type { MeshConfigSpec } from '../../config/kinds/mesh-config.js';
import { ISTIO_ACCESS_LOG_FORMAT, ISTIO_ACCESS_LOG_JSON_FORMAT } from '../../proxy/access-log/format.js';
import type { JsonObject } from '../decode.js';
import { TYPE } from './names.js';

export type AccessLogSite = 'http' | 'tcp' | 'listener';

/** The `access_log` list for one site, or undefined when the mesh logs nothing. */
export function accessLog(mesh: MeshConfigSpec, site: AccessLogSite): JsonObject[] | undefined {
  if (mesh.accessLogFile === '') return undefined;
  const logger: JsonObject = {
    name: 'envoy.access_loggers.file',
    typed_config: { '@type': TYPE.fileAccessLog, path: mesh.accessLogFile, log_format: logFormat(mesh) },
  };
  if (site === 'listener') logger.filter = { response_flag_filter: { flags: ['NR'] } };
  return [logger];
}

function logFormat(mesh: MeshConfigSpec): JsonObject {
  if (mesh.accessLogEncoding === 'JSON') {
    let format: JsonObject = ISTIO_ACCESS_LOG_JSON_FORMAT;
    if (mesh.accessLogFormat !== '') {
      try {
        const parsed: unknown = JSON.parse(mesh.accessLogFormat);
        if (parsed && typeof parsed === 'object' && !Array.isArray(parsed)) format = parsed as JsonObject;
      } catch {
        // Istio falls back to its default JSON format when accessLogFormat is not a JSON object.
      }
    }
    return { json_format: format };
  }
  const text = mesh.accessLogFormat === '' ? ISTIO_ACCESS_LOG_FORMAT : mesh.accessLogFormat;
  return { text_format_source: { inline_string: text.endsWith('\n') ? text : `${text}\n` } };
}
