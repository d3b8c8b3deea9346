// Shapes the policy engine reads: plain objects shaped like Istio's YAML, so callers can pass parsed
// resources, test fixtures or JSON from elsewhere. Fields the decisions do not read may be present.

/** The merged mTLS mode of a workload (or a port of it). */
export type Mode = 'STRICT' | 'PERMISSIVE' | 'DISABLE';
/** A mode as written in a PeerAuthentication: UNSET inherits from the level above. */
export type ModeSetting = Mode | 'UNSET';

export interface PeerAuthentication {
  apiVersion?: string;
  kind?: string;
  metadata: {
    name: string;
    /** Missing means `default`. */
    namespace?: string;
    /** RFC 3339. Older policies win ties at one level. */
    creationTimestamp?: string;
    [other: string]: unknown;
  };
  spec?: {
    selector?: { matchLabels?: Record<string, string> | null } | null;
    mtls?: { mode?: ModeSetting | null } | null;
    portLevelMtls?: Record<string, { mode?: ModeSetting | null } | null> | null;
  } | null;
}

export type ClientTlsMode = 'DISABLE' | 'SIMPLE' | 'MUTUAL' | 'ISTIO_MUTUAL';

/** networking.istio.io ClientTLSSettings, the parts a client decision reads. */
export interface ClientTlsSettings {
  /** Missing means DISABLE (the proto enum's zero value), as in Istio. */
  mode?: ClientTlsMode | null;
  sni?: string | null;
  subjectAltNames?: string[] | null;
  [other: string]: unknown;
}

export interface PortTrafficPolicy {
  port?: { number?: number | null } | null;
  tls?: ClientTlsSettings | null;
  loadBalancer?: { simple?: string | null; [other: string]: unknown } | null;
  [other: string]: unknown;
}

/** networking.istio.io TrafficPolicy, the parts a client decision reads. */
export interface TrafficPolicy {
  tls?: ClientTlsSettings | null;
  loadBalancer?: { simple?: string | null; [other: string]: unknown } | null;
  portLevelSettings?: PortTrafficPolicy[] | null;
  [other: string]: unknown;
}

export interface DestinationRuleSpec {
  trafficPolicy?: TrafficPolicy | null;
  subsets?:
    | { name: string; labels?: Record<string, string> | null; trafficPolicy?: TrafficPolicy | null }[]
    | null;
  [other: string]: unknown;
}
