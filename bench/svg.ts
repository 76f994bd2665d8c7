/**
 * A hand-written SVG line chart: request latency (p50 and p99) against the
 * number of concurrent clients, on a logarithmic time axis, with the two-hop
 * floor as a dashed line. No chart library; plain strings.
 */

export interface ChartPoint {
  readonly clients: number;
  readonly p50: number;
  readonly p99: number;
  readonly opsPerSec?: number | undefined;
}

export interface ChartOptions {
  readonly title?: string | undefined;
  /** The two-hop socket.io median, drawn as a reference line. */
  readonly floorMs?: number | undefined;
  readonly width?: number | undefined;
  readonly height?: number | undefined;
}

/** Escapes text for use in XML content and attribute values. */
export function xmlEscape(s: string): string {
  return s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' })[c]!);
}

function fmt(x: number): string {
  return (Math.round(x * 10) / 10).toString();
}

/** Tick values 1, 2, 5 × 10^k covering [lo, hi]. */
export function logTicks(lo: number, hi: number): number[] {
  const out: number[] = [];
  for (let e = Math.floor(Math.log10(lo)); e <= Math.ceil(Math.log10(hi)); e++) {
    for (const m of [1, 2, 5]) {
      const v = m * 10 ** e;
      if (v >= lo * 0.999 && v <= hi * 1.001) out.push(Number(v.toPrecision(3)));
    }
  }
  return out;
}

function label(v: number): string {
  return v >= 1 ? `${v}` : v.toPrecision(1);
}

export function latencyChart(points: readonly ChartPoint[], o: ChartOptions = {}): string {
  const W = o.width ?? 640;
  const H = o.height ?? 400;
  const m = { left: 64, right: 120, top: 48, bottom: 64 };
  const pw = W - m.left - m.right;
  const ph = H - m.top - m.bottom;
  const title = o.title ?? 'Request latency against concurrent clients';
  const parts: string[] = [];
  parts.push(`<?xml version="1.0" encoding="UTF-8"?>`);
  parts.push(
    `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" viewBox="0 0 ${W} ${H}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
  );
  parts.push(`<title>${xmlEscape(title)}</title>`);
  parts.push(`<rect x="0" y="0" width="${W}" height="${H}" fill="#ffffff"/>`);
  parts.push(`<text x="${W / 2}" y="24" text-anchor="middle" font-size="15" font-weight="bold">${xmlEscape(title)}</text>`);

  const pts = points.filter((p) => Number.isFinite(p.p50) && Number.isFinite(p.p99) && p.p50 > 0 && p.p99 > 0);
  if (pts.length === 0) {
    parts.push(`<text x="${W / 2}" y="${H / 2}" text-anchor="middle">no measurements</text>`);
    parts.push('</svg>');
    return `${parts.join('\n')}\n`;
  }
  const values = pts.flatMap((p) => [p.p50, p.p99]);
  if (o.floorMs && o.floorMs > 0) values.push(o.floorMs);
  const lo = 10 ** Math.floor(Math.log10(Math.min(...values)));
  const hi = 10 ** Math.ceil(Math.log10(Math.max(...values)));
  const y = (v: number) => m.top + ph - ((Math.log10(v) - Math.log10(lo)) / (Math.log10(hi) - Math.log10(lo))) * ph;
  const inset = 28; // keeps the end markers off the axes
  const xs = pts.map((_, i) => m.left + (pts.length === 1 ? pw / 2 : inset + (i * (pw - 2 * inset)) / (pts.length - 1)));

  // Axes and grid.
  parts.push(`<g stroke="#cccccc" stroke-width="1">`);
  for (const t of logTicks(lo, hi)) parts.push(`<line x1="${m.left}" y1="${fmt(y(t))}" x2="${m.left + pw}" y2="${fmt(y(t))}"/>`);
  parts.push(`</g>`);
  parts.push(`<g fill="#333333" text-anchor="end">`);
  for (const t of logTicks(lo, hi)) parts.push(`<text x="${m.left - 6}" y="${fmt(y(t) + 4)}">${xmlEscape(label(t))}</text>`);
  parts.push(`</g>`);
  parts.push(`<line x1="${m.left}" y1="${m.top}" x2="${m.left}" y2="${m.top + ph}" stroke="#333333"/>`);
  parts.push(`<line x1="${m.left}" y1="${m.top + ph}" x2="${m.left + pw}" y2="${m.top + ph}" stroke="#333333"/>`);
  parts.push(`<g fill="#333333" text-anchor="middle">`);
  pts.forEach((p, i) => {
    parts.push(`<text x="${fmt(xs[i]!)}" y="${m.top + ph + 18}">${p.clients}</text>`);
    if (p.opsPerSec !== undefined) parts.push(`<text x="${fmt(xs[i]!)}" y="${m.top + ph + 32}" fill="#777777" font-size="10">${Math.round(p.opsPerSec)} ops/s</text>`);
  });
  parts.push(`</g>`);
  parts.push(`<text x="${m.left + pw / 2}" y="${H - 12}" text-anchor="middle">concurrent clients</text>`);
  parts.push(
    `<text x="16" y="${m.top + ph / 2}" text-anchor="middle" transform="rotate(-90 16 ${m.top + ph / 2})">latency (ms, log scale)</text>`,
  );

  // Floor.
  if (o.floorMs && o.floorMs > 0) {
    const fy = fmt(y(o.floorMs));
    parts.push(`<line x1="${m.left}" y1="${fy}" x2="${m.left + pw}" y2="${fy}" stroke="#888888" stroke-dasharray="5,4"/>`);
    parts.push(`<text x="${m.left + pw + 6}" y="${Number(fy) + 4}" fill="#666666">two-hop floor</text>`);
  }

  // Series.
  const series = [
    { key: 'p99' as const, colour: '#d62728', name: 'p99' },
    { key: 'p50' as const, colour: '#1f77b4', name: 'p50' },
  ];
  for (const s of series) {
    const path = pts.map((p, i) => `${fmt(xs[i]!)},${fmt(y(p[s.key]))}`).join(' ');
    parts.push(`<polyline points="${path}" fill="none" stroke="${s.colour}" stroke-width="2"/>`);
    pts.forEach((p, i) => {
      parts.push(`<circle cx="${fmt(xs[i]!)}" cy="${fmt(y(p[s.key]))}" r="4" fill="${s.colour}"><title>${xmlEscape(`${p.clients} clients: ${s.name} ${p[s.key].toFixed(2)} ms`)}</title></circle>`);
    });
    const last = pts[pts.length - 1]!;
    parts.push(`<text x="${m.left + pw + 6}" y="${fmt(y(last[s.key]) + 4)}" fill="${s.colour}" font-weight="bold">${s.name} ${xmlEscape(last[s.key].toFixed(2))} ms</text>`);
  }
  parts.push('</svg>');
  return `${parts.join('\n')}\n`;
}
