/** Small helpers the scripts share for the processes they start. */
import { createServer } from 'node:net'

/** A TCP port free on loopback right now. */
export function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = /** @type {import('node:net').AddressInfo} */ (server.address())
      server.close(() => resolve(port))
    })
  })
}

export const sleep = (/** @type {number} */ ms) => new Promise(resolve => setTimeout(resolve, ms))

/**
 * Resolves once `url` answers anything at all; throws after `tries` attempts, 100 ms apart.
 * @param {string} name
 * @param {string} url
 * @param {RequestInit} [init]
 */
export async function waitFor(name, url, init = {}, tries = 300) {
  for (let i = 0; i < tries; i++) {
    try {
      await fetch(url, { ...init, signal: AbortSignal.timeout(1000) })
      return
    } catch {
      await sleep(100)
    }
  }
  throw new Error(`${name} did not answer at ${url}`)
}

/**
 * Keeps the last lines a stream carried, to show when something fails.
 * @param {import('node:stream').Readable | null | undefined} stream
 * @returns {() => string}
 */
export function tail(stream, lines = 40) {
  /** @type {string[]} */
  const kept = []
  stream?.setEncoding('utf8')
  stream?.on('data', chunk => {
    kept.push(...String(chunk).split('\n').filter(Boolean))
    kept.splice(0, Math.max(0, kept.length - lines))
  })
  return () => kept.join('\n')
}

/**
 * What a child process prints on stdout up to and including `marker`; rejects, with what it printed, if it
 * exits first.
 * @param {import('node:child_process').ChildProcess} child
 * @param {string} marker
 * @returns {Promise<string>}
 */
export function printedUntil(child, marker) {
  let printed = ''
  return new Promise((resolve, reject) => {
    child.stdout?.on('data', chunk => {
      printed += chunk
      if (printed.includes(marker)) resolve(printed)
    })
    child.once('exit', code =>
      reject(new Error(`exited with ${code} before printing ${JSON.stringify(marker)}: ${printed}`))
    )
  })
}

/**
 * `ok - …` / `not ok - …` lines and their totals, for the scripts CI counts.
 */
export function checklist() {
  let passed = 0
  let failed = 0
  return {
    /**
     * @param {boolean} ok
     * @param {string} name
     * @param {unknown} [detail] shown under a failure
     */
    check(ok, name, detail) {
      if (ok) passed++
      else failed++
      console.log(
        `${ok ? 'ok' : 'not ok'} - ${name}${!ok && detail !== undefined ? `\n  # ${String(detail).replace(/\n/g, '\n  # ')}` : ''}`
      )
      return ok
    },
    get failed() {
      return failed
    },
    summary() {
      return `${passed} passed, ${failed} failed`
    }
  }
}
