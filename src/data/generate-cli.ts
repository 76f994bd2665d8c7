/**
 * `npm run data [-- --seed N] [-- --out PATH]`: writes the generated default
 * data file (data/data.sqlite unless --out). Same seed ⇒ same bytes.
 */
import { mkdirSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { buildDataFile, DEFAULT_SEED, generateDataset, sha256 } from './generate.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
const usage = 'usage: npm run data -- [--seed N] [--out PATH]   (default: seed 1995, out data/data.sqlite)';

function parseArgs(argv: string[]): { seed: number; out: string } {
  let seed = DEFAULT_SEED;
  let out = path.join(root, 'data', 'data.sqlite');
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const value = () => {
      const v = argv[++i];
      if (v === undefined) throw new Error(`${a} needs a value\n${usage}`);
      return v;
    };
    if (a === '--seed') {
      seed = Number(value());
      if (!Number.isSafeInteger(seed)) throw new Error(`--seed must be a whole number\n${usage}`);
    } else if (a === '--out') out = path.resolve(value());
    else if (a === '--help' || a === '-h') {
      console.log(usage);
      process.exit(0);
    } else throw new Error(`unknown argument ${a}\n${usage}`);
  }
  return { seed, out };
}

async function main(): Promise<void> {
  const { seed, out } = parseArgs(process.argv.slice(2));
  const t0 = performance.now();
  const data = generateDataset({ seed });
  const bytes = await buildDataFile(data);
  mkdirSync(path.dirname(out), { recursive: true });
  const tmp = path.join(path.dirname(out), `.${path.basename(out)}.${process.pid}.tmp`);
  try {
    writeFileSync(tmp, bytes);
    renameSync(tmp, out);
  } catch (err) {
    rmSync(tmp, { force: true });
    throw err;
  }
  const ms = performance.now() - t0;
  const users = new Set(data.ratings.map((r) => r.userId)).size;
  console.log(
    `wrote ${path.relative(process.cwd(), out) || out}: ${data.movies.length} movies, ${data.ratings.length} ratings by ${users} users, ` +
      `${(bytes.length / 1e6).toFixed(2)} MB, seed ${seed}, sha256 ${sha256(bytes)}, ${ms.toFixed(0)} ms`,
  );
}

main().catch((err: unknown) => {
  console.error(`data: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
