/**
 * Plain-text results: what people read for a few typical results, and that no
 * text from the data or from users can drive the terminal.
 */
import fc from 'fast-check';
import { suite } from 'uvu';
import * as assert from 'uvu/assert';
import { movieId, userId, type ReplicaId } from '../../src/core/ids.js';
import type { VTS } from '../../src/core/vts.js';
import type { CommandResult } from '../../src/client/commands.js';
import { formatResult, formatTrace, sanitize, stars } from '../../src/client/format.js';

const clean = suite('sanitize');

clean('strips CSI sequences (colours, cursor moves, erase) in 7- and 8-bit form', () => {
  assert.is(sanitize('a\x1b[31mred\x1b[0m b'), 'ared b');
  assert.is(sanitize('x\x1b[2J\x1b[H\x1b[10;20Hy'), 'xy');
  assert.is(sanitize('x\x1b[?25ly'), 'xy');
  assert.is(sanitize('x\x9b31my'), 'xy');
  assert.is(sanitize('cut at the end \x1b['), 'cut at the end ');
});

clean('strips OSC and other string sequences, terminated by BEL or ST, or unterminated', () => {
  assert.is(sanitize('a\x1b]0;evil title\x07b'), 'ab');
  assert.is(sanitize('a\x1b]8;;http://x\x1b\\link\x1b]8;;\x1b\\b'), 'alinkb');
  assert.is(sanitize('a\x1bPq#0;2;0;0;0\x1b\\b'), 'ab');
  assert.is(sanitize('a\x9d0;t\x9cb'), 'ab');
  assert.is(sanitize('a\x1b]52;c;aGVsbG8='), 'a');
});

clean('strips other escapes, C0 and C1 controls and DEL; tabs and newlines become spaces', () => {
  assert.is(sanitize('a\x1bcb'), 'ab');
  assert.is(sanitize('a\x1b(Bb'), 'ab');
  assert.is(sanitize('bell\x07 back\x08space\x00nul\x7f'), 'bell backspacenul');
  assert.is(sanitize('c1\x85\x8d\x9fend'), 'c1end');
  assert.is(sanitize('two\nlines\r\tand tab'), 'two lines and tab');
  assert.is(sanitize('keep\nnewlines\r\n', { keepNewlines: true }), 'keep\nnewlines\n');
  assert.is(sanitize('lone \x1b'), 'lone ');
});

clean('strips explicit bidirectional controls', () => {
  assert.is(sanitize('abc\u202edcba\u202c'), 'abcdcba');
  assert.is(sanitize('x\u2066y\u2069'), 'xy');
});

clean('keeps ordinary Unicode', () => {
  for (const s of ['Amélie (2001)', 'Léon: The Professional', '千と千尋の神隠し (2001)', 'Ελληνικά', 'Здравствуйте', '🎬 Movie night', 'שלום', 'half ½ star ★☆', "Heist, The (1999) — \"quoted\" 'x'"]) {
    assert.is(sanitize(s), s);
  }
});

clean('for any text, the result has no control character left and keeps every printable character of plain text', () => {
  const ctl = fc.constantFrom('\x1b', '\x1b[', '\x1b]', '\x07', '\x9b', '\x9d', '\x9c', '\x00', '\x7f', '\x85', ';', '[', ']', '\\', 'm', 'H');
  fc.assert(
    fc.property(fc.array(fc.oneof(ctl, fc.string(), fc.string({ unit: 'grapheme' })), { maxLength: 30 }), (parts) => {
      const out = sanitize(parts.join(''));
      return !/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/.test(out);
    }),
    { numRuns: 2000 },
  );
  fc.assert(
    fc.property(fc.string({ unit: 'grapheme' }), (t) => {
      const plain = t.replace(/[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069]/g, '');
      return sanitize(plain) === plain;
    }),
    { numRuns: 2000 },
  );
});

clean('non-strings are shown as text', () => {
  assert.is(sanitize(42), '42');
  assert.is(sanitize(null), 'null');
});

const text = suite('formatResult');

const toy = { movieId: 1, title: 'Toy Story (1995)', genres: ['Adventure', 'Animation'], average: 3.9913, count: 231 };

