// structuredClone: the host's copy of the argument and of the result is V8's own serializer, the
// real structured clone algorithm with its DataCloneError cases. Shared by the global and by
// MessagePort.postMessage. Blob and File are serializable too (clone-blobs.ts, loaded once the
// isolate has made a Blob); `transfer` detaches the ArrayBuffers it lists once the clone is made
// (the clone holds a copy of their bytes, which is what a move would have given).
import { host } from '../internal/bridge';
import { DOMException } from '../events/dom-exception';
import { SafeTypeError, SafeArrayBuffer, SymbolIterator, append } from '../internal/primordials';
import { blobsMade } from '../fetch/blob';

declare const require: (id: string) => any;

function dataCloneError(message: string): DOMException {
  return new DOMException(`Failed to execute 'structuredClone': ${message}`, 'DataCloneError');
}

/** StructuredSerializeOptions.transfer as WebIDL converts it (sequence<object>) */
function transferList(options: unknown): ArrayBuffer[] {
  if (options === undefined || options === null) return [];
  if (typeof options !== 'object' && typeof options !== 'function') {
    throw new SafeTypeError("Failed to execute 'structuredClone': options is not an object");
  }
  const transfer = (options as { transfer?: unknown }).transfer;
  if (transfer === undefined) return [];
  const iterator = typeof transfer === 'object' && transfer !== null ? (transfer as any)[SymbolIterator] : undefined;
  if (typeof iterator !== 'function')
    throw new SafeTypeError("Failed to execute 'structuredClone': transfer is not a sequence");
  const list: ArrayBuffer[] = [];
  for (const item of { [SymbolIterator]: () => iterator.call(transfer) } as unknown as Iterable<unknown>) {
    if (typeof item !== 'object' || item === null) {
      throw new SafeTypeError("Failed to execute 'structuredClone': transfer holds a value that is not an object");
    }
    // the HTML Standard's checks, all before anything is serialized or detached
    if (!(item instanceof SafeArrayBuffer)) throw dataCloneError('only ArrayBuffers can be transferred here');
    if (list.includes(item)) throw dataCloneError('an ArrayBuffer is listed twice in transfer');
    if (isDetached(item)) throw dataCloneError('an ArrayBuffer in transfer is already detached');
    append(list, item);
  }
  return list;
}

function isDetached(buffer: ArrayBuffer): boolean {
  const detached = (buffer as { detached?: unknown }).detached;
  return typeof detached === 'boolean' ? detached : false;
}

/** moves the buffer's memory out of reach (ES2024 ArrayBuffer.prototype.transfer) */
function detach(buffer: ArrayBuffer): void {
  const transfer = (buffer as { transfer?: () => ArrayBuffer }).transfer;
  if (typeof transfer === 'function') transfer.call(buffer);
}

export function structuredClone(value: unknown, options?: { transfer?: unknown[] }): unknown {
  if (arguments.length === 0)
    throw new SafeTypeError("Failed to execute 'structuredClone': 1 argument required, but only 0 present.");
  const transfer = transferList(options);

  // V8's serializer would copy a Blob as an empty object (its bytes are private fields): a value
  // that holds one takes the Blob-aware path, looked for only once the isolate has made a Blob
  const blobs = blobsMade() ? require('./clone-blobs') : null;
  const serialize = (v: unknown) => {
    try {
      return host('clone', v);
    } catch (error) {
      throw dataCloneError((error as Error)?.message ?? 'the value could not be cloned');
    }
  };
  const copy = blobs?.holdsBlob(value) ? blobs.cloneWithBlobs(value, serialize) : serialize(value);
  for (const buffer of transfer) detach(buffer);
  return copy;
}
