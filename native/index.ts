// Placeholder: replaced by the isolate API.
import path from 'node:path';
// eslint-disable-next-line @typescript-eslint/no-var-requires
const binding = require(path.join(__dirname, '..', '..', 'native', 'build', 'Release', 'islet.node'));
export const nodeModuleVersion: number = binding.nodeModuleVersion;
