/**
 * Warnings before the root CA expires. Every certificate chains to the root, so its end is
 * the end of the whole CA, and intermediates rotated near it end with it: an instance warns
 * from `pki.rootWarningDays` before, in its log and as a degraded `pki` in `/readyz`, as it does
 * for the intermediate.
 */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { request } from 'undici';
import { pkiSchema } from '../../src/core/config/pki-schema.ts';
import { judgeRootExpiry } from '../../src/pki/root-expiry.ts';
import { startGateway } from '../support/gateway.ts';

describe('root CA expiry', () => {
  it('reports a root with fewer than rootWarningDays left as expiring and says how to replace it; one with more as ok; one past its end as expired', () => {
    const root = { serial: 'abc', notAfter: new Date(Date.UTC(2030, 0, 31)) };
    assert.equal(judgeRootExpiry(root, new Date(Date.UTC(2029, 9, 1)), 90).state, 'ok');
    const soon = judgeRootExpiry(root, new Date(Date.UTC(2030, 0, 11)), 90);
    assert.equal(soon.state, 'expiring');
    assert.equal(soon.daysLeft, 20);
    assert.match(soon.message, /root CA \(serial abc\) expires .*20 days left.*docs\/pki\.md/);
    assert.match(soon.message, /gatehouse ca rotate-root.*--activate/, 'the warning names the commands that act on it');
    const gone = judgeRootExpiry(root, new Date(Date.UTC(2030, 1, 1)), 90);
    assert.equal(gone.state, 'expired');
    assert.match(gone.message, /expired.*no certificate of this CA verifies/);
  });

  it('warns 90 days before by default', () => {
    assert.equal(pkiSchema.parse({}).rootWarningDays, 90);
  });

  it('logs a warning and reports pki degraded (still ready) in /readyz when the root expires within rootWarningDays, while the intermediate is far from its own warning', async () => {
    // A 60-day root: inside the default 90-day warning. The intermediate (30 days, warned 1 day
    // before) is fine, so only the root can be what is reported.
    const gw = await startGateway({ pki: { rootLifetimeDays: 60, intermediateLifetimeDays: 30, intermediateWarningDays: 1 } }, { compose: true });
    try {
      const res = await request(`${gw.opsUrl}/readyz`);
      const body = await res.body.json() as { ready: boolean; dependencies: Record<string, { ok: boolean; degraded?: boolean; detail?: string }> };
      assert.equal(res.statusCode, 200);
      assert.equal(body.ready, true);
      assert.equal(body.dependencies.pki?.degraded, true, JSON.stringify(body.dependencies.pki));
      assert.match(body.dependencies.pki?.detail ?? '', /root CA \(serial [0-9a-f]+\) expires .*(59|60) days left/);
      const warning = gw.logs.lines.find((l) => typeof l.msg === 'string' && /root CA .* expires/.test(l.msg));
      assert.ok(warning, 'no root expiry warning in the log');
      assert.equal(warning.level, 40);
      assert.equal(typeof warning.rootSerial, 'string');
    } finally { await gw.close(); }
  });

  it('reports pki not degraded when neither the root nor the intermediate is near its end', async () => {
    const gw = await startGateway({}, { compose: true });
    try {
      const body = await (await request(`${gw.opsUrl}/readyz`)).body.json() as { dependencies: Record<string, { degraded?: boolean; detail?: string }> };
      assert.equal(body.dependencies.pki?.degraded, undefined, body.dependencies.pki?.detail);
      assert.match(body.dependencies.pki?.detail ?? '', /root CA valid until/);
    } finally { await gw.close(); }
  });
});
