import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type ClientCertFacts,
  mutateXfcc,
  rfc2253Subject,
  xfccElement,
} from '../../../../src/proxy/filters/http/xfcc.js';

const facts: ClientCertFacts = {
  localUri: 'spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings',
  hash: 'ab12',
  subject: '',
  uri: 'spiffe://cluster.local/ns/bookinfo/sa/productpage',
  dns: ['a.example', 'b.example'],
  certPem: '-----BEGIN CERTIFICATE-----\nX\n-----END CERTIFICATE-----\n',
  chainPem: 'C',
};
const ISTIO = { subject: true, uri: true, dns: true, cert: false, chain: false };

describe('x-forwarded-client-cert (Envoy mutateXfccRequestHeader)', () => {
  it("writes Istio's element in Envoy's order: By, Hash, Subject, URI, DNS", () => {
    assert.equal(
      xfccElement(facts, ISTIO),
      'By=spiffe://cluster.local/ns/bookinfo/sa/bookinfo-ratings;Hash=ab12;Subject="";URI=spiffe://cluster.local/ns/bookinfo/sa/productpage;DNS=a.example;DNS=b.example',
    );
    assert.equal(
      xfccElement(facts, { subject: false, uri: false, dns: false, cert: true, chain: false }),
      `By=${facts.localUri};Hash=ab12;Cert="${encodeURIComponent(facts.certPem)}"`,
    );
  });

  const cases: [string, Parameters<typeof mutateXfcc>[0], string | undefined, boolean, string | undefined][] =
    [
      [
        'APPEND_FORWARD on mTLS appends',
        'APPEND_FORWARD',
        'By=x;Hash=1',
        true,
        `By=x;Hash=1,${xfccElement(facts, ISTIO)}`,
      ],
      [
        'APPEND_FORWARD on mTLS without one sets',
        'APPEND_FORWARD',
        undefined,
        true,
        xfccElement(facts, ISTIO),
      ],
      [
        'APPEND_FORWARD on plaintext removes what the client sent',
        'APPEND_FORWARD',
        'By=forged',
        false,
        undefined,
      ],
      ['SANITIZE_SET replaces', 'SANITIZE_SET', 'By=forged', true, xfccElement(facts, ISTIO)],
      ['SANITIZE removes', 'SANITIZE', 'By=x', true, undefined],
      ['FORWARD_ONLY keeps on mTLS', 'FORWARD_ONLY', 'By=x', true, 'By=x'],
      ['FORWARD_ONLY removes on plaintext', 'FORWARD_ONLY', 'By=x', false, undefined],
      ['ALWAYS_FORWARD_ONLY keeps even on plaintext', 'ALWAYS_FORWARD_ONLY', 'By=x', false, 'By=x'],
    ];
  for (const [name, mode, incoming, mtls, expected] of cases) {
    it(name, () =>
      assert.equal(mutateXfcc(mode, incoming, mtls ? xfccElement(facts, ISTIO) : undefined), expected),
    );
  }

  it('prints subjects as RFC 2253 (reversed, comma-joined, escaped)', () => {
    assert.equal(rfc2253Subject('C=US\nO=Acme, Inc\nCN=svc'), 'CN=svc,O=Acme\\, Inc,C=US');
    assert.equal(rfc2253Subject(''), '');
    assert.equal(rfc2253Subject(undefined), '');
  });
});
