// Istio's names for generated resources (src/xds/generate/names.ts): cluster names and their parsing, the SNI a
// client sidecar sends, listener names and domain names.

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  clusterName,
  type Direction,
  domainName,
  inboundClusterName,
  listenerName,
  parseClusterName,
  sniName,
} from '../../../src/xds/generate/names.js';

const HOST = 'foo.ns.svc.cluster.local';

describe('clusterName / inboundClusterName (BuildSubsetKey, BuildInboundSubsetKey)', () => {
  const cases: Array<[Direction, number, string, string, string]> = [
    ['outbound', 8080, '', HOST, `outbound|8080||${HOST}`],
    ['outbound', 8080, 'v1', HOST, `outbound|8080|v1|${HOST}`],
    ['inbound', 9090, '', HOST, `inbound|9090||${HOST}`],
    ['outbound', 443, '', 'api.example.com', 'outbound|443||api.example.com'],
  ];
  for (const [direction, port, subset, host, expected] of cases) {
    it(expected, () => {
      assert.equal(clusterName(direction, port, subset, host), expected);
    });
  }

  it('inbound: no subset, no host', () => {
    assert.equal(inboundClusterName(8080), 'inbound|8080||');
    assert.equal(inboundClusterName(1), 'inbound|1||');
  });
});

describe('parseClusterName', () => {
  const roundTrips: Array<[Direction, number, string, string]> = [
    ['outbound', 8080, '', HOST],
    ['outbound', 8080, 'v1', HOST],
    ['outbound', 1, 'canary-2', 'api.example.com'],
    ['outbound', 65535, '', '10.0.0.1'],
    ['inbound', 9090, '', HOST],
  ];
  for (const [direction, port, subset, host] of roundTrips) {
    const name = clusterName(direction, port, subset, host);
    it(`round trip: ${name}`, () => {
      assert.deepEqual(parseClusterName(name), { direction, port, subset, host });
    });
  }

  it('round trip: inboundClusterName', () => {
    assert.deepEqual(parseClusterName(inboundClusterName(8080)), {
      direction: 'inbound',
      port: 8080,
      subset: '',
      host: '',
    });
  });

  const refused: Array<[string, string]> = [
    ['', 'empty'],
    ['BlackHoleCluster', 'no parts'],
    ['PassthroughCluster', 'no parts'],
    [`outbound|8080|${HOST}`, 'three parts'],
    [`outbound|8080||${HOST}|x`, 'five parts'],
    [clusterName('outbound', 8080, '', 'a|b'), 'a host with | (five parts)'],
    [`Outbound|8080||${HOST}`, 'direction is case-sensitive'],
    [`sidecar|8080||${HOST}`, 'unknown direction'],
    [`|8080||${HOST}`, 'no direction'],
    [`outbound|||${HOST}`, 'no port'],
    [`outbound|0||${HOST}`, 'port 0'],
    [`outbound|65536||${HOST}`, 'port above 65535'],
    [`outbound|-80||${HOST}`, 'negative port'],
    [`outbound|80.5||${HOST}`, 'fractional port'],
    [`outbound|http||${HOST}`, 'named port'],
    [`outbound_.8080_._.${HOST}`, 'an SNI name'],
  ];
  for (const [name, why] of refused) {
    it(`refuses ${JSON.stringify(name)} (${why})`, () => {
      assert.equal(parseClusterName(name), undefined);
    });
  }

  // Number() would read hexadecimal, exponents and surrounding blanks: names clusterName never makes, which would
  // be taken for another port's cluster.
  const notMadeByClusterName = [
    `outbound|0x1F90||${HOST}`,
    `outbound|8e3||${HOST}`,
    `outbound| 8080||${HOST}`,
    `outbound|08080||${HOST}`,
  ];
  for (const name of notMadeByClusterName) {
    it(`refuses ${JSON.stringify(name)} (a port clusterName never writes)`, () => {
      assert.equal(parseClusterName(name), undefined);
    });
  }
});

describe('sniName (BuildDNSSrvSubsetKey)', () => {
  const cases: Array<[Direction, number, string, string, string]> = [
    ['outbound', 8080, '', HOST, `outbound_.8080_._.${HOST}`],
    ['outbound', 8080, 'v1', HOST, `outbound_.8080_.v1_.${HOST}`],
    ['inbound', 9090, '', HOST, `inbound_.9090_._.${HOST}`],
  ];
  for (const [direction, port, subset, host, expected] of cases) {
    it(expected, () => {
      assert.equal(sniName(direction, port, subset, host), expected);
    });
  }
});

describe('listenerName', () => {
  const cases: Array<[string, number, string]> = [
    ['127.0.0.1', 15101, '127.0.0.1_15101'],
    ['0.0.0.0', 8080, '0.0.0.0_8080'],
    ['::1', 80, '::1_80'],
  ];
  for (const [bind, port, expected] of cases) {
    it(expected, () => {
      assert.equal(listenerName(bind, port), expected);
    });
  }
});

describe('domainName (DomainName)', () => {
  const cases: Array<[string, number, string]> = [
    [HOST, 8080, `${HOST}:8080`],
    ['10.0.0.1', 80, '10.0.0.1:80'],
    ['::1', 80, '[::1]:80'],
    ['2001:db8::1', 443, '[2001:db8::1]:443'],
    ['*', 80, '*:80'],
  ];
  for (const [host, port, expected] of cases) {
    it(`${host} ${port} → ${expected}`, () => {
      assert.equal(domainName(host, port), expected);
    });
  }
});
