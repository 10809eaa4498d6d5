// Turns console arguments into one line of text, in the spirit of Node's util.format: printf
// style substitutions, then the remaining values inspected (bounded depth and length, so a
// huge or cyclic object cannot blow up the log or the CPU budget).
import {
  NumberIsNaN,
  ObjectKeys,
  ArrayIsArray,
  ObjectPrototypeToString,
  JSONStringify,
  StringPrototypeSlice,
  ObjectGetPrototypeOf,
} from '../internal/primordials';

const MAX_ITEMS = 50;
const MAX_STRING = 10000;

export function inspect(value: unknown, depth = 2, seen: unknown[] = []): string {
  switch (typeof value) {
    case 'string':
      return seen.length
        ? JSONStringify(value.length > MAX_STRING ? StringPrototypeSlice(value, 0, MAX_STRING) + '…' : value)
        : value;
    case 'number':
      return Object.is(value, -0) ? '-0' : String(value);
    case 'bigint':
      return `${value}n`;
    case 'undefined':
      return 'undefined';
    case 'boolean':
    case 'symbol':
      return String(value);
    case 'function':
      return `[Function: ${(value as Function).name || '(anonymous)'}]`;
  }
  if (value === null) return 'null';
  const object = value as Record<string, unknown>;
  if (seen.indexOf(object) >= 0) return '[Circular]';
  try {
    if (object instanceof Error) return object.stack ?? `${object.name}: ${object.message}`;
    if (object instanceof Date) {
      const time = object.getTime();
      return NumberIsNaN(time) ? 'Invalid Date' : object.toISOString();
    }
    if (object instanceof RegExp) return String(object);
    if (depth < 0) return ArrayIsArray(object) ? '[Array]' : '[Object]';
    const next = [...seen, object];
    if (ArrayIsArray(object)) {
      const items: string[] = [];
      for (let i = 0; i < object.length && i < MAX_ITEMS; i++)
        items[items.length] = inspect(object[i], depth - 1, next);
      if (object.length > MAX_ITEMS) items[items.length] = `... ${object.length - MAX_ITEMS} more items`;
      return `[ ${items.join(', ')} ]`;
    }
    if (object instanceof Map) {
      const items: string[] = [];
      for (const [k, v] of object) {
        if (items.length >= MAX_ITEMS) break;
        items[items.length] = `${inspect(k, depth - 1, next)} => ${inspect(v, depth - 1, next)}`;
      }
      return `Map(${object.size}) { ${items.join(', ')} }`;
    }
    if (object instanceof Set) {
      const items: string[] = [];
      for (const v of object) {
        if (items.length >= MAX_ITEMS) break;
        items[items.length] = inspect(v, depth - 1, next);
      }
      return `Set(${object.size}) { ${items.join(', ')} }`;
    }
    if (ArrayBuffer.isView(object))
      return `${ObjectPrototypeToString(object).slice(8, -1)}(${(object as any).length ?? (object as any).byteLength})`;
    const proto = ObjectGetPrototypeOf(object);
    const tag =
      proto && proto !== Object.prototype && proto.constructor && typeof proto.constructor.name === 'string'
        ? proto.constructor.name + ' '
        : '';
    const keys = ObjectKeys(object);
    const items: string[] = [];
    for (let i = 0; i < keys.length && i < MAX_ITEMS; i++) {
      const key = keys[i];
      const name = /^[A-Za-z_$][\w$]*$/.test(key) ? key : JSONStringify(key);
      items[items.length] = `${name}: ${inspect(object[key], depth - 1, next)}`;
    }
    if (keys.length > MAX_ITEMS) items[items.length] = `... ${keys.length - MAX_ITEMS} more properties`;
    return items.length ? `${tag}{ ${items.join(', ')} }` : `${tag}{}`;
  } catch {
    return '[object]';
  }
}

export function format(args: unknown[]): string {
  if (args.length === 0) return '';
  let out = '';
  let rest = 0;
  const first = args[0];
  if (typeof first === 'string' && first.indexOf('%') >= 0) {
    let index = 1;
    rest = 1;
    for (let i = 0; i < first.length; i++) {
      const c = first[i];
      if (c !== '%' || i + 1 >= first.length) {
        out += c;
        continue;
      }
      const spec = first[i + 1];
      if (spec === '%') {
        out += '%';
        i++;
        continue;
      }
      if (index >= args.length || 'sdifjoOc'.indexOf(spec) < 0) {
        out += c;
        continue;
      }
      const arg = args[index++];
      i++;
      if (spec === 's') out += typeof arg === 'string' ? arg : inspect(arg, 1);
      else if (spec === 'd' || spec === 'i')
        // %i parses as Node's util.format does: no radix, so '0x10' is 16
        // biome-ignore lint/correctness/useParseIntRadix: the radix is the string's own, on purpose
        out += typeof arg === 'bigint' ? `${arg}n` : String(spec === 'i' ? parseInt(String(arg)) : Number(arg));
      else if (spec === 'f') out += String(parseFloat(String(arg)));
      else if (spec === 'j') {
        try {
          out += JSONStringify(arg);
        } catch {
          out += '[Circular]';
        }
      } else if (spec === 'o' || spec === 'O') out += inspect(arg, 4, [undefined]);
      // %c (CSS) consumes its argument and prints nothing
    }
    rest = index;
  } else {
    out = inspect(first);
    rest = 1;
  }
  for (let i = rest; i < args.length; i++) out += ' ' + inspect(args[i]);
  return out;
}
