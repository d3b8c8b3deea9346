import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  kubernetesPortProtocol,
  type PortProtocol,
  serviceEntryPortProtocol,
} from '../../src/model/protocol.js';

type KubePort = Parameters<typeof kubernetesPortProtocol>[0];

// `istio` names the row of pkg/config/kube/conversion_test.go TestConvertProtocol a case mirrors.
const kubernetes: { name: string; port: KubePort; want: PortProtocol | undefined; istio?: string }[] = [
  {
    name: 'nothing declared',
    port: {},
    want: { protocol: undefined, source: 'sniffed' },
    istio: 'resolves empty',
  },
  {
    name: 'UDP is left out',
    port: { protocol: 'UDP', name: 'http' },
    want: undefined,
    istio: 'resolves from protocol directly',
  },
  {
    name: 'name prefix',
    port: { name: 'http-something' },
    want: { protocol: 'HTTP', source: 'name' },
    istio: 'resolves from port name',
  },
  {
    name: 'appProtocol beats the name',
    port: { name: 'http-something', appProtocol: 'https' },
    want: { protocol: 'HTTPS', source: 'appProtocol' },
    istio: 'prefers appProto over portName',
  },
  {
    name: 'appProtocol with a name that means nothing',
    port: { name: 'something-httpx', appProtocol: 'https' },
    want: { protocol: 'HTTPS', source: 'appProtocol' },
    istio: 'resolves from appProto',
  },
  {
    name: 'grpc-web prefix',
    port: { name: 'grpc-web-x' },
    want: { protocol: 'GRPC-Web', source: 'name' },
    istio: 'resolves grpc-web',
  },
  {
    name: 'grpcweb is not grpc-web',
    port: { name: 'grpcweb-x' },
    want: { protocol: undefined, source: 'sniffed' },
    istio: 'makes sure grpc-web is not resolved incorrectly',
  },
  {
    name: 'well-known port (MySQL) with a name that means nothing',
    port: { port: 3306, name: 'random-name' },
    want: { protocol: 'TCP', source: 'protocol' },
    istio: 'resolves based on known ports',
  },
  {
    name: 'kubernetes.io/h2c',
    port: { port: 3306, name: 'random-name', appProtocol: 'kubernetes.io/h2c' },
    want: { protocol: 'HTTP2', source: 'appProtocol' },
    istio: 'standard app protocol',
  },
  {
    name: 'kubernetes.io/ws',
    port: { appProtocol: 'kubernetes.io/ws' },
    want: { protocol: 'HTTP', source: 'appProtocol' },
  },
  {
    name: 'kubernetes.io/wss is HTTPS',
    port: { appProtocol: 'kubernetes.io/wss' },
    want: { protocol: 'HTTPS', source: 'appProtocol' },
  },
  {
    name: "Kubernetes' names are for appProtocol only",
    port: { name: 'kubernetes.io/h2c' },
    want: { protocol: undefined, source: 'sniffed' },
  },
  {
    name: 'an unknown appProtocol does not fall back to the name',
    port: { name: 'http', appProtocol: 'example.com/custom' },
    want: { protocol: undefined, source: 'sniffed' },
  },
  {
    name: 'an empty appProtocol does not fall back to the name',
    port: { name: 'http', appProtocol: '' },
    want: { protocol: undefined, source: 'sniffed' },
  },
  {
    name: 'appProtocol is read by prefix too',
    port: { appProtocol: 'grpc-internal' },
    want: { protocol: 'GRPC', source: 'appProtocol' },
  },
  {
    name: 'appProtocol grpc-web',
    port: { appProtocol: 'GRPC-Web' },
    want: { protocol: 'GRPC-Web', source: 'appProtocol' },
  },
  { name: 'whole name', port: { name: 'http' }, want: { protocol: 'HTTP', source: 'name' } },
  { name: 'any case', port: { name: 'HTTP2-api' }, want: { protocol: 'HTTP2', source: 'name' } },
  { name: 'grpc', port: { name: 'grpc-api' }, want: { protocol: 'GRPC', source: 'name' } },
  {
    name: 'grpc-web in upper case',
    port: { name: 'GRPC-WEB' },
    want: { protocol: 'GRPC-Web', source: 'name' },
  },
  { name: 'http_proxy', port: { name: 'http_proxy' }, want: { protocol: 'HTTP_PROXY', source: 'name' } },
  { name: 'https', port: { name: 'https-admin' }, want: { protocol: 'HTTPS', source: 'name' } },
  { name: 'tls', port: { name: 'tls' }, want: { protocol: 'TLS', source: 'name' } },
  { name: 'tcp', port: { name: 'tcp-db' }, want: { protocol: 'TCP', source: 'name' } },
  { name: 'mongo', port: { name: 'mongo' }, want: { protocol: 'Mongo', source: 'name' } },
  { name: 'redis', port: { name: 'redis-cache' }, want: { protocol: 'Redis', source: 'name' } },
  { name: 'mysql', port: { name: 'mysql' }, want: { protocol: 'MySQL', source: 'name' } },
  {
    name: 'no separator, no prefix',
    port: { name: 'httpx' },
    want: { protocol: undefined, source: 'sniffed' },
  },
  {
    name: 'a name before the protocol',
    port: { name: 'web-http' },
    want: { protocol: undefined, source: 'sniffed' },
  },
  {
    name: 'a TCP port named udp-… is UDP: left out',
    port: { protocol: 'TCP', name: 'udp-dns' },
    want: undefined,
  },
  { name: 'SCTP is left out', port: { protocol: 'SCTP', name: 'http' }, want: undefined },
  { name: 'DNS port unnamed', port: { port: 53 }, want: { protocol: 'TCP', source: 'protocol' } },
  { name: 'SMTP port', port: { port: 25, name: 'smtp' }, want: { protocol: 'TCP', source: 'protocol' } },
  { name: 'MongoDB port', port: { port: 27017 }, want: { protocol: 'TCP', source: 'protocol' } },
  {
    name: 'a known name beats a well-known port',
    port: { port: 3306, name: 'http' },
    want: { protocol: 'HTTP', source: 'name' },
  },
  { name: 'other ports are sniffed', port: { port: 80 }, want: { protocol: undefined, source: 'sniffed' } },
];

