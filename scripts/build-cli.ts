/**
 * Bundles the CLI into dist/bin/: `nanoclaw.js` (the package's `bin`) plus one chunk per command, so a
 * process loads only the code of the command it runs, from a handful of files instead of thousands.
 * Run by `npm run build` after tsc, whose per-file output in dist/ stays what a library import uses;
 * tests call `buildCli` to bundle into a folder of their own.
 */
import { chmod, readFile, rm } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = path.join(root, 'src');
const distDir = path.join(root, 'dist');
/** Where `npm run build` puts the bundle; the package's `bin` points at `nanoclaw.js` in it. */
export const CLI_BUNDLE_DIR = path.join(distDir, 'bin');

/**
 * Bundled code keeps finding files beside it (Dockerfile.skill, skills/, the page): every
 * `import.meta.url` in our sources becomes the URL of that file's tsc output in dist/, which sits at
 * the same depth below the package root as the source file does.
 */
const moduleUrlAsCompiled = (outDir: string): Plugin => ({
  name: 'module-url-as-compiled',
  setup(builder) {
    builder.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (!args.path.startsWith(srcDir + path.sep)) return undefined;
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return { contents: source, loader: 'ts' };
      const compiled = path.join(distDir, path.relative(srcDir, args.path)).replace(/\.ts$/, '.js');
      const relative = path.relative(outDir, compiled).split(path.sep).join('/');
      return {
        contents: source.replaceAll(
          'import.meta.url',
          `new URL(${JSON.stringify(relative)}, import.meta.url).href`,
        ),
        loader: 'ts',
      };
    });
  },
});

/**
 * Zod's core and its tree-shakable form re-export every language's messages as one namespace, which
 * would put 60 locales into the chunk that every command loads. Nothing reads those namespaces (the
 * schemas install English from its own module), so they resolve to an empty module; the full form
 * keeps its own `z.locales`.
 */
const zodCoreWithoutLocales: Plugin = {
  name: 'zod-core-without-locales',
  setup(builder) {
    builder.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      /[\\/]zod[\\/]v4[\\/](core|mini)[\\/]/.test(args.importer)
        ? { path: 'zod-locales', namespace: 'empty' }
        : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: '', loader: 'js' }));
  },
};

/**
 * Parts of the Docker client nanoclaw never uses, yet loaded (or bundled) with it: dockerode's BuildKit
 * support (gRPC, protobuf; only `version: "2"` image builds use it) and docker-modem's SSH transport
 * (ssh2; only an ssh:// DOCKER_HOST uses it). Each becomes a call that requires the installed package's
 * own file the first time it is used, so `nanoclaw run` neither loads nor parses them.
 */
const ON_DEMAND: ReadonlyArray<{ file: RegExp; statement: string; replacement: string }> = [
  {
    file: /[\\/]dockerode[\\/]lib[\\/]docker\.js$/,
    statement: "withSession = require('./session'),",
    replacement:
      "withSession = function () { return require('dockerode/lib/session.js').apply(this, arguments); },",
  },
  {
    file: /[\\/]dockerode[\\/]lib[\\/]docker\.js$/,
    statement: "var buildkit = require('./buildkit');",
    replacement: "var buildkit = require('dockerode/lib/buildkit.js');",
  },
  {
    file: /[\\/]docker-modem[\\/]lib[\\/]modem\.js$/,
    statement: "ssh = require('./ssh'),",
    replacement: "ssh = function () { return require('docker-modem/lib/ssh.js').apply(this, arguments); },",
  },
];
const ON_DEMAND_FILES = ['dockerode/lib/session.js', 'dockerode/lib/buildkit.js', 'docker-modem/lib/ssh.js'];

