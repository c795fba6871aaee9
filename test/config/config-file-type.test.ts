/**
 * A configuration "file" that is not a regular file: a FIFO blocked the read until a writer
 * came (every later reload queued behind it, so the gateway could no longer take any
 * configuration change); a device like /dev/zero filled memory. Both are refused at once
 * with a problem naming the file, as is a file far larger than any configuration.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtemp, rm, rename, truncate, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { ConfigError, loadConfigFile, parseConfig } from '../../src/core/config/load.ts';
import { MAX_CONFIG_BYTES } from '../../src/core/config/read-config-text.ts';
import { Gateway } from '../../src/gateway/gateway.ts';
import { testConfig } from '../support/gateway.ts';

/** The load's outcome, or 'hung' when it has not settled after 5 s (the old behaviour with a FIFO). */
async function outcome(file: string): Promise<string> {
  return Promise.race([
    loadConfigFile(file, { env: {} }).then(() => 'loaded', (err: unknown) => (err instanceof ConfigError ? err.problems.map((p) => p.message).join('; ') : `other: ${String(err)}`)),
    new Promise<string>((r) => setTimeout(() => r('hung'), 5000).unref()),
  ]);
}

describe('configuration files that are not regular files', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'gatehouse-cfgtype-')); });
  after(async () => { await rm(dir, { recursive: true, force: true }); });

  it('a FIFO with no writer is refused at once as not a regular file, instead of blocking the load forever', async () => {
    const fifo = join(dir, 'fifo.yaml');
    execFileSync('mkfifo', [fifo]);
    assert.match(await outcome(fifo), /^cannot read .*fifo\.yaml: not a regular file$/);
  });

  it('a device that never ends (/dev/zero) is refused as not a regular file instead of filling memory', async () => {
    assert.match(await outcome('/dev/zero'), /^cannot read \/dev\/zero: not a regular file$/);
  });

  it(`a file larger than ${MAX_CONFIG_BYTES} bytes is refused, naming the limit`, async () => {
    const big = join(dir, 'big.yaml');
    await writeFile(big, '');
    await truncate(big, MAX_CONFIG_BYTES + 1);
    assert.match(await outcome(big), new RegExp(`^cannot read .*big\\.yaml: larger than ${MAX_CONFIG_BYTES} bytes$`));
  });

  it('a regular file is read as before', async () => {
    const file = join(dir, 'ok.yaml');
    await writeFile(file, 'logging:\n  level: warn\n');
    assert.equal(await outcome(file), 'loaded');
  });

  it('a gateway whose config file is swapped for a FIFO refuses that reload and still takes the next valid change (reloads are not wedged)', async () => {
    const file = join(dir, 'gatehouse.yaml');
    const input = testConfig(dir, { logging: { level: 'warn' } });
    await writeFile(file, stringify(input));
    const gateway = await Gateway.start({ config: parseConfig(input, { env: {} }), configFile: file, watch: false, env: {}, logDestination: { write: () => true } as never });
    try {
      const fifo = join(dir, 'swap.fifo');
      execFileSync('mkfifo', [fifo]);
      await rename(fifo, file);
      const refused = await Promise.race([gateway.reload('test'), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000).unref())]);
      if (refused === 'hung') assert.fail('the reload never finished');
      assert.equal(refused.applied, false);
      await rm(file);
      await writeFile(file, stringify(testConfig(dir, { logging: { level: 'debug' } })));
      const applied = await Promise.race([gateway.reload('test'), new Promise<'hung'>((r) => setTimeout(() => r('hung'), 5000).unref())]);
      if (applied === 'hung') assert.fail('the next reload queued behind the FIFO read');
      assert.equal(applied.applied, true, JSON.stringify(applied));
    } finally {
      await gateway.stop();
    }
  });
});
