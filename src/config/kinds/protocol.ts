// Istio's protocol names (pkg/config/protocol): parsed case-insensitively, as ports declare them in Gateways,
// ServiceEntries, Services (by name prefix) and Skiff Workloads.

export const ISTIO_PROTOCOLS = [
  'TCP',
  'UDP',
  'GRPC',
  'GRPC-Web',
  'HTTP',
  'HTTP_PROXY',
  'HTTP2',
  'HTTPS',
  'TLS',
  'Mongo',
  'Redis',
  'MySQL',
] as const;
export type IstioProtocol = (typeof ISTIO_PROTOCOLS)[number];

/** protocol.Parse: case-insensitive; undefined for a name Istio does not know. */
export function parseIstioProtocol(text: string): IstioProtocol | undefined {
  const lower = text.toLowerCase();
  return ISTIO_PROTOCOLS.find((p) => p.toLowerCase() === lower);
}

/** protocol.Instance.IsHTTP. */
export function isHttpProtocol(p: IstioProtocol | undefined): boolean {
  return p === 'HTTP' || p === 'HTTP2' || p === 'HTTP_PROXY' || p === 'GRPC' || p === 'GRPC-Web';
}

/** protocol.Instance.IsTLS. */
export function isTlsProtocol(p: IstioProtocol | undefined): boolean {
  return p === 'HTTPS' || p === 'TLS';
}

/** protocol.Instance.IsTCP: carried as opaque TCP by the sidecar. */
export function isTcpProtocol(p: IstioProtocol | undefined): boolean {
  return p === 'TCP' || p === 'HTTPS' || p === 'TLS' || p === 'Mongo' || p === 'Redis' || p === 'MySQL';
}
