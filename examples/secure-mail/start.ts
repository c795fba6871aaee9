/**
 * The secure mail demo, all of it, on embedded defaults (`npm start`):
 *
 *   1. writes Gatehouse's configuration (examples/secure-mail/gatehouse.yaml + data dir),
 *   2. sets Gatehouse up through its CLI functions: CA (first start), service principals,
 *      demo users alice and bob, mail admins carol and dave (first start: random passwords
 *      printed once), one-use bootstrap tokens,
 *   3. starts a demo SMTP server (loopback; received notices go to <data>/mailbox.jsonl),
 *   4. starts Gatehouse, then each service as its own process on loopback — each obtains
 *      its certificate from Gatehouse's CA with its bootstrap token,
 *   5. prints the URL, and on Ctrl-C / SIGTERM stops every child (children also stop by
 *      themselves if this process dies).
 *
 *   npx node examples/secure-mail/start.ts [--data-dir DIR] [--port N] [--ephemeral] [--json] [--min-lifetime SECONDS]
 *
 * `--ephemeral` picks free ports for everything (tests); `--json` prints one JSON line when
 * ready (tests read it); `--min-lifetime` lowers the shortest message lifetime (default 60 s).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { Agent, request } from 'undici';
import { ensureDevCertificate } from '../../src/gateway/tls/dev-certificate.ts';
import { IDENTITY_ASSERTION_JWKS_PATH } from '../../src/sdk/contract.ts';
import { startDemoSmtpServer, type DemoSmtpServer } from './notification/demo-smtp-server.ts';
import type { ServiceName } from './shared/service-setup.ts';
import { startChild, stopChild, type Child } from './supervisor/children.ts';
import { provision } from './supervisor/provision.ts';
import { SAMPLE_DIR, writeRuntimeConfig } from './supervisor/runtime-config.ts';
import { writeServiceConfigs } from './supervisor/service-configs.ts';

/** Start order: a service is started after those it calls (they retry anyway). */
const SERVICES: readonly ServiceName[] = ['keys', 'notification', 'lifetime', 'messages', 'web'];

const { values: args } = parseArgs({
  options: {
    'data-dir': { type: 'string', default: './secure-mail-data' },
    port: { type: 'string' },
    ephemeral: { type: 'boolean', default: false },
    json: { type: 'boolean', default: false },
    'min-lifetime': { type: 'string', default: '60' },
  },
  strict: true,
});

const dataDir = resolve(args['data-dir']!);
const minLifetimeSeconds = Number(args['min-lifetime']);
if (!Number.isInteger(minLifetimeSeconds) || minLifetimeSeconds < 1 || minLifetimeSeconds > 3600) throw new Error('--min-lifetime: whole seconds, 1–3600');
const port = args.port === undefined ? undefined : Number(args.port);
if (port !== undefined && (!Number.isInteger(port) || port < 0 || port > 65535)) throw new Error('--port: 0–65535');

const say = (text: string) => { if (!args.json) process.stdout.write(`${text}\n`); };
const children: Child[] = [];
let smtp: DemoSmtpServer | undefined;
let stopping = false;

async function stopAll(code: number): Promise<never> {
  stopping = true;
  // Services first (they call through Gatehouse), Gatehouse last.
  for (const child of [...children].reverse()) await stopChild(child).catch(() => undefined);
  await smtp?.close().catch(() => undefined);
  process.exit(code);
}

process.once('SIGINT', () => { say('\nstopping…'); void stopAll(0); });
process.once('SIGTERM', () => { void stopAll(0); });

const onExit = (child: Child, code: number | null, signal: NodeJS.Signals | null) => {
  if (stopping) return;
  process.stderr.write(`secure-mail: ${child.name} stopped unexpectedly (${signal ?? `exit ${code}`}); stopping everything — see ${join(dataDir, 'logs', `${child.name}.log`)}\n`);
  void stopAll(1);
};

/** A start that failed after provisioning: say why in one line, show new passwords, stop what runs. */
async function failStart(err: unknown, newPasswords: Record<string, string>): Promise<never> {
  const why = err instanceof Error ? err.message : String(err);
  if (args.json) {
    process.stdout.write(`${JSON.stringify({ ready: false, error: why, passwords: newPasswords })}\n`);
  } else {
    process.stderr.write(`secure-mail: could not start: ${why}\n`);
    if (/EADDRINUSE/.test(why)) process.stderr.write('secure-mail: a port is in use; `npm start -- --ephemeral` picks free ports for everything\n');
    const created = Object.entries(newPasswords);
    if (created.length) {
      say('');
      say('The demo users were created before the failure. Their passwords are shown this once and stored nowhere:');
      for (const [user, password] of created) say(`  ${user.padEnd(6)} ${password}${user === 'carol' || user === 'dave' ? '   (mail admin: may purge a mailbox, with TOTP and the other admin\'s approval)' : ''}`);
    }
  }
  return stopAll(1);
}

