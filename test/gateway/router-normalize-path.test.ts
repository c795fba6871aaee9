import { test, describe } from 'node:test';
import assert from 'node:assert/strict';
import { createServer } from 'node:http';
import { connect, type AddressInfo } from 'node:net';
import { GatehouseError } from '../../src/core/errors.ts';
import { MAX_PATH_LENGTH, normalizePath, PATH_REFUSALS, pathRefusalOf, type PathRefusal } from '../../src/gateway/router/normalize-path.ts';

function refusal(target: string): PathRefusal | undefined {
  try {
    normalizePath(target);
    return undefined;
  } catch (err) {
    assert.ok(err instanceof GatehouseError, `not a GatehouseError: ${String(err)}`);
    assert.equal(err.code, 'ERR_REQUEST_PATH_INVALID');
    assert.equal(err.status, 400);
    return err.data?.reason as PathRefusal;
  }
}

function assertRefused(target: string, reason: PathRefusal): void {
  assert.equal(refusal(target), reason, `target ${JSON.stringify(target)}`);
}

function assertPath(target: string, path: string, query = ''): void {
  assert.deepEqual(normalizePath(target), { path, query }, `target ${JSON.stringify(target)}`);
}

describe('normalizePath: accepted targets', () => {
  test('plain paths come back unchanged (fast path)', () => {
    for (const p of ['/', '/a', '/api/v1/users', '/static/app.min.js', '/a-b_c~d', '/x@y:z', "/!$&'()*+,=", '/trailing/']) assertPath(p, p);
  });

  test('the query is split at the first ? and kept raw', () => {
    assertPath('/a?b=1&c=%2F', '/a', 'b=1&c=%2F');
    assertPath('/a?x=?y', '/a', 'x=?y');
    assertPath('/a?', '/a', '');
    assertPath('/a/%2e%2e/b?q=/../', '/b', 'q=/../');
  });

  test('duplicate slashes collapse and the trailing slash is kept', () => {
    assertPath('//a///b//', '/a/b/');
    assertPath('//', '/');
    assertPath('/a//../b', '/b');
  });

  test('dot segments resolve per RFC 3986 §5.2.4 (its absolute-path examples)', () => {
    assertPath('/a/b/c/./../../g', '/a/g');
    assertPath('/a/b/c/.', '/a/b/c/');
    assertPath('/a/b/c/..', '/a/b/');
    assertPath('/a/./b/', '/a/b/');
    assertPath('/./', '/');
    assertPath('/.', '/');
    assertPath('/a/..', '/');
  });

  test('names that merely start with dots are ordinary segments', () => {
    assertPath('/.well-known/openid-configuration', '/.well-known/openid-configuration');
    assertPath('/a/...', '/a/...');
    assertPath('/a/..b/.c', '/a/..b/.c');
  });

  test('percent-escapes are decoded once and only non-pchar bytes are re-encoded, upper-case', () => {
    assertPath('/%41%62%63', '/Abc');
    assertPath('/a%20b', '/a%20b');
    assertPath('/a%3fb', '/a%3Fb');
    assertPath('/a%23b', '/a%23b');
    assertPath('/%7e%21%40%3a', '/~!@:');
    assertPath('/a|b', '/a%7Cb');
    assertPath('/{x}', '/%7Bx%7D');
  });

  test('unicode paths round-trip as their UTF-8 percent-encoding', () => {
    assertPath('/caf%c3%a9', '/caf%C3%A9');
    assertPath('/%E6%97%A5%E6%9C%AC', '/%E6%97%A5%E6%9C%AC');
    assertPath('/%F0%9F%98%80/x', '/%F0%9F%98%80/x');
    const segment = 'données/日本/😀';
    const { path } = normalizePath('/' + encodeURI(segment));
    assert.equal(decodeURIComponent(path), '/' + segment);
  });
});

