/**
 * The event sources the template can wire to the function, each found in the
 * translated template and rehearsed with an event built as AWS would send it.
 * A source found with no entry here fails the rehearsal: add its entry with it.
 */
import { QueryCommand } from '@aws-sdk/client-dynamodb'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { unmarshall } from '@aws-sdk/util-dynamodb'
import { randomBytes } from 'node:crypto'
import { jsonOf, show } from '../lib/bundle-process.mjs'
import { dynamodbStreamEvent, httpApiEvent, s3Event } from '../lib/lambda-events.mjs'
import { OBSIDIAN, type Context, type TemplateResource } from './context.ts'

export const EVENT_SOURCES: Array<{
  name: string
  /** The resources of the translated template that make one such source. */
  find: (resources: Record<string, TemplateResource>, fn: string) => string[]
  rehearse: (ctx: Context, logicalId: string) => Promise<void>
}> = [
  {
    name: 'S3 notification',
    find: (resources, fn) =>
      idsOf(resources, 'AWS::S3::Bucket', r =>
        (r.Properties?.NotificationConfiguration?.LambdaConfigurations ?? []).some((c: { Function?: unknown }) =>
          names(c.Function, fn)
        )
      ),
    rehearse: rehearseAssetUpload
  },
  {
    name: 'schedule',
    find: (resources, fn) =>
      idsOf(resources, 'AWS::Events::Rule', r =>
        (r.Properties?.Targets ?? []).some((target: { Arn?: unknown }) => names(target.Arn, fn))
      ),
    rehearse: rehearseSchedule
  },
  {
    name: 'DynamoDB stream',
    find: (resources, fn) =>
      idsOf(
        resources,
        'AWS::Lambda::EventSourceMapping',
        r =>
          names(r.Properties?.FunctionName ?? '', fn) &&
          JSON.stringify(r.Properties?.EventSourceArn ?? '').includes('StreamArn')
      ),
    rehearse: rehearseProjectsStream
  }
]

/** The logical ids of the resources of one type that `wired` recognises. */
function idsOf(
  resources: Record<string, TemplateResource>,
  type: string,
  wired: (resource: TemplateResource) => boolean
): string[] {
  return Object.entries(resources)
    .filter(([, r]) => r.Type === type && wired(r))
    .map(([id]) => id)
}

/** True when `value` (a name, a Ref, a GetAtt ...) names the function's logical id. */
const names = (value: unknown, fn: string): boolean => JSON.stringify(value).includes(`"${fn}"`)

/** Sources the translator makes that no entry above recognises. */
export function unrehearsedSources(resources: Record<string, TemplateResource>, fn: string): string[] {
  const known = new Set(EVENT_SOURCES.flatMap(source => source.find(resources, fn)))
  return Object.entries(resources).flatMap(([id, r]) => {
    const targetsFunction = names(r.Properties ?? {}, fn)
    if (known.has(id)) return []
    if (r.Type === 'AWS::Lambda::EventSourceMapping' && targetsFunction) return [`${id} (${r.Type})`]
    if (r.Type === 'AWS::Events::Rule' && targetsFunction) return [`${id} (${r.Type})`]
    if (r.Type === 'AWS::S3::Bucket' && targetsFunction) return [`${id} (S3 notification)`]
    return []
  })
}

/** POST /assets, the bytes to the presigned URL, then the notification S3 would send the function. */
async function rehearseAssetUpload({ invoke, check, headers, physical }: Context, bucketId: string): Promise<void> {
  const bytes = randomBytes(4096)
  const asset = await invoke(
    httpApiEvent({
      method: 'POST',
      path: '/assets',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ fileName: 'rehearsal.pdf', contentType: 'application/pdf', size: bytes.length })
    })
  )
  const created = jsonOf(asset)
  if (
    !check(
      asset.statusCode === 201 && created?.upload?.method === 'PUT',
      'POST /assets -> 201 with a presigned PUT',
      show(asset)
    )
  )
    return
  const put = await fetch(created.upload.url, {
    method: 'PUT',
    headers: created.upload.headers,
    body: new Uint8Array(bytes)
  })
  check(put.ok, `the presigned PUT uploads to the stack's bucket (${put.status})`, await put.text())
  const bucket = physical(bucketId)!
  const result = await invoke(s3Event({ bucket, key: created.s3Key, size: bytes.length }))
  check(
    result?.assets?.[0]?.status === 'uploaded',
    `an ObjectCreated notification from ${bucketId} marks the asset uploaded`,
    JSON.stringify(result)
  )
  const download = await invoke(httpApiEvent({ method: 'GET', path: `/assets/${created.assetId}/download`, headers }))
  const url = jsonOf(download)?.url
  const got = typeof url === 'string' ? Buffer.from(await (await fetch(url)).arrayBuffer()) : undefined
  check(got?.equals(bytes) === true, 'the presigned download returns the bytes', show(download))
}

