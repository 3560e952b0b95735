// Checking an options object's keys. TypeScript rejects an unknown key in an object literal, but not
// in JavaScript, in an object built elsewhere or in a parsed config: there a misspelt or snake_case
// option ({ strides: 2 }, { count_include_pad: false }, { learning_rate: 0.1 }) would be silently
// ignored and the default used. Every public function and constructor that takes an options object
// checks it here first, before any GPU work.

/**
 * The option names of an options type: `optionKeys<Conv2dOptions>({ stride: 1, padding: 1, … })` only
 * compiles when it lists every key of the type and nothing else, so the list cannot drift from the type.
 */
export function optionKeys<T extends object>(keys: { [K in keyof Required<T>]: 1 }): readonly string[] {
  return Object.keys(keys);
}

/**
 * Throws `<op>: unknown option '<key>'<where>; expected one of …` (with a hint where the key is the
 * snake_case or differently-cased spelling of an option) when `options` has a key outside `allowed`;
 * also when `options` is not a plain object. `undefined` and `null` mean no options. `where` places
 * the options for the message, e.g. ` in parameter group 1`.
 */
export function checkOptions(op: string, options: unknown, allowed: readonly string[], where = ''): void {
  if (options === undefined || options === null) return;
  if (typeof options !== 'object' || Array.isArray(options)) {
    throw new Error(`${op}: options${where} must be an object, got ${Array.isArray(options) ? 'an array' : typeof options}`);
  }
  for (const key of Object.keys(options)) {
    if (allowed.includes(key)) continue;
    const plain = (s: string) => s.replace(/_/g, '').toLowerCase();
    const near = allowed.find((a) => plain(a) === plain(key));
    const hint = near ? ` (did you mean '${near}'?)` : '';
    throw new Error(`${op}: unknown option '${key}'${where}${hint}; expected one of ${allowed.join(', ')}`);
  }
}
