import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const SRC = fileURLToPath(new URL('../../../src', import.meta.url));

/**
 * The floors of docs/concepts.md, top to bottom: imports point down (or stay on their floor), never
 * up. The composition (cli, app and the library entry) assembles everything; config, events and the
 * small shared modules sit at the bottom.
 */
const FLOORS: Record<string, number> = {
  'index.ts': 7,
  cli: 7,
  app: 7,
  demo: 7,
  doctor: 7,
  web: 6,
  daemon: 5,
  sandbox: 4,
  tokens: 3,
  sources: 2,
  store: 1,
  config: 0,
  events: 0,
  log: 0,
  async: 0,
  fs: 0,
  'errors.ts': 0,
  'names.ts': 0,
  'exit-codes.ts': 0,
};

async function sourceFiles(dir: string): Promise<string[]> {
  const entries = await readdir(dir, { withFileTypes: true, recursive: true });
  return entries
    .filter((entry) => entry.isFile() && entry.name.endsWith('.ts'))
    .map((entry) => path.join(entry.parentPath, entry.name));
}

function areaOf(file: string): string {
  return path.relative(SRC, file).split(path.sep)[0]!;
}

/** Relative imports and re-exports, static or dynamic. */
function importsOf(text: string): string[] {
  const found = [
    ...text.matchAll(/(?:^|\n)\s*(?:import|export)\b[^'"]*?from\s+'(\.[^']+)'/g),
    ...text.matchAll(/\bimport\(\s*'(\.[^']+)'\s*\)/g),
  ];
  return found.map((match) => match[1]!);
}

describe('the import graph', () => {
  it('has a floor for every part of src/', async () => {
    const areas = new Set((await sourceFiles(SRC)).map(areaOf));
    expect([...areas].filter((area) => !(area in FLOORS))).toEqual([]);
  });

  it('points one way: no module imports from a floor above its own', async () => {
    const upward: string[] = [];
    for (const file of await sourceFiles(SRC)) {
      const from = areaOf(file);
      for (const specifier of importsOf(await readFile(file, 'utf8'))) {
        const target = path.resolve(path.dirname(file), specifier);
        const to = areaOf(target);
        if (to !== from && FLOORS[to]! > FLOORS[from]!) {
          upward.push(`${path.relative(SRC, file)} -> ${path.relative(SRC, target)}`);
        }
      }
    }
    expect(upward).toEqual([]);
  });

  it('reads imports the way the check needs (a guard against a check that sees nothing)', () => {
    const text =
      "import { a } from '../web/x.js';\nexport type { B } from './b.js';\nconst c = await import('../app/c.js');";
    expect(importsOf(text)).toEqual(['../web/x.js', './b.js', '../app/c.js']);
  });
});
