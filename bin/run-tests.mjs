#!/usr/bin/env node
// Runs every uvu test file under tests/ (TypeScript through tsx) and ends
// with the line "N passed, N failed" counting test cases.
// Usage: node --import tsx bin/run-tests.mjs [pattern]
import { spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import path from 'node:path';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const pattern = process.argv[2] ?? '\\.test\\.tsx?$';
const env = { ...process.env };
// ink renders nothing until exit when CI=true; terminal tests need it unset.
delete env.CI;
const child = spawn(
  process.execPath,
  ['--import', 'tsx', path.join(root, 'node_modules/uvu/bin.js'), 'tests', pattern],
  { cwd: root, env, stdio: ['ignore', 'pipe', 'inherit'] },
);
let out = '';
child.stdout.on('data', (chunk) => {
  process.stdout.write(chunk);
  out += chunk.toString();
  if (out.length > 1_000_000) out = out.slice(-100_000);
});
child.on('close', (code, signal) => {
  // uvu's summary: "Total: N", "Passed: N", "Skipped: N" (with ANSI colours).
  const plain = out.replace(/\x1b\[[0-9;]*m/g, '');
  const total = Number(/Total:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
  const passed = Number(/Passed:\s+(\d+)/.exec(plain)?.[1] ?? NaN);
  const skipped = Number(/Skipped:\s+(\d+)/.exec(plain)?.[1] ?? 0);
  if (!Number.isFinite(total) || !Number.isFinite(passed)) {
    console.log(`\n0 passed, 1 failed`);
    console.error(`test runner ended without a summary (exit ${code}, signal ${signal})`);
    process.exit(1);
  }
  const failed = total - passed - skipped;
  const ok = code === 0 && failed === 0;
  console.log(`\n${passed} passed, ${ok ? failed : Math.max(failed, 1)} failed${skipped ? `, ${skipped} skipped` : ''}`);
  process.exit(ok ? 0 : 1);
});
