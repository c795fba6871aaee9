/**
 * Starts test/bench/minimal-proxy.ts (node:https + undici Pool, nothing else) with the
 * project's pinned Node on the proxy CPU.
 */
import { fileURLToPath } from 'node:url';
import { join } from 'node:path';
import type { BenchContext } from './section.ts';
import type { RunningServer } from './nginx.ts';
import { freePort, waitForHttp } from './net.ts';

const SCRIPT = fileURLToPath(new URL('../minimal-proxy.ts', import.meta.url));

/** Starts the minimal proxy in front of `upstreamUrl`; resolves once it answers over TLS. */
export async function startMinimalProxy(ctx: BenchContext, upstreamUrl: string): Promise<RunningServer> {
  const cert = await ctx.cert();
  const port = await freePort();
  const process = ctx.processes.start('minimal-node-proxy', ctx.nodeBin, [
    SCRIPT, '--port', String(port), '--upstream', upstreamUrl, '--cert', cert.certFile, '--key', cert.keyFile, '--connections', '256',
  ], { cpu: ctx.cpus.proxy, logFile: join(ctx.tmpDir, 'minimal-proxy.log') });
  const url = `https://127.0.0.1:${port}`;
  await waitForHttp(url, { ca: cert.pem, exited: process.exited });
  return { url, process, stop: () => ctx.processes.stop(process) };
}
