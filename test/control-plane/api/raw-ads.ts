// The control plane's test helpers: the raw ADS client (test/xds/server/raw-ads.ts), and the HTTP port's.

import assert from 'node:assert/strict';
import { sleep } from '../../xds/server/raw-ads.js';

export { adsClient, names, RawStream, sidecarNode, sleep } from '../../xds/server/raw-ads.js';

/** GET a path on the HTTP port: status and parsed JSON (or text). */
// biome-ignore lint/suspicious/noExplicitAny: the tests read the debug API's JSON by its documented fields
export async function get(base: string, path: string): Promise<{ status: number; body: any; text: string }> {
  const res = await fetch(`http://${base}${path}`, { signal: AbortSignal.timeout(5000) });
  const text = await res.text();
  let body: unknown;
  try {
    body = JSON.parse(text);
  } catch {
    body = undefined;
  }
  return { status: res.status, body, text };
}

/** Polls `check` until it returns a value (not undefined), within `ms`. */
export async function eventually<T>(
  what: string,
  check: () => Promise<T | undefined>,
  ms = 5000,
): Promise<T> {
  const end = Date.now() + ms;
  for (;;) {
    const v = await check();
    if (v !== undefined) return v;
    if (Date.now() > end) assert.fail(`${what}: not within ${ms} ms`);
    await sleep(20);
  }
}
