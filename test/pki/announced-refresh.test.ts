/**
 * `CrlWatcher.refreshSoon`, what a CA change announced on the bus triggers: an announcement that
 * arrives while a refresh is reading the store must still be followed by a read that starts
 * after it (the one under way may have read the CA before the change), and a burst of
 * announcements (or forged ones) costs one more read, not one each.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { CrlWatcher } from '../../src/pki/mtls/crl-watcher.ts';
import type { CertificateAuthority } from '../../src/pki/authority.ts';
import type { TrustStore } from '../../src/pki/trust-store.ts';

/** A CA whose `reload` waits until released, counting the store reads. */
function slowCa() {
  let reads = 0;
  const gates: (() => void)[] = [];
  const ca = {
    config: { crl: { refreshIntervalSeconds: 60 } },
    generation: 0,
    async reload() {
      reads++;
      await new Promise<void>((r) => gates.push(r));
      return false;
    },
    async currentCrl() { return { number: 1, der: new Uint8Array(), previousDers: [] }; },
    trustStore() { return {} as TrustStore; },
  };
  return { ca: ca as unknown as CertificateAuthority, reads: () => reads, release: () => { for (const g of gates.splice(0)) g(); } };
}

const tick = () => new Promise((r) => setImmediate(r));

describe('a CA change announced while the instance is reading the store', () => {
  it('is followed by a second read that starts after the one under way, so the change is not missed', async () => {
    const fake = slowCa();
    const watcher = new CrlWatcher({ ca: fake.ca, onChange: () => {} });
    const polling = watcher.refresh();
    await tick();
    assert.equal(fake.reads(), 1);
    const announced = watcher.refreshSoon();
    await tick();
    assert.equal(fake.reads(), 1, 'no second read while the first is under way');
    fake.release();
    await polling;
    await tick();
    assert.equal(fake.reads(), 2, 'a read after the one that may have missed the change');
    fake.release();
    await announced;
  });

  it('reads the store once more for a burst of announcements, not once per announcement (attack: a flood of forged events)', async () => {
    const fake = slowCa();
    const watcher = new CrlWatcher({ ca: fake.ca, onChange: () => {} });
    const polling = watcher.refresh();
    await tick();
    const burst = Array.from({ length: 50 }, () => watcher.refreshSoon());
    fake.release();
    await polling;
    await tick();
    fake.release();
    await Promise.all(burst);
    assert.equal(fake.reads(), 2);
  });
});
