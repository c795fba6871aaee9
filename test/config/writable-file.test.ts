/**
 * The configuration is reloaded live on every change: whoever can write the file, or rename
 * another over it, decides the routes and who may use them. A file every local user can
 * change is refused in production and warned about in development; a group-writable one is
 * warned about.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile } from '../../src/core/config/load.ts';

describe('configuration file others can change', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'gh-writable-')); });
  after(() => rm(dir, { recursive: true, force: true }));

  async function fileIn(sub: string, dirMode: number, fileMode: number): Promise<string> {
    const d = join(dir, sub);
    await mkdir(d);
    const file = join(d, 'gatehouse.yaml');
    await writeFile(file, 'logging: { level: info }\n');
    await chmod(file, fileMode);
    await chmod(d, dirMode);
    return file;
  }

  async function problemsOf(file: string): Promise<string[]> {
    const development = await loadConfigFile(file, { env: { NODE_ENV: 'test' } });
    assert.ok((development.fileWarnings ?? []).some((w) => /writable by every user.*refused when NODE_ENV=production/.test(w)), String(development.fileWarnings));
    try { await loadConfigFile(file, { env: { NODE_ENV: 'production' } }); } catch (err) {
      assert.ok(err instanceof ConfigError, String(err));
      return err.problems.map((p) => p.message);
    }
    assert.fail(`accepted ${file}`);
  }

  it('refuses in production (warns in development) a world-writable configuration file (any local user could rewrite the routes, applied by hot reload)', async () => {
    const problems = await problemsOf(await fileIn('world-file', 0o755, 0o666));
    assert.ok(problems.some((p) => /^not allowed in production: .*writable by every user.*mode 666/.test(p)), problems.join('\n'));
  });

  it('refuses in production (warns in development) a file in a world-writable directory without the sticky bit (any local user could rename another file over it)', async () => {
    const problems = await problemsOf(await fileIn('world-dir', 0o777, 0o644));
    assert.ok(problems.some((p) => /directory .*writable by every user/.test(p)), problems.join('\n'));
  });

  it('accepts 644 and 600 files, and a world-writable directory with the sticky bit (like /tmp); warns about a group-writable file', async () => {
    for (const [sub, dirMode, fileMode] of [['ok-644', 0o755, 0o644], ['ok-600', 0o700, 0o600], ['sticky', 0o1777, 0o644]] as const) {
      const loaded = await loadConfigFile(await fileIn(sub, dirMode, fileMode), { env: { NODE_ENV: 'test' } });
      assert.deepEqual(loaded.fileWarnings ?? [], [], sub);
    }
    const group = await loadConfigFile(await fileIn('group', 0o755, 0o664), { env: { NODE_ENV: 'test' } });
    assert.ok((group.fileWarnings ?? []).some((w) => /writable by its group/.test(w)), String(group.fileWarnings));
  });
});
