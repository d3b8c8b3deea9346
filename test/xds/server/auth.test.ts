// Who may use the secure xDS port: the identity of a verified client certificate or a bootstrap token, and
// Istio's checkConnectionIdentity with the registry check (pure, no sockets).

import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import type { PeerCertificate } from 'node:tls';
import * as grpc from '@grpc/grpc-js';
import type { CallPeer } from '../../../src/ca/service.js';
import type { LoadedCa } from '../../../src/ca/store.js';
import { createToken } from '../../../src/ca/token.js';
import { parseProxyNode } from '../../../src/xds/generate/proxy.js';
import {
  authenticate,
  certificateIdentity,
  checkConnectionIdentity,
  meshAuthenticator,
} from '../../../src/xds/server/auth.js';
import { makeCa } from '../../proxy/pki.js';
import { modelFrom, sidecarNode } from '../generate/fixtures.js';

const YAML = `apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: reviews-0, namespace: shop}
spec:
  address: 127.0.1.2
  serviceAccount: reviews
  labels: {app: reviews}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: ratings-0, namespace: shop}
spec:
  address: 127.0.1.3
  serviceAccount: ratings
  labels: {app: ratings}
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: shared-a, namespace: shop}
spec:
  address: 127.0.1.4
  serviceAccount: alpha
---
apiVersion: networking.istio.io/v1
kind: WorkloadEntry
metadata: {name: shared-b, namespace: shop}
spec:
  address: 127.0.1.4
  serviceAccount: beta
`;

const reviews = { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'reviews' };

function peer(subjectaltname: string | undefined): CallPeer {
  return {
    getPeer: () => '127.0.0.1:40000',
    getAuthContext: () =>
      subjectaltname === undefined
        ? {}
        : { transportSecurityType: 'ssl', sslPeerCertificate: { subjectaltname } as PeerCertificate },
  };
}

function bearer(token: string): grpc.Metadata {
  const m = new grpc.Metadata();
  m.set('authorization', `Bearer ${token}`);
  return m;
}

describe('checkConnectionIdentity', () => {
  const model = modelFrom(YAML);

  it('accepts a node whose namespace, service account and WorkloadEntry are the identity’s', () => {
    const node = sidecarNode('127.0.1.2', 'reviews-0', { namespace: 'shop', serviceAccount: 'reviews' });
    assert.equal(checkConnectionIdentity(node, reviews, model), undefined);
  });

  it('does not compare the trust domain (Istio’s rule)', () => {
    const node = sidecarNode('127.0.1.2', 'reviews-0', { namespace: 'shop', serviceAccount: 'reviews' });
    assert.equal(checkConnectionIdentity(node, { ...reviews, trustDomain: 'old.example' }, model), undefined);
  });

  it('refuses another namespace or service account, naming both', () => {
    const wrongNs = sidecarNode('127.0.1.2', 'reviews-0', {
      namespace: 'default',
      serviceAccount: 'reviews',
    });
    const r1 = checkConnectionIdentity(wrongNs, reviews, model);
    assert.equal(r1?.code, grpc.status.PERMISSION_DENIED);
    assert.match(r1?.message ?? '', /namespace "default" does not match .*ns\/shop\/sa\/reviews/);
    const wrongSa = sidecarNode('127.0.1.2', 'reviews-0', { namespace: 'shop', serviceAccount: 'ratings' });
    const r2 = checkConnectionIdentity(wrongSa, reviews, model);
    assert.equal(r2?.code, grpc.status.PERMISSION_DENIED);
    assert.match(r2?.message ?? '', /SERVICE_ACCOUNT "ratings" does not match/);
  });

  it('does not compare an empty SERVICE_ACCOUNT (Istio), but the registry still decides', () => {
    const node = sidecarNode('127.0.1.3', 'ratings-0', { namespace: 'shop', serviceAccount: '' });
    const r = checkConnectionIdentity(node, reviews, model);
    assert.equal(r?.code, grpc.status.PERMISSION_DENIED);
    assert.match(r?.message ?? '', /ratings-0 with service account "ratings"\) does not run as/);
  });

  it('reads the namespace from the node id’s DNS domain when NAMESPACE is absent', () => {
    const node = parseProxyNode({
      id: 'sidecar~127.0.1.2~reviews-0.shop~default.svc.cluster.local',
      metadata: { SERVICE_ACCOUNT: 'reviews', INSTANCE_IPS: '127.0.1.2' },
    });
    const r = checkConnectionIdentity(node, reviews, model);
    assert.match(r?.message ?? '', /namespace "default" does not match/);
  });

  it('refuses a node the registry does not know', () => {
    const node = sidecarNode('127.0.1.99', 'reviews-9', { namespace: 'shop', serviceAccount: 'reviews' });
    const r = checkConnectionIdentity(node, reviews, model);
    assert.equal(r?.code, grpc.status.PERMISSION_DENIED);
    assert.match(
      r?.message ?? '',
      /no WorkloadEntry in namespace "shop" at the node's address 127\.0\.1\.99/,
    );
  });

  it('takes the workload of its identity where several share an address', () => {
    const beta = { trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'beta' };
    const node = sidecarNode('127.0.1.4', 'shared-b', { namespace: 'shop', serviceAccount: 'beta' });
    assert.equal(checkConnectionIdentity(node, beta, model), undefined);
  });

  it('applies the same rule to proxyless gRPC nodes', () => {
    const ok = sidecarNode('127.0.1.2', 'reviews-0', {
      namespace: 'shop',
      serviceAccount: 'reviews',
      generator: 'grpc',
    });
    assert.equal(checkConnectionIdentity(ok, reviews, model), undefined);
    const unknown = sidecarNode('127.0.1.50', 'x', {
      namespace: 'shop',
      serviceAccount: 'reviews',
      generator: 'grpc',
    });
    assert.equal(checkConnectionIdentity(unknown, reviews, model)?.code, grpc.status.PERMISSION_DENIED);
  });

  it('answers UNAVAILABLE while no model is loaded', () => {
    const node = sidecarNode('127.0.1.2', 'reviews-0', { namespace: 'shop', serviceAccount: 'reviews' });
    const r = checkConnectionIdentity(node, reviews, undefined);
    assert.equal(r?.code, grpc.status.UNAVAILABLE);
    assert.match(r?.message ?? '', /not loaded yet/);
  });
});

