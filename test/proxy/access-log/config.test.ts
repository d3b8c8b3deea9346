// `access_log` entries as the configuration reads them: the file, stdout and stderr loggers, their formats
// (Envoy's default when none), filters, and every refusal with its path and Envoy's message.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { formatDiagnostic } from '../../../src/core/diagnostics.js';
import { parseBootstrap } from '../../../src/proxy/config/load.js';

const FILE = 'type.googleapis.com/envoy.extensions.access_loggers.file.v3.FileAccessLog';
const STDOUT = 'type.googleapis.com/envoy.extensions.access_loggers.stream.v3.StdoutAccessLog';

function withLogs(accessLog: object[]) {
  return JSON.stringify({
    static_resources: {
      listeners: [
        {
          name: 'l',
          address: { socket_address: { address: '127.0.0.1', port_value: 15006 } },
          access_log: accessLog,
          filter_chains: [
            {
              filters: [
                {
                  name: 'envoy.filters.network.tcp_proxy',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
                    stat_prefix: 'app',
                    cluster: 'app',
                  },
                },
              ],
            },
          ],
        },
      ],
      clusters: [
        {
          name: 'app',
          load_assignment: {
            cluster_name: 'app',
            endpoints: [
              {
                lb_endpoints: [
                  { endpoint: { address: { socket_address: { address: '127.0.0.1', port_value: 9 } } } },
                ],
              },
            ],
          },
        },
      ],
    },
  });
}

const load = (logs: object[]) => parseBootstrap(withLogs(logs), 'b.json');
const errors = (logs: object[]) =>
  load(logs)
    .diagnostics.filter((d) => d.severity === 'error')
    .map(formatDiagnostic)
    .join('\n');

describe('access_log configuration', () => {
  it('reads a file logger, a stdout logger, /dev/stdout and a filter', () => {
    const loaded = load([
      {
        name: 'f',
        typed_config: { '@type': FILE, path: '/tmp/x.log' },
        filter: {
          status_code_filter: { comparison: { op: 'GE', value: { default_value: 500, runtime_key: 'k' } } },
        },
      },
      { name: 's', typed_config: { '@type': STDOUT, log_format: { text_format: '%RESPONSE_CODE%\n' } } },
      { name: 'd', typed_config: { '@type': FILE, path: '/dev/stdout', format: '%PROTOCOL%\n' } },
    ]);
    assert.deepEqual(loaded.diagnostics.map(formatDiagnostic), []);
    const logs = loaded.config?.listeners[0]?.accessLogs ?? [];
    assert.deepEqual(
      logs.map((l) => [l.name, l.sink]),
      [
        ['f', { kind: 'file', path: '/tmp/x.log' }],
        ['s', { kind: 'stdout' }],
        ['d', { kind: 'stdout' }],
      ],
    );
    assert.ok(logs[0]?.filter, 'the filter is compiled');
    assert.equal(logs[1]?.filter, undefined);
  });

  const refused: [string, object[], RegExp][] = [
    [
      'an operator Envoy does not have',
      [{ name: 'f', typed_config: { '@type': FILE, path: '/tmp/x', log_format: { text_format: '%NOPE%' } } }],
      /access_log\[0\]\.typed_config\.log_format: Not supported field in StreamInfo: NOPE/,
    ],
    [
      'a broken format string',
      [
        {
          name: 'f',
          typed_config: { '@type': FILE, path: '/tmp/x', log_format: { text_format: 'a %RESPONSE_CODE' } },
        },
      ],
      /log_format: Incorrect configuration: a %RESPONSE_CODE\. Couldn't find valid command at position 2/,
    ],
    [
      'an unknown response flag in a filter',
      [
        {
          name: 'f',
          typed_config: { '@type': FILE, path: '/tmp/x' },
          filter: { response_flag_filter: { flags: ['XX'] } },
        },
      ],
      /access_log\[0\]\.filter: .*flags/,
    ],
    [
      'a formatter other than req_without_query',
      [
        {
          name: 'f',
          typed_config: {
            '@type': FILE,
            path: '/tmp/x',
            log_format: {
              text_format: 'x',
              formatters: [
                {
                  name: 'tcp',
                  typed_config: {
                    '@type': 'type.googleapis.com/envoy.extensions.filters.network.tcp_proxy.v3.TcpProxy',
                    stat_prefix: 's',
                    cluster: 'c',
                  },
                },
              ],
            },
          },
        },
      ],
      /log_format\.formatters\[0\]: formatter tcp is not implemented; expected envoy\.formatter\.req_without_query/,
    ],
    [
      'a logger Skiff does not have',
      [{ name: 'envoy.access_loggers.open_telemetry' }],
      /access_log\[0\]\.name: access logger "envoy\.access_loggers\.open_telemetry" is not implemented; expected envoy\.access_loggers\.file, envoy\.access_loggers\.stdout, envoy\.access_loggers\.stderr/,
    ],
    [
      'a filter Skiff does not implement',
      [
        {
          name: 'f',
          typed_config: { '@type': FILE, path: '/tmp/x' },
          filter: { not_health_check_filter: {} },
        },
      ],
      /filter\.not_health_check_filter: .*not implemented/,
    ],
  ];
  for (const [what, logs, expected] of refused) {
    it(`refuses ${what}`, () => assert.match(errors(logs), expected));
  }

  it('REQ_WITHOUT_QUERY needs its formatter, as Envoy', () => {
    const format = { text_format: '%REQ_WITHOUT_QUERY(:PATH)%\n' };
    assert.match(
      errors([{ name: 'f', typed_config: { '@type': FILE, path: '/tmp/x', log_format: format } }]),
      /Not supported field in StreamInfo: REQ_WITHOUT_QUERY/,
    );
    const withFormatter = {
      ...format,
      formatters: [
        {
          name: 'envoy.formatter.req_without_query',
          typed_config: {
            '@type': 'type.googleapis.com/envoy.extensions.formatter.req_without_query.v3.ReqWithoutQuery',
          },
        },
      ],
    };
    assert.equal(
      errors([{ name: 'f', typed_config: { '@type': FILE, path: '/tmp/x', log_format: withFormatter } }]),
      '',
    );
  });
});
