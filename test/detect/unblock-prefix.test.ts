/**
 * `gatehouse alerts unblock --address <prefix>` lifts every active block inside the prefix, and
 * an unblock of something inside a wider active block says which block covers it.
 *
 * Before, unblock matched the exact value only: an operator who lifted a customer's /48 while
 * detection had blocked a /64 of it (or an admin a single address) was told "no active block
 * matched" and exit 0, believing the customer free while its clients stayed refused; and an
 * operator who lifted one address inside a blocked /48 was told the same, with the /48 still
 * refusing that address. Through the real command, on a real SQLite store and the in-process
 * bus (whose lifts the command records in the audit chain itself).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBackend, gatehouse, show, type Backend } from '../cli/support/cli.ts';

interface ListedBlock { id: string; kind: string; value: string }

describe('alerts unblock of an IPv6 prefix', () => {
  let backend: Backend;
  let config: string;
  const run = (args: string[]) => gatehouse([...args, '--config', config]);

  before(async () => {
    backend = await createBackend('sqlite');
    config = await backend.writeConfig();
  });
  after(async () => { await backend?.close(); });

  const block = async (address: string): Promise<string> => {
    const r = await run(['alerts', 'block', '--json', '--address', address, '--for', '10', '--reason', 'test', '--by', 'carol']);
    assert.equal(r.status, 0, show(r));
    return (JSON.parse(r.stdout) as { id: string }).id;
  };
  const active = async (): Promise<ListedBlock[]> => {
    const r = await run(['alerts', 'blocks', '--json']);
    assert.equal(r.status, 0, show(r));
    return JSON.parse(r.stdout) as ListedBlock[];
  };
  const liftRecords = async (): Promise<Record<string, unknown>[]> => {
    const r = await run(['audit', 'query', '--action', 'detect.block.lifted']);
    assert.equal(r.status, 0, show(r));
    return r.stdout.split('\n').filter((l) => l.startsWith('{')).map((l) => JSON.parse(l) as Record<string, unknown>);
  };

  it('unblocking a /48 while only narrower blocks inside it are active (a /64 detection set, a /56, a single address) lifts each of them, lists each, and records each lift; a block outside the /48 stays', async () => {
    const inside = [await block('2001:db8:1:2::/64'), await block('2001:db8:1:ff00::/56'), await block('2001:db8:1:7::9')];
    const outside = await block('2001:db8:2:2::/64');
    const recordedBefore = (await liftRecords()).length;

    const r = await run(['alerts', 'unblock', '--address', '2001:db8:1::/48', '--by', 'dave']);
    assert.equal(r.status, 0, show(r));
    assert.doesNotMatch(r.stdout, /no active block matched/);
    for (const [value, id] of [['2001:db8:1:2::/64', inside[0]], ['2001:db8:1:ff00::/56', inside[1]], ['2001:db8:1:7::9', inside[2]]] as const) {
      assert.match(r.stdout, new RegExp(`^lifted address:${value.replace(/[.:/]/g, '\\$&')} \\(${id}\\)$`, 'm'), show(r));
    }
    assert.deepEqual((await active()).map((b) => b.id), [outside], 'only the block outside the /48 is still active');

    const records = (await liftRecords()).slice(recordedBefore);
    assert.deepEqual(records.map((x) => x.resource).sort(), [...inside].sort(), 'one detect.block.lifted record per lifted block');
    for (const x of records) assert.equal((x.actor as { subject: string }).subject, 'admin:dave');
  });

  it('unblocking an address inside an active /48 fails (exit 1) naming the /48 that covers it, and lifts nothing: neither the /48 nor a block on the address itself', async () => {
    const wide = await block('2001:db8:5::/48');
    const own = await block('2001:db8:5:1::9');
    const r = await run(['alerts', 'unblock', '--address', '2001:db8:5:1::9', '--by', 'dave']);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /ERR_DETECT_BLOCK_COVERED/);
    assert.match(r.stderr, new RegExp(`2001:db8:5::/48 \\(${wide}`), 'names the covering block and its id');
    assert.doesNotMatch(r.stdout, /^lifted/m);
    const ids = (await active()).map((b) => b.id);
    assert.ok(ids.includes(wide) && ids.includes(own), `both blocks are still active: ${JSON.stringify(ids)}`);
  });

  it('unblocking a /64 inside an active /48 fails the same way, and lifting the /48 itself then frees both', async () => {
    const wide = await block('2001:db8:6::/48');
    const narrow = await block('2001:db8:6:3::/64');
    const refused = await run(['alerts', 'unblock', '--address', '2001:db8:6:3::/64', '--by', 'dave']);
    assert.equal(refused.status, 1, show(refused));
    assert.match(refused.stderr, new RegExp(`2001:db8:6::/48 \\(${wide}`));

    const lifted = await run(['alerts', 'unblock', '--address', '2001:db8:6::/48', '--by', 'dave']);
    assert.equal(lifted.status, 0, show(lifted));
    assert.match(lifted.stdout, new RegExp(`\\(${wide}\\)`));
    assert.match(lifted.stdout, new RegExp(`\\(${narrow}\\)`));
    const ids = (await active()).map((b) => b.id);
    assert.ok(!ids.includes(wide) && !ids.includes(narrow), JSON.stringify(ids));
  });

  it('an unblock of a prefix that holds no active block still answers "no active block matched" with exit 0', async () => {
    const r = await run(['alerts', 'unblock', '--address', '2001:db8:ffff::/48', '--by', 'dave']);
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout, /no active block matched/);
  });
});

describe('which block values a prefix covers (as the block check matches them)', () => {
  it('a prefix covers itself, narrower prefixes and addresses inside it, and nothing else: not a wider prefix, not a neighbour, not a NAT64 or IPv4 address', async () => {
    const { blockCovers } = await import('../../src/gateway/http/client-network.ts');
    assert.equal(blockCovers('2001:db8:1::/48', '2001:db8:1::/48'), true);
    assert.equal(blockCovers('2001:db8:1::/48', '2001:db8:1:ffff::/64'), true);
    assert.equal(blockCovers('2001:db8:1::/48', '2001:db8:1:ff00::/56'), true);
    assert.equal(blockCovers('2001:db8:1::/48', '2001:db8:1:2:3:4:5:6'), true);
    assert.equal(blockCovers('2001:db8:1:2::/64', '2001:db8:1:2::9'), true);
    assert.equal(blockCovers('2001:db8::/32', '2001:db8:1::/48'), true);
    assert.equal(blockCovers('2001:db8:1:2::/64', '2001:db8:1::/48'), false, 'not a wider prefix');
    assert.equal(blockCovers('2001:db8:1::/48', '2001:db8:2::/48'), false, 'not a neighbour');
    assert.equal(blockCovers('2001:db8:1::/48', '2001:db8:2::1'), false);
    assert.equal(blockCovers('2001:db8:1:2::9', '2001:db8:1:2::/64'), false, 'an address covers only itself');
    assert.equal(blockCovers('64:ff9b::/64', '64:ff9b::c000:201'), false, 'a NAT64 address is no prefix\'s (each is another IPv4 client)');
    assert.equal(blockCovers('2001:db8:1::/48', '192.0.2.1'), false);
  });

  it('an IPv4 prefix covers itself, narrower IPv4 prefixes and addresses inside it, and nothing else: not a wider prefix, not a neighbour, not an IPv6 or NAT64 address', async () => {
    const { blockCovers } = await import('../../src/gateway/http/client-network.ts');
    assert.equal(blockCovers('198.51.0.0/16', '198.51.0.0/16'), true);
    assert.equal(blockCovers('198.51.0.0/16', '198.51.100.0/24'), true);
    assert.equal(blockCovers('198.51.0.0/16', '198.51.255.255'), true);
    assert.equal(blockCovers('10.0.0.0/8', '10.255.0.0/16'), true);
    assert.equal(blockCovers('192.0.2.0/24', '192.0.2.128/25'), true);
    assert.equal(blockCovers('198.51.100.0/24', '198.51.0.0/16'), false, 'not a wider prefix');
    assert.equal(blockCovers('198.51.100.0/24', '198.51.101.0/24'), false, 'not a neighbour');
    assert.equal(blockCovers('198.51.100.0/24', '198.51.101.1'), false);
    assert.equal(blockCovers('198.51.100.7', '198.51.100.0/24'), false, 'an address covers only itself');
    assert.equal(blockCovers('192.0.2.0/24', '64:ff9b::c000:201'), false, 'an IPv4 prefix holds no NAT64 client');
    assert.equal(blockCovers('192.0.2.0/24', '2001:db8::/32'), false);
    assert.equal(blockCovers('2001:db8::/32', '192.0.2.0/24'), false, 'an IPv6 prefix holds no IPv4 prefix');
  });
});
