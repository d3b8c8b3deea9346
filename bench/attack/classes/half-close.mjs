// Class 5: half-close attacks. (a) A client without a certificate sends a real ClientHello with Istio's ALPN,
// reads the server's first flight, and sends FIN without an alert: each such connection once stayed in
// CLOSE-WAIT for good (commit e201537). Run against the STRICT tcp port and the mTLS chain of the PERMISSIVE HTTP
// port, 100 at a time. (b) The same shape one protocol later: the HTTP/2 connection preface and an empty
// SETTINGS frame, then FIN, on the HTTP chains (plaintext and mTLS with h2 on B's PERMISSIVE port, and A's
// outbound port), a tenth as many. Either way the proxy must close every one (the client sees the close within
// 3 s), the listeners' downstream_cx_active must come back to where it was, and the fds to the baseline.

import net from 'node:net';
import tls from 'node:tls';
import { pool } from '../lib/clients.mjs';
import { interesting, measured } from '../lib/measure.mjs';
import { pemPair } from '../lib/pki.mjs';
import { statsOf } from '../lib/procs.mjs';

const H2_START = Buffer.concat([
  Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1'),
  Buffer.from([0, 0, 0, 4, 0, 0, 0, 0, 0]), // SETTINGS, empty
]);

/**
 * One half-close attempt: connects (TLS when `context`), writes `bytes`; with `waitReply`, sends FIN once the
 * server has answered, else right after the bytes. Resolves whether the proxy closed its side within 3 s.
 */
function halfClose(port, bytes, { waitReply, context }) {
  return new Promise((resolve) => {
    const s = context
      ? tls.connect({
          host: '127.0.0.1',
          port,
          secureContext: context,
          ALPNProtocols: ['istio-h2', 'h2'],
          servername: 'ratings',
          rejectUnauthorized: false,
          allowHalfOpen: true,
        })
      : net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let replied = false;
    let finished = false;
    const finish = (closed) => {
      if (finished) return;
      finished = true;
      clearTimeout(cap);
      s.destroy();
      resolve({ replied, closed });
    };
    const cap = setTimeout(() => finish(false), 8000);
    const fin = () => {
      s.end();
      setTimeout(() => finish(false), 3000).unref();
    };
    s.on('error', () => finish(true));
    s.on(context ? 'secureConnect' : 'connect', () => {
      s.write(bytes);
      if (!waitReply) fin();
    });
    s.on('data', () => {
      if (replied) return;
      replied = true;
      if (waitReply) fin(); // FIN, no alert
    });
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
  });
}

const activeOf = (stats, listeners) =>
  listeners.reduce((sum, l) => sum + (stats.get(`listener.${l}.downstream_cx_active`) ?? 0), 0);

/** Runs one attack over `targets` ({listener, proxy, port, context?}) and judges it. */
async function attack(ctx, { what, count, concurrency, bytes, waitReply, targets }) {
  const proxies = Object.fromEntries(targets.map((t) => [t.proxy.name, t.proxy]));
  const byProxy = (name) => [...new Set(targets.filter((t) => t.proxy.name === name).map((t) => t.listener))];
  const activeBefore = {};
  for (const [name, p] of Object.entries(proxies))
    activeBefore[name] = activeOf(await statsOf(p), byProxy(name));
  const out = { replied: 0, closed: 0, leftOpen: 0 };
  const m = await measured(
    proxies,
    async () => {
      await pool(count, concurrency, async (i) => {
        const t = targets[i % targets.length];
        const r = await halfClose(t.port, bytes, { waitReply, context: t.context });
        if (r.replied) out.replied++;
        if (r.closed) out.closed++;
        else out.leftOpen++;
      });
    },
    { slack: 16, settleMs: ctx.quick ? 5000 : 15_000 },
  );
  // Connections the proxies still count as open on these listeners, beyond what was open before.
  let activeAfter = 0;
  for (let i = 0; i < 50; i++) {
    activeAfter = 0;
    for (const [name, p] of Object.entries(proxies)) {
      activeAfter += activeOf(await statsOf(p), byProxy(name)) - activeBefore[name];
    }
    if (activeAfter <= 0 || out.leftOpen > 0) break;
    await new Promise((r) => setTimeout(r, 100));
  }
  const pass =
    out.leftOpen === 0 &&
    activeAfter <= 0 &&
    m.crashes === 0 &&
    Object.values(m.procs).every((p) => p.fdsBack) &&
    out.replied > 0;
  const counters = {};
  for (const [name, c] of Object.entries(m.counters)) {
    for (const [k, v] of Object.entries(interesting(c))) counters[name === 'B' ? k : `${name}:${k}`] = v;
  }
  const row = {
    class: '5 half-close',
    target: targets
      .map(
        (t) =>
          `${t.proxy.name === 'B' ? '' : `${t.proxy.name} `}${t.listener}${t.context ? ' (mTLS h2)' : ''}`,
      )
      .join(', '),
    what,
    attempts: count,
    refused: out.closed,
    replied: out.replied,
    leftOpen: out.leftOpen,
    activeAfter,
    appBytes: null,
    crashes: m.crashes,
    crashLogs: m.crashLogs,
    procs: m.procs,
    counters,
    allCounters: m.counters,
    pass,
  };
  const fds = Object.entries(m.procs)
    .map(([k, p]) => `${k} fds ${p.fdsBefore} → ${p.fdsAfter}`)
    .join(', ');
  ctx.log(
    `class 5 ${what}: ${count} attempts, ${out.replied} answered, ${out.leftOpen} left open, ${activeAfter} more active after, ${fds}${pass ? '' : '  FAIL'}`,
  );
  return row;
}

export async function runHalfClose(ctx) {
  const { a, b, ports, pki, halfCloseCount, hellos } = ctx;
  const meshClient = tls.createSecureContext(
    pemPair({ cert: `${pki.client}/cert-chain.pem`, key: `${pki.client}/key.pem` }),
  );
  const rows = [];
  rows.push(
    await attack(ctx, {
      what: 'ClientHello (Istio ALPN), read the reply, FIN without alert',
      count: halfCloseCount,
      concurrency: 100,
      bytes: hellos[0], // Istio's ALPN (istio-peer-exchange, istio)
      waitReply: true,
      targets: [
        { proxy: b, listener: 'strict-tcp', port: ports['strict-tcp'] },
        { proxy: b, listener: 'perm-http-0', port: ports['perm-http-0'] },
      ],
    }),
  );
  rows.push(
    await attack(ctx, {
      what: 'HTTP/2 preface and SETTINGS, then FIN',
      count: Math.max(30, Math.round(halfCloseCount / 10)),
      concurrency: 50,
      bytes: H2_START,
      waitReply: false,
      targets: [
        { proxy: b, listener: 'perm-http-0', port: ports['perm-http-0'] },
        { proxy: b, listener: 'perm-http-0', port: ports['perm-http-0'], context: meshClient },
        { proxy: a, listener: 'outbound-0', port: ports['outbound-0'] },
      ],
    }),
  );
  return rows;
}
