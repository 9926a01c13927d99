/** The rehearsal's short scenario through the created function: one request or two per resource, as API Gateway 2.0 sends them. */
import { randomBytes } from 'node:crypto'
import { ListObjectsV2Command } from '@aws-sdk/client-s3'
import { buckets, tables } from '../../src/core/tables.ts'
import { jsonOf, show } from '../lib/bundle-process.mjs'
import { datasetBody } from '../lib/datasets.ts'
import { httpApiEvent } from '../lib/lambda-events.mjs'
import type { Context } from './context.ts'

export async function rehearseRoutes({ invoke, check, headers, s3, env }: Context): Promise<void> {
  const call = async (method: string, path: string, options: { query?: Record<string, string>; body?: unknown } = {}) =>
    await invoke(
      httpApiEvent({
        method,
        path,
        query: options.query,
        headers: { ...headers, ...(options.body === undefined ? {} : { 'content-type': 'application/json' }) },
        body: options.body === undefined ? undefined : JSON.stringify(options.body)
      })
    )

  const health = await call('GET', '/health', { query: { deep: '1' } })
  const probed = jsonOf(health)?.checks ?? {}
  check(
    health.statusCode === 200 &&
      Object.keys(tables).every(key => probed.tables?.[key] === 'ok') &&
      Object.keys(buckets).every(key => probed.buckets?.[key] === 'ok'),
    'GET /health?deep=1 -> 200, every table and bucket of src/core/tables.ts answers',
    show(health)
  )

  // Over the inline limit: the payload goes to the payload bucket.
  const payload = randomBytes(300 * 1024).toString('base64')
  const created = await call('POST', '/data', { body: datasetBody({ payload }) })
  const keyId = jsonOf(created)?.keyId
  check(
    created.statusCode === 201 && typeof keyId === 'string',
    'POST /data with a 400 KiB payload -> 201',
    show(created)
  )
  const read = await call('GET', `/data/${keyId}`)
  check(
    read.statusCode === 200 && jsonOf(read)?.payload === payload,
    'GET /data/{keyId} -> the same 400 KiB payload',
    show(read)
  )
  const objects = await s3.send(new ListObjectsV2Command({ Bucket: env.PAYLOAD_BUCKET }))
  check(
    (objects.Contents ?? []).some(o => o.Key?.startsWith(`data/${keyId}/`)),
    "the payload sits in the stack's payload bucket",
    JSON.stringify(objects.Contents?.map(o => o.Key))
  )

  const email = `rehearsal-${randomBytes(4).toString('hex')}@example.com`
  const user = await call('POST', '/users', { body: { email, name: 'Rehearsal', department: 'Operations' } })
  check(user.statusCode === 201, 'POST /users -> 201', show(user))
  const byEmail = await call('GET', '/users', { query: { email: email.toUpperCase() } })
  check(
    jsonOf(byEmail)?.users?.[0]?.userId === jsonOf(user)?.userId,
    'GET /users?email= finds the user (the claim item)',
    show(byEmail)
  )
  const byDepartment = await call('GET', '/users', { query: { department: 'Operations' } })
  check(
    jsonOf(byDepartment)?.users?.some((u: { userId: string }) => u.userId === jsonOf(user)?.userId) === true,
    'GET /users?department= lists the user (department-createdAt-index)',
    show(byDepartment)
  )

  const appended = await call('POST', '/projects/rehearsal/changes', {
    body: { entityType: 'doc', entityId: 'd1', operation: 'create', data: { title: 'Hello' } }
  })
  check(
    appended.statusCode === 201 && jsonOf(appended)?.changes?.[0]?.seq === 1,
    'POST /projects/rehearsal/changes -> 201, seq 1',
    show(appended)
  )
  const feed = await call('GET', '/projects/rehearsal/changes', { query: { since: '0' } })
  check(
    jsonOf(feed)?.changes?.length === 1 && jsonOf(feed)?.lastSeq === 1,
    'GET /projects/rehearsal/changes?since=0 -> the change',
    show(feed)
  )
  const stats = await call('GET', '/projects/rehearsal/stats')
  check(
    stats.statusCode === 200 && jsonOf(stats)?.totalChanges === 1,
    'GET /projects/rehearsal/stats -> 1 change',
    show(stats)
  )
}
