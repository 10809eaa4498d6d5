// node:util/types: util.types of node:util.
import util from './util';

export default util.types;
export const {
  isAnyArrayBuffer, isArrayBuffer, isArrayBufferView, isAsyncFunction, isBigInt64Array, isBigUint64Array,
  isBooleanObject, isBoxedPrimitive, isDataView, isDate, isFloat32Array, isFloat64Array, isGeneratorFunction,
  isGeneratorObject, isInt8Array, isInt16Array, isInt32Array, isMap, isMapIterator, isNativeError, isNumberObject,
  isPromise, isRegExp, isSet, isSetIterator, isSharedArrayBuffer, isStringObject, isSymbolObject, isTypedArray,
  isUint8Array, isUint8ClampedArray, isUint16Array, isUint32Array, isWeakMap, isWeakSet,
} = util.types;
