/**
 * Part of the pki section: nginx as an upstream that speaks only mutual TLS, with a
 * certificate from Gatehouse's CA, and that verifies the client's chain up to the CA's root
 * (intermediates and root trusted, both CRLs checked, depth 2). A client without a valid
 * certificate from that CA gets 400 from nginx, never "ok"; the section checks that before
 * it measures.
 *
 * Like lib/nginx.ts's upstream: one worker, no access log, own prefix, foreground, answers
 * `200 "ok"`; pinned with the load side.
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import type { BenchContext } from '../lib/section.ts';
import type { RunningServer } from '../lib/nginx.ts';

export interface MtlsUpstreamFiles {
  /** Leaf + intermediate, PEM. */
  chainPem: string;
  /** PKCS#8 private key, PEM. */
  keyPem: string;
  /** Roots and intermediates that may sign client certificates. */
  clientCaPem: string;
  /** Every CRL of the chain (the workload CRL and the root's). */
  crlPem: string;
}

/** Starts the mTLS upstream on `port` (chosen earlier, because Gatehouse's config names it). */
export async function startMtlsUpstream(ctx: BenchContext, port: number, files: MtlsUpstreamFiles): Promise<RunningServer> {
  const prefix = join(ctx.tmpDir, 'nginx-mtls-upstream');
  await mkdir(prefix, { recursive: true });
  const path = (name: string): string => join(prefix, name);
  await writeFile(path('chain.pem'), files.chainPem);
  await writeFile(path('key.pem'), files.keyPem, { mode: 0o600 });
  await writeFile(path('client-ca.pem'), files.clientCaPem);
  await writeFile(path('crl.pem'), files.crlPem);
  const config = `daemon off;
master_process on;
worker_processes 1;
worker_rlimit_nofile 16384;
pid ${prefix}/nginx.pid;
error_log ${prefix}/error.log warn;
events { worker_connections 8192; multi_accept on; }
http {
  access_log off;
  client_body_temp_path ${prefix}/client_body;
  proxy_temp_path ${prefix}/proxy;
  fastcgi_temp_path ${prefix}/fastcgi;
  uwsgi_temp_path ${prefix}/uwsgi;
  scgi_temp_path ${prefix}/scgi;
  default_type text/plain;
  keepalive_requests 10000000;
  keepalive_timeout 75s;
  server {
    listen 127.0.0.1:${port} ssl backlog=4096;
    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_certificate ${path('chain.pem')};
    ssl_certificate_key ${path('key.pem')};
    ssl_client_certificate ${path('client-ca.pem')};
    ssl_verify_client on;
    ssl_verify_depth 2;
    ssl_crl ${path('crl.pem')};
    location / { return 200 "ok"; }
  }
}
`;
  const confFile = path('nginx.conf');
  await writeFile(confFile, config);
  const process = ctx.processes.start('nginx-mtls-upstream', ctx.tools.nginx, ['-p', prefix, '-c', confFile, '-e', path('error.log')], {
    cpu: ctx.cpus.load,
    logFile: path('stdout.log'),
  });
  return { url: `https://127.0.0.1:${port}`, process, stop: () => ctx.processes.stop(process) };
}
