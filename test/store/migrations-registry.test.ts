/** The migration registry lists every migration file, once, in applicable order. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS } from '../../src/store/migrations/index.ts';

const NAME = /^(\d{4})-[a-z0-9]+-[a-z0-9-]+$/;
const dir = join(import.meta.dirname, '../../src/store/migrations');

describe('migration registry', () => {
  const names = Object.keys(MIGRATIONS);

  it('names every migration NNNN-<area>-<what>', () => {
    for (const name of names) assert.match(name, NAME);
  });

  it('lists migrations in the order the migrator applies them (sorted by name) with unique numbers', () => {
    assert.deepEqual(names, [...names].sort());
    const numbers = names.map((n) => n.slice(0, 4));
    assert.equal(new Set(numbers).size, numbers.length, `duplicate migration number in ${numbers.join(', ')}`);
  });

  it('registers every migration file in src/store/migrations and nothing else', () => {
    const files = readdirSync(dir).filter((f) => /^\d{4}-.*\.ts$/.test(f)).map((f) => f.replace(/\.ts$/, '')).sort();
    assert.deepEqual([...names].sort(), files);
  });

  it('gives every migration an up function', () => {
    for (const [name, migration] of Object.entries(MIGRATIONS)) assert.equal(typeof migration.up, 'function', name);
  });
});
