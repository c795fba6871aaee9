/**
 * A configuration file that holds secrets written in it (not `${ENV_VAR}`) and that other
 * users of the machine can read gives those secrets away: `config validate` and `start`
 * say so, naming the keys (never the values) and the mode.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { chmod, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { loadConfigFile } from '../../src/core/config/load.ts';
import { gatehouse, show } from '../cli/support/cli.ts';

const PKI_KEY = 'pki-key-literal-never-printed-0123456789abcdef';
const KEK = 'kek-literal-never-printed-0123456789abcdefghijklmnopqrstu';
const DB_PASSWORD = 'db-password-literal-never-printed';
const OTLP_TOKEN = 'otlp-token-literal-never-printed';

const WITH_LITERAL_SECRETS = [
  `pki: { key: "${PKI_KEY}" }`,
  `identity: { signing: { keyEncryptionSecret: "${KEK}" } }`,
  `store: { url: "postgres://gate:${DB_PASSWORD}@127.0.0.1:1/gatehouse" }`,
  `tracing: { headers: { authorization: "Bearer ${OTLP_TOKEN}" } }`,
  '',
].join('\n');

describe('configuration file readable by others', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'gh-secret-mode-')); });
  after(() => rm(dir, { recursive: true, force: true }));

  async function fileWith(name: string, text: string, mode: number): Promise<string> {
    const file = join(dir, name);
    await writeFile(file, text);
    await chmod(file, mode);
    return file;
  }

  it('a world-readable file holding a literal CA key, key-encryption secret, store password and exporter token is warned about by key path, without the values', async () => {
    const file = await fileWith('open.yaml', WITH_LITERAL_SECRETS, 0o644);
    const loaded = await loadConfigFile(file, { env: { NODE_ENV: 'test' } });
    const text = (loaded.fileWarnings ?? []).join('\n');
    for (const path of ['pki.key', 'identity.signing.keyEncryptionSecret', 'store.url', 'tracing.headers.authorization']) assert.ok(text.includes(path), text);
    assert.match(text, /mode 644/);
    for (const secret of [PKI_KEY, KEK, DB_PASSWORD, OTLP_TOKEN]) assert.ok(!text.includes(secret), text);

    const r = await gatehouse(['config', 'validate', file], { cwd: dir });
    assert.equal(r.status, 0, show(r));
    assert.match(r.stdout + r.stderr, /readable by .*pki\.key/, show(r));
    for (const secret of [PKI_KEY, KEK, DB_PASSWORD, OTLP_TOKEN]) assert.ok(!(r.stdout + r.stderr).includes(secret), show(r));
  });

  it('no warning for the same file at mode 600, nor for a readable file whose secrets are ${ENV_VAR} references', async () => {
    const closed = await fileWith('closed.yaml', WITH_LITERAL_SECRETS, 0o600);
    assert.deepEqual((await loadConfigFile(closed, { env: { NODE_ENV: 'test' } })).fileWarnings ?? [], []);
    const env = { NODE_ENV: 'test', GH_PKI: PKI_KEY, GH_KEK: KEK, GH_DB: DB_PASSWORD, GH_TOKEN: OTLP_TOKEN };
    const referenced = await fileWith('env.yaml', [
      'pki: { key: "${GH_PKI}" }',
      'identity: { signing: { keyEncryptionSecret: "${GH_KEK}" } }',
      'store: { url: "postgres://gate:${GH_DB}@127.0.0.1:1/gatehouse" }',
      'tracing: { headers: { authorization: "Bearer ${GH_TOKEN}" } }',
      '',
    ].join('\n'), 0o644);
    assert.deepEqual((await loadConfigFile(referenced, { env })).fileWarnings ?? [], []);
  });
});
