// Shared inputs of the telemetry tests: real node metadata and header values from Istio sidecars, and the two
// workloads of the seed's mesh (as their own proxies and their peers see them).

import {
  clusterServiceInfo,
  destinationService,
  parseNodeMetadata,
  statsWorkloadFromNode,
  workloadFromNode,
} from '../../../src/proxy/telemetry/index.js';

/**
 * The node metadata of an Istio 1.24 sidecar (`pilot-agent request GET server_info`, pod
 * demo-a-prodcatapi-57868f9d7c-67fsc), from a public debugging write-up, trimmed of nothing that matters:
 * numbers, lists and objects under keys Skiff does not read are kept, as Istio puts them.
 */
export const ISTIO_1_24_NODE_METADATA = {
  POD_PORTS: '[{"name":"pcapi","containerPort":8080,"protocol":"TCP"}]',
  NAMESPACE: 'components',
  APP_CONTAINERS: 'demo-a-prodcatapi',
  NAME: 'demo-a-prodcatapi-57868f9d7c-67fsc',
  ISTIO_PROXY_SHA: '739644f84930a8c0d416319aea97f58c2222f7ef',
  ENVOY_STATUS_PORT: 15021,
  CLUSTER_ID: 'Kubernetes',
  PLATFORM_METADATA: {
    gcp_gke_cluster_name: 'ihc-dt',
    gcp_location: 'europe-west3',
  },
  LABELS: {
    'oda.tmforum.org/secretsmanagement': 'sidecar',
    'service.istio.io/canonical-revision': 'productcatalogapi-0.23',
    version: 'productcatalogapi-0.23',
    app: 'demo-a-productcatalogmanagement',
    'service.istio.io/canonical-name': 'demo-a-productcatalogmanagement',
    'security.istio.io/tlsMode': 'istio',
    impl: 'demo-a-prodcatapi',
  },
  ISTIO_VERSION: '1.24.0',
  ENVOY_PROMETHEUS_PORT: 15090,
  NODE_NAME: 'gke-ihc-dt-pool-1-1-7cd1e14b-gwok',
  MESH_ID: 'cluster.local',
  PILOT_SAN: ['istiod.istio-system.svc'],
  SERVICE_ACCOUNT: 'default',
  PROXY_CONFIG: { concurrency: 2, proxyAdminPort: 15000 },
  INTERCEPTION_MODE: 'REDIRECT',
  INSTANCE_IPS: '10.88.3.242',
  WORKLOAD_NAME: 'demo-a-prodcatapi',
  OWNER: 'kubernetes://apis/apps/v1/namespaces/components/deployments/demo-a-prodcatapi',
  ANNOTATIONS: { 'istio.io/rev': 'default', 'prometheus.io/scrape': 'true' },
};

/** The node id of that sidecar, sent as `x-envoy-peer-metadata-id`. */
export const ISTIO_1_24_NODE_ID =
  'sidecar~10.88.3.242~demo-a-prodcatapi-57868f9d7c-67fsc.components~components.svc.cluster.local';

/** The `x-envoy-peer-metadata` value that sidecar sent (same write-up, as received by the next hop). */
export const ISTIO_1_24_PEER_METADATA =
  'ChoKCkNMVVNURVJfSUQSDBoKS3ViZXJuZXRlcwrkAQoGTEFCRUxTEtkBKtYBCigKA2FwcBIhGh9kZW1vLWEtcHJvZHVjdGNhdGFsb2dtYW5hZ2VtZW50CkQKH3NlcnZpY2UuaXN0aW8uaW8vY2Fub25pY2FsLW5hbWUSIRofZGVtby1hLXByb2R1Y3RjYXRhbG9nbWFuYWdlbWVudAo/CiNzZXJ2aWNlLmlzdGlvLmlvL2Nhbm9uaWNhbC1yZXZpc2lvbhIYGhZwcm9kdWN0Y2F0YWxvZ2FwaS0wLjIzCiMKB3ZlcnNpb24SGBoWcHJvZHVjdGNhdGFsb2dhcGktMC4yMwosCgROQU1FEiQaImRlbW8tYS1wcm9kY2F0YXBpLTU3ODY4ZjlkN2MtNjdmc2MKGQoJTkFNRVNQQUNFEgwaCmNvbXBvbmVudHMKWAoFT1dORVISTxpNa3ViZXJuZXRlczovL2FwaXMvYXBwcy92MS9uYW1lc3BhY2VzL2NvbXBvbmVudHMvZGVwbG95bWVudHMvZGVtby1hLXByb2RjYXRhcGkKJAoNV09SS0xPQURfTkFNRRITGhFkZW1vLWEtcHJvZGNhdGFwaQ==';

/**
 * A 2020 (Wasm-era, Istio 1.5) `x-envoy-peer-metadata` from bookinfo's details-v1, from a public write-up: the
 * whole node as a Struct, with keys today's receivers ignore (INSTANCE_IPS, MESH_ID, SERVICE_ACCOUNT, more labels)
 * and no CLUSTER_ID.
 */
