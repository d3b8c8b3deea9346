import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import http from 'node:http';
import http2 from 'node:http2';
import { describe, it } from 'node:test';
import {
  type HttpInspectResult,
  inspectHttp,
  MAX_HTTP_INSPECT_SIZE,
} from '../../../src/proxy/detect/http-inspector.js';
import { type Client, captureFirstBytes } from './capture.js';
import { buildClientHello } from './hello-builder.js';

type Want = 'need-more' | 'not-http' | 'http/1.0' | 'http/1.1' | 'h2c';

function outcome(result: HttpInspectResult): Want {
  return result.kind === 'http' ? result.protocol : result.kind;
}

function inspect(data: string | Buffer): Want {
  return outcome(inspectHttp(typeof data === 'string' ? Buffer.from(data, 'latin1') : data));
}

const PREFACE = 'PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n';

function captureRequest(start: Client, timeoutMs = 5000): Promise<Buffer> {
  return captureFirstBytes(start, (bytes) => inspectHttp(bytes).kind !== 'need-more', timeoutMs);
}

function hasCurl(): Promise<boolean> {
  return new Promise((resolve) => {
    const child = spawn('curl', ['--version'], { stdio: 'ignore' });
    child.on('error', () => resolve(false));
    child.on('close', (code) => resolve(code === 0));
  });
}

describe('inspectHttp: the HTTP/2 prior-knowledge preface', () => {
  it('needs all 24 bytes, then says h2c whatever follows', () => {
    for (let i = 0; i < PREFACE.length; i++)
      assert.equal(inspect(PREFACE.slice(0, i)), 'need-more', String(i));
    assert.equal(inspect(PREFACE), 'h2c');
    assert.equal(inspect(`${PREFACE}\x00\x00\x12\x04\x00\x00\x00\x00\x00`), 'h2c');
  });

  it('falls back to the HTTP/1 rules as soon as the bytes leave the preface', () => {
    // "PRI * HTTP/2.0" is a well-formed request line with a custom method: Envoy calls it HTTP/1.0.
    assert.equal(inspect('PRI * HTTP/2.0\r\n\r\nXX\r\n\r\n'), 'http/1.0');
    assert.equal(inspect('PRI * HTTP/2.0\r\n\r\nS'), 'need-more');
    assert.equal(inspect('PRIX'), 'need-more');
    assert.equal(inspect('PRIX / HTTP/1.1\r\n'), 'http/1.1');
    assert.equal(inspect('PRI * HTTP/1.1\r\n'), 'http/1.1');
  });
});

