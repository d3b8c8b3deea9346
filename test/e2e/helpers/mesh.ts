// Pieces for end-to-end tests of the proxy: certificates made by the real `skiff ca` commands, an app that
// answers plaintext and its own TLS, the proxy as a real process, and real clients (openssl, curl, Node).

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import tls from 'node:tls';
import { repoRoot } from '../../helpers.js';

export const SKIFF = path.join(repoRoot, 'bin', 'skiff.js');

export function run(
  cmd: string,
  args: string[],
  options: { cwd?: string; input?: string; timeout?: number } = {},
) {
  const r = spawnSync(cmd, args, {
    cwd: options.cwd ?? repoRoot,
    encoding: 'utf8',
    timeout: options.timeout ?? 20_000,
    ...(options.input !== undefined ? { input: options.input } : {}),
  });
  return { code: r.status, out: r.stdout ?? '', err: r.stderr ?? '' };
}

export function skiffOk(...args: string[]): string {
  const r = run(process.execPath, [SKIFF, ...args]);
  assert.equal(r.code, 0, `skiff ${args.join(' ')}\n${r.out}\n${r.err}`);
  return r.out;
}

/** Identities in `dir`: the mesh CA's server (`server/`) and client (`client/`), a foreign CA's client
 * (`foreign/`), a client of another trust domain whose root the server trusts (`other-td/`), and the app's own
 * TLS certificate (`app/`). `server/root-cert.pem` trusts the mesh root and the other trust domain's root. */
export function makePki(dir: string): void {
  skiffOk('ca', 'init', '--dir', `${dir}/ca`);
  skiffOk('ca', 'init', '--dir', `${dir}/foreign-ca`);
  skiffOk('ca', 'init', '--dir', `${dir}/other-ca`, '--trust-domain', 'other.local');
  const issue = (ca: string, ns: string, sa: string, out: string) =>
    skiffOk(
      'ca',
      'issue',
      '--dir',
      `${dir}/${ca}`,
      '--namespace',
      ns,
      '--service-account',
      sa,
      '--out',
      `${dir}/${out}`,
    );
  issue('ca', 'bookinfo', 'bookinfo-ratings', 'server');
  issue('ca', 'bookinfo', 'productpage', 'client');
  issue('foreign-ca', 'bookinfo', 'productpage', 'foreign');
  issue('other-ca', 'bookinfo', 'productpage', 'other-td');
  writeFileSync(
    `${dir}/server/root-cert.pem`,
    readFileSync(`${dir}/server/root-cert.pem`, 'utf8') +
      readFileSync(`${dir}/other-td/root-cert.pem`, 'utf8'),
  );
  makeAppCert(dir);
}

/** The app's own TLS certificate (CN=app-own-tls, not from the mesh) in `dir`/app-{cert,key}.pem. */
export function makeAppCert(dir: string): void {
  const r = run('openssl', [
    'req',
    '-x509',
    '-newkey',
    'ec',
    '-pkeyopt',
    'ec_paramgen_curve:P-256',
    '-nodes',
    '-days',
    '2',
    '-subj',
    '/CN=app-own-tls',
    '-keyout',
    `${dir}/app-key.pem`,
    '-out',
    `${dir}/app-cert.pem`,
  ]);
  assert.equal(r.code, 0, r.err);
}

export interface App {
  port: number;
  /** The first bytes of each connection the app received, in order. */
  firstBytes: Buffer[];
  close(): Promise<void>;
}

/**
 * The workload: answers HTTP/1.x with `200 app saw <request line>`, echoes other bytes prefixed with `echo:`,
 * and when a connection starts with a TLS record terminates TLS itself with its own certificate (CN=app-own-tls)
 * — the "application TLS" a PERMISSIVE port must pass through untouched.
 */
