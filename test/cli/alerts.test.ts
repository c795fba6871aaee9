/**
 * `gatehouse alerts block|unblock` through the real command. Block values come from requests
 * (detection blocks the subjects and addresses attackers use), so what the commands print must
 * not let such a value drive the operator's terminal.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBackend, gatehouse, show, type Backend } from './support/cli.ts';

// An external issuer's principal (`<issuer>#<sub>`): taken as given, since Gatehouse cannot look it up.
const EVIL = 'https://idp.example#mallory\u001b]0;pwned\u0007\u001b[2J';

describe('gatehouse alerts unblock', () => {
  let backend: Backend;
  let config: string;

  before(async () => {
    backend = await createBackend('sqlite');
    config = await backend.writeConfig();
  });
  after(async () => { await backend?.close(); });

  it('a blocked subject carrying terminal escape sequences is printed without them when lifted (no control characters reach the terminal)', async () => {
    const blocked = await gatehouse(['alerts', 'block', '--config', config, '--subject', EVIL, '--for', '5', '--reason', 'test', '--by', 'admin']);
    assert.equal(blocked.status, 0, show(blocked));
    const lifted = await gatehouse(['alerts', 'unblock', '--config', config, '--subject', EVIL, '--by', 'admin']);
    assert.equal(lifted.status, 0, show(lifted));
    assert.match(lifted.stdout, /^lifted subject:https:\/\/idp\.example#mallory\?\]0;pwned\?\?\[2J \(/m);
    // eslint-disable-next-line no-control-regex
    assert.doesNotMatch(blocked.stdout + lifted.stdout, /[\u0000-\u0008\u000b-\u001f\u007f-\u009f]/);
  });

  it('its log lines on stderr repeat no key (Elasticsearch and other strict JSON consumers refuse duplicate keys)', async () => {
    const fresh = await createBackend('sqlite');
    try {
      // A command that may create the store (read-only ones refuse a missing one).
      const r = await gatehouse(['alerts', 'block', '--verbose', '--config', await fresh.writeConfig(), '--address', '192.0.2.7', '--for', '5', '--reason', 'test', '--by', 'admin']);
      assert.equal(r.status, 0, show(r));
      const lines = r.stderr.split('\n').filter((l) => l.startsWith('{'));
      assert.ok(lines.some((l) => l.includes('migration applied')), 'a fresh store logs its migrations');
      for (const line of lines) {
        const keys = [...line.matchAll(/[{,]"([^"]+)":/g)].map((m) => m[1]);
        assert.equal(new Set(keys).size, keys.length, line);
      }
    } finally {
      await fresh.close();
    }
  });
});

describe('gatehouse alerts block --subject with what an operator types', () => {
  let backend: Backend;
  let config: string;
  let aliceId: string;
  const run = (args: string[], input?: string) => gatehouse([...args, '--config', config], input !== undefined ? { input } : {});

  before(async () => {
    backend = await createBackend('sqlite');
    config = await backend.writeConfig();
    const added = await run(['user', 'add', 'alice', '--password-stdin', '--json'], 'a-long-enough-password-1\n');
    assert.equal(added.status, 0, show(added));
    aliceId = (JSON.parse(added.stdout) as { user: { id: string } }).user.id;
  });
  after(async () => { await backend?.close(); });

  it('a user name is blocked by the user\'s id (a block stored on the name matched none of alice\'s requests while the operator believed her blocked), and unblock by name lifts it', async () => {
    const blocked = await run(['alerts', 'block', '--subject', 'alice', '--for', '5', '--reason', 'test', '--by', 'ops']);
    assert.equal(blocked.status, 0, show(blocked));
    assert.match(blocked.stdout, new RegExp(`blocked:\\s+subject:${aliceId}`));
    assert.match(blocked.stdout, /user:\s+alice/);
    const listed = await run(['alerts', 'blocks', '--json']);
    assert.deepEqual((JSON.parse(listed.stdout) as { value: string }[]).map((b) => b.value), [aliceId]);
    const lifted = await run(['alerts', 'unblock', '--subject', 'alice', '--by', 'ops']);
    assert.equal(lifted.status, 0, show(lifted));
    assert.match(lifted.stdout, new RegExp(`^lifted subject:${aliceId} `, 'm'));
  });

  it('a subject that names no principal (a mistyped name) is refused with ERR_DETECT_BLOCK_INVALID and nothing is blocked', async () => {
    const r = await run(['alerts', 'block', '--subject', 'alcie', '--for', '5', '--reason', 'test', '--by', 'ops']);
    assert.equal(r.status, 1, show(r));
    assert.match(r.stderr, /ERR_DETECT_BLOCK_INVALID/);
    assert.match(r.stderr, /no principal "alcie"/);
    const listed = await run(['alerts', 'blocks', '--json']);
    assert.deepEqual(JSON.parse(listed.stdout), []);
  });
});
