import type {
  AttributeDefinition,
  GlobalSecondaryIndex,
  KeySchemaElement,
  StreamViewType
} from '@aws-sdk/client-dynamodb'

/**
 * Every DynamoDB table and S3 bucket the app uses, defined once. The local
 * bootstrap creates them from here, and test/template.test.ts fails when
 * template.yaml disagrees.
 */
export interface TableDefinition {
  /** Resource name in template.yaml. */
  logicalId: string
  /** Environment variable holding the deployed name. */
  envVar: string
  defaultName: string
  keySchema: KeySchemaElement[]
  attributeDefinitions: AttributeDefinition[]
  globalSecondaryIndexes?: Array<Pick<GlobalSecondaryIndex, 'IndexName' | 'KeySchema' | 'Projection'>>
  ttlAttribute?: string
  /**
   * The table's stream, for a Lambda event source. Deployed only: dynalite has
   * no streams, so the local bootstrap leaves it out and the app works without it.
   */
  streamViewType?: StreamViewType
}

export interface BucketDefinition {
  logicalId: string
  envVar: string
  defaultName: string
  /** Every object the app writes has a key under this prefix; policies and lifecycle rules name it. */
  keyPrefix: string
  /**
   * Keeps every version of an object: the local bootstrap turns versioning on, as template.yaml does, so the
   * past a restore reads exists on every engine.
   */
  versioned?: boolean
}

/** A key schema: a partition key, and a sort key when given. */
function keySchema(hash: string, range?: string): KeySchemaElement[] {
  const schema: KeySchemaElement[] = [{ AttributeName: hash, KeyType: 'HASH' }]
  if (range !== undefined) schema.push({ AttributeName: range, KeyType: 'RANGE' })
  return schema
}

/** Attributes of type string, as keys and index keys declare them. */
const stringAttributes = (...names: string[]): AttributeDefinition[] =>
  names.map(name => ({ AttributeName: name, AttributeType: 'S' }))

/** The keys of a table keyed by a string partition key and a string sort key. */
function stringKeys(hash: string, range: string): Pick<TableDefinition, 'keySchema' | 'attributeDefinitions'> {
  return { keySchema: keySchema(hash, range), attributeDefinitions: stringAttributes(hash, range) }
}

/** A global secondary index projecting every attribute. */
function indexOfAll(
  name: string,
  hash: string,
  range: string
): NonNullable<TableDefinition['globalSecondaryIndexes']>[0] {
  return { IndexName: name, KeySchema: keySchema(hash, range), Projection: { ProjectionType: 'ALL' } }
}

export const tables = {
  /**
   * /data: per dataset one `HEAD` item (the current version) and up to nine
   * history items `V#<generation>#<version, zero-padded>`, all under the
   * dataset's keyId. See src/repositories/data.ts.
   */
  data: {
    logicalId: 'DataTable',
    envVar: 'DATA_TABLE',
    defaultName: 'atlas-data',
    ...stringKeys('keyId', 'sk')
  },
  /**
   * /projects: per project a partition `P#<projectId>` holding its batches of
   * changes, entity pointers, outdatedBy marks and stats; and the registry
   * partition `PROJECTS`. Its stream (keys only: the projection reads the
   * batch itself) drives the projection. See src/repositories/projects/index.ts.
   */
  projects: {
    logicalId: 'ProjectsTable',
    envVar: 'PROJECTS_TABLE',
    defaultName: 'atlas-projects',
    ...stringKeys('pk', 'sk'),
    streamViewType: 'KEYS_ONLY'
  },
  /**
   * /users: one `USER#<userId>` item per user and one `EMAIL#<normalized email>`
   * claim per email in use, which is what makes emails unique (GSIs are
   * eventually consistent). Two GSIs serve creation-order listing, all users
   * and per department. See src/repositories/users/.
   */
  users: {
    logicalId: 'UsersTable',
    envVar: 'USERS_TABLE',
    defaultName: 'atlas-users',
    keySchema: keySchema('pk'),
    attributeDefinitions: stringAttributes('pk', 'gsi1pk', 'gsi1sk', 'gsi2pk', 'gsi2sk'),
    globalSecondaryIndexes: [
      indexOfAll('createdAt-index', 'gsi1pk', 'gsi1sk'),
      indexOfAll('department-createdAt-index', 'gsi2pk', 'gsi2sk')
    ],
    ttlAttribute: 'ttl'
  },
  /**
   * /assets: one item per asset under its assetId; `status-index` lists one
   * status newest first (sort key `<createdAt, zero-padded>#<assetId>`).
   * See src/repositories/assets/.
   */
  assets: {
    logicalId: 'AssetsTable',
    envVar: 'ASSETS_TABLE',
    defaultName: 'atlas-assets',
    keySchema: keySchema('assetId'),
    attributeDefinitions: stringAttributes('assetId', 'status', 'createdKey'),
    globalSecondaryIndexes: [indexOfAll('status-index', 'status', 'createdKey')],
    ttlAttribute: 'ttl'
  },
  /**
   * /sync: runs (`RUNS` / <runId>, a UUIDv7, so newest first is a reverse
   * Query), each run's per-vault progress (`RUN#<runId>` / <vaultId>), one
   * lease per vault (`VAULT#<vaultId>` / `LEASE`), the synced state of each
   * vault and destination (`VAULTS` / <vaultId>#<target>) and one index entry
   * per backed-up file (`FILES#<vaultId>#<target>` / <path>).
   * See src/repositories/sync-runs.ts and src/repositories/sync-vaults.ts.
   */
  sync: {
    logicalId: 'SyncTable',
    envVar: 'SYNC_TABLE',
    defaultName: 'atlas-sync',
    ...stringKeys('pk', 'sk'),
    ttlAttribute: 'ttl'
  }
} satisfies Record<string, TableDefinition>

export const buckets = {
  /** Bodies too large for a DynamoDB item: /data payloads over the inline limit. */
  payloads: {
    logicalId: 'PayloadBucket',
    envVar: 'PAYLOAD_BUCKET',
    defaultName: 'atlas-payloads',
    keyPrefix: 'data/'
  },
  /** /assets bytes, under `assets/<assetId>/<file name>`, uploaded and downloaded by clients through presigned URLs. */
  assets: {
    logicalId: 'AssetsBucket',
    envVar: 'ASSETS_BUCKET',
    defaultName: 'atlas-assets',
    keyPrefix: 'assets/'
  },
  /**
   * /sync: decrypted vault files under `<dest_prefix or vaults>/<vaultId>/<path>`.
   * Versioned, so a file a sync deleted or replaced stays recoverable for 30 days.
   */
  sync: {
    logicalId: 'SyncBucket',
    envVar: 'SYNC_BUCKET',
    defaultName: 'atlas-sync',
    keyPrefix: 'vaults/',
    versioned: true
  }
} satisfies Record<string, BucketDefinition>

export type TableNames = { [K in keyof typeof tables]: string }
export type BucketNames = { [K in keyof typeof buckets]: string }

function namesFrom<T extends Record<string, { envVar: string; defaultName: string }>>(
  defs: T,
  env: NodeJS.ProcessEnv
): { [K in keyof T]: string } {
  return Object.fromEntries(Object.entries(defs).map(([key, def]) => [key, env[def.envVar] || def.defaultName])) as {
    [K in keyof T]: string
  }
}

export const tableNames = (env: NodeJS.ProcessEnv): TableNames => namesFrom(tables, env)
export const bucketNames = (env: NodeJS.ProcessEnv): BucketNames => namesFrom(buckets, env)
