// The harness's report as Markdown: the attack table (one row per class and target), the smuggling matrix (one
// row per case, one column per path), and every failure spelled out.

const mib = (kib) => (kib / 1024).toFixed(0);
const num = (n) => (n === null || n === undefined ? '—' : n.toLocaleString('en-US'));
const cell = (s) => String(s).replace(/\|/g, '\\|').replace(/\n/g, ' ');

/**
 * The counters that moved, biggest first, as a short cell ("name +n"). Connection totals are left out unless
 * `churn` (they move with every attempt and say little, except for the half-close class).
 */
function countersCell(counters, churn, max = 6) {
  const list = Object.entries(counters ?? {})
    .filter(([k]) => churn || !/downstream_cx_total$|upstream_cx_total$|downstream_cx_destroy$/.test(k))
    .sort((a, b) => Math.abs(b[1]) - Math.abs(a[1]));
  const shown = list
    .slice(0, max)
    .map(([k, v]) => `${k.replace(/^(A:)?listener\./, '$1')} ${v > 0 ? '+' : ''}${num(v)}`);
  if (list.length > max) shown.push(`… ${list.length - max} more`);
  return shown.join(', ') || '—';
}

function procCell(procs, what) {
  return Object.entries(procs)
    .map(([k, p]) =>
      what === 'rss'
        ? `${k} ${mib(p.rssKiBBefore)}→${mib(p.rssKiBAfter)}`
        : `${k} ${p.fdsBefore}→${p.fdsAfter}`,
    )
    .join(', ');
}

function refusedCell(r) {
  if (r.class.startsWith('3'))
    return `${r.refused} refused, ${r.forwarded} forwarded, ${r.failed.length} failed`;
  if (r.class.startsWith('2'))
    return r.informative ? 'kept + appended' : `${num(r.appRequests)} reached the app`;
  if (r.class.startsWith('4')) return `${num(r.closedByProxy)} closed by the proxy`;
  if (r.class.startsWith('5')) return `${num(r.refused)} closed, ${num(r.leftOpen)} left open`;
  // Under TLS 1.3 a client sends its request before the server has checked its certificate.
  return `${num(r.refused)} (${num(r.requestSent)} after sending the request)`;
}

function appCell(r) {
  if (r.class.startsWith('2')) return r.informative ? '—' : `forged ×${r.forgedReachedApp}`;
  if (r.class.startsWith('3')) {
    const other = r.failed.length - r.hiddenReachedApp;
    return `hidden requests ×${r.hiddenReachedApp}${other ? `, other desyncs ×${other}` : ''}`;
  }
  if (r.appBytes === null || r.appBytes === undefined) return '—';
  return `${num(r.appBytes)}${r.appBytesNote ? ` (${r.appBytesNote})` : ''}`;
}

export function table(rows) {
  const out = [
    '| class | target | clients | attempts | refused | bytes that reached the app | crashes (restarts) | RSS MiB before→after | fds before→after | counters that moved | result |',
    '| --- | --- | --- | ---: | --- | --- | ---: | --- | --- | --- | --- |',
  ];
  for (const r of rows) {
    out.push(
      `| ${[
        r.class,
        r.target,
        r.what,
        num(r.attempts),
        refusedCell(r),
        appCell(r),
        r.crashes,
        procCell(r.procs, 'rss'),
        procCell(r.procs, 'fds'),
        countersCell(r.counters, r.class.startsWith('5')),
        r.pass ? (r.informative ? 'as Envoy' : 'pass') : '**FAIL**',
      ]
        .map(cell)
        .join(' | ')} |`,
    );
  }
  return out.join('\n');
}

function verdictCell(v) {
  if (!v) return '—';
  if (!v.pass) return `**FAIL**: ${v.why}`;
  const how = v.proxy.length ? v.proxy.join(',') : v.ended === 'closed' ? 'close' : v.ended;
  return v.outcome === 'forwarded'
    ? `forwarded${v.proxy.length ? ` (then ${v.proxy.join(',')})` : ''}`
    : `${v.outcome} (${how})`;
}

export function smugglingMatrix(cases) {
  const out = [
    '| group | case | allowed | plaintext → B | mTLS → B | plaintext → A → mTLS → B |',
    '| --- | --- | --- | --- | --- | --- |',
  ];
  for (const c of cases) {
    out.push(
      `| ${[c.group, c.name, c.allowed, verdictCell(c.plaintext), verdictCell(c.mtls), verdictCell(c.ab)].map(cell).join(' | ')} |`,
    );
  }
  return out.join('\n');
}

/** Every failure with what the harness saw, for a person to act on. */
export function failures(report) {
  const out = [];
  for (const r of report.rows) {
    if (r.pass) continue;
    out.push(`- ${r.class} / ${r.target} / ${r.what}: ${JSON.stringify(failureFacts(r))}`);
    for (const c of r.crashLogs ?? [])
      out.push(`  - crash of ${c.proxy} at ${c.at} (exit ${c.code ?? c.signal}): ${c.stderr.slice(-600)}`);
  }
  for (const c of report.smuggling ?? []) {
    for (const p of ['plaintext', 'mtls', 'ab']) {
      const v = c[p];
      if (v && !v.pass)
        out.push(
          `- smuggling "${c.name}" over ${p}: ${v.why} (app: ${JSON.stringify(v.app)}, proxy: ${JSON.stringify(v.proxy)}, ended: ${v.ended})`,
        );
    }
  }
  return out;
}

function failureFacts(r) {
  const keep = [
    'attempts',
    'refused',
    'appBytes',
    'appRequests',
    'clientSaw',
    'failed',
    'good',
    'ready',
    'goodLaneStrangers',
    'leftOpen',
    'activeAfter',
    'crashes',
  ];
  const out = Object.fromEntries(keep.filter((k) => r[k] !== undefined).map((k) => [k, r[k]]));
  out.procs = r.procs;
  if (r.variants) out.variants = r.variants.filter((v) => !v.pass);
  return out;
}
