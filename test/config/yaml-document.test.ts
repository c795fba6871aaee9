/**
 * The configuration file is read as plain YAML 1.2 data (core schema): no YAML 1.1 meanings,
 * no tags that build other objects, no merge keys, no alias bombs, no duplicate keys. What the
 * file says is either read exactly or refused with its line; nothing is dropped silently.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError, loadConfigFile } from '../../src/core/config/load.ts';

let dir: string;
let n = 0;
async function load(text: string) {
  const file = join(dir, `c${n++}.yaml`);
  await writeFile(file, text);
  return loadConfigFile(file, { env: { NODE_ENV: 'test' } });
}
async function problemsOf(text: string): Promise<string[]> {
  try { await load(text); } catch (err) {
    assert.ok(err instanceof ConfigError, String(err));
    return err.problems.map((p) => `${p.path.join('.')}: ${p.message}`);
  }
  assert.fail(`accepted:\n${text}`);
}

const UPSTREAM = 'http://127.0.0.1:1';

describe('configuration file as YAML', () => {
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'gh-yaml-')); });
  after(() => rm(dir, { recursive: true, force: true }));

  it('refuses a %YAML 1.1 document (`no` read as false, `<<` merging, 0777 as octal) instead of reading it with YAML 1.1 meanings', async () => {
    const problems = await problemsOf('%YAML 1.1\n---\nlogging: { accessLog: no }\n');
    assert.ok(problems.some((p) => /^: .*YAML 1\.1.* line 1/.test(p)), problems.join('\n'));
    await problemsOf('%YAML 1.1\n---\nbase: &b { level: debug }\nlogging: { <<: *b }\n');
  });

  it('YAML 1.1 booleans (on, no, yes, off) in a YAML 1.2 file are strings and refused where a boolean is expected', async () => {
    for (const word of ['on', 'no', 'yes', 'off', 'y', 'N']) {
      const problems = await problemsOf(`logging: { accessLog: ${word} }\n`);
      assert.deepEqual(problems, ['logging.accessLog: Invalid input: expected boolean, received string'], word);
    }
  });

  it('a merge key `<<` is an unknown key, not a merge', async () => {
    const problems = await problemsOf('x-common: &c { level: debug }\nlogging: { <<: *c }\n');
    assert.ok(problems.includes('logging: unknown key(s): <<'), problems.join('\n'));
  });

  it('refuses !!omap, !!set and a %TAG alias of them instead of reading the upstreams they hold as none', async () => {
    for (const text of [
      `upstreams: !!omap [ { a: { url: "${UPSTREAM}" } } ]\n`,
      'trustedProxies: !!set { 10.0.0.0/8 }\n',
      `%TAG !t! tag:yaml.org,2002:\n---\nupstreams: !t!omap [ { a: { url: "${UPSTREAM}" } } ]\n`,
    ]) {
      const problems = await problemsOf(text);
      assert.ok(problems.some((p) => /tag/i.test(p) && /line \d+/.test(p)), `${text}\n${problems.join('\n')}`);
    }
  });

  it('refuses an unknown or application tag (!vault, !!js/function, !!binary, !!timestamp) instead of reading its text as a string', async () => {
    for (const value of ['!vault secret/data/gatehouse', '!!js/function "x"', '!!binary aGVsbG8=', '!!timestamp 2001-12-14']) {
      const problems = await problemsOf(`dataDir: ${value}\n`);
      assert.ok(problems.some((p) => /^: .*tag.*line 1/i.test(p)), `${value}\n${problems.join('\n')}`);
    }
  });

  it('refuses an alias bomb (billion laughs) quickly', async () => {
    const rows = ['a: &a ["x","x","x","x","x","x","x","x","x"]'];
    for (const [i, c] of [...'bcdefgh'].entries()) rows.push(`${c}: &${c} [${Array(9).fill(`*${'abcdefgh'[i]}`).join(',')}]`);
    const started = Date.now();
    const problems = await problemsOf(rows.join('\n') + '\n');
    assert.ok(problems.some((p) => /alias/i.test(p)), problems.join('\n'));
    assert.ok(Date.now() - started < 2000);
  });

  it('refuses duplicate keys in YAML and in JSON (the last would win silently)', async () => {
    assert.match((await problemsOf('dataDir: a\ndataDir: b\n'))[0]!, /unique.*line 2/);
    assert.match((await problemsOf('{"logging": {"level": "info", "level": "debug"}}'))[0]!, /unique/);
  });

  it('refuses a second document instead of ignoring it', async () => {
    const problems = await problemsOf('dataDir: a\n---\nmode: production\n');
    assert.ok(problems.some((p) => /document/i.test(p)), problems.join('\n'));
  });

  it('reads ordinary YAML 1.2 and JSON files, anchors and explicit %YAML 1.2 included', async () => {
    const a = await load(`%YAML 1.2\n---\nupstreams:\n  a: &u { url: "${UPSTREAM}" }\n  b: *u\nlogging: { accessLog: false, level: !!str debug }\nlimits: { maxHeaderBytes: 0x4000 }\n`);
    assert.equal(a.config.upstreams.b!.url, UPSTREAM);
    assert.equal(a.config.logging.accessLog, false);
    assert.equal(a.config.limits.maxHeaderBytes, 16384);
    const b = await load(JSON.stringify({ logging: { level: 'warn' }, trustedProxies: ['10.0.0.0/8'] }));
    assert.deepEqual(b.config.trustedProxies, ['10.0.0.0/8']);
  });
});
