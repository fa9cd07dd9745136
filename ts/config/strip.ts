// `wg-quick strip`: the lines of a config that wg(8) reads, byte for byte as wg-quick prints them.
// This mirrors wg-quick's read loop rather than the parser, because strip must print even lines the parser
// would reject, exactly as wg-quick passes them to `wg setconf`:
// - each line is read by bash `read -r`: NUL bytes dropped, leading/trailing spaces and tabs removed, and a
//   last line without a newline still read;
// - a line is dropped when it is in an [Interface] section and its key (text before `#` and `=`, trimmed of
//   [[:space:]]) is a wg-quick key, case-insensitively;
// - every other line is kept whole, comments included; the output ends with an extra newline (`echo`).
import { ConfigError, WG_QUICK_KEYS } from './wgquick';

/** Characters bash's [[:space:]] matches in the C locale. */
const CSPACE = /^[ \t\n\v\f\r]+|[ \t\n\v\f\r]+$/g;

/** The records `while read -r line || [[ -n $line ]]` yields, with bash's default IFS trimming. */
export function bashReadLines(text: string): string[] {
  const records = text
    .replace(/\0/g, '')
    .split('\n')
    .map((r) => r.replace(/^[ \t]+|[ \t]+$/g, ''));
  // The text after the last newline is read (read fails at EOF) but only kept by `|| [[ -n $line ]]`, i.e.
  // when something is left of it after trimming.
  if (records[records.length - 1] === '') records.pop();
  return records;
}

const QUICK = new Set(WG_QUICK_KEYS.map((k) => k.toLowerCase()));

/**
 * What `wg-quick strip` prints for this file text. Throws ConfigError where wg-quick dies while reading
 * (a SaveConfig that is neither true nor false). `file` is only used to name the file in that error.
 */
export function stripConfig(text: string, file?: string): string {
  let inInterface = false;
  let out = '';
  bashReadLines(text).forEach((line, i) => {
    const stripped = line.split('#')[0];
    const eq = stripped.indexOf('=');
    const key = (eq < 0 ? stripped : stripped.slice(0, eq)).replace(CSPACE, '').toLowerCase();
    if (key.startsWith('[')) inInterface = key === '[interface]';
    if (inInterface && QUICK.has(key)) {
      if (key === 'saveconfig') checkBool(stripped.slice(eq + 1).replace(CSPACE, ''), file, i + 1);
      return;
    }
    out += line + '\n';
  });
  return out + '\n';
}

function checkBool(value: string, file: string | undefined, line: number): void {
  if (!/^(true|false)$/i.test(value)) {
    throw new ConfigError(`SaveConfig on line ${line} must be true or false, got "${value}"`, {
      file,
      line,
      key: 'SaveConfig',
    });
  }
}
