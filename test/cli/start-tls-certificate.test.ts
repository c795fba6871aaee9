/**
 * A configured listener certificate that cannot serve (expired, not yet valid, another key's,
 * unreadable) stops `gatehouse start` at once with the key's path: before the store, the CA and
 * the keys are set up, instead of an OpenSSL message after them, or an expired certificate
 * served to every client.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gatehouse, show } from './support/cli.ts';
import { selfSignedCertificate } from '../support/self-signed.ts';

/** A self-signed localhost certificate valid from `notBefore` to `notAfter`, and its key, as PEM files. */
async function certificate(dir: string, name: string, notBefore: Date, notAfter: Date): Promise<{ cert: string; key: string }> {
  const pem = await selfSignedCertificate(notBefore, notAfter);
  const files = { cert: join(dir, `${name}.crt`), key: join(dir, `${name}.key`) };
  await writeFile(files.cert, pem.cert);
  await writeFile(files.key, pem.key, { mode: 0o600 });
  return files;
}

const DAY = 86_400_000;

describe('gatehouse start with a configured certificate that cannot serve', () => {
  let dir: string;
  before(async () => { dir = await mkdtemp(join(tmpdir(), 'gh-cli-tls-')); });
  after(() => rm(dir, { recursive: true, force: true }));

  async function start(name: string, tls: { cert: string; key: string }) {
    // A start that serves is ended once it says so (or after 20 s when it never does).
    const file = join(dir, `${name}.yaml`);
    await writeFile(file, `dataDir: ${join(dir, `${name}-data`)}\nlisteners:\n  https: { host: 127.0.0.1, port: 0, tls: { cert: "${tls.cert}", key: "${tls.key}" } }\n  http: { enabled: false }\n  ops: { host: 127.0.0.1, port: 0 }\n`);
    const r = await gatehouse(['start', '--config', file], { timeoutMs: 20_000, stopWhen: /Gatehouse is listening/ });
    return { r, data: join(dir, `${name}-data`) };
  }

  it('refuses an expired certificate, naming it, before the data directory is set up', async () => {
    const files = await certificate(dir, 'expired', new Date(Date.now() - 60 * DAY), new Date(Date.now() - DAY));
    const { r, data } = await start('expired', files);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /listeners\.https\.tls\.cert: .*expired\.crt expired on \d{4}-/, show(r));
    assert.equal(existsSync(data), false, 'no store, CA or key was created');
  });

  it('refuses a certificate that is not valid yet', async () => {
    const files = await certificate(dir, 'future', new Date(Date.now() + DAY), new Date(Date.now() + 60 * DAY));
    const { r } = await start('future', files);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /listeners\.https\.tls\.cert: .*not valid before/, show(r));
  });

  it('refuses a key that is not the certificate\'s (made by OpenSSL), before the data directory is set up', async () => {
    const cert = join(dir, 'openssl.crt');
    const key = join(dir, 'openssl.key');
    const other = join(dir, 'other.key');
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', key, '-out', cert, '-subj', '/CN=localhost', '-days', '30'], { stdio: 'ignore' });
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', other], { stdio: 'ignore' });
    const { r, data } = await start('mismatch', { cert, key: other });
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /listeners\.https\.tls\.key: .*other\.key is not the private key of the certificate/, show(r));
    assert.doesNotMatch(r.stderr, /BEGIN|PRIVATE KEY-----/, 'the key is never printed');
    assert.equal(existsSync(data), false);
  });

  it('refuses a certificate file that does not exist, naming it', async () => {
    const files = await certificate(dir, 'present', new Date(Date.now() - DAY), new Date(Date.now() + 60 * DAY));
    const { r } = await start('missing', { cert: join(dir, 'absent.crt'), key: files.key });
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /listeners\.https\.tls\.cert: cannot read .*absent\.crt/, show(r));
  });

  it('starts with a certificate about to expire, with a warning', async () => {
    const files = await certificate(dir, 'soon', new Date(Date.now() - DAY), new Date(Date.now() + 3 * DAY));
    const { r } = await start('soon', files);
    assert.match(r.stdout, /Gatehouse is listening on https:\/\/localhost:\d+/, show(r));
    assert.match(r.stderr, /warning: listeners\.https\.tls\.cert: .*soon\.crt expires on/, show(r));
  });
});
