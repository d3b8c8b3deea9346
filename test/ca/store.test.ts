import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import {
  copyFileSync,
  existsSync,
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
import { after, describe, it } from 'node:test';
import { CA_FILES, CaStoreError, initCa, loadCa } from '../../src/ca/store.js';
import { createCsr, fingerprint, generateKeyPair, parseCertificates, x509 } from '../../src/ca/x509.js';

const base = mkdtempSync(path.join(tmpdir(), 'skiff-ca-store-'));
after(() => rmSync(base, { recursive: true, force: true }));
let counter = 0;
const fresh = (name = 'ca') => path.join(base, `${name}-${++counter}`);
const OPTS = { trustDomain: 'cluster.local', keyType: 'ec-p256' as const };

function snapshot(dir: string): Record<string, { text: string; mtimeMs: number; mode: number }> {
  return Object.fromEntries(
    readdirSync(dir)
      .sort()
      .map((name) => {
        const st = statSync(path.join(dir, name));
        return [
          name,
          { text: readFileSync(path.join(dir, name), 'utf8'), mtimeMs: st.mtimeMs, mode: st.mode & 0o777 },
        ];
      }),
  );
}

async function rootFingerprint(dir: string): Promise<string> {
  const { authority } = await loadCa(dir);
  return fingerprint(authority.material.roots[0] as x509.X509Certificate);
}

function openssl(args: string[], cwd: string): string {
  const r = spawnSync('openssl', args, { cwd, encoding: 'utf8', timeout: 30_000 });
  assert.equal(r.status, 0, `openssl ${args.join(' ')}\n${r.stderr}`);
  return r.stdout;
}

const EXT = `[ca]
basicConstraints = critical, CA:TRUE, pathlen:0
keyUsage = critical, keyCertSign, cRLSign, digitalSignature
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
[notca]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature, keyEncipherment
subjectKeyIdentifier = hash
authorityKeyIdentifier = keyid:always
`;

/**
 * A root and an intermediate made by the openssl CLI, in Istio's cacerts layout (ca-cert.pem, ca-key.pem,
 * root-cert.pem, cert-chain.pem = intermediate then root). `notCa` makes the "intermediate" CA:FALSE.
 */
function opensslCacerts(o: { rsa?: boolean; notCa?: boolean; rootName?: string } = {}): string {
  const dir = fresh('cacerts');
  const work = `${dir}-work`;
  mkdirSync(dir);
  mkdirSync(work);
  writeFileSync(path.join(work, 'ext.cnf'), EXT);
  const newKey = o.rsa ? ['-newkey', 'rsa:2048'] : ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256'];
  openssl(
    [
      'req',
      '-x509',
      ...newKey,
      '-nodes',
      '-keyout',
      'root-key.pem',
      '-out',
      'root-cert.pem',
      '-days',
      '3650',
      '-subj',
      `/O=${o.rootName ?? 'Example Org'}/CN=Root CA`,
      '-addext',
      'basicConstraints=critical,CA:TRUE',
      '-addext',
      'keyUsage=critical,keyCertSign,cRLSign',
    ],
    work,
  );
  openssl(
    [
      'req',
      '-new',
      ...newKey,
      '-nodes',
      '-keyout',
      'ca-key.pem',
      '-out',
      'ca.csr',
      '-subj',
      '/O=Example Org/CN=Intermediate CA',
    ],
    work,
  );
  openssl(
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
      o.notCa ? 'notca' : 'ca',
      '-out',
      'ca-cert.pem',
    ],
    work,
  );
  copyFileSync(path.join(work, 'ca-cert.pem'), path.join(dir, 'ca-cert.pem'));
  copyFileSync(path.join(work, 'ca-key.pem'), path.join(dir, 'ca-key.pem'));
  copyFileSync(path.join(work, 'root-cert.pem'), path.join(dir, 'root-cert.pem'));
  writeFileSync(
    path.join(dir, 'cert-chain.pem'),
    readFileSync(path.join(work, 'ca-cert.pem'), 'utf8') +
      readFileSync(path.join(work, 'root-cert.pem'), 'utf8'),
  );
  return dir;
}

/** A refused init writes no file (it may leave the folder it created, empty). */
function assertNothingWritten(dir: string): void {
  assert.deepEqual(existsSync(dir) ? readdirSync(dir) : [], []);
}

