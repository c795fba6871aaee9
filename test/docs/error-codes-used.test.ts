/**
 * docs/errors.md is generated from the error registry (src/core/error-codes.ts) and promises
 * each code to clients and operators. A code in the registry that no source file raises is a
 * promise of behaviour that does not exist: ERR_SHIELD_IP_DENIED was listed for a shield
 * rule nobody had built, and seven other codes for refusals that are made under other codes.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { ERROR_CODES } from '../../src/core/error-codes.ts';

const src = join(import.meta.dirname, '..', '..', 'src');

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((e) => {
    const path = join(dir, e.name);
    return e.isDirectory() ? sources(path) : e.name.endsWith('.ts') && path !== join(src, 'core', 'error-codes.ts') ? [path] : [];
  });
}

describe('error registry', () => {
  it('every registered code is raised somewhere in src (outside the registry), so docs/errors.md lists only codes that exist', () => {
    const text = sources(src).map((f) => readFileSync(f, 'utf8')).join('\n');
    const unused = Object.keys(ERROR_CODES).filter((code) => !new RegExp(`\\b${code}\\b`).test(text));
    assert.deepEqual(unused, [], `codes nothing raises: ${unused.join(', ')}`);
  });
});