describe('inspectHttp: HTTP/1.x request lines', () => {
  it('decides on the first line, and only on it', () => {
    const cases: [string, Want][] = [
      ['GET / HTTP/1.1\r\n', 'http/1.1'],
      ['GET / HTTP/1.1\r\nHost: a\r\n\r\n', 'http/1.1'],
      ['GET / HTTP/1.1\n', 'http/1.1'],
      ['GET / HTTP/1.1\r\r\n', 'http/1.1'],
      ['GET / HTTP/1.0\r\n', 'http/1.0'],
      ['POST /api/v1/items?x=1&y=%20 HTTP/1.1\r\n', 'http/1.1'],
      ['GET / HTTP/1.1\r\n\x00\x01\x02 headers are not looked at', 'http/1.1'],
      ['OPTIONS * HTTP/1.1\r\n', 'http/1.1'],
      ['CONNECT reviews.default.svc:9080 HTTP/1.1\r\n', 'http/1.1'],
      ['CONNECT [::1]:443 HTTP/1.1\r\n', 'http/1.1'],
      ['GET http://reviews:9080/r?q HTTP/1.1\r\n', 'http/1.1'],
      ['GET svn+ssh.v2://user@host:22/x HTTP/1.1\r\n', 'http/1.1'],
      ['BREW /pot HTTP/1.1\r\n', 'http/1.1'], // custom methods are allowed
      ['M-SEARCH * HTTP/1.1\r\n', 'http/1.1'],
      ["X!#$%&'*+-.^_`|~9 / HTTP/1.1\r\n", 'http/1.1'],
      ['GET\t/\tHTTP/1.1\r\n', 'http/1.1'], // any byte <= 0x20 separates
      ['GET   /   HTTP/1.1   \r\n', 'http/1.1'],
      ['GET /\r\n', 'http/1.0'], // HTTP/0.9 request line
      ['GET / \r\n', 'http/1.0'],
      ['GET / HTTP/0.9\r\n', 'http/1.0'],
      ['GET / HTTP/2.0\r\n', 'http/1.0'],
      ['GET / HTTP/9.9\r\n', 'http/1.0'],
      ['GET /HTTP/1.1\r\n', 'http/1.1'], // BalsaParser::isHttp11 only looks at how the line ends
      ['GET /HTTP/1.1 \r\n', 'http/1.0'], // ...and Balsa keeps blanks after a two-part line
      ['GET /\x01x HTTP/1.1\r\n', 'not-http'], // \x01 splits the target: version "x HTTP/1.1"
    ];
    for (const [text, want] of cases) assert.equal(inspect(text), want, JSON.stringify(text));
  });

  it('rejects what Envoy rejects', () => {
    const cases: [string, string][] = [
      ['\r\n', 'empty first line'],
      ['\nGET / HTTP/1.1\r\n', 'leading LF'],
      ['\r', 'leading CR'],
      [' GET / HTTP/1.1\r\n', 'leading space (NO_REQUEST_LINE_IN_REQUEST)'],
      ['\tGET', 'leading tab'],
      ['\x00', 'leading NUL'],
      ['GET\r\n', 'no target'],
      ['GET \r\n', 'no target after a blank'],
      ['GE(T / HTTP/1.1\r\n', 'method is not a token'],
      ['G\u00c9T / HTTP/1.1\r\n', 'method with a byte >= 0x80'],
      ['GET / HTTP/1.1x\r\n', 'version with a suffix'],
      ['GET / HTTP/1.1 extra\r\n', 'a fourth part joins the version'],
      ['GET / http/1.1\r\n', 'lower-case version'],
      ['GET / HTTP/1.10\r\n', 'two-digit minor'],
      ['GET / HTTP/a.1\r\n', 'letter as version'],
      ['GET / HTTP/1\r\n', 'no minor'],
      ['GET a.example/b HTTP/1.1\r\n', 'neither path nor scheme'],
      ['GET 1http://a/ HTTP/1.1\r\n', 'scheme starting with a digit'],
      ['GET http:/a HTTP/1.1\r\n', 'scheme without //'],
      ['GET http://a@@b/ HTTP/1.1\r\n', '@@ in the host'],
      ['GET http://a"b/ HTTP/1.1\r\n', 'quote in the host'],
      ['GET http://a/\x7f HTTP/1.1\r\n', 'DEL in the path'],
      ['GET /\x80 HTTP/1.1\r\n', 'byte >= 0x80 in the path'],
      ['CONNECT a"b:443 HTTP/1.1\r\n', 'quote in a CONNECT authority'],
      ['SSH-2.0-OpenSSH_9.6\r\n', 'SSH banner: a token, then nothing'],
      ['*1\r\n$4\r\nPING\r\n', 'Redis command'],
      ['HTTP/1.1 200 OK\r\n', 'a response line: "/" is not a method character'],
    ];
    for (const [text, label] of cases) assert.equal(inspect(text), 'not-http', label);
  });

  it('waits for the end of the first line, whatever comes before it', () => {
    for (const text of [
      'G',
      'GET',
      'GET / HTTP/1.1',
      'GET / HTTP/1.1\r',
      'NOT A REQUEST\tAT ALL',
      '\u00ff\u00fe',
      'x'.repeat(5000),
    ]) {
      assert.equal(inspect(text), 'need-more', JSON.stringify(text.slice(0, 40)));
    }
    assert.equal(inspect(''), 'need-more');
  });

  it('answers need-more for every prefix of a request line fed one byte at a time', () => {
    for (const [line, want] of [
      ['GET /productpage HTTP/1.1\r\n', 'http/1.1'],
      ['HEAD / HTTP/1.0\r\n', 'http/1.0'],
    ] as const) {
      for (let i = 0; i < line.length - 1; i++)
        assert.equal(inspect(line.slice(0, i)), 'need-more', `${line} ${i}`);
      assert.equal(inspect(line), want);
    }
  });

  it('says not HTTP to a TLS ClientHello from its first byte', () => {
    assert.equal(inspect(buildClientHello({ serverName: 'a.example' }).subarray(0, 1)), 'not-http');
  });
});

