// Finding and parsing a Workers project's config in an upload: wrangler.json, wrangler.jsonc or
// wrangler.toml at the root (in wrangler's order of preference). TOML is read by smol-toml (TOML
// 1.0, errors with line and column) and JSON with comments by jsonc-parser (VS Code's, which
// tolerates trailing commas as wrangler does and reports offsets we turn into line:column).
// What the settings mean is ./config.ts's concern; this file only turns text into an object or
// says, with the file's name and the place, why it cannot.
import { type ParseError, parse as parseJsonc, printParseErrorCode } from 'jsonc-parser';
import { parse as parseToml } from 'smol-toml';
import { DeployError } from '../../errors';

/** the config files wrangler reads, most preferred first */
export const configFiles = ['wrangler.json', 'wrangler.jsonc', 'wrangler.toml'] as const;

export interface FoundConfig {
  file: string;
  raw: Record<string, unknown>;
  /** config files present but not read (another took precedence) */
  ignored: string[];
}

function lineColumn(text: string, offset: number): string {
  const before = text.slice(0, offset);
  const line = before.split('\n').length;
  return `${line}:${offset - before.lastIndexOf('\n')}`;
}

function bad(file: string, message: string): DeployError {
  return new DeployError('ISLET_DEPLOY_BAD_CONFIG', `${file}: ${message}`);
}

export function parseConfig(file: string, text: string): Record<string, unknown> {
  let value: unknown;
  if (file.endsWith('.toml')) {
    try {
      value = parseToml(text);
    } catch (error) {
      // smol-toml's TomlError says what and where (line, column); its message's first line says what
      const e = error as Error & { line?: number; column?: number };
      const where = e.line ? ` at ${e.line}:${e.column ?? 1}` : '';
      throw bad(file, `not valid TOML: ${e.message.split('\n')[0]!.replace(/^Invalid TOML document: /, '')}${where}`);
    }
  } else {
    const errors: ParseError[] = [];
    value = parseJsonc(text, errors, { allowTrailingComma: true, disallowComments: false });
    if (errors.length) {
      const first = errors[0]!;
      throw bad(file, `not valid JSON: ${printParseErrorCode(first.error)} at ${lineColumn(text, first.offset)}`);
    }
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) {
    throw bad(file, 'expected an object (a table of settings) at the top level');
  }
  return value as Record<string, unknown>;
}

/** the upload's wrangler config, parsed; null when it has none */
export function findConfig(files: ReadonlyMap<string, Buffer>): FoundConfig | null {
  const present = configFiles.filter((f) => files.has(f));
  if (present.length === 0) return null;
  const file = present[0]!;
  return { file, raw: parseConfig(file, files.get(file)!.toString('utf8')), ignored: present.slice(1) };
}
