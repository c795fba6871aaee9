/** Envelope times must be exactly what Date#toISOString gives (subscribers and other instances parse them). */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { isoTime } from '../../src/bus/iso-time.ts';

it('formats every millisecond like Date#toISOString, across second, day, leap-day and year boundaries', () => {
  const starts = [Date.UTC(2026, 10, 22, 10, 0, 59), Date.UTC(2024, 1, 28, 23, 59, 59), Date.UTC(2025, 11, 31, 23, 59, 59), 0, -1500, Date.UTC(9999, 11, 31, 23, 59, 59), Date.UTC(1, 0, 1)];
  for (const start of starts) {
    for (let ms = start - 5; ms < start + 2005; ms++) assert.equal(isoTime(ms), new Date(ms).toISOString(), `at ${ms}`);
  }
});

it('formats times in any order (going back, repeating, jumping) like Date#toISOString', () => {
  let state = 42;
  const next = () => (state = (state * 1103515245 + 12345) % 2 ** 31);
  for (let i = 0; i < 20_000; i++) {
    const ms = Date.UTC(2020, 0, 1) + (next() % 1000) * 997 + (i % 7 === 0 ? 0 : next() % 3);
    assert.equal(isoTime(ms), new Date(ms).toISOString());
    assert.equal(isoTime(ms), new Date(ms).toISOString());
  }
});
