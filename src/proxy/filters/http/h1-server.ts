// The downstream HTTP/1.1 codec of the connection manager, on the raw socket: heads parsed by http1-head.ts
// (llhttp's and Envoy's strictness), bodies decoded as they arrive and pushed to the router without a stream
// object per request, the response head sent with the first bytes of the body in one write. Requests on a
// connection are served one at a time in order (pipelined ones wait in the buffer), as Envoy serves them.
// Envoy's behaviour where node:http differs: `Expect: 100-continue` is answered by the proxy and the header is
// not forwarded (Envoy without proxy_100_continue); protocol errors get 400/431/501 and the connection closes;
// what the server side of Envoy's codec does with a parsed head (http1-target.ts): an absolute-form target gives
// the path and Host, HTTP/1.0 gets 426 unless accept_http_10 (403/400/426 are protocol errors too).
// While a head is incomplete its request line is checked as each read arrives (RequestLine: every byte once), so
// garbage is refused at its first byte. Timers as Envoy's connection manager runs them: the connection's idle
// timeout while no request is under way, the stream idle timeout from a request's first byte to the end of its
// response, and request_headers_timeout from a head's first byte to its end.

import { type IncomingHttpHeaders, type OutgoingHttpHeaders, STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import { type BodySink, PushedBody } from './body.js';
import { BodyDecoder, type Framing, fieldLines, headersObject, MessageWriter } from './h1-codec.js';
import {
  type HeadLimits,
  headWireCap,
  parseRequestHead,
  type RequestHead,
  RequestLine,
} from './http1-head.js';
import { type ServerHeadDecision, type ServerRequestOptions, serverHead } from './http1-target.js';

export interface H1ServerOptions {
  limits: HeadLimits;
  /**
   * How requests are read and taken (Envoy's Http1ProtocolOptions: allow_custom_methods, accept_http_10,
   * default_host_for_http_10, allow_absolute_url; and validate_scheme).
   */
  request: ServerRequestOptions;
  /**
   * The `server` header of the codec's own answers (400, 408, 426, 431, 501), as Envoy's connection manager puts
   * its server_name on every local reply; none when undefined (PASS_THROUGH).
   */
  server?: string;
  /** Time allowed for a request head once its first byte has arrived (0: none). Envoy request_headers_timeout. */
  headersTimeoutMs: number;
  /**
   * A request with nothing moving either way for this long, from its first byte to the end of its response
   * (0: never). Envoy stream_idle_timeout.
   */
  streamIdleTimeoutMs: number;
  /**
   * A connection with no request under way for this long is closed: before its first request and between
   * keep-alive requests (0: never). Envoy's common_http_protocol_options.idle_timeout.
   */
  idleTimeoutMs: number;
}

/** Which timer ended a connection or a request: Envoy's downstream_cx_idle_timeout, _rq_header_, _rq_idle_. */
export type H1Timeout = 'connection_idle' | 'request_headers' | 'stream_idle';

export interface H1ServerHooks {
  request(req: H1Request, res: H1Response): void;
  /** `Connection: upgrade`: the socket is handed over with the bytes that followed the head. */
  upgrade(req: H1Request, socket: Socket, rest: Buffer): void;
  /**
   * Nothing moved either way for the idle timeout while the response has not started (Envoy's
   * stream_idle_timeout): the router answers (408) or the connection is closed.
   */
  idleTimeout(res: H1Response): void;
  /** A protocol error, answered with `status` (0: the connection was just closed) before the connection closes. */
  protocolError(socket: Socket, status: number, reason: string): void;
  /**
   * A timer ended the connection: `connection_idle` closes it; `request_headers` and `stream_idle` (a head that
   * stopped arriving) answer `status` 408 first. Not a protocol error.
   */
  timeout(socket: Socket, kind: H1Timeout, status: number): void;
}

const CONTINUE = Buffer.from('HTTP/1.1 100 Continue\r\n\r\n', 'latin1');
const CRLFCRLF = Buffer.from('\r\n\r\n', 'latin1');
const LFLF = Buffer.from('\n\n', 'latin1');
const NO_BYTES = Buffer.alloc(0);
const CR = 13;
const LF = 10;
/** After the last response of a connection is flushed, the client has this long to close (Envoy's default). */
const DELAYED_CLOSE_MS = 1000;

/** Ends the socket after what is queued, and destroys it if the client has not closed a while later. */
function closeAfterFlush(socket: Socket): void {
  socket.end();
  socket.once('finish', () => {
    if (socket.destroyed) return;
    // The timer must not outlive the socket: under connection churn it would keep thousands of closed
    // sockets alive for a second each.
    const timer = setTimeout(() => socket.destroy(), DELAYED_CLOSE_MS);
    timer.unref();
    socket.once('close', () => clearTimeout(timer));
  });
}
/** Pipelined bytes kept while a request is served; beyond this the socket stops reading. */
const MAX_BUFFERED = 256 * 1024;

/** A request as the router sees it; its body is `body`. */
export class H1Request {
  readonly httpVersionMajor = 1;
  /** `1.1`, or `1.0` for any other version (none included), as Envoy takes it. */
  readonly httpVersion: '1.0' | '1.1';
  /** The path: the target as sent, or an absolute-form target's path and query. */
  readonly url: string;
  /** :scheme from an absolute-form target (lower-cased); undefined for origin form. */
  readonly scheme: string | undefined;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  /** The request carries a body (Content-Length > 0 or chunked). */
  readonly hasBody: boolean;
  readonly body: PushedBody;
  /** The target holds a `#fragment`. */
  readonly fragment: boolean;
  /** The upgrade asked for (the Upgrade header's value, or `CONNECT`); `undefined` for a plain request. */
  readonly upgrade: string | undefined;

  constructor(
    head: RequestHead,
    taken: ServerHeadDecision & { kind: 'request' },
    readonly socket: Socket,
    conn: H1Connection,
  ) {
    this.method = head.method;
    this.url = taken.path;
    this.scheme = taken.scheme;
    this.httpVersion = head.version;
    this.fragment = head.fragment;
    this.upgrade = head.upgrade;
    const headers = headersObject(head.headers);
    if (head.expectContinue) delete headers.expect;
    // An absolute-form target's host replaces any Host; a default host fills in for an HTTP/1.0 one without.
    if (taken.host !== undefined) headers.host = taken.host;
    this.headers = headers;
    this.hasBody = head.body.kind !== 'none';
    this.body = new PushedBody(conn);
    if (!this.hasBody) this.body.ended = true;
  }

  /** The whole body has arrived. */
  get complete(): boolean {
    return this.body.ended;
  }
}

/** The response to an `H1Request`: a head, then a body written as a `BodySink`, then its end. */
export class H1Response implements BodySink {
  private writer: MessageWriter | undefined;
  private closeHandlers: ((finished: boolean) => void)[] = [];
  private closed = false;
  private pendingTrailers = '';
  /** The connection closes after this response. */
  closeAfter: boolean;
  /** The router's own state for this request, handed back to `H1ServerHooks.idleTimeout`. */
  context: unknown = undefined;

  constructor(
    private readonly socket: Socket,
    private readonly req: H1Request,
    private readonly version: '1.0' | '1.1',
    keepAlive: boolean,
    private readonly conn: H1Connection,
  ) {
    this.closeAfter = !keepAlive;
  }

  get headersSent(): boolean {
    return this.writer !== undefined;
  }

  /** The whole response has been handed to the socket. */
  get writableFinished(): boolean {
    return this.writer?.finished === true;
  }

  writeHead(status: number, headers: OutgoingHttpHeaders): void {
    if (this.writer || this.closed) return;
    let framing: Framing;
    let extra = '';
    if (this.req.method === 'HEAD' || status < 200 || status === 204 || status === 304) framing = 'none';
    else if (headers['content-length'] !== undefined) framing = 'length';
    else if (this.version === '1.1') {
      framing = 'chunked';
      extra = 'transfer-encoding: chunked\r\n';
    } else {
      framing = 'close';
      this.closeAfter = true;
    }
    // A response before the whole request body arrived closes the connection, as Envoy's HTTP/1 codec does.
    if (!this.req.complete) this.closeAfter = true;
    if (this.closeAfter) extra += 'connection: close\r\n';
    // HTTP/1.0 is not persistent unless the response says so (RFC 9112 §9.3).
    else if (this.version === '1.0') extra += 'connection: keep-alive\r\n';
    // An HTTP/1.0 request is only served with accept_http_10, and then answered in HTTP/1.0 (Envoy
    // codec_impl.cc:417-421: `Protocol::Http10 && supportsHttp10()`).
    const head = `HTTP/${this.version} ${status} ${STATUS_CODES[status] ?? 'Unknown'}\r\n${fieldLines(headers)}${extra}\r\n`;
    this.writer = new MessageWriter(this.socket, framing, Buffer.from(head, 'latin1'));
  }

  /** Trailers for a chunked response (dropped in other framings, as in node:http). */
  addTrailers(trailers: Record<string, string>): void {
    this.pendingTrailers += fieldLines(trailers);
  }

  write(chunk: Buffer): boolean {
    if (this.closed) return true;
    if (!this.writer) this.writeHead(200, {});
    return (this.writer as MessageWriter).write(chunk);
  }

  end(body?: string | Buffer): void {
    if (this.closed) return;
    if (!this.writer) this.writeHead(200, {});
    const w = this.writer as MessageWriter;
    if (w.finished) return;
    if (body !== undefined && body.length > 0) w.write(typeof body === 'string' ? Buffer.from(body) : body);
    w.trailers = this.pendingTrailers;
    w.end();
    this.conn.responseDone(this);
  }

  onDrain(cb: () => void): void {
    this.socket.once('drain', cb);
  }

  /** Called once when the response is over: `finished` false when the connection went away first. */
  onClose(cb: (finished: boolean) => void): void {
    if (this.closed) cb(this.writableFinished);
    else this.closeHandlers.push(cb);
  }

  /** Resets the stream: HTTP/1.1 can only close the connection. */
  destroy(): void {
    this.socket.destroy();
  }

  /** @internal */
  close(): void {
    if (this.closed) return;
    this.closed = true;
    const finished = this.writableFinished;
    for (const h of this.closeHandlers) h(finished);
    this.closeHandlers = [];
  }
}

const HEAD = 0;
const BODY = 1;
/** The request is complete; its response is not. */
const WAIT = 2;
const DONE = 3;

/** One downstream HTTP/1.1 connection. */
class H1Connection {
  private state = HEAD;
  /** Bytes read and not consumed yet, joined. */
  private buf: Buffer | undefined;
  /**
   * Bytes held without joining them to `buf`: pipelined requests while a response is pending, and a head that
   * cannot have ended yet. Joining and parsing on every read would cost the square of a slow client's bytes.
   */
  private held: Buffer[] = [];
  private heldBytes = 0;
  /** The last (up to 3) bytes of an incomplete head, to see its blank line split across reads. */
  private tail: Buffer = NO_BYTES;
  private req: H1Request | undefined;
  private res: H1Response | undefined;
  private decoder: BodyDecoder | undefined;
  /** The request line of the head being read, kept across reads. */
  private readonly line = new RequestLine();
  private headersTimer: NodeJS.Timeout | undefined;
  private paused = false;
  private peerEnded = false;
  /** No request is under way: the connection's idle timeout applies, else the stream idle timeout. */
  private idle = true;
  /** The socket's inactivity timeout: the shorter of the two (0: neither is set). */
  private readonly quietMs: number;
  /** The rest of the longer timeout, once the socket has been quiet for `quietMs`. */
  private longTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly socket: Socket,
    private readonly options: H1ServerOptions,
    private readonly hooks: H1ServerHooks,
    /** The connection is TLS (Envoy's validate_scheme refuses `https://` targets on plaintext ones). */
    private readonly tls: boolean,
  ) {
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    socket.on('error', this.onError);
    socket.on('close', this.onClose);
    // One socket timer for both timeouts, never re-armed per request: it fires after the shorter one of quiet,
    // and the longer one, when it is the one that applies, waits out its rest in a timer of its own.
    const { idleTimeoutMs: idle, streamIdleTimeoutMs: stream } = options;
    this.quietMs = idle === 0 || stream === 0 ? idle + stream : Math.min(idle, stream);
    if (this.quietMs > 0) {
      // setTimeout's own callback would run once: the listener stays for every idle period.
      socket.setTimeout(this.quietMs);
      socket.on('timeout', this.onTimeout);
    }
  }

  pause(): void {
    this.paused = true;
    this.socket.pause();
  }

  resume(): void {
    if (!this.paused) return;
    this.paused = false;
    if (this.state !== DONE) this.socket.resume();
  }

  /** Nothing moved either way for `quietMs`: the timeout that applies now has expired, or will if this lasts. */
  private readonly onTimeout = (): void => {
    if (this.state === DONE) {
      this.socket.destroy();
      return;
    }
    const socket = this.socket;
    const idle = this.idle;
    const applies = idle ? this.options.idleTimeoutMs : this.options.streamIdleTimeoutMs;
    if (applies === 0) return;
    if (applies > this.quietMs) {
      // Its rest, if the connection stays just as quiet (no byte either way, no request starting or ending).
      const moved = socket.bytesRead + socket.bytesWritten;
      clearTimeout(this.longTimer);
      this.longTimer = setTimeout(() => {
        this.longTimer = undefined;
        if (this.idle === idle && socket.bytesRead + socket.bytesWritten === moved) this.expire();
      }, applies - this.quietMs);
      return;
    }
    this.expire();
  };

  /** The timeout that applies has expired. */
  private expire(): void {
    const state = this.state;
    const res = this.res;
    if (state === DONE) this.socket.destroy();
    else if (this.idle) {
      // Envoy's connection idle timeout: no stream for idle_timeout; the connection is closed.
      this.state = DONE;
      this.hooks.timeout(this.socket, 'connection_idle', 0);
      this.socket.destroy();
    } else if (state === HEAD) this.timedOut('stream_idle');
    else if (res !== undefined && !res.headersSent) {
      // Envoy's stream_idle_timeout: the router's 408 while the response has not started; the connection closes.
      res.closeAfter = true;
      this.hooks.idleTimeout(res);
      if (!res.headersSent) this.socket.destroy();
    } else this.socket.destroy();
  }

  private readonly onError = (): void => {
    this.socket.destroy();
  };

  private readonly onData = (chunk: Buffer): void => {
    // A connection that is closing reads nothing more (a body after an early reply, bytes after an error).
    const state = this.state;
    if (state === DONE) return;
    this.idle = false;
    if (state === WAIT || (state === HEAD && !this.headMayEnd(chunk))) {
      this.hold(chunk);
      return;
    }
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    this.process();
  };

  /** Whether `chunk` may hold the end of a head: a blank line (or a bare-LF one, an error), across reads too. */
  private headMayEnd(chunk: Buffer): boolean {
    const tail = this.tail;
    const n = chunk.length;
    this.tail = n >= 3 ? chunk.subarray(n - 3) : Buffer.concat([tail, chunk]).subarray(-3);
    if (chunk.indexOf(CRLFCRLF) !== -1 || chunk.indexOf(LFLF) !== -1) return true;
    // A blank line split across reads starts in the tail and goes on with this chunk's first byte.
    const first = chunk[0];
    if (tail.length === 0 || (first !== CR && first !== LF)) return false;
    const edge = Buffer.concat([tail, chunk.subarray(0, 3)]);
    return edge.indexOf(CRLFCRLF) !== -1 || edge.indexOf(LFLF) !== -1;
  }

  private hold(chunk: Buffer): void {
    const before = this.heldBytes + (this.buf?.length ?? 0);
    this.held.push(chunk);
    this.heldBytes += chunk.length;
    const bytes = before + chunk.length;
    if (this.state === WAIT) {
      // A pipelined request waits for the response before it; stop reading if too much piles up.
      if (bytes > MAX_BUFFERED && !this.paused) {
        this.paused = true;
        this.socket.pause();
      }
      return;
    }
    // An incomplete head: its request line is read as it comes (when every byte before this read has been read),
    // so that a request that cannot be valid is refused now, not when a blank line or the size limit comes.
    const line = this.line;
    if (!line.done && line.pos === before) {
      const r = line.scan(chunk, 0, this.options.request, this.options.limits);
      if (r !== undefined && r.kind === 'error') {
        this.fail(r.status, r.reason);
        return;
      }
    }
    // Parsed once it is complete (an HTTP/0.9 line, without a version, is a whole head) or too large to be one
    // (431), else it waits for its end.
    if ((line.done && line.noVersion) || bytes > headWireCap(this.options.limits)) this.process();
    else this.armHeadersTimer();
  }

  /** Joins what is held to `buf`. */
  private join(): void {
    if (this.held.length === 0) return;
    const parts = this.buf === undefined ? this.held : [this.buf, ...this.held];
    this.buf = parts.length === 1 ? parts[0] : Buffer.concat(parts);
    this.held = [];
    this.heldBytes = 0;
  }

  private armHeadersTimer(): void {
    if (this.headersTimer === undefined && this.options.headersTimeoutMs > 0) {
      this.headersTimer = setTimeout(() => this.timedOut('request_headers'), this.options.headersTimeoutMs);
    }
  }

  private process(): void {
    this.join();
    while (this.buf !== undefined && (this.state === HEAD || this.state === BODY)) {
      if (!(this.state === HEAD ? this.readHead() : this.readBody())) return;
    }
  }

  private readHead(): boolean {
    const buf = this.buf as Buffer;
    const line = this.line;
    const head = parseRequestHead(buf, 0, this.options.limits, this.options.request, line);
    if (head.kind === 'need-more') {
      this.tail = buf.subarray(Math.max(0, buf.length - 3));
      this.armHeadersTimer();
      return false;
    }
    if (this.headersTimer !== undefined) {
      clearTimeout(this.headersTimer);
      this.headersTimer = undefined;
    }
    if (head.kind === 'error') {
      this.fail(head.status, head.reason);
      return false;
    }
    const taken = serverHead(head, this.options.request, this.tls);
    if (taken.kind === 'refuse') {
      // A refused HTTP/1.0 request is answered in HTTP/1.0 only when accept_http_10 is on (never for a 426).
      this.fail(taken.status, taken.details, this.options.request.acceptHttp10 ? head.version : '1.1');
      return false;
    }
    line.reset();
    this.buf = head.end === buf.length ? undefined : buf.subarray(head.end);
    const req = new H1Request(head, taken, this.socket, this);
    if (head.upgrade !== undefined) {
      this.state = DONE;
      this.detach();
      this.hooks.upgrade(req, this.socket, this.buf ?? NO_BYTES);
      return false;
    }
    const res = new H1Response(this.socket, req, head.version, head.keepAlive, this);
    this.req = req;
    this.res = res;
    if (req.hasBody) {
      this.decoder = new BodyDecoder(head.body, this.options.limits);
      this.state = BODY;
      if (head.expectContinue && this.buf === undefined) this.socket.write(CONTINUE);
      // Body bytes that came with the head are taken first, so that a request that is already complete is
      // complete when the router sees it (a local reply then keeps the connection).
      if (this.buf !== undefined && !this.readBody()) {
        if (this.state === DONE) return false;
        this.hooks.request(req, res);
        return false;
      }
    } else this.state = WAIT;
    this.hooks.request(req, res);
    return true;
  }

  private readBody(): boolean {
    const buf = this.buf as Buffer;
    const r = (this.decoder as BodyDecoder).push(buf, 0);
    const req = this.req as H1Request;
    for (const c of r.data) req.body.push(c);
    if (r.error !== undefined) {
      // A malformed body: as Envoy's HTTP/1 codec, 400 if the response has not started, else the connection
      // is closed.
      if (this.res?.headersSent) {
        this.state = DONE;
        this.hooks.protocolError(this.socket, 0, r.error);
        this.socket.destroy();
      } else this.fail(400, r.error);
      return false;
    }
    this.buf = r.consumed === buf.length ? undefined : buf.subarray(r.consumed);
    if (!r.done) return false;
    this.decoder = undefined;
    this.state = WAIT;
    req.body.end();
    return true;
  }

  /** The response has been written in full: the next request may start, or the connection closes. */
  responseDone(res: H1Response): void {
    if (res !== this.res) return;
    const socket = this.socket;
    if (res.closeAfter || this.peerEnded || this.state === BODY) {
      // A response before the whole request body arrived closes the connection, as Envoy does.
      this.state = DONE;
      res.close();
      closeAfterFlush(socket);
      return;
    }
    this.req = undefined;
    this.res = undefined;
    this.state = HEAD;
    res.close();
    if (this.paused) {
      this.paused = false;
      socket.resume();
    }
    if (this.buf !== undefined || this.heldBytes > 0) queueMicrotask(() => this.process());
    else this.idle = true;
  }

  /**
   * A protocol error: answered with `status` (the body is its reason phrase, as Envoy's sendProtocolError),
   * then the connection closes.
   */
  private fail(status: number, reason: string, version: '1.0' | '1.1' = '1.1'): void {
    if (this.state === DONE) return;
    this.state = DONE;
    this.hooks.protocolError(this.socket, status, reason);
    this.answer(status, STATUS_CODES[status] ?? 'Bad Request', version);
  }

  /** A head that did not complete in time: Envoy's 408 local reply, then the connection closes. */
  private timedOut(kind: 'request_headers' | 'stream_idle'): void {
    if (this.state === DONE) return;
    this.state = DONE;
    this.hooks.timeout(this.socket, kind, 408);
    this.answer(408, kind === 'request_headers' ? 'request header timeout' : 'stream timeout');
  }

  private answer(status: number, body: string, version: '1.0' | '1.1' = '1.1'): void {
    if (this.headersTimer !== undefined) clearTimeout(this.headersTimer);
    const socket = this.socket;
    if (!socket.writable) {
      socket.destroy();
      return;
    }
    const server = this.options.server === undefined ? '' : `server: ${this.options.server}\r\n`;
    socket.write(
      `HTTP/${version} ${status} ${STATUS_CODES[status]}\r\ncontent-length: ${body.length}\r\ncontent-type: text/plain\r\n${server}connection: close\r\n\r\n${body}`,
    );
    closeAfterFlush(socket);
  }

  private readonly onEnd = (): void => {
    this.peerEnded = true;
    // The client finished sending: a complete request still gets its response, then the connection closes. A
    // request body cut short is a downstream reset.
    if (this.state === HEAD) {
      this.state = DONE;
      closeAfterFlush(this.socket);
    } else if (this.state === BODY) this.socket.destroy();
  };

  private readonly onClose = (): void => {
    this.state = DONE;
    if (this.headersTimer !== undefined) clearTimeout(this.headersTimer);
    clearTimeout(this.longTimer);
    this.res?.close();
    this.res = undefined;
    this.req = undefined;
  };

  /** Hands the socket over (upgrade): none of this connection's listeners stay. */
  private detach(): void {
    const socket = this.socket;
    socket.off('data', this.onData);
    socket.off('end', this.onEnd);
    // The error listener stays: nothing else may be listening yet, and an unhandled error would end the process.
    socket.off('close', this.onClose);
    socket.off('timeout', this.onTimeout);
    socket.setTimeout(0);
    clearTimeout(this.longTimer);
    socket.pause();
  }
}

/** Serves HTTP/1.1 on connections handed to it. */
export class H1Server {
  constructor(
    private readonly options: H1ServerOptions,
    private readonly hooks: H1ServerHooks,
  ) {}

  /**
   * Takes over a connection (paused or flowing; bytes put back by a peek are read first). `tls`: the listener
   * terminated TLS on it.
   */
  serve(socket: Socket, tls = false): void {
    new H1Connection(socket, this.options, this.hooks, tls);
    socket.resume();
  }
}
