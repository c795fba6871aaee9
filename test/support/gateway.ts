/**
 * Starts a real Gatehouse (real HTTPS listener, real config parsing) on ephemeral loopback
 * ports with a temporary data directory, and real upstream HTTP servers to route to.
 */
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { Writable } from 'node:stream';
import { Agent, request } from 'undici';
import { stringify } from 'yaml';
import pino from 'pino';
import { Gateway, type GatewayExtension } from '../../src/gateway/gateway.ts';
import { parseConfig } from '../../src/core/config/load.ts';
import type { ConfigInput } from '../../src/core/config/schema.ts';
import { compileCheck } from '../../src/core/config/compile-check.ts';
import { composeExtensions } from '../../src/gateway/compose.ts';

export interface LogCapture { lines: Record<string, unknown>[]; text(): string }

/** A pino logger that keeps every line in memory (tests assert on access logs and redaction). */
export function captureLogger() {
  const capture: LogCapture = { lines: [], text: () => capture.lines.map((l) => JSON.stringify(l)).join('\n') };
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      for (const line of chunk.toString('utf8').split('\n')) if (line.trim()) capture.lines.push(JSON.parse(line) as Record<string, unknown>);
      cb();
    },
  });
  const logger = pino({ level: 'debug', redact: { paths: [], censor: '' } }, stream);
  return { logger, capture };
}

export interface TestGateway {
  gateway: Gateway;
  url: string;
  opsUrl: string;
  httpUrl: string | undefined;
  dataDir: string;
  configFile: string;
  logs: LogCapture;
  /** HTTPS request to the gateway (the test certificate is self-signed). */
  fetch(path: string, init?: { method?: string; headers?: Record<string, string>; body?: string | Buffer }): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: string }>;
  writeConfig(config: ConfigInput | string): Promise<void>;
  close(): Promise<void>;
}

export const insecureAgent = new Agent({ connect: { rejectUnauthorized: false } });

/** Config with loopback ephemeral ports; `overrides` are merged on top at the top level. */
export function testConfig(dataDir: string, overrides: ConfigInput = {}): ConfigInput {
  return {
    dataDir,
    listeners: { https: { host: '127.0.0.1', port: 0 }, http: { enabled: false }, ops: { host: '127.0.0.1', port: 0 } },
    ...overrides,
  };
}

/**
 * @param options.compose build the real components (store, bus, rate limits, IdP, policy, CA)
 *   from the config, as `gatehouse start` does; otherwise only the bare gateway runs.
 */
export async function startGateway(overrides: ConfigInput = {}, options: { extensions?: GatewayExtension[]; watch?: boolean; env?: NodeJS.ProcessEnv; compose?: boolean } = {}): Promise<TestGateway> {
  const dataDir = await mkdtemp(join(tmpdir(), 'gatehouse-test-'));
  const configFile = join(dataDir, 'gatehouse.yaml');
  const input = testConfig(dataDir, overrides);
  await writeFile(configFile, stringify(input));
  const { logger, capture } = captureLogger();
  const env = { ...process.env, ...options.env };
  const loaded = parseConfig(input, { env, source: configFile, crossCheck: compileCheck });
  const gateway = await Gateway.start({ config: loaded, configFile, logger, watch: options.watch ?? false, env, ...(options.extensions ? { extensions: options.extensions } : {}), ...(options.compose ? { compose: composeExtensions } : {}) });
  const a = gateway.addresses();
  const url = `https://127.0.0.1:${a.https.port}`;
  return {
    gateway, url, dataDir, configFile, logs: capture,
    opsUrl: `http://127.0.0.1:${a.ops.port}`,
    httpUrl: a.http ? `http://127.0.0.1:${a.http.port}` : undefined,
    async fetch(path, init = {}) {
      const res = await request(url + path, { method: (init.method ?? 'GET') as 'GET', headers: init.headers ?? {}, body: init.body ?? null, dispatcher: insecureAgent });
      return { status: res.statusCode, headers: res.headers as Record<string, string | string[] | undefined>, body: await res.body.text() };
    },
    async writeConfig(config) {
      await writeFile(configFile, typeof config === 'string' ? config : stringify(testConfig(dataDir, config)));
    },
    async close() {
      await gateway.stop();
      await rm(dataDir, { recursive: true, force: true });
    },
  };
}

export interface TestUpstream {
  url: string;
  server: Server;
  /** Every request the upstream received (method, url, headers, body). */
  received: { method: string; url: string; headers: IncomingMessage['headers']; rawHeaders: string[]; body: string }[];
  close(): Promise<void>;
}

/** A real upstream; `handler` may answer itself, else it echoes JSON with what it received. */
export async function startUpstream(handler?: (req: IncomingMessage, res: ServerResponse, body: string) => void): Promise<TestUpstream> {
  const received: TestUpstream['received'] = [];
  const server = createServer((req, res) => {
    if (handler && req.headers['x-test-raw'] !== undefined) { handler(req, res, ''); return; }
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      received.push({ method: req.method!, url: req.url!, headers: req.headers, rawHeaders: req.rawHeaders, body });
      if (handler) { handler(req, res, body); return; }
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ method: req.method, url: req.url, headers: req.headers, body }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    server, received,
    close: () => new Promise<void>((r) => { server.closeAllConnections(); server.close(() => r()); }),
  };
}