text('a movie: title, genres, average with 2 decimals and as stars, count', () => {
  assert.is(
    formatResult({ kind: 'movie', ...toy }),
    ['Toy Story (1995) [#1]', '  genres:  Adventure, Animation', '  average: 3.99 ★★★★☆ from 231 ratings'].join('\n'),
  );
  assert.is(formatResult({ kind: 'movie', ...toy, genres: [], average: null, count: 0 }), ['Toy Story (1995) [#1]', '  genres:  (none listed)', '  average: no ratings yet'].join('\n'));
});

text('avg, get, rated and deleted are one line each', () => {
  assert.is(formatResult({ kind: 'avg', movieId: 1, title: 'Toy Story (1995)', average: 3.5, count: 2 }), 'Toy Story (1995) [#1]: average 3.50 ★★★½☆ from 2 ratings');
  assert.is(formatResult({ kind: 'avg', movieId: 1, title: 'Toy Story (1995)', average: 5, count: 1 }), 'Toy Story (1995) [#1]: average 5.00 ★★★★★ from 1 rating');
  assert.is(formatResult({ kind: 'get', userId: 42, movieId: 1, title: 'T (1)', rating: 4.5, timestamp: 1537800000 }), 'your rating of T (1) [#1]: 4.5 ★★★★½ (rated 2018-09-24 14:40 UTC)');
  assert.is(formatResult({ kind: 'get', userId: 42, movieId: 1, title: 'T (1)', rating: null, timestamp: null }), 'you have not rated T (1) [#1]');
  assert.is(formatResult({ kind: 'rated', movieId: 1, title: 'T (1)', rating: 4, timestamp: 0, uid: 'u' }), 'rated T (1) [#1]: 4.0 ★★★★☆');
  assert.is(
    formatResult({ kind: 'rated', movieId: 1, title: 'T (1)', rating: 4, timestamp: 0, uid: 'u', warning: 'only rm1.a logged this update' }),
    'rated T (1) [#1]: 4.0 ★★★★☆\n  note: only rm1.a logged this update',
  );
  assert.is(formatResult({ kind: 'deleted', movieId: 1, title: 'T (1)', timestamp: 0, uid: 'u' }), 'deleted your rating of T (1) [#1] (if you had one)');
});

text('lists are aligned tables', () => {
  const r: CommandResult = {
    kind: 'search',
    words: 'toy',
    movies: [
      { movieId: movieId(1), title: 'Toy Story (1995)', genres: ['Animation', 'Comedy'] },
      { movieId: movieId(2175), title: 'Toy, The (1998)', genres: [] },
    ],
    total: 2,
  };
  assert.is(
    formatResult(r),
    ['2 movies match "toy":', '    id  genres             title', '     1  Animation, Comedy  Toy Story (1995)', '  2175  –                  Toy, The (1998)'].join('\n'),
  );
  assert.is(formatResult({ ...r, total: 40 }).split('\n')[0], '40 movies match "toy" (showing the first 2; add words or --genre to narrow it):');
  assert.is(formatResult({ ...r, movies: [], total: 0 }), 'no movie matches "toy"');
  const mine: CommandResult = {
    kind: 'ratings',
    userId: userId(42),
    mine: true,
    ratings: [
      { movieId: movieId(1), title: 'Toy Story (1995)', rating: 4.5, timestamp: 1537800000 },
      { movieId: movieId(12), title: 'Diary, The (1969)', rating: 3, timestamp: 828000000 },
    ],
  };
  assert.is(
    formatResult(mine),
    ['you have rated 2 movies:', '  id  rating         date        title', '   1     4.5  ★★★★½  2018-09-24  Toy Story (1995)', '  12     3.0  ★★★☆☆  1996-03-28  Diary, The (1969)'].join('\n'),
  );
  assert.is(formatResult({ ...mine, mine: false, userId: 7, ratings: [] }), 'user 7 has rated no movies');
});

