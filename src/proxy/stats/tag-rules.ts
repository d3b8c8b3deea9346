// Tag extraction rule tables. ENVOY_TAG_RULES is the part of Envoy's default set (TagNameValues in
// source/common/config/well_known_names.cc) that a sidecar's stats can hit, in Envoy's order and spelling.
// SKIFF_TAG_RULES, the store's default, is that set with Istio's cluster_name regex so that names such as
// `outbound|9080||reviews.default.svc.cluster.local` stay whole. ISTIO_TAG_RULES is the `stats_tags` list of
// Istio's bootstrap (tools/packaging/common/envoy_bootstrap.json, `use_all_default_tags: false`), for output
// labelled exactly as an Istio sidecar labels it (`cluster_name`, not `envoy_cluster_name`).

import type { TagRule } from './tag-extractor.js';

/** Envoy's default rules that matter to a sidecar (mongo, dynamo, redis, thrift, rbac and such are left out). */
export const ENVOY_TAG_RULES: readonly TagRule[] = [
  // *_rq(_<response_code>)
  { tag: 'envoy.response_code', regex: String.raw`_rq(_(\d{3}))$`, substr: '_rq_' },
  // *_rq_(<response_code_class>)xx
  { tag: 'envoy.response_code_class', regex: String.raw`_rq_((\d))xx$`, substr: '_rq_' },
  // http.[<stat_prefix>.]user_agent.(<user_agent>.)*
  { tag: 'envoy.http_user_agent', tokens: 'http.*.user_agent.$.**' },
  // vhost.[<virtual host name>.]vcluster.(<virtual_cluster_name>.)*
  { tag: 'envoy.virtual_cluster', tokens: 'vhost.*.vcluster.$.**' },
  // http.[<stat_prefix>.]fault.(<downstream_cluster>.)*
  { tag: 'envoy.fault_downstream_cluster', tokens: 'http.*.fault.$.**' },
  // listener.[<address>.]ssl.ciphers.(<cipher>)
  {
    tag: 'envoy.ssl_cipher',
    regex: String.raw`^listener\..*?\.ssl\.ciphers(\.(<CIPHER>))$`,
    substr: '.ssl.ciphers.',
  },
  // listener|cluster.[<name>.]ssl.curves.(<curve>)
  {
    tag: 'envoy.ssl_curve',
    regex: String.raw`^<LISTENER_OR_CLUSTER_WITH_NAME>\.ssl\.curves(\.(<CIPHER>))$`,
    substr: '.ssl.curves.',
  },
  // listener|cluster.[<name>.]ssl.sigalgs.(<algorithm>)
  {
    tag: 'envoy.ssl_sigalg',
    regex: String.raw`^<LISTENER_OR_CLUSTER_WITH_NAME>\.ssl\.sigalgs(\.(<CIPHER>))$`,
    substr: '.ssl.sigalgs.',
  },
  // listener|cluster.[<name>.]ssl.versions.(<version>)
  {
    tag: 'envoy.ssl_version',
    regex: String.raw`^<LISTENER_OR_CLUSTER_WITH_NAME>\.ssl\.versions(\.(<TLS_VERSION>))$`,
    substr: '.ssl.versions.',
  },
  // cluster.[<cluster_name>.]ssl.ciphers.(<cipher>) — Envoy's tag name really is `cipher_suite`.
  {
    tag: 'cipher_suite',
    regex: String.raw`^cluster\.<TAG_VALUE>\.ssl\.ciphers(\.(<CIPHER>))$`,
    substr: '.ssl.ciphers.',
  },
  // tcp.(<stat_prefix>.)*
  { tag: 'envoy.tcp_prefix', tokens: 'tcp.$.**' },
  // udp.(<stat_prefix>.)*
  { tag: 'envoy.udp_prefix', tokens: 'udp.$.**' },
  // cluster.(<cluster_name>.)*
  { tag: 'envoy.cluster_name', tokens: 'cluster.$.**' },
  // listener.[<address>.]http.(<stat_prefix>.)*
  {
    tag: 'envoy.http_conn_manager_prefix',
    regex: String.raw`^listener\..*?\.http\.((<TAG_VALUE>)\.)`,
    substr: '.http.',
  },
  // http.(<stat_prefix>.)*
  { tag: 'envoy.http_conn_manager_prefix', tokens: 'http.$.**' },
  // listener.<address|stat_prefix>.(worker_<id>.)*, listener_manager.(worker_<id>.)*, server.(worker_<id>.)*
  {
    tag: 'envoy.worker_id',
    regex: String.raw`^(?:listener\.(?:<ADDRESS>|<TAG_VALUE>)\.|server\.|listener_manager\.)worker_((\d+)\.)`,
  },
  // listener.(<address|stat_prefix>.)*, but not "admin"
  {
    tag: 'envoy.listener_address',
    regex: String.raw`^listener\.((<ADDRESS>|<TAG_VALUE>)\.)`,
    negativeMatch: 'admin',
  },
  // vhost.(<virtual host name>.)*
  { tag: 'envoy.virtual_host', tokens: 'vhost.$.**' },
  // vhost.[<virtual host name>.]route.(<route_stat_prefix>.)*
  { tag: 'envoy.route', tokens: 'vhost.*.route.$.**' },
];

/** Istio's cluster_name regex: the cluster name runs to `.svc.cluster.local` when there is one, else to the first dot. */
const ISTIO_CLUSTER_NAME = String.raw`^cluster\.((.+?(\..+?\.svc\.cluster\.local)?)\.)`;

/**
 * The store's default: Envoy's names and rules, except that cluster names are cut as Istio cuts them (Envoy's
 * own `cluster.$.**` would give `outbound|9080||reviews`) and, for the same reason, the cluster cipher rule
 * accepts dots in the cluster name.
 */
export const SKIFF_TAG_RULES: readonly TagRule[] = ENVOY_TAG_RULES.map((rule): TagRule => {
  if (rule.tag === 'envoy.cluster_name') return { tag: rule.tag, regex: ISTIO_CLUSTER_NAME };
  if (rule.tag === 'cipher_suite' && 'regex' in rule) {
    return { ...rule, regex: String.raw`^cluster\..*?\.ssl\.ciphers(\.(<CIPHER>))$` };
  }
  return rule;
});

// Istio writes these for std::regex; `[:digit:]` inside a bracket is spelled `\d` here (same set).
const ISTIO_ADDRESS = String.raw`(?:[_.\d]*|[_\[\]aAbBcCdDeEfF\d]*)`;

/** Istio's bootstrap `stats_tags` (the Envoy-stat part; Istio's own metrics are families here, not tags). */
export const ISTIO_TAG_RULES: readonly TagRule[] = [
  { tag: 'cluster_name', regex: ISTIO_CLUSTER_NAME },
  { tag: 'tcp_prefix', regex: String.raw`^tcp\.((.*?)\.)\w+?$` },
  { tag: 'response_code', regex: String.raw`_rq(_(\d{3}))$` },
  { tag: 'response_code_class', regex: String.raw`_rq(_(\dxx))$` },
  {
    tag: 'http_conn_manager_listener_prefix',
    regex: String.raw`^listener(?=\.).*?\.http\.((${ISTIO_ADDRESS})\.)`,
  },
  { tag: 'http_conn_manager_prefix', regex: String.raw`^http\.((${ISTIO_ADDRESS})\.)` },
  { tag: 'listener_address', regex: String.raw`^listener\.((${ISTIO_ADDRESS})\.)` },
];
