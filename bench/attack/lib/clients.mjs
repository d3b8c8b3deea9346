// The attacking clients: one connection each, bounded in time, never throwing. `attempt` is a hostile (or control)
// client that sends a request after its handshake and says whether the app answered; `exchange` sends raw bytes
// (plaintext or over mTLS) and collects the responses and how the connection ended; `captureClientHello`
// records the ClientHello Node's TLS client really sends, for the half-close and fuzz classes.

import net from 'node:net';
import tls from 'node:tls';
import { ResponseReader } from './http1.mjs';

export const SNI = 'outbound_.9080_._.ratings.bookinfo.svc.cluster.local';
export const ALPN_TCP = ['istio-peer-exchange', 'istio'];
export const ALPN_HTTP = ['istio-http/1.1', 'istio', 'http/1.1'];

/** A TLS or plaintext socket to `port`: `context` undefined means plaintext. */
function open(port, { context, alpn }) {
  if (context === undefined) return net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
  return tls.connect({
    host: '127.0.0.1',
    port,
    servername: SNI,
    ALPNProtocols: alpn,
    secureContext: context,
    rejectUnauthorized: false,
    allowHalfOpen: true,
  });
}

/**
 * One client of class 1: connects (TLS with `context`, or plaintext), sends `payload` as soon as it may (right
 * after its side of the handshake: with TLS 1.3 that is before the server has checked its certificate), and
 * reads until the server closes or `timeoutMs`. `served`: the app's answer came back; `sent`: the request was
 * written (the client's side of the handshake completed).
 */
export function attempt(port, payload, { context, alpn, timeoutMs = 5000 }) {
  return new Promise((resolve) => {
    const s = open(port, { context, alpn });
    let got = '';
    let error = '';
    let sent = false;
    const timer = setTimeout(() => {
      error ||= 'timeout';
      s.destroy();
    }, timeoutMs);
    s.on(context === undefined ? 'connect' : 'secureConnect', () => {
      sent = true;
      s.write(payload);
    });
    s.on('data', (d) => {
      got += d.toString('latin1');
      if (got.includes('x-app-lane')) s.end();
    });
    s.on('end', () => s.end());
    s.on('error', (e) => {
      error ||= e.code ?? e.message;
    });
    s.on('close', () => {
      clearTimeout(timer);
      resolve({ served: got.includes('x-app-lane'), sent, bytesIn: got.length, error });
    });
  });
}

/**
 * Sends `parts` (Buffers, or numbers: a pause in ms) on one connection and reads responses until the server
 * closes, or `expect` responses have come and nothing more arrives for `settleMs`, or nothing at all arrives
 * for `quietMs`. Returns the responses (status, whether the app sent it), how it ended, and the bytes read.
 */
export function exchange(
  port,
  parts,
  { context, alpn, expect = 1, settleMs = 120, quietMs = 1000, capMs = 6000 },
) {
  return new Promise((resolve) => {
    const s = open(port, { context, alpn });
    const reader = new ResponseReader();
    const responses = [];
    let ended = '';
    let error = '';
    let raw = 0;
    let quiet;
    let sent = false;
    const cap = setTimeout(() => finish('cap'), capMs);
    const arm = () => {
      clearTimeout(quiet);
      const done = responses.filter((r) => r.status >= 200).length >= expect;
      quiet = setTimeout(() => finish(done ? 'settled' : 'quiet'), done ? settleMs : quietMs);
    };
    const take = (list) => {
      for (const r of list) {
        responses.push({
          status: r.status,
          app: r.headers['x-app-seq'] !== undefined,
          appError: r.headers['x-app-error'] !== undefined,
          flags: r.headers['x-skiff-response-flags'],
        });
      }
    };
    function finish(how) {
      if (ended) return;
      ended = how;
      clearTimeout(quiet);
      clearTimeout(cap);
      s.destroy();
    }
    const send = async () => {
      for (const p of parts) {
        if (typeof p === 'number') await new Promise((r) => setTimeout(r, p));
        else if (!s.destroyed) s.write(p);
      }
      sent = true;
      arm();
    };
    s.on(context === undefined ? 'connect' : 'secureConnect', () => {
      send();
    });
    s.on('data', (d) => {
      raw += d.length;
      take(reader.push(d));
      if (sent) arm();
    });
    s.on('end', () => {
      take(reader.end());
      finish('closed');
    });
    s.on('error', (e) => {
      error ||= e.code ?? e.message;
      finish('closed');
    });
    s.on('close', () => {
      if (!ended) finish('closed');
      resolve({ responses, ended, error, raw, garbage: reader.garbage });
    });
  });
}

/** The bytes of the ClientHello Node sends with these options (captured by a local server that answers nothing). */
export async function captureClientHello({ alpn, servername = SNI, maxVersion }) {
  const got = [];
  const server = net.createServer((s) => {
    s.on('data', (d) => {
      got.push(d);
      // A whole record: 5-byte header and its length.
      const all = Buffer.concat(got);
      if (all.length >= 5 && all.length >= 5 + all.readUInt16BE(3)) s.destroy();
    });
    s.on('error', () => {});
  });
  await new Promise((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address();
  await new Promise((resolve) => {
    const c = tls.connect({
      host: '127.0.0.1',
      port,
      servername,
      ALPNProtocols: alpn,
      rejectUnauthorized: false,
      ...(maxVersion ? { maxVersion } : {}),
    });
    c.on('error', () => resolve());
    c.on('close', () => resolve());
  });
  await new Promise((r) => server.close(r));
  return Buffer.concat(got);
}

/** Runs `total` tasks with at most `concurrency` at once; `task(i)` is awaited. */
export async function pool(total, concurrency, task) {
  let next = 0;
  const worker = async () => {
    while (next < total) {
      const i = next++;
      await task(i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(concurrency, total) }, worker));
}

/** A good request through `port` (plaintext, or mTLS with `context`): true when the app answered 200. */
export async function goodRequest(port, context, lane) {
  const r = await exchange(
    port,
    [Buffer.from(`GET /good HTTP/1.1\r\nhost: ratings\r\nconnection: close\r\n\r\n`)],
    {
      context,
      alpn: ALPN_HTTP,
      expect: 1,
      settleMs: 0,
      quietMs: 5000,
      capMs: 8000,
    },
  );
  const ok = r.responses.some((x) => x.status === 200 && x.app);
  return ok ? { ok } : { ok, why: `${lane}: ${JSON.stringify(r)}` };
}
