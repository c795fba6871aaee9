/**
 * The listener certificate checks of `gatehouse start` (expired, not yet valid, another key's)
 * hold on every path that puts a certificate in place: a configuration reload that brings new
 * certificate files, and `Gateway.start` called by an embedder (which also checks the data
 * directory as the CLI does). A refused certificate is never served; the old one keeps serving.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { captureLogger, startGateway, testConfig } from '../support/gateway.ts';
import { selfSignedCertificate as certificate, servedFingerprint } from '../support/self-signed.ts';
import { Gateway, type GatewayExtension, type ReloadOutcome } from '../../src/gateway/gateway.ts';
import { parseConfig, ConfigError } from '../../src/core/config/load.ts';

const DAY = 86_400_000;

describe('listener certificate checks on reload', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => { for (const c of cleanup.reverse()) await c(); });

  /** A gateway serving a valid certificate from files, with a reload that writes `next` into them. */
  async function serving() {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-tls-check-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const current = await certificate(new Date(Date.now() - DAY), new Date(Date.now() + 60 * DAY));
    const files = { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
    await writeFile(files.cert, current.cert);
    await writeFile(files.key, current.key, { mode: 0o600 });
    const outcomes: ReloadOutcome[] = [];
    const probe: GatewayExtension = { name: 'reload-probe', onReload: (o) => outcomes.push(o) };
    const listeners = { https: { host: '127.0.0.1', port: 0, tls: files }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } };
    const gw = await startGateway({ listeners }, { extensions: [probe] });
    cleanup.push(() => gw.close());
    const port = gw.gateway.addresses().https.port;
    return {
      gw, port, outcomes, currentFingerprint: new X509Certificate(current.cert).fingerprint256,
      async reloadWith(next: { cert: string; key: string }) {
        await writeFile(files.cert, next.cert);
        await writeFile(files.key, next.key, { mode: 0o600 });
        await gw.writeConfig({ listeners });
        return gw.gateway.reload('test');
      },
    };
  }

  it('refuses a reload that brings an expired certificate; the old one keeps serving and config.rejected is told', async () => {
    const { gw, port, outcomes, currentFingerprint, reloadWith } = await serving();
    const expired = await certificate(new Date(Date.now() - 60 * DAY), new Date(Date.now() - DAY));
    const result = await reloadWith(expired);
    assert.equal(result.applied, false, 'an expired certificate was put in place by a reload');
    assert.ok(result.problems?.some((p) => p.path.join('.') === 'listeners.https.tls.cert' && /expired on \d{4}-/.test(p.message)), JSON.stringify(result.problems));
    assert.equal(await servedFingerprint(port), currentFingerprint, 'the old certificate keeps serving');
    const told = outcomes.at(-1);
    assert.ok(told && !told.applied && told.problems.some((p) => p.path.join('.') === 'listeners.https.tls.cert'), 'extensions are told of the refusal (config.rejected)');
    const logged = gw.logs.lines.find((l) => /configuration reload refused/.test(String(l.msg)));
    assert.match(String(logged?.problems), /listeners\.https\.tls\.cert: .*expired on/, 'the cause is logged');
  });

  it('refuses a reload that brings a certificate not valid yet', async () => {
    const { port, currentFingerprint, reloadWith } = await serving();
    const future = await certificate(new Date(Date.now() + DAY), new Date(Date.now() + 60 * DAY));
    const result = await reloadWith(future);
    assert.equal(result.applied, false);
    assert.ok(result.problems?.some((p) => p.path.join('.') === 'listeners.https.tls.cert' && /not valid before/.test(p.message)), JSON.stringify(result.problems));
    assert.equal(await servedFingerprint(port), currentFingerprint);
  });

  it('refuses a reload whose key is not the certificate\'s (made by OpenSSL), naming the key, never quoting it', async () => {
    const { gw, port, currentFingerprint, reloadWith } = await serving();
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-tls-openssl-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    execFileSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(dir, 'a.key'), '-out', join(dir, 'a.crt'), '-subj', '/CN=localhost', '-days', '30'], { stdio: 'ignore' });
    execFileSync('openssl', ['genpkey', '-algorithm', 'EC', '-pkeyopt', 'ec_paramgen_curve:P-256', '-out', join(dir, 'b.key')], { stdio: 'ignore' });
    const { readFile } = await import('node:fs/promises');
    const result = await reloadWith({ cert: await readFile(join(dir, 'a.crt'), 'utf8'), key: await readFile(join(dir, 'b.key'), 'utf8') });
    assert.equal(result.applied, false);
    assert.ok(result.problems?.some((p) => p.path.join('.') === 'listeners.https.tls.key' && /is not the private key of the certificate/.test(p.message)), JSON.stringify(result.problems));
    assert.equal(await servedFingerprint(port), currentFingerprint);
    assert.doesNotMatch(gw.logs.text(), /PRIVATE KEY-----/);
  });

  it('puts a valid new certificate in place (the check does not refuse good material)', async () => {
    const { port, reloadWith } = await serving();
    const next = await certificate(new Date(Date.now() - DAY), new Date(Date.now() + 60 * DAY));
    assert.equal((await reloadWith(next)).applied, true);
    assert.equal(await servedFingerprint(port), new X509Certificate(next.cert).fingerprint256);
  });
});

