// Istio's certificate service (istio/api security/v1alpha1/ca.proto), declared here so that Skiff's CA and
// agent speak the same gRPC as istiod and istio-agent: istio.v1.auth.IstioCertificateService/CreateCertificate.

import * as grpc from '@grpc/grpc-js';
import { fromJSON } from '@grpc/proto-loader';
import protobuf from 'protobufjs';

const CA_PROTO = `
syntax = "proto3";
package istio.v1.auth;
import "google/protobuf/struct.proto";
message IstioCertificateRequest {
  string csr = 1;
  int64 validity_duration = 3;
  google.protobuf.Struct metadata = 4;
}
message IstioCertificateResponse {
  repeated string cert_chain = 1;
}
service IstioCertificateService {
  rpc CreateCertificate(IstioCertificateRequest) returns (IstioCertificateResponse) {}
}
`;

export interface CertificateRequest {
  csr: string;
  /** Requested lifetime in seconds; 0 means the CA's default. */
  validity_duration: number;
  metadata?: unknown;
}

export interface CertificateResponse {
  /** Leaf first, then intermediates, root last. */
  cert_chain: string[];
}

let cached: grpc.ServiceClientConstructor | undefined;

/** The generated service (client constructor with `.service` definition), loaded once. */
export function certificateService(): grpc.ServiceClientConstructor {
  if (cached) return cached;
  const { root } = protobuf.parse(CA_PROTO, { keepCase: true });
  const struct = protobuf.common.get('google/protobuf/struct.proto');
  if (struct?.nested) root.addJSON(struct.nested);
  root.resolveAll();
  const definition = fromJSON(root.toJSON(), { keepCase: true, longs: Number, defaults: true });
  const loaded = grpc.loadPackageDefinition(definition) as unknown as {
    istio: { v1: { auth: { IstioCertificateService: grpc.ServiceClientConstructor } } };
  };
  cached = loaded.istio.v1.auth.IstioCertificateService;
  return cached;
}
