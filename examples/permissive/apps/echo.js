// A tiny HTTP service: answers every request with who it is and what it saw, including the
// x-forwarded-client-cert header a sidecar adds on mTLS connections. Listens on $PORT (and $ADMIN_PORT).
import http from 'node:http';

const name = process.env.WORKLOAD_NAME ?? 'echo';
function handler(req, res) {
  const body = JSON.stringify({
    service: name,
    path: req.url,
    method: req.method,
    xfcc: req.headers['x-forwarded-client-cert'] ?? null,
  });
  res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
const host = process.env.HOST ?? '127.0.0.1';
for (const port of [process.env.PORT ?? '8080', process.env.ADMIN_PORT].filter(Boolean)) {
  http
    .createServer(handler)
    .on('error', (e) => {
      // One line, not a stack trace: a taken port is the usual reason (another app, or an earlier run).
      const why = e.code === 'EADDRINUSE' ? 'the port is in use' : e.message;
      process.stderr.write(`${name}: cannot listen on ${host}:${port}: ${why}\n`);
      process.exit(1);
    })
    .listen(Number(port), host);
}
process.on('SIGTERM', () => process.exit(0));
