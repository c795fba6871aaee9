/**
 * `gatehouse ca|bootstrap-token|cert` end to end through the real CLI, on SQLite and on
 * PostgreSQL, with keys and CSRs made by the real `openssl` and certificates checked by it.
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { readFile, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { crlToPem } from '../../src/pki/index.ts';
import { crlRecordPems } from '../../src/pki/crl-builder.ts';
import { serviceOrSkip } from '../support/services.ts';
import { createBackend, gatehouse, show, type Backend } from './support/cli.ts';
import { withAuthority } from './support/state.ts';

const ID = 'spiffe://gatehouse.internal/svc/mail';

function openssl(args: string[], env: NodeJS.ProcessEnv = {}): string {
  return execFileSync('openssl', args, { encoding: 'utf8', env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
}

/** A P-256 key and a CSR for it, made by openssl (the workload's side: its key never reaches the CA). */
function makeCsr(dir: string, name: string, san?: string): string {
  const csr = join(dir, `${name}.csr`);
  openssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', `/CN=${name}`,
    ...(san ? ['-addext', `subjectAltName=${san}`] : []), '-keyout', join(dir, `${name}.key`), '-out', csr]);
  return csr;
}

function pkiSuite(name: 'sqlite' | 'postgres', skip: false | string) {
  describe(`pki commands on ${name}`, { skip }, () => {
    let b: Backend;
    let config: string;
    before(async () => {
      b = await createBackend(name);
      config = await b.writeConfig();
    });
    after(() => b?.close());

    const run = (args: string[], env?: NodeJS.ProcessEnv) => gatehouse([...args, '--config', config], { cwd: b.dir, ...(env ? { env } : {}) });

    it('ca init creates the CA once and writes the root certificate', async () => {
      const init = await run(['ca', 'init', '--root-out', join(b.dir, 'root.pem')]);
      assert.equal(init.status, 0, show(init));
      assert.match(init.stdout, /root serial:\s+[0-9a-f]+/);
      assert.match(openssl(['x509', '-in', join(b.dir, 'root.pem'), '-noout', '-ext', 'basicConstraints']), /CA:TRUE/);
      const again = await run(['ca', 'init']);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /ERR_PKI_ALREADY_INITIALIZED/);
    });

    it('bootstrap-token create prints a one-time token that the CA accepts once', async () => {
      const r = await run(['bootstrap-token', 'create', '--id', ID, '--dns', 'mail.internal', '--ttl', '600']);
      assert.equal(r.status, 0, show(r));
      const token = /bootstrap token \(shown once[^\n]*\n(gbt_\S+)\n/.exec(r.stdout)?.[1];
      assert.ok(token, r.stdout);
      assert.equal(r.stdout.split(token).length - 1, 1, 'printed once');
      const csr = await readFile(makeCsr(b.dir, 'boot'), 'utf8');
      await withAuthority(config, async (ca) => {
        const issued = await ca.issueWithBootstrapToken(csr, token);
        assert.equal(issued.spiffeId, ID);
        await assert.rejects(ca.issueWithBootstrapToken(csr, token), { code: 'ERR_PKI_BOOTSTRAP_TOKEN_INVALID' });
      });
      const foreign = await run(['bootstrap-token', 'create', '--id', 'spiffe://evil.example/svc/mail']);
      assert.equal(foreign.status, 1, 'an identity of another trust domain is refused');
    });

    it('bootstrap-token revoke: the CA refuses the revoked token with ERR_PKI_BOOTSTRAP_TOKEN_INVALID; list shows tokens (never the token) and a used one cannot be revoked', async () => {
      const payroll = 'spiffe://gatehouse.internal/svc/payroll';
      const created = JSON.parse((await run(['bootstrap-token', 'create', '--id', payroll, '--json'])).stdout) as { id: string; token: string };
      const listed = await run(['bootstrap-token', 'list', '--id', payroll]);
      assert.equal(listed.status, 0, show(listed));
      assert.match(listed.stdout, new RegExp(`^${created.id}\\s+${payroll.replace(/[/.]/g, '\\$&')}\\s+-\\s+unused\\s`, 'm'));
      assert.equal(listed.stdout.includes(created.token), false);
      const r = await gatehouse(['bootstrap-token', 'revoke', '--config', config, '--', created.id], { cwd: b.dir });
      assert.equal(r.status, 0, show(r));
      assert.match(r.stdout, new RegExp(`bootstrap token ${created.id} \\(${payroll.replace(/[/.]/g, '\\$&')}\\) revoked`));
      await withAuthority(config, async (ca) => {
        await assert.rejects(ca.issueWithBootstrapToken(await readFile(makeCsr(b.dir, 'payroll'), 'utf8'), created.token), { code: 'ERR_PKI_BOOTSTRAP_TOKEN_INVALID' });
      });
      const again = await gatehouse(['bootstrap-token', 'revoke', '--config', config, '--', created.id], { cwd: b.dir });
      assert.equal(again.status, 1);
      assert.match(again.stderr, /^error ERR_PKI_BOOTSTRAP_TOKEN_NOT_FOUND/m);
      const used = (await run(['bootstrap-token', 'list', '--json'])).stdout;
      const usedId = (JSON.parse(used) as { id: string; status: string }[]).find((t) => t.status === 'used')?.id;
      assert.ok(usedId, used);
      // Ids are base64url: one may start with '-', which only an argument after `--` can.
      const late = await gatehouse(['bootstrap-token', 'revoke', '--config', config, '--', usedId], { cwd: b.dir });
      assert.equal(late.status, 1);
      assert.match(late.stderr, /^error ERR_ADMIN_INPUT_INVALID: .*was used at/m);
    });

    it('cert revoke --id revokes the identity\'s unused bootstrap tokens too and says so; the CA then refuses them', async () => {
      const payroll = 'spiffe://gatehouse.internal/svc/billing';
      const created = JSON.parse((await run(['bootstrap-token', 'create', '--id', payroll, '--json'])).stdout) as { id: string; token: string };
      const r = await run(['cert', 'revoke', '--id', payroll]);
      assert.equal(r.status, 0, show(r));
      assert.match(r.stdout, /^no live certificate to revoke$/m);
      assert.match(r.stdout, new RegExp(`^unused bootstrap tokens revoked: ${created.id}$`, 'm'));
      await withAuthority(config, async (ca) => {
        await assert.rejects(ca.issueWithBootstrapToken(await readFile(makeCsr(b.dir, 'payroll2'), 'utf8'), created.token), { code: 'ERR_PKI_BOOTSTRAP_TOKEN_INVALID' });
      });
      const json = JSON.parse((await run(['cert', 'revoke', '--id', payroll, '--json'])).stdout) as { revoked: string[]; bootstrapTokensRevoked: string[]; announced: boolean };
      assert.deepEqual({ revoked: json.revoked, bootstrapTokensRevoked: json.bootstrapTokensRevoked, announced: json.announced }, { revoked: [], bootstrapTokensRevoked: [], announced: false });
    });

    let serial = '';
    let renewedSerial = '';

    it('cert issue signs an openssl CSR into a chain that openssl verifies against the root', async () => {
      const chain = join(b.dir, 'mail-chain.pem');
      const bundle = join(b.dir, 'bundle.pem');
      const r = await run(['cert', 'issue', '--csr', makeCsr(b.dir, 'mail', `URI:${ID},DNS:mail.internal`), '--id', ID, '--dns', 'mail.internal', '--lifetime', '3600', '--out', chain, '--bundle-out', bundle]);
      assert.equal(r.status, 0, show(r));
      serial = /serial:\s+([0-9a-f]+)/.exec(r.stdout)?.[1] ?? '';
      assert.ok(serial, r.stdout);
      assert.match(openssl(['verify', '-CAfile', bundle, '-untrusted', chain, chain]), /: OK/);
      const text = openssl(['x509', '-in', chain, '-noout', '-ext', 'subjectAltName']);
      assert.match(text, /URI:spiffe:\/\/gatehouse\.internal\/svc\/mail/);
      assert.match(text, /DNS:mail\.internal/);

      const printed = await run(['cert', 'issue', '--csr', makeCsr(b.dir, 'other'), '--id', 'spiffe://gatehouse.internal/svc/other']);
      assert.equal(printed.status, 0, show(printed));
      assert.equal(printed.stdout.match(/-----BEGIN CERTIFICATE-----/g)?.length, 2, 'without --out the chain is printed');
    });

    it('refuses a CSR asking for a name the identity was not granted, a year-long certificate and an unreadable CSR', async () => {
      const greedy = await run(['cert', 'issue', '--csr', makeCsr(b.dir, 'evil', 'DNS:mail.internal,DNS:bank.example'), '--id', ID, '--dns', 'mail.internal']);
      assert.equal(greedy.status, 1, show(greedy));
      assert.match(greedy.stderr, /^error ERR_PKI_IDENTITY_NOT_ALLOWED: .*bank\.example/m);
      const r = await run(['cert', 'issue', '--csr', makeCsr(b.dir, 'greedy'), '--id', ID, '--lifetime', '31536000']);
      assert.equal(r.status, 1, 'a year-long certificate exceeds pki.maxLeafLifetimeSeconds');
      assert.match(r.stderr, /^error ERR_PKI_LIFETIME_INVALID/m);
      const missing = await run(['cert', 'issue', '--csr', join(b.dir, 'nope.csr'), '--id', ID]);
      assert.equal(missing.status, 1);
      assert.match(missing.stderr, /cannot read the CSR/);
      const unwritable = await run(['cert', 'issue', '--csr', makeCsr(b.dir, 'lost'), '--id', ID, '--out', join(b.dir, 'no-such-dir', 'x.pem')]);
      assert.equal(unwritable.status, 1);
      assert.match(unwritable.stderr, /cannot write .*no-such-dir/);
      const rows = JSON.parse((await run(['cert', 'list', '--json'])).stdout) as unknown[];
      assert.equal(rows.length, 3, 'nothing was issued by the refused requests');
    });

    it('cert renew issues a new certificate for a new key', async () => {
      const current = join(b.dir, 'mail-chain.pem');
      const renewed = join(b.dir, 'mail-renewed.pem');
      const r = await run(['cert', 'renew', '--csr', makeCsr(b.dir, 'mail2'), '--cert', current, '--out', renewed, '--json']);
      assert.equal(r.status, 0, show(r));
      const out = JSON.parse(r.stdout) as { serial: string; spiffeId: string };
      assert.equal(out.spiffeId, ID);
      assert.notEqual(out.serial, serial);
      renewedSerial = out.serial;
    });

    it('cert list shows the issued certificates', async () => {
      const r = await run(['cert', 'list', '--id', ID, '--json']);
      assert.equal(r.status, 0, show(r));
      const rows = JSON.parse(r.stdout) as { serial: string; status: string }[];
      assert.equal(rows.find((x) => x.serial === serial)?.status, 'valid');
      assert.equal(rows.length, 3, 'bootstrap, issue and renewal');
      const table = await run(['cert', 'list']);
      assert.match(table.stdout, /^SERIAL\s+SPIFFE ID\s+STATUS/m);
      assert.match(table.stdout, new RegExp(`${serial}\\s+${ID.replace(/[/.]/g, '\\$&')}\\s+valid`));
    });

    it('cert revoke marks it revoked; list and inspect say so', async () => {
      const both = await run(['cert', 'revoke', '--serial', serial, '--id', ID]);
      assert.equal(both.status, 1);
      assert.match(both.stderr, /exactly one of --serial or --id/);

      const r = await run(['cert', 'revoke', '--serial', serial, '--reason', 'keyCompromise']);
      assert.equal(r.status, 0, show(r));
      // Revoking a serial revokes the certificates renewed from it (whoever stole the key may have renewed first).
      assert.match(r.stdout, new RegExp(`revoked \\(keyCompromise\\): ${serial}, ${renewedSerial}$`, 'm'));
      const rows = JSON.parse((await run(['cert', 'list', '--json'])).stdout) as { serial: string; status: string; revocationReason?: string }[];
      assert.deepEqual(rows.filter((x) => x.serial === serial || x.serial === renewedSerial).map((x) => [x.status, x.revocationReason]), [['revoked', 'keyCompromise'], ['revoked', 'keyCompromise']]);

      // openssl, reading the CRL the CA now publishes, refuses the revoked certificate and the one renewed from it.
      const crl = join(b.dir, 'crl.pem');
      await withAuthority(config, async (ca) => writeFile(crl, crlToPem((await ca.currentCrl()).der)));
      const verify = (file: string) => spawnSync('openssl', ['verify', '-crl_check', '-CAfile', join(b.dir, 'bundle.pem'), '-untrusted', file, '-CRLfile', crl, file], { encoding: 'utf8' });
      const refused = verify(join(b.dir, 'mail-chain.pem'));
      assert.notEqual(refused.status, 0);
      assert.match(refused.stdout + refused.stderr, /certificate revoked/);
      const renewedRefused = verify(join(b.dir, 'mail-renewed.pem'));
      assert.notEqual(renewedRefused.status, 0);
      assert.match(renewedRefused.stdout + renewedRefused.stderr, /certificate revoked/);

      const inspect = await run(['cert', 'inspect', join(b.dir, 'mail-chain.pem')]);
      assert.equal(inspect.status, 0, show(inspect));
      assert.match(inspect.stdout, /spiffe ids:\s+spiffe:\/\/gatehouse\.internal\/svc\/mail/);
      assert.match(inspect.stdout, /status:\s+revoked/);
      const renewed = JSON.parse((await run(['cert', 'inspect', join(b.dir, 'mail-renewed.pem'), '--json'])).stdout) as { status: string };
      assert.equal(renewed.status, 'revoked');
      const offline = await gatehouse(['cert', 'inspect', join(b.dir, 'mail-chain.pem'), '--offline'], { cwd: b.dir });
      assert.doesNotMatch(offline.stdout, /status:/);

      const renewRevoked = await run(['cert', 'renew', '--csr', makeCsr(b.dir, 'mail3'), '--cert', join(b.dir, 'mail-chain.pem')]);
      assert.equal(renewRevoked.status, 1, 'a revoked certificate cannot renew itself');
    });

    it('ca export-root writes an encrypted 0600 key file and takes the root offline', async () => {
      const out = join(b.dir, 'root-key.pem');
      const env = { GH_TEST_ROOT_PASSPHRASE: 'a long test passphrase' };
      const r = await run(['ca', 'export-root', '--out', out, '--passphrase-env', 'GH_TEST_ROOT_PASSPHRASE', '--remove'], env);
      assert.equal(r.status, 0, show(r));
      assert.equal((await stat(out)).mode & 0o777, 0o600);
      assert.match(await readFile(out, 'utf8'), /BEGIN ENCRYPTED PRIVATE KEY/);
      assert.ok(!(r.stdout + r.stderr).includes(env.GH_TEST_ROOT_PASSPHRASE));
      // openssl decrypts it with the passphrase, and the key matches the root certificate.
      const keyPub = openssl(['pkey', '-in', out, '-passin', 'env:GH_TEST_ROOT_PASSPHRASE', '-pubout'], env);
      const certPub = openssl(['x509', '-in', join(b.dir, 'root.pem'), '-noout', '-pubkey']);
      assert.equal(keyPub, certPub);
      const wrong = spawnSync('openssl', ['pkey', '-in', out, '-passin', 'pass:wrong passphrase!'], { encoding: 'utf8' });
      assert.notEqual(wrong.status, 0);

      const again = await run(['ca', 'export-root', '--out', join(b.dir, 'again.pem')]);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /ERR_PKI_ROOT_KEY_OFFLINE/);
      const issue = await run(['cert', 'issue', '--csr', makeCsr(b.dir, 'after'), '--id', ID, '--out', join(b.dir, 'after.pem')]);
      assert.equal(issue.status, 0, `the intermediate keeps issuing with the root offline\n${show(issue)}`);
      const unset = await run(['ca', 'export-root', '--out', join(b.dir, 'x.pem'), '--passphrase-env', 'GH_TEST_UNSET_VARIABLE']);
      assert.equal(unset.status, 1);
      assert.match(unset.stderr, /GH_TEST_UNSET_VARIABLE is not set/);
    });

    it('ca rotate-intermediate with the root offline names --root-key; with the exported key file it rotates, and certificates of both intermediates verify with their CRLs', async () => {
      const offline = await run(['ca', 'rotate-intermediate']);
      assert.equal(offline.status, 1);
      assert.match(offline.stderr, /ERR_PKI_ROOT_KEY_OFFLINE/);
      assert.match(offline.stderr, /--root-key FILE/);
      const env = { GH_TEST_ROOT_PASSPHRASE: 'a long test passphrase' };
      const r = await run(['ca', 'rotate-intermediate', '--root-key', join(b.dir, 'root-key.pem'), '--passphrase-env', 'GH_TEST_ROOT_PASSPHRASE'], env);
      assert.equal(r.status, 0, show(r));
      assert.match(r.stdout, /intermediate serial:\s+[0-9a-f]+/);
      assert.match(r.stdout, /root key from:\s+file/);
      const issue = await run(['cert', 'issue', '--csr', makeCsr(b.dir, 'rotated'), '--id', ID, '--out', join(b.dir, 'rotated.pem')]);
      assert.equal(issue.status, 0, show(issue));

      const intermediates = join(b.dir, 'intermediates.pem');
      const crlFiles = await withAuthority(config, async (ca) => {
        await writeFile(intermediates, ca.intermediatesPem);
        const pems = [...crlRecordPems(await ca.currentCrl()), ...ca.rootCrlPems];
        return Promise.all(pems.map(async (pem, i) => { const f = join(b.dir, `rotated-crl-${i}.pem`); await writeFile(f, pem); return f; }));
      });
      assert.equal(crlFiles.length, 3, 'a CRL of each intermediate and the root\'s');
      for (const file of ['after.pem', 'rotated.pem']) {
        const v = spawnSync('openssl', ['verify', '-crl_check_all', '-CAfile', join(b.dir, 'root.pem'), '-untrusted', intermediates, ...crlFiles.flatMap((f) => ['-CRLfile', f]), join(b.dir, file)], { encoding: 'utf8' });
        assert.equal(v.status, 0, `${file}: ${v.stdout}${v.stderr}`);
      }
      const root = await withAuthority(config, async (ca) => ca.rootCertPem);
      assert.equal(root, await readFile(join(b.dir, 'root.pem'), 'utf8'), 'the trust anchor is unchanged');
    });

    it('ca rotate-root needs no old root key: it prints and writes the two-root bundle, refuses a second one and an early --activate, and after --activate --force certificates of both roots verify with the bundle', async () => {
      const bundle = join(b.dir, 'bundle.pem');
      const prepared = await run(['ca', 'rotate-root', '--bundle-out', bundle]);
      assert.equal(prepared.status, 0, `the old root is offline and is not needed\n${show(prepared)}`);
      assert.match(prepared.stdout, /new root serial:\s+[0-9a-f]+/);
      assert.match(prepared.stdout, /gatehouse ca rotate-root --activate/);
      assert.equal((await readFile(bundle, 'utf8')).match(/BEGIN CERTIFICATE/g)?.length, 2);
      const again = await run(['ca', 'rotate-root']);
      assert.equal(again.status, 1);
      assert.match(again.stderr, /ERR_PKI_ROOT_ROTATION_PENDING/);
      const early = await run(['ca', 'rotate-root', '--activate']);
      assert.equal(early.status, 1);
      assert.match(early.stderr, /ERR_PKI_ROOT_ROTATION_NOT_READY/);
      assert.match(early.stderr, /--force/);
      const forceAlone = await run(['ca', 'rotate-root', '--force']);
      assert.equal(forceAlone.status, 1);
      assert.match(forceAlone.stderr, /--force only goes with --activate/);
      const status = await run(['ca', 'status', '--json']);
      assert.equal(status.status, 0, show(status));
      const pendingView = JSON.parse(status.stdout) as { root: { keyInStore: boolean }; pendingRoot?: { serial: string; activateWithoutForceFrom: string } };
      assert.equal(pendingView.pendingRoot?.serial, prepared.stdout.match(/new root serial:\s+([0-9a-f]+)/)?.[1]);
      assert.equal(pendingView.root.keyInStore, false, 'the root in force is still offline');
      assert.ok(Date.parse(pendingView.pendingRoot!.activateWithoutForceFrom) > Date.now(), 'activation needs --force for now');
      const activated = await run(['ca', 'rotate-root', '--activate', '--force']);
      assert.equal(activated.status, 0, show(activated));
      assert.match(activated.stdout, /replaces root:\s+[0-9a-f]+/);
      const after = await run(['ca', 'status']);
      assert.equal(after.status, 0, show(after));
      assert.match(after.stdout, /root rotation:\s+none under way/);
      assert.match(after.stdout, new RegExp(`previous roots:[\\s\\S]*${activated.stdout.match(/replaces root:\s+([0-9a-f]+)/)![1]}`));
      const issue = await run(['cert', 'issue', '--csr', makeCsr(b.dir, 'new-root'), '--id', ID, '--out', join(b.dir, 'new-root.pem')]);
      assert.equal(issue.status, 0, show(issue));

      const intermediates = join(b.dir, 'intermediates-after-root.pem');
      const crlFiles = await withAuthority(config, async (ca) => {
        await writeFile(intermediates, ca.intermediatesPem);
        const blocks = (pem: string) => (pem.match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g) ?? []).sort();
        assert.deepEqual(blocks(ca.trustBundlePem), blocks(await readFile(bundle, 'utf8')), 'the bundle handed out at step 1 is the one in force after step 2');
        const pems = [...crlRecordPems(await ca.currentCrl()), ...ca.rootCrlPems];
        return Promise.all(pems.map(async (pem, i) => { const f = join(b.dir, `root-rotated-crl-${i}.pem`); await writeFile(f, pem); return f; }));
      });
      for (const file of ['after.pem', 'rotated.pem', 'new-root.pem']) {
        const v = spawnSync('openssl', ['verify', '-crl_check_all', '-CAfile', bundle, '-untrusted', intermediates, ...crlFiles.flatMap((f) => ['-CRLfile', f]), join(b.dir, file)], { encoding: 'utf8' });
        assert.equal(v.status, 0, `${file}: ${v.stdout}${v.stderr}`);
      }
      const oldOnly = spawnSync('openssl', ['verify', '-crl_check_all', '-CAfile', join(b.dir, 'root.pem'), '-untrusted', intermediates, ...crlFiles.flatMap((f) => ['-CRLfile', f]), join(b.dir, 'new-root.pem')], { encoding: 'utf8' });
      assert.notEqual(oldOnly.status, 0, 'the old root alone does not vouch for the new chain');
    });

    it('ca rotate-intermediate --retire-previous revokes the replaced intermediate on the root\'s CRL: its certificates stop verifying, new ones verify; --retire-previous without --activate is refused for rotate-root', async () => {
      const alone = await run(['ca', 'rotate-root', '--retire-previous']);
      assert.equal(alone.status, 1);
      assert.match(alone.stderr, /--retire-previous only goes with --activate/);
      const r = await run(['ca', 'rotate-intermediate', '--retire-previous', '--json']);
      assert.equal(r.status, 0, show(r));
      const rotated = JSON.parse(r.stdout) as { previousSerial: string; retired: string[] };
      // The issuing intermediate and the earlier one of the replaced root: all out of the trust.
      assert.ok(rotated.retired.includes(rotated.previousSerial), JSON.stringify(rotated));
      assert.equal(rotated.retired.length, 3, JSON.stringify(rotated));
      const issue = await run(['cert', 'issue', '--csr', makeCsr(b.dir, 'after-retire'), '--id', ID, '--out', join(b.dir, 'after-retire.pem')]);
      assert.equal(issue.status, 0, show(issue));
      const files = await withAuthority(config, async (ca) => {
        const intermediates = join(b.dir, 'intermediates-after-retire.pem');
        await writeFile(intermediates, ca.intermediatesPem);
        const bundle = join(b.dir, 'bundle-after-retire.pem');
        await writeFile(bundle, ca.trustBundlePem);
        const pems = [...crlRecordPems(await ca.currentCrl()), ...ca.rootCrlPems];
        const crls = await Promise.all(pems.map(async (pem, i) => { const f = join(b.dir, `retired-crl-${i}.pem`); await writeFile(f, pem); return f; }));
        return { intermediates, bundle, crls };
      });
      const verify = (file: string) => spawnSync('openssl', ['verify', '-crl_check_all', '-CAfile', files.bundle, '-untrusted', files.intermediates, ...files.crls.flatMap((f) => ['-CRLfile', f]), join(b.dir, file)], { encoding: 'utf8' });
      assert.equal(verify('after-retire.pem').status, 0, 'a certificate of the new intermediate verifies');
      assert.notEqual(verify('new-root.pem').status, 0, 'a certificate of the retired intermediate still verifies');
      const status = JSON.parse((await run(['ca', 'status', '--json'])).stdout) as { revokedIntermediates: { serial: string }[]; previousIntermediates: unknown[]; previousRoots: unknown[] };
      assert.deepEqual(status.revokedIntermediates.map((x) => x.serial), [rotated.previousSerial], 'the root in force revoked the one it signed');
      assert.deepEqual(status.previousIntermediates, []);
    });
  });
}

pkiSuite('sqlite', false);
pkiSuite('postgres', await serviceOrSkip('postgres'));
