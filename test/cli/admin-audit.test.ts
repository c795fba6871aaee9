/**
 * Every state-changing `gatehouse` command leaves one `admin.<group>.<verb>` record in the
 * store's audit chain (issue 6), on the default in-process bus where no running instance sees
 * what the CLI publishes: the OS user as actor, the outcome, no secret. Read-only commands
 * record nothing; a command refused before it opens the store records nothing; a command that
 * fails after records outcome failure. The chain verifies, also when an instance's writer
 * appends to it at the same time. Real CLI processes, real SQLite store, real openssl CSRs.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import { AuditWriter } from '../../src/audit/writer.ts';
import { queryAudit, viewRecord } from '../../src/audit/query.ts';
import { accessDraft } from '../audit/support/events.ts';
import { createBackend, gatehouse, show, type Backend, type CliResult } from './support/cli.ts';
import { withStore } from './support/state.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';

/** Every command that changes nothing (or is no admin action on Gatehouse's state): they record nothing. */
const NOT_RECORDED = new Set([
  'version', 'start', 'sidecar', 'config validate', 'config defaults', 'user list', 'client list', 'token list', 'cert list', 'cert inspect', 'bootstrap-token list',
  'policy explain', 'policy test', 'policy diff', 'audit query', 'audit export', 'audit verify', 'audit checkpoint export',
  // Writes a new key file only; Gatehouse uses it once the configuration names it.
  'audit keygen',
  'alerts list', 'alerts blocks', 'ca status',
]);

const OPERATOR = `os:${userInfo().username}`;

type Row = { action: string; resource: string | null; outcome: string; actor: { subject: string; kind: string }; details: Record<string, unknown> };

/** The leaf commands of the real program ("user add", "audit checkpoint export"…). */
async function allCommands(): Promise<string[]> {
  const program = new Command();
  program.command('version');
  const modules = ['start', 'config', 'user', 'client', 'token', 'keys', 'ca', 'cert', 'bootstrap-token', 'policy', 'audit', 'sidecar'];
  for (const m of modules) {
    const mod = await import(`../../src/cli/commands/${m}.ts`) as Record<string, unknown>;
    for (const [name, fn] of Object.entries(mod)) if (name.startsWith('register') && typeof fn === 'function') (fn as (p: Command) => void)(program);
  }
  const leaves: string[] = [];
  const walk = (cmd: Command, path: string[]) => {
    if (cmd.commands.length === 0) leaves.push(path.join(' '));
    for (const sub of cmd.commands) walk(sub, [...path, sub.name()]);
  };
  for (const c of program.commands) walk(c, [c.name()]);
  return leaves;
}

function makeCsr(dir: string, name: string): string {
  const csr = join(dir, `${name}.csr`);
  execFileSync('openssl', ['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`,
    '-keyout', join(dir, `${name}.key`), '-out', csr], { stdio: ['ignore', 'pipe', 'pipe'] });
  return csr;
}

/** An unsigned JWT with iss, jti and exp: `token revoke-jwt` reads nothing else. */
function jwt(): string {
  const b64 = (o: object) => Buffer.from(JSON.stringify(o)).toString('base64url');
  return `${b64({ alg: 'ES256' })}.${b64({ iss: 'https://idp.example', jti: 'jti-admin-audit-1', exp: Math.floor(Date.now() / 1000) + 3600, sub: 'x' })}.c2lnbmF0dXJlLXNlY3JldA`;
}

