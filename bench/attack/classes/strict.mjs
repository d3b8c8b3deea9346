// Class 1: refused clients on STRICT ports. For each kind of client a STRICT port must refuse (plaintext, TLS
// without a certificate, a certificate of another CA, expired, not yet valid, naming another trust domain,
// serverAuth-only EKU) N connections send a request line right after their side of the handshake (under TLS 1.3
// that is before the server has checked the certificate; one attempt in four is capped at TLS 1.2), against
// the STRICT tcp_proxy chain and the STRICT HTTP chain. The app counts the bytes that reached it: any byte from
// a refused client fails the class. A control kind (a valid mesh certificate, and openssl's valid leaf) must be
// served, which shows that the app does count what arrives.

import tls from 'node:tls';
import { ALPN_HTTP, ALPN_TCP, attempt, pool } from '../lib/clients.mjs';
import { interesting, measured } from '../lib/measure.mjs';
import { pemPair } from '../lib/pki.mjs';

const REFUSED = [
  'plaintext',
  'no certificate',
  'other CA',
  'expired',
  'not yet valid',
  'wrong SAN',
  'wrong EKU',
];

export async function runStrict(ctx) {
  const { app, b, ports, pki, n, log } = ctx;
  // Two contexts per kind: TLS 1.3 (Node's default) and one capped at TLS 1.2. A version passed to tls.connect
  // next to a secureContext is ignored, so the cap must be in the context.
  const pems = { 'no certificate': {} };
  for (const kind of ['other CA', 'expired', 'not yet valid', 'wrong SAN', 'wrong EKU', 'control']) {
    pems[kind] = pemPair(pki.kinds[kind]);
  }
  pems['mesh client'] = pemPair({ cert: `${pki.client}/cert-chain.pem`, key: `${pki.client}/key.pem` });
  const contexts = {};
  for (const [kind, pem] of Object.entries(pems)) {
    contexts[kind] = {
      tls13: tls.createSecureContext(pem),
      tls12: tls.createSecureContext({ ...pem, maxVersion: 'TLSv1.2' }),
    };
  }
  const rows = [];
  for (const chain of ['tcp', 'http']) {
    const lane = `strict-${chain}`;
    const port = ports[lane];
    const alpn = chain === 'tcp' ? ALPN_TCP : ALPN_HTTP;
    const kinds = [
      ...REFUSED.map((k) => ({ kind: k, attempts: n, refuse: true })),
      { kind: 'control', attempts: Math.min(n, ctx.quick ? 20 : 50), refuse: false },
      { kind: 'mesh client', attempts: Math.min(n, ctx.quick ? 20 : 50), refuse: false },
    ];
    for (const { kind, attempts, refuse } of kinds) {
      await app.drain([lane]);
      const slug = kind.replace(/ /g, '-');
      const outcomes = { served: 0, sent: 0, errors: {} };
      const m = await measured({ B: b }, async () => {
        await pool(attempts, 16, async (i) => {
          const payload = `GET /attack/${slug}/${i} HTTP/1.1\r\nhost: ratings\r\nconnection: close\r\n\r\n`;
          const r = await attempt(port, payload, {
            context: kind === 'plaintext' ? undefined : contexts[kind][i % 4 === 3 ? 'tls12' : 'tls13'],
            alpn,
          });
          if (r.served) outcomes.served++;
          if (r.sent) outcomes.sent++;
          const e = r.served ? 'served' : r.error || 'closed';
          outcomes.errors[e] = (outcomes.errors[e] ?? 0) + 1;
        });
        await new Promise((r) => setTimeout(r, 100));
      });
      const seen = (await app.drain([lane]))[lane];
      const proc = m.procs.B;
      const pass = refuse
        ? outcomes.served === 0 && seen.bytes === 0 && m.crashes === 0 && proc.fdsBack
        : outcomes.served === attempts && seen.bytes > 0 && seen.requests === attempts && m.crashes === 0;
      const row = {
        class: '1 STRICT',
        target: `${lane} (${chain === 'tcp' ? 'tcp_proxy' : 'HTTP'})`,
        what: refuse ? kind : `${kind} (must be served)`,
        attempts,
        refused: attempts - outcomes.served,
        requestSent: outcomes.sent,
        appBytes: seen.bytes,
        appConnections: seen.connections,
        appRequests: seen.requests,
        clientSaw: outcomes.errors,
        crashes: m.crashes,
        crashLogs: m.crashLogs,
        procs: m.procs,
        counters: interesting(m.counters.B),
        allCounters: m.counters,
        pass,
      };
      rows.push(row);
      log(
        `class 1 ${lane} ${kind}: ${row.refused}/${attempts} refused (${outcomes.sent} sent their request), ${seen.bytes} bytes at the app${pass ? '' : '  FAIL'}`,
      );
    }
  }
  return rows;
}
