// Tenant secrets encrypted at rest in PostgreSQL: AES-256-GCM with a key from config
// (ISLET_SECRET_KEY), bound to the tenant by the associated data, so a row copied to another
// tenant does not decrypt. The setting is a list `id:base64key,id:base64key`: the first key
// encrypts, every key listed decrypts (rows carry the id of their key). Rotation: put a new key
// first, keep the old one after it, restart the nodes, run `islet store rekey` (re-encrypts every
// tenant's secrets with the first key), then drop the old key.
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto';

export interface SecretKey {
  id: string;
  key: Buffer;
}

const idPattern = /^[A-Za-z0-9_-]{1,32}$/;
const ivBytes = 12;
const tagBytes = 16;

/** Parses `id:base64,id:base64`; throws naming the entry that is wrong (never echoing key bytes). */
export function parseSecretKeys(spec: string): SecretKey[] {
  const keys: SecretKey[] = [];
  const entries = spec
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  entries.forEach((entry, i) => {
    const colon = entry.indexOf(':');
    const id = colon === -1 ? '' : entry.slice(0, colon);
    if (!idPattern.test(id))
      throw new Error(
        `entry ${i + 1}: expected <key id>:<base64 of 32 random bytes>, the id being 1-32 of A-Z a-z 0-9 _ -`,
      );
    const key = Buffer.from(entry.slice(colon + 1), 'base64');
    if (key.length !== 32)
      throw new Error(
        `key '${id}': the key must be 32 bytes in base64 (got ${key.length} bytes); \`islet store keygen\` prints one`,
      );
    if (keys.some((k) => k.id === id)) throw new Error(`key '${id}' is listed twice`);
    keys.push({ id, key });
  });
  if (keys.length === 0) throw new Error('no key given');
  return keys;
}

/** a new key entry for the setting: `<id>:<base64>` */
export function generateSecretKey(id = `k${new Date().toISOString().slice(0, 10).replace(/-/g, '')}`): string {
  return `${id}:${randomBytes(32).toString('base64')}`;
}

const aad = (tenant: string) => Buffer.from(`islet-secrets:${tenant}`);

export function encryptSecrets(
  keys: readonly SecretKey[],
  tenant: string,
  secrets: Record<string, string>,
): { keyId: string; data: Buffer } {
  const current = keys[0];
  if (!current) throw new Error('no secret key is configured (ISLET_SECRET_KEY)');
  const iv = randomBytes(ivBytes);
  const cipher = createCipheriv('aes-256-gcm', current.key, iv);
  cipher.setAAD(aad(tenant));
  const body = Buffer.concat([cipher.update(JSON.stringify(secrets), 'utf8'), cipher.final()]);
  return { keyId: current.id, data: Buffer.concat([iv, cipher.getAuthTag(), body]) };
}

export function decryptSecrets(
  keys: readonly SecretKey[],
  tenant: string,
  keyId: string,
  data: Buffer,
): Record<string, string> {
  const key = keys.find((k) => k.id === keyId);
  if (!key) {
    const known = keys.map((k) => k.id).join(', ') || 'none';
    throw new Error(
      `the secrets of tenant '${tenant}' were encrypted with key '${keyId}', ` +
        `which ISLET_SECRET_KEY does not list (it lists: ${known})`,
    );
  }
  const decipher = createDecipheriv('aes-256-gcm', key.key, data.subarray(0, ivBytes));
  decipher.setAAD(aad(tenant));
  decipher.setAuthTag(data.subarray(ivBytes, ivBytes + tagBytes));
  try {
    const text = Buffer.concat([decipher.update(data.subarray(ivBytes + tagBytes)), decipher.final()]).toString('utf8');
    return JSON.parse(text) as Record<string, string>;
  } catch {
    throw new Error(
      `the secrets of tenant '${tenant}' do not decrypt with key '${keyId}': ` +
        'wrong key material, or the row was altered',
    );
  }
}
