// Class 5: the half-close attack. A client without a certificate sends a real ClientHello with Istio's ALPN,
// reads the server's first flight, and sends FIN without an alert. Each such connection once stayed in
// CLOSE-WAIT for good (commit e201537). Run against the STRICT tcp port and the mTLS chain of the PERMISSIVE
// HTTP port, 100 at a time: the proxy must close every one (the client sees the close within 3 s), the
// listeners' downstream_cx_active must come back to 0, and B's fds back to the baseline.

import net from 'node:net';
import { pool } from '../lib/clients.mjs';
import { interesting, measured } from '../lib/measure.mjs';
import { statsOf } from '../lib/procs.mjs';

function halfClose(port, hello) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let replied = false;
    let finished = false;
    const finish = (closed) => {
      if (finished) return;
      finished = true;
      clearTimeout(cap);
      s.destroy();
      resolve({ replied, closed });
    };
    const cap = setTimeout(() => finish(false), 6000);
    s.on('error', () => finish(true));
    s.on('connect', () => s.write(hello));
    s.once('data', () => {
      replied = true;
      // FIN, no alert; then wait for the proxy to close its side.
      s.end();
      setTimeout(() => finish(false), 3000).unref();
    });
    s.on('end', () => finish(true));
    s.on('close', () => finish(true));
  });
}

export async function runHalfClose(ctx) {
  const { b, ports, halfCloseCount, hellos, log } = ctx;
  const hello = hellos[0]; // Istio's ALPN (istio-peer-exchange, istio)
  const targets = [
    { listener: 'strict-tcp', port: ports['strict-tcp'] },
    { listener: 'perm-http-0', port: ports['perm-http-0'] },
  ];
  const out = { replied: 0, closed: 0, leftOpen: 0 };
  const m = await measured(
    { B: b },
    async () => {
      await pool(halfCloseCount, 100, async (i) => {
        const r = await halfClose(targets[i % 2].port, hello);
        if (r.replied) out.replied++;
        if (r.closed) out.closed++;
        else out.leftOpen++;
      });
    },
    { slack: 16, settleMs: 15_000 },
  );
  // Connections the proxy still counts as open on the two listeners, after a short wait.
  let active = -1;
  for (let i = 0; i < 50 && active !== 0; i++) {
    const stats = await statsOf(b);
    active = targets.reduce((s, t) => s + (stats.get(`listener.${t.listener}.downstream_cx_active`) ?? 0), 0);
    if (active !== 0) await new Promise((r) => setTimeout(r, 100));
  }
  const proc = m.procs.B;
  const pass = out.leftOpen === 0 && active === 0 && m.crashes === 0 && proc.fdsBack && out.replied > 0;
  const row = {
    class: '5 half-close',
    target: targets.map((t) => t.listener).join(', '),
    what: 'ClientHello (Istio ALPN), read the reply, FIN without alert',
    attempts: halfCloseCount,
    refused: out.closed,
    replied: out.replied,
    leftOpen: out.leftOpen,
    activeAfter: active,
    appBytes: null,
    crashes: m.crashes,
    crashLogs: m.crashLogs,
    procs: m.procs,
    counters: interesting(m.counters.B),
    allCounters: m.counters,
    pass,
  };
  log(
    `class 5 half-close: ${halfCloseCount} attempts, ${out.replied} answered, ${out.leftOpen} left open, active after ${active}, fds ${proc.fdsBefore} → ${proc.fdsAfter}${pass ? '' : '  FAIL'}`,
  );
  return [row];
}
