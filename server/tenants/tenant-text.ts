// Text a tenant controls and islet writes down: the message and stack of an exception it threw
// (a plain object's `stack` can be anything), the stack of a limit cut. A tenant that threw
// `{ stack: 'Error\n' + '    at f (file:///index.js:2:10)\n'.repeat(4e5) }` made islet write an
// 8.8 MB log line per request and source-map 400,000 frames on the event loop. Both are cut here,
// before source mapping and logging: the message to `maxBytes` bytes of UTF-8, the stack to its
// first `maxFrames` frames and `maxBytes` bytes, with a note saying how much was cut. Cutting
// never reads past what it keeps (no split of an 8.8 MB string into 400,000 lines).

export interface TextBounds {
  /** bytes kept of a message, and of a stack */
  maxBytes: number;
  /** frames kept of a stack */
  maxFrames: number;
}

export const defaultTextBounds: TextBounds = { maxBytes: 16 * 1024, maxFrames: 64 };

/** the longest prefix of `text` of at most `maxBytes` bytes of UTF-8, without a split surrogate pair */
function utf8Prefix(text: string, maxBytes: number): string {
  // a UTF-16 unit takes 1 to 3 bytes: `maxBytes` units may be too many bytes, `maxBytes / 3` never are
  let end = Math.min(text.length, maxBytes);
  while (end > 0 && Buffer.byteLength(text.slice(0, end)) > maxBytes) {
    end = Math.max(Math.floor(maxBytes / 3), end - Math.ceil((end - maxBytes / 3) / 2));
    if (end <= maxBytes / 3) {
      end = Math.floor(maxBytes / 3);
      break;
    }
  }
  const code = text.charCodeAt(end - 1);
  if (code >= 0xd800 && code <= 0xdbff) end--; // never half of a surrogate pair
  return text.slice(0, end);
}

/** `message` cut to `maxBytes` bytes of UTF-8, with a note of what was cut */
export function boundMessage(message: string, maxBytes = defaultTextBounds.maxBytes): string {
  // a UTF-16 unit is at least one byte: only a message of at most `maxBytes` units may fit, and
  // only then are its bytes counted (never a scan of a string of megabytes)
  if (message.length <= maxBytes / 3) return message;
  if (message.length <= maxBytes && Buffer.byteLength(message) <= maxBytes) return message;
  const kept = utf8Prefix(message, maxBytes);
  return `${kept}... [${message.length - kept.length} more characters cut]`;
}

/**
 * `stack` cut to its first `maxFrames` frames (lines starting with `at `; the lines before the
 * first frame are the message, which counts in bytes only) and to `maxBytes` bytes, with a note
 * of what was cut.
 */
export function boundStack(stack: string, bounds: TextBounds = defaultTextBounds): string {
  const { maxBytes, maxFrames } = bounds;
  let frames = 0;
  let end = 0;
  let cutAtFrames = false;
  for (;;) {
    const newline = stack.indexOf('\n', end);
    const lineEnd = newline === -1 ? stack.length : newline;
    if (/^\s*at /.test(stack.slice(end, Math.min(lineEnd, end + 64)))) {
      if (frames === maxFrames) {
        cutAtFrames = true;
        break;
      }
      frames++;
    }
    if (lineEnd >= maxBytes || newline === -1) {
      end = lineEnd;
      break;
    }
    end = newline + 1;
  }
  let kept = end >= stack.length ? stack : stack.slice(0, end).replace(/\n$/, '');
  if (kept.length > maxBytes / 3 && Buffer.byteLength(kept) > maxBytes) kept = utf8Prefix(kept, maxBytes);
  if (kept.length >= stack.length) return stack;
  const what = cutAtFrames ? `frames after the first ${maxFrames}` : `past ${maxBytes} bytes`;
  return `${kept}\n    ... [${stack.length - kept.length} more characters of stack cut: ${what}]`;
}
