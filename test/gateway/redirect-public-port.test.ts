/**
 * Behind a load balancer that maps 443 to the listener's 8443, the redirect listener must
 * send browsers to the public port (from `publicUrl`), not the internal one nobody serves.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'undici';
import { startGateway } from '../support/gateway.ts';

async function location(publicUrl: string): Promise<string | undefined> {
  const gw = await startGateway({
    publicUrl,
    listeners: { https: { host: '127.0.0.1', port: 0 }, http: { enabled: true, host: '127.0.0.1', port: 0 }, ops: { host: '127.0.0.1', port: 0 } },
    routes: [],
  });
  try {
    const res = await request(`${gw.httpUrl}/inbox?x=1`, { headers: { host: 'mail.example.com' } });
    await res.body.dump();
    assert.equal(res.statusCode, 308);
    return res.headers.location as string | undefined;
  } finally {
    await gw.close();
  }
}

it('redirects to the port of publicUrl (443: none in the URL), not the internal listener port', async () => {
  assert.equal(await location('https://mail.example.com'), 'https://mail.example.com/inbox?x=1');
});

it('keeps an explicit public port from publicUrl', async () => {
  assert.equal(await location('https://mail.example.com:9443'), 'https://mail.example.com:9443/inbox?x=1');
});
