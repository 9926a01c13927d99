/**
 * What the Lambda bundle's esbuild options replace, and the guard the build
 * runs on its metafile (scripts/build.mjs): node:worker_threads gives way to a
 * main-thread stand-in only where the bundled code needs nothing more.
 */
import { createRequire } from 'node:module'
import t from 'tap'
import {
  lambdaBuildOptions,
  MAIN_THREAD_SHIM,
  PRECOMPILED_SCHEMAS_ALIAS,
  unexpectedWorkerThreadUsers
} from '../scripts/esbuild-options.mjs'

const require = createRequire(import.meta.url)

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
