/** The migration registry lists every migration file, once, in applicable order. */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { MIGRATIONS } from '../../src/store/migrations/index.ts';

const NAME = /^(\d{4})-[a-z0-9]+-[a-z0-9-]+$/;
const dir = join(import.meta.dirname, '../../src/store/migrations');

/**
 * SHA-256 of each migration file (LF line ends). The migration table records names only, so
 * an edited migration that already ran somewhere goes unnoticed there while new databases get
 * the edited schema: the two drift apart. A changed hash here is that edit, made visible;
 * add a new migration instead. A new migration's hash goes here once it is written.
 */
const APPLIED: Readonly<Record<string, string>> = {
  '0001-store-kv-records': '93a13756f8c0597c1c056f310e101ec722a870673bed0d1bab31a251ae8f4973',
  '0002-identity-accounts': '85fac150e1fa16518415f4e7cfc99ed5258f70f2752cb2a198ae65cd08b67caa',
  '0003-pki-ca': 'acec9ce7f5c55717b082cc9275678e89f9adcbae5b4ec81dbfd925cdd66700e1',
  '0004-audit-log': '763db038bacbe81bef965f328cc82767ff1d2dcc72f42e4760e70f6bd3037596',
  '0005-authn-sessions': 'ff395f7db0f866e45d67a513e71137b8da964c9874ba4dcf14e3b59cdde4e668',
  '0006-authn-revoked-jwts': 'e6f6d29af18a26a611783f00c43893b2bced8bf183d0200bb583ea6566235300',
  '0007-identity-federated-link-unique': 'f53ae88df52013de43a600754992dd844c13d6752a58e9433f013996f19a7928',
  '0008-approvals-requests': 'af918ceade3e3c0cb386021604aac5bdb756b8f4b4aa9048a3c732f64b204b47',
  '0009-approvals-requester-index': '7929ddd681b69f8d498ad0ac670bb636d1c6ad4666fac55af25a16d59f3b5e8d',
  '0010-pki-certificates-renewed-from': '4314f28b4c649245e4df6bedbf13d57e213f3cfa98e1c31ff7084ae660970f72',
  '0011-audit-actor-index': '7d3a0aef6a9e2d2ddcc7711816279da537953663fbb3ac803b5d9de9a2a19dc7',
  '0012-pki-ca-previous-intermediates': '7581a9c4ce0e8c76eeb4d6f8cb8ed3245e31dcd3dc7468c38fb42cc8ef3c431e',
  '0013-approvals-content-headers': '39b91ba9a5de25e9c39d74ddee8088d05fa5e084d98edf5f3e8c2fe8d047a0c0',
  '0014-approvals-body': '783df5f30a54ab4db92c0ba22fa0b94ecb7edf817b22274abbd8444fe314095a',
  '0015-pki-ca-root-rotation': '455ad1164b4b1b08b21b8015a50c54c30e45322918dd2a6500c3bf9a2fb65367',
  '0016-approvals-used-request': '5b106a7f5f4bfaa9934f8f03d99fa48f60b22f6fc5e3e8a74c23630b7273c459',
  '0017-approvals-body-erased': '6794c0ec98f618a347c3c29d80eb7b0dded3d397be00f41968f770d1099b4cc5',
};

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

  it('never edits a migration: each file still hashes to what was recorded when it was written', () => {
    for (const name of names) {
      const text = readFileSync(join(dir, `${name}.ts`), 'utf8').replaceAll('\r\n', '\n');
      const hash = createHash('sha256').update(text).digest('hex');
      assert.ok(APPLIED[name] !== undefined, `record the new migration ${name} in APPLIED: '${name}': '${hash}'`);
      assert.equal(hash, APPLIED[name], `${name} was edited after it was recorded; add a new migration instead`);
    }
  });

  it('gives every migration an up function', () => {
    for (const [name, migration] of Object.entries(MIGRATIONS)) assert.equal(typeof migration.up, 'function', name);
  });
});
