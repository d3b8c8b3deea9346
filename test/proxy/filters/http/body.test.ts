import assert from 'node:assert/strict';
import { PassThrough } from 'node:stream';
import { describe, it } from 'node:test';
import {
  type BodySink,
  EMPTY_BODY,
  PushedBody,
  readableSource,
  writableSink,
} from '../../../../src/proxy/filters/http/body.js';

/** A flow that records pause/resume, and a sink that is full after `capacity` writes until drained. */
function rig(capacity = Number.POSITIVE_INFINITY) {
  const log: string[] = [];
  const flow = { pause: () => log.push('pause'), resume: () => log.push('resume') };
  let taken = 0;
  let drain: (() => void) | undefined;
  const sink: BodySink = {
    write(chunk) {
      log.push(`write ${chunk.toString()}`);
      taken++;
      return taken < capacity;
    },
    end() {
      log.push('end');
    },
    onDrain(cb) {
      drain = cb;
    },
  };
  return {
    log,
    flow,
    sink,
    /** The sink empties: it takes `capacity` more writes. */
    drain() {
      taken = 0;
      const cb = drain;
      drain = undefined;
      cb?.();
    },
  };
}

const b = (s: string) => Buffer.from(s);

describe('PushedBody', () => {
  it('keeps chunks that come before the sink, then hands them over in order with the end', () => {
    const r = rig();
    const body = new PushedBody(r.flow);
    body.push(b('a'));
    body.push(b('b'));
    body.end();
    assert.equal(body.delivered, false);
    body.pipeTo(r.sink);
    assert.deepEqual(r.log, ['write a', 'write b', 'end']);
    assert.equal(body.delivered, true);
  });

  it('pauses the socket while the sink is full; the end goes once every chunk is written, full or not', () => {
    const r = rig(1);
    const body = new PushedBody(r.flow);
    body.pipeTo(r.sink);
    body.push(b('1'));
    body.push(b('2'));
    body.end();
    assert.deepEqual(r.log, ['write 1', 'pause']);
    assert.equal(body.delivered, false);
    r.drain();
    assert.deepEqual(r.log, ['write 1', 'pause', 'write 2', 'pause', 'end']);
    assert.equal(body.delivered, false, 'the sink is still full');
    r.drain();
    assert.deepEqual(r.log.slice(-1), ['resume']);
    assert.equal(body.delivered, true);
  });

  it('a discarded body drops what is queued and what comes, and lets the socket go on', () => {
    const r = rig(1);
    const body = new PushedBody(r.flow);
    body.pipeTo(r.sink);
    body.push(b('1'));
    body.push(b('2'));
    body.discard();
    body.push(b('3'));
    body.end();
    assert.deepEqual(r.log, ['write 1', 'pause', 'resume']);
    assert.equal(body.delivered, true);
  });

  it('holds at most 1 MiB before anyone wants the body: the socket pauses, and resumes at pipeTo', () => {
    const r = rig();
    const body = new PushedBody(r.flow);
    const chunk = Buffer.alloc(256 * 1024, 0x61);
    for (let i = 0; i < 4; i++) body.push(chunk);
    assert.equal(r.log.length, 0, '1 MiB is allowed');
    body.push(chunk);
    assert.deepEqual(r.log, ['pause']);
    body.push(chunk);
    assert.deepEqual(r.log, ['pause'], 'paused once');
    body.pipeTo(r.sink);
    assert.equal(r.log.filter((x) => x.startsWith('write')).length, 6);
    assert.equal(r.log.at(-1), 'resume');
  });

  it('a held body whose sink fills at once stays paused until the sink drains', () => {
    const r = rig(1);
    const body = new PushedBody(r.flow);
    const chunk = Buffer.alloc(600 * 1024);
    body.push(chunk);
    body.push(chunk);
    assert.deepEqual(r.log, ['pause']);
    body.pipeTo(r.sink);
    assert.equal(r.log.at(-1), 'pause', 'still paused: the sink is full');
    r.drain();
    r.drain();
    assert.equal(r.log.at(-1), 'resume');
  });
});

describe('node stream adapters', () => {
  it('readableSource and writableSink carry a body through, with its end', async () => {
    const from = new PassThrough();
    const to = new PassThrough();
    const got: Buffer[] = [];
    to.on('data', (c: Buffer) => got.push(c));
    const ended = new Promise<void>((r) => to.once('end', () => r()));
    readableSource(from).pipeTo(writableSink(to));
    from.write('hello ');
    from.end('world');
    await ended;
    assert.equal(Buffer.concat(got).toString(), 'hello world');
  });

  it('EMPTY_BODY ends at once', () => {
    const r = rig();
    EMPTY_BODY.pipeTo(r.sink);
    assert.deepEqual(r.log, ['end']);
  });
});
