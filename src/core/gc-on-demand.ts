import { createRequire } from 'node:module'

/**
 * Lambda's runtime starts node with --expose-gc, which the function's exec
 * wrapper (scripts/lib/node-flags.sh) leaves out: started with it, V8 rejects
 * the code cache Node ships for its built-in modules, and a cold start
 * compiles every built-in it loads (15–20 ms of this app's on Node 24).
 * Nothing here calls `gc()`, but code written for the runtime may, so it is
 * still there: the real one is made the first time it is called, and replaces
 * this stand-in. Where `gc` exists already, it is kept.
 */
export function installGcOnDemand(): void {
  if (typeof globalThis.gc === 'function') return
  const onDemand = ((...args: unknown[]) => {
    const require = createRequire(import.meta.url)
    const v8 = require('node:v8') as typeof import('node:v8')
    const vm = require('node:vm') as typeof import('node:vm')
    v8.setFlagsFromString('--expose-gc')
    const gc = vm.runInNewContext('gc') as NodeJS.GCFunction
    globalThis.gc = gc
    // The arguments exactly as given: on Node 24, gc(undefined) is not the full collection gc() is.
    return (gc as (...args: unknown[]) => unknown)(...args)
  }) as NodeJS.GCFunction
  globalThis.gc = onDemand
}
