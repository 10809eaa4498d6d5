// DOMException (WebIDL): an Error with a name and a legacy numeric code.
import { SafeError, ObjectDefineProperty } from '../internal/primordials';

const legacyCodes: Record<string, number> = {
  IndexSizeError: 1,
  HierarchyRequestError: 3,
  WrongDocumentError: 4,
  InvalidCharacterError: 5,
  NoModificationAllowedError: 7,
  NotFoundError: 8,
  NotSupportedError: 9,
  InvalidStateError: 11,
  SyntaxError: 12,
  InvalidModificationError: 13,
  NamespaceError: 14,
  InvalidAccessError: 15,
  TypeMismatchError: 17,
  SecurityError: 18,
  NetworkError: 19,
  AbortError: 20,
  URLMismatchError: 21,
  QuotaExceededError: 22,
  TimeoutError: 23,
  InvalidNodeTypeError: 24,
  DataCloneError: 25,
};

export class DOMException extends SafeError {
  #name: string;
  #code: number;
  constructor(message = '', name = 'Error') {
    super(String(message));
    this.#name = String(name);
    this.#code = legacyCodes[this.#name] ?? 0;
  }
  override get name(): string {
    return this.#name;
  }
  get code(): number {
    return this.#code;
  }
}
ObjectDefineProperty(DOMException.prototype, Symbol.toStringTag, { value: 'DOMException', configurable: true });
for (const [name, code] of Object.entries(legacyCodes)) {
  const constant = name
    .replace(/([a-z])([A-Z])/g, '$1_$2')
    .toUpperCase()
    .replace(/_ERROR$/, '_ERR');
  ObjectDefineProperty(DOMException, constant, { value: code, enumerable: true });
  ObjectDefineProperty(DOMException.prototype, constant, { value: code, enumerable: true });
}
