/**
 * The `gatehouse` command keeps Node's compile cache beside the code (src/cli/compile-cache.ts),
 * not in the shared temporary directory where another local user could plant entries, and
 * honours Node's own switches. Checked in fresh processes, as a command starts.
 */
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { COMPILE_CACHE_DIR } from '../../src/cli/compile-cache.ts';

const run = promisify(execFile);
const script = `
  import { getCompileCacheDir } from 'node:module';
  import { enableGatehouseCompileCache } from ${JSON.stringify(new URL('../../src/cli/compile-cache.ts', import.meta.url).href)};
  enableGatehouseCompileCache();
  console.log(JSON.stringify(getCompileCacheDir() ?? null));`;

async function cacheDirWith(env: Record<string, string>): Promise<string | null> {
  const clean = { ...process.env };
  delete clean.NODE_COMPILE_CACHE;
  delete clean.NODE_DISABLE_COMPILE_CACHE;
  const { stdout } = await run(process.execPath, ['--input-type=module', '-e', script], { env: { ...clean, ...env }, timeout: 60_000 });
  return JSON.parse(stdout.trim()) as string | null;
}

describe('the command\'s compile cache', () => {
  it('is kept in node_modules/.cache/gatehouse-compile beside the code, not in the shared temporary directory', async () => {
    const dir = await cacheDirWith({});
    assert.ok(dir?.startsWith(COMPILE_CACHE_DIR), `cache in ${dir}`);
    assert.match(COMPILE_CACHE_DIR, /node_modules\/\.cache\/gatehouse-compile$/);
  });

  it('NODE_DISABLE_COMPILE_CACHE=1 turns it off', async () => {
    assert.equal(await cacheDirWith({ NODE_DISABLE_COMPILE_CACHE: '1' }), null);
  });
});
