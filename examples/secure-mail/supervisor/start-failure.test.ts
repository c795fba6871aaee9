/**
 * `npm start` on a machine where a port the demo needs is taken: the first start creates the
 * demo users and only then finds the port in use. Their passwords are stored nowhere, so the
 * failed start must show them (and say why in one line), or they are lost for good: the next
 * start finds the users and claims the passwords were printed.
 */
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer, type AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const START = fileURLToPath(new URL('../start.ts', import.meta.url));
const ROOT = fileURLToPath(new URL('../../../', import.meta.url));

function run(args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [START, ...args], { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (c: Buffer) => { stdout += c.toString(); });
    child.stderr.on('data', (c: Buffer) => { stderr += c.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); reject(new Error(`start.ts did not exit within 120 s\n${stdout}\n${stderr}`)); }, 120_000);
    child.once('exit', (code) => { clearTimeout(timer); resolve({ code, stdout, stderr }); });
  });
}

test('a first start that finds its HTTPS port in use still shows the new demo passwords and says why, without a stack trace', { timeout: 180_000 }, async (t) => {
  const dataDir = await mkdtemp(join(tmpdir(), 'secure-mail-busy-'));
  const blocker = createServer();
  await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve));
  t.after(async () => {
    await new Promise((resolve) => blocker.close(resolve));
    await rm(dataDir, { recursive: true, force: true });
  });
  const busyPort = (blocker.address() as AddressInfo).port;

  // --ephemeral: every other port is free, so only the one held here can fail.
  const first = await run(['--data-dir', dataDir, '--ephemeral', '--port', String(busyPort)]);
  assert.equal(first.code, 1, `exit code\n${first.stdout}\n${first.stderr}`);
  assert.match(first.stderr, /secure-mail: could not start: gatehouse exited \(1\) before it was ready: .*EADDRINUSE/);
  assert.match(first.stderr, /--ephemeral/);
  assert.doesNotMatch(first.stderr, /^\s+at /m, 'no stack trace');
  const passwords = Object.fromEntries([...first.stdout.matchAll(/^ {2}(alice|bob) +(\S+)$/gm)].map((m) => [m[1], m[2]]));
  assert.deepEqual(Object.keys(passwords).sort(), ['alice', 'bob'], `passwords shown\n${first.stdout}`);

  // --json: the same, as one line a script can read.
  const again = await run(['--data-dir', dataDir, '--ephemeral', '--port', String(busyPort), '--json']);
  assert.equal(again.code, 1);
  const line = JSON.parse(again.stdout.trim().split('\n').at(-1)!) as { ready: boolean; error: string; passwords: Record<string, string> };
  assert.equal(line.ready, false);
  assert.match(line.error, /EADDRINUSE/);
  assert.deepEqual(line.passwords, {}, 'the users exist now: no new passwords the second time');
});
