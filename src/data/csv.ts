/**
 * A streaming CSV parser (RFC 4180): fields separated by commas, records by
 * CRLF or LF (a lone CR too); a field in double quotes may hold commas, line
 * breaks and doubled quotes ("" for "). A byte-order mark at the start is
 * dropped. Blank lines are skipped.
 *
 * Records carry the line number they start on (1 = the first line), so every
 * error can say where: `CsvError` has `file`, `line` and `reason`, and its
 * message reads "ratings.csv line 1234: unterminated quote".
 *
 * Strict where RFC 4180 is: a quote inside an unquoted field, or anything
 * but a comma or a line end after a closing quote, is an error.
 */
import { createReadStream } from 'node:fs';

/** An error in a data file at a line. The message is `${file} line ${line}: ${reason}`. */
export class CsvError extends Error {
  override name = 'CsvError';
  constructor(
    readonly file: string,
    readonly line: number,
    readonly reason: string,
  ) {
    super(`${file} line ${line}: ${reason}`);
  }
}

export interface CsvRecord {
  readonly fields: string[];
  /** The line the record starts on, 1-based. */
  readonly line: number;
}

const QUOTE = 34; // "
const COMMA = 44; // ,
const LF = 10;
const CR = 13;

/**
 * Incremental parser: feed text with `push` (chunks may split anywhere, even
 * inside a quoted field or between CR and LF), then call `end`. Both return
 * the records completed so far.
 */
export class CsvParser {
  private fields: string[] = [];
  private field = '';
  /** The current field began with a quote. */
  private quoted = false;
  /** Inside a quoted field's quotes. */
  private inQuotes = false;
  /** Inside quotes, the last character was a quote: either a doubled quote or the closing one. */
  private quotePending = false;
  /** The last character was a CR (line already counted), so an LF right after it ends the same line. */
  private afterCR = false;
  private line = 1;
  private recordLine = 1;
  private started = false;

  constructor(readonly file: string) {}

  push(chunk: string): CsvRecord[] {
    const out: CsvRecord[] = [];
    let i = 0;
    if (!this.started && chunk.length > 0) {
      this.started = true;
      if (chunk.charCodeAt(0) === 0xfeff) i = 1;
    }
    const n = chunk.length;
    let segStart = i; // start of text not yet copied into this.field
    for (; i < n; i++) {
      const c = chunk.charCodeAt(i);
      if (this.afterCR) {
        this.afterCR = false;
        if (c === LF) {
          // The LF of a CRLF: the line was counted at the CR. Outside quotes it is not data.
          if (!this.inQuotes) segStart = i + 1;
          continue;
        }
      }
      if (this.inQuotes) {
        if (this.quotePending) {
          this.quotePending = false;
          if (c === QUOTE) {
            // A doubled quote: keep one.
            this.field += '"';
            segStart = i + 1;
            continue;
          }
          this.inQuotes = false; // the pending quote closed the field; c is handled below
        } else {
          if (c === QUOTE) {
            this.field += chunk.slice(segStart, i);
            this.quotePending = true;
            segStart = i + 1;
          } else if (c === LF) {
            this.line++;
          } else if (c === CR) {
            this.line++;
            this.afterCR = true;
          }
          continue;
        }
      }
      // Outside quotes.
      if (c === COMMA) {
        this.field += chunk.slice(segStart, i);
        this.endField();
        segStart = i + 1;
      } else if (c === LF || c === CR) {
        this.field += chunk.slice(segStart, i);
        this.endRecord(out);
        this.line++;
        this.recordLine = this.line;
        if (c === CR) this.afterCR = true;
        segStart = i + 1;
      } else if (this.quoted) {
        throw new CsvError(this.file, this.line, `unexpected character ${JSON.stringify(chunk[i])} after a closing quote (expected a comma or the end of the line)`);
      } else if (c === QUOTE) {
        if (i === segStart && this.field === '') {
          this.quoted = true;
          this.inQuotes = true;
          segStart = i + 1;
        } else {
          throw new CsvError(this.file, this.line, 'a quote inside an unquoted field (quote the whole field and double the quote)');
        }
      }
    }
    this.field += chunk.slice(segStart);
    return out;
  }

  end(): CsvRecord[] {
    if (this.inQuotes && !this.quotePending) throw new CsvError(this.file, this.recordLine, 'unterminated quote');
    this.inQuotes = false;
    this.quotePending = false;
    const out: CsvRecord[] = [];
    this.endRecord(out);
    return out;
  }

  private endField(): void {
    this.fields.push(this.field);
    this.field = '';
    this.quoted = false;
  }

  private endRecord(out: CsvRecord[]): void {
    const blank = this.fields.length === 0 && this.field === '' && !this.quoted;
    if (!blank) {
      this.endField();
      out.push({ fields: this.fields, line: this.recordLine });
    }
    this.fields = [];
    this.field = '';
    this.quoted = false;
  }
}

/** Parses a whole CSV text (for small inputs and tests). */
export function parseCsv(text: string, file = '<text>'): CsvRecord[] {
  const p = new CsvParser(file);
  return [...p.push(text), ...p.end()];
}

export interface CsvReadProgress {
  readonly bytesRead: number;
  readonly totalBytes: number | undefined;
}

/**
 * Streams a CSV file as batches of records (one batch per chunk read, so a
 * 1 GB file never sits in memory). `name` is used in error messages; `onChunk`
 * sees how far the file has been read.
 */
export async function* readCsvFile(
  path: string,
  name: string,
  opts: { onChunk?: (p: CsvReadProgress) => void; totalBytes?: number } = {},
): AsyncGenerator<CsvRecord[]> {
  const parser = new CsvParser(name);
  const stream = createReadStream(path, { highWaterMark: 1 << 20 });
  const decoder = new TextDecoder('utf-8', { fatal: true });
  let bytesRead = 0;
  let line = 1;
  const decode = (bytes: Uint8Array | undefined): string => {
    try {
      return bytes ? decoder.decode(bytes, { stream: true }) : decoder.decode();
    } catch {
      // The parser has seen everything before this chunk; its line is close to the bad bytes.
      throw new CsvError(name, line, 'the file is not valid UTF-8 text');
    }
  };
  try {
    for await (const chunk of stream as AsyncIterable<Buffer>) {
      bytesRead += chunk.length;
      const records = parser.push(decode(chunk));
      line = records.at(-1)?.line ?? line;
      opts.onChunk?.({ bytesRead, totalBytes: opts.totalBytes });
      if (records.length > 0) yield records;
    }
    const last = [...parser.push(decode(undefined)), ...parser.end()];
    if (last.length > 0) yield last;
  } finally {
    stream.destroy();
  }
}
