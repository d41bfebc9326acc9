/**
 * Text handling shared by the RAG index and memory search: what goes into the FTS5 index and how user
 * text becomes a safe FTS5 MATCH expression.
 *
 * Tokenizer choice (docs/knowledge-and-memory.md "Tokenizer"): FTS5 `unicode61 remove_diacritics 2
 * tokenchars '_'`. `_` as a token character keeps `risk_to_qty` / `ema_cross` whole; camelCase and
 * snake_case identifiers additionally contribute their parts (`szDecimals` → `sz decimals`) to a
 * low-weight `aux` column. unicode61 treats a run of CJK characters as one token, which would make a
 * CJK word inside a sentence unsearchable, so CJK characters are spaced into single-character tokens
 * before indexing and a CJK query becomes a phrase of its characters (consecutive = substring match),
 * the classic unigram approach of Lucene's StandardAnalyzer. Numbers like `0.0001` split at the dot
 * and are queried as a phrase, so they still match exactly.
 */

/** Han, Hiragana, Katakana, Hangul syllables and CJK symbols: characters without word spacing. */
const CJK = /[\p{Script=Han}\p{Script=Hiragana}\p{Script=Katakana}\p{Script=Hangul}\u3000-\u303f]/u;
const CJK_G = new RegExp(CJK.source, "gu");

/** Whether a string contains at least one CJK character. */
export function hasCjk(s: string): boolean {
  return CJK.test(s);
}

/** Puts spaces around every CJK character so unicode61 indexes each as its own token. */
export function spaceCjk(s: string): string {
  return hasCjk(s) ? s.replace(CJK_G, (c) => ` ${c} `) : s;
}

const IDENT = /[A-Za-z0-9]*[a-z0-9][A-Z][A-Za-z0-9_]*|[A-Za-z0-9]+(?:_[A-Za-z0-9]+)+/g;

/** Splits a camelCase / snake_case identifier into lower-case parts: `szDecimals` → `sz decimals`. */
export function identifierParts(id: string): string[] {
  return id
    .replace(/([a-z0-9])([A-Z])/g, "$1 $2")
    .split(/[\s_]+/)
    .map((p) => p.toLowerCase())
    .filter((p) => p.length > 0);
}

/**
 * Parts of every compound identifier occurrence in a text, space-joined (the `aux` column), so
 * `sz decimals` and `stop loss` also find `szDecimals` and `stop_loss`. Occurrences are kept (not
 * de-duplicated) so term frequency, and with it bm25, reflects how often the identifier is used.
 */
export function auxText(s: string): string {
  const out: string[] = [];
  for (const m of s.matchAll(IDENT)) out.push(identifierParts(m[0]).join(" "));
  return out.join(" ");
}

/** English function words dropped from queries (unless the query has nothing else). */
const STOPWORDS = new Set(
  (
    "a an and are as at be but by can do does did for from has have how i if in into is it its me my of on " +
    "or our so than that the their then there these this those to was we what when where which who why " +
    "will with would you your should could about"
  ).split(" "),
);

/** Limits of {@link parseQuery}: longer input is not an error, the tail is just ignored. */
export const MAX_QUERY_TERMS = 24;

/** One query term: the FTS5 phrase it becomes and the raw words used for snippets. */
export interface QueryTerm {
  /** Original text of the term, e.g. `szDecimals`, `0.0001`, `资金费率`. */
  raw: string;
  /** Safe FTS5 expression: a double-quoted phrase, optionally followed by `*` (prefix). */
  fts: string;
  /** Set on the single phrase built from a query made only of stop words. */
  common?: boolean;
}

// A word: letters, digits, `_`; dotted runs such as `0.0001` or `info.l2Book` stay one phrase.
const TERM = /[\p{L}\p{N}_]+(?:\.[\p{L}\p{N}_]+)*\*?/gu;

/**
 * Turns free text into safe query terms. Every term is a double-quoted FTS5 string, so FTS5 syntax in
 * user text (quotes, `NEAR(`, `AND`/`OR`/`NOT`, column filters `col:`, `^`, parentheses, stray `*`)
 * is never interpreted: only letters, digits and `_` survive, and a trailing `*` on a word of ≥ 2
 * characters becomes a prefix query. Stop words are dropped; a query of stop words only becomes one
 * exact phrase (`common: true`). Terms are de-duplicated (case-insensitive) and capped at
 * {@link MAX_QUERY_TERMS}.
 * @returns the terms; empty when the text has no word characters at all.
 */
