// Class 4: fuzzed connections. Random bytes, prefixes of real ClientHellos (captured from Node's TLS client) and
// of valid HTTP requests, mutated copies of both, the HTTP/2 preface with random frames, a ClientHello followed
// by garbage, sent whole or in small pieces; each connection then waits for the proxy, half-closes, resets
// (RST) or goes away after a random delay. Targets are every listener of B and A's outbound port, at moderate
// concurrency. Throughout, a good client sends a request every 200 ms over A → mTLS → B and over mTLS straight
// to B, and /ready of both proxies is polled: the proxies must not crash, /ready must say LIVE, the good
// client must keep working, no byte may reach the app through a STRICT port, and fds must come back.
// Deterministic for a seed (--seed), so that a failure can be replayed.

import net from 'node:net';
import tls from 'node:tls';
import { goodRequest, pool } from '../lib/clients.mjs';
import { interesting, measured } from '../lib/measure.mjs';
import { pemPair } from '../lib/pki.mjs';
import { readyOf } from '../lib/procs.mjs';

/** mulberry32: a small seeded PRNG. */
function prng(seed) {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const HTTP_SAMPLES = [
  'GET / HTTP/1.1\r\nhost: ratings\r\n\r\n',
  'POST /x HTTP/1.1\r\nhost: ratings\r\ncontent-length: 5\r\n\r\nhello',
  'POST /x HTTP/1.1\r\nhost: ratings\r\ntransfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n',
  'GET /ws HTTP/1.1\r\nhost: ratings\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n',
].map((s) => Buffer.from(s, 'latin1'));
const H2_PREFACE = Buffer.from('PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n', 'latin1');
const SPECIAL = [0, 10, 13, 32, 58, 0x7f, 0xff, 0x16, 0x03];

function mutate(rnd, buf) {
  const out = Buffer.from(buf);
  const edits = 1 + Math.floor(rnd() * 8);
  for (let i = 0; i < edits && out.length > 0; i++) {
    const at = Math.floor(rnd() * out.length);
    const pick = rnd();
    if (pick < 0.5) out[at] = Math.floor(rnd() * 256);
    else if (pick < 0.8) out[at] = SPECIAL[Math.floor(rnd() * SPECIAL.length)];
    else out[at] ^= 1 << Math.floor(rnd() * 8);
  }
  return out;
}

const randomBytes = (rnd, n) => Buffer.from(Array.from({ length: n }, () => Math.floor(rnd() * 256)));

/** One fuzz connection's plan: what to send, how (whole or in pieces), how to end. */
function plan(rnd, hellos, targets) {
  const hello = hellos[Math.floor(rnd() * hellos.length)];
  const http = HTTP_SAMPLES[Math.floor(rnd() * HTTP_SAMPLES.length)];
  const kinds = [
    ['random bytes', () => randomBytes(rnd, 1 + Math.floor(rnd() * 1500))],
    ['ClientHello prefix', () => hello.subarray(0, 1 + Math.floor(rnd() * hello.length))],
    ['mutated ClientHello', () => mutate(rnd, hello)],
    [
      'mutated ClientHello prefix',
      () => mutate(rnd, hello.subarray(0, 1 + Math.floor(rnd() * hello.length))),
    ],
    ['ClientHello then garbage', () => Buffer.concat([hello, randomBytes(rnd, 1 + Math.floor(rnd() * 600))])],
    ['HTTP prefix', () => http.subarray(0, 1 + Math.floor(rnd() * http.length))],
    ['mutated HTTP', () => mutate(rnd, http)],
    [
      'HTTP/2 preface and random frames',
      () => Buffer.concat([H2_PREFACE, randomBytes(rnd, Math.floor(rnd() * 400))]),
    ],
  ];
  const [kind, make] = kinds[Math.floor(rnd() * kinds.length)];
  const endings = ['wait', 'half-close', 'reset', 'leave after a delay'];
  return {
    kind,
    bytes: make(),
    pieces: rnd() < 0.25 ? 1 + Math.floor(rnd() * 6) : 1,
    ending: endings[Math.floor(rnd() * endings.length)],
    delay: Math.floor(rnd() * 100),
    target: targets[Math.floor(rnd() * targets.length)],
  };
}

/**
 * Downstream connections the proxies still hold that a fuzz client opened (matched by its source port), once
 * every client is gone: waits up to 5 s for them to close, then returns each with the plan that made it.
 */
async function leftoverConnections(proxies, plans) {
  // Keyed by source and destination port: a source port alone is reused (by later clients, and by proxy A's own
  // upstream connections to B). Plans are in start order, so a reused pair maps to its latest user.
  const key = (source, destination) => `${source}>${destination}`;
  const byPorts = new Map(plans.filter((p) => p.localPort).map((p) => [key(p.localPort, p.target.port), p]));
  let found = [];
  for (let i = 0; i < 25; i++) {
    found = [];
    for (const proxy of proxies) {
      let open = [];
      try {
        const res = await fetch(`http://${proxy.admin}/skiff/connections`, {
          signal: AbortSignal.timeout(5000),
        });
        open = await res.json();
      } catch {
        continue;
      }
      for (const c of open) {
        const plan = byPorts.get(key(Number(String(c.source).split(':').pop()), c.destination_port));
        if (!plan) continue;
        found.push({
          proxy: proxy.name,
          listener: c.listener,
          chain: c.filter_chain,
          openedAt: c.opened_at,
          kind: plan.kind,
          ending: plan.ending,
          pieces: plan.pieces,
          bytesHex: plan.bytes.toString('hex'),
          bytesText: plan.bytes.toString('latin1').slice(0, 200),
        });
      }
    }
    if (found.length === 0) break;
    await new Promise((r) => setTimeout(r, 200));
  }
  return found;
}

/** Runs one fuzz connection; resolves when it is over (at most ~1.5 s). */
function fuzzOne(p) {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port: p.target.port, allowHalfOpen: true });
    let closedByPeer = false;
    const done = () => {
      clearTimeout(cap);
      resolve(closedByPeer);
    };
    const cap = setTimeout(() => s.destroy(), 1500);
    s.on('error', () => {});
    s.on('data', () => {});
    s.on('end', () => {
      closedByPeer = true;
      s.end();
    });
    s.on('close', done);
    s.on('connect', async () => {
      p.localPort = s.localPort;
      const size = Math.ceil(p.bytes.length / p.pieces);
      for (let at = 0; at < p.bytes.length && !s.destroyed; at += size) {
        s.write(p.bytes.subarray(at, at + size));
        if (p.pieces > 1) await new Promise((r) => setTimeout(r, 5));
      }
      if (p.ending === 'half-close') s.end();
      else if (p.ending === 'reset') s.resetAndDestroy();
      else if (p.ending === 'leave after a delay') setTimeout(() => s.destroy(), p.delay);
      // 'wait': until the proxy closes, or the cap.
    });
  });
}

