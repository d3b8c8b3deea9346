// The peer certificate read from the TLS session (DER walker) gives what Node's slow accessors give: the same
// DER and the same SANs as parseSubjectAltNames over X509Certificate.subjectAltName, on both ends of a real
// handshake; malformed input falls back (undefined), never half-parsed.

import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import net from 'node:net';
import { after, describe, it } from 'node:test';
import tls from 'node:tls';
import { generateKeyPair, x509 } from '../../../src/ca/x509.js';
import {
  peerCertificate,
  sessionPeerCertificate,
  subjectAltNamesOfDer,
  verifyError,
} from '../../../src/proxy/transport/peer-certificate.js';
import { parseSubjectAltNames } from '../../../src/proxy/transport/san.js';
import { issue, makeCa } from '../pki.js';

async function selfSigned(extensions: x509.Extension[]): Promise<Buffer> {
  const keys = await generateKeyPair('ec-p256');
  const now = Date.now();
  const cert = await x509.X509CertificateGenerator.createSelfSigned({
    serialNumber: '01',
    name: [],
    notBefore: new Date(now - 60_000),
    notAfter: new Date(now + 3_600_000),
    keys,
    signingAlgorithm: { name: 'ECDSA', hash: 'SHA-256' },
    extensions,
  });
  return Buffer.from(cert.rawData);
}

describe('subjectAltNamesOfDer', () => {
  it('reads what parseSubjectAltNames reads from Node, in order, awkward values included', async () => {
    const der = await selfSigned([
      new x509.BasicConstraintsExtension(false, undefined, true),
      new x509.SubjectAlternativeNameExtension(
        [
          { type: 'url', value: 'spiffe://td/ns/a,b/sa/x' },
          { type: 'email', value: 'ops@example.com' },
          { type: 'ip', value: '2001:db8::1' },
          { type: 'ip', value: '::ffff:10.1.2.3' },
          { type: 'ip', value: '10.0.0.1' },
          { type: 'dns', value: '*.Example.com' },
          { type: 'url', value: 'spiffe://td/"q\\' },
        ],
        true,
      ),
    ]);
    const fromNode = parseSubjectAltNames(new X509Certificate(der).subjectAltName);
    assert.equal(fromNode.length, 7);
    assert.deepEqual(subjectAltNamesOfDer(der), fromNode);
  });

  it('gives [] for a certificate without the extension', async () => {
    assert.deepEqual(subjectAltNamesOfDer(await selfSigned([])), []);
  });

  it('gives undefined (fall back) for anything that is not a certificate, truncated input included', async () => {
    const der = await selfSigned([new x509.SubjectAlternativeNameExtension([{ type: 'dns', value: 'a' }])]);
    assert.equal(subjectAltNamesOfDer(Buffer.from('not DER')), undefined);
    assert.equal(subjectAltNamesOfDer(der.subarray(0, der.length - 10)), undefined);
    assert.equal(subjectAltNamesOfDer(Buffer.alloc(0)), undefined);
    assert.equal(sessionPeerCertificate(Buffer.from([0x30, 0x03, 0x02, 0x01])), undefined);
  });
});

describe('peerCertificate over a real mutual TLS handshake', () => {
  const servers: net.Server[] = [];
  after(() => {
    for (const s of servers) s.close();
  });

  it('gives each side the other one`s leaf (DER and SANs) as Node`s accessors do, and the chain verdict', async () => {
    const { ca } = await makeCa();
    const server = await issue(ca, 'default', 'server');
    const client = await issue(ca, 'default', 'client');
    const serverCtx = tls.createSecureContext({ cert: server.chain, key: server.key, ca: server.root });
    const clientCtx = tls.createSecureContext({ cert: client.chain, key: client.key, ca: client.root });
    const seen = new Promise<{ der: Buffer; spiffe: string | undefined; verify: string | undefined }>(
      (resolve, reject) => {
        const srv = net.createServer((raw) => {
          const s = new tls.TLSSocket(raw, {
            isServer: true,
            secureContext: serverCtx,
            requestCert: true,
            rejectUnauthorized: true,
          });
          s.on('error', reject);
          s.once('secure', () => {
            const got = peerCertificate(s);
            const slow = s.getPeerX509Certificate();
            assert.ok(got && slow);
            assert.deepEqual(got.der, slow.raw);
            assert.deepEqual(got.sans, parseSubjectAltNames(slow.subjectAltName));
            resolve({ der: got.der, spiffe: got.sans[0]?.value, verify: verifyError(s) });
            s.end();
          });
        });
        servers.push(srv);
      },
    );
    const srv = servers[0] as net.Server;
    await new Promise<void>((r) => srv.listen(0, '127.0.0.1', r));
    const port = (srv.address() as net.AddressInfo).port;
    const clientSide = await new Promise<{ spiffe: string | undefined; verify: string | undefined }>(
      (resolve, reject) => {
        const raw = net.connect(port, '127.0.0.1', () => {
          const s = tls.connect({
            socket: raw,
            secureContext: clientCtx,
            servername: 'x',
            rejectUnauthorized: false,
          });
          s.on('error', reject);
          s.once('secureConnect', () => {
            const got = peerCertificate(s);
            const slow = s.getPeerX509Certificate();
            assert.ok(got && slow);
            assert.deepEqual(got.der, slow.raw);
            resolve({ spiffe: got.sans[0]?.value, verify: verifyError(s) });
            s.on('close', () => {});
            s.end();
          });
        });
        raw.on('error', reject);
      },
    );
    const serverSide = await seen;
    assert.equal(serverSide.spiffe, client.spiffe);
    assert.equal(serverSide.verify, undefined);
    assert.equal(clientSide.spiffe, server.spiffe);
    assert.equal(clientSide.verify, undefined);
  });
});
