// The real `skiff ca` commands in child processes, with openssl as the independent judge of what they write,
// Node's TLS as a real peer, and the signing service reached over gRPC.

import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import tls from 'node:tls';
import { CaClient, CaClientError } from '../../src/ca/client.js';
import { createCsr, generateKeyPair, subjectAltNames, x509 } from '../../src/ca/x509.js';
import { repoRoot } from '../helpers.js';

const SKIFF = path.join(repoRoot, 'bin', 'skiff.js');
const base = mkdtempSync(path.join(tmpdir(), 'skiff-ca-e2e-'));
const children: ChildProcess[] = [];

after(() => {
  for (const child of children)
    if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  rmSync(base, { recursive: true, force: true });
});

let counter = 0;
const fresh = (name: string) => path.join(base, `${name}-${++counter}`);

function skiff(...args: string[]) {
  const r = spawnSync(process.execPath, [SKIFF, ...args], {
    cwd: repoRoot,
    encoding: 'utf8',
    timeout: 30_000,
  });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

/** Runs skiff and asserts exit 0 and no stack trace. */
function skiffOk(...args: string[]) {
  const r = skiff(...args);
  assert.equal(r.code, 0, `skiff ${args.join(' ')}\n${r.out}\n${r.err}`);
  return r;
}

function openssl(args: string[], cwd = base) {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 30_000 });
  return { code: r.status, out: r.stdout, err: r.stderr };
}

function opensslOk(args: string[], cwd = base): string {
  const r = openssl(args, cwd);
  assert.equal(r.code, 0, `openssl ${args.join(' ')}\n${r.out}\n${r.err}`);
  return r.out;
}

function noStack(text: string): void {
  assert.doesNotMatch(text, /\n\s+at /, 'no stack trace');
}

const read = (...parts: string[]) => readFileSync(path.join(...parts), 'utf8');
const mode = (...parts: string[]) => statSync(path.join(...parts)).mode & 0o777;
const pemCount = (text: string) => (text.match(/-----BEGIN CERTIFICATE-----/g) ?? []).length;

function initCa(name: string, ...extra: string[]): string {
  const dir = fresh(name);
  skiffOk('ca', 'init', '--dir', dir, ...extra);
  return dir;
}

function issue(ca: string, ns: string, sa: string, ...extra: string[]): { out: string; stderr: string } {
  const out = fresh(`issued-${sa}`);
  const r = skiffOk('ca', 'issue', '--dir', ca, '-n', ns, '-s', sa, '--out', out, ...extra);
  return { out, stderr: r.err };
}

function showJson(dir: string) {
  return JSON.parse(skiffOk('ca', 'show', '--dir', dir, '-o', 'json').out) as {
    trustDomain: string;
    mode: string;
    keyType: string;
    signer: { subject: string; sha256: string };
    chain: { subject: string; sha256: string }[];
    roots: { subject: string; sha256: string; notAfter: string }[];
  };
}

/** openssl's view of the first certificate in a PEM file. */
function certText(file: string): string {
  return opensslOk(['x509', '-in', file, '-noout', '-text']);
}

function dates(file: string): { notBefore: number; notAfter: number } {
  const out = opensslOk(['x509', '-in', file, '-noout', '-startdate', '-enddate']);
  const notBefore = Date.parse(/notBefore=(.*)/.exec(out)?.[1] ?? '');
  const notAfter = Date.parse(/notAfter=(.*)/.exec(out)?.[1] ?? '');
  assert.ok(Number.isFinite(notBefore) && Number.isFinite(notAfter), out);
  return { notBefore, notAfter };
}

/** `openssl verify` of the leaf in cert-chain.pem, with the rest of the file as untrusted intermediates. */
function verify(roots: string, chain: string, purpose: 'sslserver' | 'sslclient' = 'sslserver') {
  return openssl([
    'verify',
    '-x509_strict',
    '-purpose',
    purpose,
    '-CAfile',
    roots,
    '-untrusted',
    chain,
    chain,
  ]);
}

