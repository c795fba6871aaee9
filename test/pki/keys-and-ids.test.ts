/**
 * Master key handling, key sealing and SPIFFE id parsing, with hostile inputs.
 */
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { readFile, stat } from 'node:fs/promises';
import { describe, it } from 'node:test';
import pino from 'pino';
import { sealPrivateKey, unsealPrivateKey } from '../../src/pki/key-sealing.ts';
import { devKeyFile, resolveMasterKey } from '../../src/pki/master-key.ts';
import { parseSpiffeId } from '../../src/pki/spiffe.ts';
import { scratch } from './support/openssl.ts';

describe('PKI master key', () => {
  it('refuses to start in production without a key (ERR_PKI_MASTER_KEY_MISSING)', async () => {
    const s = await scratch();
    await assert.rejects(resolveMasterKey({ mode: 'production', dataDir: s.dir, env: {} }), { code: 'ERR_PKI_MASTER_KEY_MISSING' });
    await s.cleanup();
  });

  it('refuses a short key', async () => {
    await assert.rejects(resolveMasterKey({ mode: 'production', dataDir: '/nonexistent', env: { GATEHOUSE_PKI_KEY: 'short' } }), { code: 'ERR_PKI_MASTER_KEY_MISSING' });
  });

  it('prefers pki.key, then GATEHOUSE_PKI_KEY', async () => {
    const a = 'a'.repeat(40);
    const b = 'b'.repeat(40);
    assert.equal((await resolveMasterKey({ configured: a, mode: 'production', dataDir: '/x', env: { GATEHOUSE_PKI_KEY: b } })).toString(), a);
    assert.equal((await resolveMasterKey({ mode: 'production', dataDir: '/x', env: { GATEHOUSE_PKI_KEY: b } })).toString(), b);
  });

  it('in development generates one key file (0600) with a loud warning, and reuses it', async () => {
    const s = await scratch();
    const lines: string[] = [];
    const logger = pino({ level: 'warn' }, { write: (line: string) => { lines.push(line); } });
    const first = await resolveMasterKey({ mode: 'development', dataDir: s.dir, env: {}, logger });
    const second = await resolveMasterKey({ mode: 'development', dataDir: s.dir, env: {}, logger });
    assert.deepEqual(first, second);
    assert.equal((await stat(devKeyFile(s.dir))).mode & 0o777, 0o600);
    assert.equal((await readFile(devKeyFile(s.dir), 'utf8')).trim(), first.toString());
    assert.match(lines[0] ?? '', /DEVELOPMENT ONLY/);
    // The warning names the file, never the key.
    assert.equal(lines.join('').includes(first.toString()), false);
    await s.cleanup();
  });
});

describe('CA key sealing', () => {
  const key = randomBytes(121);
  const master = Buffer.from('m'.repeat(44));

  it('round-trips', () => {
    assert.deepEqual(unsealPrivateKey(sealPrivateKey(key, master, 'intermediate'), master, 'intermediate'), key);
  });

  it('refuses a wrong master key, a swapped label and a flipped ciphertext bit (ERR_PKI_KEY_UNSEAL_FAILED)', () => {
    const sealed = sealPrivateKey(key, master, 'intermediate');
    assert.throws(() => unsealPrivateKey(sealed, Buffer.from('n'.repeat(44)), 'intermediate'), { code: 'ERR_PKI_KEY_UNSEAL_FAILED' });
    assert.throws(() => unsealPrivateKey(sealed, master, 'root'), { code: 'ERR_PKI_KEY_UNSEAL_FAILED' });
    const e = JSON.parse(sealed) as { ct: string };
    const ct = Buffer.from(e.ct, 'base64url');
    ct[0]! ^= 1;
    assert.throws(() => unsealPrivateKey(JSON.stringify({ ...e, ct: ct.toString('base64url') }), master, 'intermediate'), { code: 'ERR_PKI_KEY_UNSEAL_FAILED' });
    assert.throws(() => unsealPrivateKey('{"__proto__":{"v":1}}', master, 'intermediate'), { code: 'ERR_PKI_KEY_UNSEAL_FAILED' });
  });

  it('never stores the key bytes in the sealed form', () => {
    assert.equal(sealPrivateKey(key, master, 'root').includes(key.toString('base64url').slice(0, 20)), false);
  });
});

describe('SPIFFE id parsing', () => {
  it('parses the canonical form', () => {
    assert.deepEqual(parseSpiffeId('spiffe://td.example/svc/mail-1', 'td.example'), { trustDomain: 'td.example', kind: 'svc', name: 'mail-1', uri: 'spiffe://td.example/svc/mail-1' });
  });

  for (const hostile of [
    'spiffe://td.example/svc/../gateway', 'spiffe://td.example/svc/%2e%2e', 'spiffe://td.example/svc/mail/', 'spiffe://td.example/svc/mail?x=1',
    'spiffe://td.example/svc/mail#f', 'spiffe://TD.example/svc/mail', 'spiffe://td.example:443/svc/mail', 'spiffe://user@td.example/svc/mail',
    'SPIFFE://td.example/svc/mail', 'spiffe://td.example/svc', 'spiffe://td.example//mail', 'spiffe://td.example/svc/ma il', 'https://td.example/svc/mail',
    'spiffe://td.example/svc/mail\u0000', 'spiffe://other.example/svc/mail',
  ]) {
    it(`refuses the non-canonical or foreign id ${JSON.stringify(hostile)} (ERR_PKI_SPIFFE_ID_INVALID)`, () => {
      assert.throws(() => parseSpiffeId(hostile, 'td.example'), { code: 'ERR_PKI_SPIFFE_ID_INVALID' });
    });
  }
});