describe('normalizePath: hostile targets', () => {
  test('/%2e%2e/admin is refused for climbing above the root', () => assertRefused('/%2e%2e/admin', 'above-root'));
  test('/api/../admin resolves to /admin (it is routed as /admin, never as /api)', () => assertPath('/api/../admin', '/admin'));
  test('mixed-case encoded dots /api/%2E%2e/admin resolve like literal dots', () => assertPath('/api/%2E%2e/admin', '/admin'));
  test('/a/../.. is refused for climbing above the root', () => assertRefused('/a/../..', 'above-root'));
  test('double encoding %252e%252e decodes once to the literal segment name "%2e%2e", re-encoded as %252e%252e', () => {
    assertPath('/api/%252e%252e/admin', '/api/%252e%252e/admin');
    assertPath('/api/%252e%252e/admin', normalizePath('/api/%252e%252e/admin').path); // a second pass changes nothing
    assert.equal(decodeURIComponent('/api/%252e%252e/admin'), '/api/%2e%2e/admin');
  });
  test('encoded slash %2f is refused (it would move a segment boundary)', () => {
    assertRefused('/a%2fb', 'encoded-separator');
    assertRefused('/a%2Fb', 'encoded-separator');
  });
  test('encoded backslash %5c is refused', () => assertRefused('/a%5c..%5cadmin', 'encoded-separator'));
  test('a raw backslash is refused', () => assertRefused('/a\\..\\admin', 'backslash'));
  test('the Tomcat ..;/ bypass is refused, raw or encoded', () => {
    assertRefused('/public/..;/admin', 'semicolon');
    assertRefused('/public/..%3b/admin', 'semicolon');
    assertRefused('/a;jsessionid=1', 'semicolon');
  });
  test('NUL and other control characters are refused, raw or encoded', () => {
    assertRefused('/a%00b', 'control-character');
    assertRefused('/a%0d%0aSet-Cookie:x', 'control-character');
    assertRefused('/a%7f', 'control-character');
    assertRefused('/a%c2%85', 'control-character'); // U+0085 NEL
    assertRefused('/a\u0000b', 'raw-character');
    assertRefused('/a b', 'raw-character');
  });
  test('overlong UTF-8 %c0%ae (an encoded dot) is refused', () => {
    assertRefused('/%c0%ae%c0%ae/admin', 'invalid-utf8');
    assertRefused('/%e0%80%ae', 'invalid-utf8');
    assertRefused('/%c0%af', 'invalid-utf8');
  });
  test('surrogates, truncated sequences and code points above U+10FFFF are refused', () => {
    for (const t of ['/%ed%a0%80', '/%c3', '/%e6%97', '/%f4%90%80%80', '/%ff', '/%80']) assertRefused(t, 'invalid-utf8');
  });
  test('acceptance of percent-encoded bytes agrees with TextDecoder fatal (external truth)', () => {
    const decoder = new TextDecoder('utf-8', { fatal: true });
    let state = 0x1234567;
    const next = () => (state = (Math.imul(state, 1103515245) + 12345) >>> 0) >>> 24;
    for (let round = 0; round < 2000; round++) {
      const bytes = Buffer.alloc(1 + (round % 5));
      for (let i = 0; i < bytes.length; i++) bytes[i] = 0x80 | next() | (next() & 0x40);
      let valid = true;
      try { decoder.decode(bytes); } catch { valid = false; }
      const target = '/x' + [...bytes].map((b) => '%' + b.toString(16).padStart(2, '0')).join('');
      const reason = refusal(target);
      if (valid) assert.ok(reason === undefined || reason === 'control-character', `${target} valid UTF-8 refused: ${reason}`);
      else assert.equal(reason, 'invalid-utf8', target);
    }
  });
  test('invalid escapes %zz and %4 are refused', () => {
    assertRefused('/a%zz', 'invalid-escape');
    assertRefused('/a%4', 'invalid-escape');
    assertRefused('/a%4/b', 'invalid-escape');
    assertRefused('/a%', 'invalid-escape');
    assertRefused('/a%%41', 'invalid-escape');
    assertRefused('/%u002e%u002e/admin', 'invalid-escape'); // IIS %u encoding
  });
  test('//admin collapses to /admin', () => assertPath('//admin', '/admin'));
  test('a fragment is refused, in the path or the query', () => {
    assertRefused('/a#b', 'fragment');
    assertRefused('/a?x#b', 'fragment');
  });
  test('absolute-form, authority-form and asterisk-form targets are refused', () => {
    assertRefused('http://internal.example/admin', 'absolute-form');
    assertRefused('internal.example:443', 'absolute-form');
    assertRefused('*', 'asterisk-form');
    assertRefused('', 'empty');
  });
  test('raw non-ASCII and control characters in the query are refused', () => {
    assertRefused('/a?x=\u00e9', 'query-character');
    assertRefused('/a?x=1\r\nHost: evil', 'query-character');
    assertRefused('/a?x y', 'query-character');
  });
  test('an over-long path is refused', () => {
    assertPath('/' + 'a'.repeat(MAX_PATH_LENGTH - 1), '/' + 'a'.repeat(MAX_PATH_LENGTH - 1));
    assertRefused('/' + 'a'.repeat(MAX_PATH_LENGTH), 'too-long');
    assertRefused('/a?' + 'q'.repeat(20000), 'too-long');
  });
  test('the refusal detail never contains the target (queries carry tokens)', () => {
    try {
      normalizePath('/a%zz?access_token=secret-value');
      assert.fail('accepted');
    } catch (err) {
      assert.ok(err instanceof GatehouseError);
      assert.doesNotMatch(err.message, /secret-value|%zz/);
    }
  });
  test('every refusal carries one of the fixed reason names and the offset in the target where it was found, which pathRefusalOf passes on', () => {
    for (const [target, reason, offset] of [
      ['', 'empty', 0], ['*', 'asterisk-form', 0], ['/a%zz', 'invalid-escape', 2], ['/a/%2e%2e/%2e%2e/b', 'above-root', 16], ['/a;b', 'semicolon', 2],
      ['/a?x=\u0001', 'query-character', 5], ['/a/%c0%ae', 'invalid-utf8', 3], ['/x%2fy', 'encoded-separator', 2],
    ] as const) {
      try {
        normalizePath(target);
        assert.fail(`${target} accepted`);
      } catch (err) {
        assert.ok(err instanceof GatehouseError);
        assert.deepEqual(err.data, { reason, offset }, target);
        assert.ok(PATH_REFUSALS.includes(reason));
        assert.deepEqual(pathRefusalOf(err), { reason, offset });
      }
    }
  });
  test('pathRefusalOf passes on no reason outside the fixed names, and nothing for another error', () => {
    assert.equal(pathRefusalOf(new GatehouseError('ERR_REQUEST_PATH_INVALID', { data: { reason: '<script>', offset: 1 } })), undefined);
    assert.equal(pathRefusalOf(new GatehouseError('ERR_REQUEST_PATH_INVALID', { data: { reason: 'toString', offset: 1 } })), undefined);
    assert.equal(pathRefusalOf(new GatehouseError('ERR_REQUEST_PATH_INVALID', { data: { reason: 'semicolon', offset: -1 } })), undefined);
    assert.equal(pathRefusalOf(new GatehouseError('ERR_REQUEST_PATH_INVALID')), undefined);
    assert.equal(pathRefusalOf(new GatehouseError('ERR_REQUEST_MALFORMED', { data: { reason: 'semicolon', offset: 1 } })), undefined);
  });
});

