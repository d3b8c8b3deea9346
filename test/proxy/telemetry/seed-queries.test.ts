// The seed's two PromQL queries evaluated on Skiff's own /stats/prometheus scrapes of a client sidecar (service A,
// reporter="source") and a server sidecar (service B, reporter="destination"):
//   sum(istio_requests_total{connection_security_policy="mutual_tls"}) by (destination_service)
//     / sum(istio_requests_total) by (destination_service)
//   sum(rate(envoy_cluster_ssl_handshake_error[5m])) by (pod)
// With N mTLS requests A→B, M plaintext requests from a non-mesh client to B and P meshed plaintext requests
// (DestinationRule DISABLE), query 1 reads 2N/(2N+M+2P) with Skiff (source side mutual_tls/none), so 1 at 100 %
// mTLS where Istio reads 0.5; the expression restricted to reporter="destination" reads N/(N+M+P) in every mix.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { renderPrometheus, StatsStore } from '../../../src/proxy/stats/index.js';
import {
  clusterServiceInfo,
  destinationService,
  IstioMetrics,
  parseNodeMetadata,
  type SecurityPolicy,
  statsWorkloadFromNode,
  upstreamSecurityPolicy,
  workloadFromNode,
} from '../../../src/proxy/telemetry/index.js';
import { evaluate, formatVector } from '../../e2e/helpers/promql.js';
import {
  SERVICE_A_NODE,
  SERVICE_B_CLUSTER_METADATA,
  SERVICE_B_NODE,
  SPIFFE_A,
  SPIFFE_B,
} from './fixtures.js';

const MTLS_RATIO =
  'sum(istio_requests_total{connection_security_policy="mutual_tls"}) by (destination_service) / ' +
  'sum(istio_requests_total) by (destination_service)';
const MTLS_RATIO_DESTINATION =
  'sum(istio_requests_total{reporter="destination",connection_security_policy="mutual_tls"}) by (destination_service) / ' +
  'sum(istio_requests_total{reporter="destination"}) by (destination_service)';
const HANDSHAKE_ERRORS = 'sum(rate(envoy_cluster_ssl_handshake_error[5m])) by (pod)';

const CLUSTER_B = 'outbound|8080||service-b.shop.svc.cluster.local';
const INBOUND_B = 'inbound|8080||';
const SERVICE_B = 'service-b.shop.svc.cluster.local';

/** Two sidecars, each with its own store, and the traffic of the seed's mesh. */
function mesh(options: { istioSourceSide?: boolean } = {}) {
  const storeA = new StatsStore();
  const storeB = new StatsStore();
  const a = new IstioMetrics(storeA, statsWorkloadFromNode(parseNodeMetadata(SERVICE_A_NODE)));
  const b = new IstioMetrics(storeB, statsWorkloadFromNode(parseNodeMetadata(SERVICE_B_NODE)));
  const peerA = workloadFromNode(parseNodeMetadata(SERVICE_A_NODE));
  const peerB = workloadFromNode(parseNodeMetadata(SERVICE_B_NODE));
  const outbound = destinationService(
    'service-b:8080',
    undefined,
    clusterServiceInfo(CLUSTER_B, SERVICE_B_CLUSTER_METADATA),
  );
  const inbound = destinationService(
    'service-b:8080',
    undefined,
    clusterServiceInfo(INBOUND_B, SERVICE_B_CLUSTER_METADATA),
  );
  const sourceSecurity = (s: SecurityPolicy): SecurityPolicy => (options.istioSourceSide ? 'unknown' : s);
  const record = (labels: ReturnType<IstioMetrics['labels']>) =>
    labels.http('http', 200, undefined, '-').record(2, 100, 200);
  return {
    storeA,
    storeB,
    /** A → B over mTLS: both sidecars report. */
    mtls(n: number) {
      const source = a.labels({
        reporter: 'source',
        peer: peerB,
        peerPrincipal: SPIFFE_B,
        localPrincipal: SPIFFE_A,
        upstreamSecurity: sourceSecurity(
          upstreamSecurityPolicy({ tls: true, peerPrincipal: SPIFFE_B, localPrincipal: SPIFFE_A }),
        ),
        service: outbound,
      });
      const destination = b.labels({
        reporter: 'destination',
        peer: peerA,
        peerPrincipal: SPIFFE_A,
        localPrincipal: SPIFFE_B,
        service: inbound,
      });
      for (let i = 0; i < n; i++) {
        record(source);
        record(destination);
      }
    },
    /** A non-mesh client → B in plaintext: only B reports. */
    nonMesh(m: number) {
      const destination = b.labels({
        reporter: 'destination',
        peer: undefined,
        peerPrincipal: undefined,
        localPrincipal: undefined,
        service: inbound,
      });
      for (let i = 0; i < m; i++) record(destination);
    },
    /** A → B in plaintext (DestinationRule DISABLE): both report, metadata still exchanged over HTTP. */
    meshedPlaintext(p: number) {
      const source = a.labels({
        reporter: 'source',
        peer: peerB,
        peerPrincipal: undefined,
        localPrincipal: undefined,
        upstreamSecurity: sourceSecurity(
          upstreamSecurityPolicy({ tls: false, peerPrincipal: undefined, localPrincipal: undefined }),
        ),
        service: outbound,
      });
      const destination = b.labels({
        reporter: 'destination',
        peer: peerA,
        peerPrincipal: undefined,
        localPrincipal: undefined,
        service: inbound,
      });
      for (let i = 0; i < p; i++) {
        record(source);
        record(destination);
      }
    },
    scrapes(time = 0) {
      return [
        { text: renderPrometheus(storeA), time, target: { pod: 'service-a-7d4f9-abcde' } },
        { text: renderPrometheus(storeB), time, target: { pod: 'service-b-5c8b6-fghij' } },
      ];
    },
  };
}