describe('inspectHttp: the 64 KiB limit', () => {
  it("is Envoy's MAX_INSPECT_SIZE", () => {
    assert.equal(MAX_HTTP_INSPECT_SIZE, 65536);
  });

  it('stays need-more when the first line does not end within it (the caller then closes, as Envoy does)', () => {
    const long = Buffer.from(`GET /${'a'.repeat(70000)} HTTP/1.1\r\n`);
    assert.equal(inspect(long), 'need-more');
    const justFits = Buffer.from(`GET /${'a'.repeat(MAX_HTTP_INSPECT_SIZE - 15)} HTTP/1.1\n`);
    assert.equal(justFits.length, MAX_HTTP_INSPECT_SIZE);
    assert.equal(inspect(justFits), 'http/1.1');
    assert.equal(
      inspect(Buffer.concat([Buffer.from('GET / HTTP/1.1\r\n'), Buffer.alloc(100000, 0x61)])),
      'http/1.1',
    );
  });
});

describe('inspectHttp: real clients', () => {
  it('Node http.request sends HTTP/1.1', async () => {
    const bytes = await captureRequest((port) => {
      const req = http.request({ host: '127.0.0.1', port, path: '/productpage' });
      req.on('error', () => {});
      req.end();
      return () => req.destroy();
    });
    assert.equal(inspect(bytes), 'http/1.1');
  });

  it('Node http2.connect over cleartext sends the h2c preface', async () => {
    const bytes = await captureRequest((port) => {
      const session = http2.connect(`http://127.0.0.1:${port}`);
      session.on('error', () => {});
      return () => session.destroy();
    });
    assert.equal(inspect(bytes), 'h2c');
  });

  it('curl --http1.0 sends HTTP/1.0, when curl is installed', async (t) => {
    if (!(await hasCurl())) return t.skip('curl not installed');
    const bytes = await captureRequest((port) => {
      const child = spawn('curl', ['-s', '--http1.0', '-m', '5', `http://127.0.0.1:${port}/`], {
        stdio: 'ignore',
      });
      child.on('error', () => {});
      return () => child.kill();
    });
    assert.equal(inspect(bytes), 'http/1.0');
  });
});

describe('inspectHttp: never throws', () => {
  it('on thousands of random and HTTP-like buffers, and its decisions hold as more bytes arrive', () => {
    let seed = 7;
    const rand = () => {
      seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
      return seed / 4294967296;
    };
    const alphabet = 'GET POST /?:@.*-_%HTTP/1.0\r\n\t\x00\x7f\xff PRI SM';
    for (let i = 0; i < 5000; i++) {
      const length = Math.floor(rand() * 80);
      const data =
        i % 2 === 0
          ? Buffer.from(Array.from({ length }, () => Math.floor(rand() * 256)))
          : Buffer.from(
              Array.from({ length }, () => alphabet[Math.floor(rand() * alphabet.length)]).join(''),
              'latin1',
            );
      let result: HttpInspectResult;
      try {
        result = inspectHttp(data);
      } catch (err) {
        assert.fail(`threw ${String(err)} on ${data.toString('hex')}`);
      }
      assert.ok(['need-more', 'not-http', 'http'].includes(result.kind));
      if (result.kind !== 'need-more') {
        assert.deepEqual(
          inspectHttp(Buffer.concat([data, Buffer.from('\r\nmore')])),
          result,
          data.toString('hex'),
        );
      }
    }
  });
});
