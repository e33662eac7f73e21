/**
 * `npm run bench [--json] [name...]`: runs every `bench/*.bench.ts` (or those whose file name contains
 * one of the names) one after another.
 *
 * A benchmark file's default export (or its only exported function) is an async function. It either
 * prints its own output and returns nothing, or returns a `BenchmarkResult` for this runner to print
 * as a table (all of them as one JSON document with `--json`).
 */
import { access, readdir } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { BUILT_CLI_ENV } from '../test/support/cli.js';
import { builtCliEntry } from './process-usage.js';

export interface BenchmarkResult {
  name?: string;
  /** One table row per object; the columns are the keys, in first-seen order. */
  rows: Array<Record<string, string>>;
  /** Lines printed under the table. */
  notes?: string[];
  /** Numbers for machines (printed with --json). */
  metrics?: Record<string, unknown>;
}

type Benchmark = () => Promise<BenchmarkResult | void> | BenchmarkResult | void;

const benchDir = path.dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const json = args.includes('--json');
const wanted = args.filter((arg) => arg !== '--json');
// With --json, stdout carries only the JSON document.
const say = json ? (text: string) => process.stderr.write(`${text}\n`) : (text: string) => console.log(text);

function benchmarkOf(module: Record<string, unknown>): Benchmark | null {
  if (typeof module.default === 'function') return module.default as Benchmark;
  const exported = Object.values(module).filter((value) => typeof value === 'function');
  return exported.length === 1 ? (exported[0] as Benchmark) : null;
}

function isResult(value: unknown): value is BenchmarkResult {
  return typeof value === 'object' && value !== null && Array.isArray((value as BenchmarkResult).rows);
}

/** Columns right-aligned when every value in them looks like a number. */
function renderRows(rows: BenchmarkResult['rows']): string {
  const headers = [...new Set(rows.flatMap((row) => Object.keys(row)))];
  const cells = rows.map((row) => headers.map((header) => row[header] ?? ''));
  const numeric = headers.map((_, column) =>
    cells.every((line) => /^[-\d.,]*[a-z%x ]*$/i.test(line[column]!)),
  );
  const widths = headers.map((header, column) =>
    Math.max(header.length, ...cells.map((line) => line[column]!.length)),
  );
  const format = (line: string[]) =>
    line
      .map((cell, column) =>
        numeric[column] ? cell.padStart(widths[column]!) : cell.padEnd(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  return [format(headers), widths.map((width) => '-'.repeat(width)).join('  '), ...cells.map(format)].join(
    '\n',
  );
}

// Every benchmark that runs `nanoclaw` as a process runs the built CLI, as users do.
process.env[BUILT_CLI_ENV] ??= builtCliEntry();
const built = await access(process.env[BUILT_CLI_ENV]).then(
  () => true,
  () => false,
);
if (!built) {
  console.error(`no built CLI at ${process.env[BUILT_CLI_ENV]}: run \`npm run build\` (npm run bench does)`);
}

const files = (built ? await readdir(benchDir) : [])
  .filter((file) => file.endsWith('.bench.ts'))
  .filter((file) => wanted.length === 0 || wanted.some((name) => file.includes(name)))
  .sort();

if (built && files.length === 0) {
  console.error(`no benchmark in ${benchDir} matches ${wanted.join(', ') || '*.bench.ts'}`);
  process.exitCode = 1;
}

const results: Record<string, unknown> = {};
let failed = 0;
for (const file of files) {
  say(`\n=== ${file} ===`);
  const started = performance.now();
  try {
    const module = (await import(pathToFileURL(path.join(benchDir, file)).href)) as Record<string, unknown>;
    const benchmark = benchmarkOf(module);
    if (!benchmark) throw new Error('expected a default export (or a single exported function) to run');
    const result = await benchmark();
    if (isResult(result)) {
      results[file] = result;
      if (result.name) say(result.name);
      say(renderRows(result.rows));
      if (result.notes?.length) say(`\n${result.notes.join('\n')}`);
    }
    say(`(${file}: ${((performance.now() - started) / 1000).toFixed(1)} s)`);
  } catch (error) {
    failed++;
    results[file] = { error: error instanceof Error ? error.message : String(error) };
    console.error(
      `${file} failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}`,
    );
  }
}
if (json) console.log(JSON.stringify(results, null, 2));
if (failed > 0 || !built) process.exitCode = 1;
