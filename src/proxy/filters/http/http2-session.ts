// Closing an HTTP/2 connection once nghttp2 has finished with it. RFC 9113 §5.4.1: after the GOAWAY for a
// connection error "the endpoint MUST close the TCP connection", and Envoy's codec does. Node 20 does not: when
// nghttp2 ends a session on its own (a frame too large for SETTINGS_MAX_FRAME_SIZE, a bad HPACK block, a frame
// on stream 0 that needs a stream …) it writes the GOAWAY, stops reading the socket (nghttp2 wants no more
// bytes) and tells JavaScript nothing: no 'error', no 'frameError', no 'goaway'. Since the socket is no longer
// read, not even the peer's FIN is seen, and the connection stays open for good (found by the attack harness's
// fuzz class: the HTTP/2 preface followed by random frames).
//
// Node's own graceful close (session.close()) has the native session report the moment nghttp2 wants neither
// to read nor to write (Http2Session::MaybeNotifyGracefulCloseComplete → handle.ongracefulclosecomplete). Arming
// that report from the session's start gives exactly the missing signal: it fires when nghttp2 ended the session
// (a connection error, or a peer's GOAWAY with no stream left), never while the session can still carry a
// stream. Reached through the session's internal handle, which is Node's and could change: `armed` is false when
// it is not there, and test/proxy/filters/http/http2-session.test.ts pins the behaviour on the Node we run.

import type http2 from 'node:http2';

interface NativeSession {
  setGracefulClose?: () => void;
  ongracefulclosecomplete?: (this: NativeSession) => void;
}

function nativeHandle(session: http2.Http2Session): NativeSession | undefined {
  const key = Object.getOwnPropertySymbols(session).find((s) => s.description === 'kHandle');
  const handle = key === undefined ? undefined : (session as unknown as Record<symbol, unknown>)[key];
  return typeof handle === 'object' && handle !== null ? (handle as NativeSession) : undefined;
}

/**
 * Destroys `session` (and so its socket) as soon as nghttp2 is done with it. `onConnectionError` is called when
 * nghttp2 ended the session without a GOAWAY from the peer or a close of ours: a connection error it answered
 * with its own GOAWAY. Returns whether the report could be armed.
 */
export function closeWhenFinished(session: http2.Http2Session, onConnectionError?: () => void): boolean {
  const handle = nativeHandle(session);
  if (typeof handle?.setGracefulClose !== 'function') return false;
  let peerGoaway = false;
  session.once('goaway', () => {
    peerGoaway = true;
  });
  // Node's own report (a close it started waits for its streams, then destroys) still runs for session.close().
  const nodeOwn = handle.ongracefulclosecomplete;
  handle.ongracefulclosecomplete = function (this: NativeSession) {
    if (session.destroyed) return;
    if (session.closed) {
      nodeOwn?.call(this);
      return;
    }
    if (!peerGoaway) onConnectionError?.();
    session.destroy();
  };
  handle.setGracefulClose();
  return true;
}
