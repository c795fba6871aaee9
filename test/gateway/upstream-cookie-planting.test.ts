/**
 * Session planting through the gateway: a service behind Gatehouse answers with Set-Cookie
 * fields naming Gatehouse's own session or identity-provider cookies. Were they passed on, the
 * service could log the user's browser into a session of its choosing (session fixation) or
 * overwrite the IdP's session. They are dropped, on ordinary responses and on a WebSocket
 * 101; the service's own cookies pass unchanged.
 */
import { after, before, it } from 'node:test';
import assert from 'node:assert/strict';
import { startGateway, type TestGateway } from '../support/gateway.ts';
import { rawTlsResponseHead } from '../support/raw-tls.ts';
import { startRawUpstream, type RawUpstream } from '../support/raw-upstream.ts';

const PLANTED = [
  '__Host-gatehouse-session=attacker-session; Path=/; Secure; HttpOnly',
  '__HOST-Gatehouse-login=attacker-login; Path=/; Secure',
  'gh_idp_session=attacker-idp; Path=/; Secure',
  ' gh_idp_session.sig=forged; Path=/',
  '__Host-gh_idp_session=attacker-idp; Path=/; Secure',
  '__Host-gh_idp_session.sig=forged; Path=/; Secure',
  '__secure-gh_idp_resume=attacker-uid; Path=/oidc/auth/attacker-uid; Secure',
  '__Secure-gh_idp_interaction=attacker-uid; Path=/oidc/interaction/attacker-uid; Secure',
];
const OWN = 'app_pref=dark; Path=/; Secure';

let upstream: RawUpstream;
let gw: TestGateway;

/**
 * Raw upstream: every answer (a 200, or a 101 to an upgrade) sets the planted cookies and one of
 * its own; /app/single-own and /app/single-planted get exactly one Set-Cookie field.
 */
before(async () => {
  upstream = await startRawUpstream((socket) => {
    let head = '';
    socket.on('data', (d: Buffer) => {
      head += d;
      if (!head.includes('\r\n\r\n')) return;
      const upgrade = /\r\nupgrade: websocket/i.test(head);
      const single = /^GET \/app\/single-(own|planted) /.exec(head)?.[1];
      head = '';
      const cookies = (single === 'own' ? [OWN] : single === 'planted' ? [PLANTED[0]!] : [...PLANTED, OWN]).map((c) => `Set-Cookie: ${c}\r\n`).join('');
      socket.write(upgrade
        ? `HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n${cookies}\r\n`
        : `HTTP/1.1 200 OK\r\nContent-Length: 2\r\n${cookies}\r\nok`);
    });
  });
  gw = await startGateway({
    upstreams: { app: { url: upstream.url } },
    routes: [
      { id: 'app', path: '/app', upstream: 'app', access: 'public' },
      { id: 'ws', path: '/ws', upstream: 'app', access: 'public', websocket: true },
    ],
  });
});

after(async () => {
  upstream.close();
  await gw.close();
});

/** The raw response head the client receives for `request`. */
const responseHead = (request: string) => rawTlsResponseHead(gw.gateway.addresses().https.port, request);

function setCookies(head: string): string[] {
  return head.split('\r\n').filter((l) => /^set-cookie:/i.test(l)).map((l) => l.slice(l.indexOf(':') + 1).trim());
}

it("an upstream's Set-Cookie for Gatehouse's session or IdP cookies never reaches the browser (session planting refused); its own cookies do", async () => {
  const head = await responseHead('GET /app/x HTTP/1.1\r\nHost: localhost\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.deepEqual(setCookies(head), [OWN]);
});

it("a WebSocket 101 from the upstream cannot plant Gatehouse's cookies either", async () => {
  const head = await responseHead('GET /ws HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 101 /);
  assert.deepEqual(setCookies(head), [OWN]);
});

// undici hands a field sent once as a string, not a one-element list: iterated as a list, one
// Set-Cookie became one field per character (the service's cookie never set) and a single
// planted Gatehouse cookie went through the filter character by character.
it("an upstream's only Set-Cookie reaches the browser whole, as one field", async () => {
  const head = await responseHead('GET /app/single-own HTTP/1.1\r\nHost: localhost\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.deepEqual(setCookies(head), [OWN]);
});

it("an upstream's only Set-Cookie, for Gatehouse's session cookie, never reaches the browser (session planting refused)", async () => {
  const head = await responseHead('GET /app/single-planted HTTP/1.1\r\nHost: localhost\r\n\r\n');
  assert.match(head, /^HTTP\/1\.1 200 /);
  assert.deepEqual(setCookies(head), []);
});
