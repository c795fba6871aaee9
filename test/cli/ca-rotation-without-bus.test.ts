/**
 * A CA rotation run with the embedded defaults (in-process bus): the command cannot reach any
 * running instance, so it says so — instances pick the change up at their next poll — instead
 * of leaving the operator to believe they follow at once.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { createBackend, gatehouse, show, type Backend } from './support/cli.ts';

describe('ca rotate-root, rotate-intermediate and cert revoke without a shared bus', () => {
  let b: Backend;
  let config: string;
  before(async () => {
    b = await createBackend('sqlite');
    config = await b.writeConfig({ pki: { crl: { refreshIntervalSeconds: 45 } } });
    const init = await run(['ca', 'init']);
    assert.equal(init.status, 0, show(init));
  });
  after(() => b?.close());

  function run(args: string[]) {
    return gatehouse([...args, '--config', config], { cwd: b.dir });
  }

  it('says running instances were not told and follow within the refresh interval, and reports announced: false in JSON', async () => {
    const prepared = await run(['ca', 'rotate-root']);
    assert.equal(prepared.status, 0, show(prepared));
    assert.match(prepared.stdout, /running instances:\s+not told: no shared bus is configured \(bus\.url is memory:\); each picks the change up at its next refresh, within pki\.crl\.refreshIntervalSeconds \(45 s\)/);
    assert.doesNotMatch(prepared.stdout, /trusts the new root now/);
    const cancelled = await run(['ca', 'rotate-root', '--cancel', '--json']);
    assert.equal(cancelled.status, 0, show(cancelled));
    assert.equal((JSON.parse(cancelled.stdout) as { announced: boolean }).announced, false);
    const rotated = await run(['ca', 'rotate-intermediate', '--json']);
    assert.equal(rotated.status, 0, show(rotated));
    assert.equal((JSON.parse(rotated.stdout) as { announced: boolean }).announced, false);
  });

  it('cert revoke says the same: running instances were not told and read the new CRL at their next refresh', async () => {
    const revoked = await run(['cert', 'revoke', '--id', 'spiffe://gatehouse.internal/svc/gone']);
    assert.equal(revoked.status, 0, show(revoked));
    assert.match(revoked.stdout, /^running instances: not told: no shared bus is configured \(bus\.url is memory:\); each picks the change up at its next refresh, within pki\.crl\.refreshIntervalSeconds \(45 s\)$/m);
    const json = await run(['cert', 'revoke', '--id', 'spiffe://gatehouse.internal/svc/gone', '--json']);
    assert.equal((JSON.parse(json.stdout) as { announced: boolean }).announced, false);
  });
});
