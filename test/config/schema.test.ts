import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  array,
  boolean,
  Checker,
  integer,
  notEnforced,
  object,
  oneOf,
  optional,
  record,
  required,
  string,
} from '../../src/config/schema.js';
import { formatPath } from '../../src/core/field-path.js';

const parse = <T>(schema: { parse(v: unknown, p: [], c: Checker): T | undefined }, value: unknown) => {
  const c = new Checker();
  const result = schema.parse(value, [], c);
  return { result, issues: c.issues.map((i) => [i.severity, i.code, formatPath(i.path), i.message]) };
};

describe('schema', () => {
  const thing = object({
    name: required(string({ nonEmpty: true })),
    port: optional(integer(1, 65535)),
    mode: optional(oneOf(['A', 'B'] as const)),
    tags: optional(array(string())),
    labels: optional(record(string())),
    on: optional(boolean()),
    later: notEnforced(string(), 'not yet'),
  });

  it('parses a valid value and drops nulls as absent', () => {
    assert.deepEqual(
      parse(thing, {
        name: 'x',
        port: 80,
        mode: 'A',
        tags: ['t'],
        labels: { a: 'b' },
        on: false,
        later: null,
      }),
      {
        result: { name: 'x', port: 80, mode: 'A', tags: ['t'], labels: { a: 'b' }, on: false },
        issues: [],
      },
    );
  });

  it('collects every problem with its path', () => {
    const { result, issues } = parse(thing, {
      port: 0,
      mode: 'C',
      tags: ['ok', 3],
      labels: [],
      on: 'yes',
      nam: 'x',
    });
    assert.equal(result, undefined);
    assert.deepEqual(issues, [
      ['error', 'SKIFF_CONFIG_RANGE', 'port', 'value 0 is out of range: expected an integer in 1-65535'],
      ['error', 'SKIFF_CONFIG_ENUM', 'mode', 'invalid value "C": expected one of A, B'],
      ['error', 'SKIFF_CONFIG_TYPE', 'tags[1]', 'expected a string, got number 3'],
      ['error', 'SKIFF_CONFIG_TYPE', 'labels', 'expected a mapping of a string, got a list'],
      ['error', 'SKIFF_CONFIG_TYPE', 'on', 'expected true or false, got string "yes"'],
      [
        'error',
        'SKIFF_CONFIG_UNKNOWN_FIELD',
        'nam',
        'unknown field "nam" (did you mean "name"?): allowed fields are name, port, mode, tags, labels, on, later',
      ],
    ]);
  });

  it('a misspelled required field is one mistake, said once; a required field simply missing is said', () => {
    assert.deepEqual(
      parse(thing, { nam: 'x' }).issues.map((i) => i[1]),
      ['SKIFF_CONFIG_UNKNOWN_FIELD'],
    );
    assert.deepEqual(
      parse(thing, { zzzzzz: 'x' }).issues.map((i) => `${i[1]} ${i[2]}`),
      ['SKIFF_CONFIG_UNKNOWN_FIELD zzzzzz', 'SKIFF_CONFIG_REQUIRED name'],
    );
    const list = array(thing);
    assert.equal(parse(list, [{ nam: 'a' }, { nam: 'b' }, { nam: 'c' }]).issues.length, 3, 'one per place');
  });

  it('a field not enforced yet is accepted with a warning', () => {
    assert.deepEqual(parse(thing, { name: 'x', later: 'v' }).issues, [
      ['warning', 'SKIFF_CONFIG_NOT_ENFORCED', 'later', 'accepted, not enforced by Skiff yet: not yet'],
    ]);
  });

  it('no suggestion for a name far from every field', () => {
    assert.doesNotMatch(String(parse(thing, { name: 'x', zzzzzz: 1 }).issues[0]?.[3]), /did you mean/);
  });
});
