/**
 * The screen: banners, cluster panel, trace panel, results, notice line and
 * command line, stacked on narrow terminals and side by side on wide ones.
 * Props only; everything it shows was decided by `screenModel`.
 */
import { Box } from 'ink';
import type { ScreenModel } from '../screen.js';
import { Lines } from './Lines.js';

export function Screen(props: { readonly model: ScreenModel; readonly color: boolean }) {
  const { model: m, color } = props;
  const L = m.layout;
  return (
    <Box flexDirection="column" width={L.width}>
      {m.banners.length > 0 && <Lines lines={m.banners} width={L.width} color={color} />}
      {L.mode === 'stacked' ? (
        <>
          <Lines lines={m.cluster} width={L.width} color={color} />
          {m.trace && <Lines lines={m.trace} width={L.width} color={color} />}
          <Lines lines={m.results} width={L.width} color={color} />
        </>
      ) : (
        <Box flexDirection="row" width={L.width}>
          <Lines lines={m.results} width={L.results.width} color={color} />
          <Lines lines={m.results.map(() => [{ text: '│', style: 'dim' as const }])} width={1} color={color} />
          <Box flexDirection="column" width={L.sideWidth}>
            <Lines lines={m.cluster} width={L.sideWidth} color={color} />
            {m.trace && <Lines lines={m.trace} width={L.sideWidth} color={color} />}
          </Box>
        </Box>
      )}
      <Lines lines={[m.notice, m.input]} width={L.width} color={color} />
    </Box>
  );
}
