/** The bounded per-key counters behind the rules. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DistinctCounter, LruMap, RateBaseline, RecentIds, SlidingCounter } from '../../src/detect/counters.ts';

describe('detection counters', () => {
  it('an attacker spraying keys cannot grow a counter beyond maxKeys; the least recently used key goes first', () => {
    const lru = new LruMap<number>(3);
    lru.set('a', 1);
    lru.set('b', 2);
    lru.set('c', 3);
    assert.equal(lru.get('a'), 1); // a is now the most recent
    for (let i = 0; i < 1000; i++) lru.set(`spray-${i}`, i);
    assert.equal(lru.size, 3);
    assert.equal(lru.get('a'), undefined);
    assert.equal(lru.get('b'), undefined);
    const lru2 = new LruMap<number>(3);
    lru2.set('a', 1);
    lru2.set('b', 2);
    lru2.set('c', 3);
    lru2.get('a');
    lru2.set('d', 4);
    assert.equal(lru2.get('b'), undefined, 'b was the least recently used');
    assert.equal(lru2.get('a'), 1, 'reading a kept it');
  });

  it('keys sprayed past maxKeys cost about what filling the map did: each eviction is constant time, not a walk over the entries evicted before it', () => {
    const n = 50_000;
    const keys = Array.from({ length: 2 * n }, (_, i) => `2001:db8:${(i >> 16).toString(16)}:${(i & 0xffff).toString(16)}::/64`);
    const ms = (f: () => void) => { const t = process.cpuUsage(); f(); const u = process.cpuUsage(t); return (u.user + u.system) / 1000; };
    // Best of three: the machine is shared.
    const ratios = [0, 1, 2].map(() => {
      const lru = new LruMap<number>(n);
      const ids = new RecentIds(n);
      const fill = ms(() => { for (let i = 0; i < n; i++) { lru.set(keys[i]!, i); ids.repeat(keys[i]!); } });
      const past = ms(() => { for (let i = n; i < 2 * n; i++) { lru.set(keys[i]!, i); ids.repeat(keys[i]!); } });
      assert.equal(lru.size, n);
      return past / Math.max(fill, 1);
    });
    // Before: over 25 times the cost of filling at this size, growing with it (every eviction walked the holes left by the previous ones).
    assert.ok(Math.min(...ratios) < 10, `evicting costs ${Math.min(...ratios).toFixed(1)}× filling`);
  });

  it('recent ids: a repeat is recognised, the oldest id is forgotten first, a lower bound forgets at once', () => {
    const ids = new RecentIds(3);
    assert.deepEqual(['a', 'b', 'a', 'c', 'd', 'b', 'a'].map((id) => ids.repeat(id)), [false, false, true, false, false, true, false]);
    ids.resize(1);
    assert.deepEqual(['a', 'd'].map((id) => ids.repeat(id)), [true, false]);
  });

  it('an LRU map evicts in least-recently-used order across many evictions, reads and deletes', () => {
    const lru = new LruMap<number>(4);
    // The model: keys oldest first.
    const order: string[] = [];
    const touch = (k: string) => { const at = order.indexOf(k); if (at !== -1) order.push(order.splice(at, 1)[0]!); };
    for (let i = 0; i < 60; i++) {
      lru.set(`k${i}`, i);
      order.push(`k${i}`);
      if (order.length > 4) order.shift();
      if (i % 3 === 0 && lru.get(`k${i - 2}`) !== undefined) touch(`k${i - 2}`);
      if (i % 7 === 0) { lru.delete(`k${i - 1}`); const at = order.indexOf(`k${i - 1}`); if (at !== -1) order.splice(at, 1); }
      assert.equal(lru.size, order.length);
      // Reading every kept key in model order leaves the map in that order too.
      for (const k of order) assert.notEqual(lru.get(k), undefined, `${k} kept after step ${i}`);
    }
    lru.clear();
    for (let i = 0; i < 6; i++) lru.set(`n${i}`, i);
    assert.deepEqual(['n0', 'n1', 'n2', 'n3', 'n4', 'n5'].map((k) => lru.get(k) !== undefined), [false, false, true, true, true, true]);
  });

  it('a sliding counter keeps counting a key that is read between sprays, and forgets one that is not', () => {
    const counter = new SlidingCounter(3, 60_000, 2);
    assert.equal(counter.hit('victim', 1), undefined);
    assert.equal(counter.hit('victim', 2), undefined);
    assert.equal(counter.hit('victim', 3), 1);
    // After firing the key starts over.
    assert.equal(counter.hit('victim', 4), undefined);
    // Two other keys push the untouched victim out: its count starts over too.
    counter.hit('x', 5);
    counter.hit('y', 6);
    assert.equal(counter.hit('victim', 7), undefined);
    assert.equal(counter.hit('victim', 8), undefined);
    assert.equal(counter.hit('victim', 9), 7);
  });

  it('a distinct counter counts distinct values per key within the window', () => {
    const counter = new DistinctCounter(3, 1000, 10);
    assert.equal(counter.hit('addr', 'a', 0), undefined);
    assert.equal(counter.hit('addr', 'a', 1), undefined);
    assert.equal(counter.hit('addr', 'b', 2), undefined);
    assert.deepEqual(counter.hit('addr', 'c', 3), { windowStart: 1, distinct: 3 });
    assert.equal(counter.hit('addr', 'a', 2000), undefined);
  });

  it('an attacker spraying 200,000 distinct account names from one address at a threshold of 200,000 is reported, not lost to a RangeError or a scan of every name per attempt', () => {
    // Before: each attempt walked every name kept for the address (quadratic: hours for this
    // spray), and the report itself, Math.min(...names), threw RangeError past ~120,000 names,
    // after which the address's count was gone and nothing was reported.
    const n = 200_000;
    const counter = new DistinctCounter(n, 3_600_000, 10);
    const started = process.cpuUsage();
    let hit: { windowStart: number; distinct: number } | undefined;
    const seconds = () => { const u = process.cpuUsage(started); return (u.user + u.system) / 1e6; };
    for (let i = 0; i < n; i++) {
      hit = counter.hit('203.0.113.9', `user-${i}`, 1_000 + i);
      if (i < n - 1) assert.equal(hit, undefined);
      // A synchronous loop is not interrupted by a test timeout: give up here instead.
      if (i % 1000 === 0 && seconds() > 10) assert.fail(`${i} names took over 10 s of CPU`);
    }
    assert.deepEqual(hit, { windowStart: 1_000, distinct: n });
    assert.ok(seconds() < 10, `took ${seconds().toFixed(1)} s of CPU`);
  });

  it('a distinct counter reports what a full scan of the window would: late events, repeated values, expiry (model check)', () => {
    // Reference: the per-event scan the counter used to do.
    const model = new Map<string, Map<string, number>>();
    const ref = (key: string, value: string, time: number, threshold: number, windowMs: number) => {
      let seen = model.get(key);
      if (!seen) model.set(key, (seen = new Map()));
      let newest = time;
      for (const t of seen.values()) if (t > newest) newest = t;
      const oldest = newest - windowMs;
      if (time <= oldest) return undefined;
      for (const [v, t] of seen) if (t <= oldest) seen.delete(v);
      const last = seen.get(value);
      seen.set(value, last !== undefined && last > time ? last : time);
      if (seen.size >= threshold) {
        model.delete(key);
        let min = Infinity;
        for (const t of seen.values()) if (t < min) min = t;
        return { windowStart: min, distinct: seen.size };
      }
      return undefined;
    };
    let seed = 7;
    const rand = (m: number) => { seed = (seed * 1103515245 + 12345) % 2147483648; return seed % m; };
    const counter = new DistinctCounter(6, 100, 100);
    let clock = 0;
    for (let i = 0; i < 20_000; i++) {
      clock += rand(8);
      // One event in five is late (a retried publish), some by more than the window.
      const time = rand(5) === 0 ? clock - rand(150) : clock;
      const key = `k${rand(3)}`;
      const value = `v${rand(9)}`;
      assert.deepEqual(counter.hit(key, value, time), ref(key, value, time, 6, 100), `event ${i}`);
    }
  });

  it('the rate baseline keeps its state across hits of one bucket and fires once when the rate jumps', () => {
    const rate = new RateBaseline({ bucketMs: 1000, factor: 3, minRequests: 5, alpha: 0.5, warmupBuckets: 2, maxKeys: 10 });
    for (let b = 0; b < 3; b++) for (let i = 0; i < 2; i++) assert.equal(rate.hit('svc', b * 1000 + i), undefined);
    const fired = [];
    for (let i = 0; i < 20; i++) { const hit = rate.hit('svc', 3000 + i); if (hit) fired.push(hit); }
    assert.equal(fired.length, 1);
    assert.equal(fired[0]?.bucketStart, 3000);
    assert.equal(fired[0]?.count, 7);
  });
});
