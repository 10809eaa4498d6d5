// Structured clone of values that hold Blobs or Files (their bytes live in private fields, which
// V8's serializer does not see). The value is mirrored with each Blob replaced by a marker object
// under a key no tenant can guess, the mirror goes through the host's serializer like any value,
// and the markers in the copy become new Blobs (one per original Blob, so shared references stay
// shared). Loaded only when a clone of such a value is asked for.
import { Blob, File, blobBytes } from '../fetch/blob';
import { ArrayIsArray, ObjectGetPrototypeOf, ObjectKeys, TypedArrayPrototypeSlice } from '../internal/primordials';

const ObjectPrototype = Object.prototype;

/** containers whose contents the serializer walks and so may hold a Blob */
function isContainer(value: object): boolean {
  if (ArrayIsArray(value) || value instanceof Map || value instanceof Set) return true;
  const proto = ObjectGetPrototypeOf(value);
  return proto === ObjectPrototype || proto === null;
}

export function holdsBlob(value: unknown, seen = new Set<object>()): boolean {
  if (value instanceof Blob) return true;
  if (typeof value !== 'object' || value === null || seen.has(value) || !isContainer(value)) return false;
  seen.add(value);
  if (value instanceof Map) {
    for (const [k, v] of value) if (holdsBlob(k, seen) || holdsBlob(v, seen)) return true;
    return false;
  }
  if (value instanceof Set) {
    for (const v of value) if (holdsBlob(v, seen)) return true;
    return false;
  }
  for (const key of ObjectKeys(value)) if (holdsBlob((value as Record<string, unknown>)[key], seen)) return true;
  return false;
}

export function cloneWithBlobs(value: unknown, serialize: (mirror: unknown) => unknown): unknown {
  const marker = `__islet_blob_${Math.random().toString(36).slice(2)}_${Date.now()}`;
  const blobs: Blob[] = [];
  const mirrors = new Map<object, unknown>();
  const mirror = (v: unknown): unknown => {
    if (v instanceof Blob) {
      let index = blobs.indexOf(v);
      if (index < 0) index = blobs.push(v) - 1;
      return { [marker]: index };
    }
    if (typeof v !== 'object' || v === null || !isContainer(v)) return v;
    const known = mirrors.get(v);
    if (known !== undefined) return known;
    if (v instanceof Map) {
      const out = new Map();
      mirrors.set(v, out);
      for (const [k, val] of v) out.set(mirror(k), mirror(val));
      return out;
    }
    if (v instanceof Set) {
      const out = new Set();
      mirrors.set(v, out);
      for (const val of v) out.add(mirror(val));
      return out;
    }
    const out: Record<string, unknown> = ArrayIsArray(v) ? (new Array(v.length) as never) : {};
    mirrors.set(v, out);
    for (const key of ObjectKeys(v)) out[key] = mirror((v as Record<string, unknown>)[key]);
    return out;
  };
  const copy = serialize(mirror(value));
  const clones = blobs.map(cloneBlob);
  const restored = new Set<object>();
  const restore = (v: unknown): unknown => {
    if (typeof v !== 'object' || v === null) return v;
    const index = (v as Record<string, unknown>)[marker];
    if (typeof index === 'number') return clones[index];
    if (restored.has(v) || !isContainer(v)) return v;
    restored.add(v);
    if (v instanceof Map) {
      const entries = [...v];
      v.clear();
      for (const [k, val] of entries) v.set(restore(k), restore(val));
    } else if (v instanceof Set) {
      const values = [...v];
      v.clear();
      for (const val of values) v.add(restore(val));
    } else
      for (const key of ObjectKeys(v))
        (v as Record<string, unknown>)[key] = restore((v as Record<string, unknown>)[key]);
    return v;
  };
  return restore(copy);
}

function cloneBlob(blob: Blob): Blob {
  const bytes = TypedArrayPrototypeSlice(blobBytes(blob));
  if (blob instanceof File) return new File([bytes], blob.name, { type: blob.type, lastModified: blob.lastModified });
  return new Blob([bytes], { type: blob.type });
}
