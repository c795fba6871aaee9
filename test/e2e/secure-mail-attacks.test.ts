/**
 * Secure mail: calls that bypass Gatehouse are refused, services refuse callers that are
 * not theirs, and crypto-shredding leaves nothing that can decrypt a backed-up message.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { copyFile, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { setTimeout as sleep } from 'node:timers/promises';
import { Agent, request } from 'undici';
import { mtlsClientOptions } from '../../src/pki/mtls/tls-options.ts';
import { IDENTITY_ASSERTION_HEADER } from '../../src/sdk/contract.ts';
import { createServiceCaller } from '../../examples/secure-mail/shared/service-caller.ts';
import { staticServiceTls } from '../../examples/secure-mail/shared/service-tls.ts';
import { openContent, openField } from '../../examples/secure-mail/crypto/envelope.ts';
import { unseal } from '../../examples/secure-mail/crypto/local-key-service.ts';
import { startMailFabric, type MailFabric, type ServiceKey } from './secure-mail-support/fabric.ts';
import type { IssuedFiles } from './secure-mail-support/pki.ts';

const SERVICES: ServiceKey[] = ['keys', 'messages', 'lifetime', 'notification'];

describe('secure mail: direct calls that bypass Gatehouse', () => {
  let f: MailFabric;
  before(async () => { f = await startMailFabric(); });
  after(async () => { await f?.close(); });

  const direct = (service: ServiceKey, cert: IssuedFiles | undefined, headers: Record<string, string> = {}) => {
    const u = f.upstream(service);
    const agent = new Agent({
      connect: cert
        ? mtlsClientOptions(cert.material, f.pki.trust, { expectedSpiffeId: u.spiffeId }, { checkHostname: false })
        : { ca: f.pki.trust.bundlePem + f.pki.trust.intermediatesPem, rejectUnauthorized: true, checkServerIdentity: () => undefined },
    });
    return request(`${u.url}${u.prefix}/anything`, { method: 'GET', dispatcher: agent, headers })
      .then(async (r) => ({ status: r.statusCode, body: await r.body.text() }))
      .finally(() => agent.close());
  };

  for (const service of SERVICES) {
    it(`${service}: a client without a certificate is cut off in the TLS handshake (audited ERR_PKI_PEER_CERT_MISSING)`, async () => {
      await assert.rejects(direct(service, undefined));
      await sleep(20);
      assert.ok(f[service].audit.list().some((e) => e.action === 'connect' && e.outcome === 'denied' && e.reason === 'ERR_PKI_PEER_CERT_MISSING'));
    });

    it(`${service}: another service's valid certificate is refused (ERR_PKI_PEER_IDENTITY_MISMATCH)`, async () => {
      // The messages service itself calling directly instead of through Gatehouse, and an unrelated workload.
      await assert.rejects(direct(service, f.certs.messages));
      await assert.rejects(direct(service, f.certs.intruder));
      await sleep(20);
      assert.ok(f[service].audit.list().some((e) => e.action === 'connect' && e.reason === 'ERR_PKI_PEER_IDENTITY_MISMATCH'));
    });

    it(`${service}: Gatehouse's own certificate without an identity assertion gets 401 ERR_SDK_ASSERTION_MISSING`, async () => {
      const r = await direct(service, f.certs.gateway);
      assert.equal(r.status, 401);
      assert.equal(JSON.parse(r.body).error.code, 'ERR_SDK_ASSERTION_MISSING');
    });

    it(`${service}: an assertion issued for another service is refused (ERR_SDK_ASSERTION_AUDIENCE)`, async () => {
      const other = service === 'keys' ? 'lifetime' : 'keys';
      const token = await f.relay.signer.sign({ subject: 'usr_alice0000000000000000', kind: 'user', roles: [], method: 'session', amr: ['pwd'], authTime: undefined, mfaTime: undefined, credentialId: 'x', issuer: undefined, attributes: {} }, other);
      const r = await direct(service, f.certs.gateway, { [IDENTITY_ASSERTION_HEADER]: token });
      assert.equal(r.status, 401);
      assert.equal(JSON.parse(r.body).error.code, 'ERR_SDK_ASSERTION_AUDIENCE');
    });
  }

  it('an assertion signed by a key that is not Gatehouse\'s is refused (ERR_SDK_ASSERTION_INVALID)', async () => {
    const { createAssertionSigner } = await import('../../src/gateway/assertion/signer.ts');
    const rogue = await createAssertionSigner({ issuer: 'https://gatehouse.mail.test' });
    const token = await rogue.sign({ subject: 'usr_alice0000000000000000', kind: 'user', roles: [], method: 'session', amr: ['pwd'], authTime: undefined, mfaTime: undefined, credentialId: 'x', issuer: undefined, attributes: {} }, 'messages');
    rogue.close();
    const r = await direct('messages', f.certs.gateway, { [IDENTITY_ASSERTION_HEADER]: token });
    assert.equal(r.status, 401);
    assert.equal(JSON.parse(r.body).error.code, 'ERR_SDK_ASSERTION_INVALID');
  });

  it('the notification service, through Gatehouse, may not unwrap keys (403 MAIL_FORBIDDEN from the key service)', async () => {
    const caller = createServiceCaller({ gatewayUrl: f.relay.url, tls: staticServiceTls(f.certs.notification.material, f.pki.trust), gatewaySpiffeId: f.certs.gateway.spiffeId });
    try {
      const r = await caller.call<{ error: { code: string } }>('POST', '/svc/keys/unwrap', { keyId: `msg_${'0'.repeat(32)}`, wrapped: 'AAAA' });
      assert.equal(r.status, 403);
      assert.equal(r.body.error.code, 'MAIL_FORBIDDEN');
    } finally { await caller.close(); }
  });

  it('a user, through Gatehouse, may not call the key service (403) nor delete a message (403)', async () => {
    const keys = await f.relay.asUser('usr_alice0000000000000000', f.upstream('keys'), 'DELETE', `/svc/keys/keys/msg_${'1'.repeat(32)}`);
    assert.equal(keys.status, 403);
    const del = await f.relay.asUser('usr_alice0000000000000000', f.upstream('messages'), 'DELETE', `/svc/messages/messages/msg_${'1'.repeat(32)}`);
    assert.equal(del.status, 403);
  });

  it('a mail user let through to the admin API by a misconfigured gateway cannot purge a mailbox: the messages service checks the role itself (403 MAIL_FORBIDDEN), nothing destroyed', async () => {
    const sent = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject: 'Keep', body: 'still here', lifetimeSeconds: 3600, readOnce: false });
    assert.equal(sent.status, 201, sent.text);
    const before = f.messages.repo.counts();
    const r = await f.relay.asUser('usr_alice0000000000000000', f.upstream('messages'), 'POST', '/api/admin/purge', { username: 'bob' });
    assert.equal(r.status, 403, r.text);
    assert.equal((r.body as { error: { code: string } }).error.code, 'MAIL_FORBIDDEN');
    assert.deepEqual(f.messages.repo.counts(), before);
    assert.ok(f.messages.audit.list().some((e) => e.action === 'mailbox.purge' && e.outcome === 'denied' && e.reason === 'MAIL_FORBIDDEN'));
  });
});

describe('secure mail: crypto-shredding', () => {
  let f: MailFabric;
  before(async () => { f = await startMailFabric(); });
  after(async () => { await f?.close(); });

  it('after deletion, ciphertext of the text and the subject from a backup taken before cannot be decrypted with anything left', async () => {
    const sent = await f.user('alice', 'POST', '/api/mail/messages', { to: ['bob'], subject: 'backup me', body: 'only bob may know', lifetimeSeconds: 3600, readOnce: true });
    const { id } = sent.body as { id: string };
    const backup = join(f.dir, 'content-backup.db');
    await copyFile(f.messages.files.content, backup);
    const metaBackup = join(f.dir, 'metadata-backup.db');
    await copyFile(f.messages.files.metadata, metaBackup);
    // Neither file of the backup holds the subject in plain text: only its ciphertext, beside the text's.
    for (const file of [backup, metaBackup]) assert.equal((await readFile(file)).indexOf('backup me'), -1, `the subject is in plain text in ${file}`);
    const keysBackup = join(f.dir, 'keys-backup.db');
    await copyFile(f.keys.dbFile, keysBackup);

    // Bob reads it (read-once): the lifetime service shreds it at once.
    assert.equal((await f.user('bob', 'POST', `/api/mail/messages/${id}/read`)).status, 200);
    for (let i = 0; i < 100 && f.lifetime.repo.get(id)?.state !== 'done'; i++) await sleep(50);
    assert.equal(f.lifetime.repo.get(id)?.state, 'done');

    const old = new DatabaseSync(backup, { readOnly: true });
    const row = old.prepare('SELECT iv, ciphertext, tag, wrapped_key, subject_iv, subject_ciphertext, subject_tag FROM contents WHERE message_id = ?').get(id) as Record<string, Uint8Array>;
    old.close();
    assert.ok(row, 'the backup holds the ciphertext');

    // 1. The key service refuses: the key is destroyed.
    await assert.rejects(f.keys.keys.unwrap(id, row.wrapped_key!), { code: 'MAIL_KEY_DESTROYED' });
    // 2. No key the key service still holds opens the wrapped data key (as this message's, or at all).
    const masterKey = Buffer.from((await readFile(join(f.configs.keys.dataDir as string, 'master.key'), 'utf8')).trim(), 'base64');
    const live = new DatabaseSync(f.keys.dbFile, { readOnly: true });
    const keks = live.prepare('SELECT key_id, sealed FROM keks').all() as { key_id: string; sealed: Uint8Array }[];
    live.close();
    for (const k of keks) {
      const kek = unseal(masterKey, k.sealed, `kek/${k.key_id}`);
      assert.throws(() => unseal(kek, row.wrapped_key!, `dek/${id}`));
      assert.throws(() => unseal(kek, row.wrapped_key!, `dek/${k.key_id}`));
    }
    // 3. Nor does the master key itself, used directly.
    assert.throws(() => unseal(masterKey, row.wrapped_key!, `dek/${id}`));
    // 4. The sealed key bytes are gone from the key service's file (secure_delete), not just unlinked.
    const oldKeys = new DatabaseSync(keysBackup, { readOnly: true });
    const sealed = (oldKeys.prepare('SELECT sealed FROM keks WHERE key_id = ?').get(id) as { sealed: Uint8Array }).sealed;
    oldKeys.close();
    const file = await readFile(f.keys.dbFile);
    assert.equal(file.indexOf(Buffer.from(sealed)), -1, 'destroyed key material still in keys.db');
    // And the content really was the message (the test could fail): with the key from before, it opens.
    const before = new DatabaseSync(keysBackup, { readOnly: true });
    const kekRow = before.prepare('SELECT sealed FROM keks WHERE key_id = ?').get(id) as { sealed: Uint8Array };
    before.close();
    const dek = unseal(unseal(masterKey, kekRow.sealed, `kek/${id}`), row.wrapped_key!, `dek/${id}`);
    assert.equal(openContent(dek, { iv: row.iv!, ciphertext: row.ciphertext!, tag: row.tag! }, id).toString(), 'only bob may know');
    // The subject is sealed under that same data key, which only the destroyed KEK unwrapped.
    assert.equal(openField(dek, { iv: row.subject_iv!, ciphertext: row.subject_ciphertext!, tag: row.subject_tag! }, id, 'subject').toString(), 'backup me');
  });
});
