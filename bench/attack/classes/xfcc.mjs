// Class 2: a forged x-forwarded-client-cert. Plaintext clients of a PERMISSIVE HTTP port send XFCC in every
// shape a parser might treat differently (case, repeats, lists, HTTP/1.0, keep-alive, pipelining, h2c prior
// knowledge, an upgrade, a chunked trailer); the connection has no client certificate, so the proxy must remove
// it (src/proxy/filters/http/xfcc.ts, Envoy's mutateXfccRequestHeader): the app must see every request and never
// the header, nor the forged marker anywhere in its bytes. Through proxy A (plaintext in, mTLS to B) the app must
// see exactly B's own element naming A. Over mTLS straight to B, APPEND_FORWARD keeps what a verified mesh
// client sent and appends B's element: checked as Envoy does it, and reported apart (not a refusal).

import http2 from 'node:http2';
import tls from 'node:tls';
import { ALPN_HTTP, exchange } from '../lib/clients.mjs';
import { interesting, measured } from '../lib/measure.mjs';
import { CLIENT_ID, pemPair, SERVER_ID } from '../lib/pki.mjs';

export const XFCC_MARKER = 'FORGEDXFCC';
const FORGED = `By=spiffe://cluster.local/ns/${XFCC_MARKER}/sa/admin;Hash=00;URI=spiffe://cluster.local/ns/bookinfo/sa/${XFCC_MARKER}`;
const H = 'host: ratings\r\n';
const get = (headers, target = '/xfcc') => `GET ${target} HTTP/1.1\r\n${H}${headers}\r\n`;

/**
 * Variants: [name, requests the app must see (per repetition; [min, max] when refusing is fine too), bytes to
 * send (strings; numbers are pauses in ms) or async function(port)].
 */
const VARIANTS = [
  ['one header', 1, get(`x-forwarded-client-cert: ${FORGED}\r\n`)],
  ['mixed-case name', 1, get(`X-Forwarded-Client-Cert: ${FORGED}\r\n`)],
  [
    'two header lines',
    1,
    get(`x-forwarded-client-cert: ${FORGED}\r\nx-forwarded-client-cert: By=${XFCC_MARKER}\r\n`),
  ],
  ['a list with spaces', 1, get(`x-forwarded-client-cert:   ${FORGED} , By=${XFCC_MARKER}  \r\n`)],
  ['empty value, then forged', 1, get(`x-forwarded-client-cert:\r\nx-forwarded-client-cert: ${FORGED}\r\n`)],
  ['obs-text around it', 1, get(`x-forwarded-client-cert: \xe9${FORGED}\xe9\r\n`)],
  // Envoy answers HTTP/1.0 with 426 Upgrade Required unless http_protocol_options.accept_http_10, which Istio
  // leaves off (source/common/http/http1/codec_impl.cc:1187 checkProtocolVersion): refused, so the app sees none
  // (served with the header removed would be fine too, as with accept_http_10).
  ['HTTP/1.0', [0, 1], `GET /xfcc HTTP/1.0\r\n${H}x-forwarded-client-cert: ${FORGED}\r\n\r\n`],
  [
    'POST with a body',
    1,
    `POST /xfcc HTTP/1.1\r\n${H}x-forwarded-client-cert: ${FORGED}\r\ncontent-length: 5\r\n\r\nhello`,
  ],
  [
    'keep-alive: three on one connection',
    3,
    [
      get(`x-forwarded-client-cert: ${FORGED}\r\n`),
      50,
      get(`x-forwarded-client-cert: ${FORGED}\r\n`),
      50,
      get(`x-forwarded-client-cert: ${FORGED}\r\n`),
    ],
  ],
  [
    'pipelined: second request carries it',
    2,
    get('') + get(`x-forwarded-client-cert: ${FORGED}\r\n`, '/xfcc2'),
  ],
  [
    'chunked body with XFCC as a trailer',
    1,
    `POST /xfcc HTTP/1.1\r\n${H}transfer-encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nx-forwarded-client-cert: ${FORGED}\r\n\r\n`,
  ],
  // Refused (403, no upgrade_configs for h2c) or forwarded without the upgrade: both fine, never the header.
  [
    'h2c upgrade request',
    [0, 1],
    get(
      `connection: Upgrade, HTTP2-Settings\r\nupgrade: h2c\r\nhttp2-settings: AAMAAABkAARAAAAAAAIAAAAA\r\nx-forwarded-client-cert: ${FORGED}\r\n`,
    ),
  ],
  [
    'websocket upgrade',
    1,
    get(
      `connection: Upgrade\r\nupgrade: websocket\r\nsec-websocket-version: 13\r\nsec-websocket-key: dGhlIHNhbXBsZSBub25jZQ==\r\nx-forwarded-client-cert: ${FORGED}\r\n`,
      '/ws',
    ),
  ],
  ['HTTP/2 prior knowledge (h2c)', 1, h2Request],
];

