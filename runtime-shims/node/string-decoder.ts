// node:string_decoder: the `string_decoder` package, Node's own decoder published standalone.
import decoderPackage from 'string_decoder';

export const StringDecoder = (decoderPackage as any).StringDecoder;
export default { StringDecoder };
