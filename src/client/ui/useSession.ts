/**
 * The one hook that talks to the front end: it turns session events into
 * actions (cluster views are pushed; a fallback fetch happens only if none
 * arrived for 2 s), runs commands one at a time, looks up movie titles for
 * completion (debounced, cached, one lookup at a time) and keeps the history
 * file. Everything it learns goes through `reduce`.
 */
import { useCallback, useEffect, useReducer, useRef } from 'react';
import type { ClusterView, TraceEvent } from '../../core/protocol.js';
import type { Logger } from '../../core/sockets.js';
import type { QueryResult } from '../../core/ops.js';
import { cancelledText, confirmationFor, confirmed, parseCommand, runCommand, type Command, type CommandResult } from '../commands.js';
import { titleArgument, MIN_TITLE_PREFIX } from './complete.js';
import { appendHistory } from './history.js';
import { echoLine, errorLines, presentResult, welcomeLines } from './present.js';
import { cachedTitles, confirmAnswer, initialState, pickChoice, reduce, type Action, type UiState } from './state.js';
import { line, seg, wrap } from './text.js';
import { clusterAliases } from './cluster.js';
import type { UiSession } from './types.js';

/** A cluster view older than this is fetched again (events normally keep it fresh). */
export const CLUSTER_FALLBACK_MS = 2000;
/** Typing pause before titles are looked up for completion. */
export const TITLE_DEBOUNCE_MS = 300;
/** Trace events are applied in batches at most this often (a gossip storm is many events a second). */
export const TRACE_FLUSH_MS = 100;
const TITLE_LIMIT = 10;

export interface SessionHookOptions {
  readonly session: UiSession;
  readonly history: readonly string[];
  /** Where commands are recorded; undefined keeps no history file. */
  readonly historyFile?: string | undefined;
  readonly log: Logger;
  readonly traceOn?: boolean;
  /** Width results are laid out for (the results area's current width). */
  readonly resultsWidth: () => number;
  /** Lines of results the area shows at once. */
  readonly resultsHeight: () => number;
  /** Called once the session is closed after quit. */
  readonly onQuit: () => void;
  /** Command names for completion. */
  readonly commands: readonly string[];
}

export interface SessionHook {
  readonly state: UiState;
  /** The newest state (may be ahead of `state` while keys are being handled). */
  readonly current: () => UiState;
  readonly dispatch: (a: Action) => void;
  readonly submit: (line: string) => void;
  readonly toggleTrace: () => void;
  readonly quit: () => void;
}

