/**
 * The pki section's load client decides what counts as a handshake, a resumed session and
 * a failure; these tests run it as the section does (a child process with JSON options)
 * against small local TLS servers. No timing assertions: only counts and classifications.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { constants } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:https';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { fileURLToPath } from 'node:url';
import { LOAD_MARKER, WINDOW_END, WINDOW_START, type HandshakeLoadOptions, type LoadResult } from './pki-load.ts';

const exec = promisify(execFile);
const CLIENT = fileURLToPath(new URL('./pki-load.ts', import.meta.url));

async function selfSigned(dir: string): Promise<{ cert: string; key: string; certFile: string }> {
  const certFile = join(dir, 'cert.pem');
  const keyFile = join(dir, 'key.pem');
  await exec('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', keyFile, '-out', certFile,
    '-days', '1', '-subj', '/CN=localhost', '-addext', 'subjectAltName=DNS:localhost,IP:127.0.0.1']);
  return { cert: await readFile(certFile, 'utf8'), key: await readFile(keyFile, 'utf8'), certFile };
}

async function listen(server: Server): Promise<number> {
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return (server.address() as AddressInfo).port;
}

async function runClient(options: HandshakeLoadOptions): Promise<{ results: LoadResult[]; stdout: string }> {
  const { stdout } = await exec(process.execPath, [CLIENT, JSON.stringify(options)], { timeout: 60_000 });
  const line = stdout.split('\n').find((l) => l.startsWith(LOAD_MARKER));
  assert.ok(line, `no result line in:\n${stdout}`);
  return { results: JSON.parse(line.slice(LOAD_MARKER.length)) as LoadResult[], stdout };
}

const shape = { concurrency: 2, warmupS: 0.1, durationS: 0.5 };

test('pki load client: resumption is counted only when the server accepts the ticket', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pki-load-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { cert, key, certFile } = await selfSigned(dir);
  const withTickets = createServer({ cert, key }, (_req, res) => res.end('ok'));
  // SSL_OP_NO_TICKET: the server never issues a ticket, so no connection can resume.
  const noTickets = createServer({ cert, key, secureOptions: constants.SSL_OP_NO_TICKET }, (_req, res) => res.end('ok'));
  t.after(() => { withTickets.close(); noTickets.close(); });
  const base = { kind: 'handshakes' as const, host: '127.0.0.1', servername: 'localhost', caFile: certFile, path: '/' };

  const port = await listen(withTickets);
  const { results, stdout } = await runClient({ ...base, runs: [{ ...shape, port, resumption: false }, { ...shape, port, resumption: true }] });
  const [full, resumed] = results;
  assert.ok(full && resumed);
  assert.ok(full.count > 0 && resumed.count > 0, JSON.stringify(results));
  assert.equal(full.failures, 0, full.firstFailure);
  assert.equal(full.resumed, 0, 'a full-handshake run never offers a session');
  // Each loop's first connection is a full handshake; those may fall in the warm-up or not.
  assert.ok((resumed.resumed ?? 0) >= resumed.count - shape.concurrency, `resumed ${resumed.resumed} of ${resumed.count}`);
  for (const index of [0, 1]) {
    assert.match(stdout, new RegExp(`^${WINDOW_START} ${index}$`, 'm'));
    assert.match(stdout, new RegExp(`^${WINDOW_END} ${index}$`, 'm'));
  }

  const refused = await runClient({ ...base, runs: [{ ...shape, port: await listen(noTickets), resumption: true }] });
  assert.ok(refused.results[0]!.count > 0);
  assert.equal(refused.results[0]!.resumed, 0, 'no ticket, no resumption: the client must not report one');
});

test('pki load client: a non-200 answer is a failure, not a measured connection', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pki-load-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const { cert, key, certFile } = await selfSigned(dir);
  const failing = createServer({ cert, key }, (_req, res) => res.writeHead(503).end('busy'));
  t.after(() => failing.close());
  const { results } = await runClient({
    kind: 'handshakes', host: '127.0.0.1', servername: 'localhost', caFile: certFile, path: '/', runs: [{ ...shape, port: await listen(failing), resumption: false }],
  });
  assert.equal(results[0]!.count, 0);
  assert.ok(results[0]!.failures > 0);
  assert.match(results[0]!.firstFailure ?? '', /not 200/);
});

test('pki load client: a server whose certificate the client does not trust is a failure', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'pki-load-test-'));
  t.after(() => rmSync(dir, { recursive: true, force: true }));
  const served = await selfSigned(dir);
  const other = await selfSigned(mkdtempSync(join(dir, 'other-')));
  const server = createServer({ cert: served.cert, key: served.key }, (_req, res) => res.end('ok'));
  t.after(() => server.close());
  const { results } = await runClient({
    kind: 'handshakes', host: '127.0.0.1', servername: 'localhost', caFile: other.certFile, path: '/', runs: [{ ...shape, port: await listen(server), resumption: false }],
  });
  assert.equal(results[0]!.count, 0);
  assert.ok(results[0]!.failures > 0);
});
