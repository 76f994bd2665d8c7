/**
 * The hand-written latency chart is well-formed XML and shows what it claims.
 */
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { latencyChart, logTicks, xmlEscape } from '../../bench/svg.js';

const test = suite('bench svg chart');

/**
 * A small well-formedness check: one root element, every tag closed in order,
 * attributes quoted, no raw '<' or stray '&' in text or attribute values.
 * Returns the element names in document order.
 */
function wellFormed(xml: string): string[] {
  let s = xml.replace(/^<\?xml[^?]*\?>\s*/, '');
  const names: string[] = [];
  const stack: string[] = [];
  let roots = 0;
  const entity = /&(?!(amp|lt|gt|quot|apos|#\d+|#x[0-9a-fA-F]+);)/;
  while (s.length > 0) {
    const lt = s.indexOf('<');
    const text = lt < 0 ? s : s.slice(0, lt);
    if (entity.test(text)) throw new Error(`stray & in text: ${text.slice(0, 40)}`);
    if (stack.length === 0 && text.trim() !== '') throw new Error(`text outside the root: ${text.slice(0, 40)}`);
    if (lt < 0) break;
    s = s.slice(lt);
    const close = /^<\/([A-Za-z][\w:.-]*)\s*>/.exec(s);
    if (close) {
      const open = stack.pop();
      if (open !== close[1]) throw new Error(`</${close[1]}> closes <${open}>`);
      s = s.slice(close[0].length);
      continue;
    }
    const tag = /^<([A-Za-z][\w:.-]*)((?:\s+[A-Za-z_:][\w:.-]*="[^"<]*")*)\s*(\/?)>/.exec(s);
    if (!tag) throw new Error(`malformed tag at: ${s.slice(0, 60)}`);
    const attrs = tag[2] ?? '';
    if (entity.test(attrs)) throw new Error(`stray & in attributes of <${tag[1]}>`);
    const seen = new Set<string>();
    for (const m of attrs.matchAll(/([A-Za-z_:][\w:.-]*)=/g)) {
      if (seen.has(m[1]!)) throw new Error(`attribute ${m[1]} twice in <${tag[1]}>`);
      seen.add(m[1]!);
    }
    if (stack.length === 0) roots++;
    names.push(tag[1]!);
    if (tag[3] !== '/') stack.push(tag[1]!);
    s = s.slice(tag[0].length);
  }
  if (stack.length) throw new Error(`unclosed: ${stack.join(' > ')}`);
  if (roots !== 1) throw new Error(`${roots} root elements`);
  return names;
}

const points = [
  { clients: 1, p50: 0.8, p99: 3.1, opsPerSec: 1200 },
  { clients: 4, p50: 1.4, p99: 6.5, opsPerSec: 2800 },
  { clients: 16, p50: 4.2, p99: 25, opsPerSec: 3800 },
];

test('the chart is well-formed SVG with a line and a marker per point for p50 and p99', () => {
  const svg = latencyChart(points, { floorMs: 0.3 });
  const names = wellFormed(svg);
  assert.is(names[0], 'svg');
  assert.match(svg, /xmlns="http:\/\/www\.w3\.org\/2000\/svg"/);
  assert.is(names.filter((n) => n === 'polyline').length, 2);
  assert.is(names.filter((n) => n === 'circle').length, 6);
  assert.match(svg, /p50 4\.20 ms/);
  assert.match(svg, /p99 25\.00 ms/);
  assert.match(svg, /two-hop floor/);
  assert.match(svg, /3800 ops\/s/);
});

test('titles with markup characters are escaped', () => {
  const svg = latencyChart(points, { title: 'a < b & "c"' });
  wellFormed(svg);
  assert.match(svg, /a &lt; b &amp; &quot;c&quot;/);
  assert.is(xmlEscape(`<&>"'`), '&lt;&amp;&gt;&quot;&apos;');
});

test('no usable points still gives a well-formed chart saying so', () => {
  const svg = latencyChart([{ clients: 1, p50: NaN, p99: 0 }]);
  wellFormed(svg);
  assert.match(svg, /no measurements/);
  wellFormed(latencyChart([]));
});

test('one point and huge ranges stay well-formed and inside the canvas', () => {
  for (const pts of [[points[0]!], [{ clients: 1, p50: 0.01, p99: 5000 }, { clients: 2, p50: 0.02, p99: 9000 }]]) {
    const svg = latencyChart(pts, { width: 500, height: 300 });
    wellFormed(svg);
    for (const m of svg.matchAll(/c([xy])="(-?[\d.]+)"/g)) {
      const v = Number(m[2]);
      assert.ok(v >= 0 && v <= (m[1] === 'x' ? 500 : 300), `${m[0]} inside the canvas`);
    }
  }
});

test('log ticks are 1, 2, 5 steps within the range', () => {
  assert.equal(logTicks(0.1, 10), [0.1, 0.2, 0.5, 1, 2, 5, 10]);
  assert.equal(logTicks(1, 100), [1, 2, 5, 10, 20, 50, 100]);
});

test('the checker itself rejects broken XML', () => {
  assert.throws(() => wellFormed('<svg><g></svg>'));
  assert.throws(() => wellFormed('<svg a=1></svg>'));
  assert.throws(() => wellFormed('<svg>a & b</svg>'));
  assert.throws(() => wellFormed('<svg/><svg/>'));
  assert.throws(() => wellFormed('<svg a="1" a="2"/>'));
});

test.run();
