// node:assert: browserify's `assert` package (Node's assert, AssertionError included).
import assertPackage from 'assert';

const assert = assertPackage as any;
export default assert;
export const {
  AssertionError,
  ok,
  equal,
  notEqual,
  deepEqual,
  notDeepEqual,
  deepStrictEqual,
  notDeepStrictEqual,
  strictEqual,
  notStrictEqual,
  throws,
  rejects,
  doesNotThrow,
  doesNotReject,
  ifError,
  match,
  doesNotMatch,
  fail,
  strict,
} = assert;
