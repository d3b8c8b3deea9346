// Class 3: request smuggling. Every case of smuggling-cases.mjs is sent over three paths: plaintext to B's
// PERMISSIVE HTTP port, mTLS (a valid mesh certificate) to the same port, and plaintext to proxy A, whose
// cluster carries it over mTLS to B. The recording app's strict reader says what really arrived. A case passes
// when the proxy refused it (4xx/5xx of its own, or a close) and the app got nothing or only a prefix of one
// allowed reading, or when the app got exactly one allowed reading; it fails on a request hidden from the proxy
// (`/smuggled`), bytes the app's reader refuses (a framing desync), responses the client can no longer frame,
// a forbidden header (an h2c upgrade reaching the app), a reading the case does not allow, or a partial request
// left on a live upstream connection.
// Paths run in parallel on their own lanes, and `workers` lanes per path share the cases.

import tls from 'node:tls';
import { ALPN_HTTP, exchange } from '../lib/clients.mjs';
import { interesting, measured } from '../lib/measure.mjs';
import { pemPair } from '../lib/pki.mjs';
import { CASES } from '../smuggling-cases.mjs';

const matchTarget = (want, got) => (want instanceof RegExp ? want.test(got) : want === got);
const matches = (want, got) =>
  want.method === got.method && matchTarget(want.target, got.target) && want.body === got.body;
const show = (r) =>
  `${r.method} ${JSON.stringify(r.target.length > 40 ? `${r.target.slice(0, 40)}…` : r.target)}${r.bodyLength || r.body ? ` body ${JSON.stringify((r.body ?? '').slice(0, 24))}` : ''}`;

/** The verdict for one case on one path, from the client's view and the app's records. */
export function judge(kase, client, app) {
  const reqs = app.events.filter((e) => e.t === 'req');
  const errors = app.events.filter((e) => e.t === 'error');
  const cuts = app.events.filter((e) => e.t === 'cut');
  const proxyStatuses = client.responses.filter((r) => !r.app && r.status >= 200).map((r) => r.status);
  const appStatuses = client.responses.filter((r) => r.app).map((r) => r.status);
  const base = {
    app: reqs.map(show),
    proxy: proxyStatuses,
    ended: client.ended,
    ...(cuts.length
      ? {
          cut: cuts.map(
            (c) => `${c.state} ${c.bytes} B${c.method ? ` (${c.method} ${c.target?.slice(0, 30)})` : ''}`,
          ),
        }
      : {}),
  };
  const fail = (why) => ({ ...base, pass: false, outcome: 'FAIL', why });
  if (errors.length > 0)
    return fail(
      `the app's reader refused what the proxy sent: ${errors[0].reason} near ${JSON.stringify(errors[0].near.slice(0, 80))}`,
    );
  const hidden = reqs.find((r) => r.target.includes('/smuggled'));
  if (hidden) return fail(`a hidden request reached the app: ${show(hidden)}`);
  for (const name of kase.forbidHeaders ?? []) {
    const r = reqs.find((x) => x.headers.some(([n]) => n === name));
    if (r) return fail(`the app got a ${name} header`);
  }
  if (client.garbage)
    return fail('the responses the client got lost their framing (a response body/header desync)');
  if (app.holding.length > 0) {
    return fail(`a partial request stays on an open upstream connection: ${JSON.stringify(app.holding[0])}`);
  }
  for (const reading of kase.means) {
    if (reqs.length > reading.length) continue;
    if (!reqs.every((r, i) => matches(reading[i], r))) continue;
    if (reqs.length === reading.length && reqs.length > 0) {
      if (kase.control && appStatuses.length < reading.length)
        return fail(`the client got ${appStatuses.length} answers of ${reading.length}`);
      return { ...base, pass: true, outcome: 'forwarded' };
    }
    if (kase.control)
      return fail(`a valid request was not forwarded (app saw ${reqs.length} of ${reading.length})`);
    // A prefix of an allowed reading, the rest refused (or never completed: the proxy waits for bytes that
    // never come, and the client gives up).
    return { ...base, pass: true, outcome: reqs.length === 0 ? 'refused' : `refused after ${reqs.length}` };
  }
  if (reqs.length === 0 && !kase.control) return { ...base, pass: true, outcome: 'refused' };
  return fail(
    `the app saw ${reqs.map(show).join(', ') || 'nothing'}; allowed: ${kase.means.map((m) => m.map(show).join(' + ') || 'refusal').join(' | ') || 'refusal only'}`,
  );
}

function mergeRecords(a, b) {
  return { events: [...a.events, ...b.events], holding: b.holding, markers: { ...a.markers, ...b.markers } };
}

