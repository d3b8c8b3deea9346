import assert from 'node:assert/strict';
import { it } from 'node:test';
import { parseChoice, parseLabels, parseNamespace, parsePort } from '../../src/cli/args.js';
import { UsageError } from '../../src/cli/io.js';

it('parseLabels', () => {
  assert.deepEqual(parseLabels('--labels', 'app=a, version=v1'), { app: 'a', version: 'v1' });
  assert.deepEqual(parseLabels('--labels', ''), {});
  assert.deepEqual(parseLabels('--labels', 'app.kubernetes.io/name=x,empty='), {
    'app.kubernetes.io/name': 'x',
    empty: '',
  });
  assert.throws(() => parseLabels('--labels', '=x'), UsageError);
  assert.throws(() => parseLabels('--labels', 'a=b c'), /invalid label "a=b c"/);
});

it('parsePort, parseNamespace, parseChoice', () => {
  assert.equal(parsePort('--port', '8080'), 8080);
  assert.throws(() => parsePort('--port', '-1'), /expected an integer in 1-65535/);
  assert.throws(() => parsePort('--port', '1e3'), UsageError);
  assert.equal(parseNamespace('-n', 'shop'), 'shop');
  assert.throws(() => parseNamespace('-n', 'a.b'), /DNS-1123 label/);
  assert.equal(parseChoice('-o', 'json', ['table', 'json']), 'json');
});

it('parseDurationArg and parseListen', async () => {
  const { parseDurationArg, parseListen } = await import('../../src/cli/args.js');
  assert.equal(parseDurationArg('--ttl', '90m'), 5400);
  assert.equal(parseDurationArg('--ttl', '24h'), 86400);
  assert.throws(() => parseDurationArg('--ttl', '10'), /--ttl: invalid duration "10"/);
  assert.throws(() => parseDurationArg('--ttl', '0.5s'), UsageError);
  assert.deepEqual(parseListen('--listen', '127.0.0.1:15012'), { host: '127.0.0.1', port: 15012 });
  assert.deepEqual(parseListen('--listen', '[::1]:0'), { host: '::1', port: 0 });
  assert.throws(() => parseListen('--listen', '127.0.0.1'), /expected host:port/);
  assert.throws(() => parseListen('--listen', '127.0.0.1:99999'), UsageError);
});