async function refusal(p: Promise<unknown>, message: RegExp): Promise<void> {
  await assert.rejects(p, (e: unknown) => {
    assert.ok(e instanceof CaStoreError, `expected a CaStoreError, got ${String(e)}`);
    assert.equal(e.code, 'SKIFF_CA_STORE');
    assert.match(e.message, message);
    return true;
  });
}

describe('initCa: self-signed root', { timeout: 60_000 }, () => {
  it('on a new folder: every file, keys 0600, a JSON record, a loadable CA', async () => {
    const dir = fresh();
    const result = await initCa(dir, OPTS);
    assert.equal(result.created, true);
    assert.deepEqual(result.notes, ['created a self-signed ec-p256 root']);
    assert.deepEqual(readdirSync(dir).sort(), Object.values(CA_FILES).sort());
    const files = snapshot(dir);
    assert.equal(files[CA_FILES.key]?.mode, 0o600);
    assert.equal(files[CA_FILES.tokenKey]?.mode, 0o600);
    assert.equal(statSync(dir).mode & 0o077, 0, 'the folder is private');
    const record = JSON.parse(files[CA_FILES.record]?.text ?? '');
    assert.equal(record.version, 1);
    assert.equal(record.trustDomain, 'cluster.local');
    assert.equal(record.keyType, 'ec-p256');
    assert.equal(record.mode, 'self-signed');
    assert.equal(record.defaultTtlSeconds, 86400);
    assert.equal(record.maxTtlSeconds, 90 * 86400);
    assert.match(files[CA_FILES.tokenKey]?.text ?? '', /^[0-9a-f]{64}\n$/);
    assert.equal(files[CA_FILES.cert]?.text, files[CA_FILES.roots]?.text);
    const loaded = await loadCa(dir);
    const rootCert = loaded.authority.material.roots[0] as x509.X509Certificate;
    assert.equal(rootCert.subject, 'O=cluster.local');
    assert.equal((await rootCert.publicKey.export()).algorithm.name, 'ECDSA');
    assert.equal(loaded.authority.intermediates().length, 0);
  });

  it('on an existing empty folder', async () => {
    const dir = fresh();
    mkdirSync(dir);
    assert.equal((await initCa(dir, OPTS)).created, true);
  });

  it('hidden files (.keep) do not count as content', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(path.join(dir, '.keep'), '');
    assert.equal((await initCa(dir, OPTS)).created, true);
  });

  it('--key-type rsa2048 and another trust domain', async () => {
    const dir = fresh();
    const result = await initCa(dir, { trustDomain: 'example.org', keyType: 'rsa2048' });
    assert.equal(result.record.keyType, 'rsa2048');
    const loaded = await loadCa(dir);
    assert.equal(loaded.record.trustDomain, 'example.org');
    const root = loaded.authority.material.roots[0] as x509.X509Certificate;
    assert.equal(root.subject, 'O=example.org');
    assert.equal(root.signatureAlgorithm.name, 'RSASSA-PKCS1-v1_5');
  });

  it('a second init changes nothing: same files, contents and mtimes; same root', async () => {
    const dir = fresh();
    await initCa(dir, OPTS);
    const before = snapshot(dir);
    const fp = await rootFingerprint(dir);
    await new Promise((r) => setTimeout(r, 20));
    const again = await initCa(dir, { trustDomain: 'other.td', keyType: 'rsa2048' });
    assert.equal(again.created, false);
    assert.equal(again.record.trustDomain, 'cluster.local');
    assert.deepEqual(again.notes, [
      'a CA already exists here: nothing changed',
      'it keeps its trust domain cluster.local (asked: other.td)',
      'it keeps its key type ec-p256 (asked: rsa2048)',
    ]);
    assert.deepEqual(snapshot(dir), before);
    assert.equal(await rootFingerprint(dir), fp);
  });

  it('a restart (loading again) keeps the same root, signer and token key', async () => {
    const dir = fresh();
    await initCa(dir, OPTS);
    const a = await loadCa(dir);
    const b = await loadCa(dir);
    assert.equal(
      await fingerprint(a.authority.material.roots[0] as x509.X509Certificate),
      await fingerprint(b.authority.material.roots[0] as x509.X509Certificate),
    );
    assert.equal(
      a.authority.material.signer.certificate.toString('pem'),
      b.authority.material.signer.certificate.toString('pem'),
    );
    assert.deepEqual(a.tokenKey, b.tokenKey);
  });

  it('two inits in two folders make two different roots', async () => {
    const a = fresh();
    const b = fresh();
    await initCa(a, OPTS);
    await initCa(b, OPTS);
    assert.notEqual(await rootFingerprint(a), await rootFingerprint(b));
  });
});

