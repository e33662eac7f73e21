/**
 * Bundles the CLI into dist/bin/, so a process loads only the code of the command it runs, from a
 * handful of files instead of thousands:
 * - `nanoclaw.js` (the package's `bin`): a small CommonJS entry that picks one of the following;
 * - `hot-sync.cjs`, `hot-status.cjs`, `hot-run.cjs`: the hot commands (hosts run them before or as
 *   every container start), one CommonJS file each, loaded through V8's code cache
 *   (src/cli/start/code-cache.ts), with only what that command runs (`nango-sdk.cjs` beside them: the
 *   Nango SDK, for a sync that asks Nango);
 * - `run-main.mjs` and one ES module chunk per command for every other command.
 * Run by `npm run build` after tsc, whose per-file output in dist/ stays what a library import uses;
 * tests call `buildCli` to bundle into a folder of their own. */
import { chmod, readFile, rm, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { build, type Metafile, type Plugin } from 'esbuild';
import { HOT_COMMANDS, type HotCommand } from '../src/cli/start/hot-command.js';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const srcDir = path.join(root, 'src');
const distDir = path.join(root, 'dist');
/** The bundle's entry: it picks a hot command's bundle or the general chunks. */
const BUNDLE_ENTRY = path.join(srcDir, 'cli', 'start', 'bundle-main.ts');
/** Where `npm run build` puts the bundle; the package's `bin` points at `nanoclaw.js` in it. */
export const CLI_BUNDLE_DIR = path.join(distDir, 'bin');

/**
 * Bundled code keeps finding files beside it (Dockerfile.skill, skills/, the page): every
 * `import.meta.url` in our sources becomes the URL of that file's tsc output in dist/, which sits at
 * the same depth below the package root as the source file does.
 */
const moduleUrlAsCompiled = (outDir: string, format: 'esm' | 'cjs' = 'esm'): Plugin => ({
  name: 'module-url-as-compiled',
  setup(builder) {
    const base = format === 'esm' ? 'import.meta.url' : 'require("node:url").pathToFileURL(__filename)';
    builder.onLoad({ filter: /\.ts$/ }, async (args) => {
      if (!args.path.startsWith(srcDir + path.sep) || args.path === BUNDLE_ENTRY) return undefined;
      const source = await readFile(args.path, 'utf8');
      if (!source.includes('import.meta.url')) return { contents: source, loader: 'ts' };
      const compiled = path.join(distDir, path.relative(srcDir, args.path)).replace(/\.ts$/, '.js');
      const relative = path.relative(outDir, compiled).split(path.sep).join('/');
      return {
        contents: source.replaceAll('import.meta.url', `new URL(${JSON.stringify(relative)}, ${base}).href`),
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
const zodWithoutLocales = (forms: RegExp): Plugin => ({
  name: 'zod-without-locales',
  setup(builder) {
    builder.onResolve({ filter: /^\.\.\/locales\/index\.js$/ }, (args) =>
      forms.test(args.importer) ? { path: 'zod-locales', namespace: 'empty' } : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'empty' }, () => ({ contents: '', loader: 'js' }));
  },
});
const zodCoreWithoutLocales = zodWithoutLocales(/[\\/]zod[\\/]v4[\\/](core|mini)[\\/]/);
/**
 * For a hot command's bundle: the full form's `z.locales` goes too. What it bundles (the skill
 * manifests' schema, for `run`) never reads it; the full form installs English from its own module.
 */
const zodAllWithoutLocales = zodWithoutLocales(/[\\/]zod[\\/]v4[\\/](core|mini|classic)[\\/]/);

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

/**
 * For a hot command's bundle: every other command's module becomes one that fails if ever run. The
 * entry only picks this bundle when the arguments name the command, so they never are.
 */
const onlyCommand = (command: HotCommand): Plugin => ({
  name: 'only-command',
  setup(builder) {
    const runCli = path.join(srcDir, 'cli', 'run-cli.ts');
    builder.onResolve({ filter: /^\.\/commands\/[a-z-]+\.js$/ }, (args) =>
      args.importer === runCli && args.path !== `./commands/${command}.js`
        ? { path: args.path, namespace: 'not-in-this-bundle' }
        : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'not-in-this-bundle' }, (args) => ({
      contents: `throw new Error(${JSON.stringify(`${args.path} is not in the ${command} bundle`)});`,
      loader: 'js',
    }));
  },
});

/** The Nango SDK, loaded by a hot command only when it asks Nango: a bundle of its own beside it. */
const NANGO_SDK_BUNDLE = 'nango-sdk.cjs';
const nangoSdkApart: Plugin = {
  name: 'nango-sdk-apart',
  setup(builder) {
    builder.onResolve({ filter: /^@nangohq\/node$/ }, (args) =>
      args.kind === 'dynamic-import' ? { path: `./${NANGO_SDK_BUNDLE}`, external: true } : undefined,
    );
  },
};

/**
 * commander loads child_process (and with it net, dgram...) for its executable subcommands, which
 * nanoclaw has none of: it is required the first time commander would spawn one.
 */
const commanderSpawnOnDemand: Plugin = {
  name: 'commander-spawn-on-demand',
  setup(builder) {
    builder.onLoad({ filter: /[\\/]commander[\\/]lib[\\/]command\.js$/ }, async (args) => {
      const statement = "const childProcess = require('node:child_process');";
      const source = await readFile(args.path, 'utf8');
      if (!source.includes(statement)) {
        throw new Error(`"${statement}" is no longer in ${args.path}: update scripts/build-cli.ts`);
      }
      return {
        contents: source.replace(
          statement,
          "const childProcess = { spawn: (...args) => require('node:child_process').spawn(...args) };",
        ),
        loader: 'js',
      };
    });
  },
};

/**
 * For a hot command's bundle: webhooks only come to `serve`, so the Nango webhook parser (and the full
 * Zod it is the only one on a sync's way to use) stays out; its stand-in fails if ever called.
 */
const noNangoWebhookParser: Plugin = {
  name: 'no-nango-webhook-parser',
  setup(builder) {
    const handler = path.join(srcDir, 'sources', 'nango', 'nango-webhook-handler.ts');
    builder.onResolve({ filter: /^\.\/parse-nango-webhook\.js$/ }, (args) =>
      args.importer === handler ? { path: args.path, namespace: 'webhook-parser-stand-in' } : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'webhook-parser-stand-in' }, (args) => ({
      contents:
        'export function parseNangoWebhook() {\n' +
        `  throw new Error(${JSON.stringify(`${args.path} is not in this bundle`)});\n}\n`,
      loader: 'js',
    }));
  },
};

/**
 * For a hot command's bundle: packages that only taking a grant's lock uses (a warm sync or a status
 * takes none) stay out of it, and are required from the installed packages the
 * first time they are called (they share no classes with the bundle). Each default export becomes a
 * stand-in that does so.
 */
const WRITE_ONLY_PACKAGES: Readonly<Record<string, string>> = {
  'proper-lockfile':
    'export default {\n' +
    '  lock: (...args) => load().lock(...args),\n' +
    '  unlock: (...args) => load().unlock(...args),\n' +
    '  check: (...args) => load().check(...args),\n' +
    '};\n',
};
const writeOnlyPackagesOnDemand: Plugin = {
  name: 'write-only-packages-on-demand',
  setup(builder) {
    const names = Object.keys(WRITE_ONLY_PACKAGES).map((name) => name.replace(/[-/]/g, '\\$&'));
    builder.onResolve({ filter: new RegExp(`^(${names.join('|')})$`) }, (args) =>
      args.namespace === 'file' && args.importer.startsWith(srcDir + path.sep)
        ? { path: args.path, namespace: 'write-only' }
        : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'write-only' }, (args) => ({
      contents:
        `const load = () => require(${JSON.stringify(args.path)});\n` + WRITE_ONLY_PACKAGES[args.path]!,
      loader: 'js',
    }));
  },
};

/**
 * For a hot command's bundle: yaml as ES modules (its `default` export condition), so that only its
 * parser goes in, not the whole CommonJS build. Its warnings still go to process.emitWarning, as
 * the Node build sends them.
 */
const yamlAsModules: Plugin = {
  name: 'yaml-as-modules',
  setup(builder) {
    builder.onResolve({ filter: /^yaml$/ }, async (args) => {
      if (args.pluginData === 'yaml-as-modules') return undefined;
      const resolved = await builder.resolve('yaml', {
        kind: args.kind,
        resolveDir: args.resolveDir,
        pluginData: 'yaml-as-modules',
      });
      return { path: path.join(path.dirname(resolved.path), '..', 'browser', 'index.js') };
    });
    builder.onLoad({ filter: /[\\/]yaml[\\/]browser[\\/]dist[\\/]log\.js$/ }, () => ({
      contents:
        "export function debug(logLevel, ...messages) { if (logLevel === 'debug') console.log(...messages); }\n" +
        'export function warn(logLevel, warning) {\n' +
        "  if (logLevel === 'debug' || logLevel === 'warn') {\n" +
        "    if (typeof process.emitWarning === 'function') process.emitWarning(warning);\n" +
        '    else console.warn(warning);\n' +
        '  }\n}\n',
      loader: 'js',
    }));
  },
};

/**
 * For a hot command's bundle: node:crypto (a dozen internal modules) is loaded the first time one of
 * its exports is used, not when a module that imports it initializes: a warm sync or a status hashes
 * and encrypts nothing. The stand-in lists crypto's exports as they are in the Node that builds;
 * reading any of them loads the real module.
 */
const cryptoOnDemand: Plugin = {
  name: 'crypto-on-demand',
  setup(builder) {
    builder.onResolve({ filter: /^(node:)?crypto$/ }, (args) =>
      args.namespace === 'file' ? { path: 'node:crypto', namespace: 'crypto-on-demand' } : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'crypto-on-demand' }, async () => {
      const keys = Object.keys(await import('node:crypto')).filter((key) => key !== 'default');
      return {
        contents: [
          'let real;',
          "const load = () => (real ??= require('node:crypto'));",
          `const keys = ${JSON.stringify(keys)};`,
          'module.exports = new Proxy({}, {',
          '  get: (_, key) => load()[key],',
          '  has: (_, key) => key in load(),',
          '  ownKeys: () => keys,',
          '  getOwnPropertyDescriptor: (_, key) =>',
          '    keys.includes(key) ? { enumerable: true, configurable: true, get: () => load()[key] } : undefined,',
          '});',
        ].join('\n'),
        loader: 'js',
      };
    });
  },
};

/**
 * For the status bundle: a status asks no source, and the runtime builds its token sources only when
 * something asks for them, so the module that builds them (and with it the built-in OAuth client,
 * oauth4webapi and the Nango source) stays out; its stand-in fails if ever called.
 */
const noTokenSources: Plugin = {
  name: 'no-token-sources',
  setup(builder) {
    const createSources = path.join(srcDir, 'sources', 'create-sources.ts');
    builder.onResolve({ filter: /[\\/]create-sources\.js$/ }, (args) =>
      args.importer.startsWith(srcDir + path.sep) &&
      path.resolve(args.resolveDir, args.path).replace(/\.js$/, '.ts') === createSources
        ? { path: args.path, namespace: 'token-sources-stand-in' }
        : undefined,
    );
    builder.onLoad({ filter: /.*/, namespace: 'token-sources-stand-in' }, () => ({
      contents:
        'export function createSources() {\n' +
        "  throw new Error('the token sources are not in the status bundle');\n}\n",
      loader: 'js',
    }));
  },
};

/**
 * What each hot command's bundle gets besides what all of them do: sync and status hash and encrypt
 * nothing when warm, a status builds no token source, a run names its container and writes its token
 * view (node:crypto as it is), and talks to Docker.
 */
const HOT_COMMAND_PLUGINS: Readonly<Record<HotCommand, readonly Plugin[]>> = {
  sync: [cryptoOnDemand],
  status: [cryptoOnDemand, noTokenSources],
  run: [dockerClientOnDemand],
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
  const external = ['*.node', 'cpu-features', ...ON_DEMAND_FILES];
  // Every command but the hot ones: ES module chunks, one per command. In a folder of CommonJS
  // (the entry and the hot bundles are), so they end in .mjs.
  const general = await build({
    entryPoints: { 'run-main': path.join(srcDir, 'cli', 'run-main.ts') },
    outdir: outDir,
    outExtension: { '.js': '.mjs' },
    bundle: true,
    splitting: true,
    format: 'esm',
    platform: 'node',
    target: 'node20.17',
    // Optional native add-ons (ssh2's, cpu-features): their JavaScript fallbacks run instead.
    external,
    // Bundled CommonJS packages call require() for Node's own modules, and some name their own file
    // (__filename): here, the chunk's.
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
    plugins: [
      configZodOfItsOwn,
      moduleUrlAsCompiled(outDir),
      zodCoreWithoutLocales,
      dockerClientOnDemand,
      commanderSpawnOnDemand,
    ],
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    absWorkingDir: root,
  });
  // The hot commands: one CommonJS file each (what Node 20 can keep compiled code for), with the
  // whole command line but only that command's code.
  const common = {
    bundle: true,
    format: 'cjs',
    platform: 'node',
    target: 'node20.17',
    external,
    // import() of what is bundled or beside it becomes require(): nothing goes through the ESM loader.
    supported: { 'dynamic-import': false },
    // Less to read and scan at every start. Names stay (errors name themselves after their class).
    minifyWhitespace: true,
    minifySyntax: true,
    legalComments: 'none',
    logLevel: 'warning',
    metafile: true,
    absWorkingDir: root,
  } as const;
  const hot = await Promise.all(
    HOT_COMMANDS.map((command) =>
      build({
        ...common,
        // node-postgres loads from the installed packages when a shared store is used: most hosts have none.
        external: [...external, ...Object.keys(WRITE_ONLY_PACKAGES), 'pg'],
        entryPoints: [path.join(srcDir, 'cli', 'run-main.ts')],
        outfile: path.join(outDir, `hot-${command}.cjs`),
        plugins: [
          onlyCommand(command),
          nangoSdkApart,
          noNangoWebhookParser,
          writeOnlyPackagesOnDemand,
          yamlAsModules,
          ...HOT_COMMAND_PLUGINS[command],
          commanderSpawnOnDemand,
          configZodOfItsOwn,
          moduleUrlAsCompiled(outDir, 'cjs'),
          zodAllWithoutLocales,
        ],
      }),
    ),
  );
  const sdk = await build({
    ...common,
    stdin: { contents: "module.exports = require('@nangohq/node');", resolveDir: root, loader: 'js' },
    outfile: path.join(outDir, NANGO_SDK_BUNDLE),
  });
  const entryBuild = await build({
    ...common,
    entryPoints: [BUNDLE_ENTRY],
    outfile: path.join(outDir, 'nanoclaw.js'),
    // The general way: the ES module chunks beside it, imported as they are.
    supported: {},
    define: { 'import.meta.url': '__nanoclawEntryUrl' },
    banner: {
      js: [
        '#!/usr/bin/env node',
        "const __nanoclawEntryUrl = require('node:url').pathToFileURL(__filename).href;",
      ].join('\n'),
    },
    plugins: [
      {
        name: 'general-chunks-beside',
        setup(builder) {
          builder.onResolve({ filter: /^\.\.\/run-main\.js$/ }, () => ({
            path: './run-main.mjs',
            external: true,
          }));
        },
      },
    ],
  });
  // The entry and the hot bundles are CommonJS, in a package whose files are ES modules by default.
  await writeFile(path.join(outDir, 'package.json'), `${JSON.stringify({ type: 'commonjs' })}\n`);
  const metafile: Metafile = { inputs: {}, outputs: {} };
  for (const result of [general, ...hot, sdk, entryBuild]) {
    Object.assign(metafile.inputs, result.metafile.inputs);
    Object.assign(metafile.outputs, result.metafile.outputs);
  }
  const entry = path.join(outDir, 'nanoclaw.js');
  await chmod(entry, 0o755);
  return { entry, metafile };
}
if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  const { metafile } = await buildCli();
  const outputs = Object.values(metafile.outputs);
  const bytes = outputs.reduce((sum, output) => sum + output.bytes, 0);
  console.log(
    `${path.relative(root, CLI_BUNDLE_DIR)}: ${outputs.length} files, ${(bytes / 1024 / 1024).toFixed(1)} MiB`,
  );
}
