// What a listener hands a connection to: the chain's terminal network filter (tcp_proxy, http_connection_manager).

import type { Socket } from 'node:net';
import type { PeerInfo } from '../transport/downstream-tls.js';

/** What the listener learned about a connection before handing it over. */
export interface DownstreamFacts {
  /** Set when the listener terminated TLS. */
  peer: PeerInfo | undefined;
  tls: boolean;
}

export interface NetworkFilter {
  /** Takes over the connection (paused, possibly with bytes put back) until it closes. */
  handle(socket: Socket, facts: DownstreamFacts): void;
  /** Releases what the filter holds (upstream pools) when its listener goes away. */
  close?(): void;
}
