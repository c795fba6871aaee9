/**
 * Two policy reloads at once in a real composed Gatehouse: the config-reload hook and the
 * policy directory watcher each read the directory. A read that started first but finishes
 * last must not put back the policies a newer read already replaced.
 *
 * The slow read is real: one policy file is a named pipe (FIFO), so a read of the directory
 * blocks on it until the test writes the file's content into the pipe.
 */
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { constants } from 'node:fs';
import { mkdtemp, open, rename, rm, writeFile, type FileHandle } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { serviceToken } from '../support/service-token.ts';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

const ALLOW = '@id("a-reads") permit (principal == Gatehouse::Service::"svc-a", action, resource == Gatehouse::Route::"items");\n';
const FORBID = `${ALLOW}@id("lockdown") forbid (principal, action, resource);\n`;
const OTHER = '@id("other") permit (principal, action, resource == Gatehouse::Route::"nowhere");\n';

let dir: string;
let gw: TestGateway;
let upstream: TestUpstream;
let token: string;

/** Waits until a reader has the pipe open (a non-blocking writer open fails with ENXIO before), and returns the writer. */
async function pipeWriterOnceRead(fifo: string): Promise<FileHandle> {
  const deadline = Date.now() + 10_000;
  for (;;) {
    try {
      return await open(fifo, constants.O_WRONLY | constants.O_NONBLOCK);
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== 'ENXIO' || Date.now() > deadline) throw err;
      await new Promise((r) => setTimeout(r, 5));
    }
  }
}

async function feed(writer: FileHandle, content: string): Promise<void> {
  await writer.write(content);
  await writer.close();
}

async function status(): Promise<number> {
  const res = await gw.fetch('/items/1', { headers: { authorization: `Bearer ${token}` } });
  return res.status;
}

before(async () => {
  dir = await mkdtemp(join(tmpdir(), 'gatehouse-policy-race-'));
  await writeFile(join(dir, 'items.cedar'), ALLOW);
  // Sorted after items.cedar: a directory read has read items.cedar when it blocks here.
  execFileSync('mkfifo', [join(dir, 'zz.cedar')]);
  upstream = await startUpstream();
  const starting = startGateway({
    ratelimit: { edge: { enabled: false } },
    upstreams: { app: { url: upstream.url } },
    routes: [{ id: 'items', path: '/items', upstream: 'app', policy: 'items', authentication: { methods: ['jwt'] } }],
    policy: { dir },
  }, { compose: true });
  // The start-up read of the directory waits on the pipe too.
  await feed(await pipeWriterOnceRead(join(dir, 'zz.cedar')), OTHER);
  gw = await starting;
  token = await serviceToken(gw, 'svc-a');
});

after(async () => {
  await gw?.close();
  await upstream?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('concurrent policy reloads', () => {
  test('a slow reload that read the directory before a forbid was added and finishes last does not bring the old policies back', async () => {
    assert.equal(await status(), 200);

    // A config reload starts a policy reload; it reads items.cedar (no forbid yet) and blocks on the pipe.
    assert.equal((await gw.gateway.reload('test')).applied, true);
    const slowRead = await pipeWriterOnceRead(join(dir, 'zz.cedar'));

    // The pipe becomes a plain file and a forbid is added: the watcher reloads the directory.
    await writeFile(join(dir, 'zz.next'), OTHER);
    await rename(join(dir, 'zz.next'), join(dir, 'zz.cedar'));
    await writeFile(join(dir, 'items.cedar'), FORBID);
    const deadline = Date.now() + 10_000;
    while (await status() !== 403) {
      assert.ok(Date.now() < deadline, 'the watcher never applied the forbid');
      await new Promise((r) => setTimeout(r, 50));
    }

    // Now the slow read gets its last file and finishes, with the items.cedar it read before the forbid.
    await feed(slowRead, OTHER);
    const settle = Date.now() + 2_000;
    while (Date.now() < settle) {
      assert.equal(await status(), 403, 'the policies read before the forbid was added were put back in service');
      await new Promise((r) => setTimeout(r, 50));
    }
  });
});
