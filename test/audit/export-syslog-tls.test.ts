/**
 * Audit export over syslog on TLS (RFC 5425): a real TLS receiver on loopback reads
 * octet-counted RFC 5424 messages. The receiver is authenticated by its certificate: one
 * signed by a CA the exporter was not told to trust, or not naming the host, gets nothing.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer as createTlsServer, type Server } from 'node:tls';
import type { AddressInfo } from 'node:net';
import { writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { AuditWriter } from '../../src/audit/writer.ts';
import { exportAudit } from '../../src/audit/export/export.ts';
import { createSyslogSink } from '../../src/audit/export/syslog.ts';
import { generateSigningJwk, signingKeyFromJwk } from '../../src/audit/signing-key.ts';
import type { Store } from '../../src/store/index.ts';
import { sqliteBackend, type TestDatabase } from './support/backends.ts';
import { accessDraft } from './support/events.ts';
import { selfSignedCertificate } from '../support/self-signed.ts';

const RECORDS = 50;

/** Splits an RFC 6587 octet-counted stream into its messages. */
function frames(stream: Buffer): string[] {
  const out: string[] = [];
  let at = 0;
  while (at < stream.length) {
    const space = stream.indexOf(0x20, at);
    const length = Number(stream.subarray(at, space).toString('ascii'));
    out.push(stream.subarray(space + 1, space + 1 + length).toString('utf8'));
    at = space + 1 + length;
  }
  return out;
}

interface Receiver { port: number; received(): Buffer; handshakes(): number; close(): void }

async function tlsReceiver(material: { cert: string; key: string }): Promise<Receiver> {
  const chunks: Buffer[] = [];
  let handshakes = 0;
  const server: Server = createTlsServer(material, (s) => {
    handshakes += 1;
    s.on('data', (d: Buffer) => chunks.push(d));
    s.on('error', () => undefined);
  });
  server.on('tlsClientError', () => undefined);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { port: (server.address() as AddressInfo).port, received: () => Buffer.concat(chunks), handshakes: () => handshakes, close: () => server.close() };
}

describe('audit export to a syslog receiver over TLS (RFC 5425)', () => {
  let db: TestDatabase;
  let store: Store;
  let receiverCert: { cert: string; key: string };
  let caFile: string;
  let otherCaFile: string;

  before(async () => {
    db = await sqliteBackend.create();
    store = await db.open();
    const key = await signingKeyFromJwk(await generateSigningJwk());
    const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: join(db.dir, 'spool'), signingKey: key });
    for (let i = 0; i < RECORDS; i++) writer.append(accessDraft(i, { path: `/inbox/${i}` }));
    await writer.close();
    const now = Date.now();
    receiverCert = await selfSignedCertificate(new Date(now - 3600_000), new Date(now + 3600_000));
    const other = await selfSignedCertificate(new Date(now - 3600_000), new Date(now + 3600_000));
    caFile = join(db.dir, 'receiver-ca.pem');
    otherCaFile = join(db.dir, 'other-ca.pem');
    await writeFile(caFile, receiverCert.cert);
    await writeFile(otherCaFile, other.cert);
  });
  after(async () => {
    await store?.close();
    await db?.drop();
  });

  it('a receiver whose certificate the configured CA signed gets every record, octet-counted RFC 5424 messages over TLS', async () => {
    const receiver = await tlsReceiver(receiverCert);
    try {
      const sink = await createSyslogSink({ url: `tls://localhost:${receiver.port}`, ca: caFile, timeoutMs: 2000 });
      assert.equal(await exportAudit(store, {}, sink), RECORDS);
      await sink.close();
      const messages = frames(receiver.received());
      assert.equal(messages.length, RECORDS);
      assert.match(messages[0]!, /^<\d+>1 \S+ \S+ gatehouse - \S+ \[gatehouse@32473 chain="[^"]+" seq="1" /);
      assert.ok(messages.at(-1)!.includes(`seq="${RECORDS}"`), messages.at(-1));
    } finally {
      receiver.close();
    }
  });

  it('a man in the middle with a certificate from a CA that is not trusted (the system roots or the configured one) is refused before any record is sent', async () => {
    for (const ca of [undefined, otherCaFile]) {
      const impostor = await tlsReceiver(receiverCert);
      try {
        await assert.rejects(createSyslogSink({ url: `tls://localhost:${impostor.port}`, timeoutMs: 2000, ...(ca ? { ca } : {}) }), (err: { code?: string; detail?: string }) => {
          assert.equal(err.code, 'ERR_AUDIT_EXPORT_FAILED');
          assert.match(err.detail ?? '', /^syslog tls:\/\/localhost:\d+: .*certificate/i);
          return true;
        });
        assert.equal(impostor.received().length, 0, 'nothing was sent to the impostor');
      } finally {
        impostor.close();
      }
    }
  });

  it('a receiver whose trusted certificate does not name the host connected to is refused (the name is checked, not only the signature)', async () => {
    const receiver = await tlsReceiver(receiverCert);
    try {
      // The certificate names localhost only; 127.0.0.1 is not in it.
      await assert.rejects(createSyslogSink({ url: `tls://127.0.0.1:${receiver.port}`, ca: caFile, timeoutMs: 2000 }), (err: { code?: string; detail?: string }) => {
        assert.equal(err.code, 'ERR_AUDIT_EXPORT_FAILED');
        assert.match(err.detail ?? '', /IP: 127\.0\.0\.1 is not in the cert's list|does not match/i);
        return true;
      });
      assert.equal(receiver.received().length, 0);
    } finally {
      receiver.close();
    }
  });

  it('a CA file that cannot be read is a configuration error naming the key, before any connection', async () => {
    await assert.rejects(createSyslogSink({ url: 'tls://localhost:1', ca: join(db.dir, 'missing.pem') }), (err: { code?: string; detail?: string }) => {
      assert.equal(err.code, 'ERR_CONFIG_INVALID');
      assert.match(err.detail ?? '', /^audit\.export\.syslog\.ca: cannot read /);
      return true;
    });
  });
});
