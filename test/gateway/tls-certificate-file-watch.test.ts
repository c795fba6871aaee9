/**
 * A certificate renewed on disk (certbot, cert-manager, an operator's `mv`) is served without a
 * restart and without an edit of the configuration file; what the reload checks still holds: a
 * half-written pair or an expired renewal is refused and the served certificate stays.
 */
import { after, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, rename, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { startGateway } from '../support/gateway.ts';
import { selfSignedCertificate, servedFingerprint } from '../support/self-signed.ts';

const DAY = 86_400_000;
const fingerprint = (pem: string) => new X509Certificate(pem).fingerprint256;

/** Polls until the served certificate is `expected` or `ms` pass; returns the last one seen. */
async function servedWithin(port: number, expected: string, ms: number): Promise<string> {
  const deadline = Date.now() + ms;
  let seen = await servedFingerprint(port);
  while (seen !== expected && Date.now() < deadline) {
    await new Promise((r) => setTimeout(r, 100));
    seen = await servedFingerprint(port);
  }
  return seen;
}

/** Replaces a file the way renewal tools do: a new file renamed over the old one. */
async function replace(file: string, text: string): Promise<void> {
  await writeFile(`${file}.tmp`, text, { mode: 0o600 });
  await rename(`${file}.tmp`, file);
}

describe('listener certificate files watched', () => {
  const cleanup: (() => Promise<void>)[] = [];
  after(async () => { for (const c of cleanup.reverse()) await c(); });

  it('serves a certificate renewed on disk without a restart or a configuration edit, and reports its expiry in /metrics; a half-written pair and an expired renewal are refused and the served one stays', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gatehouse-cert-watch-'));
    cleanup.push(() => rm(dir, { recursive: true, force: true }));
    const files = { cert: join(dir, 'server.crt'), key: join(dir, 'server.key') };
    const first = await selfSignedCertificate(new Date(Date.now() - DAY), new Date(Date.now() + 30 * DAY));
    await writeFile(files.cert, first.cert);
    await writeFile(files.key, first.key, { mode: 0o600 });
    const gw = await startGateway({ listeners: { https: { host: '127.0.0.1', port: 0, tls: files }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } } }, { watch: true });
    cleanup.push(() => gw.close());
    const port = gw.gateway.addresses().https.port;
    assert.equal(await servedFingerprint(port), fingerprint(first.cert));
    const notAfterGauge = async () => Number(/^gatehouse_tls_certificate_not_after_seconds (\S+)$/m.exec(await gw.gateway.metrics.registry.getSingleMetricAsString('gatehouse_tls_certificate_not_after_seconds'))?.[1]);
    assert.equal(await notAfterGauge(), Date.parse(new X509Certificate(first.cert).validTo) / 1000);

    // Renewal: key, then certificate (the new certificate does not match the old key in between).
    const renewed = await selfSignedCertificate(new Date(Date.now() - DAY), new Date(Date.now() + 90 * DAY));
    await replace(files.key, renewed.key);
    await replace(files.cert, renewed.cert);
    assert.equal(await servedWithin(port, fingerprint(renewed.cert), 8000), fingerprint(renewed.cert), 'the renewed certificate was not served');
    assert.equal(await notAfterGauge(), Date.parse(new X509Certificate(renewed.cert).validTo) / 1000, 'the expiry gauge still shows the old certificate');

    // Only the certificate of the next pair written: it does not belong to the key on disk.
    const next = await selfSignedCertificate(new Date(Date.now() - DAY), new Date(Date.now() + 90 * DAY));
    await replace(files.cert, next.cert);
    assert.equal(await servedWithin(port, fingerprint(next.cert), 1500), fingerprint(renewed.cert), 'a certificate without its key was put in place');
    await replace(files.key, next.key);
    assert.equal(await servedWithin(port, fingerprint(next.cert), 8000), fingerprint(next.cert), 'the completed pair was not served');

    // An expired certificate renewed by mistake is refused.
    const expired = await selfSignedCertificate(new Date(Date.now() - 60 * DAY), new Date(Date.now() - DAY));
    await replace(files.key, expired.key);
    await replace(files.cert, expired.cert);
    await new Promise((r) => setTimeout(r, 1500));
    assert.equal(await servedFingerprint(port), fingerprint(next.cert), 'an expired certificate was put in place');
    assert.ok(gw.logs.lines.some((l) => l.msg === 'configuration reload refused; the previous configuration keeps serving' && /expired/.test(JSON.stringify(l))), 'the refusal was not logged');
  });
});
