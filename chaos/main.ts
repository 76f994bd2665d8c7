/**
 * npm run chaos -- [--duration S] [--seed N] [--intensity X] [--min-availability P] [--quiet]
 *
 * Runs a naming service, 2 front ends and 4 replicas as real processes on
 * loopback, 8 clients, and a seeded plan of faults for S seconds (default
 * 60); heals, checks the history, prints a summary. Exit status 0 when the
 * checker found nothing, 1 on any violation (the summary names the seed to
 * replay), 2 on bad flags, 3 if the run itself could not be carried out.
 */
import { realpathSync } from 'node:fs';
import { pathToFileURL } from 'node:url';
import { formatSummary, runChaos } from './run.js';

export const USAGE = `usage: npm run chaos -- [--duration S] [--seed N] [--intensity X] [--min-availability P] [--quiet]

  --duration S          seconds of faults and client load (default 60)
  --seed N              seed of the fault plan and the workload (default: random)
  --intensity X         how often faults come, 1 = default, 2 = twice as often
  --min-availability P  lowest acceptable share of ok replies while at most one
                        replica is down, 0 to 1 (default 0.8)
  --quiet               print only the summary
  --sabotage forget-session
                        break the clients on purpose (they send an empty session
                        timestamp) to see the checker catch it`;

export interface ChaosArgs {
  durationS: number;
  seed: number;
  intensity: number;
  minAvailability: number;
  quiet: boolean;
  sabotage?: 'forget-session' | undefined;
}

export function parseChaosArgs(argv: readonly string[]): ChaosArgs | { error: string } | 'help' {
  const out: ChaosArgs = { durationS: 60, seed: Math.floor(Math.random() * 2 ** 31), intensity: 1, minAvailability: 0.8, quiet: false };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i]!;
    if (a === '--help' || a === '-h') return 'help';
    if (a === '--quiet') {
      out.quiet = true;
      continue;
    }
    const eq = a.indexOf('=');
    const flag = eq > 0 ? a.slice(0, eq) : a;
    const value = eq > 0 ? a.slice(eq + 1) : argv[++i];
    if (!['--duration', '--seed', '--intensity', '--min-availability', '--sabotage'].includes(flag)) return { error: `unknown argument ${a}` };
    if (value === undefined) return { error: `${flag} needs a value` };
    if (flag === '--sabotage') {
      if (value !== 'forget-session') return { error: `--sabotage knows only forget-session, got ${value}` };
      out.sabotage = value;
      continue;
    }
    const n = Number(value);
    switch (flag) {
      case '--duration':
        if (!Number.isFinite(n) || n < 5 || n > 86_400) return { error: `--duration must be 5 to 86400 seconds, got ${value}` };
        out.durationS = n;
        break;
      case '--seed':
        if (!/^\d+$/.test(value) || n > 2 ** 32 - 1) return { error: `--seed must be a whole number from 0 to 4294967295, got ${value}` };
        out.seed = n;
        break;
      case '--intensity':
        if (!Number.isFinite(n) || n <= 0 || n > 20) return { error: `--intensity must be above 0 and at most 20, got ${value}` };
        out.intensity = n;
        break;
      case '--min-availability':
        if (!Number.isFinite(n) || n < 0 || n > 1) return { error: `--min-availability must be 0 to 1, got ${value}` };
        out.minAvailability = n;
        break;
    }
  }
  return out;
}

export async function main(argv: readonly string[]): Promise<number> {
  const args = parseChaosArgs(argv);
  if (args === 'help') {
    process.stdout.write(`${USAGE}\n`);
    return 0;
  }
  if ('error' in args) {
    process.stderr.write(`chaos: ${args.error}\n${USAGE}\n`);
    return 2;
  }
  try {
    const summary = await runChaos({
      seed: args.seed,
      durationMs: args.durationS * 1000,
      intensity: args.intensity,
      minAvailability: args.minAvailability,
      sabotage: args.sabotage,
      log: args.quiet ? undefined : (line) => process.stdout.write(`${line}\n`),
    });
    process.stdout.write(`${formatSummary(summary)}\n`);
    return summary.ok ? 0 : 1;
  } catch (e) {
    process.stderr.write(`chaos: the run could not be carried out (seed ${args.seed}): ${(e as Error).stack ?? String(e)}\n`);
    return 3;
  }
}

function isMain(): boolean {
  const entry = process.argv[1];
  if (!entry) return false;
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href;
  } catch {
    return false;
  }
}

if (isMain()) {
  const code = await main(process.argv.slice(2));
  // Sessions and sockets are closed; exit even if a stray timer is left.
  process.exit(code);
}
