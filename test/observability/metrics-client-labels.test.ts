/**
 * /metrics label values come from the configuration and from closed sets, never from what a
 * client sends: a scanner requesting thousands of paths under invented Host names and methods
 * must not create series (each would live until restart and be scraped every 15 s).
 */
import { after, before, describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, startUpstream, type TestGateway, type TestUpstream } from '../support/gateway.ts';

describe('/metrics labels and client input', () => {
  let gw: TestGateway;
  let upstream: TestUpstream;

  before(async () => {
    upstream = await startUpstream();
    gw = await startGateway({
      upstreams: { app: { url: upstream.url } },
      routes: [{ id: 'app', path: '/app', upstream: 'app', access: 'public', methods: ['GET'] }],
    });
  });
  after(async () => { await gw?.close(); await upstream?.close(); });

  it('a scan of unknown paths, hosts and methods creates no series named after them: route labels stay the configured ids', async () => {
    const scrape = async () => (await fetch(`${gw.opsUrl}/metrics`)).text();
    const sampleLines = (text: string) => text.split('\n').filter((l) => /^gatehouse_(http|upstream)_/.test(l));
    await gw.fetch('/app/x');
    await gw.fetch('/nope');
    const before = sampleLines(await scrape()).length;
    for (let i = 0; i < 60; i++) {
      const method = ['GET', 'POST', 'DELETE', 'PROPFIND', 'OPTIONS'][i % 5]!;
      await gw.fetch(`/scan-${i}/%2e%2e/${'x'.repeat(i)}?q=${i}`, { method, headers: { host: `host-${i}.attacker.example` } });
      await gw.fetch(`/app/scan-${i}`, { method: i % 2 ? 'GET' : 'PUT', headers: { host: `other-${i}.example` } });
    }
    // The invented names did reach the gateway (the access log has them).
    assert.ok(gw.logs.lines.some((l) => l.type === 'access' && l.host === 'host-7.attacker.example'), 'Host header sent');
    const text = await scrape();
    const lines = sampleLines(text);
    assert.doesNotMatch(text, /scan-|attacker\.example|other-\d/);
    for (const line of lines) {
      const route = /route="([^"]*)"/.exec(line)?.[1];
      if (route !== undefined) assert.ok(['app', 'none', 'internal'].includes(route), line);
    }
    // Only method and status combinations are new (a bounded set), not one series per request.
    assert.ok(lines.length - before < 200, `${lines.length - before} new series lines after 120 requests`);
  });
});
