// The real `skiff` command in a child process, and `skiff/policy` imported by plain node.

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, describe, it } from 'node:test';
import { fixture, repoRoot } from '../helpers.js';

const SKIFF = path.join(repoRoot, 'bin', 'skiff.js');

function run(args: string[], cwd = repoRoot) {
  const r = spawnSync(process.execPath, args, { cwd, encoding: 'utf8', timeout: 20_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

describe('skiff command (real process)', () => {
  it('x authn -o json prints only JSON on stdout and exits 0', () => {
    const r = run([
      SKIFF,
      'x',
      'authn',
      '--config',
      'examples/permissive',
      '--workload',
      'service-b',
      '--port',
      '9090',
      '-o',
      'json',
    ]);
    assert.equal(r.code, 0, r.err);
    const report = JSON.parse(r.out);
    assert.equal(report.port.mode, 'STRICT');
    assert.equal(r.err, '');
  });

  it('an invalid folder exits 2 with messages and no stack trace', () => {
    const r = run([
      SKIFF,
      'x',
      'authn',
      '--config',
      fixture('config', 'invalid', 'peer-authentication'),
      '-l',
      'app=b',
    ]);
    assert.equal(r.code, 2);
    assert.equal(r.out, '');
    assert.match(
      r.err,
      /ports-without-selector\.yaml:9 \(document 1\) PeerAuthentication shop\/example: spec\.portLevelMtls: mesh\/namespace peer authentication cannot have port level mTLS/,
    );
    assert.doesNotMatch(r.err, /\n\s+at /);
  });

  it('a bad argument exits 2', () => {
    const r = run([SKIFF, 'x', 'authn', '--config', 'examples/permissive', '-l', 'app=x', '--port', '70000']);
    assert.equal(r.code, 2);
    assert.match(r.err, /--port: invalid port "70000"/);
  });

  it('the demo script runs', () => {
    const r = spawnSync('npm', ['run', '--silent', 'demo'], {
      cwd: repoRoot,
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stdout, /decided by shop\/service-b/);
  });
});

describe('skiff/policy as a package', () => {
  const script = `import('skiff/policy').then((m) => {
    const r = m.effectivePeerAuthentication([{ metadata: { name: 'd', namespace: 'ns' }, spec: { mtls: { mode: 'STRICT' } } }], { namespace: 'ns', labels: {} });
    process.stdout.write(JSON.stringify(r));
  })`;
  const dirs: string[] = [];
  after(() => {
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  it('resolves by name from inside the package', () => {
    const r = run(['--input-type=module', '-e', script]);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), { mode: 'STRICT', perPort: {} });
  });

  it('resolves from another project that depends on it', () => {
    const project = mkdtempSync(path.join(tmpdir(), 'skiff-consumer-'));
    dirs.push(project);
    mkdirSync(path.join(project, 'node_modules'));
    symlinkSync(repoRoot, path.join(project, 'node_modules', 'skiff'), 'dir');
    const r = run(['--input-type=module', '-e', script], project);
    assert.equal(r.code, 0, r.err);
    assert.deepEqual(JSON.parse(r.out), { mode: 'STRICT', perPort: {} });
  });
});

describe('skiff x authn on networking resources (real process)', () => {
  it('real Istio YAML loads: exit 0', () => {
    const r = run([
      SKIFF,
      'x',
      'authn',
      '--config',
      fixture('config', 'istio-real'),
      '-n',
      'default',
      '-l',
      'app=x',
      '-o',
      'json',
    ]);
    assert.equal(r.code, 0, r.err);
    assert.match(JSON.parse(r.out).mode, /^(STRICT|PERMISSIVE|DISABLE)$/);
  });

  it('an invalid DestinationRule: exit 2, naming file, document, resource, field path, value and rule', () => {
    const dir = mkdtempSync(path.join(tmpdir(), 'skiff-invalid-dr-'));
    try {
      const text = `apiVersion: networking.istio.io/v1
kind: Service
metadata: {name: x}
---
apiVersion: networking.istio.io/v1beta1
kind: DestinationRule
metadata: {name: reviews, namespace: shop}
spec:
  host: reviews
  trafficPolicy:
    tls:
      mode: MUTUAL
      sni: reviews.shop
`;
      writeFileSync(path.join(dir, 'rules.yaml'), text);
      const r = run([SKIFF, 'x', 'authn', '--config', dir, '-l', 'app=x']);
      assert.equal(r.code, 2);
      assert.equal(r.out, '');
      assert.match(r.err, /rules\.yaml:2 \(document 1\).*unknown kind "Service" in networking\.istio\.io/);
      assert.match(
        r.err,
        /rules\.yaml:11 \(document 2\) DestinationRule shop\/reviews: spec\.trafficPolicy\.tls: client certificate required for mutual tls/,
      );
      assert.doesNotMatch(r.err, /\n\s+at /);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
