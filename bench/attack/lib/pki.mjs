// Certificates for the attack harness, in a temp folder: the mesh CA and workload certificates come from the
// project's own CLI (`skiff ca init` / `skiff ca issue`, docs/identity.md); the hostile clients' certificates
// from openssl: a leaf of another CA, and leaves of the mesh CA that are expired, not yet valid, name another
// trust domain, or carry serverAuth only as extended key usage.

import { execFile } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';

const run = promisify(execFile);
export const repoRoot = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');
export const SKIFF = path.join(repoRoot, 'bin', 'skiff.js');

export const TD = 'cluster.local';
export const SERVER_ID = `spiffe://${TD}/ns/bookinfo/sa/bookinfo-ratings`;
export const CLIENT_ID = `spiffe://${TD}/ns/bookinfo/sa/productpage`;

async function skiff(...args) {
  try {
    await run(process.execPath, [SKIFF, ...args], { cwd: repoRoot, timeout: 60_000 });
  } catch (e) {
    throw new Error(`skiff ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

async function openssl(args, cwd) {
  try {
    await run('openssl', args, { cwd, timeout: 30_000 });
  } catch (e) {
    throw new Error(`openssl ${args.join(' ')} failed: ${e.stderr || e.message}`);
  }
}

/** `openssl ca` config: any subject, the extensions sections the bad leaves use. */
function caConfig(dir) {
  return `[ca]
default_ca = ca_default
[ca_default]
dir = ${dir}
database = ${dir}/index.txt
new_certs_dir = ${dir}/issued
serial = ${dir}/serial
default_md = sha256
policy = policy_any
unique_subject = no
copy_extensions = none
email_in_dn = no
[policy_any]
commonName = optional
organizationName = optional
[leaf]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = critical,URI:${CLIENT_ID}
[wrong_san]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth,clientAuth
subjectAltName = critical,URI:spiffe://evil.example/ns/bookinfo/sa/productpage
[server_eku]
basicConstraints = critical,CA:FALSE
keyUsage = critical,digitalSignature,keyEncipherment
extendedKeyUsage = serverAuth
subjectAltName = critical,URI:${CLIENT_ID}
`;
}

/** openssl's UTC time format for -startdate/-enddate, `days` from now (negative: in the past). */
function when(days) {
  const d = new Date(Date.now() + days * 86_400_000);
  return `${d.toISOString().replace(/[-:T]/g, '').slice(0, 14)}Z`;
}

/**
 * Makes every identity in `dir`. Returns file paths: `server` and `client` folders (cert-chain.pem, key.pem,
 * root-cert.pem) from the mesh CA, and PEM pairs for each refused kind.
 */
export async function makePki(dir) {
  await skiff('ca', 'init', '--dir', `${dir}/ca`);
  const issue = (sa, out) =>
    skiff(
      'ca',
      'issue',
      '--dir',
      `${dir}/ca`,
      '--namespace',
      'bookinfo',
      '--service-account',
      sa,
      '--out',
      out,
    );
  const bad = `${dir}/bad`;
  mkdirSync(`${bad}/issued`, { recursive: true });
  writeFileSync(`${bad}/index.txt`, '');
  writeFileSync(`${bad}/serial`, '1000\n');
  writeFileSync(`${bad}/ca.cnf`, caConfig(bad));
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  // Another CA: a self-signed root of the same trust domain's name that the proxy does not trust.
  const otherCa = openssl(
    [
      'req',
      '-x509',
      ...ec,
      '-days',
      '3',
      '-subj',
      `/O=${TD}`,
      '-keyout',
      'other-ca-key.pem',
      '-out',
      'other-ca.pem',
    ],
    bad,
  );
  const csr = openssl(
    ['req', '-new', ...ec, '-subj', '/CN=attacker', '-keyout', 'key.pem', '-out', 'leaf.csr'],
    bad,
  );
  await Promise.all([
    issue('bookinfo-ratings', `${dir}/server`),
    issue('productpage', `${dir}/client`),
    otherCa,
    csr,
  ]);
  const sign = async (name, { ca, caKey, ext, start, end }) => {
    await openssl(
      [
        'ca',
        '-batch',
        '-notext',
        '-config',
        'ca.cnf',
        '-cert',
        ca,
        '-keyfile',
        caKey,
        '-extensions',
        ext,
        '-startdate',
        start,
        '-enddate',
        end,
        '-in',
        'leaf.csr',
        '-out',
        `${name}.pem`,
      ],
      bad,
    );
    return { cert: `${bad}/${name}.pem`, key: `${bad}/key.pem` };
  };
  const mesh = { ca: `${dir}/ca/ca-cert.pem`, caKey: `${dir}/ca/ca-key.pem` };
  // openssl ca writes its database: one signature at a time.
  const kinds = {};
  kinds['other CA'] = await sign('other-ca-leaf', {
    ca: `${bad}/other-ca.pem`,
    caKey: `${bad}/other-ca-key.pem`,
    ext: 'leaf',
    start: when(-1),
    end: when(1),
  });
  kinds.expired = await sign('expired', { ...mesh, ext: 'leaf', start: when(-3), end: when(-1) });
  kinds['not yet valid'] = await sign('not-yet-valid', {
    ...mesh,
    ext: 'leaf',
    start: when(1),
    end: when(3),
  });
  kinds['wrong SAN'] = await sign('wrong-san', { ...mesh, ext: 'wrong_san', start: when(-1), end: when(1) });
  kinds['wrong EKU'] = await sign('server-eku', {
    ...mesh,
    ext: 'server_eku',
    start: when(-1),
    end: when(1),
  });
  // The control: a leaf of the mesh CA signed the same way, which the proxy must accept (proves the bad ones
  // are refused for their one defect, not for how openssl made them).
  kinds.control = await sign('control', { ...mesh, ext: 'leaf', start: when(-1), end: when(1) });
  return { server: `${dir}/server`, client: `${dir}/client`, kinds };
}

/** Reads a PEM pair for a TLS client. */
export function pemPair({ cert, key }) {
  return { cert: readFileSync(cert), key: readFileSync(key) };
}
