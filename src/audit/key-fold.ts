/**
 * A key name as a person reads it, for the secret-key rules of redact.ts: `pаssword` with a
 * Cyrillic `а`, `ｐａｓｓｗｏｒｄ`, `pass\u200Bword`, `pass_word` and `Pass-Word` all read as
 * "password", and a rule that matches only the ASCII spelling let their values through.
 *
 * Folding: NFKC (full-width and other compatibility forms), invisible characters dropped
 * (Default_Ignorable_Code_Point: zero-width space and joiners, soft hyphen, BOM…), letters of
 * other scripts that look like Latin ones mapped to them (the table below: no normalization
 * does this, and Unicode's full confusables list is a 600 kB data file for a dozen words),
 * lower case, and the separators `_ - . space` dropped.
 */

const IGNORABLE = /\p{Default_Ignorable_Code_Point}/gu;
const SEPARATORS = /[\s_.\-]+/g;

/**
 * Cyrillic and Greek letters that are drawn like a Latin letter in common fonts (from Unicode's
 * confusables.txt, the single-letter entries of these two scripts). Enough to spell every word
 * of the secret-key rules; a word spelled from other scripts reads as foreign to a person too.
 */
const LOOK_ALIKES: Record<string, string> = {
  // Cyrillic
  а: 'a', в: 'b', с: 'c', ԁ: 'd', е: 'e', ё: 'e', һ: 'h', н: 'h', і: 'i', ї: 'i', ј: 'j', к: 'k', ӏ: 'l', м: 'm', п: 'n', о: 'o',
  р: 'p', ԛ: 'q', ѕ: 's', т: 't', у: 'y', ԝ: 'w', х: 'x',
  А: 'a', В: 'b', С: 'c', Е: 'e', Н: 'h', І: 'i', Ј: 'j', К: 'k', М: 'm', О: 'o', Р: 'p', Ѕ: 's', Т: 't', Х: 'x', У: 'y', Ԁ: 'd', Ԛ: 'q', Ԝ: 'w',
  // Greek
  α: 'a', β: 'b', ε: 'e', η: 'n', ι: 'i', κ: 'k', ν: 'v', ο: 'o', ρ: 'p', τ: 't', υ: 'u', χ: 'x', γ: 'y', ω: 'w',
  Α: 'a', Β: 'b', Ε: 'e', Ζ: 'z', Η: 'h', Ι: 'i', Κ: 'k', Μ: 'm', Ν: 'n', Ο: 'o', Ρ: 'p', Τ: 't', Υ: 'y', Χ: 'x',
  // Latin letters outside ASCII that NFKC keeps: dotless i, script a, small capitals.
  ı: 'i', ɑ: 'a', ɡ: 'g', ᴀ: 'a', ʙ: 'b', ᴄ: 'c', ᴅ: 'd', ᴇ: 'e', ɢ: 'g', ʜ: 'h', ɪ: 'i', ᴊ: 'j', ᴋ: 'k', ʟ: 'l', ᴍ: 'm', ɴ: 'n', ᴏ: 'o', ᴘ: 'p', ʀ: 'r', ꜱ: 's', ᴛ: 't', ᴜ: 'u', ᴠ: 'v', ᴡ: 'w', ʏ: 'y', ᴢ: 'z',
};
const LOOK_ALIKE = new RegExp(`[${Object.keys(LOOK_ALIKES).join('')}]`, 'gu');
const NON_ASCII = /[^\x00-\x7f]/;

/**
 * The key as a person reads it.
 *
 * @example
 *   foldKey('Pass-Wоrd') // 'password' (with a Cyrillic о)
 */
export function foldKey(key: string): string {
  let k = key;
  if (NON_ASCII.test(k)) k = k.normalize('NFKC').replace(IGNORABLE, '').replace(LOOK_ALIKE, (c) => LOOK_ALIKES[c]!);
  return k.toLowerCase().replace(SEPARATORS, '');
}
