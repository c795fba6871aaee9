/**
 * CA rotations made with the real `gatehouse` command (a process of its own) reach two running
 * instances on one PostgreSQL store and NATS JetStream bus at once: the command announces the
 * change on the bus and each instance reads the CA again from the store, its `/bundle`, `/trust`
 * and the trust anchors of its TLS endpoints following within seconds. The instances poll only
 * every 60 s (the longest `pki.crl.refreshIntervalSeconds` allowed), so the poll cannot be what
 * brought the change within the test's 10 s.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes, X509Certificate } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { connect } from '@nats-io/transport-node';
import { jetstreamManager } from '@nats-io/jetstream';
import type { ConfigInput } from '../../src/core/config/schema.ts';
import { NATS_URL, serviceOrSkip } from '../support/services.ts';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { createBackend, gatehouse, show, type Backend } from '../cli/support/cli.ts';

const skip = (await serviceOrSkip('postgres')) || (await serviceOrSkip('nats'));

const POLL_SECONDS = 60;
/** Well inside the poll interval: only the announcement can explain a change seen this soon. */
const WITHIN_MS = 10_000;
const PKI_API = '/.well-known/gatehouse/pki';

/** `GET /trust`: roots and intermediates are PEM bundles, the issuing intermediate first. */
interface TrustAnswer { roots: string; intermediates: string }

const certificates = (pems: string) => (pems.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).map((p) => new X509Certificate(p));
const fingerprints = (pems: string) => certificates(pems).map((c) => c.fingerprint256);
const serials = (pems: string) => certificates(pems).map((c) => c.serialNumber.toLowerCase().replace(/^0+/, ''));

describe('CA rotations from the command line reach two running instances over NATS before their poll', { skip }, () => {
  const run = randomBytes(4).toString('hex');
  const bus = { url: NATS_URL, stream: `GH_PKIBUS_${run}`, subjectPrefix: `ghpkibus.${run}`, maxAgeMs: 10 * 60_000 };
  const pki = { key: randomBytes(32).toString('base64url'), crl: { refreshIntervalSeconds: POLL_SECONDS } };
  let b: Backend;
  let config: string;
  let instances: TestGateway[] = [];

  before(async () => {
    b = await createBackend('postgres');
    config = await b.writeConfig({ bus, pki });
    const init = await cli(['ca', 'init']);
    assert.equal(init.status, 0, show(init));
    const storeUrl = (await import('yaml')).parse(await readFile(config, 'utf8')).store.url as string;
    const shared: ConfigInput = {
      store: { url: storeUrl }, bus, pki,
      identity: { signing: { keyEncryptionSecret: randomBytes(32).toString('base64url') } },
    };
    for (const id of ['pki-bus-a', 'pki-bus-b']) instances.push(await startGateway({ ...shared, instanceId: id }, { compose: true }));
  });

  after(async () => {
    for (const gw of instances) await gw.close();
    instances = [];
    await b?.close();
    const nc = await connect({ servers: new URL(NATS_URL).host });
    try { await (await jetstreamManager(nc)).streams.delete(bus.stream).catch(() => false); } finally { await nc.close(); }
  });

  function cli(args: string[]) {
    return gatehouse([...args, '--config', config], { cwd: b.dir });
  }

  /** What an instance trusts for TLS right now: the bundle its listeners and upstream pools verify peers with. */
  function tlsTrust(gw: TestGateway): string {
    const ext = gw.gateway.extensions.find((e) => e.name === 'pki');
    return ext!.workloadTls!()!.trust().bundlePem;
  }

  async function bundleOf(gw: TestGateway): Promise<string[]> {
    const res = await gw.fetch(`${PKI_API}/bundle`);
    assert.equal(res.status, 200, res.body);
    return fingerprints(res.body);
  }

  async function trustOf(gw: TestGateway): Promise<TrustAnswer> {
    const res = await gw.fetch(`${PKI_API}/trust`);
    assert.equal(res.status, 200, res.body);
    return JSON.parse(res.body) as TrustAnswer;
  }

  /** Resolves once `check` holds on every instance; fails after WITHIN_MS, naming the instance that lagged. */
  async function everyInstanceWithin(what: string, check: (gw: TestGateway) => Promise<boolean>): Promise<void> {
    const deadline = Date.now() + WITHIN_MS;
    for (const gw of instances) {
      while (!(await check(gw))) {
        assert.ok(Date.now() < deadline, `${gw.gateway.config.instanceId}: ${what} not seen within ${WITHIN_MS} ms (its poll is every ${POLL_SECONDS} s)`);
        await new Promise((r) => setTimeout(r, 100));
      }
    }
  }

  it('a prepared root is in every instance\'s /bundle and TLS trust within seconds, a cancelled one leaves them, an activated one issues, and a retired intermediate leaves /trust', async () => {
    const bundleFile = join(b.dir, 'bundle.pem');
    const prepared = await cli(['ca', 'rotate-root', '--bundle-out', bundleFile, '--json']);
    assert.equal(prepared.status, 0, show(prepared));
    assert.equal((JSON.parse(prepared.stdout) as { announced: boolean }).announced, true);
    const [oldRoot, newRoot] = fingerprints(await readFile(bundleFile, 'utf8'));
    await everyInstanceWithin('the prepared root in /bundle and in the TLS trust', async (gw) => {
      const bundle = await bundleOf(gw);
      return bundle.includes(oldRoot!) && bundle.includes(newRoot!) && fingerprints(tlsTrust(gw)).includes(newRoot!);
    });

    const cancelled = await cli(['ca', 'rotate-root', '--cancel']);
    assert.equal(cancelled.status, 0, show(cancelled));
    await everyInstanceWithin('the cancelled root gone from /bundle and the TLS trust', async (gw) =>
      !(await bundleOf(gw)).includes(newRoot!) && !fingerprints(tlsTrust(gw)).includes(newRoot!));

    const again = await cli(['ca', 'rotate-root', '--bundle-out', bundleFile]);
    assert.equal(again.status, 0, show(again));
    const nextRoot = fingerprints(await readFile(bundleFile, 'utf8'))[1]!;
    await everyInstanceWithin('the prepared root in /bundle', async (gw) => (await bundleOf(gw)).includes(nextRoot));
    const activated = await cli(['ca', 'rotate-root', '--activate', '--force', '--json']);
    assert.equal(activated.status, 0, show(activated));
    const { intermediateSerial } = JSON.parse(activated.stdout) as { intermediateSerial: string };
    // The issuing intermediate (first in /trust) is the new root's: the instance's CA state followed, not only its bundle.
    await everyInstanceWithin('the new root\'s intermediate issuing', async (gw) => serials((await trustOf(gw)).intermediates)[0] === intermediateSerial);

    const retired = await cli(['ca', 'rotate-intermediate', '--retire-previous', '--json']);
    assert.equal(retired.status, 0, show(retired));
    const rotation = JSON.parse(retired.stdout) as { intermediateSerial: string; previousSerial: string };
    await everyInstanceWithin('the retired intermediate gone from /trust', async (gw) => {
      const trusted = serials((await trustOf(gw)).intermediates);
      return trusted[0] === rotation.intermediateSerial && !trusted.includes(rotation.previousSerial);
    });
  });

  it('cert revoke says running instances were told over the bus', async () => {
    const revoked = await cli(['cert', 'revoke', '--id', 'spiffe://gatehouse.internal/svc/gone']);
    assert.equal(revoked.status, 0, show(revoked));
    assert.match(revoked.stdout, /^running instances: told over the bus: each reads the CA and CRLs again at once/m);
  });
});
