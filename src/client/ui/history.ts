/**
 * The command history file: one command a line, newest last, at most
 * HISTORY_LIMIT lines. Written by writing a temporary file next to it and
 * renaming it over the old one, so a crash never leaves half a file; before
 * writing, the file is read again so two clients running at once both keep
 * their commands. The file is private to the user (mode 600). Failures never
 * stop the client: they are reported to the caller's log and the history
 * simply is not kept.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, unlinkSync, writeSync } from 'node:fs';
import { homedir } from 'node:os';
import path from 'node:path';

export const HISTORY_LIMIT = 500;

/** `$HEARSAY_HISTORY`, else `~/.hearsay_history`. */
export function historyPath(env: NodeJS.ProcessEnv = process.env): string {
  const p = env['HEARSAY_HISTORY'];
  return p && p.trim() !== '' ? p : path.join(homedir(), '.hearsay_history');
}

/** Adds an entry (pure): skips blank lines and repeats of the newest entry, keeps the newest `limit`. */
export function pushEntry(list: readonly string[], entry: string, limit = HISTORY_LIMIT): string[] {
  const e = entry.replace(/[\r\n]+/g, ' ').trim();
  if (e === '' || list[list.length - 1] === e) return list.slice(-limit);
  const out = [...list, e];
  return out.length > limit ? out.slice(out.length - limit) : out;
}

/** Reads the history; a missing or unreadable file is an empty history. */
export function loadHistory(file: string, limit = HISTORY_LIMIT): string[] {
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch {
    return [];
  }
  const lines = text.split('\n').filter((l) => l.trim() !== '');
  return lines.slice(-limit);
}

/** Replaces the file's contents atomically. Throws on failure (callers log it). */
export function writeHistory(file: string, entries: readonly string[]): void {
  const tmp = `${file}.${process.pid}.tmp`;
  let fd: number | undefined;
  try {
    fd = openSync(tmp, 'w', 0o600);
    writeSync(fd, entries.length > 0 ? entries.join('\n') + '\n' : '');
    fsyncSync(fd);
    closeSync(fd);
    fd = undefined;
    renameSync(tmp, file);
  } catch (e) {
    if (fd !== undefined) {
      try {
        closeSync(fd);
      } catch {
        /* already failing */
      }
    }
    try {
      unlinkSync(tmp);
    } catch {
      /* nothing to clean */
    }
    throw e;
  }
}

/**
 * Records one command: re-reads the file (other clients may have added to
 * it), appends, caps and writes it back. Returns the file's new contents.
 */
export function appendHistory(file: string, entry: string, limit = HISTORY_LIMIT): string[] {
  const next = pushEntry(loadHistory(file, limit), entry, limit);
  writeHistory(file, next);
  return next;
}