export function parseQuery(text: string): QueryTerm[] {
  const all: QueryTerm[] = [];
  const seen = new Set<string>();
  for (const m of text.matchAll(TERM)) {
    let word = m[0];
    const prefix = word.endsWith("*");
    if (prefix) word = word.slice(0, -1);
    const key = `${word.toLowerCase()}${prefix ? "*" : ""}`;
    if (word === "" || seen.has(key)) continue;
    seen.add(key);
    const phrase = spaceCjk(word).trim().replace(/\s+/g, " ");
    // No `"` can appear (TERM excludes it), so quoting cannot be broken out of.
    all.push({ raw: word, fts: `"${phrase}"${prefix && word.length >= 2 ? "*" : ""}` });
    if (all.length >= MAX_QUERY_TERMS * 4) break;
  }
  const content = all.filter((t) => !STOPWORDS.has(t.raw.toLowerCase()));
  if (content.length > 0 || all.length === 0) return content.slice(0, MAX_QUERY_TERMS);
  // Only common words: search them as one exact phrase ("to be or not"), marked so the index can
  // bound the work (a lone "the" matches most chunks and ranking them all says nothing).
  const words = all.slice(0, MAX_QUERY_TERMS);
  const phrase = words.map((t) => t.fts.replace(/^"|"\*?$/g, "")).join(" ");
  return [{ raw: words.map((t) => t.raw).join(" "), fts: `"${phrase}"`, common: true }];
}

/** Whether a parsed query is the common-words-only phrase (see parseQuery). */
export function isCommonOnly(terms: readonly QueryTerm[]): boolean {
  return terms.length === 1 && terms[0].common === true;
}

/** `t1 AND t2 ...` (every term) or `t1 OR t2 ...` (any term). */
export function matchExpression(terms: readonly QueryTerm[], mode: "all" | "any"): string {
  return terms.map((t) => t.fts).join(mode === "all" ? " AND " : " OR ");
}

/** Lower-case fragments to look for in raw text when placing a snippet (identifier parts included). */
export function needles(terms: readonly QueryTerm[]): string[] {
  const out = new Set<string>();
  for (const t of terms) {
    const w = t.raw.toLowerCase();
    out.add(w);
    for (const p of identifierParts(t.raw)) if (p.length >= 3) out.add(p);
  }
  return [...out];
}

/** Snippets are at most this many characters (plus ellipses). */
export const SNIPPET_MAX = 280;

/**
 * The line of `lines` with most needle hits (first on ties) and a bounded snippet around it.
 * @param lines the chunk's raw lines; @param firstLine 1-based number of lines[0].
 * @returns `line` (1-based, within the chunk), `snippet` (≤ SNIPPET_MAX chars + "…" markers) and
 *   `hits`, the number of needles found on that line (0 = the words are only in the title/path).
 */
export function makeSnippet(
  lines: readonly string[],
  firstLine: number,
  terms: readonly QueryTerm[],
): { line: number; snippet: string; hits: number } {
  const ns = needles(terms);
  let best = -1;
  let bestHits = 0;
  for (let i = 0; i < lines.length; i++) {
    const l = lines[i].toLowerCase();
    let hits = 0;
    for (const n of ns) if (l.includes(n)) hits++;
    if (hits > bestHits) {
      best = i;
      bestHits = hits;
    }
  }
  if (best < 0) best = lines.findIndex((l) => l.trim() !== "");
  if (best < 0) best = 0;
  // Take the best line and the following ones until the bound, cut around the first hit.
  let text = lines.slice(best).join(" ").replace(/\s+/g, " ").trim();
  let start = 0;
  const lower = text.toLowerCase();
  const hit = ns.map((n) => lower.indexOf(n)).filter((i) => i >= 0);
  if (hit.length > 0) start = Math.max(0, Math.min(...hit) - 60);
  const cut = text.slice(start, start + SNIPPET_MAX);
  text = `${start > 0 ? "…" : ""}${cut}${start + SNIPPET_MAX < text.length ? "…" : ""}`;
  return { line: firstLine + best, snippet: text, hits: bestHits };
}
