/**
 * Where each panel goes for a terminal of a given size.
 *
 * Narrow terminals (fewer than 120 columns, e.g. 80x24) stack the panels:
 * banners, cluster, trace (when on), results, then the notice line and the
 * command line. Wide ones put the results on the left and the cluster and
 * trace panels on the right. One row is left free at the bottom so the
 * terminal never scrolls when the last line is written.
 */
export interface Box {
  readonly width: number;
  readonly height: number;
}

export interface Layout {
  readonly mode: 'stacked' | 'side';
  readonly width: number;
  /** Rows the screen uses (terminal rows minus one). */
  readonly height: number;
  readonly banners: number;
  readonly cluster: Box;
  /** Undefined when the trace panel is hidden. */
  readonly trace: Box | undefined;
  readonly results: Box;
  /** Width of the right-hand column in side mode (0 when stacked). */
  readonly sideWidth: number;
}

export const WIDE_COLUMNS = 120;
export const MIN_COLUMNS = 20;
export const MIN_ROWS = 8;

export function layout(columns: number, rows: number, o: { banners: number; clusterWants: number; traceOn: boolean }): Layout {
  const width = Math.max(MIN_COLUMNS, Math.floor(columns));
  const height = Math.max(MIN_ROWS, Math.floor(rows) - 1);
  const banners = Math.min(o.banners, 2);
  const footer = 2; // notice line + command line
  const body = Math.max(3, height - banners - footer);
  if (width >= WIDE_COLUMNS && body >= 12) {
    const sideWidth = Math.max(60, Math.min(96, Math.floor(width * 0.5)));
    const left = width - sideWidth - 1;
    const clusterH = o.traceOn ? Math.min(o.clusterWants, Math.max(4, Math.floor(body * 0.5))) : Math.min(o.clusterWants, body);
    return {
      mode: 'side',
      width,
      height,
      banners,
      cluster: { width: sideWidth, height: clusterH },
      trace: o.traceOn ? { width: sideWidth, height: body - clusterH } : undefined,
      results: { width: left, height: body },
      sideWidth,
    };
  }
  // Stacked: the results keep at least a third of the body; the trace gets what is left after the cluster.
  const minResults = Math.max(3, Math.floor(body / 3));
  let clusterH = Math.min(o.clusterWants, Math.max(3, body - minResults - (o.traceOn ? 3 : 0)));
  let traceH = o.traceOn ? Math.max(3, Math.min(Math.floor(body * 0.3), body - clusterH - minResults)) : 0;
  if (clusterH + traceH + minResults > body) {
    traceH = o.traceOn ? Math.max(0, body - clusterH - minResults) : 0;
    if (clusterH + traceH + minResults > body) clusterH = Math.max(1, body - traceH - minResults);
  }
  return {
    mode: 'stacked',
    width,
    height,
    banners,
    cluster: { width, height: clusterH },
    trace: o.traceOn && traceH > 0 ? { width, height: traceH } : undefined,
    results: { width, height: body - clusterH - traceH },
    sideWidth: 0,
  };
}
