// sign: issues and checks signed tokens with crypto.subtle (HMAC-SHA-256), the building block of
// session cookies and signed links. A token is `<payload>.<signature>`, both base64url.
//
//   GET  /                                      -> what this function offers
//   POST /sign     {"sub": "ada", "ttl": 3600}  -> {"token": "...", "exp": 1700000000}
//   GET  /verify?token=...                      -> 200 {"valid": true, "claims": {...}}
//                                                  or 401 {"valid": false, "reason": "..."}
//
// The key comes from the tenant secret SIGNING_KEY (`PUT /v1/tenants/sign/env` with
// {"secrets": {"SIGNING_KEY": "..."}}); without one a fixed development key is used and every
// response says so in an `x-dev-key` header. Verification uses crypto.subtle.verify, which
// compares in constant time.

interface Env {
  SIGNING_KEY?: string;
}

const DEV_KEY = 'islet-development-key-do-not-use-in-production';
const encoder = new TextEncoder();
const decoder = new TextDecoder();

function toBase64Url(bytes: Uint8Array): string {
  let binary = '';
  for (const b of bytes) binary += String.fromCharCode(b);
  return btoa(binary).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
}

function fromBase64Url(text: string): Uint8Array {
  if (!/^[A-Za-z0-9_-]*$/.test(text)) throw new Error('not base64url');
  const binary = atob(text.replace(/-/g, '+').replace(/_/g, '/') + '='.repeat((4 - (text.length % 4)) % 4));
  return Uint8Array.from(binary, (ch) => ch.charCodeAt(0));
}

// Importing a key costs a crossing to the host: keep it per isolate, keyed by the secret.
let cached: { secret: string; key: Promise<CryptoKey> } | undefined;
function hmacKey(secret: string): Promise<CryptoKey> {
  if (cached?.secret !== secret) {
    cached = {
      secret,
      key: crypto.subtle.importKey('raw', encoder.encode(secret), { name: 'HMAC', hash: 'SHA-256' }, false, [
        'sign',
        'verify',
      ]),
    };
  }
  return cached.key;
}

function json(body: unknown, status: number, devKey: boolean): Response {
  const headers: Record<string, string> = { 'content-type': 'application/json' };
  if (devKey) headers['x-dev-key'] = 'SIGNING_KEY is not set: tokens are signed with a public development key';
  return new Response(JSON.stringify(body), { status, headers });
}

async function sign(request: Request, key: CryptoKey, devKey: boolean): Promise<Response> {
  let input: { sub?: unknown; ttl?: unknown };
  try {
    input = (await request.json()) as typeof input;
  } catch {
    return json(
      { error: { code: 'BAD_JSON', message: 'the body must be JSON like {"sub": "ada", "ttl": 3600}' } },
      400,
      devKey,
    );
  }
  if (typeof input?.sub !== 'string' || input.sub.length === 0) {
    return json({ error: { code: 'BAD_CLAIMS', message: '"sub" must be a non-empty string' } }, 400, devKey);
  }
  const ttl = typeof input.ttl === 'number' && input.ttl > 0 && input.ttl <= 86400 ? Math.floor(input.ttl) : 3600;
  const claims = { sub: input.sub, exp: Math.floor(Date.now() / 1000) + ttl };
  const payload = toBase64Url(encoder.encode(JSON.stringify(claims)));
  const signature = new Uint8Array(await crypto.subtle.sign('HMAC', key, encoder.encode(payload)));
  return json({ token: `${payload}.${toBase64Url(signature)}`, exp: claims.exp }, 200, devKey);
}

async function verify(url: URL, key: CryptoKey, devKey: boolean): Promise<Response> {
  const token = url.searchParams.get('token') ?? '';
  const [payload, signature, extra] = token.split('.');
  if (!payload || !signature || extra !== undefined)
    return json({ valid: false, reason: 'malformed token' }, 401, devKey);
  let sigBytes: Uint8Array;
  try {
    sigBytes = fromBase64Url(signature);
  } catch {
    return json({ valid: false, reason: 'malformed signature' }, 401, devKey);
  }
  const ok = await crypto.subtle.verify('HMAC', key, sigBytes, encoder.encode(payload));
  if (!ok) return json({ valid: false, reason: 'bad signature' }, 401, devKey);
  const claims = JSON.parse(decoder.decode(fromBase64Url(payload))) as { sub: string; exp: number };
  if (claims.exp < Date.now() / 1000) return json({ valid: false, reason: 'expired', claims }, 401, devKey);
  return json({ valid: true, claims }, 200, devKey);
}

export default {
  async fetch(request: Request, env: Env): Promise<Response> {
    const devKey = !env.SIGNING_KEY;
    const key = await hmacKey(env.SIGNING_KEY || DEV_KEY);
    const url = new URL(request.url);
    if (url.pathname === '/sign' && request.method === 'POST') return sign(request, key, devKey);
    if (url.pathname === '/verify' && request.method === 'GET') return verify(url, key, devKey);
    if (url.pathname === '/' && request.method === 'GET') {
      return json(
        { name: 'sign', routes: ['POST /sign {"sub": "...", "ttl": seconds}', 'GET /verify?token=...'] },
        200,
        devKey,
      );
    }
    return json({ error: { code: 'NO_ROUTE', message: 'use POST /sign or GET /verify?token=...' } }, 404, devKey);
  },
};