function assertVerifies(roots: string, chain: string): void {
  for (const purpose of ['sslserver', 'sslclient'] as const) {
    const r = verify(roots, chain, purpose);
    assert.equal(r.code, 0, `openssl verify -purpose ${purpose}: ${r.out}${r.err}`);
    assert.match(r.out, /: OK$/m);
  }
}

// ---------------------------------------------------------------------------------------------------------
// openssl-made root and intermediate in Istio's cacerts layout.

const EXT = `[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

function opensslCacerts(): string {
  const dir = fresh('cacerts');
  const work = `${dir}-work`;
  mkdirSync(dir);
  mkdirSync(work);
  writeFileSync(path.join(work, 'ext.cnf'), EXT);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  opensslOk(
    [
      'req',
      '-x509',
      ...ec,
      '-keyout',
      'root-key.pem',
      '-out',
      'root-cert.pem',
      '-days',
      '3650',
      '-subj',
      '/O=Example Org/CN=Root CA',
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
      '-addext',
      'subjectKeyIdentifier=hash',
    ],
    work,
  );
  opensslOk(
    [
      'req',
      '-new',
      ...ec,
      '-keyout',
      'ca-key.pem',
      '-out',
      'ca.csr',
      '-subj',
      '/O=Example Org/CN=Intermediate CA',
    ],
    work,
  );
  opensslOk(
    [
      'x509',
      '-req',
      '-in',
      'ca.csr',
      '-CA',
      'root-cert.pem',
      '-CAkey',
      'root-key.pem',
      '-set_serial',
      `0x${randomBytes(8).toString('hex')}`,
      '-days',
      '730',
      '-extfile',
      'ext.cnf',
      '-extensions',
      'ca',
      '-out',
      'ca-cert.pem',
    ],
    work,
  );
  for (const f of ['ca-cert.pem', 'ca-key.pem', 'root-cert.pem'])
    copyFileSync(path.join(work, f), path.join(dir, f));
  writeFileSync(path.join(dir, 'cert-chain.pem'), read(work, 'ca-cert.pem') + read(work, 'root-cert.pem'));
  return dir;
}

// ---------------------------------------------------------------------------------------------------------
// Node TLS between two workloads.

interface Material {
  key: string;
  cert: string;
  ca: string;
}

const material = (out: string, ca = read(out, 'root-cert.pem')): Material => ({
  key: read(out, 'key.pem'),
  cert: read(out, 'cert-chain.pem'),
  ca,
});

interface Handshake {
  ok: boolean;
  serverSaw?: string;
  clientSaw?: string;
  error?: string;
}

/** A TLS server requiring client certificates and a client; both check the other against their roots. */
async function mutualTls(server: Material, client: Material, expectServerId: string): Promise<Handshake> {
  let serverSaw: string | undefined;
  const srv = tls.createServer(
    { ...server, requestCert: true, rejectUnauthorized: true, minVersion: 'TLSv1.2' },
    (socket) => {
      serverSaw = socket.getPeerCertificate().subjectaltname;
      socket.end('hello from the server\n');
    },
  );
  srv.on('tlsClientError', () => {});
  await new Promise<void>((resolve) => srv.listen(0, '127.0.0.1', resolve));
  const port = (srv.address() as { port: number }).port;
  try {
    return await new Promise<Handshake>((resolve) => {
      let clientSaw: string | undefined;
      let data = '';
      const timer = setTimeout(() => resolve({ ok: false, error: 'timeout' }), 10_000);
      const finish = (h: Handshake) => {
        clearTimeout(timer);
        socket.destroy();
        resolve(h);
      };
      const socket = tls.connect({
        host: '127.0.0.1',
        port,
        ...client,
        // Istio checks the peer's SPIFFE ID, not a host name.
        checkServerIdentity: (_host, cert) =>
          cert.subjectaltname === `URI:${expectServerId}`
            ? undefined
            : new Error(`unexpected server identity ${cert.subjectaltname}`),
      });
      socket.on('secureConnect', () => {
        clientSaw = socket.getPeerCertificate().subjectaltname;
      });
      socket.on('data', (chunk) => {
        data += chunk.toString();
      });
      socket.on('end', () =>
        finish(
          data.includes('hello') && serverSaw !== undefined && clientSaw !== undefined
            ? { ok: true, serverSaw, clientSaw }
            : { ok: false, error: `ended: ${data}` },
        ),
      );
      socket.on('error', (e) => finish({ ok: false, error: e.message }));
    });
  } finally {
    await new Promise<void>((resolve) => srv.close(() => resolve()));
  }
}

// ---------------------------------------------------------------------------------------------------------

describe('skiff ca init / show (real processes)', { timeout: 180_000 }, () => {
  it('init on a new folder: a self-signed P-256 root, a JSON record, keys 0600; show agrees with openssl', () => {
    const dir = fresh('ca');
    const r = skiffOk('ca', 'init', '--dir', dir, '--trust-domain', 'example.org');
    assert.match(r.out, /created a self-signed ec-p256 root/);
    assert.deepEqual(readdirSync(dir).sort(), [
      'ca-cert.pem',
      'ca-key.pem',
      'ca.json',
      'cert-chain.pem',
      'root-cert.pem',
      'token-key',
    ]);
    assert.equal(mode(dir, 'ca-key.pem'), 0o600);
    assert.equal(mode(dir, 'token-key'), 0o600);
    const record = JSON.parse(read(dir, 'ca.json'));
    assert.equal(record.trustDomain, 'example.org');
    assert.equal(record.keyType, 'ec-p256');
    const text = certText(path.join(dir, 'root-cert.pem'));
    assert.match(text, /Subject: O = example\.org/);
    assert.match(text, /Issuer: O = example\.org/);
    assert.match(text, /X509v3 Basic Constraints: critical\s+CA:TRUE/);
    assert.match(text, /X509v3 Key Usage: critical\s+Digital Signature, Certificate Sign, CRL Sign/);
    assert.match(text, /ASN1 OID: prime256v1/);
    opensslOk([
      'verify',
      '-x509_strict',
      '-CAfile',
      path.join(dir, 'root-cert.pem'),
      path.join(dir, 'root-cert.pem'),
    ]);
    const show = showJson(dir);
    assert.equal(show.trustDomain, 'example.org');
    assert.equal(show.mode, 'self-signed');
    const opensslFp = /=(.*)/.exec(
      opensslOk(['x509', '-in', path.join(dir, 'root-cert.pem'), '-noout', '-fingerprint', '-sha256']),
    )?.[1];
    assert.equal(show.roots.length, 1);
    assert.equal(show.roots[0]?.sha256, opensslFp);
    const table = skiffOk('ca', 'show', '--dir', dir);
    assert.match(table.out, /Trust domain:\s+example\.org/);
    assert.match(table.out, new RegExp(`SHA-256 ${opensslFp}`));
  });

  it('--key-type rsa2048 makes an RSA root openssl accepts', () => {
    const dir = initCa('rsa', '--key-type', 'rsa2048');
    assert.match(certText(path.join(dir, 'root-cert.pem')), /Public-Key: \(2048 bit\)/);
    const { out } = issue(dir, 'shop', 'cart');
    assertVerifies(path.join(out, 'root-cert.pem'), path.join(out, 'cert-chain.pem'));
  });

  it('init twice: exit 0, nothing changed, the same root', () => {
    const dir = initCa('twice');
    const before = showJson(dir);
    const files = Object.fromEntries(
      readdirSync(dir).map((f) => [f, { text: read(dir, f), mtime: statSync(path.join(dir, f)).mtimeMs }]),
    );
    const r = skiffOk('ca', 'init', '--dir', dir, '--key-type', 'rsa2048');
    assert.match(r.out, /a CA already exists here: nothing changed/);
    assert.deepEqual(showJson(dir).roots, before.roots);
    assert.deepEqual(
      Object.fromEntries(
        readdirSync(dir).map((f) => [f, { text: read(dir, f), mtime: statSync(path.join(dir, f)).mtimeMs }]),
      ),
      files,
    );
  });

  it('a corrupted ca.json: show, issue, token and init exit 2 naming the file, no stack trace, nothing replaced', () => {
    const dir = initCa('corrupt');
    writeFileSync(path.join(dir, 'ca.json'), '{"version": 1, "trust');
    const key = read(dir, 'ca-key.pem');
    for (const args of [
      ['ca', 'show', '--dir', dir],
      ['ca', 'issue', '--dir', dir, '-n', 'shop', '-s', 'cart', '--out', fresh('never')],
      ['ca', 'token', '--dir', dir, '-n', 'shop', '-s', 'cart'],
      ['ca', 'init', '--dir', dir],
    ]) {
      const r = skiff(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.equal(r.out, '');
      assert.match(r.err, /^error: .*ca\.json: not valid JSON .*: the CA folder is corrupted\n$/);
      noStack(r.err);
    }
    assert.equal(read(dir, 'ca-key.pem'), key);
    assert.equal(read(dir, 'ca.json'), '{"version": 1, "trust');
  });

  it('a key that does not match the certificate: exit 2 naming ca-key.pem', () => {
    const dir = initCa('mismatch');
    const other = initCa('mismatch-other');
    copyFileSync(path.join(other, 'ca-key.pem'), path.join(dir, 'ca-key.pem'));
    const r = skiff('ca', 'show', '--dir', dir);
    assert.equal(r.code, 2);
    assert.match(r.err, /ca-key\.pem: the key does not belong to ca-cert\.pem/);
    noStack(r.err);
  });

  it('a half-written folder (ca.json missing) is refused by init with exit 2, never replaced', () => {
    const dir = initCa('partial');
    rmSync(path.join(dir, 'ca.json'));
    const root = read(dir, 'root-cert.pem');
    const r = skiff('ca', 'init', '--dir', dir);
    assert.equal(r.code, 2);
    assert.match(r.err, /holds a partial CA .* without ca\.json: an init was interrupted/);
    noStack(r.err);
    assert.equal(read(dir, 'root-cert.pem'), root);
    assert.equal(readdirSync(dir).includes('ca.json'), false);
  });

  it('a folder with other files is refused with exit 2', () => {
    const dir = fresh('busy');
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'README'), 'mine');
    const r = skiff('ca', 'init', '--dir', dir);
    assert.equal(r.code, 2);
    assert.match(r.err, /is not empty and holds no CA \(README\)/);
    assert.deepEqual(readdirSync(dir), ['README']);
  });

  it('a folder of workload certificates, or none at all, is no CA: each command says how to make one', () => {
    const dir = initCa('real');
    const certs = fresh('certs');
    skiffOk('ca', 'issue', '--dir', dir, '-n', 'shop', '-s', 'cart', '--out', certs);
    const init = skiff('ca', 'init', '--dir', certs);
    assert.equal(init.code, 2);
    assert.doesNotMatch(init.err, /partial|interrupted/);
    assert.match(
      init.err,
      /is not empty and holds no CA \(.*workload certificates.*\): give an empty or new folder\n$/,
    );
    const nope = fresh('nope');
    const issue = skiff('ca', 'issue', '--dir', nope, '-n', 'shop', '-s', 'cart', '--out', fresh('x'));
    assert.equal(issue.code, 2);
    assert.equal(
      issue.err,
      `error: ${nope}: no CA here (no such folder): create one with \`skiff ca init --dir ${nope}\`\n`,
    );
    noStack(issue.err);
  });

  it('bad arguments exit 2 without a stack trace', () => {
    const dir = initCa('args');
    for (const args of [
      ['ca', 'init', '--dir', fresh('x'), '--key-type', 'dsa'],
      ['ca', 'init', '--dir', fresh('x'), '--trust-domain', 'Bad Domain'],
      ['ca', 'issue', '--dir', dir, '-n', 'shop', '-s', 'cart', '--out', fresh('x'), '--ttl', '1 day'],
      ['ca', 'issue', '--dir', dir, '-n', 'shop', '-s', 'Not_Valid', '--out', fresh('x')],
    ]) {
      const r = skiff(...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.err}`);
      assert.match(r.err, /error: /);
      noStack(r.err);
    }
  });
});

describe('skiff ca issue: workload certificates judged by openssl', { timeout: 180_000 }, () => {
  let ca: string;
  before(() => {
    ca = initCa('issue', '--trust-domain', 'cluster.local');
  });

  it('openssl verify accepts the chain (server and client purposes, -x509_strict)', () => {
    const { out } = issue(ca, 'shop', 'cart');
    assertVerifies(path.join(out, 'root-cert.pem'), path.join(out, 'cert-chain.pem'));
    // ... and with the CA's own root file.
    assertVerifies(path.join(ca, 'root-cert.pem'), path.join(out, 'cert-chain.pem'));
  });

  it('empty subject, exactly one critical SAN URI:spiffe://…, CA:FALSE, key usage, EKU, 128-bit serial, back-dated', () => {
    const started = Date.now();
    const { out, stderr } = issue(ca, 'shop', 'cart');
    assert.equal(stderr, '');
    const file = path.join(out, 'cert-chain.pem');
    const text = certText(file);
    assert.match(text, /^\s+Subject: ?$/m);
    assert.match(text, /Issuer: O = cluster\.local/);
    const san = /X509v3 Subject Alternative Name: (critical)?\n\s+(.*)\n/.exec(text);
    assert.equal(san?.[1], 'critical');
    assert.equal(san?.[2], 'URI:spiffe://cluster.local/ns/shop/sa/cart');
    assert.match(text, /X509v3 Basic Constraints: critical\n\s+CA:FALSE\n/);
    assert.match(text, /X509v3 Key Usage: critical\n\s+Digital Signature, Key Encipherment\n/);
    assert.match(
      text,
      /X509v3 Extended Key Usage: \n\s+TLS Web Server Authentication, TLS Web Client Authentication\n/,
    );
    const serial =
      /serial=([0-9A-F]+)/.exec(opensslOk(['x509', '-in', file, '-noout', '-serial']))?.[1] ?? '';
    assert.ok(serial.length <= 32 && serial.length >= 24, `a random 128-bit serial, got ${serial}`);
    const other = issue(ca, 'shop', 'cart').out;
    assert.notEqual(
      opensslOk(['x509', '-in', path.join(other, 'cert-chain.pem'), '-noout', '-serial']),
      `serial=${serial}\n`,
    );
    const { notBefore, notAfter } = dates(file);
    const backdated = (started - notBefore) / 60_000;
    assert.ok(backdated >= 4 && backdated <= 6, `notBefore about 5 minutes back, got ${backdated} min`);
    const hours = (notAfter - started) / 3600_000;
    assert.ok(hours > 23.9 && hours < 24.1, `24 h by default, got ${hours} h`);
  });

  it('writes key.pem 0600, cert-chain.pem with the leaf only (no root), root-cert.pem = the trust bundle', () => {
    const { out } = issue(ca, 'shop', 'cart');
    assert.deepEqual(readdirSync(out).sort(), ['cert-chain.pem', 'key.pem', 'root-cert.pem']);
    assert.equal(mode(out, 'key.pem'), 0o600);
    assert.equal(pemCount(read(out, 'cert-chain.pem')), 1);
    assert.equal(read(out, 'root-cert.pem'), read(ca, 'root-cert.pem'));
    // The key is the certificate's.
    const fromKey = opensslOk(['pkey', '-in', path.join(out, 'key.pem'), '-pubout']);
    const fromCert = opensslOk(['x509', '-in', path.join(out, 'cert-chain.pem'), '-noout', '-pubkey']);
    assert.equal(fromKey, fromCert);
  });

  it('--ttl 90m: a 90-minute certificate, no warning', () => {
    const started = Date.now();
    const { out, stderr } = issue(ca, 'shop', 'cart', '--ttl', '90m');
    assert.equal(stderr, '');
    const minutes = (dates(path.join(out, 'cert-chain.pem')).notAfter - started) / 60_000;
    assert.ok(minutes > 89 && minutes < 91, `90 min, got ${minutes}`);
  });

  it('--ttl 1h30m (Go syntax) is the same 90 minutes', () => {
    const started = Date.now();
    const { out } = issue(ca, 'shop', 'cart', '--ttl', '1h30m');
    const minutes = (dates(path.join(out, 'cert-chain.pem')).notAfter - started) / 60_000;
    assert.ok(minutes > 89 && minutes < 91, `90 min, got ${minutes}`);
  });

  it('a ttl over the maximum is cut to 90 days, with a warning on stderr, exit 0', () => {
    const started = Date.now();
    const { out, stderr } = issue(ca, 'shop', 'cart', '--ttl', '8760h');
    assert.match(stderr, /^warning: requested lifetime 8760h exceeds the maximum 2160h: cut to 2160h\n$/);
    const days = (dates(path.join(out, 'cert-chain.pem')).notAfter - started) / 86_400_000;
    assert.ok(days > 89.9 && days < 90.1, `90 days, got ${days}`);
    assertVerifies(path.join(out, 'root-cert.pem'), path.join(out, 'cert-chain.pem'));
  });

  it('--key-type rsa2048 for the workload: openssl accepts it', () => {
    const { out } = issue(ca, 'shop', 'legacy', '--key-type', 'rsa2048');
    assert.match(certText(path.join(out, 'cert-chain.pem')), /Public-Key: \(2048 bit\)/);
    assertVerifies(path.join(out, 'root-cert.pem'), path.join(out, 'cert-chain.pem'));
  });
});

describe('skiff ca init --from-cacerts: a plugged-in intermediate made by openssl', {
  timeout: 180_000,
}, () => {
  it('issues chains openssl verifies through the intermediate to the root', () => {
    const src = opensslCacerts();
    const dir = fresh('plugged');
    const r = skiffOk('ca', 'init', '--dir', dir, '--from-cacerts', src);
    assert.match(r.out, /plugged in the intermediate from/);
    assert.equal(mode(dir, 'ca-key.pem'), 0o600);
    const show = showJson(dir);
    assert.equal(show.mode, 'plugged-in');
    assert.equal(show.signer.subject, 'O=Example Org, CN=Intermediate CA');
    assert.deepEqual(
      show.chain.map((c) => c.subject),
      ['O=Example Org, CN=Intermediate CA'],
    );
    assert.deepEqual(
      show.roots.map((c) => c.subject),
      ['O=Example Org, CN=Root CA'],
    );

    const { out } = issue(dir, 'shop', 'cart');
    const chain = path.join(out, 'cert-chain.pem');
    const roots = path.join(out, 'root-cert.pem');
    // Leaf first, then the intermediate; the root only in root-cert.pem.
    assert.equal(pemCount(read(chain)), 2);
    assert.equal(pemCount(read(roots)), 1);
    assert.equal(read(roots).replace(/\s/g, ''), read(src, 'root-cert.pem').replace(/\s/g, ''));
    assert.match(certText(chain), /Issuer: O = Example Org, CN = Intermediate CA/);
    assertVerifies(roots, chain);
    // Control: without the intermediate, openssl cannot build the chain.
    const alone = openssl(['verify', '-CAfile', roots, chain]);
    assert.notEqual(alone.code, 0);

    // A second init with the same source changes nothing.
    const again = skiffOk('ca', 'init', '--dir', dir, '--from-cacerts', src);
    assert.match(again.out, /nothing changed/);
    assert.deepEqual(showJson(dir).roots, show.roots);
  });

  it('refuses a key that does not match ca-cert.pem (exit 2)', () => {
    const src = opensslCacerts();
    copyFileSync(path.join(opensslCacerts(), 'ca-key.pem'), path.join(src, 'ca-key.pem'));
    const r = skiff('ca', 'init', '--dir', fresh('plugged-bad'), '--from-cacerts', src);
    assert.equal(r.code, 2);
    assert.match(r.err, /ca-key\.pem: the key does not match ca-cert\.pem/);
    noStack(r.err);
  });

  it('refuses a chain that does not verify to root-cert.pem (exit 2)', () => {
    const src = opensslCacerts();
    copyFileSync(path.join(opensslCacerts(), 'root-cert.pem'), path.join(src, 'root-cert.pem'));
    const r = skiff('ca', 'init', '--dir', fresh('plugged-bad'), '--from-cacerts', src);
    assert.equal(r.code, 2);
    assert.match(r.err, /the chain does not verify to root-cert\.pem/);
    noStack(r.err);
  });
});

describe('Node TLS configured from skiff ca issue', { timeout: 180_000 }, () => {
  let ca: string;
  let server: string;
  let client: string;
  before(() => {
    ca = initCa('tls');
    server = issue(ca, 'shop', 'backend').out;
    client = issue(ca, 'shop', 'frontend').out;
  });

  it('mutual TLS completes and each side sees the other’s SPIFFE ID', async () => {
    const h = await mutualTls(
      material(server),
      material(client),
      'spiffe://cluster.local/ns/shop/sa/backend',
    );
    assert.equal(h.error, undefined);
    assert.equal(h.ok, true);
    assert.equal(h.serverSaw, 'URI:spiffe://cluster.local/ns/shop/sa/frontend');
    assert.equal(h.clientSaw, 'URI:spiffe://cluster.local/ns/shop/sa/backend');
  });

  it('control: a client certificate from another CA is rejected by the server', async () => {
    const stranger = issue(initCa('tls-stranger'), 'shop', 'frontend').out;
    const h = await mutualTls(
      material(server),
      material(stranger, read(server, 'root-cert.pem')),
      'spiffe://cluster.local/ns/shop/sa/backend',
    );
    assert.equal(h.ok, false);
  });

  it('control: a client trusting another root rejects the server', async () => {
    const otherRoot = read(initCa('tls-other-root'), 'root-cert.pem');
    const h = await mutualTls(
      material(server),
      material(client, otherRoot),
      'spiffe://cluster.local/ns/shop/sa/backend',
    );
    assert.equal(h.ok, false);
  });
});

describe('a trust bundle of two roots', { timeout: 180_000 }, () => {
  let one: string;
  let two: string;
  let bundle: string;
  before(() => {
    one = initCa('bundle-one');
    two = initCa('bundle-two');
    bundle = fresh('bundle.pem');
    writeFileSync(bundle, read(one, 'root-cert.pem') + read(two, 'root-cert.pem'));
  });

  it('openssl verify accepts certificates from either CA', () => {
    const a = path.join(issue(one, 'shop', 'a').out, 'cert-chain.pem');
    const b = path.join(issue(two, 'shop', 'b').out, 'cert-chain.pem');
    assertVerifies(bundle, a);
    assertVerifies(bundle, b);
    // Control: each root alone accepts only its own.
    assert.notEqual(verify(path.join(one, 'root-cert.pem'), b).code, 0);
    assert.notEqual(verify(path.join(two, 'root-cert.pem'), a).code, 0);
  });

  it('a TLS server trusting the bundle accepts clients of either CA', async () => {
    const server = issue(one, 'shop', 'backend').out;
    const serverMaterial = material(server, read(bundle));
    for (const [ca, sa] of [
      [one, 'from-one'],
      [two, 'from-two'],
    ] as const) {
      const out = issue(ca, 'shop', sa).out;
      const h = await mutualTls(
        serverMaterial,
        material(out, read(bundle)),
        'spiffe://cluster.local/ns/shop/sa/backend',
      );
      assert.equal(h.error, undefined);
      assert.equal(h.serverSaw, `URI:spiffe://cluster.local/ns/shop/sa/${sa}`);
    }
  });
});

