// Brand checks util's types module asks four small packages for (is-arguments,
// is-generator-function, which-typed-array, is-typed-array). Those packages build a table of
// every intrinsic when they load, about 3 ms of a cold start for any deployment importing
// node:util; these read the same facts from the engine directly.
'use strict';
const typedArrayTag = Object.getOwnPropertyDescriptor(
  Object.getPrototypeOf(Uint8Array.prototype),
  Symbol.toStringTag,
).get;
const objectToString = Object.prototype.toString;
const generatorPrototypes = [Object.getPrototypeOf(function* () {}), Object.getPrototypeOf(async function* () {})];

/** the typed array's constructor name, or false for anything else (its tag getter is a brand check) */
function whichTypedArray(value) {
  return typedArrayTag.call(value) || false;
}

function isTypedArray(value) {
  return typedArrayTag.call(value) !== undefined;
}

function isArguments(value) {
  if (value === null || typeof value !== 'object' || Symbol.toStringTag in value) return false;
  return objectToString.call(value) === '[object Arguments]';
}

function isGeneratorFunction(value) {
  return typeof value === 'function' && generatorPrototypes.includes(Object.getPrototypeOf(value));
}

module.exports = { whichTypedArray, isTypedArray, isArguments, isGeneratorFunction };
