// node:stream: `readable-stream` v4, the Node.js streams code published for other platforms by
// the Node streams working group (Readable, Writable, Duplex, Transform, PassThrough, pipeline,
// finished, compose, promises).
import streamPackage from 'readable-stream';
import { readableFromWeb, readableToWeb, writableFromWeb, writableToWeb } from './stream-web-adapters';

const stream = streamPackage as any;
stream.Readable.fromWeb = (web: ReadableStream, options?: Record<string, unknown>) =>
  readableFromWeb(stream.Readable, web, options);
stream.Readable.toWeb = readableToWeb;
stream.Writable.fromWeb = (web: WritableStream, options?: Record<string, unknown>) =>
  writableFromWeb(stream.Writable, web, options);
stream.Writable.toWeb = writableToWeb;

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
