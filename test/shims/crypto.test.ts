import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import crypto from 'node:crypto';
import { makeEvaluator, runThrows } from './helpers';

const e = makeEvaluator();
after(() => e.close());

test('getRandomValues fills integer arrays, refuses floats and more than 65536 bytes', async () => {
  const value = await e.run(`
    const a = crypto.getRandomValues(new Uint8Array(32));
    const b = crypto.getRandomValues(new Uint32Array(4));
    return [a.some((x) => x !== 0), b.length];`);
  assert.deepEqual(value, [true, 4]);
  assert.equal((await runThrows(e, `crypto.getRandomValues(new Float64Array(2))`)).name, 'TypeMismatchError');
  assert.equal((await runThrows(e, `crypto.getRandomValues(new Uint8Array(65537))`)).name, 'QuotaExceededError');
});

test('randomUUID returns v4 UUIDs', async () => {
  const value: string[] = await e.run(`return [crypto.randomUUID(), crypto.randomUUID()];`);
  for (const id of value) assert.match(id, /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  assert.notEqual(value[0], value[1]);
});

test('subtle.digest matches node:crypto', async () => {
  const value = await e.run(`
    const d = await crypto.subtle.digest('SHA-256', new TextEncoder().encode('abc'));
    const d2 = await crypto.subtle.digest({ name: 'SHA-1' }, new Uint8Array([1, 2, 3]));
    const hex = (b) => [...new Uint8Array(b)].map((x) => x.toString(16).padStart(2, '0')).join('');
    return [hex(d), hex(d2), d instanceof ArrayBuffer];`);
  assert.deepEqual(value, [
    crypto.createHash('sha256').update('abc').digest('hex'),
    crypto
      .createHash('sha1')
      .update(Buffer.from([1, 2, 3]))
      .digest('hex'),
    true,
  ]);
});

test('HMAC: importKey raw, sign, verify, exportKey jwk', async () => {
  const value = await e.run(
    `
    const key = await crypto.subtle.importKey('raw', new TextEncoder().encode('secret'), { name: 'HMAC', ` +
      `hash: 'SHA-256' }, true, ['sign', 'verify']);
    const sig = await crypto.subtle.sign('HMAC', key, new TextEncoder().encode('msg'));
    const ok = await crypto.subtle.verify('HMAC', key, sig, new TextEncoder().encode('msg'));
    const bad = await crypto.subtle.verify('HMAC', key, sig, new TextEncoder().encode('other'));
    const jwk = await crypto.subtle.exportKey('jwk', key);
    return [btoa(String.fromCharCode(...new Uint8Array(sig))), ok, bad, jwk.kty, jwk.alg, key.type, ` +
      `key.algorithm.name, key.algorithm.hash.name, key.usages, key instanceof CryptoKey];`,
  );
  assert.deepEqual(value, [
    crypto.createHmac('sha256', 'secret').update('msg').digest('base64'),
    true,
    false,
    'oct',
    'HS256',
    'secret',
    'HMAC',
    'SHA-256',
    ['sign', 'verify'],
    true,
  ]);
});

test('AES-GCM encrypts and decrypts; a wrong tag fails with OperationError', async () => {
  const value = await e.run(
    `
    const key = await crypto.subtle.generateKey({ name: 'AES-GCM', length: 256 }, true, ['encrypt', 'decrypt']);
    const iv = crypto.getRandomValues(new Uint8Array(12));
    const ct = await crypto.subtle.encrypt({ name: 'AES-GCM', iv, additionalData: new Uint8Array([1]) }, key, ` +
      `new TextEncoder().encode('plain'));
    const pt = await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: new Uint8Array([1]) }, key, ct);
    const tampered = new Uint8Array(ct); tampered[0] ^= 1;
    let err; try { await crypto.subtle.decrypt({ name: 'AES-GCM', iv, additionalData: new Uint8Array([1]) }, ` +
      `key, tampered); } catch (x) { err = [x.name, x instanceof DOMException]; }
    const raw = await crypto.subtle.exportKey('raw', key);
    return [new TextDecoder().decode(pt), ct.byteLength, err, raw.byteLength];`,
  );
  assert.deepEqual(value, ['plain', 5 + 16, ['OperationError', true], 32]);
});

test('ECDSA P-256 and Ed25519 sign/verify; jwk import of a public key verifies', async () => {
  const value = await e.run(
    `
    const data = new TextEncoder().encode('data');
    const ec = await crypto.subtle.generateKey({ name: 'ECDSA', namedCurve: 'P-256' }, true, ['sign', 'verify']);
    const sig = await crypto.subtle.sign({ name: 'ECDSA', hash: 'SHA-256' }, ec.privateKey, data);
    const pubJwk = await crypto.subtle.exportKey('jwk', ec.publicKey);
    const imported = await crypto.subtle.importKey('jwk', pubJwk, { name: 'ECDSA', namedCurve: 'P-256' }, ` +
      `true, ['verify']);
    const ecOk = await crypto.subtle.verify({ name: 'ECDSA', hash: 'SHA-256' }, imported, sig, data);
    const ed = await crypto.subtle.generateKey({ name: 'Ed25519' }, true, ['sign', 'verify']);
    const edSig = await crypto.subtle.sign('Ed25519', ed.privateKey, data);
    const edOk = await crypto.subtle.verify('Ed25519', ed.publicKey, edSig, data);
    const edRaw = await crypto.subtle.exportKey('raw', ed.publicKey);
    const edImported = await crypto.subtle.importKey('raw', edRaw, 'Ed25519', false, ['verify']);
    const edOk2 = await crypto.subtle.verify('Ed25519', edImported, edSig, new TextEncoder().encode('tampered'));
    return [ecOk, sig.byteLength, pubJwk.crv, edOk, edSig.byteLength, edOk2, ec.privateKey.type, ` +
      `edImported.extractable];`,
  );
  assert.deepEqual(value, [true, 64, 'P-256', true, 64, false, 'private', false]);
});

test('a non-extractable key cannot be exported', async () => {
  const err = await runThrows(
    e,
    `
    const key = await crypto.subtle.importKey('raw', new Uint8Array(16), 'AES-GCM', false, ['encrypt']);
    await crypto.subtle.exportKey('raw', key);`,
  );
  assert.equal(err.name, 'InvalidAccessError');
});