/** One request over cleartext HTTP/2 with a forged XFCC; true when it was answered. */
async function h2Request(port) {
  return new Promise((resolve) => {
    const session = http2.connect(`http://127.0.0.1:${port}`);
    session.on('error', () => resolve(false));
    const rq = session.request({
      ':path': '/xfcc-h2',
      ':authority': 'ratings',
      'x-forwarded-client-cert': FORGED,
    });
    rq.on('response', () => {});
    rq.on('error', () => resolve(false));
    rq.resume();
    rq.on('end', () => {
      session.close();
      resolve(true);
    });
    rq.end();
    setTimeout(() => {
      session.destroy();
      resolve(false);
    }, 5000).unref();
  });
}

async function send(port, what, expected, context) {
  const expect = Array.isArray(expected) ? expected[1] : expected;
  if (typeof what === 'function') return what(port);
  const parts = (Array.isArray(what) ? what : [what]).map((p) =>
    typeof p === 'number' ? p : Buffer.from(p, 'latin1'),
  );
  return exchange(port, parts, { context, alpn: ALPN_HTTP, expect, settleMs: 30, quietMs: 1500 });
}

/** XFCC values (and trailers) the app saw, and whether the forged marker appeared in its raw bytes. */
function seenXfcc(record) {
  const values = [];
  let trailers = 0;
  for (const e of record.events) {
    if (e.t !== 'req') continue;
    for (const [n, v] of e.headers) if (n === 'x-forwarded-client-cert') values.push(v);
    for (const [n] of e.trailers ?? []) if (n === 'x-forwarded-client-cert') trailers++;
  }
  return { values, trailers, marker: record.markers[XFCC_MARKER] ?? 0 };
}

