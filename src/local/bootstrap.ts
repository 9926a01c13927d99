import {
  CreateTableCommand,
  DescribeTableCommand,
  ResourceInUseException,
  UpdateTimeToLiveCommand,
  type DynamoDBClient
} from '@aws-sdk/client-dynamodb'
import { CreateBucketCommand, HeadBucketCommand, PutBucketVersioningCommand, type S3Client } from '@aws-sdk/client-s3'
import { setTimeout as sleep } from 'node:timers/promises'
import { createAwsClients, destroyAwsClients, type AwsClients } from '../aws/clients.ts'
import type { Config } from '../config/config.ts'
import {
  buckets,
  tables,
  type BucketDefinition,
  type BucketNames,
  type TableDefinition,
  type TableNames
} from '../core/tables.ts'

/**
 * Creates every table and bucket of src/core/tables.ts that does not exist yet (only the tables, or only the buckets,
 * when told). Safe to run on every start.
 */
export async function bootstrapStorage(
  clients: AwsClients,
  names: { tables: TableNames; buckets: BucketNames },
  only: { tables: boolean; buckets: boolean } = { tables: true, buckets: true }
): Promise<void> {
  await Promise.all([
    ...Object.entries(tables)
      .filter(() => only.tables)
      .map(([key, def]) => ensureTable(clients.dynamodb, def, names.tables[key as keyof TableNames])),
    ...Object.entries(buckets)
      .filter(() => only.buckets)
      .map(([key, def]) => ensureBucket(clients.s3, def, names.buckets[key as keyof BucketNames]))
  ])
}

/**
 * Creates what src/core/tables.ts defines and the configured emulators lack (started by hand): the tables when a
 * DynamoDB endpoint is set, the buckets when an S3 endpoint is. The other service is AWS's own, never touched.
 */
export async function createMissingStorage(config: Config): Promise<void> {
  const clients = createAwsClients(config)
  try {
    await bootstrapStorage(clients, config, {
      tables: config.endpoints.dynamodb !== undefined,
      buckets: config.endpoints.s3 !== undefined
    })
  } finally {
    destroyAwsClients(clients)
  }
}

async function ensureTable(dynamodb: DynamoDBClient, def: TableDefinition, name: string): Promise<void> {
  try {
    await dynamodb.send(
      new CreateTableCommand({
        TableName: name,
        BillingMode: 'PAY_PER_REQUEST',
        KeySchema: def.keySchema,
        AttributeDefinitions: def.attributeDefinitions,
        GlobalSecondaryIndexes: def.globalSecondaryIndexes?.length ? def.globalSecondaryIndexes : undefined
      })
    )
  } catch (err) {
    if (!(err instanceof ResourceInUseException)) throw err
  }
  for (let i = 0; i < 100; i++) {
    const { Table } = await dynamodb.send(new DescribeTableCommand({ TableName: name }))
    if (Table?.TableStatus === 'ACTIVE') break
    await sleep(100)
  }
  if (def.ttlAttribute) {
    try {
      await dynamodb.send(
        new UpdateTimeToLiveCommand({
          TableName: name,
          TimeToLiveSpecification: { AttributeName: def.ttlAttribute, Enabled: true }
        })
      )
    } catch {
      // Some emulators lack TTL or refuse enabling it twice; reads treat expired items as gone anyway.
    }
  }
}

async function ensureBucket(s3: S3Client, def: BucketDefinition, name: string): Promise<void> {
  if (!(await bucketExists(s3, name))) {
    try {
      await s3.send(new CreateBucketCommand({ Bucket: name }))
    } catch (err) {
      const code = (err as { name?: string }).name
      if (code !== 'BucketAlreadyOwnedByYou' && code !== 'BucketAlreadyExists') throw err
    }
  }
  // Also on a bucket an older start created without it: turning versioning on again changes nothing.
  if (def.versioned)
    await s3.send(new PutBucketVersioningCommand({ Bucket: name, VersioningConfiguration: { Status: 'Enabled' } }))
}

async function bucketExists(s3: S3Client, name: string): Promise<boolean> {
  try {
    await s3.send(new HeadBucketCommand({ Bucket: name }))
    return true
  } catch {
    return false
  }
}
