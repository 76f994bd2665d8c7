/**
 * Styled lines of text, measured in terminal cells.
 *
 * Every panel of the screen is built as a list of `Line`s by pure functions,
 * then drawn by a component. Building lines first keeps layout decisions
 * (what fits in 80 columns, what gets cut) testable without a terminal.
 */

/** What a piece of text means; the theme decides how (or whether) it is coloured. */
export type Style =
  | 'plain'
  | 'dim'
  | 'head'
  | 'title'
  | 'stars'
  | 'num'
  | 'ok'
  | 'warn'
  | 'error'
  | 'hint'
  | 'cmd'
  | 'active'
  | 'overloaded'
  | 'offline'
  | 'you'
  /** The elected primary (named in words too: colour is never the only sign). */
  | 'primary';

export interface Seg {
  readonly text: string;
  readonly style?: Style | undefined;
}

export type Line = readonly Seg[];

export const seg = (text: string, style?: Style): Seg => (style ? { text, style } : { text });
export const line = (...parts: (Seg | string)[]): Line => parts.map((p) => (typeof p === 'string' ? { text: p } : p));
export const plainLine = (text: string, style?: Style): Line => [seg(text, style)];

/** Cells a code point takes: 0 for combining marks, 2 for wide (CJK, most emoji), else 1. */
export function cellWidth(cp: number): number {
  if (cp < 32 || (cp >= 0x7f && cp < 0xa0)) return 0;
  if (
    (cp >= 0x300 && cp <= 0x36f) ||
    (cp >= 0x200b && cp <= 0x200f) ||
    (cp >= 0xfe00 && cp <= 0xfe0f) ||
    (cp >= 0x1ab0 && cp <= 0x1aff) ||
    (cp >= 0x20d0 && cp <= 0x20ff)
  ) {
    return 0;
  }
  if (
    (cp >= 0x1100 && cp <= 0x115f) ||
    (cp >= 0x2e80 && cp <= 0x303e) ||
    (cp >= 0x3041 && cp <= 0x33ff) ||
    (cp >= 0x3400 && cp <= 0x4dbf) ||
    (cp >= 0x4e00 && cp <= 0x9fff) ||
    (cp >= 0xa000 && cp <= 0xa4cf) ||
    (cp >= 0xac00 && cp <= 0xd7a3) ||
    (cp >= 0xf900 && cp <= 0xfaff) ||
    (cp >= 0xfe30 && cp <= 0xfe4f) ||
    (cp >= 0xff00 && cp <= 0xff60) ||
    (cp >= 0xffe0 && cp <= 0xffe6) ||
    (cp >= 0x1f300 && cp <= 0x1f64f) ||
    (cp >= 0x1f900 && cp <= 0x1f9ff) ||
    (cp >= 0x20000 && cp <= 0x3fffd)
  ) {
    return 2;
  }
  return 1;
}

export function textWidth(s: string): number {
  let w = 0;
  for (const ch of s) w += cellWidth(ch.codePointAt(0) ?? 0);
  return w;
}

export function lineWidth(l: Line): number {
  let w = 0;
  for (const s of l) w += textWidth(s.text);
  return w;
}

/** The longest prefix of `s` that fits in `width` cells. */
function cut(s: string, width: number): string {
  let w = 0;
  let out = '';
  for (const ch of s) {
    const cw = cellWidth(ch.codePointAt(0) ?? 0);
    if (w + cw > width) break;
    w += cw;
    out += ch;
  }
  return out;
}

/** Cuts a string to `width` cells, ending with "…" when something was cut. */
export function truncate(s: string, width: number): string {
  if (width <= 0) return '';
  if (textWidth(s) <= width) return s;
  return cut(s, width - 1) + '…';
}

/** Pads (or cuts) a string to exactly `width` cells. */
export function pad(s: string, width: number, align: 'left' | 'right' = 'left'): string {
  const t = truncate(s, width);
  const fill = ' '.repeat(Math.max(0, width - textWidth(t)));
  return align === 'left' ? t + fill : fill + t;
}

/** Cuts a line to at most `width` cells, marking the cut with "…". */
export function fit(l: Line, width: number): Line {
  if (lineWidth(l) <= width) return l;
  if (width <= 0) return [];
  const out: Seg[] = [];
  let left = width - 1;
  for (const s of l) {
    const w = textWidth(s.text);
    if (w <= left) {
      out.push(s);
      left -= w;
      continue;
    }
    out.push({ ...s, text: cut(s.text, left) + '…' });
    return out;
  }
  return out;
}

/** Splits a long line into several of at most `width` cells, breaking at spaces where it can. */
export function wrap(l: Line, width: number, indent = 2): Line[] {
  if (width <= indent + 4 || lineWidth(l) <= width) return [fit(l, width)];
  const out: Line[] = [];
  let cur: Seg[] = [];
  let curW = 0;
  const flush = () => {
    out.push(cur);
    cur = [{ text: ' '.repeat(indent) }];
    curW = indent;
  };
  for (const s of l) {
    // Split into words keeping the spaces attached, so widths add up exactly.
    const words = s.text.match(/\S+\s*|\s+/g) ?? [];
    for (let word of words) {
      let w = textWidth(word);
      if (curW + w > width && curW > indent) {
        flush();
        word = word.trimStart();
        w = textWidth(word);
      }
      while (w > width - curW) {
        const room = width - curW;
        const head = cut(word, room);
        cur.push({ ...s, text: head });
        word = word.slice(head.length);
        w = textWidth(word);
        flush();
      }
      if (word) {
        cur.push({ ...s, text: word });
        curW += w;
      }
    }
  }
  if (cur.length > 0 && lineWidth(cur) > 0) out.push(cur);
  return out.map((x) => fit(x, width));
}

/** A panel's title as a rule across the width: "── CLUSTER via fe1 ─────────". */
export function ruleLine(title: Line, width: number, right?: Line): Line {
  const head: Seg[] = [{ text: '── ', style: 'dim' }, ...title, { text: ' ', style: 'dim' }];
  const tail: Seg[] = right && right.length > 0 ? [{ text: ' ', style: 'dim' }, ...right, { text: ' ──', style: 'dim' }] : [];
  const fill = width - lineWidth(head) - lineWidth(tail);
  if (fill < 2) return fit([...head, ...tail], width);
  return [...head, { text: '─'.repeat(fill), style: 'dim' }, ...tail];
}
