// Headers' iteration as WebIDL's pair iterators define it: keys(), values(), entries() (also
// @@iterator, the same function) and forEach(), over the sorted-and-combined header list as it is
// at each step, so a header removed ahead of the iterator is skipped and one appended is reached.
// The iterator objects inherit from a "Headers Iterator" prototype whose parent is
// %IteratorPrototype%, with an enumerable next(), as every WebIDL iterator has.
import {
  SafeTypeError,
  ObjectCreate,
  ObjectDefineProperty,
  ReflectApply,
  IteratorPrototype,
  SymbolIterator,
  SymbolToStringTag,
} from '../internal/primordials';

type Kind = 'key' | 'value' | 'key+value';
type Pairs = (target: object) => [string, string][];

interface IteratorState {
  target: object;
  kind: Kind;
  index: number;
}

/** defines the iteration methods on `Interface.prototype`; returns its entries function */
export function defineIterators(
  Interface: { prototype: object; name: string },
  pairsOf: Pairs,
): { entries: (this: object) => object; patched: () => boolean } {
  const states = new WeakMap<object, IteratorState>();
  const tag = `${Interface.name} Iterator`;
  const iteratorPrototype = ObjectCreate(IteratorPrototype);
  const next = {
    next(this: object) {
      const state = states.get(this);
      if (!state) throw new SafeTypeError(`next() called on an object that is not a ${tag}`);
      const pairs = pairsOf(state.target);
      if (state.index >= pairs.length) return { value: undefined, done: true };
      const [name, value] = pairs[state.index++];
      return { value: state.kind === 'key' ? name : state.kind === 'value' ? value : [name, value], done: false };
    },
  }.next;
  ObjectDefineProperty(iteratorPrototype, 'next', {
    value: next,
    writable: true,
    enumerable: true,
    configurable: true,
  });
  ObjectDefineProperty(iteratorPrototype, SymbolToStringTag, { value: tag, configurable: true });

  const brand = (target: object, method: string) => {
    try {
      pairsOf(target);
    } catch {
      throw new SafeTypeError(
        `${Interface.name}.prototype.${method} called on an object that is not a ${Interface.name}`,
      );
    }
  };
  const iterate = (target: object, kind: Kind, method: string): object => {
    brand(target, method);
    const iterator = ObjectCreate(iteratorPrototype);
    states.set(iterator, { target, kind, index: 0 });
    return iterator;
  };
  const methods = {
    keys(this: object) {
      return iterate(this, 'key', 'keys');
    },
    values(this: object) {
      return iterate(this, 'value', 'values');
    },
    entries(this: object) {
      return iterate(this, 'key+value', 'entries');
    },
    forEach(this: object, callback: (value: string, name: string, target: object) => void, thisArg?: unknown) {
      brand(this, 'forEach');
      if (typeof callback !== 'function') {
        throw new SafeTypeError(
          `Failed to execute 'forEach' on '${Interface.name}': parameter 1 is not of type 'Function'.`,
        );
      }
      for (let i = 0, pairs = pairsOf(this); i < pairs.length; i++, pairs = pairsOf(this)) {
        ReflectApply(callback, thisArg, [pairs[i][1], pairs[i][0], this]);
      }
    },
  };
  const prototype = Interface.prototype;
  for (const name of ['entries', 'forEach', 'keys', 'values'] as const) {
    ObjectDefineProperty(prototype, name, {
      value: methods[name],
      writable: true,
      enumerable: true,
      configurable: true,
    });
  }
  ObjectDefineProperty(prototype, SymbolIterator, { value: methods.entries, writable: true, configurable: true });
  // copying a Headers directly is only right while its iteration is the original one
  const patched = () => iteratorPrototype.next !== next;
  return { entries: methods.entries, patched };
}
