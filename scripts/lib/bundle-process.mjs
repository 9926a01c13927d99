/** A Lambda bundle in a fresh Node process, with only the environment given: what the smoke test and the deploy rehearsal drive. */
import { fork } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { tail } from './processes.mjs'

const INVOKER = fileURLToPath(new URL('./invoker.mjs', import.meta.url))

/**
 * @param {string} bundle the bundle's path
 * @param {{ env: Record<string, string>, cwd: string, functionName: string }} options
 */
export function startBundle(bundle, { env, cwd, functionName }) {
  const child = fork(INVOKER, [bundle, functionName], {
    cwd,
    // As on Lambda: the function's variables and the runtime's, plus PATH; nothing of ours.
    env: { PATH: process.env.PATH ?? '', AWS_LAMBDA_FUNCTION_NAME: functionName, TZ: 'UTC', ...env },
    execArgv: [],
    stdio: ['ignore', 'pipe', 'pipe', 'ipc']
  })
  const out = tail(child.stdout)
  const err = tail(child.stderr)
  /** @type {Map<number, (message: any) => void>} */
  const pending = new Map()
  let nextId = 0
  /** @type {Promise<{ loadMs: number }>} */
  const ready = new Promise((resolve, reject) => {
    child.on('message', (/** @type {any} */ message) => {
      if (message.type === 'ready') resolve(message)
      else if (message.type === 'init-error') reject(new Error(message.error))
      else if (message.type === 'result') {
        pending.get(message.id)?.(message)
        pending.delete(message.id)
      }
    })
    child.once('exit', code => reject(new Error(`the bundle's process exited (${code})`)))
  })

  return {
    ready,
    /** The handler's result for one event; throws what the handler threw. */
    async invoke(/** @type {any} */ event, timeoutMs = 30_000) {
      const id = nextId++
      /** @type {Promise<any>} */
      const answer = new Promise((resolve, reject) => {
        pending.set(id, resolve)
        setTimeout(() => reject(new Error(`no answer within ${timeoutMs} ms`)), timeoutMs).unref()
      })
      child.send({ id, event, timeoutMs })
      const message = await answer
      if (message.error !== undefined) throw new Error(message.error)
      return message.result
    },
    /** What the process wrote last. */
    log: () => [out(), err()].filter(Boolean).join('\n'),
    stop() {
      if (child.connected) child.disconnect()
      child.kill()
    }
  }
}

/** The JSON body of an API Gateway response, or undefined. */
export function jsonOf(/** @type {any} */ response) {
  try {
    return JSON.parse(response.isBase64Encoded ? Buffer.from(response.body, 'base64').toString('utf8') : response.body)
  } catch {
    return undefined
  }
}

/** A response for a failure message: status and the start of the body. */
export const show = (/** @type {any} */ response) =>
  `${response?.statusCode} ${String(response?.body ?? '').slice(0, 500)}`
