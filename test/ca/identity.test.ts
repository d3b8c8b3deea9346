import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { parseSpiffeId, spiffeId } from '../../src/ca/identity.js';

describe('SPIFFE identities', () => {
  it('spiffeId writes Istio’s form spiffe://<td>/ns/<ns>/sa/<sa>', () => {
    assert.equal(
      spiffeId({ trustDomain: 'cluster.local', namespace: 'shop', serviceAccount: 'cart' }),
      'spiffe://cluster.local/ns/shop/sa/cart',
    );
  });

  it('parseSpiffeId reads back what spiffeId writes', () => {
    const id = { trustDomain: 'example.org', namespace: 'istio-system', serviceAccount: 'skiff-ca' };
    assert.deepEqual(parseSpiffeId(spiffeId(id)), id);
  });

  const NOT_ISTIO: string[] = [
    'https://cluster.local/ns/shop/sa/cart',
    'spiffe://cluster.local/ns/shop',
    'spiffe://cluster.local/ns/shop/sa/',
    'spiffe://cluster.local/ns//sa/cart',
    'spiffe://cluster.local/ns/shop/sa/cart/extra',
    'spiffe://Cluster.Local/ns/shop/sa/cart',
    'spiffe://cluster.local/workload/cart',
    '',
  ];
  for (const uri of NOT_ISTIO) {
    it(`parseSpiffeId(${JSON.stringify(uri)}) is undefined`, () => {
      assert.equal(parseSpiffeId(uri), undefined);
    });
  }
});