describe('Gateway.start (library entry) makes the checks gatehouse start makes', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => { for (const c of cleanup.reverse()) await c(); });

  async function libraryStart(dataDir: string, tls?: { cert: string; key: string }) {
    const input = testConfig(dataDir, tls ? { listeners: { https: { host: '127.0.0.1', port: 0, tls }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } } } : {});
    const { logger } = captureLogger();
    return Gateway.start({ config: parseConfig(input, { env: {}, source: 'embedder' }), logger, watch: false });
  }

  it('refuses a world-writable data directory before generating a key or certificate into it', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'gatehouse-lib-'));
    cleanup.push(() => rm(parent, { recursive: true, force: true }));
    const dataDir = join(parent, 'data');
    await mkdir(dataDir);
    await chmod(dataDir, 0o777);
    await assert.rejects(libraryStart(dataDir), (err: unknown) => err instanceof ConfigError && err.code === 'ERR_CONFIG_INVALID'
      && err.problems.some((p) => p.path.join('.') === 'dataDir' && /world-writable/.test(p.message)));
    assert.equal(existsSync(join(dataDir, 'tls')), false, 'a development certificate and key were written into a directory every user can write to');
  });

  it('refuses an expired listener certificate before the data directory is set up', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'gatehouse-lib-'));
    cleanup.push(() => rm(parent, { recursive: true, force: true }));
    const expired = await certificate(new Date(Date.now() - 60 * DAY), new Date(Date.now() - DAY));
    const files = { cert: join(parent, 'expired.crt'), key: join(parent, 'expired.key') };
    await writeFile(files.cert, expired.cert);
    await writeFile(files.key, expired.key, { mode: 0o600 });
    const dataDir = join(parent, 'data');
    await assert.rejects(libraryStart(dataDir, files), (err: unknown) => err instanceof ConfigError
      && err.problems.some((p) => p.path.join('.') === 'listeners.https.tls.cert' && /expired on/.test(p.message)));
    assert.equal(existsSync(dataDir), false);
  });

  it('starts with a data directory of its own (0700) and a valid certificate', async () => {
    const parent = await mkdtemp(join(tmpdir(), 'gatehouse-lib-'));
    cleanup.push(() => rm(parent, { recursive: true, force: true }));
    const valid = await certificate(new Date(Date.now() - DAY), new Date(Date.now() + 60 * DAY));
    const files = { cert: join(parent, 'ok.crt'), key: join(parent, 'ok.key') };
    await writeFile(files.cert, valid.cert);
    await writeFile(files.key, valid.key, { mode: 0o600 });
    const gateway = await libraryStart(join(parent, 'data'), files);
    cleanup.push(() => gateway.stop());
    assert.equal(await servedFingerprint(gateway.addresses().https.port), new X509Certificate(valid.cert).fingerprint256);
  });
});
