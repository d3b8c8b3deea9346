// A tiny client: every $INTERVAL_MS (default 2000) it GETs each URL in $TARGETS (comma-separated) and prints one
// JSON line per request. Uses $http_proxy when set, as the mesh sets it to the sidecar's outbound port.
import http from 'node:http';

const targets = (process.env.TARGETS ?? '').split(',').filter(Boolean);
const interval = Number(process.env.INTERVAL_MS ?? 2000);
const proxy = process.env.http_proxy ? new URL(process.env.http_proxy) : undefined;

function get(target) {
  const url = new URL(target);
  const options = proxy
    ? { host: proxy.hostname, port: proxy.port, path: url.href, headers: { host: url.host } }
    : { host: url.hostname, port: url.port, path: url.pathname };
  const started = Date.now();
  const req = http.get({ ...options, timeout: 5000 }, (res) => {
    res.resume();
    res.on('end', () => log({ target, status: res.statusCode, ms: Date.now() - started }));
  });
  req.on('timeout', () => req.destroy(new Error('timeout')));
  req.on('error', (e) => log({ target, error: e.message }));
}
function log(entry) {
  process.stdout.write(`${JSON.stringify({ time: new Date().toISOString(), ...entry })}\n`);
}
setInterval(() => targets.forEach(get), interval);
process.on('SIGTERM', () => process.exit(0));
