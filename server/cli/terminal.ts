// Tenant text on an operator's terminal. Whatever a tenant logs (console output, exception
// messages, stacks, request paths) reaches `islet logs`, `islet tail` and `islet dev` as it was
// written, and a terminal obeys control characters: ESC sequences clear the screen, move the
// cursor or set the window title (OSC), BEL rings, CR and backspace overwrite what is already on
// the line, and bidirectional overrides reorder what a reader sees. Every printer passes tenant
// text through escapeTerminal() first, so tenant output is shown, never obeyed. Newlines inside one
// record are kept (multi-line console output and stacks are normal) but every continuation line
// is indented by the printers, so a tenant cannot forge a line that looks like a record of its own.

/**
 * C0 controls but TAB and LF, DEL, C1 controls (U+0080-U+009F: a terminal may read U+009B as
 * CSI), line/paragraph separators, and the Unicode bidirectional embeddings, overrides and
 * isolates (the "Trojan Source" characters).
 */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this regex's purpose
const UNSAFE = /[\x00-\x08\x0b-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069]/g;

const NAMED: Record<string, string> = {
  '\r': '\\r',
  '\x1b': '\\e',
  '\b': '\\b',
  '\x07': '\\a',
  '\f': '\\f',
  '\v': '\\v',
};

function visible(char: string): string {
  const named = NAMED[char];
  if (named) return named;
  const code = char.charCodeAt(0);
  return code <= 0xff ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
}

/** `text` with every character a terminal would act on written out visibly (`\e`, `\r`, `\x9b`...). */
export function escapeTerminal(text: string): string {
  return text.replace(UNSAFE, visible);
}

/**
 * A record's text for the terminal: escaped, and every line after the first prefixed with
 * `indent`, so nothing a tenant writes can start a line of its own.
 */
export function safeLines(text: string, indent = '    '): string {
  return escapeTerminal(text).replace(/\n/g, `\n${indent}`);
}
