// Bytes that cross into an isolate must own their whole ArrayBuffer: copying a view copies its
// entire buffer, and Node's small Buffers are slices of a shared 8 KB pool holding other data.
export function exactBytes(bytes: Uint8Array): Uint8Array {
  if (bytes.byteOffset === 0 && bytes.byteLength === bytes.buffer.byteLength && !Buffer.isBuffer(bytes)) return bytes;
  return new Uint8Array(bytes);
}
