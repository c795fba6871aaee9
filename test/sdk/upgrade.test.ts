/**
 * WebSocket (and any HTTP upgrade) requests never reach a node:http 'request' handler, so
 * withGatehouseIdentity does not see them: withGatehouseUpgrade verifies the assertion on
 * the 'upgrade' event, over a real socket.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { SignJWT, exportJWK, generateKeyPair, type CryptoKey } from 'jose';
import {
  IDENTITY_ASSERTION_HEADER, IDENTITY_ASSERTION_TYP, createAssertionVerifier, identityOf, withGatehouseIdentity, withGatehouseUpgrade,
} from '../../src/sdk/index.ts';

const ISSUER = 'https://gateway.test';

async function upgrade(port: number, headers: Record<string, string>): Promise<string> {
  const socket = connect(port, '127.0.0.1');
  const lines = ['GET /chat HTTP/1.1', 'host: service', 'connection: upgrade', 'upgrade: websocket', ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`)];
  socket.write(lines.join('\r\n') + '\r\n\r\n');
  let text = '';
  socket.on('data', (d: Buffer) => { text += d.toString(); if (text.includes('\r\n\r\n')) socket.end(); });
  await new Promise((resolve) => socket.on('close', resolve));
  return text;
}

describe('identity assertion on HTTP upgrade requests', () => {
  let server: Server;
  let port: number;
  let key: CryptoKey;
  const upgraded: string[] = [];

  before(async () => {
    const pair = await generateKeyPair('ES256');
    key = pair.privateKey;
    const jwk = { ...(await exportJWK(pair.publicKey)), kid: 'k1', alg: 'ES256' };
    const verifier = createAssertionVerifier({ jwks: { keys: [jwk] }, issuer: ISSUER, audience: 'chat' });
    server = createServer(withGatehouseIdentity(verifier, (_req, res) => res.end('ok')));
    server.on('upgrade', withGatehouseUpgrade(verifier, (req, socket) => {
      upgraded.push(identityOf(req)!.subject);
      socket.end('HTTP/1.1 101 Switching Protocols\r\nconnection: upgrade\r\nupgrade: websocket\r\n\r\n');
    }));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    port = (server.address() as AddressInfo).port;
  });
  after(() => { server.closeAllConnections(); server.close(); });

  test('a WebSocket upgrade without an assertion is refused with 401 ERR_SDK_ASSERTION_MISSING and never reaches the handler', async () => {
    const raw = await upgrade(port, {});
    assert.match(raw, /^HTTP\/1\.1 401 /);
    assert.match(raw, /ERR_SDK_ASSERTION_MISSING/);
    assert.deepEqual(upgraded, []);
  });

  test('a WebSocket upgrade with a forged assertion is refused with 401 ERR_SDK_ASSERTION_INVALID', async () => {
    const raw = await upgrade(port, { [IDENTITY_ASSERTION_HEADER]: 'e30.e30.e30' });
    assert.match(raw, /^HTTP\/1\.1 401 /);
    assert.match(raw, /ERR_SDK_ASSERTION_INVALID/);
    assert.deepEqual(upgraded, []);
  });

  test('a WebSocket upgrade with a valid assertion reaches the handler with the identity', async () => {
    const now = Math.floor(Date.now() / 1000);
    const token = await new SignJWT({ kind: 'user', roles: ['chat-user'], amr: ['pwd'], auth_method: 'session', rid: 'r1', htm: 'GET', htu: '/chat' })
      .setProtectedHeader({ alg: 'ES256', typ: IDENTITY_ASSERTION_TYP, kid: 'k1' })
      .setIssuer(ISSUER).setAudience('chat').setSubject('alice').setIssuedAt(now).setExpirationTime(now + 60).setJti('j1')
      .sign(key);
    const raw = await upgrade(port, { [IDENTITY_ASSERTION_HEADER]: token, 'x-request-id': 'r1' });
    assert.match(raw, /^HTTP\/1\.1 101 /);
    assert.deepEqual(upgraded, ['alice']);
  });
});
