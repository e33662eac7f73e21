/**
 * C0 controls but tab, DEL, C1 controls, and the Unicode marks that reorder or hide text (bidi
 * overrides and isolates, zero-width joiners): what lets a line rewrite what a terminal shows.
 */
// eslint-disable-next-line no-control-regex
const CONTROLS = /[\x00-\x08\x0a-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]/g;

const NAMED: Record<string, string> = { '\r': '\\r', '\n': '\\n' };

/** The line with every control character spelled out (`\x1b`, `\r`, `\u202e`): shown, never obeyed. */
export function neutralizeControls(line: string): string {
  return line.replace(CONTROLS, (character) => {
    const named = NAMED[character];
    if (named) return named;
    const code = character.charCodeAt(0);
    return code <= 0xff
      ? `\\x${code.toString(16).padStart(2, '0')}`
      : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** Whether a stream is shown on a terminal (where control characters act). */
export function isTerminal(stream: NodeJS.WritableStream): boolean {
  return (stream as NodeJS.WritableStream & { isTTY?: boolean }).isTTY === true;
}

/**
 * Our own lines among a skill's, on a terminal: "nanoclaw" in reverse video, which a skill's
 * (neutralised) output cannot draw. Piped, the plain `nanoclaw: ` prefix.
 */
export function markOwnLine(stream: NodeJS.WritableStream, text: string): string {
  return isTerminal(stream) ? `\x1b[7mnanoclaw\x1b[0m ${text}` : `nanoclaw: ${text}`;
}
