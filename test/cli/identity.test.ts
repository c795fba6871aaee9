/**
 * `gatehouse user|client|token|keys` end to end through the real CLI, on SQLite and on
 * PostgreSQL. What the CLI prints is checked against what a running instance would see in
 * the shared store (stored hashes, token verification).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { IdentityUsersRepo } from '../../src/store/repos/identity-users-repo.ts';
import { IdentityClientsRepo } from '../../src/store/repos/identity-clients-repo.ts';
import { verifyPassword } from '../../src/identity/accounts/passwords.ts';
import { secretMatches } from '../../src/identity/accounts/secrets.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createBackend, gatehouse, show, type Backend } from './support/cli.ts';
import { withIdentity, withStore } from './support/state.ts';

/** The secret printed after the "shown once" notice. */
function onceSecret(stdout: string, label: string): string {
  const m = new RegExp(`${label} \\(shown once[^\\n]*\\n(\\S+)\\n`).exec(stdout);
  assert.ok(m, `no ${label} in:\n${stdout}`);
  return m[1]!;
}

function countOf(haystack: string, needle: string): number {
  return haystack.split(needle).length - 1;
}

async function storedPasswordHash(config: string, username: string): Promise<string> {
  return withStore(config, async (store) => (await new IdentityUsersRepo(store.db).findByUsername(username))?.passwordHash ?? '');
}

