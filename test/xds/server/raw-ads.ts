// A raw ADS client for the ADS server's and the control plane's tests: @grpc/grpc-js with the ADS proto, no xDS
// client library (there is no Envoy binary here: this stands in). Every wait is bounded.

import assert from 'node:assert/strict';
import * as grpc from '@grpc/grpc-js';
import type { JsonObject } from '../../../src/xds/decode.js';
import { envoyRoot } from '../../../src/xds/protos.js';
import type { DiscoveryRequest } from '../../../src/xds/server/protocol.js';
import { ADS_METHOD, adsServiceDefinition, type DecodedResponse } from '../../../src/xds/server/service.js';

export const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));

export function adsClient(
  address: string,
  credentials: grpc.ChannelCredentials = grpc.credentials.createInsecure(),
  options: grpc.ChannelOptions = {},
): grpc.Client {
  const Client = grpc.makeGenericClientConstructor(
    adsServiceDefinition(envoyRoot()),
    'AggregatedDiscoveryService',
  );
  return new Client(address, credentials, options);
}

/** A sidecar's node, as the conformance test builds it. */
export function sidecarNode(
  ip: string,
  name: string,
  sa: string,
  app: string,
  namespace = 'shop',
): JsonObject {
  return {
    id: `sidecar~${ip}~${name}.${namespace}~${namespace}.svc.cluster.local`,
    metadata: {
      NAMESPACE: namespace,
      SERVICE_ACCOUNT: sa,
      WORKLOAD_NAME: name,
      INSTANCE_IPS: ip,
      LABELS: { app, 'security.istio.io/tlsMode': 'istio' },
      ISTIO_VERSION: '1.28.0',
    },
  };
}

export class RawStream {
  readonly received: DecodedResponse[] = [];
  status: grpc.StatusObject | undefined;
  private readonly call: grpc.ClientDuplexStream<DiscoveryRequest, DecodedResponse>;
  private taken = 0;

  constructor(client: grpc.Client) {
    const method = (
      client as unknown as Record<string, () => grpc.ClientDuplexStream<DiscoveryRequest, DecodedResponse>>
    )[ADS_METHOD];
    this.call = method?.call(client) as grpc.ClientDuplexStream<DiscoveryRequest, DecodedResponse>;
    this.call.on('data', (r: DecodedResponse) => this.received.push(r));
    this.call.on('status', (s: grpc.StatusObject) => {
      this.status = s;
    });
    this.call.on('error', () => {});
  }

  send(r: DiscoveryRequest): void {
    this.call.write(r);
  }

  async next(ms = 5000): Promise<DecodedResponse> {
    const end = Date.now() + ms;
    while (this.received.length <= this.taken) {
      if (this.status) assert.fail(`the stream ended: ${this.status.code} ${this.status.details}`);
      if (Date.now() > end) assert.fail(`no response within ${ms} ms`);
      await sleep(5);
    }
    return this.received[this.taken++] as DecodedResponse;
  }

  /** Sends the request for a type and ACKs the response; returns it. */
  async subscribe(r: DiscoveryRequest): Promise<DecodedResponse> {
    this.send(r);
    const got = await this.next();
    this.send({
      type_url: got.type_url,
      ...(r.resource_names ? { resource_names: r.resource_names } : {}),
      response_nonce: got.nonce,
      version_info: got.version_info,
    });
    return got;
  }

  /** ACKs a response (the same names for EDS and RDS are the caller's business: wildcard types only). */
  ack(r: DecodedResponse): void {
    this.send({ type_url: r.type_url, response_nonce: r.nonce, version_info: r.version_info });
  }

  /** Sends a request, takes its response and ACKs it without names (wildcard types). */
  async subscribeAcked(r: DiscoveryRequest): Promise<DecodedResponse> {
    this.send(r);
    const got = await this.next();
    this.ack(got);
    return got;
  }

  /** Asserts that nothing arrives for `ms`. */
  async nothing(ms = 300, why = ''): Promise<void> {
    await sleep(ms);
    const extra = this.received.slice(this.taken).map((r) => `${r.type_url} ${r.version_info}`);
    assert.deepEqual(extra, [], `nothing expected${why ? ` (${why})` : ''}`);
  }

  async ended(ms = 5000): Promise<grpc.StatusObject> {
    const end = Date.now() + ms;
    while (!this.status) {
      if (Date.now() > end) assert.fail(`the stream did not end within ${ms} ms`);
      await sleep(5);
    }
    return this.status;
  }

  close(): void {
    this.call.end();
    this.call.cancel();
  }
}

export const names = (r: DecodedResponse) => (r.resources ?? []).map((x) => String(x.name ?? x.cluster_name));
