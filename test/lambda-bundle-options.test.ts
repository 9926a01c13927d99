/**
 * What the Lambda bundle's esbuild options replace, and the guards the build
 * runs on its metafile (scripts/build.mjs): node:worker_threads gives way to a
 * main-thread stand-in only where the bundled code needs nothing more, the
 * built-ins whose ES namespace is costly are required instead, and the SDK's
 * web-stream checksum code waits for its first use.
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
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
  PRECOMPILED_SCHEMAS_ALIAS,
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
