// Access logs as Istio configures them when `meshConfig.accessLogFile` is set and no Telemetry resource applies:
// the same file logger on every HTTP connection manager and tcp_proxy, and on every listener with a filter that
// keeps only connections no filter chain matched (flag NR), unless the file is empty (no logs, Istio's default).
// Istio: pilot/pkg/networking/core/accesslog.go (setHTTPAccessLog, setTCPAccessLog, setListenerAccessLog),
// pilot/pkg/model/telemetry_logging.go (EnvoyTextLogFormat, EnvoyJSONLogFormatIstio).

import type { MeshConfigSpec } from '../../config/kinds/mesh-config.js';
import type { JsonObject } from '../decode.js';
import { TYPE } from './names.js';

/** Istio's default text format (meshConfig.accessLogFormat unset) — pilot/pkg/model/telemetry_logging.go:44. */
export const ISTIO_ACCESS_LOG_FORMAT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% %RESPONSE_FLAGS% ' +
  '%RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% "%UPSTREAM_TRANSPORT_FAILURE_REASON%" ' +
  '%BYTES_RECEIVED% %BYTES_SENT% %DURATION% %RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" ' +
  '"%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" "%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% ' +
  '%UPSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% ' +
  '%ROUTE_NAME%\n';

/** Istio's default JSON format (accessLogEncoding: JSON), telemetry_logging.go:78 EnvoyJSONLogFormatIstio. */
export const ISTIO_ACCESS_LOG_JSON_FORMAT: JsonObject = {
  start_time: '%START_TIME%',
  route_name: '%ROUTE_NAME%',
  method: '%REQ(:METHOD)%',
  path: '%REQ(X-ENVOY-ORIGINAL-PATH?:PATH)%',
  protocol: '%PROTOCOL%',
  response_code: '%RESPONSE_CODE%',
  response_flags: '%RESPONSE_FLAGS%',
  response_code_details: '%RESPONSE_CODE_DETAILS%',
  connection_termination_details: '%CONNECTION_TERMINATION_DETAILS%',
  bytes_received: '%BYTES_RECEIVED%',
  bytes_sent: '%BYTES_SENT%',
  duration: '%DURATION%',
  upstream_service_time: '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)%',
  x_forwarded_for: '%REQ(X-FORWARDED-FOR)%',
  user_agent: '%REQ(USER-AGENT)%',
  request_id: '%REQ(X-REQUEST-ID)%',
  authority: '%REQ(:AUTHORITY)%',
  upstream_host: '%UPSTREAM_HOST%',
  upstream_cluster: '%UPSTREAM_CLUSTER_RAW%',
  upstream_local_address: '%UPSTREAM_LOCAL_ADDRESS%',
  downstream_local_address: '%DOWNSTREAM_LOCAL_ADDRESS%',
  downstream_remote_address: '%DOWNSTREAM_REMOTE_ADDRESS%',
  requested_server_name: '%REQUESTED_SERVER_NAME%',
  upstream_transport_failure_reason: '%UPSTREAM_TRANSPORT_FAILURE_REASON%',
};

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
