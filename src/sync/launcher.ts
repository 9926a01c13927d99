/**
 * How a run's next slice starts outside the request that recorded it: on
 * Lambda the function invokes itself asynchronously with the continuation as
 * its event (src/lambda-handler.ts dispatches it); anywhere else it runs in
 * the background of this process.
 */
import type { Logger } from 'pino'
import { continuationEvent, type Continuation } from '../lambda-events.ts'

export interface SyncLauncher {
  launch: (next: Continuation) => Promise<void>
  /** Stops launching; resolves once every slice this process runs has stopped. */
  close: () => Promise<void>
}

export type SliceRunner = (next: Continuation, deadline: number) => Promise<void>

export function inProcessLauncher(run: SliceRunner, budgetMs: number, log: Logger): SyncLauncher {
  const running = new Set<Promise<void>>()
  let closed = false
  return {
    async launch(next) {
      if (closed) throw new Error('The sync launcher is closed: this process is shutting down')
      const slice: Promise<void> = new Promise<void>(resolve => setImmediate(resolve))
        .then(() => run(next, Date.now() + budgetMs))
        .catch(err => log.error({ err, runId: next.runId, hop: next.hop }, 'sync slice failed'))
        .finally(() => running.delete(slice))
      running.add(slice)
    },
    async close() {
      closed = true
      while (running.size > 0) await Promise.all(running)
    }
  }
}

export interface LambdaLauncherOptions {
  functionName: string
  region: string
  endpoint?: string
  credentials?: { accessKeyId: string; secretAccessKey: string }
}

export function lambdaLauncher(options: LambdaLauncherOptions): SyncLauncher {
  let client: import('@aws-sdk/client-lambda').LambdaClient | undefined
  return {
    async launch(next) {
      // Loaded on the first run, not at every cold start.
      const { InvokeCommand, LambdaClient } = await import('@aws-sdk/client-lambda')
      client ??= new LambdaClient({
        region: options.region,
        endpoint: options.endpoint,
        credentials: options.credentials,
        maxAttempts: 3
      })
      const event = continuationEvent(next)
      await client.send(
        new InvokeCommand({
          FunctionName: options.functionName,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify(event))
        })
      )
    },
    async close() {
      client?.destroy()
    }
  }
}
