// node:stream: `readable-stream` v4, the Node.js streams code published for other platforms by
// the Node streams working group (Readable, Writable, Duplex, Transform, PassThrough, pipeline,
// finished, compose, promises).
import streamPackage from 'readable-stream';

const stream = streamPackage as any;

export default stream;
export const {
  Readable,
  Writable,
  Duplex,
  Transform,
  PassThrough,
  Stream,
  pipeline,
  finished,
  compose,
  addAbortSignal,
  destroy,
  isDisturbed,
  isErrored,
  isReadable,
  promises,
} = stream;
