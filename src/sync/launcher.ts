/**
 * How a run's next slice starts outside the request that recorded it: on
 * Lambda the function invokes itself asynchronously with the continuation as
 * its event (src/entries/lambda-handler.ts dispatches it); anywhere else it runs in
 * the background of this process.
 */
import type { LambdaClient } from '@aws-sdk/client-lambda'
import type { Logger } from 'pino'
import { continuationEvent, type Continuation } from '../aws/lambda-events.ts'

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
  /** The app's Lambda client (src/aws/clients.ts), built on the first launch. */
  client: () => Promise<LambdaClient>
}

export function lambdaLauncher({ functionName, client }: LambdaLauncherOptions): SyncLauncher {
  return {
    async launch(next) {
      // Loaded on the first run, not at every cold start.
      const { InvokeCommand } = await import('@aws-sdk/client-lambda')
      const event = continuationEvent(next)
      await (
        await client()
      ).send(
        new InvokeCommand({
          FunctionName: functionName,
          InvocationType: 'Event',
          Payload: Buffer.from(JSON.stringify(event))
        })
      )
    },
    // The client is the app's: the aws plugin destroys it when the app closes.
    async close() {}
  }
}
