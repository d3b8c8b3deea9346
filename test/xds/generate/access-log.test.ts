// Access logs from meshConfig (src/xds/generate/access-log.ts): none by default, Istio's text and JSON formats
// and custom ones, the listener copy's NR filter, and that every access_log produced loads in the Skiff proxy.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { type MeshConfigSpec, withMeshDefaults } from '../../../src/config/kinds/mesh-config.js';
import { parseResource } from '../../../src/proxy/config/resource.js';
import { TYPE_URL } from '../../../src/proxy/config/resources/index.js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { type AccessLogSite, accessLog } from '../../../src/xds/generate/access-log.js';

const FILE_LOG = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const SITES: readonly AccessLogSite[] = ['http', 'tcp', 'listener'];

/** Istio's EnvoyTextLogFormat, copied from pilot/pkg/model/telemetry_logging.go (not from the module). */
const ISTIO_TEXT =
  '[%START_TIME%] "%REQ(:METHOD)% %REQ(X-ENVOY-ORIGINAL-PATH?:PATH)% %PROTOCOL%" %RESPONSE_CODE% ' +
  '%RESPONSE_FLAGS% %RESPONSE_CODE_DETAILS% %CONNECTION_TERMINATION_DETAILS% ' +
  '"%UPSTREAM_TRANSPORT_FAILURE_REASON%" %BYTES_RECEIVED% %BYTES_SENT% %DURATION% ' +
  '%RESP(X-ENVOY-UPSTREAM-SERVICE-TIME)% "%REQ(X-FORWARDED-FOR)%" "%REQ(USER-AGENT)%" "%REQ(X-REQUEST-ID)%" ' +
  '"%REQ(:AUTHORITY)%" "%UPSTREAM_HOST%" %UPSTREAM_CLUSTER_RAW% %UPSTREAM_LOCAL_ADDRESS% ' +
  '%DOWNSTREAM_LOCAL_ADDRESS% %DOWNSTREAM_REMOTE_ADDRESS% %REQUESTED_SERVER_NAME% %ROUTE_NAME%\n';

