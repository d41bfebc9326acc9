/**
 * Splits a markdown or text document into chunks for the RAG index: one chunk per heading section,
 * split further when a section exceeds the size bound, with overlapping windows so a sentence cut
 * at a boundary is still found whole in one of the two chunks. Every chunk keeps its 1-based,
 * inclusive line range, which is the citation returned by rag_search.
 */

/** One chunk of a document. */
export interface Chunk {
  /** Heading path, outermost first, joined by " > " (e.g. `Risk limits > Per-order checks`); "" before the first heading. */
  heading: string;
  /** First line, 1-based. */
  lineStart: number;
  /** Last line, 1-based, inclusive. */
  lineEnd: number;
  /** The raw text of those lines (for an over-long single line: one piece of it). */
  text: string;
}

/** Size bounds of {@link chunkDocument}, in characters. */
export interface ChunkOptions {
  /** Upper bound of a chunk's text length. Default 1200. */
  maxChars: number;
  /** Minimum characters repeated from the end of one window at the start of the next. Default 200. */
  overlapChars: number;
}

export const DEFAULT_CHUNK_OPTIONS: ChunkOptions = { maxChars: 1200, overlapChars: 200 };

const ATX = /^ {0,3}(#{1,6})[ \t]+(.*?)(?:[ \t]+#+)?[ \t]*$/;
const FENCE = /^ {0,3}(`{3,}|~{3,})/;

/** Heading text without markdown markup: `**risk\\_to\\_qty**` → `risk_to_qty`, `[a](b)` → `a`. */
export function cleanHeading(s: string): string {
  return s
    .replace(/!?\[([^\]]*)\]\([^)]*\)/g, "$1")
    .replace(/\\([\\`*_{}[\]()#+\-.!<>])/g, "$1")
    .replace(/(\*\*|`|<\/?[a-z][^>]*>)/gi, "")
    .trim();
}

interface Section {
  heading: string;
  start: number; // 0-based line index, inclusive
  end: number; // 0-based line index, exclusive
}

/** Heading sections of markdown lines (ATX and `===` setext headings; fenced code is never a heading). */
function sections(lines: readonly string[], markdown: boolean): Section[] {
  const out: Section[] = [];
  const stack: string[] = [];
  let cur: Section = { heading: "", start: 0, end: lines.length };
  let fence: string | null = null;
  const open = (level: number, title: string, at: number) => {
    cur.end = at;
    out.push(cur);
    stack.length = Math.min(stack.length, level - 1);
    while (stack.length < level - 1) stack.push("");
    stack.push(cleanHeading(title));
    cur = { heading: stack.filter((s) => s !== "").join(" > "), start: at, end: lines.length };
  };
  for (let i = 0; markdown && i < lines.length; i++) {
    const line = lines[i];
    const f = FENCE.exec(line);
    if (f) {
      if (fence === null) fence = f[1][0];
      else if (f[1][0] === fence) fence = null;
      continue;
    }
    if (fence !== null) continue;
    const atx = ATX.exec(line);
    if (atx) open(atx[1].length, atx[2], i);
    else if (/^ {0,3}=+[ \t]*$/.test(line) && i > cur.start && lines[i - 1].trim() !== "") {
      open(1, lines[i - 1], i - 1);
    }
  }
  cur.end = lines.length;
  out.push(cur);
  return out.filter((s) => s.end > s.start);
}

/** Whether a section has content besides its heading line(s). */
function hasBody(lines: readonly string[], s: Section): boolean {
  for (let i = s.start; i < s.end; i++) {
    const l = lines[i];
    if (l.trim() === "" || ATX.test(l) || /^ {0,3}=+[ \t]*$/.test(l)) continue;
    if (i + 1 < s.end && /^ {0,3}=+[ \t]*$/.test(lines[i + 1])) continue;
    return true;
  }
  return false;
}

/** Splits one section into windows of whole lines within the bound, overlapping by ≥ overlapChars. */
function windows(lines: readonly string[], s: Section, o: ChunkOptions): Chunk[] {
  const out: Chunk[] = [];
  const len = (i: number) => lines[i].length + 1;
  let start = s.start;
  while (start < s.end) {
    if (lines[start].length > o.maxChars) {
      // One line longer than the bound: cut it into pieces that all cite that line.
      const line = lines[start];
      for (let p = 0; p < line.length; p += o.maxChars - o.overlapChars) {
        out.push({
          heading: s.heading,
          lineStart: start + 1,
          lineEnd: start + 1,
          text: line.slice(p, p + o.maxChars),
        });
        if (p + o.maxChars >= line.length) break;
      }
      start++;
      continue;
    }
    let end = start;
    let size = 0;
    while (end < s.end && lines[end].length <= o.maxChars && size + len(end) <= o.maxChars + 1) {
      size += len(end);
      end++;
    }
    out.push({
      heading: s.heading,
      lineStart: start + 1,
      lineEnd: end,
      text: lines.slice(start, end).join("\n"),
    });
    if (end >= s.end) break;
    // Next window starts far enough back to repeat ≥ overlapChars, but always moves forward.
    let next = end;
    let back = 0;
    while (next - 1 > start && back < o.overlapChars) {
      next--;
      back += len(next);
    }
    // ...and leaves room for the line after this window, or it would only repeat old lines.
    while (next < end && (lines[end].length > o.maxChars || back + len(end) > o.maxChars + 1)) {
      back -= len(next);
      next++;
    }
    start = next <= start ? end : next;
  }
  return out;
}

/**
 * Chunks a document. Markdown (`.md`, `.markdown`, `.mdx`) is split by ATX/setext headings outside
 * fenced code; other text is one section. Heading-only sections (a heading directly followed by a
 * sub-heading) produce no chunk: the sub-heading's path carries the parent title.
 * @param text file content (`\n` or `\r\n` line ends).
 * @returns chunks in document order; every chunk's text is ≤ `maxChars` characters.
 */
export function chunkDocument(
  text: string,
  markdown: boolean,
  opts: ChunkOptions = DEFAULT_CHUNK_OPTIONS,
): Chunk[] {
  if (opts.overlapChars >= opts.maxChars) throw new RangeError("overlapChars must be below maxChars");
  const lines = text.split(/\r?\n/);
  if (lines.length > 0 && lines[lines.length - 1] === "") lines.pop();
  const out: Chunk[] = [];
  for (const s of sections(lines, markdown)) {
    if (!hasBody(lines, s)) continue;
    out.push(...windows(lines, s, opts));
  }
  return out;
}
