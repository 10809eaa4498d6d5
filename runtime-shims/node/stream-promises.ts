// node:stream/promises
import stream from './stream';

const promises = stream.promises;
export default promises;
export const { pipeline, finished } = promises;
