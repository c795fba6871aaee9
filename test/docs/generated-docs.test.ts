/** Docs generated from code must match the code: run `npm run docs` when this fails. */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { configReference, errorReference } from '../../src/core/config/reference.ts';

const docs = join(import.meta.dirname, '..', '..', 'docs');

it('docs/configuration.md is up to date with the config schema', () => {
  assert.equal(readFileSync(join(docs, 'configuration.md'), 'utf8'), configReference(), 'stale: run npm run docs');
});

it('docs/errors.md is up to date with the error code registry', () => {
  assert.equal(readFileSync(join(docs, 'errors.md'), 'utf8'), errorReference(), 'stale: run npm run docs');
});