describe('admin commands leave audit records (in-process bus)', () => {
  let b: Backend;
  let config: string;
  /** Secrets the commands printed or were given: none may be in the audit log. */
  const secrets: string[] = [];

  before(async () => {
    b = await createBackend('sqlite');
    config = await b.writeConfig();
  });
  after(() => b?.close());

  const run = (args: string[], input?: string): Promise<CliResult> => gatehouse([...args, '--config', config], { cwd: b.dir, ...(input !== undefined ? { input } : {}) });
  const ok = async (args: string[], input?: string) => {
    const r = await run(args, input);
    assert.equal(r.status, 0, show(r));
    return r;
  };
  // Read in this process, as `audit query` prints them (its record view): a `gatehouse audit
  // query` child per step doubled the processes this test starts, and under CI's load the test
  // ran past its time limit.
  const records = (): Promise<Row[]> => withStore(config, async (store) => {
    await store.migrate(); // as every command does first; the first read may come before any
    const rows: Row[] = [];
    for await (const r of queryAudit(store, {})) rows.push(JSON.parse(JSON.stringify(viewRecord(r))) as Row);
    return rows;
  });
  const admin = async () => (await records()).filter((r) => r.action.startsWith('admin.'));
  const last = async (action: string): Promise<Row> => {
    const rows = (await admin()).filter((r) => r.action === action);
    assert.ok(rows.length > 0, `no ${action} record`);
    return rows.at(-1)!;
  };

  // About forty CLI processes in a row, each starting Node and opening the store: 1.5–2 min on a
  // quiet machine, more beside other suites; the default 3 min is too close.
  it('an operator cannot change accounts, clients, tokens, keys, the CA or blocks unrecorded: each command leaves exactly one record naming the OS user, and every command is either recorded or read-only', { timeout: 480_000 }, async () => {
    const seen = new Map<string, number>();
    let before = (await admin()).length;
    const step = async (action: string, args: string[], input?: string, check?: (row: Row, r: CliResult) => void) => {
      const r = await ok(args, input);
      const after = await admin();
      assert.equal(after.length, before + 1, `${action}: exactly one record\n${JSON.stringify(after.slice(before))}`);
      const row = after.at(-1)!;
      assert.equal(row.action, `admin.${action}`);
      assert.equal(row.outcome, 'success');
      assert.deepEqual(row.actor, { subject: OPERATOR, kind: 'operator' });
      check?.(row, r);
      before = after.length;
      seen.set(action, (seen.get(action) ?? 0) + 1);
      return r;
    };

    const password = 'correct-horse-battery-staple-42';
    secrets.push(password);
    const added = await step('user.add', ['user', 'add', 'alice', '--role', 'editor', '--password-stdin', '--json'], `${password}\n`);
    const userId = (JSON.parse(added.stdout) as { user: { id: string } }).user.id;
    assert.equal((await last('admin.user.add')).resource, userId);
    await step('user.disable', ['user', 'disable', 'alice'], undefined, (row) => assert.equal(row.resource, userId));
    await step('user.enable', ['user', 'enable', 'alice']);
    await step('user.unlock', ['user', 'unlock', 'alice']);
    const generated = await step('user.set-password', ['user', 'set-password', 'alice', '--json']);
    secrets.push((JSON.parse(generated.stdout) as { password: string }).password);
    const newPassword = 'another-long-password-77';
    secrets.push(newPassword);
    await step('user.set-password', ['user', 'set-password', 'alice', '--password-stdin'], `${newPassword}\n`);
    await step('user.reset-mfa', ['user', 'reset-mfa', 'alice']);

    const client = await step('client.add', ['client', 'add', 'svc-reports', '--kind', 'service', '--role', 'editor', '--json'], undefined, (row) => assert.equal(row.resource, 'svc-reports'));
    secrets.push((JSON.parse(client.stdout) as { secret: string }).secret);
    const rotated = await step('client.rotate-secret', ['client', 'rotate-secret', 'svc-reports', '--json']);
    secrets.push((JSON.parse(rotated.stdout) as { secret: string }).secret);

    const token = await step('token.create', ['token', 'create', '--owner', 'alice', '--name', 'ci', '--json']);
    const { tokenId, token: apiToken } = JSON.parse(token.stdout) as { tokenId: string; token: string };
    secrets.push(apiToken);
    assert.equal((await last('admin.token.create')).resource, tokenId);
    await step('token.revoke', ['token', 'revoke', tokenId], undefined, (row) => assert.equal(row.resource, tokenId));
    const bearer = jwt();
    secrets.push(bearer, bearer.split('.')[2]!);
    await step('token.revoke-jwt', ['token', 'revoke-jwt', bearer], undefined, (row) => assert.equal(row.resource, 'jti-admin-audit-1'));
    await step('client.disable', ['client', 'disable', 'svc-reports'], undefined, (row) => assert.equal(row.resource, 'svc-reports'));
    await step('client.enable', ['client', 'enable', 'svc-reports'], undefined, (row) => assert.equal(row.resource, 'svc-reports'));
    await step('client.remove', ['client', 'remove', 'svc-reports']);
    await step('keys.rotate', ['keys', 'rotate', '--json']);

    await step('ca.init', ['ca', 'init', '--json']);
    const boot = await step('bootstrap-token.create', ['bootstrap-token', 'create', '--id', 'spiffe://gatehouse.internal/svc/mail', '--json']);
    secrets.push((JSON.parse(boot.stdout) as { token: string }).token);
    const bootId = (JSON.parse(boot.stdout) as { id: string }).id;
    await step('bootstrap-token.revoke', ['bootstrap-token', 'revoke', bootId], undefined, (row) => {
      assert.equal(row.resource, bootId);
      assert.equal(row.details.spiffeId, 'spiffe://gatehouse.internal/svc/mail');
    });
    const chain = join(b.dir, 'mail.pem');
    const issued = await step('cert.issue', ['cert', 'issue', '--csr', makeCsr(b.dir, 'mail'), '--id', 'spiffe://gatehouse.internal/svc/mail', '--out', chain, '--json']);
    const serial = (JSON.parse(issued.stdout) as { serial: string }).serial;
    assert.equal((await last('admin.cert.issue')).resource, serial);
    const renewed = await step('cert.renew', ['cert', 'renew', '--csr', makeCsr(b.dir, 'mail2'), '--cert', chain, '--out', join(b.dir, 'mail2.pem'), '--json']);
    const renewedSerial = (JSON.parse(renewed.stdout) as { serial: string }).serial;
    // Revoking a serial revokes what was renewed from it too, in the same one record.
    await step('cert.revoke', ['cert', 'revoke', '--serial', serial, '--reason', 'keyCompromise'], undefined, (row) => {
      assert.equal(row.resource, serial);
      assert.deepEqual(row.details.revoked, [serial, renewedSerial]);
    });
    await step('ca.rotate-intermediate', ['ca', 'rotate-intermediate', '--json'], undefined, (row, r) => {
      const rotated = JSON.parse(r.stdout) as { intermediateSerial: string; previousSerial: string };
      assert.equal(row.resource, rotated.intermediateSerial);
      assert.equal(row.details.previousSerial, rotated.previousSerial);
    });
    const withdrawn = await step('ca.rotate-root', ['ca', 'rotate-root', '--json'], undefined, (row) => assert.equal(row.details.activate, false));
    await step('ca.rotate-root', ['ca', 'rotate-root', '--cancel', '--json'], undefined, (row) => {
      assert.equal(row.resource, (JSON.parse(withdrawn.stdout) as { rootSerial: string }).rootSerial);
      assert.equal(row.details.cancel, true);
    });
    const rootBefore = await step('ca.rotate-root', ['ca', 'rotate-root', '--json'], undefined, (row, r) => {
      const prepared = JSON.parse(r.stdout) as { rootSerial: string; currentRootSerial: string };
      assert.equal(row.resource, prepared.rootSerial);
      assert.equal(row.details.activate, false);
      assert.equal(row.details.currentRootSerial, prepared.currentRootSerial);
    });
    const preparedSerial = (JSON.parse(rootBefore.stdout) as { rootSerial: string }).rootSerial;
    await step('ca.rotate-root', ['ca', 'rotate-root', '--activate', '--force', '--json'], undefined, (row) => {
      assert.equal(row.resource, preparedSerial);
      assert.equal(row.details.activate, true);
      assert.equal(row.details.force, true);
      assert.equal(row.details.previousRootKeyDropped, true);
    });
    await step('ca.export-root', ['ca', 'export-root', '--out', join(b.dir, 'root.key'), '--json']);

    const blocked = await step('alerts.block', ['alerts', 'block', '--address', '203.0.113.9', '--for', '5', '--reason', 'ticket 7', '--by', 'carol', '--json']);
    const blockId = (JSON.parse(blocked.stdout) as { id: string }).id;
    assert.equal((await last('admin.alerts.block')).resource, blockId);
    await step('alerts.unblock', ['alerts', 'unblock', '--id', blockId, '--by', 'carol']);

    const keygen = await gatehouse(['audit', 'keygen', '--out', join(b.dir, 'data', 'audit-signing-key.jwk')], { cwd: b.dir });
    assert.equal(keygen.status, 0, show(keygen));
    await step('audit.prune', ['audit', 'prune', '--older-than', '30'], undefined, (row) => assert.equal(row.resource, 'chain:main'));

    // Every leaf command is either read-only or was recorded above.
    const recorded = new Set([...seen.keys()].map((a) => a.replace('.', ' ')));
    const unclassified = (await allCommands()).filter((c) => !NOT_RECORDED.has(c) && !recorded.has(c));
    assert.deepEqual(unclassified, [], 'a command that is neither read-only nor tested as recorded');

    const all = JSON.stringify(await records());
    for (const s of secrets) assert.ok(!all.includes(s), `a secret reached the audit log: ${s.slice(0, 8)}…`);

    const verified = await run(['audit', 'verify']);
    assert.equal(verified.status, 0, show(verified));
  });

  it('read-only commands record nothing', async () => {
    const before = (await records()).length;
    for (const args of [['user', 'list'], ['client', 'list'], ['token', 'list'], ['cert', 'list'], ['alerts', 'list'], ['alerts', 'blocks', '--all'], ['audit', 'verify']]) await ok(args);
    assert.equal((await records()).length, before);
  });

  it('a command that fails after opening the store is recorded as a failure with its code; one refused before touching anything records nothing', async () => {
    const before = (await admin()).length;
    const r = await run(['user', 'disable', 'nobody-here']);
    assert.equal(r.status, 1, show(r));
    const row = await last('admin.user.disable');
    assert.equal(row.outcome, 'failure');
    assert.equal(row.resource, 'nobody-here');
    assert.equal(row.details.errorCode, 'ERR_IDENTITY_USER_NOT_FOUND');
    assert.equal((await admin()).length, before + 1);

    // Refused by its arguments / input before the store is opened: nothing changed, nothing recorded.
    assert.equal((await run(['cert', 'revoke'])).status, 1);
    assert.equal((await run(['user', 'add', 'bob', '--password-stdin'], '')).status, 1);
    assert.equal((await run(['token', 'revoke-jwt', 'not-a-jwt'])).status, 1);
    assert.equal((await admin()).length, before + 1);
    assert.equal((await run(['audit', 'verify'])).status, 0);
  });

  it('admin records appended while an instance writes to the same chain keep the chain whole (audit verify passes)', async () => {
    await withStore(config, async (store) => {
      // The instance's side: the writer every gateway runs, appending access records all along.
      const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: join(b.dir, 'instance-spool'), batchMaxDelayMs: 1 });
      let done = false;
      let appended = 0;
      const instance = (async () => {
        while (!done) {
          writer.append(accessDraft(appended++));
          await writer.flush();
        }
      })();
      try {
        await ok(['user', 'disable', 'alice']);
        await ok(['user', 'enable', 'alice']);
        await ok(['alerts', 'block', '--subject', 'alice', '--for', '1', '--reason', 'test', '--by', 'carol']);
      } finally {
        done = true;
        await instance;
        await writer.close();
      }
      assert.ok(appended > 0);
    });
    const verified = await run(['audit', 'verify']);
    assert.equal(verified.status, 0, show(verified));
  });
});