text('an ambiguous title lists the candidates with a way forward', () => {
  const out = formatResult({
    kind: 'choose',
    command: 'rate',
    query: 'hamlet',
    candidates: [
      { movieId: 4, title: 'Hamlet (1990)' },
      { movieId: 5, title: 'Hamlet (1996)' },
    ],
    total: 2,
  });
  assert.is(out, ['"hamlet" matches 2 movies; say which one by id, e.g. rate 4 4:', '  id  title', '   4  Hamlet (1990)', '   5  Hamlet (1996)'].join('\n'));
});

text('errors show the message and what to do next', () => {
  assert.is(formatResult({ kind: 'error', code: 'UNKNOWN_MOVIE', message: 'there is no movie with id 99', hint: 'search for it: search WORDS' }), 'error: there is no movie with id 99\n  search for it: search WORDS');
});

text('the cluster status is a table of replicas and front ends', () => {
  const ts = { 'rm1.a': 3, 'rm2.b': 1 } as unknown as VTS;
  const out = formatResult({
    kind: 'status',
    view: {
      via: 'fe1',
      at: 10_000,
      replicas: [
        { name: 'rm2', id: 'rm2.b' as ReplicaId, url: 'http://x', status: 'OFFLINE', phase: 'serving', valueTS: ts, replicaTS: ts, logLength: 4, executed: 4, lag: 0, lastGossipAt: 9_900 },
        { name: 'rm1', id: 'rm1.a' as ReplicaId, url: 'http://y', status: 'ACTIVE', phase: 'recovering', valueTS: {} as VTS, replicaTS: {} as VTS, logLength: 12, executed: 0, lag: 4, lastGossipAt: null },
      ],
      frontends: [{ name: 'fe1', url: 'http://127.0.0.1:1', prev: ts }],
    },
  });
  assert.is(
    out,
    [
      '2 replicas (as seen by fe1):',
      '  name  id     status   phase       log  lag  gossip      valueTS',
      '  rm1   rm1.a  ACTIVE   recovering   12    4  never       ∅',
      '  rm2   rm2.b  OFFLINE  serving       4    0  100 ms ago  rm1.a:3 rm2.b:1',
      '1 front end:',
      '  name  url                 prev',
      '  fe1   http://127.0.0.1:1  rm1.a:3 rm2.b:1',
    ].join('\n'),
  );
});

text('help lists every command; help COMMAND explains one with an example', () => {
  const one = formatResult({ kind: 'help', topic: 'rate', entries: [{ name: 'rate', usage: 'rate ID|TITLE STARS', example: 'rate 1 4.5', explains: 'rate a movie' }] });
  assert.is(one, 'rate ID|TITLE STARS\n  rate a movie\n  example: rate 1 4.5');
});

text('titles and messages from elsewhere cannot reach the terminal as controls', () => {
  const evil = 'Evil\x1b]0;pwned\x07 \x1b[2JMovie\x9b1m (2000)';
  for (const r of [
    formatResult({ kind: 'movie', ...toy, title: evil, genres: ['Dra\x1b[5mma'] }),
    formatResult({ kind: 'search', words: 'x\x1b[1m', movies: [{ movieId: movieId(1), title: evil, genres: [] }], total: 1 }),
    formatResult({ kind: 'error', code: 'X', message: 'bad\x1b[31m', hint: 'h\x07' }),
    formatResult({ kind: 'statusSet', rm: 'rm\x1b[1m1', status: 'ACTIVE' }),
  ]) {
    assert.not.match(r, /[\x00-\x09\x0b-\x1f\x7f-\x9f]/);
  }
});

text('stars round to the nearest half', () => {
  assert.is(stars(0.5), '½☆☆☆☆');
  assert.is(stars(3.74), '★★★½☆');
  assert.is(stars(3.75), '★★★★☆');
  assert.is(stars(5), '★★★★★');
  assert.is(stars(null), '');
});

text('trace events are one readable line', () => {
  const line = formatTrace({ kind: 'gossipSent', rm: 'rm1.a' as ReplicaId, to: 'rm2.b' as ReplicaId, records: 3, at: Date.UTC(2020, 0, 1, 12, 0, 0, 5) });
  assert.is(line, '12:00:00.005 rm1.a gossip → rm2.b: 3 records');
});

clean.run();
text.run();
