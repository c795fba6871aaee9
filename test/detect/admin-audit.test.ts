/**
 * `gatehouse alerts block|unblock` on the in-process bus (`bus.url: memory:`, the default),
 * through the real command: the CLI is a process of its own whose bus no audit writer listens
 * to, so an admin's block and lift were recorded nowhere. Each is now a record in the store's
 * audit chain, which still verifies. Real SQLite store.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBackend, gatehouse, show, type Backend } from '../cli/support/cli.ts';

describe('admin blocks from the CLI on the in-process bus', () => {
  let backend: Backend;
  let config: string;

  before(async () => {
    backend = await createBackend('sqlite');
    config = await backend.writeConfig();
  });
  after(async () => { await backend?.close(); });

  const records = async (action: string) => {
    const r = await gatehouse(['audit', 'query', '--config', config, '--action', action]);
    assert.equal(r.status, 0, show(r));
    return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  };

  it('an admin who blocks and then lifts a block from the CLI cannot do so unrecorded: both are in the audit chain, with who and why, and the chain verifies', async () => {
    const blocked = await gatehouse(['alerts', 'block', '--config', config, '--json', '--address', '203.0.113.7', '--for', '5', '--reason', 'ticket 42', '--by', 'carol']);
    assert.equal(blocked.status, 0, show(blocked));
    const id = (JSON.parse(blocked.stdout) as { id: string }).id;
    const lifted = await gatehouse(['alerts', 'unblock', '--config', config, '--id', id, '--by', 'dave']);
    assert.equal(lifted.status, 0, show(lifted));

    const added = await records('detect.block.added');
    assert.equal(added.length, 1, JSON.stringify(added));
    assert.equal(added[0]!.resource, id);
    assert.match(JSON.stringify(added[0]), /admin:carol/);
    assert.match(JSON.stringify(added[0]), /ticket 42/);
    const liftedRecords = await records('detect.block.lifted');
    assert.equal(liftedRecords.length, 1, JSON.stringify(liftedRecords));
    assert.equal((liftedRecords[0]!.actor as { subject: string }).subject, 'admin:dave');

    const verified = await gatehouse(['audit', 'verify', '--config', config]);
    assert.equal(verified.status, 0, show(verified));
  });

  it('an unblock that matches nothing records nothing', async () => {
    const before = (await records('detect.block.lifted')).length;
    const r = await gatehouse(['alerts', 'unblock', '--config', config, '--address', '198.51.100.99', '--by', 'dave']);
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, /no active block matched/);
    assert.equal((await records('detect.block.lifted')).length, before);
  });
});
