import assert from 'node:assert/strict';
import path from 'node:path';
import { describe, it } from 'node:test';
import { fixture, repoRoot } from '../../helpers.js';
import { runCli } from '../helpers.js';

const EXAMPLE = path.join(repoRoot, 'examples', 'permissive');

describe('skiff x authn', () => {
  it('-o json: mode, per-port, port, decidedBy, applied, warnings', async () => {
    const r = await runCli([
      'x',
      'authn',
      '--config',
      EXAMPLE,
      '--namespace',
      'shop',
      '--labels',
      'app=service-b,version=v1',
      '--port',
      '9090',
      '-o',
      'json',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.equal(r.err, '');
    const report = JSON.parse(r.out);
    assert.equal(report.mode, 'PERMISSIVE');
    assert.deepEqual(report.perPort, { '9090': 'STRICT' });
    assert.deepEqual(report.port, {
      number: 9090,
      mode: 'STRICT',
      decidedBy: {
        kind: 'PeerAuthentication',
        namespace: 'shop',
        name: 'service-b',
        level: 'workload',
        portLevel: true,
      },
    });
    assert.deepEqual(report.decidedBy, {
      kind: 'PeerAuthentication',
      namespace: 'shop',
      name: 'service-b',
      level: 'workload',
    });
    assert.deepEqual(report.applied, [
      { namespace: 'istio-system', name: 'default', level: 'mesh', mode: 'PERMISSIVE' },
      { namespace: 'shop', name: 'default', level: 'namespace', mode: 'STRICT' },
      { namespace: 'shop', name: 'service-b', level: 'workload', mode: 'PERMISSIVE' },
    ]);
    assert.deepEqual(report.warnings, []);
  });

  it('a port without a port-level setting takes the workload mode', async () => {
    const r = await runCli([
      'x',
      'authn',
      '-c',
      EXAMPLE,
      '-n',
      'shop',
      '-l',
      'app=service-b',
      '-p',
      '8080',
      '-o',
      'json',
    ]);
    assert.deepEqual(JSON.parse(r.out).port, {
      number: 8080,
      mode: 'PERMISSIVE',
      decidedBy: { kind: 'PeerAuthentication', namespace: 'shop', name: 'service-b', level: 'workload' },
    });
  });

  it('--workload takes namespace and labels from the Workload', async () => {
    const r = await runCli(['x', 'authn', '-c', EXAMPLE, '--workload', 'frontend', '-o', 'json']);
    const report = JSON.parse(r.out);
    assert.deepEqual(report.workload, {
      namespace: 'shop',
      labels: { app: 'frontend', version: 'v1' },
      name: 'frontend',
      sidecar: true,
    });
    assert.equal(report.mode, 'STRICT');
    assert.equal(report.decidedBy.level, 'namespace');
  });

  it('nothing applies: PERMISSIVE by default', async () => {
    const r = await runCli([
      'x',
      'authn',
      '-c',
      fixture('config', 'tree', 'nested', 'b.yml'),
      '-n',
      'elsewhere',
      '-l',
      '',
      '-o',
      'json',
    ]);
    const report = JSON.parse(r.out);
    assert.equal(report.mode, 'PERMISSIVE');
    assert.deepEqual(report.decidedBy, { kind: null, namespace: null, name: null, level: 'default' });
    assert.deepEqual(report.applied, []);
  });

  it('the table names the deciding policy and the per-port modes', async () => {
    const r = await runCli(['x', 'authn', '-c', EXAMPLE, '-w', 'service-b', '-p', '9090']);
    assert.equal(r.code, 0);
    assert.match(r.out, /^Mode: +PERMISSIVE +decided by shop\/service-b \(workload level\)$/m);
    assert.match(
      r.out,
      /^Port 9090: +STRICT +decided by shop\/service-b \(workload level, portLevelMtls\)$/m,
    );
    assert.match(r.out, /^ +9090 +STRICT$/m);
    assert.match(r.out, /^ +workload +shop\/service-b +PERMISSIVE +<- decides$/m);
  });

  it('the table says when a workload has no sidecar', async () => {
    const r = await runCli(['x', 'authn', '-c', EXAMPLE, '-w', 'service-c']);
    assert.match(r.out, /no sidecar/);
  });

  it('an invalid folder: exit 2, every error on stderr with file, line, resource and field, nothing on stdout', async () => {
    const dir = fixture('cli', 'invalid');
    const r = await runCli(['x', 'authn', '-c', dir, '-n', 'shop', '-l', 'app=b', '-o', 'json']);
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    const file = path.join(dir, 'mixed.yaml');
    assert.ok(
      r.err.includes(
        `error: ${file}:10 (document 2) PeerAuthentication shop/bad-mode: spec.mtls.mode: invalid value "STRICTT": expected one of UNSET, DISABLE, PERMISSIVE, STRICT [SKIFF_CONFIG_ENUM]`,
      ),
      r.err,
    );
    assert.ok(
      r.err.includes(`${file}:16 (document 3) PeerAuthentication shop/bad-ports: spec.portLevelMtls:`),
      r.err,
    );
    assert.match(r.err, /2 invalid entries; nothing evaluated/);
  });

  it('bad arguments: exit 2 with the option, the value and what is allowed', async () => {
    const cases: [string[], RegExp][] = [
      [['--port', '0'], /--port: invalid port "0": expected an integer in 1-65535/],
      [['--port', 'http'], /--port: invalid port "http"/],
      [['--labels', 'app'], /--labels: invalid label "app": expected key=value pairs/],
      [['--labels', 'a=1,a=2'], /label "a" is given twice/],
      [['--namespace', 'Bad_NS', '-l', 'a=b'], /--namespace: invalid namespace "Bad_NS"/],
      [['-l', 'a=b', '-o', 'yaml'], /--output: invalid value "yaml": expected one of table, json/],
      [['-w', 'nope'], /--workload: no Workload "nope" in any namespace; known: /],
      [[], /give the workload: --labels/],
      [['-l', 'a=b', '--bogus'], /unknown option '--bogus'/],
    ];
    for (const [args, message] of cases) {
      const r = await runCli([
        'x',
        'authn',
        '-c',
        EXAMPLE,
        ...(args.includes('--labels') || args.includes('-l') || args.includes('-w') || args.length === 0
          ? []
          : ['-l', 'a=b']),
        ...args,
      ]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, message);
      assert.doesNotMatch(r.err, /\n\s+at /, 'no stack trace');
    }
  });

  it('--config is required', async () => {
    const r = await runCli(['x', 'authn', '-l', 'a=b']);
    assert.equal(r.code, 2);
    assert.match(r.err, /required option '-c, --config <dir>' not specified/);
  });

  it('--help and --version exit 0', async () => {
    assert.equal((await runCli(['--version'])).code, 0);
    const help = await runCli(['x', 'authn', '--help']);
    assert.equal(help.code, 0);
    assert.match(help.out, /--config <dir>/);
  });
});