describe('initCa: refusals, never replacing anything', { timeout: 60_000 }, () => {
  it('a folder with unrelated files', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'notes.txt'), 'mine');
    await refusal(
      initCa(dir, OPTS),
      /is not empty and holds no CA \(notes\.txt\): give an empty or new folder/,
    );
    assert.deepEqual(readdirSync(dir), ['notes.txt']);
  });

  it('a folder of workload certificates is no CA, not a partial one', async () => {
    const dir = fresh('certs');
    mkdirSync(dir);
    for (const f of ['key.pem', 'cert-chain.pem', 'root-cert.pem']) writeFileSync(path.join(dir, f), 'x');
    await refusal(
      initCa(dir, OPTS),
      /certs-\d+ is not empty and holds no CA \(cert-chain\.pem, key\.pem, root-cert\.pem: workload certificates, as `skiff ca issue --out` writes them\): give an empty or new folder$/,
    );
  });

  it('a file, not a folder', async () => {
    const file = fresh();
    writeFileSync(file, 'x');
    await refusal(initCa(file, OPTS), /is a file, not a folder/);
  });

  it('a partial CA: ca.json deleted', async () => {
    const dir = fresh();
    await initCa(dir, OPTS);
    rmSync(path.join(dir, CA_FILES.record));
    const before = snapshot(dir);
    await refusal(
      initCa(dir, OPTS),
      /holds a partial CA \(.*ca-key\.pem.*\) without ca\.json: an init was interrupted/,
    );
    assert.deepEqual(snapshot(dir), before);
  });

  it('a partial CA: only a leftover *.tmp', async () => {
    const dir = fresh();
    mkdirSync(dir);
    writeFileSync(path.join(dir, 'ca-key.pem.tmp'), 'half');
    await refusal(initCa(dir, OPTS), /holds a partial CA \(ca-key\.pem\.tmp\)/);
    assert.deepEqual(readdirSync(dir), ['ca-key.pem.tmp']);
  });

  it('a corrupted CA (ca.json present) is refused by init, not replaced', async () => {
    const dir = fresh();
    await initCa(dir, OPTS);
    writeFileSync(path.join(dir, CA_FILES.record), '{"version": 1, "trustDo');
    const before = snapshot(dir);
    await refusal(initCa(dir, OPTS), /ca\.json: not valid JSON/);
    assert.deepEqual(snapshot(dir), before);
  });
});

