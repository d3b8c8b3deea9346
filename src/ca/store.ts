// The CA folder: a self-signed root or an Istio `cacerts` intermediate, with a small JSON record. Files are
// written to temporary names and renamed, ca.json last, so an interrupted init is recognised and refused.

import { randomBytes } from 'node:crypto';
import { chmod, mkdir, readdir, readFile, rename, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { CertificateAuthority } from './authority.js';
import { chainProblem, isCa, isSelfSigned, issuingRoot, keyMatchesCertificate } from './chain.js';
import { DEFAULT_CERT_TTL_SECONDS, DEFAULT_MAX_CERT_TTL_SECONDS } from './issuance.js';
import {
  createRootCertificate,
  generateKeyPair,
  importPrivateKeyPem,
  KEY_TYPES,
  type KeyType,
  keyTypeOf,
  parseCertificates,
  privateKeyToPem,
  toPem,
  type x509,
} from './x509.js';

export const CA_FILES = {
  record: 'ca.json',
  roots: 'root-cert.pem',
  cert: 'ca-cert.pem',
  key: 'ca-key.pem',
  chain: 'cert-chain.pem',
  tokenKey: 'token-key',
} as const;

/** The JSON record of a CA folder. */
export interface CaRecord {
  version: 1;
  trustDomain: string;
  keyType: KeyType;
  mode: 'self-signed' | 'plugged-in';
  createdAt: string;
  defaultTtlSeconds: number;
  maxTtlSeconds: number;
}

/** A CA folder that cannot be used: missing, partial, corrupted, or a bad plug-in source. */
export class CaStoreError extends Error {
  override name = 'CaStoreError';
  readonly code = 'SKIFF_CA_STORE';
}

export interface InitOptions {
  trustDomain: string;
  keyType: KeyType;
  /** A folder in Istio's cacerts layout to plug in as the signing intermediate. */
  fromCacerts?: string;
  /** The longest lifetime a workload certificate may get (default 90 days); longer requests are cut to it. */
  maxTtlSeconds?: number;
  now?: Date;
}

export interface InitResult {
  created: boolean;
  record: CaRecord;
  notes: string[];
}

const ROOT_LIFETIME_SECONDS = 10 * 365 * 24 * 3600;

/**
 * Creates a CA in `dir` (empty or absent). A folder that already holds a CA is left as it is; a folder with
 * anything else in it, or with a partial CA, is refused.
 */
export async function initCa(dir: string, o: InitOptions): Promise<InitResult> {
  const entries = await listDir(dir);
  if (entries.includes(CA_FILES.record)) {
    const ca = await loadCa(dir);
    const record = ca.record;
    const notes = ['a CA already exists here: nothing changed'];
    if (record.trustDomain !== o.trustDomain)
      notes.push(`it keeps its trust domain ${record.trustDomain} (asked: ${o.trustDomain})`);
    if (!o.fromCacerts && record.keyType !== o.keyType)
      notes.push(`it keeps its key type ${record.keyType} (asked: ${o.keyType})`);
    return { created: false, record, notes };
  }
  if (entries.length > 0) {
    throw new CaStoreError(
      isPartialCa(entries)
        ? `${dir} holds a partial CA (${entries.join(', ')}) without ${CA_FILES.record}: an init was interrupted; move the folder away and run init again`
        : `${dir} is not empty and holds no CA (${listed(entries)}): give an empty or new folder`,
    );
  }
  const now = o.now ?? new Date();
  const files = o.fromCacerts
    ? await pluggedInFiles(o.fromCacerts, now)
    : await selfSignedFiles(o.trustDomain, o.keyType, now);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const record: CaRecord = {
    version: 1,
    trustDomain: o.trustDomain,
    keyType: files.keyType,
    mode: o.fromCacerts ? 'plugged-in' : 'self-signed',
    createdAt: now.toISOString(),
    defaultTtlSeconds: Math.min(DEFAULT_CERT_TTL_SECONDS, o.maxTtlSeconds ?? DEFAULT_MAX_CERT_TTL_SECONDS),
    maxTtlSeconds: o.maxTtlSeconds ?? DEFAULT_MAX_CERT_TTL_SECONDS,
  };
  await writeAtomically(dir, CA_FILES.key, files.keyPem, 0o600);
  await writeAtomically(dir, CA_FILES.tokenKey, `${randomBytes(32).toString('hex')}\n`, 0o600);
  await writeAtomically(dir, CA_FILES.cert, files.certPem, 0o644);
  await writeAtomically(dir, CA_FILES.chain, files.chainPem, 0o644);
  await writeAtomically(dir, CA_FILES.roots, files.rootsPem, 0o644);
  await writeAtomically(dir, CA_FILES.record, `${JSON.stringify(record, null, 2)}\n`, 0o644);
  const notes = [
    o.fromCacerts
      ? `plugged in the intermediate from ${o.fromCacerts}`
      : `created a self-signed ${files.keyType} root`,
  ];
  return { created: true, record, notes };
}

export interface LoadedCa {
  record: CaRecord;
  authority: CertificateAuthority;
  tokenKey: Buffer;
}

/** Reads and checks a CA folder; any inconsistency is a CaStoreError naming the file and the problem. */
export async function loadCa(dir: string): Promise<LoadedCa> {
  const entries = await listDir(dir);
  if (!entries.includes(CA_FILES.record)) {
    const init = `\`skiff ca init --dir ${dir}\``;
    throw new CaStoreError(
      entries.length === 0
        ? `${dir}: no CA here (${(await exists(dir)) ? 'an empty folder' : 'no such folder'}): create one with ${init}`
        : isPartialCa(entries)
          ? `${dir} holds a partial CA (${entries.join(', ')}) without ${CA_FILES.record}: an init was interrupted; move the folder away and run ${init} again`
          : `${dir}: no CA here (${listed(entries)}; a CA folder has ${CA_FILES.record}): give the folder \`skiff ca init --dir\` made, or create one in a new folder`,
    );
  }
  const read = async (name: string) => {
    try {
      return await readFile(path.join(dir, name), 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new CaStoreError(
        `${path.join(dir, name)}: ${code === 'ENOENT' ? 'missing' : (e as Error).message}: the CA folder is incomplete`,
      );
    }
  };
  const record = parseRecord(await read(CA_FILES.record), path.join(dir, CA_FILES.record));
  const keyPem = await read(CA_FILES.key);
  const cert = onlyCertificate(await read(CA_FILES.cert), path.join(dir, CA_FILES.cert));
  const chain = certificates(await read(CA_FILES.chain), path.join(dir, CA_FILES.chain), true);
  const roots = certificates(await read(CA_FILES.roots), path.join(dir, CA_FILES.roots), false);
  const tokenKeyHex = (await read(CA_FILES.tokenKey)).trim();
  if (!/^[0-9a-f]{64}$/.test(tokenKeyHex))
    throw new CaStoreError(
      `${path.join(dir, CA_FILES.tokenKey)}: not a 32-byte hex key: the CA folder is corrupted`,
    );
  let privateKey: CryptoKey;
  try {
    if (!keyMatchesCertificate(keyPem, cert)) throw new Error('the key does not belong to ca-cert.pem');
    privateKey = await importPrivateKeyPem(keyPem);
  } catch (e) {
    throw new CaStoreError(
      `${path.join(dir, CA_FILES.key)}: ${(e as Error).message}: the CA folder is corrupted`,
    );
  }
  const signerChain =
    record.mode === 'self-signed'
      ? [cert]
      : [cert, ...chain.filter((c) => c.toString('pem') !== cert.toString('pem'))];
  const problem = await chainProblem(signerChain, roots);
  if (problem) throw new CaStoreError(`${dir}: ${problem}`);
  const root = await issuingRoot(signerChain[signerChain.length - 1] ?? cert, roots);
  if (typeof root === 'string') throw new CaStoreError(`${dir}: ${root}`);
  const authority = new CertificateAuthority({
    trustDomain: record.trustDomain,
    root,
    signer: { certificate: cert, privateKey },
    chain: record.mode === 'self-signed' ? [] : signerChain,
    roots,
    defaultTtlSeconds: record.defaultTtlSeconds,
    maxTtlSeconds: record.maxTtlSeconds,
  });
  return { record, authority, tokenKey: Buffer.from(tokenKeyHex, 'hex') };
}

interface CaFiles {
  keyType: KeyType;
  keyPem: string;
  certPem: string;
  chainPem: string;
  rootsPem: string;
}

async function selfSignedFiles(trustDomain: string, keyType: KeyType, now: Date): Promise<CaFiles> {
  const keys = await generateKeyPair(keyType);
  const root = await createRootCertificate({
    trustDomain,
    keys,
    notBefore: new Date(now.getTime() - 5 * 60 * 1000),
    notAfter: new Date(now.getTime() + ROOT_LIFETIME_SECONDS * 1000),
  });
  const pem = toPem([root]);
  return {
    keyType,
    keyPem: await privateKeyToPem(keys.privateKey),
    certPem: pem,
    chainPem: '',
    rootsPem: pem,
  };
}

/** Istio's cacerts: ca-cert.pem, ca-key.pem, root-cert.pem, cert-chain.pem; checked before anything is written. */
async function pluggedInFiles(src: string, now: Date): Promise<CaFiles> {
  const read = async (name: string) => {
    try {
      return await readFile(path.join(src, name), 'utf8');
    } catch (e) {
      const code = (e as NodeJS.ErrnoException).code;
      throw new CaStoreError(
        `${path.join(src, name)}: ${code === 'ENOENT' ? 'missing' : (e as Error).message}: a cacerts folder holds ca-cert.pem, ca-key.pem, root-cert.pem and cert-chain.pem`,
      );
    }
  };
  const keyPem = await read('ca-key.pem');
  const cert = onlyCertificate(await read('ca-cert.pem'), path.join(src, 'ca-cert.pem'));
  const chain = certificates(await read('cert-chain.pem'), path.join(src, 'cert-chain.pem'), false);
  const roots = certificates(await read('root-cert.pem'), path.join(src, 'root-cert.pem'), false);
  let key: CryptoKey;
  try {
    key = await importPrivateKeyPem(keyPem);
  } catch (e) {
    throw new CaStoreError(`${path.join(src, 'ca-key.pem')}: ${(e as Error).message}`);
  }
  if (!keyMatchesCertificate(keyPem, cert)) {
    throw new CaStoreError(
      `${path.join(src, 'ca-key.pem')}: the key does not match ca-cert.pem (different public keys)`,
    );
  }
  if (!isCa(cert))
    throw new CaStoreError(
      `${path.join(src, 'ca-cert.pem')}: not a CA certificate (basicConstraints CA:TRUE is required)`,
    );
  for (const root of roots) {
    if (!isSelfSigned(root))
      throw new CaStoreError(
        `${path.join(src, 'root-cert.pem')}: "${root.subject}" is not a self-signed root`,
      );
  }
  const samePem = (a: x509.X509Certificate, b: x509.X509Certificate) =>
    a.toString('pem') === b.toString('pem');
  const intermediates = chain.filter((c) => !samePem(c, cert) && !roots.some((r) => samePem(r, c)));
  const problem = await chainProblem([cert, ...intermediates], roots, now);
  if (problem) throw new CaStoreError(`${src}: the chain does not verify to root-cert.pem: ${problem}`);
  const keyType = keyTypeOf(key);
  if (!keyType || !KEY_TYPES.includes(keyType))
    throw new CaStoreError(
      `${path.join(src, 'ca-key.pem')}: unsupported key: expected EC P-256 or RSA 2048/4096`,
    );
  return {
    keyType,
    keyPem: await privateKeyToPem(key),
    certPem: toPem([cert]),
    chainPem: toPem([cert, ...intermediates]),
    rootsPem: toPem(roots),
  };
}

function parseRecord(text: string, file: string): CaRecord {
  let r: Partial<CaRecord>;
  try {
    r = JSON.parse(text) as Partial<CaRecord>;
  } catch (e) {
    throw new CaStoreError(`${file}: not valid JSON (${(e as Error).message}): the CA folder is corrupted`);
  }
  const ok =
    r.version === 1 &&
    typeof r.trustDomain === 'string' &&
    KEY_TYPES.includes(r.keyType as KeyType) &&
    (r.mode === 'self-signed' || r.mode === 'plugged-in') &&
    Number.isInteger(r.defaultTtlSeconds) &&
    Number.isInteger(r.maxTtlSeconds);
  if (!ok)
    throw new CaStoreError(
      `${file}: missing or invalid fields (version, trustDomain, keyType, mode, defaultTtlSeconds, maxTtlSeconds): the CA folder is corrupted`,
    );
  return r as CaRecord;
}

function certificates(pem: string, file: string, allowEmpty: boolean): x509.X509Certificate[] {
  let certs: x509.X509Certificate[];
  try {
    certs = parseCertificates(pem);
  } catch (e) {
    throw new CaStoreError(`${file}: not a PEM certificate (${(e as Error).message})`);
  }
  if (certs.length === 0 && !allowEmpty) throw new CaStoreError(`${file}: no PEM certificate in it`);
  return certs;
}

function onlyCertificate(pem: string, file: string): x509.X509Certificate {
  const [first, second] = certificates(pem, file, false);
  if (!first || second) throw new CaStoreError(`${file}: expected exactly one certificate`);
  return first;
}

/**
 * Only the files of a CA folder (or their temporary names), the key among them: what an init interrupted before
 * ca.json leaves, since the key is written first. A folder of workload certificates (key.pem, cert-chain.pem,
 * root-cert.pem, as `skiff ca issue --out` writes them) is not one.
 */
function isPartialCa(entries: string[]): boolean {
  const names: string[] = Object.values(CA_FILES);
  const caFile = (e: string) => names.includes(e.endsWith('.tmp') ? e.slice(0, -4) : e);
  return entries.every(caFile) && entries.some((e) => e === CA_FILES.key || e === `${CA_FILES.key}.tmp`);
}

/** The first few names of a folder, and the description of a workload certificate folder. */
function listed(entries: string[]): string {
  const names = `${entries.slice(0, 5).join(', ')}${entries.length > 5 ? ', ...' : ''}`;
  const workload = ['key.pem', 'cert-chain.pem', 'root-cert.pem'].every((f) => entries.includes(f));
  return workload ? `${names}: workload certificates, as \`skiff ca issue --out\` writes them` : names;
}

async function exists(dir: string): Promise<boolean> {
  return stat(dir).then(
    () => true,
    () => false,
  );
}

async function listDir(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir)).filter((e) => !e.startsWith('.'));
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return [];
    if ((e as NodeJS.ErrnoException).code === 'ENOTDIR')
      throw new CaStoreError(`${dir} is a file, not a folder`);
    throw e;
  }
}

async function writeAtomically(dir: string, name: string, text: string, mode: number): Promise<void> {
  const target = path.join(dir, name);
  const temporary = `${target}.tmp`;
  await writeFile(temporary, text, { mode });
  await chmod(temporary, mode);
  await rename(temporary, target);
}
