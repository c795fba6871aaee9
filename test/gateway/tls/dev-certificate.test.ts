/**
 * The development certificate's files in the data directory: written without following
 * links, private key 0600 whatever was there before, and a key others can read is not reused.
 */
import { afterEach, beforeEach, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { chmod, lstat, mkdir, mkdtemp, readFile, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ensureDevCertificate } from '../../../src/gateway/tls/dev-certificate.ts';

let dir: string;
const keyFile = () => join(dir, 'tls', 'localhost.key');
const certFile = () => join(dir, 'tls', 'localhost.crt');

describe('development certificate files', () => {
  beforeEach(async () => { dir = await mkdtemp(join(tmpdir(), 'gh-devcert-')); });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  it('a localhost.key symlink planted in the data directory is replaced, not followed: its target is not overwritten with the private key', async () => {
    const victim = join(dir, 'victim.txt');
    const victimCert = join(dir, 'victim-cert.txt');
    await writeFile(victim, 'precious\n', { mode: 0o644 });
    await writeFile(victimCert, 'also precious\n', { mode: 0o644 });
    await mkdir(join(dir, 'tls'), { mode: 0o700 });
    await symlink(victim, keyFile());
    await symlink(victimCert, certFile());
    const pair = await ensureDevCertificate(dir);
    assert.equal(pair.created, true);
    assert.equal(await readFile(victim, 'utf8'), 'precious\n');
    assert.equal(await readFile(victimCert, 'utf8'), 'also precious\n');
    const st = await lstat(keyFile());
    assert.ok(st.isFile(), 'the key is a regular file now');
    assert.equal(st.mode & 0o777, 0o600);
    assert.equal(await readFile(keyFile(), 'utf8'), pair.key);
  });

  it('a key file left readable by group or others is not reused; the new key is written 0600 (writeFile keeps an existing file\'s mode)', async () => {
    const first = await ensureDevCertificate(dir);
    await chmod(keyFile(), 0o644);
    const second = await ensureDevCertificate(dir);
    assert.equal(second.created, true);
    assert.notEqual(second.key, first.key);
    assert.equal((await stat(keyFile())).mode & 0o777, 0o600);
    const third = await ensureDevCertificate(dir);
    assert.equal(third.created, false, 'a private key file is reused');
    assert.equal(third.key, second.key);
  });

  it('a certificate that does not belong to the stored key is generated again instead of failing the listener at start', async () => {
    await ensureDevCertificate(dir);
    const other = join(dir, 'other');
    await ensureDevCertificate(other);
    await writeFile(certFile(), await readFile(join(other, 'tls', 'localhost.crt')));
    const pair = await ensureDevCertificate(dir);
    assert.equal(pair.created, true);
    assert.ok(new X509Certificate(pair.cert).checkPrivateKey(createPrivateKey(pair.key)));
  });
});