export async function runXfcc(ctx) {
  const { app, a, b, ports, pki, reps, log } = ctx;
  const meshClient = tls.createSecureContext(
    pemPair({ cert: `${pki.client}/cert-chain.pem`, key: `${pki.client}/key.pem` }),
  );
  const rows = [];
  const paths = [
    {
      path: 'plaintext → B (PERMISSIVE HTTP)',
      port: ports['perm-http-0'],
      lane: 'perm-plain-0',
      context: undefined,
    },
    { path: 'plaintext → A → mTLS → B', port: ports['outbound-0'], lane: 'ab-0', context: undefined },
    {
      path: 'mTLS → B (APPEND_FORWARD, informative)',
      port: ports['perm-http-0'],
      lane: 'perm-mtls-0',
      context: meshClient,
    },
  ];
  const variantsOf = Object.fromEntries(paths.map((p) => [p.lane, []]));
  // The three paths use their own lanes, so they run side by side.
  const m = await measured({ B: b, A: a }, () =>
    Promise.all(
      paths.map(async (p) => {
        for (const [name, expected, what] of VARIANTS) {
          if (p.context && typeof what === 'function') continue; // h2c is plaintext only
          await app.drain([p.lane]);
          for (let i = 0; i < reps; i++) await send(p.port, what, expected, p.context);
          await new Promise((r) => setTimeout(r, 50));
          const rec = (await app.drain([p.lane]))[p.lane];
          variantsOf[p.lane].push(verdict(p, name, expected, reps, rec));
        }
      }),
    ),
  );
  for (const p of paths) {
    const variants = variantsOf[p.lane];
    const failed = variants.filter((v) => !v.pass);
    const informative = p.context !== undefined;
    // The counters of this path: its lane's HTTP stats and listener, and proxy A's for the A → B path.
    const mine = (k) =>
      k.includes(p.lane) ||
      (p.lane.startsWith('ab')
        ? k.startsWith('A:') || k.includes('perm-http-ab-0.')
        : p.context
          ? k.startsWith('listener.perm-http-0.ssl')
          : k.startsWith('tls_inspector.tls_not_found'));
    const counters = { ...interesting(m.counters.B), ...prefixed('A', interesting(m.counters.A)) };
    rows.push({
      class: '2 XFCC',
      target: p.path,
      what: `${variants.length} variants × ${reps}`,
      attempts: variants.reduce((s, v) => s + v.sent, 0),
      refused: null,
      appBytes: null,
      appRequests: variants.reduce((s, v) => s + v.appRequests, 0),
      // Plaintext: any XFCC value counts; through A, only the forged marker (B's own element is expected).
      forgedReachedApp: informative
        ? null
        : variants.reduce(
            (s, v) => s + v.markerSeen + v.trailerSeen + (p.lane.startsWith('ab') ? 0 : v.xfccSeen),
            0,
          ),
      variants,
      crashes: m.crashes,
      crashLogs: m.crashLogs,
      procs: m.procs,
      counters: Object.fromEntries(Object.entries(counters).filter(([k]) => mine(k))),
      allCounters: m.counters,
      informative,
      pass: failed.length === 0 && m.crashes === 0,
    });
    log(
      `class 2 ${p.path}: ${variants.length - failed.length}/${variants.length} variants pass${failed.length ? `  FAIL: ${failed.map((f) => `${f.name} (${f.why})`).join('; ')}` : ''}`,
    );
  }
  return rows;
}

// B's element for a connection from A (or from the mesh client: the same identity, productpage).
const ELEMENT = new RegExp(`^By=${SERVER_ID};Hash=[0-9a-f]{64};Subject="[^"]*";URI=${CLIENT_ID}$`);
const APPENDED = new RegExp(
  `^([^]*${XFCC_MARKER}[^]*,)?By=${SERVER_ID};Hash=[0-9a-f]{64};Subject="[^"]*";URI=${CLIENT_ID}$`,
);

/** One variant on one path, from what the app recorded. */
function verdict(p, name, expected, reps, rec) {
  const seen = seenXfcc(rec);
  const requests = rec.events.filter((e) => e.t === 'req').length;
  const [min, max] = Array.isArray(expected) ? expected : [expected, expected];
  const sent = max * reps;
  const countOk = requests >= min * reps && requests <= max * reps;
  let pass;
  let why;
  if (p.context) {
    // Envoy's APPEND_FORWARD: the verified client's value, then our element.
    const ok = seen.values.length === requests && seen.values.every((v) => APPENDED.test(v));
    pass = countOk && ok;
    why = ok
      ? 'forged value kept, B element appended (APPEND_FORWARD)'
      : `values ${JSON.stringify(seen.values.slice(0, 2))}`;
  } else if (p.lane.startsWith('ab')) {
    const ok = seen.values.length === requests && seen.values.every((v) => ELEMENT.test(v));
    pass = countOk && ok && seen.marker === 0 && seen.trailers === 0;
    why = ok ? "only B's element naming A" : `values ${JSON.stringify(seen.values.slice(0, 2))}`;
  } else {
    pass = countOk && seen.values.length === 0 && seen.marker === 0 && seen.trailers === 0;
    why =
      seen.values.length === 0 && seen.marker === 0
        ? 'removed'
        : `reached the app: ${JSON.stringify(seen.values.slice(0, 2))}, marker ×${seen.marker}, trailers ×${seen.trailers}`;
  }
  if (!countOk) why += `; the app saw ${requests} of ${sent} requests`;
  return {
    name,
    sent,
    appRequests: requests,
    xfccSeen: seen.values.length,
    markerSeen: seen.marker,
    trailerSeen: seen.trailers,
    pass,
    why,
  };
}

function prefixed(p, o) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [`${p}:${k}`, v]));
}
