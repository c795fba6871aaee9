/**
 * A browser shows the error page and never the response headers, so a request held for a second
 * person's approval must show its approval id, and what to do with it, on the page itself (JSON
 * clients get it in the body and the Gatehouse-Approval header).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatehouseError } from '../../src/core/errors.ts';
import { writeErrorResponse } from '../../src/gateway/respond-error.ts';
import { identityProviderOf } from '../../src/gateway/extensions/identity.ts';
import { userAdd } from '../../src/identity/commands/user.ts';
import { tokenCreate } from '../../src/identity/commands/token.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

const HTML = 'text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8';

describe('error page of a held request', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;
  let token: string;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      ratelimit: { edge: { enabled: false }, identity: { enabled: false } },
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'payouts', path: '/payouts', upstream: 'app', access: 'authenticated', approval: { methods: ['POST'], approverRoles: ['approver'] } }],
    }, { compose: true });
    const idp = identityProviderOf(gw.gateway.extensions)!;
    await userAdd(idp, { username: 'alice', roles: ['ops'] });
    token = (await tokenCreate(idp, { owner: 'alice', name: 'test' })).token;
  });

  after(async () => {
    await gw?.close();
    await upstream?.close();
  });

  it('a browser request to an approval route gets a page showing the approval id and how to use it', async () => {
    const r = await gw.fetch('/payouts', { method: 'POST', headers: { authorization: `Bearer ${token}`, accept: HTML }, body: 'amount=5' });
    assert.equal(r.status, 403, r.body);
    assert.match(String(r.headers['content-type']), /^text\/html/);
    const id = r.headers['gatehouse-approval'];
    assert.ok(typeof id === 'string' && id.startsWith('apv_'), `approval header: ${String(id)}`);
    assert.ok(r.body.includes('ERR_APPROVAL_PENDING'), r.body);
    assert.ok(r.body.includes(`Approval id: <code>${id}</code>`), r.body);
    assert.ok(r.body.includes(`Gatehouse-Approval: ${id}`), 'the page names the header to send the id in');
    assert.equal(upstream.received.length, 0, 'nothing reached the upstream');
  });

  it('an HTML page without an approval says nothing about approvals', async () => {
    const r = await gw.fetch('/payouts', { method: 'POST', headers: { accept: HTML } });
    assert.equal(r.status, 401, r.body);
    assert.ok(!r.body.includes('Approval id'), r.body);
  });
});

describe('error page escaping of the approval id', () => {
  let server: Server;
  let port: number;
  before(async () => {
    server = createServer((req, res) => {
      req.resume();
      req.on('end', () => writeErrorResponse(res, new GatehouseError('ERR_APPROVAL_PENDING', { data: { approvalId: '<script>alert(1)</script>"&' } }), 'rid', req.headers.accept));
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it('markup in an approval id is escaped on the page, not run (attack: script injection through the error page)', async () => {
    const r = await fetch(`http://127.0.0.1:${port}/`, { headers: { accept: HTML } });
    const body = await r.text();
    assert.ok(!body.includes('<script>'), body);
    assert.ok(body.includes('&lt;script&gt;alert(1)&lt;/script&gt;&quot;&amp;'), body);
  });
});
