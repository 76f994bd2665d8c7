/**
 * Draws the UI once (80x24, after `avg 1`) and prints the raw frame,
 * escape codes included. Colour follows NO_COLOR exactly as `runUi` does.
 * Run in a child process by views.test.tsx, so FORCE_COLOR is seen by the
 * colour library before it loads.
 */
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { render } from 'ink-testing-library';
import { App } from '../../src/client/ui/App.js';
import { colorAllowed } from '../../src/client/ui/run-ui.js';
import { FakeSession } from './fake-session.js';

// Only when run as a program (a test runner given no file pattern would import it too).
if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  const session = new FakeSession();
  session.status.set('rm2', 'OFFLINE');
  const quiet = { info() {}, warn() {}, error() {} };
  const inst = render(<App session={session} history={[]} log={quiet} color={colorAllowed()} columns={80} rows={24} traceOn={true} />);
  for (const ch of 'avg 1') inst.stdin.write(ch);
  inst.stdin.write('\r');
  const deadline = Date.now() + 15_000;
  const drawn = () => {
    const f = inst.lastFrame() ?? '';
    return f.includes('3.92') && f.includes('ACTIVE');
  };
  while (!drawn() && Date.now() < deadline) await new Promise((r) => setTimeout(r, 10));
  process.stdout.write(inst.lastFrame() ?? '');
  inst.unmount();
  process.exit(0);
}
