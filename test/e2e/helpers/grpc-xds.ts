// Pieces for the end-to-end tests with gRPC's own xDS client (@grpc/grpc-js-xds): a tiny echo service that needs
// no .proto (JSON over gRPC framing), the bootstrap Istio's agent writes for a proxyless app, and the handle of
// a grpc-js-xds client or server running in a child process (grpc-js-xds keeps one xDS client per process, so
// every proxyless app gets its own). Every wait is bounded; every child is killed at the end.
// Istio: pkg/istio-agent/grpcxds/grpc_bootstrap.go (GenerateBootstrap).

import { type ChildProcess, spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import * as grpc from '@grpc/grpc-js';

/** What the echo service answers: who served the call and what it saw of the caller. */
export interface EchoReply {
  server: string;
  /** The transport the server saw: `ssl` for TLS, else `insecure` or absent. */
  security?: string;
  /** The client certificate's SANs as Node prints them (`URI:spiffe://…`), when the client presented one. */
  peer?: string;
}

const json = {
  serialize: (value: unknown) => Buffer.from(JSON.stringify(value ?? {})),
  deserialize: (bytes: Buffer) => JSON.parse(bytes.toString('utf8') || '{}') as unknown,
};

/** `/skiff.test.Echo/Call`: a unary method whose messages are JSON (no protobuf needed on either side). */
export const ECHO_SERVICE: grpc.ServiceDefinition = {
  Call: {
    path: '/skiff.test.Echo/Call',
    requestStream: false,
    responseStream: false,
    requestSerialize: json.serialize,
    requestDeserialize: json.deserialize,
    responseSerialize: json.serialize,
    responseDeserialize: json.deserialize,
  },
};

/** The echo handler: answers with `name`, the transport and the client certificate's SANs. */
export function echoHandler(name: string): grpc.UntypedServiceImplementation {
  return {
    Call: (call: grpc.ServerUnaryCall<unknown, EchoReply>, callback: grpc.sendUnaryData<EchoReply>) => {
      const auth = call.getAuthContext();
      const reply: EchoReply = { server: name };
      if (auth?.transportSecurityType) reply.security = auth.transportSecurityType;
      const san = auth?.sslPeerCertificate?.subjectaltname;
      if (san) reply.peer = san;
      callback(null, reply);
    },
  };
}

/** A plain (non-xDS) echo server on `host:0`; resolves with its port and a stop function. */
export async function startPlainEcho(
  host: string,
  name: string,
): Promise<{ port: number; stop: () => Promise<void> }> {
  const server = new grpc.Server();
  server.addService(ECHO_SERVICE, echoHandler(name));
  const port = await new Promise<number>((resolve, reject) =>
    server.bindAsync(`${host}:0`, grpc.ServerCredentials.createInsecure(), (err, p) =>
      err ? reject(err) : resolve(p),
    ),
  );
  return {
    port,
    stop: () =>
      new Promise<void>((resolve) => {
        const timer = setTimeout(() => {
          server.forceShutdown();
          resolve();
        }, 2000);
        server.tryShutdown(() => {
          clearTimeout(timer);
          resolve();
        });
      }),
  };
}

/** A port free on `host` now (for an XdsServer, which must bind a known IP:port). */
export function freePort(host: string): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = net.createServer();
    s.once('error', reject);
    s.listen(0, host, () => {
      const address = s.address();
      const port = typeof address === 'object' && address ? address.port : 0;
      s.close(() => resolve(port));
    });
  });
}

/** The proxyless app's identity as its node announces it (Istio's agent: node id and metadata). */
export interface ProxylessNode {
  ip: string;
  /** The WorkloadEntry name. */
  workload: string;
  namespace: string;
  serviceAccount: string;
  labels?: Record<string, string>;
}

/**
 * The bootstrap Istio's agent writes for a proxyless app (grpc_bootstrap.go GenerateBootstrap): the xDS server
 * with insecure channel credentials, the node with GENERATOR grpc, the server listener name template, and the
 * `default` file_watcher certificate provider over the agent's output folder (`certDir`: cert-chain.pem,
 * key.pem, root-cert.pem).
 */
export function istioGrpcBootstrap(o: {
  xdsAddress: string;
  node: ProxylessNode;
  certDir?: string;
}): Record<string, unknown> {
  const { node } = o;
  const bootstrap: Record<string, unknown> = {
    xds_servers: [
      {
        server_uri: o.xdsAddress,
        channel_creds: [{ type: 'insecure' }],
        server_features: ['xds_v3'],
      },
    ],
    node: {
      id: `sidecar~${node.ip}~${node.workload}.${node.namespace}~${node.namespace}.svc.cluster.local`,
      // gRPC requires a locality in its node (and Istio's agent writes one, empty off Kubernetes).
      locality: {},
      metadata: {
        GENERATOR: 'grpc',
        NAMESPACE: node.namespace,
        SERVICE_ACCOUNT: node.serviceAccount,
        WORKLOAD_NAME: node.workload,
        INSTANCE_IPS: node.ip,
        LABELS: node.labels ?? {},
        ISTIO_VERSION: '1.28.0',
      },
    },
    server_listener_resource_name_template: 'xds.istio.io/grpc/lds/inbound/%s',
  };
  if (o.certDir) {
    bootstrap.certificate_providers = {
      default: {
        plugin_name: 'file_watcher',
        config: {
          certificate_file: path.join(o.certDir, 'cert-chain.pem'),
          private_key_file: path.join(o.certDir, 'key.pem'),
          ca_certificate_file: path.join(o.certDir, 'root-cert.pem'),
          refresh_interval: '900s',
        },
      },
    };
  }
  return bootstrap;
}