export async function runFuzz(ctx) {
  const { app, a, b, ports, pki, fuzzCount, seed, hellos, log } = ctx;
  const rnd = prng(seed);
  const targets = [
    { name: 'strict-tcp', port: ports['strict-tcp'] },
    { name: 'strict-http', port: ports['strict-http'] },
    { name: 'perm-tcp', port: ports['perm-tcp'] },
    { name: 'perm-http-0', port: ports['perm-http-0'] },
    { name: 'A outbound-0', port: ports['outbound-0'] },
  ];
  const meshClient = tls.createSecureContext(
    pemPair({ cert: `${pki.client}/cert-chain.pem`, key: `${pki.client}/key.pem` }),
  );
  const good = { ok: 0, failures: [] };
  const ready = { polls: 0, notLive: [] };
  const kinds = {};
  let closedByProxy = 0;
  const plans = [];
  await app.drain();
  const m = await measured(
    { B: b, A: a },
    async () => {
      let running = true;
      const goodLoop = (async () => {
        while (running) {
          for (const [port, context, lane] of [
            [ports['outbound-1'], undefined, 'A → B'],
            [ports['perm-http-1'], meshClient, 'mTLS → B'],
          ]) {
            const r = await goodRequest(port, context, lane);
            if (r.ok) good.ok++;
            else good.failures.push(r.why);
          }
          for (const p of [a, b]) {
            const body = await readyOf(p);
            ready.polls++;
            if (body !== 'LIVE') ready.notLive.push(`${p.name}: ${body}`);
          }
          await new Promise((r) => setTimeout(r, 200));
        }
      })();
      for (let i = 0; i < fuzzCount; i++) plans.push(plan(rnd, hellos, targets));
      await pool(fuzzCount, 48, async (i) => {
        const p = plans[i];
        kinds[p.kind] = (kinds[p.kind] ?? 0) + 1;
        if (await fuzzOne(p)) closedByProxy++;
      });
      running = false;
      await goodLoop;
    },
    { slack: 24, settleMs: 15_000 },
  );
  const leftovers = await leftoverConnections([b, a], plans);
  const seen = await app.drain();
  const strictBytes = seen['strict-tcp'].bytes + seen['strict-http'].bytes;
  const goodLaneStrangers = ['ab-1', 'perm-mtls-1'].flatMap((l) =>
    seen[l].events.filter((e) => e.t !== 'req' || e.target !== '/good'),
  );
  const pass =
    m.crashes === 0 &&
    good.failures.length === 0 &&
    ready.notLive.length === 0 &&
    strictBytes === 0 &&
    goodLaneStrangers.length === 0 &&
    leftovers.length === 0 &&
    Object.values(m.procs).every((x) => x.fdsBack);
  const row = {
    class: '4 fuzz',
    target: targets.map((t) => t.name).join(', '),
    what: `seed ${seed}, concurrency 48`,
    attempts: fuzzCount,
    refused: null,
    closedByProxy,
    appBytes: strictBytes,
    appBytesNote: 'through STRICT ports',
    kinds,
    good: { ok: good.ok, failed: good.failures.length, failures: good.failures.slice(0, 5) },
    ready: { polls: ready.polls, notLive: ready.notLive.slice(0, 5), notLiveCount: ready.notLive.length },
    goodLaneStrangers: goodLaneStrangers.slice(0, 5),
    leftOpen: leftovers.length,
    leftovers: leftovers.slice(0, 10),
    crashes: m.crashes,
    crashLogs: m.crashLogs,
    procs: m.procs,
    counters: {
      ...interesting(m.counters.B),
      ...Object.fromEntries(Object.entries(interesting(m.counters.A)).map(([k, v]) => [`A:${k}`, v])),
    },
    allCounters: m.counters,
    pass,
  };
  log(
    `class 4 fuzz: ${fuzzCount} connections, good client ${good.ok} ok / ${good.failures.length} failed, /ready not LIVE ${ready.notLive.length}, ${strictBytes} bytes through STRICT, ${leftovers.length} left open by the proxy, crashes ${m.crashes}${pass ? '' : '  FAIL'}`,
  );
  return [row];
}
