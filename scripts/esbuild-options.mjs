/**
 * esbuild options shared by the Lambda bundle (scripts/build.mjs) and the
 * cold-start benchmark (scripts/bench-cold.mjs), so both bundle the same way.
 */
import { readFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * Bundled CommonJS (fastify, pino, the AWS SDK's CJS fallbacks) expects
 * `require`, `__filename` and `__dirname`; an ES module has none of them.
 * The imports are renamed so they cannot collide with bundled code.
 */
export const ESM_CJS_BANNER = [
  "import { createRequire as __atlasCreateRequire } from 'node:module';",
  "import { fileURLToPath as __atlasFileURLToPath } from 'node:url';",
  "import { dirname as __atlasDirname } from 'node:path';",
  'const require = __atlasCreateRequire(import.meta.url);',
  'const __filename = __atlasFileURLToPath(import.meta.url);',
  'const __dirname = __atlasDirname(__filename);'
].join(' ')

/**
 * The built-ins whose ES namespace costs a cold start more than `require`
 * does. To build a built-in's namespace Node reads every one of its exports,
 * which runs the lazy getters behind some of them: on Node 24,
 * `import { STATUS_CODES } from 'node:http'` loads undici (fetch, WebSocket,
 * proxy agents), up to 20 ms; `node:process` loads the diagnostic report,
 * `node:fs` its streams, `node:util` parseArgs and friends, `node:stream` its
 * promises API, 1 to 4 ms each. Measured one by one against `require` on
 * Node 20 and 24, alone and in this bundle; the others differ by less than
 * half a millisecond, and every module more a bundle wraps costs about as
 * much.
 */
export const BUILTINS_THROUGH_REQUIRE = ['fs', 'http', 'process', 'stream', 'util']

const throughRequire = new Map(
  BUILTINS_THROUGH_REQUIRE.flatMap(name => [name, `node:${name}`].map(spec => [spec, `node:${name}`]))
)

/**
 * A file's path from the build's working directory, which names the stand-ins
 * the plugins below make, so each says which file it stands in for.
 *
 * @param {import('esbuild').PluginBuild} build
 * @param {string} file
 */
const projectPath = (build, file) => relative(build.initialOptions.absWorkingDir ?? process.cwd(), file)

/**
 * Every static import of one of BUILTINS_THROUGH_REQUIRE, `import … from
 * 'node:http'`, becomes a CommonJS `require` through the banner's.
 * esbuild reads each named import off the required module where it is used,
 * so only what the code uses is read.
 *
 * @type {import('esbuild').Plugin}
 */
export const builtinsThroughRequire = {
  name: 'builtins-through-require',
  setup(build) {
    build.onResolve({ filter: new RegExp(`^(node:)?(${BUILTINS_THROUGH_REQUIRE.join('|')})$`) }, args => {
      const name = throughRequire.get(args.path)
      // `import()` stays as it is: off the cold path by its nature, and esbuild would give the required module a
      // namespace of `default` only, where code reads `(await import('node:http')).request`.
      if (name === undefined || args.kind !== 'import-statement') return undefined
      // One stand-in per importing file, so each sits in its importer's chunk: one shared by many importers would
      // be split into a chunk of its own, one more file for a cold start to load.
      const importer = projectPath(build, args.importer)
      // The path ends in the built-in's name: ending in .mjs, it would be taken for an ES module.
      return { path: `${importer} requires ${name}`, namespace: 'builtin-through-require', pluginData: name }
    })
    build.onLoad({ filter: /.*/, namespace: 'builtin-through-require' }, args => ({
      contents: `module.exports = require(${JSON.stringify(args.pluginData)})`,
      loader: 'js'
    }))
  }
}

/**
 * The output files that still import one of BUILTINS_THROUGH_REQUIRE
 * statically as an ES module (`from "node:http"`), each with what it imports:
 * with builtinsThroughRequire in the build, none.
 *
 * @param {import('esbuild').Metafile} metafile
 * @returns {string[]}
 */
export function builtinsImportedAsModules(metafile) {
  return Object.entries(metafile.outputs).flatMap(([output, { imports }]) =>
    imports
      .filter(i => i.external && i.kind === 'import-statement' && throughRequire.has(i.path))
      .map(i => `${output}: ${i.kind} ${i.path}`)
  )
}

/**
 * The SDK's checksum stream over web streams, loaded the first time a checksum
 * is checked on a web stream rather than at start: its module subclasses the
 * global ReadableStream when it is evaluated, and that global makes Node load
 * its web streams implementation (about 1 ms of a cold start on Node 24, 2.5
 * on Node 20), which a function whose responses are Node streams never uses.
 * The SDK picks between the two at call time, so nothing else changes.
 *
 * @type {import('esbuild').Plugin}
 */
export const webChecksumStreamOnDemand = {
  name: 'web-checksum-stream-on-demand',
  setup(build) {
    build.onResolve({ filter: /\/createChecksumStream\.browser$/ }, args => {
      if (!args.importer.endsWith('/checksum/createChecksumStream.js')) return undefined
      // Named by where the real module is, so two copies of the SDK get a stand-in each.
      const path = projectPath(build, join(args.resolveDir, args.path))
      return { path, namespace: 'on-demand', pluginData: { resolveDir: args.resolveDir, spec: args.path } }
    })
    build.onLoad({ filter: /.*/, namespace: 'on-demand' }, ({ pluginData: { resolveDir, spec } }) => ({
      contents: `export const createChecksumStream = init => require(${JSON.stringify(spec)}).createChecksumStream(init)`,
      resolveDir,
      loader: 'js'
    }))
  }
}

/** What Fastify's plugin version check gets instead of semver in the Lambda bundle. */
export const PLUGIN_VERSION_CHECK = join(dirname(fileURLToPath(import.meta.url)), 'lib/plugin-version-check.cjs')

/**
 * Where Fastify checks the Fastify version a plugin declares, semver gives way
 * to scripts/lib/plugin-version-check.cjs: a plugin's `5.x` against a release
 * is answered without semver, which is loaded for anything else. Each copy of
 * Fastify gets its own, resolving semver from where that copy would.
 *
 * @type {import('esbuild').Plugin}
 */
export const pluginVersionCheckWithoutSemver = {
  name: 'plugin-version-check-without-semver',
  setup(build) {
    build.onResolve({ filter: /^semver$/ }, args => {
      if (!/[/\\]fastify[/\\]lib[/\\]plugin-utils\.js$/.test(args.importer)) return undefined
      const importer = projectPath(build, args.importer)
      return { path: `${importer} checks versions`, namespace: 'plugin-version-check', pluginData: args.resolveDir }
    })
    build.onLoad({ filter: /.*/, namespace: 'plugin-version-check' }, async ({ pluginData: resolveDir }) => ({
      contents: await readFile(PLUGIN_VERSION_CHECK, 'utf8'),
      resolveDir,
      loader: 'js'
    }))
  }
}

/**
 * The bundled modules outside semver that import it other than through
 * pluginVersionCheckWithoutSemver's stand-in: with the plugin in the build and
 * Fastify as it is, none. One would mean semver is back on the cold path.
 *
 * @param {import('esbuild').Metafile} metafile
 * @returns {string[]}
 */
export function semverImporters(metafile) {
  return Object.entries(metafile.inputs)
    .filter(([path]) => !path.includes('node_modules/semver/') && !path.startsWith('plugin-version-check:'))
    .filter(([, input]) => input.imports.some(i => i.path.includes('node_modules/semver/')))
    .map(([path]) => path)
}

/** Packages never bundled into a Lambda: pino-pretty is for laptops only. */
export const LAMBDA_EXTERNAL = ['pino-pretty']

/** What stands in for node:worker_threads (scripts/lib/main-thread-only.cjs), and the only modules that may use it. */
export const MAIN_THREAD_SHIM = './scripts/lib/main-thread-only.cjs'
export const MAIN_THREAD_SHIM_USERS = ['node_modules/pino/lib/tools.js', 'node_modules/thread-stream/index.js']

/** Packages that must never reach a Lambda bundle; the build fails when the metafile shows one. */
export const LAMBDA_FORBIDDEN_PACKAGES = ['dynalite']
/** Our own code that must never reach a Lambda bundle: the embedded stack, its S3 included. */
export const LAMBDA_FORBIDDEN_SOURCES = ['src/local/']

/**
 * Self-contained ES modules for nodejs24.x: everything bundled, the AWS SDK
 * included (pinned versions, tree-shaken, instead of the runtime's copy), and
 * node:worker_threads replaced by what a handler on the main thread needs. Code
 * reached only through `import()` (the docs plugins, the start-up compilers,
 * rarely used clients) is split into chunks/, so a cold start does not parse it.
 * Add `entryPoints: { index: … }` and `outdir`.
 *
 * @type {import('esbuild').BuildOptions}
 */
export const lambdaBuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  splitting: true,
  entryNames: '[name]',
  chunkNames: 'chunks/[name]-[hash]',
  outExtension: { '.js': '.mjs' },
  minify: true,
  sourcemap: 'external',
  mainFields: ['module', 'main'],
  banner: { js: ESM_CJS_BANNER },
  external: LAMBDA_EXTERNAL,
  alias: { worker_threads: MAIN_THREAD_SHIM, 'node:worker_threads': MAIN_THREAD_SHIM },
  plugins: [builtinsThroughRequire, webChecksumStreamOnDemand, pluginVersionCheckWithoutSemver],
  metafile: true,
  legalComments: 'external',
  logLevel: 'warning'
}

/**
 * For a bundle whose app brings precompiled validators and serializers (the
 * Lambda's): Fastify's own compilers, and ajv and fast-json-stringify's
 * compilers behind them, are left out instead of parsed at every cold start.
 */
export const PRECOMPILED_SCHEMAS_ALIAS = {
  ...lambdaBuildOptions.alias,
  '@fastify/ajv-compiler': './scripts/lib/no-schema-compiler.cjs',
  '@fastify/fast-json-stringify-compiler': './scripts/lib/no-schema-compiler.cjs'
}

/**
 * The metafile inputs that come from a forbidden package, as
 * `node_modules/<name>/...` paths (also nested node_modules), or from forbidden sources.
 *
 * @param {import('esbuild').Metafile} metafile
 * @returns {string[]}
 */
export function forbiddenInputs(metafile) {
  return Object.keys(metafile.inputs).filter(
    input =>
      LAMBDA_FORBIDDEN_PACKAGES.some(name => input.includes(`node_modules/${name}/`)) ||
      LAMBDA_FORBIDDEN_SOURCES.some(dir => input.startsWith(dir))
  )
}

/**
 * The bundled modules that import the worker_threads stand-in but are not
 * known to need only what it offers.
 *
 * @param {import('esbuild').Metafile} metafile
 * @returns {string[]}
 */
export function unexpectedWorkerThreadUsers(metafile) {
  const shim = MAIN_THREAD_SHIM.slice(2)
  return Object.entries(metafile.inputs)
    .filter(([, input]) => input.imports.some(i => i.path === shim))
    .map(([path]) => path)
    .filter(path => !MAIN_THREAD_SHIM_USERS.includes(path))
}
