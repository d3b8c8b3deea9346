// What translating one resource collects besides its value: problems with their paths, references by kind,
// inline TLS material as secrets named after where it was written; `translated` packs them, and withholds the
// value when there is an error.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { PathSegment } from '../../../src/core/field-path.js';
import { TranslateContext, translated } from '../../../src/proxy/config/context.js';
import { PROXY_EXTENSIONS } from '../../../src/proxy/extensions.js';
import { error, problems, warning } from './fixtures.js';

describe('TranslateContext', () => {
  it('starts empty, not failed, with an unspecified traffic direction', () => {
    const ctx = new TranslateContext(PROXY_EXTENSIONS);
    assert.equal(ctx.registry, PROXY_EXTENSIONS);
    assert.deepEqual([ctx.diagnostics, ctx.refs, ctx.inlineSecrets], [[], [], []]);
    assert.equal(ctx.failed, false);
    assert.equal(ctx.direction, 'UNSPECIFIED');
  });

  it('records errors and warnings in order; only an error makes it failed', () => {
    const ctx = new TranslateContext(PROXY_EXTENSIONS);
    ctx.warn(['a', 0], 'proxy.w', 'careful');
    assert.equal(ctx.failed, false);
    ctx.error(['b'], 'proxy.e', 'wrong');
    assert.equal(ctx.failed, true);
    assert.deepEqual(problems(ctx.diagnostics), [
      warning('a[0]', 'proxy.w', 'careful'),
      error('b', 'proxy.e', 'wrong'),
    ]);
  });

  it('copies the paths it is given, so a caller reusing its array changes nothing recorded', () => {
    const ctx = new TranslateContext(PROXY_EXTENSIONS);
    const path: PathSegment[] = ['x'];
    ctx.error(path, 'c', 'm');
    ctx.ref('cluster', 'app', path);
    ctx.inlineSecret({ validationContext: { sanMatchers: [] } }, path);
    path.push('changed');
    assert.deepEqual(ctx.diagnostics[0]?.path, ['x']);
    assert.deepEqual(ctx.refs[0]?.path, ['x']);
    assert.equal(ctx.inlineSecrets[0]?.name, 'inline:x');
  });

  it('records references with their kind, name, path and effect (omitted when none is given)', () => {
    const ctx = new TranslateContext(PROXY_EXTENSIONS);
    ctx.ref('cluster', 'inbound|9080||', ['route', 'cluster'], '503 NC');
    ctx.ref('secret', 'default', ['sds', 0, 'name']);
    ctx.ref('route_configuration', '8080', ['rds', 'route_config_name']);
    assert.deepEqual(ctx.refs, [
      { kind: 'cluster', name: 'inbound|9080||', path: ['route', 'cluster'], effect: '503 NC' },
      { kind: 'secret', name: 'default', path: ['sds', 0, 'name'] },
      { kind: 'route_configuration', name: '8080', path: ['rds', 'route_config_name'] },
    ]);
    assert.equal('effect' in (ctx.refs[1] ?? {}), false);
  });

  it('names an inline secret after the path it was written at and returns that name', () => {
    const ctx = new TranslateContext(PROXY_EXTENSIONS);
    const tlsCertificate = {
      certificateChain: { kind: 'file' as const, filename: 'c.pem' },
      privateKey: { kind: 'file' as const, filename: 'k.pem' },
    };
    const name = ctx.inlineSecret({ tlsCertificate }, ['filter_chains', 0, 'tls_certificates', 1]);
    assert.equal(name, 'inline:filter_chains[0].tls_certificates[1]');
    assert.deepEqual(ctx.inlineSecrets, [{ name, inline: true, tlsCertificate }]);
  });

  it('gives inline secrets at different paths different names', () => {
    const ctx = new TranslateContext(PROXY_EXTENSIONS);
    const a = ctx.inlineSecret({ validationContext: { sanMatchers: [] } }, ['a', 'validation_context']);
    const b = ctx.inlineSecret({ validationContext: { sanMatchers: [] } }, ['b', 'validation_context']);
    assert.notEqual(a, b);
  });
});

describe('translated', () => {
  it('packs the value with what the translation collected, in a fresh context each time', () => {
    const contexts: TranslateContext[] = [];
    const run = () =>
      translated(PROXY_EXTENSIONS, (ctx) => {
        contexts.push(ctx);
        ctx.warn(['w'], 'proxy.w', 'careful');
        ctx.ref('cluster', 'app', ['c']);
        ctx.inlineSecret({ validationContext: { sanMatchers: [] } }, ['v']);
        return 42;
      });
    const t = run();
    run();
    assert.equal(t.value, 42);
    assert.deepEqual(problems(t.diagnostics), [warning('w', 'proxy.w', 'careful')]);
    assert.deepEqual(
      t.refs.map((r) => r.name),
      ['app'],
    );
    assert.deepEqual(
      t.inlineSecrets.map((s) => s.name),
      ['inline:v'],
    );
    assert.equal(contexts.length, 2);
    assert.notEqual(contexts[0], contexts[1]);
    assert.equal(contexts[0]?.registry, PROXY_EXTENSIONS);
  });

  it('withholds the value when there is an error, and keeps everything else', () => {
    const t = translated(PROXY_EXTENSIONS, (ctx) => {
      ctx.error(['x'], 'proxy.e', 'wrong');
      ctx.ref('secret', 's', ['y']);
      return 'value';
    });
    assert.equal(t.value, undefined);
    assert.deepEqual(problems(t.diagnostics), [error('x', 'proxy.e', 'wrong')]);
    assert.equal(t.refs.length, 1);
  });
});
