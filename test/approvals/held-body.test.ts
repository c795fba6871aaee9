/**
 * The second person sees what they approve: the held request's body is kept with the approval
 * and shown to the requester and the approvers — as text when it is text (textual type, UTF-8,
 * no content coding), otherwise as size, digest and content type (bytes base64-encoded in the
 * JSON API only) — and to operators in `gatehouse approvals show`, terminal-safe. It is never in
 * the audit log or the logs. Real composed gateway over TLS, real `gatehouse` CLI.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { request } from 'undici';
import { queryAudit } from '../../src/audit/query.ts';
import { RETAIN_MS } from '../../src/approvals/approvals-component.ts';
import { createApprovalsRepo } from '../../src/store/repos/approvals-repo.ts';
import { insecureAgent } from '../support/gateway.ts';
import { gatehouse, show } from '../cli/support/cli.ts';
import { errorOf, startApprovalsGateway, type ApprovalsGateway } from './support/approvals-gateway.ts';

type Reply = { status: number; body: string };
interface View { status: string; request: { contentType: string | null; bodySha256: string; bodyBytes: number; body?: { kind: string; text?: string; base64?: string } } }

describe('approvers see the held body', () => {
  let t: ApprovalsGateway;

  before(async () => {
    t = await startApprovalsGateway(() => ({
      routes: [
        { id: 'payments', path: '/payments', upstream: 'app', access: 'authenticated', approval: { approverRoles: ['approver'] } },
        { id: 'small', path: '/small', upstream: 'app', access: 'authenticated', approval: { approverRoles: ['approver'], maxBodyBytes: 1024 } },
      ],
    }), [['alice', ['ops']], ['bob', ['approver']], ['carol', ['ops']]]);
  });
  after(() => t?.close());

  async function send(path: string, body: string | Buffer | Readable, fields: string[], who = 'alice', approvalId?: string): Promise<Reply> {
    const res = await request(`${t.gw.url}${path}`, {
      method: 'POST', dispatcher: insecureAgent, body,
      headers: ['authorization', `Bearer ${t.tokens[who]}`, ...fields, ...(approvalId ? ['gatehouse-approval', approvalId] : [])],
    });
    return { status: res.statusCode, body: await res.body.text() };
  }
  async function held(path: string, body: string | Buffer, fields: string[]): Promise<string> {
    const r = await send(path, body, fields);
    assert.equal(errorOf(r).code, 'ERR_APPROVAL_PENDING', r.body);
    return errorOf(r).approvalId!;
  }
  const view = (id: string, who = 'bob') => t.gw.fetch(`/_gatehouse/approvals/${id}`, { headers: { authorization: `Bearer ${t.tokens[who]}` } });
  const cli = (id: string, json = false) => gatehouse(['approvals', 'show', id, '--config', t.gw.configFile, ...(json ? ['--json'] : [])]);

  it('the approver sees the exact JSON body of the held payout in the view and the CLI', async () => {
    const body = '{\n  "amount": 250000,\n  "currency": "EUR",\n  "to": "DE89 3704 0044 0532 0130 00",\n  "note": "Überweisung für Mallory"\n}\n';
    const id = await held('/payments/payout', body, ['content-type', 'application/json']);
    const r = await view(id);
    assert.equal(r.status, 200, r.body);
    const v = JSON.parse(r.body) as View;
    assert.deepEqual(v.request.body, { kind: 'text', text: body });
    assert.equal(v.request.bodySha256, createHash('sha256').update(body).digest('hex'));
    // The requester sees it too.
    assert.deepEqual((JSON.parse((await view(id, 'alice')).body) as View).request.body, { kind: 'text', text: body });

    const shown = await cli(id);
    assert.equal(shown.status, 0, show(shown));
    for (const line of body.split('\n')) assert.ok(shown.stdout.includes(`  | ${line}\n`), `${line}\n${shown.stdout}`);
    const json = await cli(id, true);
    assert.equal(json.status, 0, show(json));
    assert.deepEqual((JSON.parse(json.stdout) as View).request.body, { kind: 'text', text: body });
  });

  it('a binary body is shown as size/digest/content type, not as text; its bytes only base64-encoded in the JSON API', async () => {
    const bytes = Buffer.concat([Buffer.from('PK\x03\x04'), randomBytes(64), Buffer.from([0xff, 0xfe, 0x00, 0x1b])]);
    const id = await held('/payments/upload', bytes, ['content-type', 'application/octet-stream']);
    const v = JSON.parse((await view(id)).body) as View;
    assert.equal(v.request.body?.kind, 'binary');
    assert.equal(v.request.body?.text, undefined);
    assert.deepEqual(Buffer.from(v.request.body!.base64!, 'base64'), bytes);
    assert.equal(v.request.bodyBytes, bytes.length);
    assert.equal(v.request.contentType, 'application/octet-stream');

    const shown = await cli(id);
    assert.equal(shown.status, 0, show(shown));
    assert.match(shown.stdout, new RegExp(`body: not text \\(application/octet-stream, ${bytes.length} bytes, sha-256 ${createHash('sha256').update(bytes).digest('hex')}\\); not printed`));
    assert.ok(!shown.stdout.includes('PK'), shown.stdout);
    const json = JSON.parse((await cli(id, true)).stdout) as View;
    assert.deepEqual(json.request.body, { kind: 'binary' }, 'the CLI never prints the bytes');
  });

  it('a body that reads as other text than the upstream reads is not shown as text: gzip-encoded, another charset, overlong UTF-8, no content type', async () => {
    const cases: [string, Buffer, string[]][] = [
      ['gzip', Buffer.from('{"amount":1}'), ['content-type', 'application/json', 'content-encoding', 'gzip']],
      ['latin-1', Buffer.from('{"note":"caf\xe9"}', 'latin1'), ['content-type', 'application/json; charset=iso-8859-1']],
      ['utf-16 declared', Buffer.from('{"amount":1}'), ['content-type', 'text/plain; charset=utf-16']],
      ['overlong', Buffer.from([0x7b, 0x22, 0xc0, 0xaf, 0x22, 0x7d]), ['content-type', 'application/json']],
      ['no type', Buffer.from('{"amount":1}'), []],
      ['image', Buffer.from('GIF89a'), ['content-type', 'image/gif']],
    ];
    for (const [name, bytes, fields] of cases) {
      const v = JSON.parse((await view(await held('/payments/other', bytes, fields))).body) as View;
      assert.equal(v.request.body?.kind, 'binary', name);
      assert.deepEqual(Buffer.from(v.request.body!.base64!, 'base64'), bytes, name);
    }
    for (const [name, type] of [['form', 'application/x-www-form-urlencoded'], ['xml', 'application/xml'], ['text', 'text/csv; charset="UTF-8"'], ['problem', 'application/problem+json']]) {
      const v = JSON.parse((await view(await held('/payments/other', 'a=1&b=%C3%A9', ['content-type', type!]))).body) as View;
      assert.deepEqual(v.request.body, { kind: 'text', text: 'a=1&b=%C3%A9' }, name);
    }
  });

  it('a body with terminal escape sequences is shown escaped in the CLI', async () => {
    // Concealed text, cursor-up + erase-line (hides the real amount), a carriage return that
    // overwrites, a C1 CSI, a right-to-left override, and a line forging a field of the record.
    const body = 'amount=1000000\x1b[1A\x1b[2K\ramount=10\n\x1b[8mhidden\x1b[0m \u009b31m \u202eevil\napprover: usr_mallory\n';
    const id = await held('/payments/escapes', body, ['content-type', 'text/plain']);
    assert.deepEqual((JSON.parse((await view(id)).body) as View).request.body, { kind: 'text', text: body });
    const shown = await cli(id);
    assert.equal(shown.status, 0, show(shown));
    assert.doesNotMatch(shown.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/, 'no control character reaches the terminal');
    assert.ok(shown.stdout.includes('  | amount=1000000\\u001b[1A\\u001b[2K\\ramount=10\n'), shown.stdout);
    assert.ok(shown.stdout.includes('  | \\u001b[8mhidden\\u001b[0m \\u009b31m \\u202eevil\n'), shown.stdout);
    assert.equal(shown.stdout.split('\n').filter((l) => l.startsWith('approver:')).length, 1, 'the body cannot forge a field');
    const json = await cli(id, true);
    assert.doesNotMatch(json.stdout, /[\x00-\x09\x0b-\x1f\x7f-\x9f\u202a-\u202e]/);
    assert.deepEqual((JSON.parse(json.stdout) as View).request.body, { kind: 'text', text: body });
  });

  it('markup in the body is escaped in the API\'s JSON and parses back to the exact text', async () => {
    const body = '<script>alert(1)</script>&amp;';
    const id = await held('/payments/markup', body, ['content-type', 'text/html']);
    const r = await view(id);
    assert.ok(!r.body.includes('<script>') && !r.body.includes('&amp;'), r.body);
    assert.deepEqual((JSON.parse(r.body) as View).request.body, { kind: 'text', text: body });
  });

  it('the stored body is not in the audit log or the logs, only its digest; nobody but the requester and the approvers sees it', async () => {
    const canary = `canary-${randomBytes(12).toString('hex')}`;
    const body = JSON.stringify({ amount: 5, note: canary });
    const id = await held('/payments/canary', body, ['content-type', 'application/json']);
    const carol = await view(id, 'carol');
    assert.equal(carol.status, 403);
    assert.equal(errorOf(carol).code, 'ERR_APPROVAL_NOT_APPROVER');
    assert.ok(!carol.body.includes(canary));
    assert.equal((await t.gw.fetch(`/_gatehouse/approvals/${id}/approve`, { method: 'POST', headers: { authorization: `Bearer ${t.tokens.bob}` } })).status, 200);
    assert.equal((await send('/payments/canary', body, ['content-type', 'application/json'], 'alice', id)).status, 200);

    const digest = createHash('sha256').update(body).digest('hex');
    let used = false;
    for (const deadline = Date.now() + 10_000; !used && Date.now() < deadline; await new Promise((r) => setTimeout(r, 100))) {
      for await (const r of queryAudit(t.store, { event: 'approval.used' })) if (JSON.stringify(r).includes(id)) used = true;
    }
    assert.ok(used, 'approval.used recorded');
    let records = '';
    for await (const r of queryAudit(t.store, {})) records += JSON.stringify(r) + '\n';
    assert.ok(records.includes(digest), 'the audit log has the digest');
    assert.ok(!records.includes(canary), 'the audit log has no body');
    assert.ok(!t.gw.logs.text().includes(canary), 'the logs have no body');
  });

  it('a body over approval.maxBodyBytes is refused with 413, declared or chunked, and nothing is stored', async () => {
    const count = async () => Number((await t.store.db.selectFrom('approvals').select((eb) => eb.fn.countAll<number>().as('n')).where('route_id', '=', 'small').executeTakeFirstOrThrow()).n);
    const before = await count();
    const big = 'x'.repeat(2000);
    assert.equal((await send('/small/x', big, ['content-type', 'text/plain'])).status, 413);
    assert.equal((await send('/small/x', Readable.from([Buffer.from(big.slice(0, 1000)), Buffer.from(big.slice(1000))]), ['content-type', 'text/plain'])).status, 413);
    assert.equal(await count(), before);
    assert.equal(errorOf(await send('/small/x', 'x'.repeat(1024), ['content-type', 'text/plain'])).code, 'ERR_APPROVAL_PENDING');
  });

  it('the held body is shown while the approval can be used and erased once it is used, denied or expired: the view says erased, the digest stays', async () => {
    const body = '{"amount":900,"iban":"DE89 3704 0044 0532 0130 00"}';
    const fields = ['content-type', 'application/json'];
    const decide = (id: string, action: 'approve' | 'deny') => t.gw.fetch(`/_gatehouse/approvals/${id}/${action}`, { method: 'POST', headers: { authorization: `Bearer ${t.tokens.bob}` } });
    const viewOf = async (id: string, who = 'bob') => JSON.parse((await view(id, who)).body) as View;
    const erased = (v: View) => { assert.equal(v.request.body?.kind, 'erased', JSON.stringify(v)); assert.equal(v.request.bodySha256, createHash('sha256').update(body).digest('hex')); };
    const stored = async (id: string) => (await createApprovalsRepo(t.store.db).getWithBody(id))!.body;

    const used = await held('/payments/erase', body, fields);
    assert.deepEqual((await viewOf(used)).request.body, { kind: 'text', text: body });
    const approved = JSON.parse((await decide(used, 'approve')).body) as View;
    assert.deepEqual(approved.request.body, { kind: 'text', text: body });
    assert.deepEqual((await viewOf(used, 'alice')).request.body, { kind: 'text', text: body });
    assert.equal((await send('/payments/erase', body, fields, 'alice', used)).status, 200);
    erased(await viewOf(used));
    erased(await viewOf(used, 'alice'));
    assert.equal(await stored(used), null);
    const shown = await cli(used);
    assert.match(shown.stdout, /^body: erased \S+, when the approval could no longer be used; only its sha-256 is known$/m, show(shown));
    assert.ok(!shown.stdout.includes('DE89'));

    const denied = await held('/payments/erase', body, fields);
    erased(JSON.parse((await decide(denied, 'deny')).body) as View);
    erased(await viewOf(denied));
    assert.equal(await stored(denied), null);

    // Past its deadline, not yet swept: looking at it expires it rather than showing the body once more.
    const expired = await held('/payments/erase', body, fields);
    await t.store.db.updateTable('approvals').set({ expires_at: Date.now() - 1 }).where('id', '=', expired).execute();
    const v = await viewOf(expired);
    assert.equal(v.status, 'expired');
    erased(v);
    assert.equal(await stored(expired), null);
  });

  it('the stored body is deleted with its approval by the retention pruning', async () => {
    const id = await held('/payments/pruned', '{"amount":3}', ['content-type', 'application/json']);
    const repo = createApprovalsRepo(t.store.db);
    assert.notEqual((await repo.getWithBody(id))?.body, null);
    await t.store.db.updateTable('approvals').set({ status: 'denied', ...({ created_at: Date.now() - RETAIN_MS - 60_000 } as object) }).where('id', '=', id).execute();
    assert.ok(await repo.prune(Date.now() - RETAIN_MS) >= 1);
    assert.equal(await repo.getWithBody(id), undefined);
  });
});
