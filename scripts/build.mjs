/**
 * `npm run build`:
 *   dist/lambda/index.mjs  the Lambda function: a minified ES module with every
 *                          dependency and its routes' validators and serializers
 *                          precompiled (src/precompiled/schemas.cjs, generated
 *                          first; their code in schema-code.txt beside it, read
 *                          on first use), chunks/ it imports on demand, the
 *                          runtime's exec wrapper (node-flags.sh), the OpenAPI
 *                          document and swagger-ui's static files beside it and
 *                          a package.json for `sam build`;
 *   dist/server.js         the HTTP server for `npm start`, dependencies left in
 *                          node_modules;
 *   dist/openapi.json      the OpenAPI document the app serves at /docs/json, for
 *                          generating clients without running the server.
 */
import { execFile, spawnSync } from 'node:child_process'
import { promisify } from 'node:util'
import { chmod, cp, mkdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath } from 'node:url'
import * as esbuild from 'esbuild'
import {
  builtinsImportedAsModules,
  forbiddenInputs,
  lambdaBuildOptions,
  PRECOMPILED_SCHEMAS_ALIAS,
  semverImporters,
  unexpectedWorkerThreadUsers
} from './esbuild-options.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const dist = join(root, 'dist')
const lambdaDir = join(dist, 'lambda')
const lambdaOut = join(lambdaDir, 'index.mjs')

/** @param {number} bytes */
const kib = bytes => `${(bytes / 1024).toFixed(1)} KiB`

/** src/precompiled/schemas.cjs, from the routes' schemas as they are now (scripts/precompile-schemas.ts). */
function precompileSchemas() {
  const run = spawnSync(process.execPath, ['--import', 'tsx', 'scripts/precompile-schemas.ts'], {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' }
  })
  if (run.status !== 0) throw new Error(`scripts/precompile-schemas.ts failed (${run.status ?? run.signal})`)
}

/** Fails the build, naming what broke one of the Lambda bundle's rules, when anything did. */
function refuseAny(found, rule) {
  if (found.length > 0) throw new Error(`${rule}:\n  ${found.join('\n  ')}`)
}

async function buildLambda(version) {
  const result = await esbuild.build({
    ...lambdaBuildOptions,
    absWorkingDir: root,
    entryPoints: { index: 'src/entries/lambda.ts' },
    outdir: lambdaDir,
    alias: PRECOMPILED_SCHEMAS_ALIAS
  })
  await writeFile(join(dist, 'lambda-meta.json'), JSON.stringify(result.metafile))
  // The source maps (several MiB) stay out of the deployment package; the bundle does not reference them.
  for (const map of Object.keys(result.metafile.outputs).filter(out => out.endsWith('.map'))) {
    const to = join(dist, 'lambda-maps', relative(lambdaDir, join(root, map)))
    await mkdir(dirname(to), { recursive: true })
    await rename(join(root, map), to)
  }

  refuseAny(
    forbiddenInputs(result.metafile).slice(0, 20),
    'the Lambda bundle must not contain the embedded stack, but it includes'
  )
  refuseAny(
    unexpectedWorkerThreadUsers(result.metafile),
    'these bundled modules import node:worker_threads, which the Lambda bundle replaces (scripts/lib/main-thread-only.cjs)'
  )
  refuseAny(
    builtinsImportedAsModules(result.metafile),
    'these outputs import built-ins as ES modules, which the Lambda bundle requires instead (builtinsThroughRequire)'
  )
  refuseAny(
    semverImporters(result.metafile),
    "these bundled modules import semver, which Fastify's plugin check answers without (pluginVersionCheckWithoutSemver)"
  )

  // The runtime's exec wrapper (AWS_LAMBDA_EXEC_WRAPPER), which Lambda runs only if it is executable.
  await cp(join(root, 'scripts/lib/node-flags.sh'), join(lambdaDir, 'node-flags.sh'))
  await chmod(join(lambdaDir, 'node-flags.sh'), 0o755)
  // The precompiled schemas' code, read on first use (src/entries/lambda.ts).
  await cp(join(root, 'src/precompiled/schema-code.txt'), join(lambdaDir, 'schema-code.txt'))
  // src/entries/lambda.ts serves /docs from ./static beside the bundle (and from ./openapi.json, written below).
  await cp(join(root, 'node_modules/@fastify/swagger-ui/static'), join(lambdaDir, 'static'), { recursive: true })
  await writeFile(
    join(lambdaDir, 'package.json'),
    JSON.stringify({ name: 'atlas-api-lambda', version, private: true, type: 'module' }, null, 2) + '\n'
  )

  const size = (await stat(lambdaOut)).size
  const inputs = Object.keys(result.metafile.inputs).length
  const chunks = Object.keys(result.metafile.outputs).filter(out => out.includes('/chunks/') && out.endsWith('.mjs'))
  console.log(
    `${relative(root, lambdaOut)}  ${kib(size)}  (${inputs} modules bundled, ${chunks.length} chunks loaded on demand)`
  )
}

async function buildServer() {
  // Code splitting keeps `await import('./local/storage.ts')` lazy: dynalite (a devDependency) and the embedded
  // S3 are imported only by that chunk, so a production install without them can still start the server.
  const result = await esbuild.build({
    absWorkingDir: root,
    entryPoints: ['src/entries/server.ts'],
    bundle: true,
    packages: 'external',
    platform: 'node',
    target: 'node20',
    format: 'esm',
    splitting: true,
    outdir: dist,
    entryNames: '[name]',
    chunkNames: 'chunks/[name]-[hash]',
    sourcemap: true,
    metafile: true,
    logLevel: 'warning'
  })
  const out = join(dist, 'server.js')
  const entry = result.metafile.outputs[relative(root, out)]
  const eager = entry?.imports.filter(i => !i.kind.includes('dynamic')).map(i => i.path) ?? []
  const eagerInputs = [entry, ...eager.map(path => result.metafile.outputs[path])].flatMap(out =>
    Object.keys(out?.inputs ?? {})
  )
  if (eager.includes('dynalite') || eagerInputs.some(input => input.startsWith('src/local/'))) {
    throw new Error('dist/server.js imports the embedded stack eagerly')
  }
  console.log(`${relative(root, out)}  ${kib((await stat(out)).size)}  (packages external)`)
}

async function writeOpenApiDocument() {
  // The app's own document, from its route schemas: the one /docs/json serves, not a copy kept by hand.
  const { stdout } = await promisify(execFile)(process.execPath, ['--import', 'tsx', 'scripts/openapi-document.ts'], {
    cwd: root,
    maxBuffer: 64 * 1024 * 1024
  })
  const out = join(dist, 'openapi.json')
  await writeFile(out, stdout)
  console.log(
    `${relative(root, out)}  ${kib(Buffer.byteLength(stdout))}  (${Object.keys(JSON.parse(stdout).paths).length} paths)`
  )
}

try {
  const { version } = JSON.parse(await readFile(join(root, 'package.json'), 'utf8'))
  await rm(dist, { recursive: true, force: true })
  await mkdir(lambdaDir, { recursive: true })
  precompileSchemas()
  await buildLambda(version)
  await buildServer()
  await writeOpenApiDocument()
  // The Lambda serves /docs from this document instead of building it at cold start.
  await cp(join(dist, 'openapi.json'), join(lambdaDir, 'openapi.json'))
} catch (err) {
  // esbuild has already printed its own errors; ours get a message.
  if (!(err instanceof Error && 'errors' in err))
    console.error(`build failed: ${err instanceof Error ? err.message : err}`)
  process.exitCode = 1
}
