// A proxyless gRPC app for the end-to-end tests, in its own process (grpc-js-xds's xDS client is per process):
//   node grpc-xds-child.js client LIFETIME_MS
//   node grpc-xds-child.js server LIFETIME_MS IP:PORT NAME
// GRPC_XDS_BOOTSTRAP names its bootstrap. Commands arrive as JSON lines on stdin, answers and events leave as
// JSON lines on stdout. It exits when stdin closes (the test ended or died) and after LIFETIME_MS regardless.
// Both sides use xDS credentials with an insecure fallback, as a proxyless Istio app does
// (xds.NewClientCredentials / xds.NewServerCredentials): TLS only where the control plane's config says so.

import net from 'node:net';
import { createInterface } from 'node:readline';
import * as grpc from '@grpc/grpc-js';
import * as xds from '@grpc/grpc-js-xds';
import { type CallResult, ECHO_SERVICE, type EchoReply, echoHandler, type LoopResult } from './grpc-xds.js';

const [role = '', lifetime = '60000', ...rest] = process.argv.slice(2);
const lifetimeTimer = setTimeout(() => process.exit(3), Number(lifetime) || 60_000);
lifetimeTimer.unref();

function send(message: Record<string, unknown>): void {
  process.stdout.write(`${JSON.stringify(message)}\n`);
}

const cleanups: (() => void)[] = [];
function exit(code: number): never {
  for (const c of cleanups.splice(0)) {
    try {
      c();
    } catch {}
  }
  process.exit(code);
}
process.on('uncaughtException', (e) => {
  process.stderr.write(`uncaught: ${e?.stack ?? e}\n`);
  exit(2);
});

xds.register();

type Command = { id: number; op: string; [k: string]: unknown };

function client(): void {
  const credentials = new xds.XdsChannelCredentials(grpc.credentials.createInsecure());
  const Echo = grpc.makeGenericClientConstructor(ECHO_SERVICE, 'Echo');
  const clients = new Map<string, grpc.Client>();
  cleanups.push(() => {
    for (const c of clients.values()) c.close();
  });
  const clientFor = (target: string) => {
    let c = clients.get(target);
    if (!c) {
      c = new Echo(target, credentials);
      clients.set(target, c);
    }
    return c;
  };
  const call = (target: string, deadlineMs: number) =>
    new Promise<CallResult>((resolve) => {
      const c = clientFor(target) as unknown as Record<
        string,
        (
          req: unknown,
          opts: grpc.CallOptions,
          cb: (err: grpc.ServiceError | null, reply?: EchoReply) => void,
        ) => grpc.ClientUnaryCall
      >;
      let serverSans: string | undefined;
      const unary = c.Call?.call(c, {}, { deadline: Date.now() + deadlineMs }, (err, reply) => {
        if (err) resolve({ ok: false, code: err.code, details: err.details });
        else resolve({ ok: true, reply: reply ?? { server: '' }, ...(serverSans ? { serverSans } : {}) });
      });
      unary?.on('metadata', () => {
        const san = unary.getAuthContext()?.sslPeerCertificate?.subjectaltname;
        if (san) serverSans = san;
      });
    });

  let loop: { stop: boolean; result: LoopResult; done: Promise<void> } | undefined;
  const handle = async (cmd: Command) => {
    switch (cmd.op) {
      case 'call': {
        const r = await call(String(cmd.target), Number(cmd.deadlineMs) || 3000);
        send({ id: cmd.id, ...r });
        return;
      }
      case 'loop-start': {
        const target = String(cmd.target);
        const interval = Number(cmd.intervalMs) || 20;
        const deadline = Number(cmd.deadlineMs) || 3000;
        const state = {
          stop: false,
          result: { total: 0, byServer: {}, failures: [] } as LoopResult,
          done: Promise.resolve(),
        };
        state.done = (async () => {
          while (!state.stop) {
            const r = await call(target, deadline);
            state.result.total++;
            if (r.ok)
              state.result.byServer[r.reply.server] = (state.result.byServer[r.reply.server] ?? 0) + 1;
            else state.result.failures.push({ code: r.code, details: r.details, at: Date.now() });
            await new Promise((resolve) => setTimeout(resolve, interval));
          }
        })();
        loop = state;
        send({ id: cmd.id, ok: true });
        return;
      }
      case 'loop-peek': {
        send({ id: cmd.id, ...(loop?.result ?? { total: 0, byServer: {}, failures: [] }) });
        return;
      }
      case 'loop-stop': {
        if (!loop) {
          send({ id: cmd.id, error: 'no loop running' });
          return;
        }
        loop.stop = true;
        await loop.done;
        send({ id: cmd.id, ...loop.result });
        loop = undefined;
        return;
      }
      default:
        send({ id: cmd.id, error: `unknown op ${JSON.stringify(cmd.op)}` });
    }
  };
  commands(handle);
}

function server(address: string, name: string): void {
  const hostPort = /^(.+):([0-9]+)$/.exec(address);
  if (!hostPort) {
    process.stderr.write(`expected IP:PORT, got ${JSON.stringify(address)}\n`);
    exit(2);
  }
  const host = hostPort[1] ?? '';
  // grpc-js-xds 1.14's XdsServer listens on the bound port on every interface (BoundPortEntry calls
  // `tcpServer.listen(port)`); the tests stay on loopback, so a listen by port alone binds the requested IP.
  const listen = net.Server.prototype.listen as (this: net.Server, ...a: unknown[]) => net.Server;
  net.Server.prototype.listen = function (this: net.Server, ...args: unknown[]) {
    if (typeof args[0] === 'number' && (args.length === 1 || typeof args[1] === 'function')) {
      return listen.call(this, args[0], host, ...args.slice(1));
    }
    return listen.apply(this, args);
  } as typeof net.Server.prototype.listen;

  const srv = new xds.XdsServer();
  srv.addService(ECHO_SERVICE, echoHandler(name));
  cleanups.push(() => srv.forceShutdown());
  const credentials = new xds.XdsServerCredentials(grpc.ServerCredentials.createInsecure());
  srv.bindAsync(address, credentials, (err, port) => {
    if (err) send({ event: 'error', message: err.message });
    else send({ event: 'serving', port });
  });
  srv.addServingStateListener(address, (s) => send({ event: 'status', code: s.code, details: s.details }));
  commands(async (cmd) => send({ id: cmd.id, error: `unknown op ${JSON.stringify(cmd.op)}` }));
}

function commands(handle: (cmd: Command) => Promise<void>): void {
  const lines = createInterface({ input: process.stdin });
  lines.on('line', (line) => {
    let cmd: Command;
    try {
      cmd = JSON.parse(line) as Command;
    } catch {
      send({ event: 'error', message: `not JSON: ${line.slice(0, 100)}` });
      return;
    }
    handle(cmd).catch((e: unknown) => send({ id: cmd.id, error: String((e as Error)?.message ?? e) }));
  });
  lines.on('close', () => exit(0));
}

if (role === 'client') client();
else if (role === 'server') server(rest[0] ?? '', rest[1] ?? 'server');
else {
  process.stderr.write(`usage: grpc-xds-child.js client|server LIFETIME_MS [IP:PORT NAME]\n`);
  exit(2);
}