describe('loadCa: a corrupted folder is refused, naming the file', { timeout: 60_000 }, () => {
  /** [name, how to corrupt the folder, the message] */
  const CASES: [string, (dir: string) => Promise<void> | void, RegExp][] = [
    [
      'missing folder',
      (dir) => rmSync(dir, { recursive: true }),
      /ca-\d+: no CA here \(no such folder\): create one with `skiff ca init --dir \S+ca-\d+`$/,
    ],
    [
      'empty folder',
      (dir) => {
        rmSync(dir, { recursive: true });
        mkdirSync(dir);
      },
      /ca-\d+: no CA here \(an empty folder\): create one with `skiff ca init --dir \S+`$/,
    ],
    [
      'a folder of workload certificates',
      (dir) => {
        rmSync(dir, { recursive: true });
        mkdirSync(dir);
        for (const f of ['key.pem', 'cert-chain.pem', 'root-cert.pem']) writeFileSync(path.join(dir, f), 'x');
      },
      /no CA here \(cert-chain\.pem, key\.pem, root-cert\.pem: workload certificates, as `skiff ca issue --out` writes them; a CA folder has ca\.json\)/,
    ],
    [
      'ca.json missing (an interrupted init)',
      (dir) => rmSync(path.join(dir, CA_FILES.record)),
      /holds a partial CA \(.*\) without ca\.json: an init was interrupted; move the folder away and run `skiff ca init --dir \S+` again/,
    ],
    [
      'ca.json truncated',
      (dir) => writeFileSync(path.join(dir, CA_FILES.record), '{"version": 1,'),
      /ca\.json: not valid JSON .*: the CA folder is corrupted/,
    ],
    [
      'ca.json with a bad field',
      (dir) => {
        const file = path.join(dir, CA_FILES.record);
        writeFileSync(file, readFileSync(file, 'utf8').replace('"ec-p256"', '"dsa"'));
      },
      /ca\.json: missing or invalid fields/,
    ],
    [
      'ca.json an array',
      (dir) => writeFileSync(path.join(dir, CA_FILES.record), '[]'),
      /ca\.json: missing or invalid fields/,
    ],
    [
      'ca-key.pem missing',
      (dir) => rmSync(path.join(dir, CA_FILES.key)),
      /ca-key\.pem: missing: the CA folder is incomplete/,
    ],
    [
      'ca-key.pem garbage',
      (dir) => writeFileSync(path.join(dir, CA_FILES.key), 'garbage\n'),
      /ca-key\.pem: .*: the CA folder is corrupted/,
    ],
    [
      'ca-key.pem of another CA',
      async (dir) => {
        const other = fresh();
        await initCa(other, OPTS);
        copyFileSync(path.join(other, CA_FILES.key), path.join(dir, CA_FILES.key));
      },
      /ca-key\.pem: the key does not belong to ca-cert\.pem: the CA folder is corrupted/,
    ],
    [
      'ca-cert.pem garbage PEM',
      (dir) =>
        writeFileSync(
          path.join(dir, CA_FILES.cert),
          '-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n',
        ),
      /ca-cert\.pem: not a PEM certificate/,
    ],
    [
      'ca-cert.pem empty',
      (dir) => writeFileSync(path.join(dir, CA_FILES.cert), ''),
      /ca-cert\.pem: no PEM certificate in it/,
    ],
    [
      'ca-cert.pem with two certificates',
      (dir) => {
        const file = path.join(dir, CA_FILES.cert);
        writeFileSync(file, readFileSync(file, 'utf8').repeat(2));
      },
      /ca-cert\.pem: expected exactly one certificate/,
    ],
    [
      'root-cert.pem empty',
      (dir) => writeFileSync(path.join(dir, CA_FILES.roots), ''),
      /root-cert\.pem: no PEM certificate in it/,
    ],
    [
      'root-cert.pem of another CA',
      async (dir) => {
        const other = fresh();
        await initCa(other, OPTS);
        copyFileSync(path.join(other, CA_FILES.roots), path.join(dir, CA_FILES.roots));
      },
      /does not verify with any root named/,
    ],
    [
      'token-key short',
      (dir) => writeFileSync(path.join(dir, CA_FILES.tokenKey), 'abcd\n'),
      /token-key: not a 32-byte hex key/,
    ],
    ['token-key missing', (dir) => rmSync(path.join(dir, CA_FILES.tokenKey)), /token-key: missing/],
  ];
  for (const [name, corrupt, message] of CASES) {
    it(name, async () => {
      const dir = fresh();
      await initCa(dir, OPTS);
      await corrupt(dir);
      await refusal(loadCa(dir), message);
    });
  }
});

