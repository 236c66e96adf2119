// The benchmark's Playwright system (c): the ten-step workload through playwright-core, one
// shared browser (the same Chromium binary as every other system, never a download) and a
// fresh context per run. Spawned by bench_runs; prints one JSON line per run, one when the
// measured loop starts (after the warm-up) and one at the end.
//
// usage: node playwright.mjs PLAYWRIGHT_DIR CHROMIUM BASE_URL CONCURRENCY RUNS
import { createRequire } from 'node:module';

const [pwDir, executablePath, base, concurrencyArg, runsArg] = process.argv.slice(2);
const require = createRequire(`${pwDir}/package.json`);
const { chromium } = require('playwright-core');
const concurrency = Number(concurrencyArg);
const runs = Number(runsArg);

const emit = (line) => process.stdout.write(`${JSON.stringify(line)}\n`);

async function runOnce(browser) {
  const started = performance.now();
  const context = await browser.newContext({ viewport: { width: 1280, height: 720 } });
  try {
    const page = await context.newPage();
    const firstActionMs = performance.now() - started;
    const steps = [];
    const step = async (work) => {
      const t = performance.now();
      const value = await work();
      steps.push(performance.now() - t);
      return value;
    };
    await step(() => page.goto(`${base}/`));
    await step(() => page.selectOption('#pick', 'b'));
    await step(() => Promise.all([page.waitForURL('**/form'), page.click('#next')]));
    await step(() => page.fill('#name', 'Ada'));
    await step(() => page.click('#go'));
    await step(() => page.waitForSelector('#out', { state: 'visible' }));
    const greeting = await step(() => page.textContent('#out'));
    await step(() => page.evaluate('document.title'));
    await step(() => page.screenshot({ type: 'jpeg', quality: 55 }));
    await step(() => page.goto(`${base}/`));
    if (greeting !== 'Hello, Ada') {
      throw new Error(`extract: #out reads ${JSON.stringify(greeting)}, not "Hello, Ada"`);
    }
    await context.close();
    return { ok: true, wall_ms: performance.now() - started, first_action_ms: firstActionMs, steps };
  } catch (error) {
    await context.close().catch(() => {});
    return { ok: false, error: String(error && error.message ? error.message : error) };
  }
}

const browser = await chromium.launch({
  executablePath,
  headless: true,
  args: ['--no-sandbox', '--disable-gpu', '--no-first-run'],
});
try {
  emit({ kind: 'version', version: browser.version() });
  const warmup = await runOnce(browser);
  if (!warmup.ok) {
    emit({ kind: 'run', warmup: true, ...warmup });
  }
  emit({ kind: 'loop' });
  let next = 0;
  const started = performance.now();
  const worker = async () => {
    while (next < runs) {
      next += 1;
      emit({ kind: 'run', ...(await runOnce(browser)) });
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  emit({ kind: 'done', wall_ms: performance.now() - started });
} finally {
  await browser.close();
}
