/**
 * The child of `startBundle`: loads a Lambda bundle the way the runtime does,
 * then invokes its handler for each event the parent sends over IPC. Logs go
 * to stdout/stderr, results over IPC, so the two cannot mix.
 *
 *   node scripts/lib/invoker.mjs <bundle> <function name>
 */
import { pathToFileURL } from 'node:url'
import { lambdaContext } from './lambda-events.mjs'

const [bundle, functionName] = process.argv.slice(2)
const send = message => new Promise(resolve => process.send(message, resolve))
const started = performance.now()
let handler
try {
  ;({ handler } = await import(pathToFileURL(bundle).href))
  if (typeof handler !== 'function') throw new Error(`${bundle} exports no handler function`)
} catch (err) {
  await send({ type: 'init-error', error: String(err?.stack ?? err) })
  process.exit(1)
}
await send({ type: 'ready', loadMs: performance.now() - started })
process.on('message', async ({ id, event, timeoutMs }) => {
  try {
    const result = await handler(
      event,
      lambdaContext({ functionName, timeoutMs, requestId: event?.requestContext?.requestId })
    )
    await send({ type: 'result', id, result })
  } catch (err) {
    await send({ type: 'result', id, error: String(err?.stack ?? err) })
  }
})
process.on('disconnect', () => process.exit(0))