describe('initCa --from-cacerts (an intermediate made by openssl)', { timeout: 60_000 }, () => {
  for (const rsa of [false, true]) {
    it(`plugs in an ${rsa ? 'RSA 2048' : 'EC P-256'} intermediate and signs with it`, async () => {
      const src = opensslCacerts({ rsa });
      const dir = fresh();
      const result = await initCa(dir, { ...OPTS, fromCacerts: src });
      assert.equal(result.created, true);
      assert.equal(result.record.mode, 'plugged-in');
      assert.equal(result.record.keyType, rsa ? 'rsa2048' : 'ec-p256');
      assert.deepEqual(result.notes, [`plugged in the intermediate from ${src}`]);
      assert.equal(statSync(path.join(dir, CA_FILES.key)).mode & 0o777, 0o600);
      assert.equal(statSync(path.join(dir, CA_FILES.tokenKey)).mode & 0o777, 0o600);
      const loaded = await loadCa(dir);
      const m = loaded.authority.material;
      assert.equal(m.signer.certificate.subject, 'O=Example Org, CN=Intermediate CA');
      assert.deepEqual(
        m.roots.map((r) => r.subject),
        ['O=Example Org, CN=Root CA'],
      );
      assert.deepEqual(
        loaded.authority.intermediates().map((c) => c.subject),
        ['O=Example Org, CN=Intermediate CA'],
      );
      // The chain file holds the intermediate only; the root stays in root-cert.pem.
      assert.deepEqual(
        parseCertificates(readFileSync(path.join(dir, CA_FILES.chain), 'utf8')).map((c) => c.subject),
        ['O=Example Org, CN=Intermediate CA'],
      );
      assert.equal(
        readFileSync(path.join(dir, CA_FILES.roots), 'utf8').replace(/\s/g, ''),
        readFileSync(path.join(src, 'root-cert.pem'), 'utf8').replace(/\s/g, ''),
      );

      const id = { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'cart' };
      const keys = await generateKeyPair('ec-p256');
      const signed = await loaded.authority.signCsr(
        await createCsr(keys, ['spiffe://cluster.local/ns/shop/sa/cart']),
        id,
      );
      assert.equal(signed.ok, true);
      if (!signed.ok) return;
      const chain = signed.certChain.map((p) => new x509.X509Certificate(p));
      assert.deepEqual(
        chain.map((c) => c.subject),
        ['', 'O=Example Org, CN=Intermediate CA', 'O=Example Org, CN=Root CA'],
      );
      assert.equal(await chain[0]?.verify({ publicKey: chain[1]?.publicKey, signatureOnly: true }), true);

      // A second init with the same source changes nothing.
      const before = snapshot(dir);
      assert.equal((await initCa(dir, { ...OPTS, fromCacerts: src })).created, false);
      assert.deepEqual(snapshot(dir), before);
    });
  }

  it('a SEC1 ("EC PRIVATE KEY") ca-key.pem is accepted', async () => {
    const src = opensslCacerts();
    const sec1 = openssl(['ec', '-in', 'ca-key.pem'], src);
    assert.match(sec1, /BEGIN EC PRIVATE KEY/);
    writeFileSync(path.join(src, 'ca-key.pem'), sec1);
    const dir = fresh();
    assert.equal((await initCa(dir, { ...OPTS, fromCacerts: src })).record.keyType, 'ec-p256');
    await loadCa(dir);
  });

  it('refused: the key does not match ca-cert.pem', async () => {
    const src = opensslCacerts();
    const other = opensslCacerts();
    copyFileSync(path.join(other, 'ca-key.pem'), path.join(src, 'ca-key.pem'));
    const dir = fresh();
    await refusal(
      initCa(dir, { ...OPTS, fromCacerts: src }),
      /ca-key\.pem: the key does not match ca-cert\.pem/,
    );
    assertNothingWritten(dir);
  });

  it('refused: the chain does not verify to root-cert.pem (another root with the same name)', async () => {
    const src = opensslCacerts();
    const other = opensslCacerts();
    copyFileSync(path.join(other, 'root-cert.pem'), path.join(src, 'root-cert.pem'));
    const dir = fresh();
    await refusal(
      initCa(dir, { ...OPTS, fromCacerts: src }),
      /the chain does not verify to root-cert\.pem: the signature of .* does not verify/,
    );
    assertNothingWritten(dir);
  });

  it('refused: the chain does not verify to root-cert.pem (a root with another name)', async () => {
    const src = opensslCacerts();
    const other = opensslCacerts({ rootName: 'Somebody Else' });
    copyFileSync(path.join(other, 'root-cert.pem'), path.join(src, 'root-cert.pem'));
    await refusal(
      initCa(fresh(), { ...OPTS, fromCacerts: src }),
      /the chain does not verify to root-cert\.pem: no root in the bundle issued/,
    );
  });

  it('refused: ca-cert.pem is not a CA', async () => {
    const src = opensslCacerts({ notCa: true });
    const dir = fresh();
    await refusal(initCa(dir, { ...OPTS, fromCacerts: src }), /ca-cert\.pem: not a CA certificate/);
    assertNothingWritten(dir);
  });

  it('refused: a file of the layout is missing', async () => {
    const src = opensslCacerts();
    rmSync(path.join(src, 'cert-chain.pem'));
    await refusal(
      initCa(fresh(), { ...OPTS, fromCacerts: src }),
      /cert-chain\.pem: missing: a cacerts folder holds/,
    );
  });

  it('refused: root-cert.pem is not self-signed', async () => {
    const src = opensslCacerts();
    copyFileSync(path.join(src, 'ca-cert.pem'), path.join(src, 'root-cert.pem'));
    await refusal(
      initCa(fresh(), { ...OPTS, fromCacerts: src }),
      /root-cert\.pem: .* is not a self-signed root/,
    );
  });
});