const CHILD = fileURLToPath(new URL('./grpc-xds-child.js', import.meta.url));

/** The outcome of one call made by a child client. */
export type CallResult =
  | { ok: true; reply: EchoReply; serverSans?: string }
  | { ok: false; code: number; details: string };

/** Counts from a child client's call loop. */
export interface LoopResult {
  total: number;
  byServer: Record<string, number>;
  failures: { code: number; details: string; at: number }[];
}

/**
 * A grpc-js-xds client or server in a child process, driven by JSON lines on stdin/stdout. The child exits when
 * its stdin closes (so it never outlives the test) and after `lifetimeMs` in any case.
 */
export class XdsChild {
  private readonly child: ChildProcess;
  private readonly waiting = new Map<number, (value: Record<string, unknown>) => void>();
  private readonly events: Record<string, unknown>[] = [];
  private counter = 0;
  private buffered = '';
  /** The child's stderr (gRPC's logs), for failure messages. */
  stderr = '';
  exited: { code: number | null; signal: string | null } | undefined;

  constructor(
    role: 'client' | 'server',
    bootstrapFile: string,
    args: string[] = [],
    o: { lifetimeMs?: number; trace?: string } = {},
  ) {
    this.child = spawn(process.execPath, [CHILD, role, String(o.lifetimeMs ?? 60_000), ...args], {
      env: {
        ...process.env,
        GRPC_XDS_BOOTSTRAP: bootstrapFile,
        ...(o.trace ? { GRPC_TRACE: o.trace, GRPC_VERBOSITY: 'DEBUG' } : {}),
      },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (chunk: string) => {
      this.buffered += chunk;
      let nl = this.buffered.indexOf('\n');
      while (nl >= 0) {
        const line = this.buffered.slice(0, nl);
        this.buffered = this.buffered.slice(nl + 1);
        nl = this.buffered.indexOf('\n');
        let message: Record<string, unknown>;
        try {
          message = JSON.parse(line) as Record<string, unknown>;
        } catch {
          this.stderr += `(stdout) ${line}\n`;
          continue;
        }
        const id = typeof message.id === 'number' ? message.id : undefined;
        const resolve = id !== undefined ? this.waiting.get(id) : undefined;
        if (id !== undefined && resolve) {
          this.waiting.delete(id);
          resolve(message);
        } else this.events.push(message);
      }
    });
    this.child.stderr?.setEncoding('utf8');
    this.child.stderr?.on('data', (chunk: string) => {
      this.stderr = (this.stderr + chunk).slice(-20_000);
    });
    this.child.on('exit', (code, signal) => {
      this.exited = { code, signal };
    });
    this.child.stdin?.on('error', () => {});
  }

  /** Sends a command; resolves with the child's answer, rejects after `ms`. */
  request(command: Record<string, unknown>, ms = 10_000): Promise<Record<string, unknown>> {
    const id = ++this.counter;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.waiting.delete(id);
        reject(new Error(`no answer to ${JSON.stringify(command)} within ${ms} ms\n${this.describe()}`));
      }, ms);
      this.waiting.set(id, (value) => {
        clearTimeout(timer);
        resolve(value);
      });
      this.child.stdin?.write(`${JSON.stringify({ ...command, id })}\n`);
    });
  }

  /** Waits for an event line with `event: name` (e.g. the server's `serving`). */
  async event(name: string, ms = 10_000): Promise<Record<string, unknown>> {
    const end = Date.now() + ms;
    for (;;) {
      const found = this.events.find((e) => e.event === name);
      if (found) return found;
      if (this.exited)
        throw new Error(`the child exited (${JSON.stringify(this.exited)})\n${this.describe()}`);
      if (Date.now() > end) throw new Error(`no ${name} event within ${ms} ms\n${this.describe()}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  /** One unary call to `target` with a deadline. */
  async call(target: string, deadlineMs = 3000): Promise<CallResult> {
    return (await this.request(
      { op: 'call', target, deadlineMs },
      deadlineMs + 5000,
    )) as unknown as CallResult;
  }

  /** Calls until one succeeds (the first resolution through xDS takes a few round trips), within `ms`. */
  async callUntilOk(target: string, ms = 15_000): Promise<CallResult & { ok: true }> {
    const end = Date.now() + ms;
    let last: CallResult | undefined;
    while (Date.now() < end) {
      last = await this.call(target, 2000);
      if (last.ok) return last;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    throw new Error(
      `no successful call to ${target} within ${ms} ms; last: ${JSON.stringify(last)}\n${this.describe()}`,
    );
  }

  describe(): string {
    return `child stderr (last lines):\n${this.stderr.split('\n').slice(-40).join('\n')}`;
  }

  /** Ends the child: stdin closed, then SIGKILL if it is still there after 2 s. */
  async stop(): Promise<void> {
    const gone = new Promise<void>((resolve) => {
      if (this.child.exitCode !== null || this.child.signalCode !== null) resolve();
      else this.child.once('exit', () => resolve());
    });
    this.child.stdin?.end();
    const timer = setTimeout(() => this.child.kill('SIGKILL'), 2000);
    await gone;
    clearTimeout(timer);
  }
}

/** Writes `bootstrap` as JSON to `file` (what GRPC_XDS_BOOTSTRAP names). */
export function writeBootstrap(file: string, bootstrap: Record<string, unknown>): string {
  writeFileSync(file, `${JSON.stringify(bootstrap, null, 2)}\n`);
  return file;
}
