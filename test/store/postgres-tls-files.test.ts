/**
 * A PostgreSQL URL naming a TLS file (sslrootcert, sslcert, sslkey) that cannot be read is a
 * configuration error when the store opens, naming the parameter and the path — not an
 * ERR_INTERNAL on the first query (pg reads the files only when it connects).
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.ts';

describe('PostgreSQL TLS files in store.url', () => {
  for (const name of ['sslrootcert', 'sslcert', 'sslkey']) {
    it(`a missing ${name} file is ERR_CONFIG_INVALID at open, naming ${name} and its path`, async () => {
      const url = `postgres://127.0.0.1:5432/test?sslmode=verify-full&${name}=/nonexistent/gatehouse/${name}.pem`;
      await assert.rejects(openStore(url), (err: { code?: string; detail?: string }) => {
        assert.equal(err.code, 'ERR_CONFIG_INVALID');
        assert.equal(err.detail, `store.url: ${name}=/nonexistent/gatehouse/${name}.pem cannot be read: ENOENT`);
        return true;
      });
    });
  }

  it('readable files open the store as before (the check reads nothing else of the URL)', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-pg-tls-'));
    try {
      await writeFile(join(dir, 'ca.pem'), 'not read until a connection is made\n');
      const store = await openStore(`postgres://127.0.0.1:5432/test?sslmode=verify-full&sslrootcert=${join(dir, 'ca.pem')}`);
      await store.close();
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
