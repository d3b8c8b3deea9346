// Certificate rotation under traffic: a signing service (`skiff ca serve`, a real process), two agents with
// 20-second certificates, a TLS server that swaps its context on every rotation, a client opening a new mutual
// TLS connection every 50 ms for 60 s, and one long-lived connection streaming throughout.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { CertificateAgent, type WorkloadMaterial } from '../../src/proxy/agent/agent.js';
import { repoRoot } from '../helpers.js';

const SKIFF = path.join(repoRoot, 'bin', 'skiff.js');
const RUN_MS = 60_000;
const LIFETIME_S = 20;

function skiff(args: string[]): string {
  const r = spawnSync(process.execPath, [SKIFF, ...args], { encoding: 'utf8', timeout: 20_000 });
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim();
}

function spiffeOf(cert: tls.PeerCertificate): string | undefined {
  return /URI:(spiffe:\/\/[^,\s]+)/.exec(cert.subjectaltname ?? '')?.[1];
}

describe('certificate rotation under traffic', { timeout: 150_000 }, () => {
  let dir: string;
  let ca: ChildProcess;
  let address: string;
  const agents: CertificateAgent[] = [];
  let server: tls.Server;

  before(async () => {
    dir = mkdtempSync(path.join(tmpdir(), 'skiff-rotation-'));
    skiff(['ca', 'init', '--dir', path.join(dir, 'ca')]);
    ca = spawn(
      process.execPath,
      [SKIFF, 'ca', 'serve', '--dir', path.join(dir, 'ca'), '--listen', '127.0.0.1:0'],
      {
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    address = await new Promise<string>((resolve, reject) => {
      let out = '';
      ca.stdout?.on('data', (chunk: Buffer) => {
        out += chunk.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n') && line) resolve((JSON.parse(line) as { listening: string }).listening);
      });
      ca.once('exit', (code) => reject(new Error(`skiff ca serve exited with ${code}`)));
    });
  });

  after(() => {
    for (const a of agents) a.stop();
    server?.close();
    ca?.kill('SIGTERM');
    rmSync(dir, { recursive: true, force: true });
  });

  it('drops no connection while both sides rotate every ~10 s', async () => {
    const rootCertPem = readFileSync(path.join(dir, 'ca', 'root-cert.pem'), 'utf8');
    const agentFor = (namespace: string, serviceAccount: string) => {
      const token = skiff([
        'ca',
        'token',
        '--dir',
        path.join(dir, 'ca'),
        '-n',
        namespace,
        '-s',
        serviceAccount,
      ]);
      const agent = new CertificateAgent({
        caAddress: address,
        rootCertPem,
        token: () => token,
        ttlSeconds: LIFETIME_S,
      });
      agents.push(agent);
      return agent;
    };
    const serverAgent = agentFor('shop', 'server');
    const clientAgent = agentFor('shop', 'client');
    const rotations = { server: 0, client: 0 };
    serverAgent.on('material', () => rotations.server++);
    clientAgent.on('material', () => rotations.client++);
    const [serverMaterial, first] = await Promise.all([serverAgent.start(), clientAgent.start()]);
    let clientMaterial: WorkloadMaterial = first;
    clientAgent.on('material', (m) => {
      clientMaterial = m;
    });

    const context = (m: WorkloadMaterial) => ({ key: m.keyPem, cert: m.certChainPem, ca: m.rootPem });
    const peersSeenByServer = new Set<string>();
    server = tls.createServer(
      { ...context(serverMaterial), requestCert: true, rejectUnauthorized: true },
      (socket) => {
        const peer = spiffeOf(socket.getPeerCertificate());
        if (peer) peersSeenByServer.add(peer);
        socket.on('error', () => {});
        socket.pipe(socket);
      },
    );
    serverAgent.on('material', (m) => server.setSecureContext(context(m)));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const port = (server.address() as { port: number }).port;

    const expectServer = 'spiffe://cluster.local/ns/shop/sa/server';
    const connect = () =>
      tls.connect({
        host: '127.0.0.1',
        port,
        servername: 'outbound_.8080_._.server.shop.svc.cluster.local',
        ...context(clientMaterial),
        checkServerIdentity: (_host, cert) =>
          spiffeOf(cert) === expectServer ? undefined : new Error(`unexpected server ${spiffeOf(cert)}`),
      });

    // The long-lived connection: a numbered line every 100 ms, echoed back.
    const stream = connect();
    let streamError: Error | undefined;
    let streamClosed = false;
    let echoed = '';
    let sent = 0;
    stream.on('data', (d: Buffer) => {
      echoed += d.toString();
    });
    stream.on('error', (e) => {
      streamError = e;
    });
    stream.on('close', () => {
      streamClosed = true;
    });
    await new Promise<void>((resolve, reject) => {
      stream.once('secureConnect', resolve);
      stream.once('error', reject);
    });
    const ticker = setInterval(() => stream.write(`${sent++}\n`), 100);

    // A new connection every 50 ms.
    const serverSerials = new Set<string>();
    let attempted = 0;
    let failed = 0;
    const failures: string[] = [];
    const pending: Promise<void>[] = [];
    // Connection i starts at 50 ms × i (or at once, if the machine is running behind): 1200 over 60 s.
    const started = Date.now();
    for (let i = 0; i < RUN_MS / 50; i++) {
      const due = started + i * 50 - Date.now();
      if (due > 0) await new Promise((r) => setTimeout(r, due));
      attempted++;
      pending.push(
        new Promise<void>((resolve) => {
          const socket = connect();
          const fail = (why: string) => {
            failed++;
            failures.push(why);
            socket.destroy();
            resolve();
          };
          const timer = setTimeout(() => fail('timeout'), 5000);
          socket.once('secureConnect', () => {
            serverSerials.add(socket.getPeerCertificate().serialNumber);
            socket.write('ping');
          });
          socket.once('data', (d: Buffer) => {
            clearTimeout(timer);
            if (d.toString() !== 'ping') return fail(`bad echo ${d.toString()}`);
            socket.end();
            resolve();
          });
          socket.once('error', (e) => {
            clearTimeout(timer);
            fail(e.message);
          });
        }),
      );
    }
    await Promise.all(pending);
    clearInterval(ticker);
    const expected = Array.from({ length: sent }, (_, i) => `${i}\n`).join('');
    await new Promise<void>((resolve) => {
      const check = setInterval(() => {
        if (echoed.length >= expected.length || streamClosed) {
          clearInterval(check);
          resolve();
        }
      }, 20);
    });
    stream.end();

    assert.equal(attempted, RUN_MS / 50);
    assert.equal(failed, 0, `failed connections: ${failures.slice(0, 5).join('; ')}`);
    assert.equal(streamError, undefined, `the long-lived connection failed: ${streamError?.message}`);
    assert.equal(echoed, expected, 'the long-lived connection got every line back, in order');
    assert.ok(rotations.server >= 4, `server rotations: ${rotations.server}`);
    assert.ok(rotations.client >= 4, `client rotations: ${rotations.client}`);
    assert.ok(serverSerials.size >= 4, `new handshakes saw ${serverSerials.size} server certificates`);
    assert.deepEqual([...peersSeenByServer], ['spiffe://cluster.local/ns/shop/sa/client']);
  });
});