await mkdir(join(dataDir, 'logs'), { recursive: true, mode: 0o700 });
const runtime = await writeRuntimeConfig({ dataDir, ephemeral: args.ephemeral, port });
say('Setting up Gatehouse (certificate authority, service identities, demo users)…');
const setup = await provision(runtime.file, SERVICES);

const mailboxFile = join(dataDir, 'mailbox.jsonl');
try {
  const devCert = await ensureDevCertificate(runtime.config.dataDir);
  const gatewayCaFile = join(runtime.config.dataDir, 'tls', 'localhost.crt');

  smtp = await startDemoSmtpServer({
    file: mailboxFile,
    onMail: (m) => say(`  ✉  notice e-mailed to ${m.to.join(', ')} (demo SMTP server; full text in ${mailboxFile})`),
  });

  const directoryFile = join(dataDir, 'directory.json');
  await writeFile(directoryFile, JSON.stringify({ users: setup.users }, null, 2), { mode: 0o600 });
  const configFiles = await writeServiceConfigs({
    dataDir, trustDomain: runtime.config.pki.trustDomain, publicUrl: runtime.publicUrl,
    assertionIssuer: runtime.config.policy.assertion.issuer ?? runtime.publicUrl, gatewayCaFile, directoryFile,
    ports: runtime.servicePorts, tokens: setup.tokens, smtpPort: smtp.port, minLifetimeSeconds,
  }, SERVICES);

  // The services verify assertions with keys fetched from Gatehouse's JWKS over HTTPS; its
  // development certificate is the one root they need for that.
  const env = { ...process.env, NODE_EXTRA_CA_CERTS: gatewayCaFile };
  const log = (name: string) => join(dataDir, 'logs', `${name}.log`);

  say('Starting Gatehouse…');
  children.push(await startChild({
    name: 'gatehouse', args: [join(SAMPLE_DIR, 'supervisor', 'gateway-main.ts'), '--config', runtime.file], env,
    logFile: log('gatehouse'), ready: (line) => line.includes('"msg":"gatehouse started"') || line.startsWith('Gatehouse is listening'), timeoutMs: 60_000, onExit,
  }));
  const trusting = new Agent({ connect: { ca: devCert.cert } });
  for (let i = 0; ; i++) {
    const ok = await request(runtime.publicUrl + IDENTITY_ASSERTION_JWKS_PATH, { dispatcher: trusting }).then(async (r) => { await r.body.dump(); return r.statusCode === 200; }, () => false);
    if (ok) break;
    if (i > 100) throw new Error(`Gatehouse does not answer at ${runtime.publicUrl}`);
    await new Promise((r) => setTimeout(r, 100));
  }
  await trusting.close();

  for (const name of SERVICES) {
    say(`Starting the ${name} service…`);
    children.push(await startChild({
      name, args: [join(SAMPLE_DIR, name, 'main.ts'), '--config', configFiles[name]], env,
      logFile: log(name), ready: (line) => line.startsWith('{"ready":true'), timeoutMs: 60_000, onExit,
    }));
  }
} catch (err) {
  // The demo users exist from here on and their passwords are stored nowhere: a start that
  // fails now (a port in use) must still show them, or the next start finds the users and
  // says the passwords were printed when nobody saw them.
  await failStart(err, setup.newPasswords);
}

if (args.json) {
  process.stdout.write(`${JSON.stringify({
    ready: true, url: `${runtime.publicUrl}/`, opsUrl: runtime.opsUrl, mailbox: mailboxFile, passwords: setup.newPasswords,
    pids: Object.fromEntries(children.map((c) => [c.name, c.process.pid])),
  })}\n`);
} else {
  say('');
  say(`Secure mail is running: open ${runtime.publicUrl}/ (the certificate is a self-signed development one).`);
  const created = Object.entries(setup.newPasswords);
  if (created.length) {
    say('');
    say('Demo users — the passwords are shown this once and stored nowhere:');
    for (const [user, password] of created) say(`  ${user.padEnd(6)} ${password}${user === 'carol' || user === 'dave' ? '   (mail admin: may purge a mailbox, with TOTP and the other admin\'s approval)' : ''}`);
    say('(Forgot them? `npm run gatehouse -- user set-password alice --config ' + runtime.file + '` while the demo is stopped.)');
  } else {
    say('Demo users alice, bob, carol and dave exist already (their passwords were printed at the first start).');
  }
  say('');
  say(`Logs: ${join(dataDir, 'logs')}   Notices e-mailed by the demo SMTP server: ${mailboxFile}`);
  say('Press Ctrl-C to stop everything.');
}
