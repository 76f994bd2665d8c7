/**
 * bin/import-movielens DIR [OUT] [--skip-bad] [--progress]
 *
 * Builds a data file from a MovieLens folder. OUT defaults to
 * data/movielens.sqlite in this repository. Exit status: 0 imported,
 * 2 bad input (usage, a missing file, a malformed row), 1 anything else.
 */
import { existsSync, realpathSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { CsvError } from './csv.js';
import { importMovieLens, ImportInputError, removePendingTemps, type ImportProgress } from './import.js';
import { isMain } from '../core/process.js';

/** The repository root: the nearest folder above this file with a package.json (this runs from src/ or dist/src/). */
function repoRoot(): string {
  let dir = path.dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(path.join(dir, 'package.json'))) return dir;
    dir = path.dirname(dir);
  }
  return process.cwd();
}

export const USAGE = `usage: import-movielens DIR [OUT] [--skip-bad] [--progress]

Builds a hearsay data file from a MovieLens folder holding movies.csv and
ratings.csv (tags.csv and links.csv, if present, are ignored).

  DIR         the MovieLens folder (e.g. ml-latest-small)
  OUT         the data file to write (default: data/movielens.sqlite in the
              repository); replaced atomically, never left half-written
  --skip-bad  leave malformed rows out and report how many, instead of stopping
  --progress  report progress on stderr even when it is not a terminal

Exit status: 0 imported; 2 bad input (usage, missing file, malformed row); 1 other failure.`;

export interface CliIo {
  readonly out: (line: string) => void;
  readonly err: (line: string) => void;
  /** Whether stderr is a terminal (progress is shown by default only then). */
  readonly errIsTty: boolean;
}

/** Runs the importer with command-line arguments; resolves to the exit status. */
export async function runImportCli(argv: readonly string[], io: CliIo, defaultOut = path.join(repoRoot(), 'data', 'movielens.sqlite')): Promise<number> {
  const positional: string[] = [];
  let skipBad = false;
  let progress = io.errIsTty;
  for (const a of argv) {
    if (a === '--skip-bad') skipBad = true;
    else if (a === '--progress') progress = true;
    else if (a === '--help' || a === '-h') {
      io.out(USAGE);
      return 0;
    } else if (a.startsWith('-')) {
      io.err(`import-movielens: unknown option ${a}\n${USAGE}`);
      return 2;
    } else positional.push(a);
  }
  if (positional.length < 1 || positional.length > 2) {
    io.err(USAGE);
    return 2;
  }
  const dir = path.resolve(positional[0] as string);
  const out = path.resolve(positional[1] ?? defaultOut);

  let lastReport = 0;
  const onProgress = progress
    ? (p: ImportProgress) => {
        const now = performance.now();
        if (now - lastReport < 1000) return;
        lastReport = now;
        const pct = p.totalBytes > 0 ? ` (${Math.floor((100 * p.bytesRead) / p.totalBytes)}%)` : '';
        io.err(`import-movielens: ${p.file}: ${p.rows.toLocaleString('en-US')} rows${pct}`);
      }
    : undefined;

  try {
    const s = await importMovieLens(dir, out, { skipBad, ...(onProgress ? { onProgress } : {}) });
    io.out(
      `imported ${s.movies.toLocaleString('en-US')} movies and ${s.ratings.toLocaleString('en-US')} ratings into ${out} ` +
        `(${(s.bytes / 1e6).toFixed(1)} MB) in ${(s.ms / 1000).toFixed(1)} s`,
    );
    if (s.skipped > 0) {
      io.err(`import-movielens: skipped ${s.skipped} bad row${s.skipped === 1 ? '' : 's'}, e.g.:`);
      for (const e of s.skippedExamples) io.err(`  ${e.message}`);
    }
    return 0;
  } catch (err) {
    if (err instanceof CsvError) {
      io.err(`import-movielens: ${err.message}`);
      io.err('nothing was written (use --skip-bad to leave bad rows out)');
      return 2;
    }
    if (err instanceof ImportInputError) {
      io.err(`import-movielens: ${err.message}`);
      return 2;
    }
    io.err(`import-movielens: ${err instanceof Error ? err.message : String(err)}`);
    return 1;
  }
}

if (isMain(import.meta.url)) {
  for (const sig of ['SIGINT', 'SIGTERM'] as const) {
    process.once(sig, () => {
      removePendingTemps();
      process.exit(sig === 'SIGINT' ? 130 : 143);
    });
  }
  const code = await runImportCli(process.argv.slice(2), {
    out: (l) => process.stdout.write(`${l}\n`),
    err: (l) => process.stderr.write(`${l}\n`),
    errIsTty: process.stderr.isTTY === true,
  });
  process.exitCode = code;
}
