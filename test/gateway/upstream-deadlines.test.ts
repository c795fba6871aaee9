/** The coarse deadline list behind the upstream total timeout: fires once, never early, never after removal. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { DeadlineList, type DeadlineEntry } from '../../src/gateway/upstream/deadlines.ts';

class Entry implements DeadlineEntry {
  deadlineAt = 0;
  deadlineSlot = -1;
  fired: number[] = [];
  readonly onFire: (() => void) | undefined;
  constructor(onFire?: () => void) { this.onFire = onFire; }
  onDeadline(): void {
    this.fired.push(performance.now());
    this.onFire?.();
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(condition: () => boolean, ms = 3000): Promise<void> {
  const end = Date.now() + ms;
  while (!condition() && Date.now() < end) await sleep(5);
}

describe('coarse deadline list', () => {
  it('fires an entry exactly once, not before its deadline, and forgets it', async () => {
    const list = new DeadlineList(5);
    const entry = new Entry();
    const addedAt = performance.now();
    list.add(entry, 30);
    assert.equal(list.size, 1);
    await until(() => entry.fired.length > 0);
    await sleep(30);
    assert.equal(entry.fired.length, 1);
    assert.ok(entry.fired[0]! >= addedAt + 30, 'never early');
    assert.equal(list.size, 0);
    assert.equal(entry.deadlineSlot, -1);
  });

  it('never fires an entry removed before its deadline', async () => {
    const list = new DeadlineList(5);
    const removed = new Entry();
    const kept = new Entry();
    list.add(removed, 20);
    list.add(kept, 40);
    list.remove(removed);
    list.remove(removed); // a second removal is harmless
    await until(() => kept.fired.length > 0);
    assert.equal(kept.fired.length, 1);
    assert.equal(removed.fired.length, 0);
  });

  it('keeps many entries straight through interleaved adds and removals (each kept one fires once)', async () => {
    const list = new DeadlineList(5);
    const entries = Array.from({ length: 200 }, () => new Entry());
    entries.forEach((e, i) => list.add(e, 10 + (i % 7) * 5));
    const removed = new Set(entries.filter((_, i) => i % 3 === 0));
    for (const e of removed) list.remove(e);
    assert.equal(list.size, 200 - removed.size);
    await until(() => list.size === 0);
    await sleep(20);
    for (const e of entries) assert.equal(e.fired.length, removed.has(e) ? 0 : 1);
  });

  it('a callback that removes and adds other entries neither skips nor repeats any', async () => {
    const list = new DeadlineList(5);
    const late = new Entry();
    const spawned = new Entry();
    const first = new Entry(() => { list.add(spawned, 0); });
    list.add(first, 10);
    list.add(late, 10);
    await until(() => spawned.fired.length > 0 && late.fired.length > 0);
    await sleep(20);
    assert.deepEqual([first.fired.length, late.fired.length, spawned.fired.length], [1, 1, 1]);
    assert.equal(list.size, 0);
  });

  it('an entry removed by another\'s callback in the same tick does not fire', async () => {
    const list = new DeadlineList(5);
    const entries: Entry[] = [];
    // Each one, when it fires, removes the others: whatever the order, exactly one fires.
    for (let i = 0; i < 5; i++) entries.push(new Entry(() => { for (const e of entries) list.remove(e); }));
    for (const e of entries) list.add(e, 10);
    await until(() => entries.some((e) => e.fired.length > 0));
    await sleep(30);
    assert.equal(entries.reduce((n, e) => n + e.fired.length, 0), 1);
  });

  it('adding an entry again replaces its deadline instead of listing it twice', async () => {
    const list = new DeadlineList(5);
    const entry = new Entry();
    list.add(entry, 10);
    list.add(entry, 20);
    assert.equal(list.size, 1);
    await until(() => entry.fired.length > 0);
    await sleep(30);
    assert.equal(entry.fired.length, 1);
  });
});
