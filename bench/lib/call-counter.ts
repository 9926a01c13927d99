import { AsyncLocalStorage } from 'node:async_hooks'
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'

/** DynamoDB calls by operation (`Query`, `PutItem` …); a batch write or get is one call. */
export type Calls = Map<string, number>

export interface CallCounter {
  /** Runs `fn`, counting the calls made on its behalf. */
  during: <T>(fn: () => Promise<T>) => Promise<{ result: T; calls: Calls }>
  /** Calls made outside any `during`: the work the app does in the background, after its responses. */
  background: Calls
}

/**
 * Counts every command a real client sends, attributed through async context
 * (the same way test/fixtures/failing-dynamodb.ts attaches to a client).
 */
export function countCalls(client: DynamoDBClient): CallCounter {
  const current = new AsyncLocalStorage<Calls>()
  const background: Calls = new Map()
  client.middlewareStack.add(
    (next, context) => async args => {
      const calls = current.getStore() ?? background
      const name = (context.commandName ?? 'unknown').replace(/Command$/, '')
      calls.set(name, (calls.get(name) ?? 0) + 1)
      return await next(args)
    },
    { step: 'initialize', name: 'bench-call-counter' }
  )
  return {
    during: async fn => {
      const calls: Calls = new Map()
      const result = await current.run(calls, fn)
      return { result, calls }
    },
    background
  }
}

export const totalOf = (calls: Calls): number => [...calls.values()].reduce((a, b) => a + b, 0)

/** `12.8 (4 Query, 3 GetItem …)`: calls per operation, averaged over `runs`. */
export function describeCalls(calls: Calls, runs = 1): string {
  const per = (n: number) => Math.round((n / runs) * 10) / 10
  const parts = [...calls.entries()].sort((a, b) => b[1] - a[1]).map(([name, n]) => `${per(n)} ${name}`)
  return `${per(totalOf(calls))}${parts.length > 0 ? ` (${parts.join(', ')})` : ''}`
}
