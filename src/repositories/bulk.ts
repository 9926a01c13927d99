/** DynamoDB operations that take more than one request: every page of a Query, every write of a batch. */
import { BatchWriteCommand, QueryCommand, type DynamoDBDocumentClient, type QueryCommandInput } from '@aws-sdk/lib-dynamodb'
import { setTimeout as sleep } from 'node:timers/promises'

type WriteRequest = { PutRequest: { Item: Record<string, unknown> } } | { DeleteRequest: { Key: Record<string, unknown> } }

const BATCH = 25
const MAX_ATTEMPTS = 10

/** Every item the query matches, page after page. Only for key ranges known to be small. */
export async function queryAll<T> (db: DynamoDBDocumentClient, input: Omit<QueryCommandInput, 'ExclusiveStartKey'>): Promise<T[]> {
  const items: T[] = []
  let startKey: Record<string, unknown> | undefined
  do {
    const page = await db.send(new QueryCommand({ ...input, ExclusiveStartKey: startKey }))
    items.push(...(page.Items ?? []) as T[])
    startKey = page.LastEvaluatedKey
  } while (startKey !== undefined)
  return items
}

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
