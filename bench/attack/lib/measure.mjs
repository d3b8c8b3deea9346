// What every row of the table reports about the proxies while a class ran: RSS and open fds before and after
// (after: once the fds have settled back, or a timeout), crashes, and the counters that moved.

import { moved, settleFds, snapshot, statsOf } from './procs.mjs';

/** Counters worth a column: refusals, verification failures, protocol errors, timeouts, connection churn. */
const INTERESTING =
  /(ssl\.(fail_verify_\w+|connection_error|handshake|no_certificate)|no_filter_chain_match|downstream_cx_protocol_error|downstream_rq_[2345]xx|downstream_pre_cx_timeout|downstream_listener_filter_(remote_close|error)|client_hello_too_large|downstream_cx_total|downstream_cx_destroy|downstream_global_cx_overflow|upstream_cx_total|upstream_cx_connect_fail|upstream_cx_protocol_error|tls_not_found|http_not_found|idle_timeout)$/;

export function interesting(counters) {
  const out = {};
  for (const [k, v] of Object.entries(counters)) if (INTERESTING.test(k)) out[k] = v;
  return out;
}

/**
 * Runs `fn` between two measurements of `proxies` ({B, A}). `slack`: fds allowed above the baseline once
 * settled (keep-alive pools hold a few). Returns fn's result and the measurements.
 */
export async function measured(proxies, fn, { slack = 24, settleMs = 10_000 } = {}) {
  const before = {};
  for (const [k, p] of Object.entries(proxies)) {
    before[k] = { ...snapshot(p), stats: await statsOf(p), crashes: p.crashes.length };
  }
  const result = await fn();
  const procs = {};
  const counters = {};
  let crashes = 0;
  const crashLogs = [];
  // The proxies settle side by side: a proxy whose fds never come back costs one wait, not one each.
  await Promise.all(
    Object.entries(proxies).map(async ([k, p]) => {
      if (p.restarting) await p.restarting;
      const newCrashes = p.crashes.slice(before[k].crashes);
      crashes += newCrashes.length;
      crashLogs.push(...newCrashes.map((c) => ({ proxy: k, ...c })));
      const fdsAfter =
        newCrashes.length > 0 ? snapshot(p).fds : await settleFds(p, before[k].fds, slack, settleMs);
      const after = snapshot(p);
      procs[k] = {
        rssKiBBefore: before[k].rssKiB,
        rssKiBAfter: after.rssKiB,
        fdsBefore: before[k].fds,
        fdsAfter,
        fdsBack: fdsAfter <= before[k].fds + slack,
      };
      counters[k] = newCrashes.length > 0 ? {} : moved(before[k].stats, await statsOf(p));
    }),
  );
  return { result, procs, counters, crashes, crashLogs };
}