/** Istio's EnvoyJSONLogFormatIstio (telemetry_logging.go), likewise. */
const ISTIO_JSON = {
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

const mesh = (spec: Partial<MeshConfigSpec>): MeshConfigSpec => withMeshDefaults(spec);

/** The one file logger the module must produce, for a site. */
function fileLogger(path: string, logFormat: JsonObject, site: AccessLogSite): JsonObject {
  return {
    name: 'envoy.access_loggers.file',
    typed_config: { '@type': FILE_LOG, path, log_format: logFormat },
    ...(site === 'listener' ? { filter: { response_flag_filter: { flags: ['NR'] } } } : {}),
  };
}

const text = (s: string): JsonObject => ({ text_format_source: { inline_string: s } });

interface Case {
  name: string;
  mesh: Partial<MeshConfigSpec>;
  /** undefined: no access_log at all. */
  format: JsonObject | undefined;
}

const CASES: Case[] = [
  { name: 'no file (Istio default): no access log', mesh: {}, format: undefined },
  {
    name: 'no file, even with an encoding and a format',
    mesh: { accessLogEncoding: 'JSON', accessLogFormat: '{"a":"%START_TIME%"}' },
    format: undefined,
  },
  {
    name: 'TEXT, no format: Istio default text',
    mesh: { accessLogFile: '/dev/stdout' },
    format: text(ISTIO_TEXT),
  },
  {
    name: 'TEXT explicitly, no format: Istio default text',
    mesh: { accessLogFile: '/tmp/a.log', accessLogEncoding: 'TEXT' },
    format: text(ISTIO_TEXT),
  },
  {
    name: 'custom TEXT without a newline: one is added',
    mesh: { accessLogFile: '/dev/stdout', accessLogFormat: '%START_TIME% %RESPONSE_CODE%' },
    format: text('%START_TIME% %RESPONSE_CODE%\n'),
  },
  {
    name: 'custom TEXT with a newline: kept as is',
    mesh: { accessLogFile: '/dev/stdout', accessLogFormat: '%START_TIME%\n' },
    format: text('%START_TIME%\n'),
  },
  {
    name: 'JSON, no format: Istio default JSON',
    mesh: { accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON' },
    format: { json_format: ISTIO_JSON },
  },
  {
    name: 'custom JSON: used as given (nested objects kept)',
    mesh: {
      accessLogFile: '/dev/stdout',
      accessLogEncoding: 'JSON',
      accessLogFormat: '{"code":"%RESPONSE_CODE%","peer":{"addr":"%DOWNSTREAM_REMOTE_ADDRESS%"}}',
    },
    format: { json_format: { code: '%RESPONSE_CODE%', peer: { addr: '%DOWNSTREAM_REMOTE_ADDRESS%' } } },
  },
  {
    name: 'custom JSON that does not parse: Istio default JSON',
    mesh: { accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON', accessLogFormat: '{"code":' },
    format: { json_format: ISTIO_JSON },
  },
  {
    name: 'custom JSON that is an array: Istio default JSON',
    mesh: { accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON', accessLogFormat: '["%START_TIME%"]' },
    format: { json_format: ISTIO_JSON },
  },
  {
    name: 'custom JSON that is a string: Istio default JSON',
    mesh: { accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON', accessLogFormat: '"%START_TIME%"' },
    format: { json_format: ISTIO_JSON },
  },
  {
    name: 'custom JSON that is null: Istio default JSON',
    mesh: { accessLogFile: '/dev/stdout', accessLogEncoding: 'JSON', accessLogFormat: 'null' },
    format: { json_format: ISTIO_JSON },
  },
];

describe('accessLog', () => {
  for (const c of CASES) {
    for (const site of SITES) {
      it(`${c.name} (${site})`, () => {
        const m = mesh(c.mesh);
        const expected = c.format === undefined ? undefined : [fileLogger(m.accessLogFile, c.format, site)];
        assert.deepEqual(accessLog(m, site), expected);
      });
    }
  }

  it('only the listener copy filters on NR (no route / no filter chain matched)', () => {
    const m = mesh({ accessLogFile: '/dev/stdout' });
    assert.deepEqual(accessLog(m, 'listener')?.[0]?.filter, { response_flag_filter: { flags: ['NR'] } });
    assert.equal(accessLog(m, 'http')?.[0]?.filter, undefined);
    assert.equal(accessLog(m, 'tcp')?.[0]?.filter, undefined);
  });

  it('writes to the file meshConfig names', () => {
    const log = accessLog(mesh({ accessLogFile: '/var/log/skiff/access.log' }), 'tcp');
    const logger = log?.[0];
    assert.ok(logger);
    assert.equal((logger.typed_config as JsonObject).path, '/var/log/skiff/access.log');
  });
});

/** A minimal listener with one tcp_proxy: the `listener` log on the listener, the others on the tcp_proxy. */
function tcpProxyListener(log: JsonObject[], site: AccessLogSite): JsonObject {
  return {
    name: 'test_15001',
    address: { socket_address: { address: '127.0.0.1', port_value: 15001 } },
    filter_chains: [
      {
        filters: [
          {
            name: 'envoy.filters.network.tcp_proxy',
            typed_config: {
              '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
              stat_prefix: 'test',
              cluster: 'outbound|9000||foo.ns.svc.cluster.local',
              ...(site === 'listener' ? {} : { access_log: log }),
            },
          },
        ],
      },
    ],
    ...(site === 'listener' ? { access_log: log } : {}),
  };
}

describe('accessLog: every access_log loads in the Skiff proxy (parseResource)', () => {
  for (const c of CASES.filter((x) => x.format !== undefined)) {
    for (const site of SITES) {
      it(`${c.name} (${site})`, () => {
        const log = accessLog(mesh(c.mesh), site);
        assert.ok(log);
        const t = parseResource(TYPE_URL.listener, tcpProxyListener(log, site));
        assert.deepEqual(
          t.diagnostics.filter((d) => d.severity === 'error'),
          [],
        );
        assert.equal(t.name, 'test_15001');
        assert.notEqual(t.value, undefined);
      });
    }
  }

  it('the wrapper itself is checked: a bad access log is refused by the proxy', () => {
    const bad = [{ name: 'envoy.access_loggers.file', typed_config: { '@type': FILE_LOG, path: 7 } }];
    const t = parseResource(TYPE_URL.listener, tcpProxyListener(bad, 'tcp'));
    assert.ok(t.diagnostics.some((d) => d.severity === 'error'));
  });
});
