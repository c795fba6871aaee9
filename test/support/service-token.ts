/**
 * A service principal for tests through a composed gateway: registers a service client at
 * the gateway's own identity provider and returns a client-credentials access token for it.
 */
import assert from 'node:assert/strict';
import { request } from 'undici';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import { clientAdd } from '../../src/identity/commands/client.ts';
import { insecureAgent, type TestGateway } from './gateway.ts';

export async function serviceToken(gw: TestGateway, clientId: string): Promise<string> {
  const idp = identityProviderOf(gw.gateway.extensions);
  assert.ok(idp, 'the composed gateway has its identity provider');
  const { secret } = await clientAdd(idp, { clientId, kind: 'service', name: clientId });
  const res = await request(`${gw.url}/oidc/token`, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', authorization: `Basic ${Buffer.from(`${clientId}:${secret!}`).toString('base64')}` },
    body: 'grant_type=client_credentials',
    dispatcher: insecureAgent,
  });
  const body = await res.body.json() as { access_token?: string };
  assert.equal(res.statusCode, 200, JSON.stringify(body));
  assert.ok(body.access_token);
  return body.access_token;
}