/** An append, then the stream records DynamoDB would send for what it wrote: the projection catches up. */
async function rehearseProjectsStream(
  { invoke, check, headers, deployed, physical, dynamodb }: Context,
  mappingId: string
): Promise<void> {
  const tableId = deployed.template.Resources[mappingId]!.Properties!.EventSourceArn['Fn::GetAtt'][0] as string
  const table = physical(tableId)!
  const appended = await invoke(
    httpApiEvent({
      method: 'POST',
      path: '/projects/rehearsal-stream/changes',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ entityType: 'document', entityId: 'a', operation: 'create', data: { title: 'streamed' } })
    })
  )
  if (!check(appended.statusCode === 201, 'POST /projects/rehearsal-stream/changes -> 201', show(appended))) return
  const { Items = [] } = await dynamodb.send(
    new QueryCommand({
      TableName: table,
      KeyConditionExpression: 'pk = :pk',
      ExpressionAttributeValues: { ':pk': { S: 'P#rehearsal-stream' } },
      ConsistentRead: true
    })
  )
  const written = Items.map(item => unmarshall(item))
  const result = await invoke(dynamodbStreamEvent({ table, items: written }))
  check(
    result?.projects?.[0]?.projectId === 'rehearsal-stream' && result.projects[0].projectedSeq === 1,
    `records from ${tableId}'s stream (${mappingId}) bring the projection to seq 1`,
    JSON.stringify(result)
  )
}

/** The rule's own input, sent as EventBridge sends it: every vault of the stack's Obsidian account lands in its bucket. */
async function rehearseSchedule(
  { invoke, check, deployed, physical, s3, headers }: Context,
  ruleId: string
): Promise<void> {
  const rule = deployed.template.Resources[ruleId]!
  const input = JSON.parse(rule.Properties!.Targets[0].Input)
  const result = await invoke(input)
  // A run that ends within the invocation answers with its SyncResponse, else with its id.
  const runId = result?.run_id ?? result?.sync_run
  if (
    !check(
      typeof runId === 'string',
      `the ${ruleId} rule's input ${JSON.stringify(input)} starts a sync run`,
      JSON.stringify(result)
    )
  )
    return
  const run = await invoke(httpApiEvent({ method: 'GET', path: `/sync/runs/${runId}`, headers }))
  check(
    jsonOf(run)?.status === 'succeeded' && jsonOf(run)?.trigger === 'schedule',
    "the scheduled run signs in with the stack's account and succeeds",
    show(run)
  )
  // POST /sync hands the run to the function itself, as an asynchronous invocation of the created function.
  const posted = await invoke(
    httpApiEvent({
      method: 'POST',
      path: '/sync',
      headers: { ...headers, 'content-type': 'application/json' },
      body: JSON.stringify({ vault_id: OBSIDIAN.vault, sync_type: 'complete' })
    })
  )
  check(
    posted.statusCode === 202 && jsonOf(posted)?.status === 'queued',
    'POST /sync -> 202: the function invoked itself asynchronously for the first slice',
    show(posted)
  )
  const listed = await s3.send(
    new ListObjectsV2Command({ Bucket: physical('SyncBucket'), Prefix: `vaults/${OBSIDIAN.vault}/` })
  )
  check(
    (listed.Contents ?? []).some(o => o.Key === `vaults/${OBSIDIAN.vault}/notes/hello.md`),
    "the vault's files are in the stack's sync bucket",
    JSON.stringify(listed.Contents?.map(o => o.Key))
  )
}