/** Styled text wrapped to the results area. */
function wrapped(text: string, style: 'dim' | 'warn', width: number) {
  return wrap(line(seg(text, style)), Math.max(20, width), 2);
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

export function useSession(o: SessionHookOptions): SessionHook {
  const { session, log } = o;
  const [state, rawDispatch] = useReducer(reduce, undefined, () => {
    const s0 = initialState({ history: o.history, frontend: session.frontend(), traceOn: o.traceOn ?? false });
    return reduce(s0, { type: 'output', lines: welcomeLines(o.resultsWidth(), Number(session.user), session.frontend()) });
  });
  // The latest state, even before React renders it: key handlers and async
  // callbacks read it, so several keys arriving at once see each other's effect.
  const stateRef = useRef(state);
  const dispatch = useCallback((a: Action) => {
    stateRef.current = reduce(stateRef.current, a);
    rawDispatch(a);
  }, []);
  const opts = useRef(o);
  opts.current = o;
  const lastCluster = useRef(0);
  const queue = useRef<Promise<void>>(Promise.resolve());
  const quitting = useRef(false);

  // ---- pushed events ---------------------------------------------------------
  useEffect(() => {
    // Views and trace events come in bursts (a trace event per gossip message); they are
    // gathered and applied together at most every TRACE_FLUSH_MS, so the screen is
    // redrawn once per batch rather than once per event.
    let pendingTrace: TraceEvent[] = [];
    let pendingView: ClusterView | undefined;
    let flushTimer: NodeJS.Timeout | undefined;
    const flush = () => {
      flushTimer = undefined;
      const view = pendingView;
      const events = pendingTrace;
      pendingView = undefined;
      pendingTrace = [];
      if (view) dispatch({ type: 'cluster', view, at: Date.now() });
      if (events.length > 0) dispatch({ type: 'traces', events });
    };
    const schedule = () => {
      flushTimer ??= setTimeout(flush, TRACE_FLUSH_MS);
    };
    const onCluster = (v: ClusterView) => {
      lastCluster.current = Date.now();
      pendingView = v;
      schedule();
    };
    const onTrace = (e: TraceEvent) => {
      pendingTrace.push(e);
      if (pendingTrace.length > 5000) pendingTrace = pendingTrace.slice(-2500);
      schedule();
    };
    const onFrontend = (name: string | undefined, why: string) => dispatch({ type: 'frontend', name, why, at: Date.now() });
    const onNaming = (up: boolean) => dispatch({ type: 'naming', up });
    session.on('cluster', onCluster);
    session.on('trace', onTrace);
    session.on('frontend', onFrontend);
    session.on('naming', onNaming);
    try {
      session.watch(stateRef.current.traceOn);
    } catch (e) {
      log.error(`watch failed: ${errorMessage(e)}`);
    }
    return () => {
      if (flushTimer) clearTimeout(flushTimer);
      session.off('cluster', onCluster as (...a: never[]) => void);
      session.off('trace', onTrace as (...a: never[]) => void);
      session.off('frontend', onFrontend as (...a: never[]) => void);
      session.off('naming', onNaming as (...a: never[]) => void);
    };
  }, [session, log]);

  // ---- fallback refresh and clock ------------------------------------------------
  useEffect(() => {
    let inFlight = false;
    const t = setInterval(() => {
      const now = Date.now();
      dispatch({ type: 'tick', now });
      if (inFlight || quitting.current || now - lastCluster.current < CLUSTER_FALLBACK_MS) return;
      inFlight = true;
      session
        .cluster()
        .then((v) => {
          lastCluster.current = Date.now();
          dispatch({ type: 'cluster', view: v, at: lastCluster.current });
        })
        .catch((e: unknown) => log.warn(`cluster refresh failed: ${errorMessage(e)}`))
        .finally(() => {
          inFlight = false;
        });
    }, 1000);
    return () => clearInterval(t);
  }, [session, log]);

  // ---- movie titles for completion ------------------------------------------------
  const titleLookup = useRef<{ busy: boolean; next: string | undefined }>({ busy: false, next: undefined });
  const lookupTitles = useCallback(
    (prefix: string) => {
      const tl = titleLookup.current;
      if (tl.busy) {
        tl.next = prefix;
        return;
      }
      tl.busy = true;
      session
        .query({ kind: 'search', words: prefix, limit: TITLE_LIMIT })
        .then((r) => {
          const res = r.ok && r.kind === 'query' ? (r.result as QueryResult) : undefined;
          const titles = res && res.kind === 'search' ? res.movies.map((m) => m.title) : [];
          if (!r.ok) log.warn(`title lookup for "${prefix}" failed: ${r.code} ${r.message}`);
          dispatch({ type: 'titles', prefix, titles, commands: opts.current.commands });
        })
        .catch((e: unknown) => {
          log.warn(`title lookup failed: ${errorMessage(e)}`);
          dispatch({ type: 'titles', prefix, titles: [], commands: opts.current.commands });
        })
        .finally(() => {
          tl.busy = false;
          const n = tl.next;
          tl.next = undefined;
          if (n !== undefined && cachedTitles(stateRef.current, n) === undefined) lookupTitles(n);
        });
    },
    [session, log],
  );

  // Tab on a prefix that is not known yet: look it up now.
  useEffect(() => {
    if (state.awaitingTitles !== null) lookupTitles(state.awaitingTitles);
  }, [state.awaitingTitles, lookupTitles]);

  // While a title is being typed, fetch its completions after a pause so Tab is instant.
  useEffect(() => {
    const t = titleArgument(state.input.slice(0, state.cursor));
    const prefix = t?.text.trim().toLowerCase();
    if (!prefix || prefix.length < MIN_TITLE_PREFIX || cachedTitles(stateRef.current, prefix) !== undefined) return;
    const timer = setTimeout(() => lookupTitles(prefix), TITLE_DEBOUNCE_MS);
    return () => clearTimeout(timer);
  }, [state.input, state.cursor, lookupTitles]);

  // ---- commands ----------------------------------------------------------------------
  const quit = useCallback(() => {
    if (quitting.current) return;
    quitting.current = true;
    dispatch({ type: 'quit' });
    dispatch({ type: 'busy', what: 'closing the session…' });
    session
      .close()
      .catch((e: unknown) => log.error(`closing the session failed: ${errorMessage(e)}`))
      .finally(() => opts.current.onQuit());
  }, [session, log]);

  const toggleTrace = useCallback(() => {
    const on = !stateRef.current.traceOn;
    dispatch({ type: 'traceOn', on });
    try {
      session.watch(on);
    } catch (e) {
      log.error(`watch failed: ${errorMessage(e)}`);
    }
  }, [session, log]);

  /** Runs commands strictly one after another, so answers appear in the order the commands were typed. */
  const waiting = useRef(0);
  const enqueue = useCallback((step: () => Promise<void> | void) => {
    waiting.current++;
    queue.current = queue.current
      .then(() => {
        waiting.current--;
        return step();
      })
      .catch((e: unknown) => {
        log.error(`command handling failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
      });
  }, [log]);

  const run = useCallback(
    async (c: Command, shown: string) => {
      if (quitting.current) return;
      const fe = session.frontend();
      dispatch({ type: 'busy', what: `waiting for the answer to "${shown}"${fe ? ` from ${fe}` : ''}…` });
      let r: CommandResult;
      try {
        r = await runCommand(session, c);
      } catch (e) {
        // runCommand reports failures as results; anything else is a bug, kept out of the screen.
        log.error(`command "${shown}" failed: ${e instanceof Error ? (e.stack ?? e.message) : String(e)}`);
        r = { kind: 'error', code: 'INTERNAL', message: `the command failed inside the client (${errorMessage(e)})`, hint: 'details are in the client log; try again' };
      }
      dispatch({ type: 'busy', what: null });
      if (r.kind === 'error') log.warn(`"${shown}": ${r.code} ${r.message}`);
      if (r.kind === 'status') {
        lastCluster.current = Date.now();
        dispatch({ type: 'cluster', view: r.view, at: lastCluster.current });
      }
      if (r.kind === 'trace') dispatch({ type: 'traceOn', on: r.on });
      if (r.kind === 'clear') {
        dispatch({ type: 'clear' });
        return;
      }
      if (r.kind === 'quit') {
        quit();
        return;
      }
      const aliases = clusterAliases(stateRef.current.cluster, session.prev);
      const lines = presentResult(r, opts.current.resultsWidth(), aliases);
      dispatch({
        type: 'output',
        lines,
        // A long answer is shown from its top, unless more commands were typed meanwhile (then the newest shows).
        view: waiting.current === 0 ? opts.current.resultsHeight() : undefined,
        choose: r.kind === 'choose' ? { command: c, candidates: r.candidates.map((x) => ({ movieId: x.movieId, title: x.title })) } : undefined,
      });
    },
    [session, log, quit, dispatch],
  );

  const submit = useCallback(
    (text: string) => {
      const before = stateRef.current;
      dispatch({ type: 'submit' });
      const line = text.trim();
      if (line === '') return;
      const file = opts.current.historyFile;
      if (file) {
        try {
          appendHistory(file, text);
        } catch (e) {
          log.warn(`could not save the history to ${file}: ${errorMessage(e)}`);
        }
      }
      // A pending "are you sure?" takes this line as its answer; nothing was sent before it.
      const answer = confirmAnswer(before, text);
      const asked = before.confirm;
      // A number answers a pending "which movie?" question; the choice is read now, as typed.
      const pick = answer === undefined ? pickChoice(before, text) : undefined;
      const choose = before.choose;
      // A command that cannot be undone asks first. The question is set now, so a line typed
      // (or pasted) right after it is taken as the answer.
      const parsed = answer === undefined && !pick ? parseCommand(text) : undefined;
      const question = parsed && !('error' in parsed) ? confirmationFor(parsed) : undefined;
      if (parsed && question && !('error' in parsed)) dispatch({ type: 'ask', confirm: { command: parsed, question } });
      enqueue(async () => {
        if (quitting.current) return;
        const width = opts.current.resultsWidth();
        if (asked && answer !== undefined) {
          const c = asked.command as Command;
          dispatch({ type: 'output', lines: [echoLine(line)] });
          if (answer === 'yes') await run(confirmed(c), line);
          else dispatch({ type: 'output', lines: wrapped(`${cancelledText(c)} (only y confirms)`, 'dim', width) });
          return;
        }
        if (question) {
          dispatch({ type: 'output', lines: [echoLine(line), ...wrapped(question, 'warn', width)] });
          return;
        }
        if (pick && choose) {
          dispatch({ type: 'output', lines: [echoLine(`${line} → ${pick.title} #${pick.movieId}`)] });
          await run({ ...(choose.command as Command), movie: { id: pick.movieId } } as Command, line);
          return;
        }
        dispatch({ type: 'output', lines: [echoLine(line)] });
        const c = parsed ?? parseCommand(text);
        if ('error' in c) {
          dispatch({ type: 'output', lines: errorLines(c.error, c.hint, width) });
          return;
        }
        if (c.name === 'quit') return quit();
        if (c.name === 'clear') return dispatch({ type: 'clear' });
        await run(c, line);
      });
    },
    [log, run, quit, enqueue, dispatch],
  );

  const current = useCallback(() => stateRef.current, []);
  return { state, current, dispatch, submit, toggleTrace, quit };
}