describe('certificateIdentity', () => {
  it('reads the SPIFFE URI SAN of a verified client certificate', () => {
    assert.deepEqual(
      certificateIdentity(peer('DNS:x.example, URI:spiffe://cluster.local/ns/shop/sa/reviews')),
      reviews,
    );
  });

  it('is undefined without a verified certificate, or without a SPIFFE identity in it', () => {
    assert.equal(certificateIdentity(undefined), undefined);
    assert.equal(certificateIdentity(peer(undefined)), undefined);
    assert.equal(certificateIdentity(peer('DNS:x.example, URI:https://example.org/')), undefined);
    const broken: CallPeer = {
      getPeer: () => 'p',
      getAuthContext: () => {
        throw new Error('no session');
      },
    };
    assert.equal(certificateIdentity(broken), undefined);
  });
});

describe('authenticate', () => {
  let ca: LoadedCa;
  before(async () => {
    ({ ca } = await makeCa());
  });

  it('takes a verified certificate first, then a bootstrap token', () => {
    const token = createToken(ca.tokenKey, { ...reviews, serviceAccount: 'ratings' }, 600);
    const byCert = authenticate(ca, bearer(token), peer('URI:spiffe://cluster.local/ns/shop/sa/reviews'));
    assert.deepEqual(byCert, { ok: true, identity: reviews, method: 'certificate' });
    const byToken = authenticate(ca, bearer(token), peer(undefined));
    assert.deepEqual(byToken, {
      ok: true,
      identity: { ...reviews, serviceAccount: 'ratings' },
      method: 'token',
    });
  });

  it('refuses no credential, a foreign token and an expired one, saying which', () => {
    const none = authenticate(ca, new grpc.Metadata(), peer(undefined));
    assert.equal(none.ok, false);
    assert.match(!none.ok ? none.message : '', /no credential: send "authorization: Bearer <token>"/);
    const foreign = authenticate(ca, bearer('skiff1.garbage.garbage'), peer(undefined));
    assert.equal(!foreign.ok && foreign.reason, 'unknown_token');
    const old = new Date(Date.now() - 7200_000);
    const expired = authenticate(ca, bearer(createToken(ca.tokenKey, reviews, 60, old)), peer(undefined));
    assert.equal(!expired.ok && expired.reason, 'expired_token');
  });

  it('serves as the signing service’s Authenticator', () => {
    const auth = meshAuthenticator(ca);
    assert.deepEqual(auth(new grpc.Metadata(), peer('URI:spiffe://cluster.local/ns/shop/sa/reviews')), {
      ok: true,
      identity: reviews,
    });
    assert.equal(auth(new grpc.Metadata()).ok, false);
  });
});
