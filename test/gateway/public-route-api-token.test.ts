/**
 * A public route's upstream gets the client's Authorization header as sent — it may be the
 * upstream's own credential — but not a Gatehouse API token or a JWT of Gatehouse's own
 * identity provider. Before, a client that sent its `ghs_…` token or its access token to every
 * path (a CLI configured with one base URL, a browser extension, an SDK) handed that token,
 * valid only at Gatehouse, to every public upstream, which could replay it against the routes
 * it opens.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import { userAdd } from '../../src/identity/commands/user.ts';
import { tokenCreate } from '../../src/identity/commands/token.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';
import { serviceToken } from '../support/service-token.ts';

describe('Authorization on a public route', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  let token = '';
  let jwt = '';

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false }, identity: { enabled: false } },
      upstreams: { app: { url: upstream.url } },
      routes: [
        { id: 'site', path: '/site', upstream: 'app', access: 'public' },
        { id: 'api', path: '/api', upstream: 'app', access: 'authenticated' },
      ],
    }, { compose: true });
    const idp = identityProviderOf(gw.gateway.extensions)!;
    await userAdd(idp, { username: 'alice', roles: ['member'] });
    token = (await tokenCreate(idp, { owner: 'alice', name: 'cli' })).token;
    jwt = await serviceToken(gw, 'reporting');
  });
  after(async () => {
    await gw.close();
    await upstream.close();
  });

  const received = () => upstream.received.at(-1)!.headers;

  it('a Gatehouse API token sent to a public route never reaches its upstream, in any letter case of the scheme (attack: harvesting long-lived tokens from a public upstream)', async () => {
    for (const scheme of ['Bearer', 'bearer', 'BEARER']) {
      const r = await gw.fetch('/site/page', { headers: { authorization: `${scheme} ${token}` } });
      assert.equal(r.status, 200, r.body);
      assert.equal(received().authorization, undefined, `${scheme}: the API token reached the public upstream`);
    }
    // The same token still works where Gatehouse consumes it.
    assert.equal((await gw.fetch('/api/x', { headers: { authorization: `Bearer ${token}` } })).status, 200);
  });

  it('a JWT of Gatehouse\'s own identity provider sent to a public route never reaches its upstream, under either scheme (attack: a public upstream replaying a caller\'s access token)', async () => {
    for (const value of [`Bearer ${jwt}`, `bearer ${jwt}`, `DPoP ${jwt}`]) {
      const r = await gw.fetch('/site/page', { headers: { authorization: value, dpop: 'proof' } });
      assert.equal(r.status, 200, r.body);
      assert.equal(received().authorization, undefined, `${value.slice(0, 8)}: the access token reached the public upstream`);
      assert.equal(received().dpop, undefined, 'nor its proof');
    }
    // Forged with Gatehouse's issuer: no one's credential, removed all the same.
    const forged = `${Buffer.from('{"alg":"none"}').toString('base64url')}.${Buffer.from(JSON.stringify({ iss: JSON.parse(Buffer.from(jwt.split('.')[1]!, 'base64url').toString()).iss, sub: 'x' })).toString('base64url')}.`;
    await gw.fetch('/site/page', { headers: { authorization: `Bearer ${forged}` } });
    assert.equal(received().authorization, undefined);
    assert.equal((await gw.fetch('/api/x', { headers: { authorization: `Bearer ${jwt}` } })).status, 200, 'the token still works where Gatehouse consumes it');
  });

  it('any other Authorization on a public route is the upstream\'s own and passes unchanged, a JWT of another issuer too', async () => {
    const foreign = `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from('{"iss":"https://login.example.com","sub":"u1"}').toString('base64url')}.c2ln`;
    for (const value of ['Bearer upstream-session-123', 'Basic dXNlcjpwYXNz', 'Token abc', `Bearer ${foreign}`, 'Bearer a.%%%.b']) {
      const r = await gw.fetch('/site/page', { headers: { authorization: value } });
      assert.equal(r.status, 200, r.body);
      assert.equal(received().authorization, value);
    }
  });
});
