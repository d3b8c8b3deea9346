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
for (const port of [process.env.PORT ?? '8080', process.env.ADMIN_PORT].filter(Boolean)) {
  http.createServer(handler).listen(Number(port), process.env.HOST ?? '127.0.0.1');
}
process.on('SIGTERM', () => process.exit(0));
