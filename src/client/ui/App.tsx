/**
 * The stateful top of the terminal UI: reads the terminal size, maps keys to
 * actions, and draws the screen model. Talking to the service is left to
 * `useSession`; drawing to the props-only components.
 */
import { useEffect, useRef, useState } from 'react';
import { useApp, useCursor, useInput, useStdout } from 'ink';
import type { Logger } from '../../core/sockets.js';
import { COMMAND_HELP } from '../commands.js';
import { Screen } from './components/Screen.js';
import { screenModel } from './screen.js';
import type { UiSession } from './types.js';
import { useSession } from './useSession.js';

export interface AppProps {
  readonly session: UiSession;
  readonly history: readonly string[];
  readonly historyFile?: string | undefined;
  readonly log: Logger;
  readonly color: boolean;
  readonly traceOn?: boolean;
  /** Fixed terminal size (tests); otherwise the real terminal's, following resizes. */
  readonly columns?: number | undefined;
  readonly rows?: number | undefined;
  readonly onQuit?: () => void;
}

const COMMAND_NAMES = COMMAND_HELP.map((h) => h.name);

function useTerminalSize(fixed: { columns?: number | undefined; rows?: number | undefined }): { columns: number; rows: number } {
  const { stdout } = useStdout();
  const read = () => ({ columns: fixed.columns ?? (stdout.columns || 80), rows: fixed.rows ?? (stdout.rows || 24) });
  const [size, setSize] = useState(read);
  useEffect(() => {
    const onResize = () => setSize(read());
    stdout.on('resize', onResize);
    return () => {
      stdout.off('resize', onResize);
    };
  }, [stdout, fixed.columns, fixed.rows]);
  return size;
}

export function App(props: AppProps) {
  const app = useApp();
  const size = useTerminalSize({ columns: props.columns, rows: props.rows });
  const [now, setNow] = useState(() => Date.now());
  const resultsWidth = useRef(size.columns);
  const viewRows = useRef(10);
  const { setCursorPosition } = useCursor();

  const hook = useSession({
    session: props.session,
    history: props.history,
    historyFile: props.historyFile,
    log: props.log,
    traceOn: props.traceOn ?? false,
    resultsWidth: () => resultsWidth.current,
    resultsHeight: () => viewRows.current,
    commands: COMMAND_NAMES,
    onQuit: () => {
      props.onQuit?.();
      app.exit();
    },
  });
  const { state, dispatch } = hook;

  useEffect(() => {
    const t = setInterval(() => setNow(Date.now()), 1000);
    return () => clearInterval(t);
  }, []);

  const model = screenModel({ state, columns: size.columns, rows: size.rows, now, prev: props.session.prev });
  resultsWidth.current = model.layout.results.width;
  viewRows.current = Math.max(1, model.layout.results.height - 1);
  setCursorPosition(state.quitting ? undefined : model.cursor);

  useInput((input, key) => {
    // Keys can arrive faster than React re-renders: read the newest state, not this render's.
    const state = hook.current();
    if (state.quitting) return;
    const page = Math.max(1, viewRows.current - 1);
    if (key.ctrl && input === 'c') return hook.quit();
    if (key.ctrl && input === 'd') {
      if (state.input === '') return hook.quit();
      return dispatch({ type: 'delete' });
    }
    if (key.ctrl && input === 't') return hook.toggleTrace();
    if (key.ctrl && input === 'l') return dispatch({ type: 'clear' });
    if (key.ctrl && input === 'u') return dispatch({ type: 'killLine' });
    if (key.ctrl && input === 'w') return dispatch({ type: 'killWord' });
    if (key.ctrl && input === 'a') return dispatch({ type: 'cursor', to: 'home' });
    if (key.ctrl && input === 'e') return dispatch({ type: 'cursor', to: 'end' });
    if (key.return || input === '\r' || input === '\n') return hook.submit(state.input);
    if (input.length > 1 && /[\r\n\t\x7f\b\x15\x17\x01\x05]/.test(input)) {
      // Several keys in one read (a paste, or keys sent by a program): line breaks submit, tabs
      // complete, and the editing keys (ctrl-u, ctrl-w, ctrl-a, ctrl-e) act where they arrive.
      for (const part of input.split(/(\r\n|[\r\n\t\x7f\b\x15\x17\x01\x05])/)) {
        if (part === '') continue;
        if (part === '\t') dispatch({ type: 'tab', commands: COMMAND_NAMES });
        else if (part === '\x15') dispatch({ type: 'killLine' });
        else if (part === '\x17') dispatch({ type: 'killWord' });
        else if (part === '\x01') dispatch({ type: 'cursor', to: 'home' });
        else if (part === '\x05') dispatch({ type: 'cursor', to: 'end' });
        else if (part === '\x7f' || part === '\b') dispatch({ type: 'backspace' });
        else if (/^[\r\n]/.test(part)) hook.submit(hook.current().input);
        else dispatch({ type: 'insert', text: part });
      }
      return;
    }
    if (key.tab) return dispatch({ type: 'tab', commands: COMMAND_NAMES });
    if (key.pageUp) return dispatch({ type: 'scroll', by: page, view: viewRows.current });
    if (key.pageDown) return dispatch({ type: 'scroll', by: -page, view: viewRows.current });
    if (key.upArrow && key.shift) return dispatch({ type: 'scroll', by: 3, view: viewRows.current });
    if (key.downArrow && key.shift) return dispatch({ type: 'scroll', by: -3, view: viewRows.current });
    if (key.upArrow) return dispatch({ type: 'historyUp' });
    if (key.downArrow) return dispatch({ type: 'historyDown' });
    if (key.leftArrow) return dispatch({ type: 'cursor', to: key.ctrl || key.meta ? 'wordLeft' : 'left' });
    if (key.rightArrow) return dispatch({ type: 'cursor', to: key.ctrl || key.meta ? 'wordRight' : 'right' });
    if (key.home) return dispatch({ type: 'cursor', to: 'home' });
    if (key.end) {
      dispatch({ type: 'cursor', to: 'end' });
      return dispatch({ type: 'scrollTo', where: 'bottom', view: viewRows.current });
    }
    // Most terminals send DEL for the Backspace key, which ink reports as `delete`.
    if (key.backspace || key.delete) return dispatch({ type: 'backspace' });
    if (key.escape) return dispatch({ type: 'notice', line: null });
    if (key.ctrl || key.meta || input === '') return;
    dispatch({ type: 'insert', text: input });
  });

  return <Screen model={model} color={props.color} />;
}