export async function startApp(dir: string): Promise<App> {
  const own = tls.createSecureContext({
    cert: readFileSync(`${dir}/app-cert.pem`),
    key: readFileSync(`${dir}/app-key.pem`),
  });
  const firstBytes: Buffer[] = [];
  const sockets = new Set<net.Socket>();
  const serve = (s: net.Socket | tls.TLSSocket) => {
    let seen = Buffer.alloc(0);
    s.on('data', (chunk: Buffer) => {
      seen = Buffer.concat([seen, chunk]);
      const text = seen.toString('latin1');
      if (/^[A-Z]+ \S+ HTTP\/1\.[01]\r\n/.test(text)) {
        if (!text.includes('\r\n\r\n')) return;
        const line = text.slice(0, text.indexOf('\r\n'));
        const body = `app saw ${line}\n`;
        s.end(`HTTP/1.1 200 OK\r\ncontent-length: ${body.length}\r\nconnection: close\r\n\r\n${body}`);
        return;
      }
      if (/^[A-Z]+ /.test(text) && !text.includes('\n')) return;
      s.write(`echo:${chunk.toString('latin1')}`);
    });
    s.on('end', () => s.end());
    s.on('error', () => {});
  };
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    socket.on('error', () => {});
    socket.once('readable', () => {
      const head = socket.read() as Buffer | null;
      if (!head) {
        socket.end();
        return;
      }
      firstBytes.push(head);
      socket.unshift(head);
      if (head[0] === 0x16) {
        const t = new tls.TLSSocket(socket, { isServer: true, secureContext: own });
        serve(t);
      } else serve(socket);
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    firstBytes,
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

export interface RunningProxy {
  child: ChildProcess;
  admin: string;
  listeners: Record<string, string>;
  stderr: () => string;
  stop(): Promise<number | null>;
}

/** Starts `skiff proxy --config file` and waits for its ready line. */
export async function startProxy(file: string, cwd: string, extra: string[] = []): Promise<RunningProxy> {
  const child = spawn(
    process.execPath,
    [SKIFF, 'proxy', '--config', file, '--log-level', 'debug', ...extra],
    {
      cwd,
      stdio: ['ignore', 'pipe', 'pipe'],
    },
  );
  let out = '';
  let err = '';
  child.stderr?.on('data', (d: Buffer) => {
    err += d.toString();
  });
  const ready = await new Promise<{ admin: string; listeners: Record<string, string> }>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`proxy did not start in 15 s:\n${err}`)), 15_000);
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      const nl = out.indexOf('\n');
      if (nl >= 0) {
        clearTimeout(timer);
        resolve(JSON.parse(out.slice(0, nl)) as { admin: string; listeners: Record<string, string> });
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`proxy exited ${code}:\n${err}`));
    });
  });
  return {
    child,
    admin: ready.admin,
    listeners: ready.listeners,
    stderr: () => err,
    stop: () =>
      new Promise((resolve) => {
        if (child.exitCode !== null) {
          resolve(child.exitCode);
          return;
        }
        const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
        child.once('exit', (code) => {
          clearTimeout(timer);
          resolve(code);
        });
        child.kill('SIGTERM');
      }),
  };
}

/** A port free on 127.0.0.1 right now (for configs that must name their ports before they bind). */
export async function freePort(): Promise<number> {
  const s = net.createServer();
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  const a = s.address();
  await new Promise((r) => s.close(r));
  return typeof a === 'object' && a ? a.port : 0;
}

/** GETs an admin path. */
export async function adminGet(
  admin: string,
  p: string,
  method = 'GET',
): Promise<{ status: number; body: string }> {
  const res = await fetch(`http://${admin}${p}`, { method });
  return { status: res.status, body: await res.text() };
}

/** Envoy's /stats text as a map. */
export async function statsOf(admin: string): Promise<Map<string, number>> {
  const { body } = await adminGet(admin, '/stats');
  const out = new Map<string, number>();
  for (const line of body.split('\n')) {
    const m = /^([^:]+): (-?[0-9.]+)$/.exec(line);
    if (m?.[1] && m[2]) out.set(m[1], Number(m[2]));
  }
  return out;
}

export interface SClient {
  /** The handshake completed and the server's certificate was shown. */
  handshake: boolean;
  /** Subject of the certificate the server presented. */
  serverSubject: string;
  /** What came back after sending `hello`. */
  reply: string;
  alpn: string;
  raw: string;
}

/**
 * `openssl s_client` sending `hello\n`, with an optional client certificate folder and ALPN list. It is stopped
 * as soon as the echo arrives, or when it exits by itself (refused, closed), or after 5 s.
 */
export function sClient(port: number, o: { certDir?: string; alpn?: string } = {}): Promise<SClient> {
  const args = [
    's_client',
    '-connect',
    `127.0.0.1:${port}`,
    '-servername',
    'ratings.bookinfo.svc',
    '-ign_eof',
  ];
  if (o.certDir) args.push('-cert', `${o.certDir}/cert-chain.pem`, '-key', `${o.certDir}/key.pem`);
  if (o.alpn) args.push('-alpn', o.alpn);
  return new Promise((resolve) => {
    const child = spawn('openssl', args, { stdio: ['pipe', 'pipe', 'pipe'] });
    let raw = '';
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    const onData = (d: Buffer) => {
      raw += d.toString('latin1');
      if (raw.includes('echo:hello')) child.kill('SIGTERM');
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.stdin.on('error', () => {});
    child.stdin.write('hello\n');
    child.on('close', () => {
      clearTimeout(timer);
      const subject = /subject=(.*)/.exec(raw)?.[1]?.trim() ?? '';
      resolve({
        handshake: /^subject=/m.test(raw) && /Cipher is /.test(raw) && !/Cipher is \(NONE\)/.test(raw),
        serverSubject: subject,
        reply: raw.includes('echo:hello') ? 'echo:hello' : '',
        alpn: /ALPN protocol: (\S+)/.exec(raw)?.[1] ?? '',
        raw,
      });
    });
  });
}

/** Runs a client process without blocking this process's event loop (the app under test lives here). */
export function runAsync(
  cmd: string,
  args: string[],
  timeoutMs = 10_000,
): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => {
      out += d.toString();
    });
    child.stderr.on('data', (d: Buffer) => {
      err += d.toString();
    });
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out, err });
    });
  });
}

