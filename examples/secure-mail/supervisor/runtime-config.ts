/**
 * The configuration Gatehouse runs with: the sample's gatehouse.yaml, unchanged except for
 * what depends on where and how the demo runs — the data directory, the policy directory
 * (absolute, since the file is written elsewhere) and, with ephemeral ports, every port.
 * The result is validated by Gatehouse's own loader before it is written.
 */
import { readFileSync } from 'node:fs';
import { writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse, stringify } from 'yaml';
import { parseConfig } from '../../../src/core/config/load.ts';
import { compileCheck } from '../../../src/core/config/compile-check.ts';
import type { Config } from '../../../src/core/config/schema.ts';
import type { ServiceName } from '../shared/service-setup.ts';

export const SAMPLE_DIR = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const SAMPLE_CONFIG = join(SAMPLE_DIR, 'gatehouse.yaml');

/** A port the OS says is free now (ephemeral mode; tests). */
export function freePort(): Promise<number> {
  return new Promise((resolvePort, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address() as { port: number };
      server.close(() => resolvePort(port));
    });
  });
}

export interface RuntimeConfig {
  file: string;
  config: Config;
  publicUrl: string;
  opsUrl: string;
  servicePorts: Record<ServiceName, number>;
}

type Doc = {
  dataDir?: string;
  listeners: { https: { port: number; host?: string }; ops: { port: number; host?: string } };
  policy: { dir?: string };
  upstreams: Record<string, { url: string }>;
};

export async function writeRuntimeConfig(options: { dataDir: string; ephemeral: boolean; port?: number | undefined }): Promise<RuntimeConfig> {
  const doc = parse(readFileSync(SAMPLE_CONFIG, 'utf8')) as Doc;
  doc.dataDir = join(options.dataDir, 'gatehouse');
  doc.policy.dir = resolve(SAMPLE_DIR, doc.policy.dir ?? 'policies');
  if (options.port !== undefined) doc.listeners.https.port = options.port;
  const servicePorts = {} as Record<ServiceName, number>;
  if (options.ephemeral) {
    if (options.port === undefined) doc.listeners.https.port = await freePort();
    doc.listeners.ops.port = await freePort();
  }
  for (const [name, upstream] of Object.entries(doc.upstreams)) {
    const url = new URL(upstream.url);
    if (options.ephemeral) { url.port = String(await freePort()); upstream.url = url.origin; }
    servicePorts[name as ServiceName] = Number(url.port);
  }
  const file = join(options.dataDir, 'gatehouse.yaml');
  const { config } = parseConfig(doc, { source: file, crossCheck: compileCheck });
  await writeFile(file, `# Written by examples/secure-mail/start.ts from ${SAMPLE_CONFIG}; edit that file instead.\n${stringify(doc)}`, { mode: 0o600 });
  const ops = config.listeners.ops;
  return { file, config, publicUrl: config.publicUrl!, opsUrl: `http://${ops.host}:${ops.port}`, servicePorts };
}