describe('skiff ca token + skiff ca serve + CaClient', { timeout: 180_000 }, () => {
  let ca: string;
  before(() => {
    ca = initCa('serve');
  });

  async function serve(
    ...extra: string[]
  ): Promise<{ child: ChildProcess; address: string; metrics?: { port: number } }> {
    const child = spawn(
      process.execPath,
      [SKIFF, 'ca', 'serve', '--dir', ca, '--listen', '127.0.0.1:0', ...extra],
      {
        cwd: repoRoot,
        stdio: ['ignore', 'pipe', 'pipe'],
      },
    );
    children.push(child);
    let stdout = '';
    let stderr = '';
    child.stderr?.on('data', (d) => {
      stderr += d.toString();
    });
    const line = await new Promise<string>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`skiff ca serve printed nothing in 15 s: ${stderr}`)),
        15_000,
      );
      child.stdout?.on('data', (d) => {
        stdout += d.toString();
        const nl = stdout.indexOf('\n');
        if (nl >= 0) {
          clearTimeout(timer);
          resolve(stdout.slice(0, nl));
        }
      });
      child.once('exit', (code) => {
        clearTimeout(timer);
        reject(new Error(`skiff ca serve exited ${code}: ${stderr}`));
      });
    });
    const info = JSON.parse(line) as { listening: string; metrics?: { port: number } };
    assert.match(info.listening, /^127\.0\.0\.1:[1-9]\d*$/);
    return { child, address: info.listening, ...(info.metrics ? { metrics: info.metrics } : {}) };
  }

  async function stop(child: ChildProcess): Promise<number | null> {
    if (child.exitCode !== null) return child.exitCode;
    const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    const code = await exited;
    clearTimeout(timer);
    return code;
  }

  async function certificate(
    address: string,
    token: string,
    uri = 'spiffe://cluster.local/ns/shop/sa/cart',
  ): Promise<string[]> {
    const client = new CaClient({ address, rootCertPem: read(ca, 'root-cert.pem'), timeoutMs: 10_000 });
    try {
      return await client.createCertificate(
        await createCsr(await generateKeyPair('ec-p256'), [uri]),
        token,
        3600,
      );
    } finally {
      client.close();
    }
  }

  it('a token from `skiff ca token` gets a certificate from `skiff ca serve`; a restart keeps the root', async () => {
    const token = skiffOk('ca', 'token', '--dir', ca, '-n', 'shop', '-s', 'cart').out.trim();
    assert.match(token, /^skiff1\.[\w-]+\.[\w-]+$/);
    const first = await serve('--metrics', '127.0.0.1:0');
    let roots: string[] = [];
    try {
      const chain = await certificate(first.address, token);
      assert.equal(chain.length, 2);
      const leaf = new x509.X509Certificate(chain[0] as string);
      assert.deepEqual(subjectAltNames(leaf), [
        { type: 'url', value: 'spiffe://cluster.local/ns/shop/sa/cart' },
      ]);
      // openssl judges the served chain as well.
      const dir = fresh('served');
      mkdirSync(dir);
      writeFileSync(path.join(dir, 'chain.pem'), chain.join('\n'));
      assertVerifies(path.join(ca, 'root-cert.pem'), path.join(dir, 'chain.pem'));
      roots.push(chain[1] as string);

      // Only for its own identity: refused, and counted in the served metrics.
      await assert.rejects(
        certificate(first.address, token, 'spiffe://cluster.local/ns/shop/sa/admin'),
        (e: unknown) => {
          assert.ok(e instanceof CaClientError);
          assert.equal(e.code, 'PERMISSION_DENIED');
          assert.match(e.message, /identity_mismatch/);
          return true;
        },
      );
      assert.ok(first.metrics, 'the metrics address is printed');
      const res = await fetch(`http://127.0.0.1:${first.metrics?.port}/metrics`, {
        signal: AbortSignal.timeout(5000),
      });
      assert.match(await res.text(), /^skiff_ca_csr_refused_total\{reason="identity_mismatch"\} 1$/m);
    } finally {
      assert.equal(await stop(first.child), 0, 'SIGTERM stops the service with exit 0');
    }

    const second = await serve();
    try {
      const chain = await certificate(second.address, token);
      roots = [...roots, chain[1] as string];
    } finally {
      await stop(second.child);
    }
    assert.equal(roots.length, 2);
    assert.equal(roots[0], roots[1], 'the same root after a restart');
  });

  it('`skiff ca token` of another CA is refused by this service (unknown_token)', async () => {
    const foreign = skiffOk(
      'ca',
      'token',
      '--dir',
      initCa('serve-other'),
      '-n',
      'shop',
      '-s',
      'cart',
    ).out.trim();
    const s = await serve();
    try {
      await assert.rejects(certificate(s.address, foreign), (e: unknown) => {
        assert.ok(e instanceof CaClientError);
        assert.equal(e.code, 'UNAUTHENTICATED');
        assert.match(e.message, /unknown_token/);
        return true;
      });
    } finally {
      await stop(s.child);
    }
  });
});