describe('seed query 1: the mTLS ratio on Skiff scrapes', () => {
  it('100 % mTLS reads 1 (Istio: 0.5)', () => {
    const m = mesh();
    m.mtls(4);
    assert.deepEqual(formatVector(evaluate(MTLS_RATIO, m.scrapes())), [
      `{destination_service="${SERVICE_B}"} 1`,
    ]);
    const istio = mesh({ istioSourceSide: true });
    istio.mtls(4);
    assert.deepEqual(formatVector(evaluate(MTLS_RATIO, istio.scrapes())), [
      `{destination_service="${SERVICE_B}"} 0.5`,
    ]);
  });

  it('a PERMISSIVE mix: N mTLS, M non-mesh plaintext, P meshed plaintext → 2N/(2N+M+2P)', () => {
    const m = mesh();
    m.mtls(3);
    m.nonMesh(2);
    m.meshedPlaintext(1);
    // 6 / (6 + 2 + 2) = 0.6 for a true share of 3/6 = 0.5; the destination-only query reads the true share.
    assert.deepEqual(formatVector(evaluate(MTLS_RATIO, m.scrapes())), [
      `{destination_service="${SERVICE_B}"} 0.6`,
    ]);
    assert.deepEqual(formatVector(evaluate(MTLS_RATIO_DESTINATION, m.scrapes())), [
      `{destination_service="${SERVICE_B}"} 0.5`,
    ]);
  });

  it('no mTLS at all: the numerator has no series, so the query returns nothing, as in Prometheus', () => {
    const m = mesh();
    m.meshedPlaintext(2);
    m.nonMesh(1);
    assert.deepEqual(formatVector(evaluate(MTLS_RATIO, m.scrapes())), []);
  });

  it('the series the query reads are the ones the scrape shows, both reporters on one destination_service', () => {
    const m = mesh();
    m.mtls(1);
    assert.deepEqual(
      formatVector(
        evaluate(
          'sum(istio_requests_total) by (reporter, destination_service, connection_security_policy)',
          m.scrapes(),
        ),
      ),
      [
        `{connection_security_policy="mutual_tls",destination_service="${SERVICE_B}",reporter="destination"} 1`,
        `{connection_security_policy="mutual_tls",destination_service="${SERVICE_B}",reporter="source"} 1`,
      ],
    );
  });
});

describe('seed query 2: handshake errors per pod on Skiff scrapes', () => {
  it('reads envoy_cluster_ssl_handshake_error beside the Istio metrics, per scraped pod', () => {
    const m = mesh();
    m.mtls(1);
    const errors = m.storeA.counter(`cluster.${CLUSTER_B}.ssl_handshake_error`);
    const first = m.scrapes(0);
    assert.match(
      first[0]?.text ?? '',
      /\nenvoy_cluster_ssl_handshake_error\{envoy_cluster_name="outbound\|8080\|\|service-b\.shop\.svc\.cluster\.local"\} 0\n/,
    );
    errors.add(12);
    const second = m.scrapes(60);
    assert.deepEqual(formatVector(evaluate(HANDSHAKE_ERRORS, [...first, ...second])), [
      '{pod="service-a-7d4f9-abcde"} 0.2',
    ]);
  });
});
