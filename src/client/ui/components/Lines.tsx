/**
 * Draws prepared lines. Styles become colours only when colour is on; with
 * NO_COLOR nothing but the text is written (no bold, no dim either), and
 * meaning never rests on colour alone (statuses are words and symbols).
 */
import { Box, Text } from 'ink';
import type { Line, Style } from '../text.js';

type TextStyle = { readonly color?: string; readonly bold?: boolean; readonly dimColor?: boolean };

const THEME: Readonly<Record<Style, TextStyle>> = {
  plain: {},
  dim: { dimColor: true },
  head: { bold: true },
  title: { bold: true },
  stars: { color: 'yellow' },
  num: { bold: true },
  ok: { color: 'green' },
  warn: { color: 'yellow' },
  error: { color: 'red' },
  hint: { color: 'cyan' },
  cmd: { color: 'cyan' },
  active: { color: 'green' },
  overloaded: { color: 'yellow' },
  offline: { color: 'red' },
  you: { color: 'magenta' },
  primary: { color: 'blue', bold: true },
};

export function LineView(props: { readonly line: Line; readonly color: boolean }) {
  const { line, color } = props;
  if (line.length === 0 || line.every((s) => s.text === '')) return <Text> </Text>;
  return (
    <Text wrap="truncate-end">
      {line.map((s, i) => (
        <Text key={i} {...(color && s.style ? THEME[s.style] : {})}>
          {s.text}
        </Text>
      ))}
    </Text>
  );
}

export function Lines(props: { readonly lines: readonly Line[]; readonly width: number; readonly color: boolean }) {
  return (
    <Box flexDirection="column" width={props.width} flexShrink={0}>
      {props.lines.map((l, i) => (
        <LineView key={i} line={l} color={props.color} />
      ))}
    </Box>
  );
}
