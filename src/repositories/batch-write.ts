import { BatchWriteCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { setTimeout as sleep } from 'node:timers/promises'

type WriteRequest = { PutRequest: { Item: Record<string, unknown> } } | { DeleteRequest: { Key: Record<string, unknown> } }

const BATCH = 25
const MAX_ATTEMPTS = 10

/**
 * Writes every request, 25 to a BatchWriteItem, retrying what DynamoDB leaves
 * unprocessed with backoff. Each request is its own single-item write: a batch
 * is not atomic, so callers must be fine with a prefix landing.
 */
export async function batchWriteAll (db: DynamoDBDocumentClient, table: string, all: WriteRequest[]): Promise<void> {
  for (let i = 0; i < all.length; i += BATCH) {
    let requests = all.slice(i, i + BATCH)
    for (let attempt = 0; requests.length > 0; attempt++) {
      if (attempt === MAX_ATTEMPTS) throw new Error(`${requests.length} writes to ${table} stayed unprocessed`)
      if (attempt > 0) await sleep(Math.min(1000, 20 * 2 ** attempt))
      const { UnprocessedItems } = await db.send(new BatchWriteCommand({ RequestItems: { [table]: requests } }))
      requests = (UnprocessedItems?.[table] ?? []) as WriteRequest[]
    }
  }
}
