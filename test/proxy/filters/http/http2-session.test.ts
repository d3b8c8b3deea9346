import assert from 'node:assert/strict';
import http2 from 'node:http2';
import net from 'node:net';
import { describe, it } from 'node:test';
import { closeWhenFinished } from '../../../../src/proxy/filters/http/http2-session.js';
import { portOf, until } from './helpers.js';

/** Resolves when `socket` closes; rejects after `ms` (so that the test fails, and its cleanup runs, if it never does). */
function closed(socket: net.Socket, what: string, ms = 5000): Promise<void> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} was not closed within ${ms} ms`)), ms);
    socket.once('close', () => {
      clearTimeout(t);
      resolve();
    });
  });
}

const PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
/** A frame header announcing 0xc53e1b bytes: over SETTINGS_MAX_FRAME_SIZE, a connection error for nghttp2. */
const OVERSIZED_FRAME = Buffer.from('c53e1b04e211a349e8', 'hex');

/** An HTTP/2 server on a half-open-capable listener, as the proxy's; every session armed with closeWhenFinished. */
async function server(onRequest?: (req: http2.Http2ServerRequest, res: http2.Http2ServerResponse) => void) {
  const h2 = http2.createServer();
  h2.on('request', onRequest ?? ((_req, res) => res.end('ok')));
  const sessions: http2.ServerHttp2Session[] = [];
  const errors: number[] = [];
  const armed: boolean[] = [];
  h2.on('session', (s) => {
    s.on('error', () => {});
    sessions.push(s);
    armed.push(closeWhenFinished(s, () => errors.push(sessions.indexOf(s))));
  });
  const sockets: net.Socket[] = [];
  const listener = net.createServer({ allowHalfOpen: true }, (s) => {
    sockets.push(s);
    h2.emit('connection', s);
  });
  await new Promise<void>((r) => listener.listen(0, '127.0.0.1', r));
  return {
    port: portOf(listener),
    sessions,
    errors,
    armed,
    sockets,
    close() {
      for (const s of sockets) s.destroy();
      listener.close();
    },
  };
}

describe('closeWhenFinished: an HTTP/2 connection nghttp2 has finished with is closed', {
  timeout: 15_000,
}, () => {
  it('a frame nghttp2 answers with GOAWAY closes the connection (Node alone leaves it open), counted once', async () => {
    const srv = await server();
    const c = net.connect({ port: srv.port, host: '127.0.0.1' });
    try {
      c.on('error', () => {});
      let reply = Buffer.alloc(0);
      c.on('data', (d: Buffer) => {
        reply = Buffer.concat([reply, d]);
      });
      await new Promise((r) => c.once('connect', r));
      // The client never closes: only the server can end this connection.
      c.write(Buffer.concat([PREFACE, OVERSIZED_FRAME]));
      await closed(c, 'the connection after the GOAWAY');
      assert.deepEqual(srv.armed, [true]);
      assert.deepEqual(srv.errors, [0]);
      assert.ok(srv.sockets[0]?.destroyed);
      // The server's SETTINGS, then its GOAWAY with FRAME_SIZE_ERROR (6) before the close.
      const goaway = reply.indexOf(Buffer.from([0x07, 0x00, 0x00, 0x00, 0x00, 0x00]));
      assert.ok(goaway > 0, reply.toString('hex'));
      assert.equal(reply.readUInt32BE(goaway + 10), http2.constants.NGHTTP2_FRAME_SIZE_ERROR);
    } finally {
      c.destroy();
      srv.close();
    }
  });

  it('a good client: requests are served, an idle session stays open, its GOAWAY closes it without an error', async () => {
    const srv = await server();
    const client = http2.connect(`http://127.0.0.1:${srv.port}`);
    client.on('error', () => {});
    try {
      for (let i = 0; i < 3; i++) {
        const body = await new Promise<string>((resolve, reject) => {
          const q = client.request({ ':path': `/${i}` });
          let got = '';
          q.setEncoding('utf8');
          q.on('data', (d: string) => {
            got += d;
          });
          q.on('end', () => resolve(got));
          q.on('error', reject);
          q.end();
        });
        assert.equal(body, 'ok');
        await new Promise((r) => setTimeout(r, 100));
        assert.equal(srv.sessions[0]?.destroyed, false, `idle after request ${i}`);
      }
      client.close();
      await until(() => srv.sessions[0]?.destroyed === true, 'the server session to close after the GOAWAY');
      assert.deepEqual(srv.errors, []);
    } finally {
      client.destroy();
      srv.close();
    }
  });

  it("the server's own close still waits for its open stream to finish (Node's graceful close runs)", async () => {
    let finish: (() => void) | undefined;
    const srv = await server((_req, res) => {
      res.writeHead(200);
      res.write('part ');
      finish = () => res.end('end');
    });
    const client = http2.connect(`http://127.0.0.1:${srv.port}`);
    client.on('error', () => {});
    try {
      const q = client.request({ ':path': '/' });
      let got = '';
      q.setEncoding('utf8');
      q.on('data', (d: string) => {
        got += d;
      });
      const ended = new Promise((r) => q.on('end', r));
      q.end();
      await until(() => finish !== undefined, 'the request to arrive');
      srv.sessions[0]?.close();
      await new Promise((r) => setTimeout(r, 100));
      assert.equal(srv.sessions[0]?.destroyed, false, 'destroyed with a stream open');
      finish?.();
      await ended;
      assert.equal(got, 'part end');
      await until(() => srv.sessions[0]?.destroyed === true, 'the session to close once its stream ended');
      assert.deepEqual(srv.errors, []);
    } finally {
      client.destroy();
      srv.close();
    }
  });
});
