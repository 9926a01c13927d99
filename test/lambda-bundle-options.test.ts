/**
 * What the Lambda bundle's esbuild options replace, and the guards the build
 * runs on its metafile (scripts/build.mjs): node:worker_threads gives way to a
 * main-thread stand-in only where the bundled code needs nothing more, the
 * built-ins whose ES namespace is costly are required instead, the SDK's
 * web-stream checksum code waits for its first use, and Fastify checks a
 * plugin's declared major without semver.
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import { createRequire } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { pathToFileURL } from 'node:url'
import * as esbuild from 'esbuild'
import t from 'tap'
import type { TestTap } from './helper.ts'
import {
  builtinsImportedAsModules,
  lambdaBuildOptions,
  MAIN_THREAD_SHIM,
  PLUGIN_VERSION_CHECK,
  pluginVersionCheckWithoutSemver,
  PRECOMPILED_SCHEMAS_ALIAS,
  semverImporters,
  unexpectedWorkerThreadUsers,
  webChecksumStreamOnDemand
} from '../scripts/esbuild-options.mjs'

const require = createRequire(import.meta.url)

/**
 * Bundles `lines` as an entry with the Lambda's esbuild options (its plugins
 * unless others are given) into a temporary folder the test removes; returns
 * the bundle's path and metafile.
 */
