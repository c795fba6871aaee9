/**
 * `gatehouse ca rotate-root --key-type` through the real CLI: a key type the CA does not make is
 * refused with ERR_PKI_CA_KEY_TYPE_INVALID before anything is prepared (a typo must not leave a
 * root of the old type pending), `--key-type` with `--activate` is refused, and a P-384 root
 * prepared over a P-256 CA becomes the CA's key type at activation (`ca status`).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBackend, gatehouse, show, type Backend } from './support/cli.ts';

interface Status { keyAlgorithm: string; root: { keyAlgorithm: string }; pendingRoot?: { keyAlgorithm: string; intermediate: { keyAlgorithm: string } } }

describe('ca rotate-root --key-type', () => {
  let b: Backend;
  let config: string;
  before(async () => {
    b = await createBackend('sqlite');
    config = await b.writeConfig();
    const init = await run(['ca', 'init']);
    assert.equal(init.status, 0, show(init));
  });
  after(() => b?.close());

  function run(args: string[]) {
    return gatehouse([...args, '--config', config], { cwd: b.dir });
  }
  async function status(): Promise<Status> {
    const r = await run(['ca', 'status', '--json']);
    assert.equal(r.status, 0, show(r));
    return JSON.parse(r.stdout) as Status;
  }

  it('refuses a key type the CA does not make (RSA-1024) with ERR_PKI_CA_KEY_TYPE_INVALID and prepares nothing', async () => {
    const r = await run(['ca', 'rotate-root', '--key-type', 'RSA-1024']);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /ERR_PKI_CA_KEY_TYPE_INVALID/);
    assert.match(r.stderr, /ECDSA-P256, ECDSA-P384/);
    assert.equal((await status()).pendingRoot, undefined);
  });

  it('refuses --key-type with --activate (the type is chosen when the root is prepared)', async () => {
    const r = await run(['ca', 'rotate-root', '--activate', '--force', '--key-type', 'ECDSA-P384']);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /ERR_ADMIN_INPUT_INVALID/);
  });

  it('prepares a P-384 root and intermediate over a P-256 CA, and the CA is P-384 once it is activated', async () => {
    assert.equal((await status()).keyAlgorithm, 'ECDSA-P256');
    const prepared = await run(['ca', 'rotate-root', '--key-type', 'ecdsa-p384']);
    assert.equal(prepared.status, 0, show(prepared));
    assert.match(prepared.stdout, /key type:\s+ECDSA-P384 \(current root: ECDSA-P256\)/);
    const pending = (await status()).pendingRoot;
    assert.deepEqual([pending?.keyAlgorithm, pending?.intermediate.keyAlgorithm], ['ECDSA-P384', 'ECDSA-P384']);
    const activated = await run(['ca', 'rotate-root', '--activate', '--force']);
    assert.equal(activated.status, 0, show(activated));
    const now = await status();
    assert.deepEqual([now.keyAlgorithm, now.root.keyAlgorithm], ['ECDSA-P384', 'ECDSA-P384']);
  });
});
