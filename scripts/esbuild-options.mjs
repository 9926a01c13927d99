/**
 * esbuild options shared by the Lambda bundle (scripts/build.mjs) and the
 * cold-start benchmark (scripts/bench-cold.mjs), so both bundle the same way.
 */

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

/** Packages never bundled into a Lambda: pino-pretty is for laptops only. */
export const LAMBDA_EXTERNAL = ['pino-pretty']

/** Packages that must never reach a Lambda bundle; the build fails when the metafile shows one. */
export const LAMBDA_FORBIDDEN_PACKAGES = ['dynalite', 's3rver']

/**
 * One self-contained ES module for nodejs24.x: everything bundled, the AWS SDK
 * included (pinned versions, tree-shaken, instead of the runtime's copy).
 * Add `entryPoints` and `outfile`.
 *
 * @type {import('esbuild').BuildOptions}
 */
export const lambdaBuildOptions = {
  bundle: true,
  platform: 'node',
  target: 'node24',
  format: 'esm',
  minify: true,
  sourcemap: 'external',
  mainFields: ['module', 'main'],
  banner: { js: ESM_CJS_BANNER },
  external: LAMBDA_EXTERNAL,
  metafile: true,
  legalComments: 'external',
  logLevel: 'warning'
}

/**
 * The metafile inputs that come from a forbidden package, as
 * `node_modules/<name>/...` paths (also nested node_modules).
 *
 * @param {import('esbuild').Metafile} metafile
 * @returns {string[]}
 */
export function forbiddenInputs(metafile) {
  return Object.keys(metafile.inputs).filter(input =>
    LAMBDA_FORBIDDEN_PACKAGES.some(name => input.includes(`node_modules/${name}/`))
  )
}