async function bundleFixture(
  t: TestTap,
  lines: string[],
  plugins = lambdaBuildOptions.plugins
): Promise<{ entry: string; metafile: esbuild.Metafile }> {
  const dir = await mkdtemp(join(tmpdir(), 'atlas-bundle-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  await writeFile(join(dir, 'entry.mjs'), lines.join('\n'))
  const { metafile } = await esbuild.build({
    ...lambdaBuildOptions,
    plugins,
    // The aliases name files of this project, relative to its root.
    alias: Object.fromEntries(
      Object.entries(lambdaBuildOptions.alias ?? {}).map(([from, to]) => [
        from,
        to.startsWith('./') ? join(process.cwd(), to) : to
      ])
    ),
    absWorkingDir: dir,
    nodePaths: [join(process.cwd(), 'node_modules')],
    entryPoints: { index: 'entry.mjs' },
    outdir: join(dir, 'out'),
    sourcemap: false,
    legalComments: 'none',
    logLevel: 'error',
    metafile: true
  })
  return { entry: join(dir, 'out/index.mjs'), metafile }
}

t.test(
  'worker_threads, however it is named, resolves to the stand-in, with or without precompiled schemas',
  async t => {
    for (const alias of [lambdaBuildOptions.alias, PRECOMPILED_SCHEMAS_ALIAS] as Array<Record<string, string>>) {
      t.equal(alias?.worker_threads, MAIN_THREAD_SHIM)
      t.equal(alias?.['node:worker_threads'], MAIN_THREAD_SHIM)
    }
    const shim = require(`.${MAIN_THREAD_SHIM}`) as { isMainThread: boolean; Worker: new () => unknown }
    t.equal(shim.isMainThread, true, 'a handler runs on the main thread')
    t.throws(() => new shim.Worker(), /no worker threads/, 'a transport fails loudly instead of silently not logging')
  }
)

t.test('the build names any bundled module outside pino that imports the stand-in', async t => {
  const uses = () => ({ bytes: 1, imports: [{ path: MAIN_THREAD_SHIM.slice(2), kind: 'require-call' }] })
  const metafile = {
    inputs: {
      'node_modules/pino/lib/tools.js': uses(),
      'node_modules/thread-stream/index.js': uses(),
      'node_modules/piscina/dist/index.js': uses(),
      'src/app.ts': { bytes: 1, imports: [{ path: 'node_modules/fastify/fastify.js', kind: 'import-statement' }] }
    },
    outputs: {}
  }
  t.same(unexpectedWorkerThreadUsers(metafile as never), ['node_modules/piscina/dist/index.js'])
})

t.test(
  'the Lambda bundle requires the built-ins whose ES namespace is costly, and still reads what it imports',
  async t => {
    const { entry, metafile } = await bundleFixture(t, [
      "import { STATUS_CODES } from 'node:http'",
      "import * as fs from 'fs'",
      "import process from 'node:process'",
      "import { createHash } from 'node:crypto'",
      'export const status = STATUS_CODES[404]',
      'export const exists = fs.existsSync(new URL(import.meta.url))',
      'export const pid = process.pid',
      "export const hash = createHash('sha256').update('').digest('hex').slice(0, 8)",
      "export const format = async () => (await import('node:util')).format('%s', 'util')",
      "export const request = async () => typeof (await import('node:http')).request"
    ])
    t.same(builtinsImportedAsModules(metafile), [], 'no output imports them as ES modules')
    const imports = Object.values(metafile.outputs).flatMap(output => output.imports)
    t.ok(
      imports.some(i => i.kind === 'import-statement' && i.path === 'node:crypto'),
      'the others stay ES imports'
    )
    const bundle = (await import(pathToFileURL(entry).href)) as Record<string, unknown>
    t.equal(bundle.status, 'Not Found')
    t.equal(bundle.exists, true)
    t.equal(bundle.pid, process.pid)
    t.equal(bundle.hash, 'e3b0c442')
    t.equal(await (bundle.format as () => Promise<string>)(), 'util')
    t.equal(await (bundle.request as () => Promise<string>)(), 'function')
  }
)

t.test('the build names any output that imports such a built-in as an ES module', async t => {
  const metafile = {
    inputs: {},
    outputs: {
      'dist/lambda/index.mjs': {
        bytes: 1,
        inputs: {},
        exports: [],
        imports: [
          { path: 'node:http', kind: 'import-statement', external: true },
          { path: 'node:crypto', kind: 'import-statement', external: true },
          { path: 'node:fs', kind: 'require-call', external: true }
        ]
      },
      'dist/lambda/chunks/a.mjs': {
        bytes: 1,
        inputs: {},
        exports: [],
        imports: [
          { path: 'util', kind: 'import-statement', external: true },
          { path: 'node:http', kind: 'dynamic-import', external: true }
        ]
      }
    }
  }
  t.same(builtinsImportedAsModules(metafile as never), [
    'dist/lambda/index.mjs: import-statement node:http',
    'dist/lambda/chunks/a.mjs: import-statement util'
  ])
})

t.test("the SDK's web-stream checksum code loads when it is first used, not with the bundle", async t => {
  const lines = [
    "import { createHash } from 'node:crypto'",
    "import { createChecksumStream } from '@smithy/core/serde'",
    "export const webStreamsAtStart = process.moduleLoadList.filter(name => name.includes('webstreams')).length",
    'const sha256 = () => { const hash = createHash("sha256"); return { update: chunk => hash.update(chunk), digest: async () => hash.digest() } }',
    "const expected = createHash('sha256').update('hello').digest('base64')",
    'export async function read(expectedChecksum) {',
    "  const source = new ReadableStream({ start(c) { c.enqueue(new TextEncoder().encode('hello')); c.close() } })",
    "  const stream = createChecksumStream({ expectedChecksum: expectedChecksum ?? expected, checksum: sha256(), source, checksumSourceLocation: 'x-amz-checksum-sha256' })",
    '  return await new Response(stream).text()',
    '}'
  ]
  const run = async (plugins?: esbuild.Plugin[]): Promise<Record<string, unknown>> => {
    const { entry } = await bundleFixture(t, lines, plugins)
    const script = `const before = process.moduleLoadList.filter(name => name.includes('webstreams')).length
      const m = await import(${JSON.stringify(pathToFileURL(entry).href)})
      const wrong = await m.read('AAAA').then(() => 'read', err => err.message)
      console.log(JSON.stringify({ atStart: m.webStreamsAtStart - before, text: await m.read(), wrong }))`
    const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
    t.equal(child.status, 0, child.stderr)
    return JSON.parse(child.stdout) as Record<string, unknown>
  }
  const bundled = await run()
  t.equal(bundled.atStart, 0, 'no web streams loaded by the bundle itself')
  t.equal(bundled.text, 'hello', 'a web stream is still checked and read')
  t.match(bundled.wrong, /Checksum mismatch/, 'and a wrong checksum still fails it')
  const without = await run(lambdaBuildOptions.plugins?.filter(p => p !== webChecksumStreamOnDemand))
  t.ok(Number(without.atStart) > 0, 'without the plugin, the bundle loads them (so the check above can fail)')
})

t.test(
  "Fastify's plugin version check answers as semver does, and loads semver only for what is not a major",
  async t => {
    type Check = Record<'satisfies' | 'gt' | 'coerce', (...args: unknown[]) => unknown>
    const semver = require('semver') as Check
    const check = require(PLUGIN_VERSION_CHECK) as Check
    // Releases and majors the stand-in answers, and forms it leaves to semver (prereleases, leading zeros or
    // spaces, a "v", other ranges).
    const versions = ['5.0.0', '5.12.8', '4.29.1', '6.0.0', '10.2.3', '0.1.0']
    versions.push('5.0.0-rc.1', '05.1.0', '5.01.0', '5.1', ' 5.1.0', 'v5.1.0')
    const ranges = ['5.x', '4.x', '6.x', '10.x', '1.x', '0.x']
    ranges.push('05.x', '5.X', '5.*', '^5', '>=5.0.0', '5.x || 6.x', ' 5.x', 'x')
    const disagreements: string[] = []
    for (const options of [undefined, { includePrerelease: true }, { loose: true }]) {
      for (const version of versions)
        for (const range of ranges) {
          const [ours, theirs] = [check, semver].map(s => s.satisfies(version, range, options))
          if (ours !== theirs)
            disagreements.push(`${version} against ${range}: ${String(ours)}, semver ${String(theirs)}`)
        }
    }
    t.same(disagreements, [], `${versions.length * ranges.length} pairs of version and range, with and without options`)
    t.equal(check.gt('5.1.0', check.coerce('5.0.0-rc.1')), true)

    // Every semver function Fastify's check calls is there.
    const pluginUtils = await readFile(require.resolve('fastify/lib/plugin-utils.js'), 'utf8')
    const called = [...new Set([...pluginUtils.matchAll(/\bsemver\.(\w+)/g)].map(m => m[1]!))]
    t.ok(called.includes('satisfies'), `Fastify calls ${called.join(', ')}`)
    for (const name of called) t.type(check[name as keyof Check], 'function', `semver.${name}`)

    const script = `const check = require(${JSON.stringify(PLUGIN_VERSION_CHECK)})
    const loaded = () => Object.keys(require.cache).some(file => /[\\\\/]node_modules[\\\\/]semver[\\\\/]/.test(file))
    const major = [check.satisfies('5.12.8', '5.x'), check.satisfies('5.12.8', '4.x'), loaded()]
    check.satisfies('5.12.8', '>=5.0.0')
    console.log(JSON.stringify({ major, after: loaded() }))`
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
    t.equal(child.status, 0, child.stderr)
    const seen = JSON.parse(child.stdout) as { major: unknown[]; after: boolean }
    t.same(seen.major, [true, false, false], 'a major is answered, semver not loaded')
    t.equal(seen.after, true, 'any other range loads semver')
  }
)

t.test('bundled Fastify still refuses a plugin made for another Fastify', async t => {
  const lines = [
    "import Fastify from 'fastify'",
    "import fp from 'fastify-plugin'",
    'export async function register(range) {',
    '  const app = Fastify()',
    "  try { await app.register(fp(async () => {}, { fastify: range, name: 'plugin' })); await app.ready(); return 'registered' }",
    '  catch (err) { return err.code } finally { await app.close() }',
    '}'
  ]
  const { entry, metafile } = await bundleFixture(t, lines)
  t.ok(
    Object.keys(metafile.inputs).some(input => input.startsWith('plugin-version-check:')),
    "the plugin gives Fastify's check its stand-in"
  )
  t.same(semverImporters(metafile), [], 'and nothing else imports semver, as the build checks')
  const ranges = ['5.x', '4.x', '^5.0.0', '>=99.0.0']
  const script = `const m = await import(${JSON.stringify(pathToFileURL(entry).href)})
    const out = {}
    for (const range of ${JSON.stringify(ranges)}) out[range] = await m.register(range)
    console.log(JSON.stringify(out))`
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], { encoding: 'utf8' })
  t.equal(child.status, 0, child.stderr)
  t.same(JSON.parse(child.stdout), {
    '5.x': 'registered',
    '4.x': 'FST_ERR_PLUGIN_VERSION_MISMATCH',
    '^5.0.0': 'registered',
    '>=99.0.0': 'FST_ERR_PLUGIN_VERSION_MISMATCH'
  })
  const without = await bundleFixture(
    t,
    lines,
    lambdaBuildOptions.plugins?.filter(p => p !== pluginVersionCheckWithoutSemver)
  )
  t.match(
    semverImporters(without.metafile),
    [/node_modules\/fastify\/lib\/plugin-utils\.js$/],
    'without the plugin, Fastify imports semver itself, and the build would name it'
  )
})
