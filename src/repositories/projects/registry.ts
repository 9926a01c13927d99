/** The registry of known projects (partition `PROJECTS`), and each project's META, written once, before its first batch. */
import { PutCommand, type DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb'
import { batchGetAll, conditionHolds, partitionPage } from '../dynamo.ts'
import { META, projectIdOf, projectKey, REGISTRY, type MetaItem } from './items.ts'

export interface ProjectSummary {
  projectId: string
  latestSeq: number
  createdAt: string
}

export class Registry {
  constructor(
    private readonly db: DynamoDBDocumentClient,
    private readonly table: string
  ) {}

  async register(projectId: string, createdAt: string): Promise<void> {
    const meta: MetaItem = {
      projectedSeq: 0,
      totalChanges: 0,
      entityCount: 0,
      byEntityType: {},
      byOperation: {},
      createdAt,
      updatedAt: createdAt
    }
    await Promise.all([
      this.putIfAbsent({ pk: projectKey(projectId), sk: META, ...meta }),
      this.putIfAbsent({ pk: REGISTRY, sk: projectId, createdAt })
    ])
  }

  /** Known projects in id order, with the seq their stats have reached. */
  async list(limit: number, after?: string): Promise<{ projects: ProjectSummary[]; next?: string }> {
    const start = after === undefined ? undefined : { pk: REGISTRY, sk: after }
    const { items: registered, last } = await partitionPage(this.db, this.table, REGISTRY, { limit, start })
    const found = await batchGetAll<MetaItem & { pk: string }>(
      this.db,
      this.table,
      registered.map(item => ({ pk: projectKey(item.sk as string), sk: META }))
    )
    const metas = new Map(found.map(item => [projectIdOf(item.pk), item]))
    const projects = registered.map(item => ({
      projectId: item.sk as string,
      latestSeq: metas.get(item.sk as string)?.projectedSeq ?? 0,
      createdAt: item.createdAt as string
    }))
    const next = last === undefined ? undefined : (last.sk as string)
    return { projects, next }
  }

  private async putIfAbsent(item: Record<string, unknown>): Promise<void> {
    await conditionHolds(
      this.db.send(
        new PutCommand({ TableName: this.table, Item: item, ConditionExpression: 'attribute_not_exists(pk)' })
      )
    )
  }
}
