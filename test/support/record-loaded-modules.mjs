// Loaded with `node --import` into a CLI process under test: at exit, writes the path of every module
// the process loaded (ES modules through a load hook, CommonJS from require's cache) to the file
// named by $NANOCLAW_LOADED_MODULES, one a line.
import { appendFileSync, writeFileSync } from 'node:fs';
import process from 'node:process';
import { createRequire, register } from 'node:module';
import { fileURLToPath } from 'node:url';

const record = process.env.NANOCLAW_LOADED_MODULES;
if (record) {
  writeFileSync(record, '');
  const hooks = `
    import { appendFileSync } from 'node:fs';
    import { fileURLToPath } from 'node:url';
    export async function load(url, context, nextLoad) {
      if (url.startsWith('file:')) appendFileSync(${JSON.stringify(record)}, fileURLToPath(url) + '\\n');
      return nextLoad(url, context);
    }`;
  register(`data:text/javascript,${encodeURIComponent(hooks)}`);
  const cache = createRequire(import.meta.url).cache;
  process.on('exit', () => {
    const files = Object.keys(cache).filter((file) => file !== fileURLToPath(import.meta.url));
    if (files.length > 0) appendFileSync(record, `${files.join('\n')}\n`);
  });
}
