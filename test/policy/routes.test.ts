import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  type HeaderCheck,
  headerMatches,
  type RouteMatch,
  routeMatches,
  selectRoute,
  type VirtualHostEntry,
  VirtualHostIndex,
} from '../../src/policy/routes.js';

const vh = (name: string, domains: string[]): VirtualHostEntry<string> => ({ name, domains, routes: [] });

describe('virtual host selection (Envoy: exact, then longest suffix wildcard, then longest prefix, then *)', () => {
  const index = new VirtualHostIndex([
    vh('any', ['*']),
    vh('prefix-short', ['foo*']),
    vh('prefix-long', ['foo-bar*']),
    vh('suffix-short', ['*.com']),
    vh('suffix-long', ['*.foo.com']),
    vh('exact', ['www.foo.com', 'reviews:9080', 'Reviews']),
  ]);
  const cases: [string, string][] = [
    ['www.foo.com', 'exact'],
    ['WWW.FOO.COM', 'exact'],
    ['reviews', 'exact'],
    ['reviews:9080', 'exact'],
    ['api.foo.com', 'suffix-long'],
    ['a.b.foo.com', 'suffix-long'],
    ['x.com', 'suffix-short'],
    ['.com', 'any'], // a wildcard never matches an empty remainder
    ['foo-bar.example', 'prefix-long'],
    ['foo.example', 'prefix-short'],
    ['foo', 'any'],
    ['reviews:8080', 'any'],
  ];
  for (const [host, expected] of cases) {
    it(`${host} → ${expected}`, () => assert.equal(index.find(host)?.name, expected));
  }

  it('without * a host that matches nothing has no virtual host (Envoy: 404 NR)', () => {
    assert.equal(new VirtualHostIndex([vh('a', ['a'])]).find('b'), undefined);
  });

  it('the first virtual host naming a domain keeps it', () => {
    assert.equal(new VirtualHostIndex([vh('first', ['a']), vh('second', ['a'])]).find('a')?.name, 'first');
  });
});

const match = (o: Partial<RouteMatch> & Pick<RouteMatch, 'path'>): RouteMatch => ({
  caseSensitive: true,
  headers: [],
  queryParameters: [],
  ...o,
});
const req = (path: string, headers: Record<string, string> = {}) => ({
  path,
  header: (n: string) => headers[n],
});

describe('route matching', () => {
  const cases: [string, RouteMatch, string, Record<string, string>, boolean][] = [
    ['prefix', match({ path: { kind: 'prefix', value: '/api' } }), '/api/v1', {}, true],
    ['prefix ignores the query', match({ path: { kind: 'prefix', value: '/a' } }), '/b?x=/a', {}, false],
    [
      'prefix is case sensitive by default',
      match({ path: { kind: 'prefix', value: '/API' } }),
      '/api',
      {},
      false,
    ],
    [
      'case_sensitive false',
      match({ path: { kind: 'prefix', value: '/API' }, caseSensitive: false }),
      '/api',
      {},
      true,
    ],
    ['path exact', match({ path: { kind: 'path', value: '/ratings' } }), '/ratings?x=1', {}, true],
    ['path exact, longer', match({ path: { kind: 'path', value: '/ratings' } }), '/ratings/1', {}, false],
    ['separated prefix', match({ path: { kind: 'separated-prefix', value: '/api' } }), '/api/x', {}, true],
    [
      'separated prefix refuses /apix',
      match({ path: { kind: 'separated-prefix', value: '/api' } }),
      '/apix',
      {},
      false,
    ],
    [
      'regex whole path',
      match({ path: { kind: 'regex', value: '/r/[0-9]+', regex: /^(?:\/r\/[0-9]+)$/ } }),
      '/r/12',
      {},
      true,
    ],
    [
      'regex not a substring',
      match({ path: { kind: 'regex', value: '/r/[0-9]+', regex: /^(?:\/r\/[0-9]+)$/ } }),
      '/r/12/x',
      {},
      false,
    ],
    [
      'header exact',
      match({
        path: { kind: 'prefix', value: '/' },
        headers: [
          {
            name: 'end-user',
            check: { kind: 'exact', value: 'jason', ignoreCase: false },
            present: false,
            invert: false,
          },
        ],
      }),
      '/',
      { 'end-user': 'jason' },
      true,
    ],
    [
      'header absent fails a value check',
      match({
        path: { kind: 'prefix', value: '/' },
        headers: [
          {
            name: 'end-user',
            check: { kind: 'exact', value: 'jason', ignoreCase: false },
            present: false,
            invert: false,
          },
        ],
      }),
      '/',
      {},
      false,
    ],
    [
      'query parameter',
      match({
        path: { kind: 'prefix', value: '/' },
        queryParameters: [{ name: 'v', check: { kind: 'exact', value: '2', ignoreCase: false } }],
      }),
      '/x?a=1&v=2',
      {},
      true,
    ],
  ];
  for (const [name, m, path, headers, expected] of cases) {
    it(name, () => assert.equal(routeMatches(m, req(path, headers)), expected));
  }

  it('header presence, absence and inversion', () => {
    const present: HeaderCheck = { name: 'x', check: undefined, present: true, invert: false };
    assert.equal(headerMatches(present, 'v'), true);
    assert.equal(headerMatches(present, undefined), false);
    assert.equal(
      headerMatches({ ...present, present: false }, undefined),
      true,
      'present_match: false means absent',
    );
    assert.equal(headerMatches({ ...present, invert: true }, 'v'), false);
  });

  it('the first matching route wins', () => {
    const host: VirtualHostEntry<string> = {
      name: 'h',
      domains: ['*'],
      routes: [
        {
          name: 'v2',
          match: match({
            path: { kind: 'prefix', value: '/' },
            headers: [
              {
                name: 'end-user',
                check: { kind: 'exact', value: 'jason', ignoreCase: false },
                present: false,
                invert: false,
              },
            ],
          }),
          action: 'reviews-v2',
        },
        { name: 'default', match: match({ path: { kind: 'prefix', value: '/' } }), action: 'reviews-v1' },
      ],
    };
    assert.equal(selectRoute(host, req('/', { 'end-user': 'jason' }))?.action, 'reviews-v2');
    assert.equal(selectRoute(host, req('/'))?.action, 'reviews-v1');
    assert.equal(selectRoute({ ...host, routes: [] }, req('/')), undefined);
  });
});
