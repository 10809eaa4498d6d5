// Bytes that cross into an isolate must own their whole ArrayBuffer: copying a view copies its
// entire buffer, and Node's small Buffers are slices of a shared 8 KB pool holding other data.
export function exactBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !Buffer.isBuffer(bytes)) return bytes;
  return new Uint8Array(bytes);
}

/**
 * Bodies up to this size, announced by Content-Length, cross into an isolate whole (an upload
 * read by the front, a fetch() response read by the host): one entry instead of one per chunk.
 */
export const SMALL_BODY_BYTES = 64 * 1024;

/** a Content-Length header value as a number when it is well formed and at most `max`, else null */
export function smallContentLength(value: string | undefined, max = SMALL_BODY_BYTES): number | null {
  if (value === undefined || !/^\d{1,10}$/.test(value)) return null;
  const length = Number(value);
  return length <= max ? length : null;
}
