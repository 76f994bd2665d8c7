import { test } from 'uvu';
import * as assert from 'uvu/assert';
import fc from 'fast-check';
import type { ReplicaId } from '../../src/core/ids.js';
import * as V from '../../src/core/vts.js';
import type { VTS } from '../../src/core/vts.js';

const ts = (o: Record<string, number>): VTS => o as VTS;
const id = (s: string) => s as ReplicaId;

test('the empty timestamp is ≤ the empty timestamp', () => {
  assert.ok(V.leq(ts({}), ts({})));
});

test('a zero entry equals a missing entry, both ways', () => {
  assert.ok(V.leq(ts({ a: 0 }), ts({})));
  assert.ok(V.leq(ts({}), ts({ a: 0 })));
  assert.ok(V.equals(ts({ a: 0 }), ts({})));
});

test('a missing entry counts as 0, so {} ≤ {a:2}', () => {
  assert.ok(V.leq(ts({}), ts({ a: 2 })));
  assert.not.ok(V.leq(ts({ a: 2 }), ts({})));
});

test('{a:0} ≤ {a:1} and {a:1} ≰ {a:0}', () => {
  assert.ok(V.leq(ts({ a: 0 }), ts({ a: 1 })));
  assert.not.ok(V.leq(ts({ a: 1 }), ts({ a: 0 })));
});

test('< is strict: a timestamp is not less than itself, but is less than a larger one', () => {
  assert.not.ok(V.lt(ts({ a: 1 }), ts({ a: 1 })));
  assert.ok(V.lt(ts({ a: 1 }), ts({ a: 2 })));
  assert.ok(V.lt(ts({}), ts({ b: 1 })));
  assert.not.ok(V.lt(ts({ a: 1, b: 0 }), ts({ a: 1 })));
});

test('diverged histories are concurrent; ordered ones are not', () => {
  assert.ok(V.concurrent(ts({ a: 1 }), ts({ b: 1 })));
  assert.ok(V.concurrent(ts({ a: 2, b: 1 }), ts({ a: 1, b: 2 })));
  assert.not.ok(V.concurrent(ts({ a: 1 }), ts({ a: 1, b: 1 })));
  assert.not.ok(V.concurrent(ts({}), ts({})));
});

test('merge takes the entry-wise maximum and adds missing entries', () => {
  assert.equal(V.merge(ts({ a: 1, b: 5 }), ts({ a: 3, c: 2 })), { a: 3, b: 5, c: 2 });
  assert.equal(V.merge(ts({}), ts({ x: 1 })), { x: 1 });
});

test('no operation mutates its inputs', () => {
  const a = { a: 1, b: 2 };
  const b = { a: 3, c: 1 };
  const snapA = JSON.stringify(a);
  const snapB = JSON.stringify(b);
  V.merge(ts(a), ts(b));
  V.leq(ts(a), ts(b));
  V.lt(ts(a), ts(b));
  V.ahead(ts(a), ts(b));
  V.withEntry(ts(a), id('z'), 9);
  assert.is(JSON.stringify(a), snapA);
  assert.is(JSON.stringify(b), snapB);
});

test('results are frozen so a shared timestamp cannot be changed later', () => {
  const m = V.merge(ts({ a: 1 }), ts({ b: 2 }));
  assert.ok(Object.isFrozen(m));
  assert.throws(() => {
    (m as Record<string, number>).a = 7;
  });
});

test('"ahead" lists exactly the ids where b is greater than a', () => {
  assert.equal(V.ahead(ts({ a: 3, b: 1 }), ts({ a: 2, b: 4, c: 1, d: 0 })), ['b', 'c']);
  assert.equal(V.ahead(ts({ a: 3 }), ts({ a: 3 })), []);
});

test('serialisation is canonical and round-trips', () => {
  const t = ts({ b: 2, a: 1, z: 0 });
  assert.is(V.serialise(t), '{"a":1,"b":2}');
  assert.ok(V.equals(V.parse(V.serialise(t)), t));
  assert.equal(V.parse({ x: 3, y: 0 }), { x: 3 });
});

test('parse rejects anything that is not a map of non-negative integers', () => {
  for (const bad of ['[1,2]', 'null', '{"a":-1}', '{"a":1.5}', '{"a":"3"}', 'not json', '{"":1}']) {
    assert.throws(() => V.parse(bad), (e: unknown) => e instanceof V.VtsFormatError, bad);
  }
  assert.throws(() => V.parse({ a: Number.MAX_SAFE_INTEGER + 2 }), (e: unknown) => e instanceof V.VtsFormatError);
});

test('sum grows strictly along causality', () => {
  assert.ok(V.sum(ts({ a: 1 })) < V.sum(ts({ a: 1, b: 1 })));
});

// ---------------------------------------------------------------------------
// Properties

const arbTs = fc
  .dictionary(fc.constantFrom('a', 'b', 'c', 'd', 'e'), fc.nat({ max: 6 }), { maxKeys: 5 })
  .map((o) => o as VTS);

test('merge is commutative, associative and idempotent', () => {
  fc.assert(
    fc.property(arbTs, arbTs, arbTs, (a, b, c) => {
      return (
        V.equals(V.merge(a, b), V.merge(b, a)) &&
        V.equals(V.merge(V.merge(a, b), c), V.merge(a, V.merge(b, c))) &&
        V.equals(V.merge(a, a), a)
      );
    }),
  );
});

test('a ≤ merge(a, b), and merge is the least such upper bound', () => {
  fc.assert(
    fc.property(arbTs, arbTs, arbTs, (a, b, c) => {
      const m = V.merge(a, b);
      const upper = V.leq(a, m) && V.leq(b, m);
      const least = !(V.leq(a, c) && V.leq(b, c)) || V.leq(m, c);
      return upper && least;
    }),
  );
});

test('≤ is reflexive and transitive, and antisymmetric up to zero entries', () => {
  fc.assert(
    fc.property(arbTs, arbTs, arbTs, (a, b, c) => {
      const reflexive = V.leq(a, a);
      const transitive = !(V.leq(a, b) && V.leq(b, c)) || V.leq(a, c);
      const antisymmetric = !(V.leq(a, b) && V.leq(b, a)) || V.serialise(a) === V.serialise(b);
      return reflexive && transitive && antisymmetric;
    }),
  );
});

test('< is irreflexive and implies ≤; exactly one of <, =, >, concurrent holds', () => {
  fc.assert(
    fc.property(arbTs, arbTs, (a, b) => {
      const cases = [V.lt(a, b), V.equals(a, b), V.lt(b, a), V.concurrent(a, b)].filter(Boolean).length;
      return !V.lt(a, a) && (!V.lt(a, b) || V.leq(a, b)) && cases === 1;
    }),
  );
});

test('ahead(a, b) is empty exactly when b ≤ a, and merging catches up on those ids', () => {
  fc.assert(
    fc.property(arbTs, arbTs, (a, b) => {
      const ids = V.ahead(a, b);
      const caught = ids.reduce((acc, k) => V.withEntry(acc, k, Math.max(V.get(acc, k), V.get(b, k))), a);
      return (ids.length === 0) === V.leq(b, a) && V.leq(b, caught);
    }),
  );
});

test('lt implies a strictly smaller sum', () => {
  fc.assert(fc.property(arbTs, arbTs, (a, b) => !V.lt(a, b) || V.sum(a) < V.sum(b)));
});

test.run();
