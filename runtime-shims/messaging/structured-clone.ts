// structuredClone: the host's copy of the argument and of the result is V8's own serializer, the
// real structured clone algorithm with its DataCloneError cases. Shared by the global and by
// MessagePort.postMessage.
import { host } from '../internal/bridge';
import { DOMException } from '../events/dom-exception';
import { SafeTypeError } from '../internal/primordials';

export function structuredClone(value: unknown, options?: { transfer?: unknown[] }): unknown {
  if (arguments.length === 0)
    throw new SafeTypeError("Failed to execute 'structuredClone': 1 argument required, but only 0 present.");
  void options;
  try {
    return host('clone', value);
  } catch (error) {
    throw new DOMException(
      `Failed to execute 'structuredClone': ${(error as Error)?.message ?? 'the value could not be cloned'}`,
      'DataCloneError',
    );
  }
}