function identitySuite(name: 'sqlite' | 'postgres', skip: false | string) {
  describe(`identity commands on ${name}`, { skip }, () => {
    let b: Backend;
    let config: string;
    before(async () => {
      b = await createBackend(name);
      config = await b.writeConfig();
    });
    after(() => b?.close());

    // Without --config the CLI reads ./gatehouse.yaml, like an operator in the deployment directory.
    const run = (args: string[], input?: string) => gatehouse(args, { cwd: b.dir, ...(input !== undefined ? { input } : {}) });

    it('user add prints a generated password once; list shows the user; disable and enable', async () => {
      const add = await run(['user', 'add', 'Alice', '--email', 'alice@example.com', '--role', 'admin,mail-user']);
      assert.equal(add.status, 0, show(add));
      const password = onceSecret(add.stdout, 'password');
      assert.equal(countOf(add.stdout + add.stderr, password), 1, 'the password is printed exactly once');
      assert.ok(await verifyPassword(await storedPasswordHash(config, 'alice'), password), 'the printed password is the stored one');

      const list = await run(['user', 'list']);
      assert.equal(list.status, 0, show(list));
      assert.match(list.stdout, /^ID\s+USERNAME\s+EMAIL\s+ROLES/m);
      assert.match(list.stdout, /alice\s+alice@example\.com\s+admin,mail-user\s+no/);
      assert.ok(!list.stdout.includes(password));

      const disable = await run(['user', 'disable', 'alice', '--json']);
      assert.equal(disable.status, 0, show(disable));
      assert.equal((JSON.parse(disable.stdout) as { disabled: boolean }).disabled, true);
      const listed = JSON.parse((await run(['user', 'list', '--json'])).stdout) as { username: string; disabled: boolean }[];
      assert.deepEqual(listed.map((u) => [u.username, u.disabled]), [['alice', true]]);
      await withIdentity(config, async (idp) => {
        assert.equal((await idp.directory.getPrincipal((await idp.accounts.findUser('alice'))!.id))?.disabled, true);
      });

      const enable = await run(['user', 'enable', 'alice@example.com']);
      assert.equal(enable.status, 0, show(enable));
      assert.match(enable.stdout, /disabled:\s+no/);
    });

    it('a password given on stdin works and appears in no output', async () => {
      const password = 'stdin passphrase ✓ 7f3a9c';
      const add = await run(['user', 'add', 'bob', '--password-stdin', '--role', 'mail-user'], `${password}\n`);
      assert.equal(add.status, 0, show(add));
      assert.ok(!add.stdout.includes('shown once'), 'no generated password when one was given');
      assert.ok(await verifyPassword(await storedPasswordHash(config, 'bob'), password), 'stdin password is the stored one');

      const next = 'another stdin passphrase 42';
      const set = await run(['user', 'set-password', 'bob', '--password-stdin'], next);
      assert.equal(set.status, 0, show(set));
      const hash = await storedPasswordHash(config, 'bob');
      assert.ok(await verifyPassword(hash, next));
      assert.equal(await verifyPassword(hash, password), false, 'the old password no longer works');
      for (const r of [add, set]) {
        for (const secret of [password, next]) assert.ok(!(r.stdout + r.stderr).includes(secret), `password leaked:\n${show(r)}`);
      }
    });

    it('refuses a password on the command line, and a weak one on stdin without creating the user', async () => {
      const arg = await run(['user', 'add', 'carol', '--password', 'correct horse battery']);
      assert.equal(arg.status, 1);
      assert.match(arg.stderr, /unknown option '--password'/);

      const weak = await run(['user', 'add', 'carol', '--password-stdin'], 'short\n');
      assert.equal(weak.status, 1, show(weak));
      assert.match(weak.stderr, /ERR_IDENTITY_PASSWORD_WEAK/);
      const empty = await run(['user', 'add', 'carol', '--password-stdin'], '');
      assert.equal(empty.status, 1);
      assert.match(empty.stderr, /No password on stdin/);
      const users = JSON.parse((await run(['user', 'list', '--json'])).stdout) as { username: string }[];
      assert.ok(!users.some((u) => u.username === 'carol'), 'no partial user');
    });

    it('unlock, reset-mfa, and a clear error for an unknown user', async () => {
      assert.equal((await run(['user', 'unlock', 'alice'])).status, 0);
      const reset = await run(['user', 'reset-mfa', 'alice']);
      assert.equal(reset.status, 0, show(reset));
      assert.match(reset.stdout, /MFA of alice reset/);
      const missing = await run(['user', 'disable', 'nobody']);
      assert.equal(missing.status, 1);
      assert.match(missing.stderr, /error ERR_IDENTITY_USER_NOT_FOUND: User not found/);
    });

    it('client add prints a secret once; rotate-secret replaces it; remove', async () => {
      const add = await run(['client', 'add', 'billing', '--kind', 'service', '--role', 'svc', '--config', config]);
      assert.equal(add.status, 0, show(add));
      const secret = onceSecret(add.stdout, 'client secret');
      assert.match(secret, /^ghcs_/);
      assert.equal(countOf(add.stdout + add.stderr, secret), 1);

      const list = await run(['client', 'list']);
      assert.match(list.stdout, /billing\s+service\s+-\s+billing\s+client_secret_basic\s+svc/);
      assert.ok(!list.stdout.includes('ghcs_'), 'list never shows a secret');

      const rotate = await run(['client', 'rotate-secret', 'billing', '--json']);
      assert.equal(rotate.status, 0, show(rotate));
      const rotated = (JSON.parse(rotate.stdout) as { secret: string }).secret;
      assert.match(rotated, /^ghcs_/);
      assert.notEqual(rotated, secret);
      await withStore(config, async (store) => {
        const stored = (await new IdentityClientsRepo(store.db).find('billing'))!.secretHash!;
        assert.ok(secretMatches(rotated, stored), 'the new secret is the stored one');
        assert.equal(secretMatches(secret, stored), false, 'the old secret stopped working');
      });

      const bad = await run(['client', 'add', 'web', '--kind', 'app', '--redirect-uri', 'http://app.example/cb']);
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /ERR_IDENTITY_INPUT_INVALID: redirect URI: must be https/);

      assert.equal((await run(['client', 'remove', 'billing'])).status, 0);
      const again = await run(['client', 'remove', 'billing']);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /ERR_IDENTITY_CLIENT_NOT_FOUND/);
    });

    it('client add --native registers a public native app whose loopback redirect URI matches any port (RFC 8252), shown as native by list', async () => {
      const add = await run(['client', 'add', 'desktop', '--kind', 'app', '--native', '--redirect-uri', 'http://127.0.0.1/callback', '--json']);
      assert.equal(add.status, 0, show(add));
      const added = JSON.parse(add.stdout) as { client: { applicationType: string; authMethod: string }; secret?: string };
      assert.equal(added.client.applicationType, 'native');
      assert.equal(added.client.authMethod, 'none', 'a native app cannot keep a secret (RFC 8252 §8.5): public by default');
      assert.equal(added.secret, undefined);
      await withIdentity(config, async (idp) => {
        const stored = (await idp.accounts.listClients()).find((c) => c.clientId === 'desktop')!;
        assert.equal(stored.metadata.application_type, 'native');
      });

      const list = await run(['client', 'list']);
      assert.match(list.stdout, /^CLIENT ID\s+KIND\s+TYPE\s+NAME/m);
      assert.match(list.stdout, /desktop\s+app\s+native\s+desktop\s+none/);
      const listed = JSON.parse((await run(['client', 'list', '--json'])).stdout) as { clientId: string; applicationType?: string }[];
      assert.equal(listed.find((c) => c.clientId === 'desktop')?.applicationType, 'native');

      // A web app stays web; a service account has no application type and refuses --native.
      assert.equal((await run(['client', 'add', 'portal', '--kind', 'app', '--redirect-uri', 'https://portal.example/cb'])).status, 0);
      assert.match((await run(['client', 'list'])).stdout, /portal\s+app\s+web\s+portal\s+client_secret_basic/);
      const service = await run(['client', 'add', 'svc-native', '--kind', 'service', '--native']);
      assert.equal(service.status, 1);
      assert.match(service.stderr, /ERR_ADMIN_INPUT_INVALID: --native is for apps/);
      // Loopback http for a native app is refused on other hosts, like the provider does.
      const plain = await run(['client', 'add', 'desktop2', '--kind', 'app', '--native', '--redirect-uri', 'http://app.example/cb']);
      assert.equal(plain.status, 1);
    });

    it('token create prints a ghs_ token once; list shows it without the secret; revoke stops it', async () => {
      const create = await run(['token', 'create', '--owner', 'alice', '--name', 'ci', '--role', 'admin', '--days', '7']);
      assert.equal(create.status, 0, show(create));
      const token = onceSecret(create.stdout, 'API token');
      assert.match(token, /^ghs_[A-Za-z0-9_-]{43}$/);
      assert.equal(countOf(create.stdout + create.stderr, token), 1);
      const tokenId = /token id:\s+(tok_\S+)/.exec(create.stdout)?.[1];
      assert.ok(tokenId, create.stdout);
      await withIdentity(config, async (idp) => {
        const verified = await idp.inspectApiToken(token);
        assert.ok(!('code' in verified), `token refused: ${JSON.stringify(verified)}`);
        assert.deepEqual(verified.roles, ['admin']);
      });

      const list = await run(['token', 'list', '--owner', 'alice']);
      assert.equal(list.status, 0, show(list));
      assert.match(list.stdout, new RegExp(`${tokenId}\\s+ci\\s+user:usr_\\S+\\s+admin\\s+active`));
      assert.ok(!list.stdout.includes('ghs_'), 'list never shows a token');
      const listJson = await run(['token', 'list', '--json']);
      assert.ok(!listJson.stdout.includes(token));

      const revoke = await run(['token', 'revoke', tokenId]);
      assert.equal(revoke.status, 0, show(revoke));
      const after = JSON.parse((await run(['token', 'list', '--json'])).stdout) as { tokenId: string; status: string }[];
      assert.equal(after.find((t) => t.tokenId === tokenId)?.status, 'revoked');
      await withIdentity(config, async (idp) => {
        assert.deepEqual(await idp.inspectApiToken(token), { code: 'ERR_AUTHN_TOKEN_REVOKED' });
      });

      const scope = await run(['token', 'create', '--owner', 'bob', '--name', 'x', '--role', 'admin']);
      assert.equal(scope.status, 1, 'a token cannot carry a role its owner lacks');
      assert.match(scope.stderr, /ERR_IDENTITY_API_TOKEN_SCOPE/);
    });

    it('keys rotate makes a new key active and keeps the previous one', async () => {
      const first = await run(['keys', 'rotate', '--json']);
      assert.equal(first.status, 0, show(first));
      const a = JSON.parse(first.stdout) as { kid: string; previousKid?: string };
      const second = await run(['keys', 'rotate', '--algorithm', 'EdDSA']);
      assert.equal(second.status, 0, show(second));
      assert.match(second.stdout, new RegExp(`previous key:\\s+${a.kid}`));
      const kid = /active key:\s+(\S+)/.exec(second.stdout)?.[1];
      await withIdentity(config, async (idp) => {
        const keys = idp.publicJwks().keys;
        assert.equal(keys[0]?.kid, kid);
        assert.equal(keys[0]?.alg, 'EdDSA');
        assert.ok(keys.some((k) => k.kid === a.kid), 'the previous key still verifies');
      });

      // A key that may be compromised: every earlier key is withdrawn at once.
      const withdrawn = await run(['keys', 'rotate', '--retire-previous', '--json']);
      assert.equal(withdrawn.status, 0, show(withdrawn));
      const w = JSON.parse(withdrawn.stdout) as { kid: string; previousKid?: string; retireAt: string };
      assert.equal(w.previousKid, kid);
      assert.ok(Date.parse(w.retireAt) <= Date.now(), `retired now, not at ${w.retireAt}`);
      await withIdentity(config, async (idp) => {
        assert.deepEqual(idp.publicJwks().keys.map((k) => k.kid), [w.kid], 'only the new key is published');
      });
    });
  });
}

identitySuite('sqlite', false);
identitySuite('postgres', await serviceOrSkip('postgres'));
