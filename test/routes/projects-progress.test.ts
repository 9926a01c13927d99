/**
 * What /projects tells of its projection: how far behind the stats and entity
 * states are (projectedSeq, X-Projected-Seq), and the metrics it emits for
 * CloudWatch, as the template's alarm watches them.
 */
import { readFile } from 'node:fs/promises'
import t from 'tap'
import { UpdateItemCommand } from '@aws-sdk/client-dynamodb'
import { parse } from 'yaml'
import { generateApiKey } from '../../src/auth/api-keys.ts'
import { change } from '../fixtures/project-changes.ts'
import { buildTestApp, injectAs, type TestApp } from '../helper.ts'

const writer = generateApiKey('projects-all', ['projects:*:*'])
const env = { API_KEYS: JSON.stringify([writer.entry]), RATE_LIMIT_MAX: '1000000' }

async function append(app: TestApp['app'], projectId: string, body: unknown): Promise<void> {
  const res = await injectAs(app, writer.key).post(`/projects/${projectId}/changes`, body)
  if (res.statusCode !== 201) throw new Error(`append failed: ${res.statusCode} ${res.body}`)
}

const get = (app: TestApp['app'], url: string) => injectAs(app, writer.key).get(url)

t.test('stats and entity reads say how far behind the projection is', async t => {
  const { app, config, clients } = await buildTestApp(t, { env })
  await append(app, 'p1', change('a'))
  await app.projectsRepository.idle()
  // Another projector holds the lease and makes no progress: reads can only wait it out (2 s), then answer.
  const lease = (until: number) =>
    clients.dynamodb.send(
      new UpdateItemCommand({
        TableName: config.tables.projects,
        Key: { pk: { S: 'P#p1' }, sk: { S: 'META' } },
        UpdateExpression: 'SET leaseUntil = :until, leaseOwner = :owner',
        ExpressionAttributeValues: { ':until': { N: String(until) }, ':owner': { S: 'stuck' } }
      })
    )
  await lease(Date.now() + 60_000)
  await append(app, 'p1', { changes: [change('a', 'update'), change('b')] })

  const behind = (await get(app, '/projects/p1/stats')).json()
  t.match(behind, { totalChanges: 1, latestSeq: 3, projectedSeq: 1 }, 'stats: counted up to 1 of 3')
  const stale = await get(app, '/projects/p1/entities/document/a')
  t.match(stale.json(), { seq: 1 })
  t.same([stale.headers['x-projected-seq'], stale.headers['x-latest-seq']], ['1', '3'], 'entity: state as of seq 1')
  const notYet = await get(app, '/projects/p1/entities/document/b')
  t.same(
    [notYet.statusCode, notYet.headers['x-projected-seq'], notYet.headers['x-latest-seq']],
    [404, '1', '3'],
    'a 404 says it may only be not projected yet'
  )

  await lease(0)
  t.match((await get(app, '/projects/p1/stats')).json(), { totalChanges: 3, latestSeq: 3, projectedSeq: 3 })
  const current = await get(app, '/projects/p1/entities/document/b')
  t.same(
    [current.statusCode, current.headers['x-projected-seq'], current.headers['x-latest-seq']],
    [200, '3', '3'],
    'caught up'
  )
})

t.test(
  'metrics: appends and projection lag in Atlas/Projects, no per-project dimension, as the alarm watches',
  async t => {
    const lines: Array<Record<string, unknown>> = []
    const { app } = await buildTestApp(t, { env, repositories: { projects: { metricsSink: emf => lines.push(emf) } } })
    await append(app, 'p1', change('a'))
    await append(app, 'p2', {
      changes: [change('a', 'create', { changeId: 'x1' }), change('b', 'create', { changeId: 'x2' })]
    })
    await append(app, 'p2', {
      changes: [change('a', 'create', { changeId: 'x1' }), change('c', 'create', { changeId: 'x3' })]
    })
    await app.projectsRepository.idle()

    type Emf = {
      _aws: {
        CloudWatchMetrics: Array<{
          Namespace: string
          Dimensions: string[][]
          Metrics: Array<{ Name: string; Unit: string }>
        }>
      }
    } & Record<string, unknown>
    const emf = lines as Emf[]
    for (const line of emf)
      for (const directive of line._aws.CloudWatchMetrics) {
        t.equal(directive.Namespace, 'Atlas/Projects')
        t.same(directive.Dimensions, [['service']], 'no per-project dimension')
      }
    const appends = emf.filter(line => 'ChangesAppended' in line)
    t.same(
      appends.map(line => [line.ChangesAppended, line.AppendBatchSize]),
      [
        [1, 1],
        [2, 2],
        [1, 2]
      ],
      'per append request: the changes appended (a duplicate left out) and the batch size'
    )
    const lags = emf.filter(line => 'ProjectionLag' in line)
    t.ok(lags.length >= 2, 'the projection of each project told its lag')
    for (const line of lags) t.ok((line.ProjectionLag as number) >= 0 && (line.ProjectionLag as number) < 60)
    t.same(lags[0]!._aws.CloudWatchMetrics[0]!.Metrics, [{ Name: 'ProjectionLag', Unit: 'Seconds' }])

    const template = parse(await readFile(new URL('../../template.yaml', import.meta.url), 'utf8'), {
      logLevel: 'silent'
    }) as { Resources: Record<string, { Type: string; Properties: Record<string, unknown> }> }
    const alarm = template.Resources.ProjectionLagAlarm!
    t.equal(alarm.Type, 'AWS::CloudWatch::Alarm')
    t.match(alarm.Properties, {
      Namespace: 'Atlas/Projects',
      MetricName: 'ProjectionLag',
      Dimensions: [{ Name: 'service', Value: lags[0]!.service }]
    })
  }
)
