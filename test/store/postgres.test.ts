/**
 * The store contract on PostgreSQL, each database a scratch one (test/support/scratch-postgres.ts).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { Writable } from 'node:stream';
import pino from 'pino';
import { setTimeout as sleep } from 'node:timers/promises';
import { sql } from 'kysely';
import { randomBytes } from 'node:crypto';
import { connect, createServer } from 'node:net';
import { execFileSync } from 'node:child_process';
import { TLSSocket } from 'node:tls';
import { openStore } from '../../src/store/index.ts';
import { isGatehouseError } from '../../src/core/errors.ts';
import { POSTGRES_URL, serviceOrSkip } from '../support/services.ts';
import { createScratchDatabase, type ScratchDatabase } from '../support/scratch-postgres.ts';
import { registerStoreContract, rejectsWithCode } from './contract.ts';
import { closedPort } from '../support/closed-port.ts';

const skip = await serviceOrSkip('postgres');

const created: ScratchDatabase[] = [];

function urlFor(database: string): string {
  const url = new URL(POSTGRES_URL);
  url.pathname = `/${database}`;
  return url.toString();
}

describe('store on PostgreSQL', { skip }, () => {
  after(async () => {
    // Whatever a failed test left behind (a second drop does nothing).
    for (const database of created) await database.drop();
  });

  registerStoreContract({
    dialect: 'postgres',
    async createDatabase() {
      const database = await createScratchDatabase('gatehouse_store_test');
      created.push(database);
      return { open: () => openStore(database.url, { poolMax: 4 }), drop: () => database.drop() };
    },
    async unreachableUrl() {
      return `postgres://gatehouse:secret-password@127.0.0.1:${await closedPort()}/nothing`;
    },
  });
});

describe('store on PostgreSQL: hostile and broken servers', { skip }, () => {
  it('a database that does not exist is reported as ERR_STORE_UNAVAILABLE', async () => {
    const store = await openStore(urlFor(`gatehouse_missing_${randomBytes(6).toString('hex')}`));
    try {
      assert.deepEqual({ ...(await store.health()), latencyMs: 0 }, { ok: false, latencyMs: 0, detail: 'ERR_STORE_UNAVAILABLE' });
      await rejectsWithCode(store.migrate(), 'ERR_STORE_UNAVAILABLE');
    } finally {
      await store.close();
    }
  });

  it('a NUL character sent as text is refused with ERR_STORE_VALUE_INVALID, not ERR_INTERNAL', async () => {
    const store = await openStore(POSTGRES_URL, { poolMax: 1 });
    try {
      await rejectsWithCode(sql`select ${'a\u0000b'}::text as v`.execute(store.db), 'ERR_STORE_VALUE_INVALID');
    } finally {
      await store.close();
    }
  });

  it('a statement running past statement_timeout fails with ERR_STORE_UNAVAILABLE and the pool stays usable', async () => {
    const store = await openStore(POSTGRES_URL, { statementTimeoutMs: 200, poolMax: 1 });
    try {
      await rejectsWithCode(sql`select pg_sleep(5)`.execute(store.db), 'ERR_STORE_UNAVAILABLE');
      assert.equal((await store.health()).ok, true);
    } finally {
      await store.close();
    }
  });

  it('a transaction left idle past idle_in_transaction_session_timeout is aborted by the server (ERR_STORE_UNAVAILABLE, no crash) and the pool recovers', async () => {
    const store = await openStore(POSTGRES_URL, { idleInTransactionTimeoutMs: 200, poolMax: 1 });
    try {
      await rejectsWithCode(store.transaction(async (trx) => {
        await sql`create temporary table idle_probe (id int)`.execute(trx);
        await sleep(600);
        await sql`insert into idle_probe values (1)`.execute(trx);
      }), 'ERR_STORE_UNAVAILABLE');
      assert.equal((await store.health()).ok, true);
    } finally {
      await store.close();
    }
  });

  it('a server that accepts connections but never answers makes health() report unhealthy, not hang', async () => {
    const sockets = new Set<import('node:net').Socket>();
    const blackhole = createServer((socket) => { sockets.add(socket); socket.on('error', () => {}); });
    await new Promise<void>((resolve) => blackhole.listen(0, '127.0.0.1', resolve));
    const address = blackhole.address();
    assert.ok(typeof address === 'object' && address);
    const store = await openStore(`postgres://gatehouse@127.0.0.1:${address.port}/x`, { connectTimeoutMs: 300, healthTimeoutMs: 600 });
    try {
      const health = await store.health();
      assert.equal(health.ok, false);
      assert.equal(health.detail, 'ERR_STORE_UNAVAILABLE');
      await rejectsWithCode(store.migrate(), 'ERR_STORE_UNAVAILABLE');
    } finally {
      await store.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => blackhole.close(() => resolve()));
    }
  });

  it('a server that stops answering mid-connection (network partition) fails queries with ERR_STORE_UNAVAILABLE instead of hanging them', async () => {
    // A relay that drops every byte once frozen, keeping the sockets open as a partition does:
    // no reset, no close, so only a client-side timeout can end the wait.
    const target = new URL(POSTGRES_URL);
    let frozen = false;
    const sockets = new Set<import('node:net').Socket>();
    const relay = createServer((client) => {
      const server = connect(Number(target.port || 5432), target.hostname);
      sockets.add(client).add(server);
      client.on('data', (chunk) => { if (!frozen) server.write(chunk); });
      server.on('data', (chunk) => { if (!frozen) client.write(chunk); });
      client.on('error', () => {});
      server.on('error', () => {});
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const address = relay.address();
    assert.ok(typeof address === 'object' && address);
    const url = new URL(POSTGRES_URL);
    url.host = `127.0.0.1:${address.port}`;
    const store = await openStore(url.toString(), { poolMax: 1, statementTimeoutMs: 300, connectTimeoutMs: 300 });
    try {
      await sql`select 1`.execute(store.db);
      frozen = true;
      const outcome = await Promise.race([
        sql`select 1`.execute(store.db).then(() => 'answered', (error: unknown) => error),
        sleep(5_000).then(() => 'still waiting after 5 s'),
      ]);
      assert.ok(isGatehouseError(outcome), `expected ERR_STORE_UNAVAILABLE, got ${String(outcome)}`);
      assert.equal(outcome.code, 'ERR_STORE_UNAVAILABLE');
    } finally {
      for (const socket of sockets) socket.destroy();
      await store.close();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });

  it('after a query read timeout on a connection lost in a partition, that connection is dropped and the next query gets a fresh one instead of timing out again', async () => {
    // Connections opened before the partition stay silent for good (state lost in a NAT or
    // firewall: no reset ever comes, TCP keep-alive notices after hours); new ones get through.
    const target = new URL(POSTGRES_URL);
    const silenced = new WeakSet<import('node:net').Socket>();
    const sockets = new Set<import('node:net').Socket>();
    const relay = createServer((client) => {
      const server = connect(Number(target.port || 5432), target.hostname);
      sockets.add(client).add(server);
      client.on('data', (chunk) => { if (!silenced.has(client)) server.write(chunk); });
      server.on('data', (chunk) => { if (!silenced.has(client)) client.write(chunk); });
      client.on('error', () => {});
      server.on('error', () => {});
    });
    await new Promise<void>((resolve) => relay.listen(0, '127.0.0.1', resolve));
    const address = relay.address();
    assert.ok(typeof address === 'object' && address);
    const url = new URL(POSTGRES_URL);
    url.host = `127.0.0.1:${address.port}`;
    const store = await openStore(url.toString(), { poolMax: 1, statementTimeoutMs: 300, connectTimeoutMs: 300 });
    try {
      await sql`select 1`.execute(store.db);
      // The partition: every socket open now goes silent.
      for (const socket of sockets) silenced.add(socket);
      await rejectsWithCode(sql`select 1`.execute(store.db), 'ERR_STORE_UNAVAILABLE');
      const after = await sql<{ n: number }>`select 1 as n`.execute(store.db).then((r) => r.rows[0]?.n, (error: unknown) => error);
      assert.equal(after, 1, `the store did not recover: ${String(after)}`);
    } finally {
      for (const socket of sockets) socket.destroy();
      await store.close();
      await new Promise<void>((resolve) => relay.close(() => resolve()));
    }
  });

  it('sslmode=require against a server without TLS is ERR_STORE_UNAVAILABLE (not ERR_INTERNAL), and the password stays out of the error', async () => {
    const url = new URL(POSTGRES_URL);
    url.password = 'Tls-Secret-Pw';
    url.searchParams.set('sslmode', 'require');
    const store = await openStore(url.toString(), { connectTimeoutMs: 2000 });
    try {
      const error = await rejectsWithCode(sql`select 1`.execute(store.db), 'ERR_STORE_UNAVAILABLE');
      assert.ok(!JSON.stringify({ message: error.message, cause: String(error.cause) }).includes('Tls-Secret-Pw'));
      assert.equal((await store.health()).detail, 'ERR_STORE_UNAVAILABLE');
    } finally {
      await store.close();
    }
  });

  it('a server presenting a certificate the client does not trust (impostor on the network path) is ERR_STORE_UNAVAILABLE, not ERR_INTERNAL', async () => {
    // A stand-in that accepts PostgreSQL's SSLRequest and then shakes hands with a self-signed certificate.
    const pem = execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=localhost', '-days', '1', '-keyout', '-', '-out', '-'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
    const key = /-----BEGIN PRIVATE KEY-----[^]+?-----END PRIVATE KEY-----/.exec(pem)?.[0];
    const cert = /-----BEGIN CERTIFICATE-----[^]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
    assert.ok(key && cert);
    const sockets = new Set<import('node:net').Socket>();
    const impostor = createServer((socket) => {
      sockets.add(socket);
      socket.on('error', () => {});
      socket.once('data', () => {
        socket.write('S');
        const tls = new TLSSocket(socket, { isServer: true, key, cert });
        tls.on('error', () => {});
      });
    });
    await new Promise<void>((resolve) => impostor.listen(0, '127.0.0.1', resolve));
    const address = impostor.address();
    assert.ok(typeof address === 'object' && address);
    const store = await openStore(`postgres://gatehouse:pw@localhost:${address.port}/x?sslmode=verify-full`, { connectTimeoutMs: 2000 });
    try {
      await rejectsWithCode(sql`select 1`.execute(store.db), 'ERR_STORE_UNAVAILABLE');
    } finally {
      await store.close();
      for (const socket of sockets) socket.destroy();
      await new Promise<void>((resolve) => impostor.close(() => resolve()));
    }
  });

  it('the database password never reaches the logs, even when connecting fails', async () => {
    const lines: string[] = [];
    const sink = new Writable({ write(chunk, _encoding, done) { lines.push(String(chunk)); done(); } });
    const logger = pino({ level: 'trace' }, sink);
    const store = await openStore(`postgres://gatehouse:Sup3r-Secret-Pw@127.0.0.1:${await closedPort()}/x`, { logger, connectTimeoutMs: 1000 });
    try {
      await store.health();
      await rejectsWithCode(store.migrate(), 'ERR_STORE_UNAVAILABLE');
    } finally {
      await store.close();
    }
    assert.ok(lines.length > 0, 'the store logged something');
    assert.ok(!lines.join('').includes('Sup3r-Secret-Pw'), lines.join(''));
  });
});
