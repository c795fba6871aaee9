/** Store URL parsing: accepted forms, refusals, and no password in what gets logged. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { parseStoreUrl } from '../../src/store/store-url.ts';
import { isGatehouseError } from '../../src/core/errors.ts';

describe('store URL', () => {
  it('accepts sqlite file paths, absolute paths and :memory:', () => {
    assert.deepEqual(parseStoreUrl('sqlite:./data/g.db'), { dialect: 'sqlite', location: './data/g.db', display: 'sqlite:./data/g.db' });
    assert.equal(parseStoreUrl('sqlite:///var/lib/g.db').location, '/var/lib/g.db');
    assert.equal(parseStoreUrl('sqlite::memory:').location, ':memory:');
  });

  it('accepts postgres:// and postgresql:// and masks the password for logs', () => {
    const parsed = parseStoreUrl('postgres://gh:s3cr3t@db.internal:5432/gatehouse?sslmode=require');
    assert.equal(parsed.dialect, 'postgres');
    assert.equal(parsed.location, 'postgres://gh:s3cr3t@db.internal:5432/gatehouse?sslmode=require');
    assert.ok(!parsed.display.includes('s3cr3t'));
    assert.equal(parseStoreUrl('postgresql://db/x').dialect, 'postgres');
  });

  it('masks a password given as a connection-string parameter (?password=), which pg honours like the user info', () => {
    const parsed = parseStoreUrl('postgres://gh@db.internal:5432/gatehouse?sslmode=require&password=s3cr3t&application_name=x');
    assert.equal(parsed.location, 'postgres://gh@db.internal:5432/gatehouse?sslmode=require&password=s3cr3t&application_name=x');
    assert.ok(!parsed.display.includes('s3cr3t'), parsed.display);
    assert.ok(parsed.display.includes('sslmode=require'));
    assert.ok(!parseStoreUrl('postgres://db/g?PASSWORD=s3cr3t').display.includes('s3cr3t'));
  });

  for (const bad of ['', 'sqlite:', 'mysql://db/x', 'file:/tmp/x.db', 'sqlite:a\0b', 'postgres://[bad']) {
    it(`refuses ${JSON.stringify(bad)} with ERR_CONFIG_INVALID`, () => {
      assert.throws(() => parseStoreUrl(bad), (error) => isGatehouseError(error) && error.code === 'ERR_CONFIG_INVALID');
    });
  }

  it('does not echo an unparseable postgres URL (it may hold a password) in the error', () => {
    assert.throws(() => parseStoreUrl('postgres://u:hunter2@[bad/db'), (error) => {
      assert.ok(isGatehouseError(error));
      assert.ok(!error.message.includes('hunter2') && !String(error.cause ?? '').includes('hunter2'));
      return true;
    });
  });
});