/** curl over plaintext HTTP; returns the body and curl's exit code. */
export async function curl(port: number): Promise<{ code: number | null; body: string }> {
  const r = await runAsync('curl', ['-sS', '--max-time', '5', `http://127.0.0.1:${port}/ratings/1`]);
  return { code: r.code, body: r.out };
}

/** A raw TCP client: sends `hello\n`, half-closes, returns everything received before the close. */
export function rawTcp(port: number, payload = 'hello\n'): Promise<{ reply: string; error?: string }> {
  return new Promise((resolve) => {
    const s = net.connect({ host: '127.0.0.1', port, allowHalfOpen: true });
    let reply = '';
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('connect', () => s.end(payload));
    s.on('data', (d) => {
      reply += d.toString('latin1');
    });
    s.on('error', (e) => resolve({ reply, error: e.message }));
    s.on('close', () => resolve({ reply }));
  });
}

/** A Node TLS client with a client certificate folder and ALPN; returns the reply to `hello\n`. */
export function nodeTls(
  port: number,
  certDir: string | undefined,
  alpn: string[],
  ca?: string,
): Promise<{ reply: string; authorized: boolean; peerSan: string; error?: string }> {
  return new Promise((resolve) => {
    const s = tls.connect({
      host: '127.0.0.1',
      port,
      servername: 'outbound_.9080_._.ratings.bookinfo.svc.cluster.local',
      ALPNProtocols: alpn,
      rejectUnauthorized: false,
      ...(certDir
        ? { cert: readFileSync(`${certDir}/cert-chain.pem`), key: readFileSync(`${certDir}/key.pem`) }
        : {}),
      ...(ca ? { ca: readFileSync(ca) } : {}),
    });
    let reply = '';
    let peerSan = '';
    s.setTimeout(5000, () => s.destroy(new Error('timeout')));
    s.on('secureConnect', () => {
      const cert = s.getPeerX509Certificate();
      peerSan = cert?.subjectAltName || cert?.subject || '';
      s.write('hello\n');
    });
    s.on('data', (d) => {
      reply += d.toString();
      if (reply.includes('\n')) s.end();
    });
    s.on('error', (e) => resolve({ reply, authorized: s.authorized, peerSan, error: e.message }));
    s.on('close', () => resolve({ reply, authorized: s.authorized, peerSan }));
  });
}

/** `skiff ca serve` on a free port; returns its address and a stop function. */
export async function startCaServe(caDir: string): Promise<{ address: string; stop: () => void }> {
  const child = spawn(process.execPath, [SKIFF, 'ca', 'serve', '--dir', caDir, '--listen', '127.0.0.1:0'], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const address = await new Promise<string>((resolve, reject) => {
    let out = '';
    const timer = setTimeout(() => reject(new Error('skiff ca serve did not start in 15 s')), 15_000);
    child.stdout?.on('data', (chunk: Buffer) => {
      out += chunk.toString();
      const line = out.split('\n')[0];
      if (out.includes('\n') && line) {
        clearTimeout(timer);
        resolve((JSON.parse(line) as { listening: string }).listening);
      }
    });
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`skiff ca serve exited with ${code}`));
    });
  });
  return { address, stop: () => child.kill('SIGTERM') };
}

/** A TCP relay that records, per connection, every byte from the client to the server (the wire between two
 * proxies). */
export async function startRecordingRelay(
  target: number,
): Promise<{ port: number; recorded: () => Buffer[]; close: () => Promise<void> }> {
  const connections: Buffer[][] = [];
  const sockets = new Set<net.Socket>();
  const server = net.createServer({ allowHalfOpen: true }, (down) => {
    const up = net.connect({ host: '127.0.0.1', port: target, allowHalfOpen: true });
    const chunks: Buffer[] = [];
    connections.push(chunks);
    for (const s of [down, up]) {
      sockets.add(s);
      s.on('close', () => sockets.delete(s));
      s.on('error', () => {
        down.destroy();
        up.destroy();
      });
    }
    down.on('data', (d: Buffer) => {
      chunks.push(Buffer.from(d));
      up.write(d);
    });
    up.on('data', (d: Buffer) => down.write(d));
    down.on('end', () => up.end());
    up.on('end', () => down.end());
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const a = server.address();
  return {
    port: typeof a === 'object' && a ? a.port : 0,
    recorded: () => connections.map((c) => Buffer.concat(c)),
    close: () =>
      new Promise((r) => {
        for (const s of sockets) s.destroy();
        server.close(() => r());
      }),
  };
}

/** Splits bytes into TLS records; returns the content types, or undefined if the bytes are not TLS records. */
export function tlsRecordTypes(bytes: Buffer): number[] | undefined {
  const types: number[] = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 5 > bytes.length) return undefined;
    const type = bytes[at] as number;
    const major = bytes[at + 1];
    const length = bytes.readUInt16BE(at + 3);
    if (![20, 21, 22, 23].includes(type) || major !== 3 || at + 5 + length > bytes.length) return undefined;
    types.push(type);
    at += 5 + length;
  }
  return types;
}
