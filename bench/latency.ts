import type { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { setTimeout as sleep } from 'node:timers/promises'

export interface Latency {
  /** Delay every call from now on (true) or stop delaying (false). */
  set: (on: boolean) => void
}

/**
 * Adds `ms` before every call the client sends, while switched on: the round
 * trip of a remote DynamoDB (5 to 10 ms a call) modelled on the in-memory
 * engine, for the appends and the projection alike, since both use the app's
 * one client.
 */
export function addLatency(client: DynamoDBClient, ms: number): Latency {
  let on = false
  client.middlewareStack.add(
    next => async args => {
      if (on) await sleep(ms)
      return await next(args)
    },
    { step: 'finalizeRequest', name: 'bench-latency' }
  )
  return { set: value => (on = value) }
}