describe('normalizePath: properties over random targets', () => {
  const alphabet = ['/', '/', '.', '..', '%2e', '%2E', '%25', '%41', '%c3%a9', '%20', 'a', 'B', '~', '|', '{', '@', ':', '%3f', '%23', '%ff', '%2f'];
  let state = 42;
  const pick = () => alphabet[(state = (Math.imul(state, 1103515245) + 12345) >>> 0) % alphabet.length]!;

  test('accepted output is canonical: only pchar and upper-case %XX, no empty or dot segments, idempotent, and WHATWG URL leaves it unchanged', () => {
    let accepted = 0;
    for (let round = 0; round < 5000; round++) {
      let target = '/';
      for (let i = 0; i < 1 + (round % 12); i++) target += pick();
      if (refusal(target) !== undefined) continue;
      accepted++;
      const { path } = normalizePath(target);
      assert.match(path, /^\/(?:[A-Za-z0-9\-._~!$&'()*+,=:@/]|%[0-9A-F]{2})*$/, `${target} → ${path}`);
      assert.doesNotMatch(path, /\/\/|(?:^|\/)\.\.?(?:\/|$)/, `${target} → ${path}`);
      assert.equal(normalizePath(path).path, path, `not idempotent: ${target} → ${path}`);
      assert.equal(new URL(path, 'http://gatehouse.test').pathname, path, `WHATWG URL rewrites ${path}`);
    }
    assert.ok(accepted > 500, `only ${accepted} random targets were accepted; the property was barely exercised`);
  });
});

describe('normalizePath behind a real Node HTTP/1.1 parser', () => {
  // What reaches normalizePath is whatever Node's parser lets through as req.url; each
  // hostile request line must be refused by one of the two, never routed.
  async function send(requestLine: string): Promise<string> {
    const server = createServer((req, res) => {
      try {
        const { path, query } = normalizePath(req.url ?? '');
        res.end(`routed ${path} ${query}`);
      } catch (err) {
        res.statusCode = 400;
        res.end(`gatehouse ${(err as GatehouseError).data?.reason}`);
      }
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    try {
      return await new Promise<string>((resolve, reject) => {
        const socket = connect((server.address() as AddressInfo).port, '127.0.0.1', () => {
          socket.end(`${requestLine}\r\nHost: x\r\nConnection: close\r\n\r\n`);
        });
        let data = '';
        socket.on('data', (chunk) => { data += chunk; });
        socket.on('close', () => resolve(data.includes('\r\n\r\n') ? `${data.split('\r\n')[0]} | ${data.slice(data.indexOf('\r\n\r\n') + 4)}` : data));
        socket.on('error', reject);
      });
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
  }

  test('hostile request lines are refused by Node or by normalizePath, never routed', async () => {
    const cases: [string, RegExp][] = [
      ['GET /public/..;/admin HTTP/1.1', /gatehouse semicolon/],
      ['GET /%2e%2e/admin HTTP/1.1', /gatehouse above-root/],
      ['GET /a%2fb HTTP/1.1', /gatehouse encoded-separator/],
      ['GET /a\\..\\admin HTTP/1.1', /gatehouse backslash/],
      ['GET /admin#frag HTTP/1.1', /gatehouse fragment/],
      ['GET http://internal.example/admin HTTP/1.1', /gatehouse absolute-form/],
      ['OPTIONS * HTTP/1.1', /gatehouse asterisk-form/],
      ['GET /%c0%ae%c0%ae/admin HTTP/1.1', /gatehouse invalid-utf8/],
      ['GET /a\u0000b HTTP/1.1', /^HTTP\/1\.1 400/],
      ['GET /caf\u00e9 HTTP/1.1', /^HTTP\/1\.1 400/],
    ];
    for (const [line, expected] of cases) {
      const answer = await send(line);
      assert.match(answer, expected, `${JSON.stringify(line)} → ${answer}`);
      assert.doesNotMatch(answer, /routed/);
    }
  });

  test('an ordinary request line is routed with its query kept raw', async () => {
    assert.match(await send('GET /api/./v1//users/%7e%41?q=%2F&x HTTP/1.1'), /routed \/api\/v1\/users\/~A q=%2F&x$/);
  });
});