describe('kubernetesPortProtocol (Istio ConvertProtocol)', () => {
  for (const c of kubernetes) {
    it(`${c.name}${c.istio ? ` [TestConvertProtocol: ${c.istio}]` : ''}`, () => {
      assert.deepEqual(kubernetesPortProtocol(c.port), c.want);
    });
  }
});

const serviceEntry: { protocol: string | undefined; want: PortProtocol | undefined }[] = [
  { protocol: undefined, want: { protocol: undefined, source: 'sniffed' } },
  { protocol: '', want: { protocol: undefined, source: 'sniffed' } },
  { protocol: 'HTTP', want: { protocol: 'HTTP', source: 'protocol' } },
  { protocol: 'http', want: { protocol: 'HTTP', source: 'protocol' } },
  { protocol: 'GRPC-WEB', want: { protocol: 'GRPC-Web', source: 'protocol' } },
  { protocol: 'HTTPS', want: { protocol: 'HTTPS', source: 'protocol' } },
  { protocol: 'tls', want: { protocol: 'TLS', source: 'protocol' } },
  { protocol: 'MONGO', want: { protocol: 'Mongo', source: 'protocol' } },
  { protocol: 'TCP', want: { protocol: 'TCP', source: 'protocol' } },
  // protocol.Parse reads the whole value: no name prefixes here.
  { protocol: 'http-api', want: { protocol: undefined, source: 'sniffed' } },
  { protocol: 'UDP', want: undefined },
];

describe('serviceEntryPortProtocol (Istio protocol.Parse)', () => {
  for (const c of serviceEntry) {
    it(`protocol ${JSON.stringify(c.protocol)}`, () => {
      assert.deepEqual(
        serviceEntryPortProtocol(c.protocol === undefined ? {} : { protocol: c.protocol }),
        c.want,
      );
    });
  }
});
