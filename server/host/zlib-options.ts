// The node:zlib options a tenant may give (zlib.createGzip({ level }), zlib.brotliCompressSync(buf,
// { params })), checked here before node:zlib sees them: only numeric tuning (level, windowBits,
// memLevel, strategy, brotli params) passes, each an integer in the range node:zlib accepts, so a
// tenant can neither raise the memory a stream holds past what STATE_BYTES charges for nor hand
// node:zlib an object of its choosing. Anything else (dictionary, chunkSize, maxOutputLength,
// info, flush flags) is refused with an error naming the option.
import zlib from 'node:zlib';

const ranges: Record<string, [number, number]> = {
  level: [-1, 9],
  windowBits: [0, 15],
  memLevel: [1, 9],
  strategy: [0, 4],
};

function integer(value: unknown, name: string, [min, max]: [number, number]): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min || value > max) {
    throw new RangeError(`zlib: the option "${name}" must be an integer from ${min} to ${max}, got ${String(value)}`);
  }
  return value;
}

/**
 * brotli parameters a tenant may set, by id, with their ranges: the window stays at most brotli's
 * default (2^22), and BROTLI_PARAM_LARGE_WINDOW is refused, so a stream holds no more than the
 * defaults do
 */
const brotliParams = new Map<string, [number, number]>([
  [String(zlib.constants.BROTLI_PARAM_MODE), [0, 2]],
  [String(zlib.constants.BROTLI_PARAM_QUALITY), [0, 11]],
  [String(zlib.constants.BROTLI_PARAM_LGWIN), [10, 22]],
  [String(zlib.constants.BROTLI_PARAM_LGBLOCK), [0, 24]],
  [String(zlib.constants.BROTLI_PARAM_DISABLE_LITERAL_CONTEXT_MODELING), [0, 1]],
  [String(zlib.constants.BROTLI_PARAM_SIZE_HINT), [0, 2 ** 32 - 1]],
]);

/** the options for node:zlib, checked; throws RangeError/TypeError naming what was wrong */
export function zlibOptions(input: unknown): zlib.ZlibOptions & zlib.BrotliOptions {
  if (input === null || input === undefined) return {};
  if (typeof input !== 'object' || Array.isArray(input)) throw new TypeError('zlib: options must be an object');
  const out: Record<string, unknown> = {};
  for (const [name, value] of Object.entries(input as Record<string, unknown>)) {
    if (value === undefined) continue;
    if (name in ranges) out[name] = integer(value, name, ranges[name]);
    else if (name === 'params') {
      if (typeof value !== 'object' || value === null)
        throw new TypeError('zlib: the option "params" must be an object');
      const params: Record<number, number> = {};
      for (const [id, v] of Object.entries(value as Record<string, unknown>)) {
        const range = brotliParams.get(id);
        if (!range) throw new RangeError(`zlib: the brotli parameter ${id} is unknown or not supported in islet`);
        params[Number(id)] = integer(v, `params[${id}]`, range);
      }
      out.params = params;
    } else throw new TypeError(`zlib: the option "${name}" is not supported in islet`);
  }
  // 0 (read the window size from the header) is for inflate only: node:zlib checks the rest
  return out as zlib.ZlibOptions & zlib.BrotliOptions;
}