const dockerClientOnDemand: Plugin = {
  name: 'docker-client-on-demand',
  setup(builder) {
    builder.onLoad(
      { filter: /[\\/](dockerode|docker-modem)[\\/]lib[\\/](docker|modem)\.js$/ },
      async (args) => {
        let source = await readFile(args.path, 'utf8');
        for (const { file, statement, replacement } of ON_DEMAND) {
          if (!file.test(args.path)) continue;
          if (!source.includes(statement)) {
            throw new Error(`"${statement}" is no longer in ${args.path}: update scripts/build-cli.ts`);
          }
          source = source.replace(statement, replacement);
        }
        return { contents: source, loader: 'js' };
      },
    );
  },
};

/**
 * The configuration's schema (every command reads it) gets a Zod of its own, tree-shaken to what the
 * schema uses: shared with the full form that skill manifests and the web server use, the core would
 * carry all of that into every command.
 */
const configZodOfItsOwn: Plugin = {
  name: 'config-zod-of-its-own',
  setup(builder) {
    const schema = path.join(srcDir, 'config', 'schema.ts');
    builder.onResolve({ filter: /^zod\// }, async (args) => {
      if (args.importer !== schema || args.namespace === 'config-zod') return undefined;
      const resolved = await builder.resolve(args.path, { kind: args.kind, resolveDir: args.resolveDir });
      return { path: resolved.path, namespace: 'config-zod' };
    });
    builder.onResolve({ filter: /^\./, namespace: 'config-zod' }, (args) => {
      if (/[\\/]zod[\\/]v4[\\/](core|mini)[\\/]/.test(args.importer) && args.path === '../locales/index.js') {
        return { path: 'zod-locales', namespace: 'empty' };
      }
      return { path: path.resolve(path.dirname(args.importer), args.path), namespace: 'config-zod' };
    });
    builder.onLoad({ filter: /.*/, namespace: 'config-zod' }, async (args) => ({
      contents: await readFile(args.path, 'utf8'),
      loader: 'js',
      resolveDir: path.dirname(args.path),
    }));
  },
};

export interface BuiltCli {
  /** The entry to run with node. */
  entry: string;
  /** Which sources went into which output file. */
  metafile: Metafile;
}

/** Bundles the CLI into `outDir` (emptied first). */
export async function buildCli(outDir = CLI_BUNDLE_DIR): Promise<BuiltCli> {
  await rm(outDir, { recursive: true, force: true });
  const result = await build({
    entryPoints: { nanoclaw: path.join(srcDir, 'cli', 'main.ts') },
    outdir: outDir,
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.17',
    // Optional native add-ons (ssh2's, cpu-features): their JavaScript fallbacks run instead.
    external: ['*.node', 'cpu-features', ...ON_DEMAND_FILES],
    // Bundled CommonJS packages call require() for Node's own modules, and some name their own file
    // (write-file-atomic hashes __filename into its temporary names): here, the chunk's.
    banner: {
      js: [
        "import { createRequire as __nanoclawCreateRequire } from 'node:module';",
        "import { dirname as __nanoclawDirname } from 'node:path';",
        "import { fileURLToPath as __nanoclawFileURLToPath } from 'node:url';",
        'const require = __nanoclawCreateRequire(import.meta.url);',
        'const __filename = __nanoclawFileURLToPath(import.meta.url);',
        // No global names here (URL, say): a bundled module's own top-level `var URL` would shadow them.
        'const __dirname = __nanoclawDirname(__filename);',
      ].join('\n'),
    },
    plugins: [configZodOfItsOwn, moduleUrlAsCompiled(outDir), zodCoreWithoutLocales, dockerClientOnDemand],
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    absWorkingDir: root,
  });
  const entry = path.join(outDir, 'nanoclaw.js');
  await chmod(entry, 0o755);
  return { entry, metafile: result.metafile };
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { metafile } = await buildCli();
  const outputs = Object.values(metafile.outputs);
  const bytes = outputs.reduce((sum, output) => sum + output.bytes, 0);
  console.log(
    `${path.relative(root, CLI_BUNDLE_DIR)}: ${outputs.length} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB`,
  );
}