describe('admin records on PostgreSQL, with NATS', { skip: await serviceOrSkip('postgres') }, () => {
  let b: Backend;
  const stream = `GH_ADMIN_${process.pid}`;
  let natsSkip: false | string = false;

  before(async () => {
    b = await createBackend('postgres');
    natsSkip = await serviceOrSkip('nats');
  });
  after(async () => {
    await b?.close();
    if (natsSkip) return;
    const nc = await connect({ servers: new URL(NATS_URL).host });
    try { await (await jetstreamManager(nc)).streams.delete(stream).catch(() => false); } finally { await nc.close(); }
  });

  it('admin records appended while an instance writes to the same PostgreSQL chain keep it whole (the head row lock), and on the NATS bus a command is recorded exactly once', async () => {
    if (natsSkip) console.log(`# NATS part skipped (in-process bus instead): ${natsSkip}`);
    const config = await b.writeConfig(natsSkip ? {} : { bus: { url: NATS_URL, stream, subjectPrefix: `gh-admin-${process.pid}` } });
    const run = (args: string[], input?: string) => gatehouse([...args, '--config', config], { cwd: b.dir, ...(input !== undefined ? { input } : {}) });
    const added = await run(['user', 'add', 'carol', '--password-stdin'], 'a-long-enough-password-1\n');
    assert.equal(added.status, 0, show(added));
    await withStore(config, async (store) => {
      const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: join(b.dir, 'instance-spool'), batchMaxDelayMs: 1 });
      let done = false;
      let appended = 0;
      const instance = (async () => {
        while (!done) {
          writer.append(accessDraft(appended++));
          await writer.flush();
        }
      })();
      try {
        for (const args of [['user', 'disable', 'carol'], ['user', 'enable', 'carol']]) {
          const r = await run(args);
          assert.equal(r.status, 0, show(r));
        }
      } finally {
        done = true;
        await instance;
        await writer.close();
      }
      assert.ok(appended > 0);
    });
    const q = await run(['audit', 'query', '--action', 'admin.user.disable']);
    assert.equal(q.status, 0, show(q));
    assert.equal(q.stdout.split('\n').filter((l) => l.startsWith('{')).length, 1, q.stdout);
    const verified = await run(['audit', 'verify']);
    assert.equal(verified.status, 0, show(verified));
  });
});
