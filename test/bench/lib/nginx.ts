/**
 * nginx in two roles: the upstream every proxy forwards to (`return 200 "ok"`), and the
 * reference reverse proxy. Each instance has its own prefix and config in the run's temp
 * directory, runs in the foreground (`daemon off`) with one worker, and logs no requests.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchContext } from './section.ts';
import type { Managed } from './processes.ts';
import { freePort, waitForHttp } from './net.ts';

/** A server a section started (nginx, the minimal proxy, Gatehouse), and how to stop it. */
export interface RunningServer {
  /** Base URL, e.g. `http://127.0.0.1:41234`. */
  url: string;
  process: Managed;
  stop(): Promise<void>;
}

/** Everything that must not point into /var: temp paths, pid file, error log. */
function commonHead(prefix: string): string {
  return `daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 16384;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 8192; multi_accept on; }
`;
}

function httpHead(prefix: string): string {
  return `  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  default_type text/plain;
  # Benchmarks hold their connections for the whole run; the default (1000) would
  # make every load generator reconnect, which measures handshakes, not the proxy.
  keepalive_requests 10000000;
  keepalive_timeout 75s;
`;
}

async function startNginx(ctx: BenchContext, name: string, config: string, prefix: string, cpu: number | undefined): Promise<Managed> {
  await mkdir(prefix, { recursive: true });
  const confFile = join(prefix, 'nginx.conf');
  await writeFile(confFile, config);
  return ctx.processes.start(name, ctx.tools.nginx, ['-p', prefix, '-c', confFile, '-e', join(prefix, 'error.log')], {
    cpu,
    logFile: join(prefix, 'stdout.log'),
  });
}

/** The upstream: plain HTTP, answers every request with 200 "ok". Pinned with the load side. */
export async function startUpstream(ctx: BenchContext): Promise<RunningServer> {
  const prefix = join(ctx.tmpDir, 'nginx-upstream');
  const port = await freePort();
  const config = `${commonHead(prefix)}http {
${httpHead(prefix)}  server {
    listen 127.0.0.1:${port} backlog=4096;
    location / { return 200 "ok"; }
  }
}
`;
  const process = await startNginx(ctx, 'nginx-upstream', config, prefix, ctx.cpus.load);
  const url = `http://127.0.0.1:${port}`;
  await waitForHttp(url, { exited: process.exited });
  return { url, process, stop: () => ctx.processes.stop(process) };
}

/**
 * nginx as a plain TLS-terminating reverse proxy to `upstreamUrl`, with an upstream
 * keep-alive pool as large as the node proxies' (256 idle connections).
 */
export async function startNginxProxy(ctx: BenchContext, upstreamUrl: string): Promise<RunningServer> {
  const prefix = join(ctx.tmpDir, 'nginx-proxy');
  const port = await freePort();
  const cert = await ctx.cert();
  const upstream = new URL(upstreamUrl);
  const config = `${commonHead(prefix)}http {
${httpHead(prefix)}  upstream bench {
    server ${upstream.host};
    keepalive 256;
    keepalive_requests 10000000;
    keepalive_timeout 75s;
  }
  server {
    listen 127.0.0.1:${port} ssl backlog=4096;
    ssl_certificate ${cert.certFile};
    ssl_certificate_key ${cert.keyFile};
    ssl_protocols TLSv1.2 TLSv1.3;
    location / {
      proxy_pass http://bench;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering on;
    }
  }
}
`;
  const process = await startNginx(ctx, 'nginx-proxy', config, prefix, ctx.cpus.proxy);
  const url = `https://127.0.0.1:${port}`;
  await waitForHttp(url, { ca: cert.pem, exited: process.exited });
  return { url, process, stop: () => ctx.processes.stop(process) };
}