export const ISTIO_1_5_PEER_METADATA =
  'Ch4KDElOU1RBTkNFX0lQUxIOGgwxNzIuMTYuMC4yMDYK1QEKBkxBQkVMUxLKASrHAQoQCgNhcHASCRoHZGV0YWlscwohChFwb2QtdGVtcGxhdGUtaGFzaBIMGgo3NWQ5NGM0OGY1CiQKGXNlY3VyaXR5LmlzdGlvLmlvL3Rsc01vZGUSBxoFaXN0aW8KLAofc2VydmljZS5pc3Rpby5pby9jYW5vbmljYWwtbmFtZRIJGgdkZXRhaWxzCisKI3NlcnZpY2UuaXN0aW8uaW8vY2Fub25pY2FsLXJldmlzaW9uEgQaAnYxCg8KB3ZlcnNpb24SBBoCdjEKGgoHTUVTSF9JRBIPGg1jbHVzdGVyLmxvY2FsCiUKBE5BTUUSHRobZGV0YWlscy12MS03NWQ5NGM0OGY1LTdibHhtChYKCU5BTUVTUEFDRRIJGgdkZWZhdWx0Ck4KBU9XTkVSEkUaQ2t1YmVybmV0ZXM6Ly9hcGlzL2FwcHMvdjEvbmFtZXNwYWNlcy9kZWZhdWx0L2RlcGxveW1lbnRzL2RldGFpbHMtdjEKJQoPU0VSVklDRV9BQ0NPVU5UEhIaEGJvb2tpbmZvLWRldGFpbHMKHQoNV09SS0xPQURfTkFNRRIMGgpkZXRhaWxzLXYx';

/** The seed's client, service A (`shop/service-a`), as its node metadata would say. */
export const SERVICE_A_NODE = {
  NAME: 'service-a-7d4f9-abcde',
  NAMESPACE: 'shop',
  WORKLOAD_NAME: 'service-a',
  CLUSTER_ID: 'Kubernetes',
  OWNER: 'kubernetes://apis/apps/v1/namespaces/shop/deployments/service-a',
  SERVICE_ACCOUNT: 'service-a',
  MESH_ID: 'cluster.local',
  LABELS: {
    app: 'service-a',
    version: 'v1',
    'service.istio.io/canonical-name': 'service-a',
    'service.istio.io/canonical-revision': 'v1',
  },
};

/** The seed's server, service B (`shop/service-b`). */
export const SERVICE_B_NODE = {
  NAME: 'service-b-5c8b6-fghij',
  NAMESPACE: 'shop',
  WORKLOAD_NAME: 'service-b',
  CLUSTER_ID: 'Kubernetes',
  OWNER: 'kubernetes://apis/apps/v1/namespaces/shop/deployments/service-b',
  SERVICE_ACCOUNT: 'service-b',
  MESH_ID: 'cluster.local',
  LABELS: {
    app: 'service-b',
    version: 'v1',
    'service.istio.io/canonical-name': 'service-b',
    'service.istio.io/canonical-revision': 'v1',
  },
};

export const SPIFFE_A = 'spiffe://cluster.local/ns/shop/sa/service-a';
export const SPIFFE_B = 'spiffe://cluster.local/ns/shop/sa/service-b';

/** Istio's cluster metadata for service B's outbound and inbound clusters. */
export const SERVICE_B_CLUSTER_METADATA = {
  istio: {
    services: [{ host: 'service-b.shop.svc.cluster.local', name: 'service-b', namespace: 'shop' }],
  },
};

/** Envoy's 19 default buckets, as Envoy prints `le`. */
export const ENVOY_BUCKETS_LE: readonly string[] = [
  '0.5',
  '1',
  '5',
  '10',
  '25',
  '50',
  '100',
  '250',
  '500',
  '1000',
  '2500',
  '5000',
  '10000',
  '30000',
  '60000',
  '300000',
  '600000',
  '1800000',
  '3600000',
];

/** Each workload as its own proxy's stats see it. */
export const ownA = statsWorkloadFromNode(parseNodeMetadata(SERVICE_A_NODE));
export const ownB = statsWorkloadFromNode(parseNodeMetadata(SERVICE_B_NODE));
/** What each receives in x-envoy-peer-metadata from the other. */
export const peerA = workloadFromNode(parseNodeMetadata(SERVICE_A_NODE));
export const peerB = workloadFromNode(parseNodeMetadata(SERVICE_B_NODE));
/** service-b as the destination of A's outbound cluster. */
export const serviceB = destinationService(
  'service-b:8080',
  undefined,
  clusterServiceInfo('outbound|8080||service-b.shop.svc.cluster.local', SERVICE_B_CLUSTER_METADATA),
);
