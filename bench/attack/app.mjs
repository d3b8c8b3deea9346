// The recording app of the attack harness: a separate process (started with fork) that listens on one port per
// "lane" (one lane per proxy chain under attack) and records what really reaches the workload: every byte per
// connection, every request its strict HTTP/1.1 reader (lib/http1.mjs) completes, every framing error it finds,
// and how often given marker strings appear in the raw bytes. It answers each request with 200 and
// `x-app-lane` / `x-app-seq`, so a client can tell the app's answers from the proxy's own.
//
// The parent talks to it over IPC: {op: 'drain', id, lanes} returns and resets the lanes' records; {op: 'stop'}.

import net from 'node:net';
import { RequestReader } from './lib/http1.mjs';

const lanes = JSON.parse(process.env.ATTACK_LANES ?? '[]');
const markers = JSON.parse(process.env.ATTACK_MARKERS ?? '[]').map((m) => Buffer.from(m, 'latin1'));
const MAX_EVENTS = 4000;
const longestMarker = Math.max(1, ...markers.map((m) => m.length));

function freshRecord() {
  return { bytes: 0, connections: 0, requests: 0, errors: 0, events: [], dropped: 0, markers: {} };
}

const records = new Map(lanes.map((l) => [l, freshRecord()]));
const open = new Map(lanes.map((l) => [l, new Set()]));
let nextConn = 1;

function event(lane, e) {
  const r = records.get(lane);
  if (r.events.length < MAX_EVENTS) r.events.push(e);
  else r.dropped++;
}

function countMarkers(lane, conn, chunk) {
  if (markers.length === 0) return;
  const joined = Buffer.concat([conn.tail, chunk]);
  const r = records.get(lane);
  for (const m of markers) {
    let at = joined.indexOf(m);
    while (at !== -1) {
      // A marker wholly inside the tail was counted with the previous chunk.
      if (at + m.length > conn.tail.length) {
        const key = m.toString('latin1');
        r.markers[key] = (r.markers[key] ?? 0) + 1;
      }
      at = joined.indexOf(m, at + 1);
    }
  }
  conn.tail = joined.subarray(Math.max(0, joined.length - (longestMarker - 1)));
}

function respond(socket, lane, conn, req) {
  const body = JSON.stringify({
    lane,
    conn: conn.id,
    n: conn.requests,
    method: req.method,
    target: req.target,
    bodyLength: req.body.length,
  });
  const close = !req.keepAlive;
  const head =
    `HTTP/1.1 200 OK\r\nx-app-lane: ${lane}\r\nx-app-seq: ${conn.id}.${conn.requests}\r\n` +
    `content-type: application/json\r\ncontent-length: ${body.length}\r\n${close ? 'connection: close\r\n' : ''}\r\n`;
  socket.write(req.method === 'HEAD' ? head : head + body);
  if (close) {
    conn.closing = true;
    socket.end();
  }
}

function serve(lane, socket) {
  const conn = {
    id: nextConn++,
    lane,
    bytes: 0,
    requests: 0,
    reader: new RequestReader(),
    tail: Buffer.alloc(0),
  };
  const record = records.get(lane);
  record.connections++;
  open.get(lane).add(conn);
  socket.on('data', (chunk) => {
    conn.bytes += chunk.length;
    records.get(lane).bytes += chunk.length;
    countMarkers(lane, conn, chunk);
    for (const r of conn.reader.push(chunk)) {
      const rec = records.get(lane);
      if (r.error) {
        rec.errors++;
        event(lane, { t: 'error', conn: conn.id, reason: r.error, near: r.near });
        if (!conn.closing) {
          socket.end(
            'HTTP/1.1 400 Bad Request\r\nx-app-error: 1\r\ncontent-length: 0\r\nconnection: close\r\n\r\n',
          );
          conn.closing = true;
        }
        continue;
      }
      rec.requests++;
      conn.requests++;
      event(lane, {
        t: 'req',
        conn: conn.id,
        n: conn.requests,
        // Requests read after the app decided to close (Connection: close) are recorded, never answered.
        afterClose: conn.closing === true,
        method: r.method,
        target: r.target,
        version: r.version,
        headers: r.headers,
        trailers: r.trailers,
        framing: r.framing,
        bodyLength: r.body.length,
        body: r.body.toString('latin1', 0, 2048),
      });
      if (!conn.closing) respond(socket, lane, conn, r);
    }
  });
  socket.on('end', () => {
    if (!conn.closing) socket.end();
  });
  socket.on('error', () => {});
  socket.on('close', () => {
    open.get(lane).delete(conn);
    const p = conn.reader.pending();
    if (p.bytes > 0 && !conn.reader.failed) {
      event(lane, {
        t: 'cut',
        conn: conn.id,
        state: p.state,
        bytes: p.bytes,
        ...(p.head ? { method: p.head.method, target: p.head.target } : {}),
      });
    }
  });
}

const ports = {};
for (const lane of lanes) {
  const server = net.createServer({ allowHalfOpen: true }, (s) => serve(lane, s));
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  ports[lane] = server.address().port;
}

process.on('message', (msg) => {
  if (msg.op === 'drain') {
    const out = {};
    for (const lane of msg.lanes ?? lanes) {
      const r = records.get(lane);
      out[lane] = {
        ...r,
        // Connections still open that hold part of a request (a head without its end, a body not complete).
        holding: [...open.get(lane)]
          .map((c) => ({ conn: c.id, ...c.reader.pending() }))
          .filter((p) => p.bytes > 0)
          .map(({ head, ...p }) => ({ ...p, ...(head ? { method: head.method, target: head.target } : {}) })),
        open: open.get(lane).size,
      };
      records.set(lane, freshRecord());
    }
    process.send({ id: msg.id, lanes: out });
  } else if (msg.op === 'stop') process.exit(0);
});
process.on('disconnect', () => process.exit(0));
process.send({ ready: true, ports });
