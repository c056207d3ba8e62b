import { test } from 'node:test';
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { startServerProcess } from '../helpers/server.js';
import { tempDir } from '../helpers/tmp.js';
import { draft, makeSigner, signedXml } from '../helpers/signing.js';

/** POSTs a body to the real server over a socket and returns status and text (or the socket error). */
function post(url: string, body: Buffer | string | ((write: (b: Buffer) => boolean) => Promise<void>), contentType = 'application/xml'): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = request(url + '/metadata', { method: 'POST', headers: { 'content-type': contentType, accept: 'text/plain' } }, (res) => {
      let text = '';
      res.on('data', (d: Buffer) => { text += d.toString(); });
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: text }));
    });
    req.on('error', reject);
    if (typeof body === 'function') {
      body((b) => req.write(b)).then(() => req.end(), reject);
    } else {
      req.end(body);
    }
  });
}

async function storedCount(url: string): Promise<number> {
  const res = await fetch(`${url}/metadata?status=all&media=json`);
  return ((await res.json()) as { total: number }).total;
}

const dir = tempDir();
const signer = makeSigner(dir);
const good = signedXml(signer, draft());

test('hostile uploads get a 4xx with a clear reason, the server keeps serving, and nothing is stored', async () => {
  const server = await startServerProcess(`${dir}/data`);
  const xxe = good.replace('<?xml version="1.0" encoding="UTF-8" standalone="no"?>',
    '<?xml version="1.0" encoding="UTF-8"?><!DOCTYPE rdf:RDF [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>').replace('debian-12-base', '&xxe;');
  const laughs = '<?xml version="1.0"?><!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">'
    + '<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;"><!ENTITY lol9 "&lol3;&lol3;&lol3;">]><lolz>&lol9;</lolz>';
  const invalidUtf8 = Buffer.concat([Buffer.from(good.slice(0, 200)), Buffer.from([0xc3, 0x28, 0xff]), Buffer.from(good.slice(200))]);
  const truncated = good.slice(0, Math.floor(good.length / 2));

  const cases: Array<[string, Parameters<typeof post>[1], number, RegExp]> = [
    ['external entity', xxe, 400, /DOCTYPE declaration; DTDs and entity declarations are not accepted/],
    ['billion laughs', laughs, 400, /DOCTYPE declaration/],
    ['invalid UTF-8', invalidUtf8, 400, /not valid UTF-8 \(first bad byte at offset 200\)/],
    ['truncated document', truncated, 400, /^unable to parse metadata: /],
    ['latin-1 declared', good.replace('encoding="UTF-8"', 'encoding="ISO-8859-1"'), 400, /only UTF-8 is accepted/],
  ];
  for (const [why, body, status, reason] of cases) {
    const res = await post(server.url, body);
    assert.equal(res.status, status, `${why}: ${res.body}`);
    assert.match(res.body, reason, why);
    assert.doesNotMatch(res.body, /root:x:0/, `${why}: no file contents leak`);
  }

  // 100 MB streamed in 1 MiB pieces: refused early with 413, without buffering it all.
  const chunk = Buffer.alloc(1024 * 1024, 0x41);
  let big: { status: number; body: string } | undefined;
  try {
    big = await post(server.url, async (write) => {
      for (let i = 0; i < 100; i++) {
        if (!write(chunk)) await new Promise((r) => setTimeout(r, 1));
      }
    });
  } catch (e) {
    // The server may answer 413 and close before the client finishes sending; that is a refusal too.
    assert.match(String((e as Error).message), /EPIPE|ECONNRESET|socket hang up/);
  }
  if (big) {
    assert.equal(big.status, 413, big.body);
    assert.match(big.body, /over the limit/);
  }

  // Still serving, and none of the above was stored.
  const ok = await post(server.url, good);
  assert.equal(ok.status, 201, ok.body);
  assert.equal(await storedCount(server.url), 1);
  assert.equal(server.child.exitCode, null, 'the server process is still running');
});
