import assert from 'node:assert/strict';
import { it } from 'node:test';
import { createLogger } from '../../src/core/log.js';

const clock = () => new Date('2026-01-02T03:04:05Z');

it('writes one JSON object per line, with scope and fields, above the level', () => {
  const lines: string[] = [];
  const log = createLogger({ sink: (l) => lines.push(l), level: 'info', clock }).child('ca');
  log.debug('hidden');
  log.info('issued', { identity: 'spiffe://x' });
  log.child('grpc').warn('refused', { reason: 'missing_token' });
  assert.deepEqual(
    lines.map((l) => JSON.parse(l)),
    [
      { time: '2026-01-02T03:04:05.000Z', level: 'info', scope: 'ca', msg: 'issued', identity: 'spiffe://x' },
      {
        time: '2026-01-02T03:04:05.000Z',
        level: 'warn',
        scope: 'ca.grpc',
        msg: 'refused',
        reason: 'missing_token',
      },
    ],
  );
  assert.ok(lines.every((l) => l.endsWith('\n') && !l.slice(0, -1).includes('\n')));
});

it('has a readable form for terminals', () => {
  const lines: string[] = [];
  createLogger({ sink: (l) => lines.push(l), format: 'text', scope: 'ca', clock }).error('boom', { code: 7 });
  assert.deepEqual(lines, ['2026-01-02T03:04:05.000Z ERROR [ca] boom code=7\n']);
});
