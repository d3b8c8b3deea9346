// skiff/config: loading Istio, Kubernetes and Skiff resources with Kubernetes' YAML reading and Istio's rules.

export { DEFAULT_MESH_CONFIG, type MeshConfigSpec } from './kinds/mesh-config.js';
export {
  MTLS_MODES,
  type MtlsModeSetting,
  type PeerAuthenticationSpec,
} from './kinds/peer-authentication.js';
export { PROTOCOLS, type Protocol, type WorkloadPort, type WorkloadSpec } from './kinds/workload.js';
export { type ConfigFile, type ConfigSnapshot, loadConfig } from './load.js';
export type { ObjectMeta } from './object-meta.js';
export { type Resource, resourceName, type SourceRef } from './resource.js';
export { loadConfigDir, readConfigFiles } from './sources/files.js';
export { parseYamlStream, resolvePlainScalar } from './yaml.js';
