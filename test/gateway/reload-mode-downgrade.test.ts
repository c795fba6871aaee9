/**
 * A gateway started in production mode (by its file, without NODE_ENV) took a reload whose file
 * said `mode: development` and checked it as development: a plain-HTTP upstream on another host,
 * refused in production, went live without a restart. A reload is now checked under the running
 * mode, and leaving production is refused (mode changes only on restart).
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway, startUpstream } from '../support/gateway.ts';
import { selfSignedCertificate } from '../support/self-signed.ts';

const DAY = 86_400_000;

describe('reload under the running mode', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => { for (const c of cleanup.reverse()) await c(); });

  it('a reload to mode: development with a plain-HTTP upstream on another host (production refusals lifted live) is refused and the production routes keep serving', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-mode-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const pair = await selfSignedCertificate(new Date(Date.now() - DAY), new Date(Date.now() + 30 * DAY));
    const tls = { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
    await writeFile(tls.cert, pair.cert);
    await writeFile(tls.key, pair.key, { mode: 0o600 });
    const app = await startUpstream();
    cleanup.push(() => app.close());
    const listeners = { https: { host: '127.0.0.1', port: 0, tls }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } };
    const base = { mode: 'production' as const, listeners, upstreams: { app: { url: app.url } }, routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public' as const }] };
    const env = { NODE_ENV: '', GATEHOUSE_PKI_KEY: randomBytes(32).toString('base64url'), GATEHOUSE_KEY_ENCRYPTION_SECRET: randomBytes(32).toString('base64url') };
    const gw = await startGateway(base, { env });
    cleanup.push(() => gw.close());
    assert.equal(gw.gateway.config.mode, 'production');
    assert.equal((await gw.fetch('/app/x')).status, 200);

    await gw.writeConfig({ ...base, mode: 'development' as const, upstreams: { app: { url: app.url }, far: { url: 'http://far.example:8080' } }, routes: [...base.routes, { id: 'far', path: '/far', upstream: 'far', access: 'public' as const }] });
    const result = await gw.gateway.reload('test');
    assert.equal(result.applied, false, 'a reload left production mode');
    assert.ok(result.problems?.some((p) => p.path.join('.') === 'mode'), JSON.stringify(result.problems));
    assert.equal(gw.gateway.config.mode, 'production');
    assert.equal((await gw.fetch('/far/x')).status, 404, 'the development-only route went live');

    // Without the mode key the file would default to development: refused the same way.
    const { mode: _m, ...noMode } = base;
    await gw.writeConfig(noMode);
    assert.equal((await gw.gateway.reload('test')).applied, false);
    // Staying in production is applied as usual.
    await gw.writeConfig(base);
    assert.equal((await gw.gateway.reload('test')).applied, true);
  });
});