/** Runs the cases in order on one lane; returns {case name: verdict}. */
async function runLane(ctx, queue, { port, lane, context }, results) {
  const { app } = ctx;
  let previous;
  for (;;) {
    const kase = queue.shift();
    if (!kase) break;
    // Records that came in after the previous case was judged belong to it: judge it again with them.
    const late = (await app.drain([lane]))[lane];
    if (previous && (late.events.length > 0 || late.holding.length > 0)) {
      previous.record = mergeRecords(previous.record, late);
      results[previous.kase.name] = { ...judge(previous.kase, previous.client, previous.record), late: true };
    }
    const parts = kase.parts.map((p) => (typeof p === 'number' ? p : Buffer.from(p, 'latin1')));
    const expect = Math.max(1, ...kase.means.map((m) => m.length));
    const client = await exchange(port, parts, {
      context,
      alpn: ALPN_HTTP,
      expect,
      settleMs: ctx.quick ? 60 : 150,
      quietMs: ctx.quick ? 700 : 1000,
    });
    await new Promise((r) => setTimeout(r, 40));
    let record = (await app.drain([lane]))[lane];
    // The proxy closes an upstream connection a little after the client is gone: wait for a partial request to go.
    for (let i = 0; i < 30 && record.holding.length > 0; i++) {
      await new Promise((r) => setTimeout(r, 100));
      record = mergeRecords(record, (await app.drain([lane]))[lane]);
    }
    results[kase.name] = judge(kase, client, record);
    previous = { kase, client, record };
  }
  await new Promise((r) => setTimeout(r, 100));
  const late = (await app.drain([lane]))[lane];
  if (previous && (late.events.length > 0 || late.holding.length > 0)) {
    previous.record = mergeRecords(previous.record, late);
    results[previous.kase.name] = { ...judge(previous.kase, previous.client, previous.record), late: true };
  }
}

export async function runSmuggling(ctx) {
  const { a, b, ports, pki, workers, log } = ctx;
  const meshClient = tls.createSecureContext(
    pemPair({ cert: `${pki.client}/cert-chain.pem`, key: `${pki.client}/key.pem` }),
  );
  // `mine`: the counters that belong to a path (its lanes' HTTP statistics, the listeners it alone uses).
  const paths = [
    {
      key: 'plaintext',
      label: 'plaintext → B (PERMISSIVE HTTP)',
      lanes: (w) => ({ port: ports[`perm-http-${w}`], lane: `perm-plain-${w}` }),
      mine: (k) => k.includes('perm-plain-') || k.startsWith('tls_inspector.tls_not_found'),
    },
    {
      key: 'mtls',
      label: 'mTLS → B (same port)',
      lanes: (w) => ({ port: ports[`perm-http-${w}`], lane: `perm-mtls-${w}`, context: meshClient }),
      mine: (k) => k.includes('perm-mtls-') || /^listener\.perm-http-\d+\.ssl/.test(k),
    },
    {
      key: 'ab',
      label: 'plaintext → A → mTLS → B',
      lanes: (w) => ({ port: ports[`outbound-${w}`], lane: `ab-${w}` }),
      mine: (k) => k.startsWith('A:') || k.includes('inbound_ab-') || k.includes('perm-http-ab-'),
    },
  ];
  const results = Object.fromEntries(paths.map((p) => [p.key, {}]));
  const m = await measured({ B: b, A: a }, async () => {
    const runs = [];
    for (const p of paths) {
      const queue = [...CASES];
      for (let w = 0; w < workers; w++) runs.push(runLane(ctx, queue, p.lanes(w), results[p.key]));
    }
    await Promise.all(runs);
  });
  const cases = CASES.map((k) => ({
    group: k.group,
    name: k.name,
    allowed:
      k.means.length === 0 ? 'refusal only' : k.control ? 'must be forwarded' : 'refusal or the reading',
    ...Object.fromEntries(paths.map((p) => [p.key, results[p.key][k.name]])),
  }));
  const rows = paths.map((p) => {
    const verdicts = CASES.map((k) => results[p.key][k.name]);
    const failed = CASES.filter((k) => !results[p.key][k.name]?.pass).map((k) => k.name);
    const refused = verdicts.filter((v) => v?.pass && v.outcome.startsWith('refused')).length;
    return {
      class: '3 smuggling',
      target: p.label,
      what: `${CASES.length} cases`,
      attempts: CASES.length,
      refused,
      forwarded: verdicts.filter((v) => v?.outcome === 'forwarded').length,
      hiddenReachedApp: verdicts.filter((v) => v && !v.pass && v.why.startsWith('a hidden request')).length,
      failed,
      appBytes: null,
      crashes: m.crashes,
      crashLogs: m.crashLogs,
      procs: m.procs,
      counters: Object.fromEntries(
        Object.entries({ ...interesting(m.counters.B), ...prefixed('A', interesting(m.counters.A)) }).filter(
          ([k]) => p.mine(k),
        ),
      ),
      allCounters: m.counters,
      pass: failed.length === 0 && m.crashes === 0 && Object.values(m.procs).every((x) => x.fdsBack),
    };
  });
  for (const r of rows)
    log(
      `class 3 ${r.target}: ${r.attempts - r.failed.length}/${r.attempts} pass${r.failed.length ? `  FAIL: ${r.failed.join('; ')}` : ''}`,
    );
  return { rows, cases };
}

function prefixed(p, o) {
  return Object.fromEntries(Object.entries(o).map(([k, v]) => [`${p}:${k}`, v]));
}
