/**
 * Starts the secure-mail services (in this process, each on its own port, files and
 * certificate), a demo SMTP server, a real CA and the assertion relay, and writes each
 * service's configuration file exactly as the supervisor would.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pino from 'pino';
import { startKeysService } from '../../../examples/secure-mail/keys/keys-service.ts';
import { startMessagesService } from '../../../examples/secure-mail/messages/messages-service.ts';
import { startLifetimeService } from '../../../examples/secure-mail/lifetime/lifetime-service.ts';
import { startNotificationService } from '../../../examples/secure-mail/notification/notification-service.ts';
import { startDemoSmtpServer, type DemoSmtpServer } from '../../../examples/secure-mail/notification/demo-smtp-server.ts';
import { createTestPki, type IssuedFiles, type TestPki } from './pki.ts';
import { ISSUER, startAssertionRelay, type AssertionRelay, type Upstream } from './assertion-relay.ts';

export const USERS = {
  alice: { username: 'alice', subject: 'usr_alice0000000000000000', email: 'alice@mail.test' },
  bob: { username: 'bob', subject: 'usr_bob000000000000000000', email: 'bob@mail.test' },
  carol: { username: 'carol', subject: 'usr_carol0000000000000000', email: 'carol@mail.test' },
};
export type Username = keyof typeof USERS;

export type ServiceKey = 'keys' | 'messages' | 'lifetime' | 'notification';

export interface MailFabric {
  dir: string;
  pki: TestPki;
  relay: AssertionRelay;
  smtp: DemoSmtpServer;
  certs: Record<ServiceKey | 'gateway' | 'web' | 'intruder', IssuedFiles>;
  configs: Record<ServiceKey, Record<string, unknown>>;
  configFiles: Record<ServiceKey, string>;
  keys: Awaited<ReturnType<typeof startKeysService>>;
  messages: Awaited<ReturnType<typeof startMessagesService>>;
  lifetime: Awaited<ReturnType<typeof startLifetimeService>>;
  notification: Awaited<ReturnType<typeof startNotificationService>>;
  upstream(name: ServiceKey): Upstream;
  /** A user's request as Gatehouse forwards it to the messages service. */
  user(name: Username, method: string, path: string, body?: unknown): ReturnType<AssertionRelay['asUser']>;
  /** Stops the messages service (e.g. to restart it on the same files). */
  stopMessages(): Promise<void>;
  startMessages(overrides?: Record<string, unknown>): Promise<void>;
  close(): Promise<void>;
}

const quiet = pino({ level: 'silent' });

export async function startMailFabric(options: { messages?: Record<string, unknown>; lifetime?: Record<string, unknown>; notification?: Record<string, unknown> } = {}): Promise<MailFabric> {
  const dir = await mkdtemp(join(tmpdir(), 'secure-mail-'));
  const pki = await createTestPki(dir);
  const certs = {
    gateway: await pki.issue('gateway', 'main'),
    keys: await pki.issue('svc', 'keys'),
    messages: await pki.issue('svc', 'messages'),
    lifetime: await pki.issue('svc', 'lifetime'),
    notification: await pki.issue('svc', 'notification'),
    web: await pki.issue('svc', 'web'),
    intruder: await pki.issue('svc', 'intruder'),
  };
  const relay = await startAssertionRelay(certs.gateway.material, pki.trust, pki.trustFiles.trustDomain);
  const smtp = await startDemoSmtpServer();
  const directoryFile = join(dir, 'directory.json');
  await writeFile(directoryFile, JSON.stringify({ users: Object.values(USERS) }));
  const base = (name: ServiceKey) => ({
    name, port: 0, dataDir: join(dir, 'data', name), logLevel: 'silent',
    tls: { keyFile: certs[name].keyFile, chainFile: certs[name].chainFile },
    trust: pki.trustFiles,
    gateway: { url: relay.url, spiffeId: certs.gateway.spiffeId, issuer: ISSUER, jwks: relay.jwks },
  });
  const configs: MailFabric['configs'] = {
    keys: { ...base('keys'), callers: { messages: certs.messages.spiffeId, lifetime: certs.lifetime.spiffeId } },
    messages: { ...base('messages'), directoryFile, callers: { lifetime: certs.lifetime.spiffeId, notification: certs.notification.spiffeId }, limits: { minLifetimeSeconds: 1, maxLifetimeSeconds: 7 * 24 * 3600, maxBodyChars: 32 * 1024, maxRecipients: 20 }, recoveryIntervalMs: 500, ...options.messages },
    lifetime: { ...base('lifetime'), callers: { messages: certs.messages.spiffeId }, tickMs: 200, ...options.lifetime },
    notification: {
      ...base('notification'), directoryFile, callers: { messages: certs.messages.spiffeId }, appUrl: 'https://localhost:8443/',
      smtp: { host: '127.0.0.1', port: smtp.port, from: 'secure-mail@mail.test', plainLoopbackOnly: true }, tickMs: 200, baseBackoffMs: 50, ...options.notification,
    },
  };
  const configFiles = {} as Record<ServiceKey, string>;
  for (const [k, c] of Object.entries(configs)) {
    configFiles[k as ServiceKey] = join(dir, `${k}.json`);
    await writeFile(configFiles[k as ServiceKey], JSON.stringify(c));
  }
  const keys = await startKeysService(configs.keys, quiet);
  const lifetime = await startLifetimeService(configs.lifetime, quiet);
  const notification = await startNotificationService(configs.notification, quiet);
  const fabric = {} as MailFabric;
  const upstreams: Record<ServiceKey, Upstream> = {
    keys: { name: 'keys', prefix: '/svc/keys', url: `https://127.0.0.1:${keys.port}`, spiffeId: certs.keys.spiffeId },
    lifetime: { name: 'lifetime', prefix: '/svc/lifetime', url: `https://127.0.0.1:${lifetime.port}`, spiffeId: certs.lifetime.spiffeId },
    notification: { name: 'notification', prefix: '/svc/notification', url: `https://127.0.0.1:${notification.port}`, spiffeId: certs.notification.spiffeId },
    messages: { name: 'messages', prefix: '/svc/messages', url: '', spiffeId: certs.messages.spiffeId },
  };
  relay.upstreams = Object.values(upstreams);
  Object.assign(fabric, {
    dir, pki, relay, smtp, certs, configs, configFiles, keys, lifetime, notification,
    upstream: (name: ServiceKey) => upstreams[name],
    user: (name: Username, method: string, path: string, body?: unknown) => relay.asUser(USERS[name].subject, upstreams.messages, method, path, body),
    async startMessages(overrides: Record<string, unknown> = {}) {
      fabric.messages = await startMessagesService({ ...configs.messages, ...overrides }, quiet);
      upstreams.messages.url = `https://127.0.0.1:${fabric.messages.port}`;
    },
    async stopMessages() { await fabric.messages.close(); },
    async close() {
      for (const s of [fabric.messages, fabric.notification, fabric.lifetime, fabric.keys]) await s?.close().catch(() => undefined);
      await smtp.close();
      await relay.close();
      await rm(dir, { recursive: true, force: true });
    },
  });
  await fabric.startMessages();
  return fabric;
}
