/**
 * `gatehouse audit query` as a user runs it: a child process on a real SQLite audit log,
 * its output read through a pipe.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { openStore } from '../../src/store/index.ts';
import { AuditWriter } from '../../src/audit/writer.ts';
import { generateSigningJwk, signingKeyFromJwk } from '../../src/audit/signing-key.ts';
import { accessDraft } from '../audit/support/events.ts';
import { createBackend, gatehouse, show, type Backend } from './support/cli.ts';

const MAIN = join(import.meta.dirname, '..', '..', 'src', 'cli', 'main.ts');
/** Far more than a pipe buffers (64 KiB), so the command is still writing when the reader leaves. */
const RECORDS = 3000;

describe('gatehouse audit query', () => {
  let backend: Backend;
  let config: string;

  before(async () => {
    backend = await createBackend('sqlite');
    config = await backend.writeConfig();
    const store = await openStore(`sqlite:${join(backend.dir, 'data', 'gatehouse.db')}`);
    await store.migrate();
    const writer = AuditWriter.open({ store, instance: 'gw-1', spoolDir: join(backend.dir, 'spool'), signingKey: await signingKeyFromJwk(await generateSigningJwk()), batchMaxEvents: 500 });
    for (let i = 0; i < RECORDS; i++) writer.append(accessDraft(i, i === 7 ? { status: 403 } : {}));
    await writer.close();
    await store.close();
  });
  after(async () => { await backend?.close(); });

  it('piped into a reader that leaves after the first line (`| head -1`): exits 0 without a stack trace', async () => {
    const child = spawn(process.execPath, [MAIN, 'audit', 'query', '--config', config], { stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, NODE_ENV: 'development' } });
    let stderr = '';
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const first = await new Promise<string>((resolve) => {
      let text = '';
      child.stdout.setEncoding('utf8').on('data', (d: string) => {
        text += d;
        const nl = text.indexOf('\n');
        // What `head -1` does: take one line and close the pipe.
        if (nl >= 0) { child.stdout.destroy(); resolve(text.slice(0, nl)); }
      });
    });
    const status = await new Promise<number | null>((resolve) => child.on('close', (code) => resolve(code)));
    assert.equal((JSON.parse(first) as { seq: number }).seq, 1);
    assert.equal(stderr, '', 'nothing on stderr');
    assert.equal(status, 0);
  });

  it('an outcome that does not exist (--outcome deny) is refused with ERR_AUDIT_QUERY_INVALID instead of matching nothing', async () => {
    const r = await gatehouse(['audit', 'query', '--config', config, '--outcome', 'deny']);
    assert.equal(r.status, 1, show(r));
    assert.equal(r.stdout, '');
    assert.match(r.stderr, /^error ERR_AUDIT_QUERY_INVALID: Invalid audit query \(.*success \| failure \| denied \| error \| info.*\)\n$/);
    const denied = await gatehouse(['audit', 'query', '--config', config, '--outcome', 'denied']);
    assert.equal(denied.status, 0, show(denied));
    assert.equal(denied.stdout.trim().split('\n').length, 1);
  });
});
