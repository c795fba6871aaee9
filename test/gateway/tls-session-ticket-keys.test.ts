/**
 * The public listener's session ticket key is replaced on a schedule
 * (`listeners.https.tls.ticketKeyRotationMs`). It used to live as long as the process: a key
 * read from memory once decrypted every recorded TLS 1.2 session (the ticket carries its master
 * secret) and let its holder forge tickets, for the whole process lifetime. Node keeps one key,
 * so a ticket resumes only under the key it was issued with (see src/gateway/tls/ticket-keys.ts).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { connect } from 'node:tls';
import { setTimeout as sleep } from 'node:timers/promises';
import type { Server as HttpsServer } from 'node:https';
import type { AddressInfo } from 'node:net';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { createPublicServer, type TlsMaterial } from '../../src/gateway/listeners.ts';
import { TicketKeyRotation } from '../../src/gateway/tls/ticket-keys.ts';
import { ensureDevCertificate } from '../../src/gateway/tls/dev-certificate.ts';
import { parseConfig } from '../../src/core/config/load.ts';

type Version = 'TLSv1.2' | 'TLSv1.3';

/**
 * One real TLS connection that sends a request and reads the answer (a TLS 1.3 server sends its
 * tickets after the handshake): whether `session` was resumed, and the ticket it was given.
 */
function connection(port: number, version: Version, session?: Buffer): Promise<{ resumed: boolean; ticket: Buffer | undefined }> {
  return new Promise((resolve, reject) => {
    let ticket: Buffer | undefined;
    const socket = connect({ host: '127.0.0.1', port, servername: 'localhost', rejectUnauthorized: false, minVersion: version, maxVersion: version, ...(session ? { session } : {}) }, () => {
      socket.write('GET /no-such-route HTTP/1.1\r\nhost: localhost\r\nconnection: close\r\n\r\n');
    });
    socket.on('session', (s: Buffer) => { ticket = s; });
    socket.on('data', () => undefined);
    socket.on('end', () => { resolve({ resumed: socket.isSessionReused(), ticket }); socket.destroy(); });
    socket.on('error', reject);
  });
}

async function ticketFrom(port: number, version: Version): Promise<Buffer> {
  const first = await connection(port, version);
  assert.equal(first.resumed, false);
  assert.ok(first.ticket, 'the listener issued a session ticket');
  return first.ticket;
}

describe('session ticket key rotation on the public listener (deterministic, rotated by hand)', () => {
  let dir: string;
  let server: HttpsServer;
  let rotation: TicketKeyRotation;
  let port: number;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gatehouse-tickets-'));
    const pair = await ensureDevCertificate(dir);
    const { limits } = parseConfig({}, { env: {}, source: 'test' }).config;
    const tls: TlsMaterial = { cert: pair.cert, key: pair.key, minVersion: 'TLSv1.2' };
    server = createPublicServer(tls, limits, (_req, res) => { res.writeHead(404, { connection: 'close' }).end(); }, (_req, socket) => socket.destroy(), (_err, socket) => socket.destroy());
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
    // Long enough never to fire during the test: rotate() is called by hand.
    rotation = new TicketKeyRotation(server, 3_600_000);
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
    await rm(dir, { recursive: true, force: true });
  });

  for (const version of ['TLSv1.2', 'TLSv1.3'] as const) {
    it(`${version}: a ticket issued under the current key resumes`, async () => {
      const ticket = await ticketFrom(port, version);
      assert.equal((await connection(port, version, ticket)).resumed, true);
    });

    it(`${version}: a ticket issued before a rotation no longer resumes (its key is gone), and the client gets a fresh one`, async () => {
      const stale = await ticketFrom(port, version);
      rotation.rotate();
      const after = await connection(port, version, stale);
      assert.equal(after.resumed, false, 'a ticket encrypted under a discarded key was accepted');
      assert.ok(after.ticket);
      assert.equal((await connection(port, version, after.ticket)).resumed, true, 'the ticket issued under the new key resumes');
    });

    it(`${version}: a ticket issued before two rotations does not resume`, async () => {
      const stale = await ticketFrom(port, version);
      rotation.rotate();
      rotation.rotate();
      assert.equal((await connection(port, version, stale)).resumed, false);
    });
  }

  it('stops its timer when the listener closes', async () => {
    const other = createPublicServer({ cert: (await ensureDevCertificate(dir)).cert, key: (await ensureDevCertificate(dir)).key, minVersion: 'TLSv1.2' }, parseConfig({}, { env: {}, source: 'test' }).config.limits, () => undefined, () => undefined, () => undefined);
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', r));
    const r = new TicketKeyRotation(other, 1000);
    await new Promise((done) => other.close(done));
    let rotated = false;
    r.rotate = () => { rotated = true; };
    await sleep(1200);
    assert.equal(rotated, false, 'the rotation went on after the listener closed');
  });
});

describe('the gateway rotates its ticket key every listeners.https.tls.ticketKeyRotationMs', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startGateway({ listeners: { https: { host: '127.0.0.1', port: 0, tls: { minVersion: 'TLSv1.2', ticketKeyRotationMs: 1000 } }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } } });
  });
  after(() => gw.close());

  it('refuses to resume a TLS 1.2 session whose ticket was issued before the key was replaced', async () => {
    const port = gw.gateway.addresses().https.port;
    // Resumes right away (retried when a rotation fell between the two connections)…
    let ticket: Buffer | undefined;
    for (let attempt = 0; attempt < 3 && !ticket; attempt++) {
      const candidate = await ticketFrom(port, 'TLSv1.2');
      if ((await connection(port, 'TLSv1.2', candidate)).resumed) ticket = candidate;
    }
    assert.ok(ticket, 'a fresh ticket never resumed');
    // …and not once the key it was issued under has been replaced.
    await sleep(2200);
    assert.equal((await connection(port, 'TLSv1.2', ticket)).resumed, false, 'a ticket from before the rotation still resumed: the key lives on');
  });
});
