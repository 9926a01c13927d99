import { readFile } from 'node:fs/promises'
import t from 'tap'
import { parse, type Tags } from 'yaml'
import { UNCOMMITTED_TAG } from '../src/repositories/data.ts'
import { EXPORT_RETENTION_DAYS, EXPORTS_KEY_PREFIX } from '../src/core/export-retention.ts'
import { SyncMetrics, SYNC_METRICS_NAMESPACE } from '../src/sync/metrics.ts'
import { SYNC_VERSION_RETENTION_DAYS } from '../src/core/limits.ts'
import { buckets, tables, type BucketDefinition } from '../src/core/tables.ts'

// CloudFormation's short forms (!Ref, !Sub …) as the long forms they stand for.
const INTRINSICS = [
  'Ref',
  'Condition',
  'Base64',
  'GetAZs',
  'ImportValue',
  'Sub',
  'GetAtt',
  'If',
  'Equals',
  'Not',
  'And',
  'Or',
  'Join',
  'Select',
  'Split',
  'FindInMap',
  'Cidr'
]
const customTags: Tags = INTRINSICS.flatMap(name => {
  const key = name === 'Ref' || name === 'Condition' ? name : `Fn::${name}`
  return (['scalar', 'seq', 'map'] as const).map(
    collection =>
      ({
        tag: `!${name}`,
        collection: collection === 'scalar' ? undefined : collection,
        resolve: (value: unknown) => {
          const plain =
            typeof (value as { toJSON?: unknown })?.toJSON === 'function'
              ? (value as { toJSON: () => unknown }).toJSON()
              : value
          return { [key]: name === 'GetAtt' && typeof plain === 'string' ? plain.split('.') : plain }
        }
      }) as unknown as Tags[number]
  )
})

type Resource = { Type: string; Properties: Record<string, any> } // eslint-disable-line @typescript-eslint/no-explicit-any
const template = parse(await readFile(new URL('../template.yaml', import.meta.url), 'utf8'), { customTags }) as {
  Resources: Record<string, Resource>
  Parameters: Record<string, Record<string, unknown>>
  Conditions: Record<string, unknown>
  Outputs: Record<string, { Value: unknown }>
}
const resources = template.Resources
const fn = resources.ApiFunction!
const sorted = <T>(list: T[] | undefined): T[] =>
  [...(list ?? [])].sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)))

for (const [key, def] of Object.entries(tables)) {
  t.test(`table ${key} in template.yaml matches src/core/tables.ts`, async t => {
    const table = resources[def.logicalId]
    t.ok(table, `${def.logicalId} exists`)
    t.equal(table!.Type, 'AWS::DynamoDB::Table')
    const p = table!.Properties
    t.same(p.KeySchema, def.keySchema, 'key schema')
    t.same(sorted(p.AttributeDefinitions), sorted(def.attributeDefinitions), 'attribute definitions')
    const gsis = ('globalSecondaryIndexes' in def ? def.globalSecondaryIndexes : undefined) as
      Array<Record<string, unknown>> | undefined
    t.same(sorted(p.GlobalSecondaryIndexes), sorted(gsis), 'global secondary indexes')
    const ttl = 'ttlAttribute' in def ? def.ttlAttribute : undefined
    t.same(p.TimeToLiveSpecification, ttl === undefined ? undefined : { AttributeName: ttl, Enabled: true }, 'TTL')
    const stream = 'streamViewType' in def ? def.streamViewType : undefined
    t.same(p.StreamSpecification, stream === undefined ? undefined : { StreamViewType: stream }, 'stream')
    t.equal(p.BillingMode, 'PAY_PER_REQUEST')
    t.equal(p.PointInTimeRecoverySpecification?.PointInTimeRecoveryEnabled, true, 'point-in-time recovery')
    t.equal(p.SSESpecification?.SSEEnabled, true, 'encryption at rest')
    t.same(fn.Properties.Environment.Variables[def.envVar], { Ref: def.logicalId }, `the function gets ${def.envVar}`)
  })
}

for (const [key, def] of Object.entries(buckets)) {
  t.test(`bucket ${key} in template.yaml is private and encrypted`, async t => {
    const bucket = resources[def.logicalId]
    t.ok(bucket, `${def.logicalId} exists`)
    t.equal(bucket!.Type, 'AWS::S3::Bucket')
    t.same(bucket!.Properties.PublicAccessBlockConfiguration, {
      BlockPublicAcls: true,
      BlockPublicPolicy: true,
      IgnorePublicAcls: true,
      RestrictPublicBuckets: true
    })
    t.ok(bucket!.Properties.BucketEncryption?.ServerSideEncryptionConfiguration?.length, 'encrypted')
    // A bucket that notifies the function is named explicitly, and the function gets that name: a Ref would be a cycle.
    const expected = bucket!.Properties.BucketName ?? { Ref: def.logicalId }
    t.same(fn.Properties.Environment.Variables[def.envVar], expected, `the function gets ${def.envVar}`)
    // As the local bootstrap makes it: versioned, its old versions kept as long as a backup's past reaches.
    const versioned = (def as BucketDefinition).versioned === true
    t.equal(bucket!.Properties.VersioningConfiguration?.Status === 'Enabled', versioned, `versioned: ${versioned}`)
    if (versioned) {
      const rules = bucket!.Properties.LifecycleConfiguration.Rules as Array<Record<string, any>> // eslint-disable-line @typescript-eslint/no-explicit-any
      t.ok(
        rules.some(
          r => r.Status === 'Enabled' && r.NoncurrentVersionExpiration?.NoncurrentDays === SYNC_VERSION_RETENTION_DAYS
        ),
        `old versions kept ${SYNC_VERSION_RETENTION_DAYS} days`
      )
    }
  })
}

t.test(
  'the assets bucket: 30-day expiry, multipart cleanup, CORS for uploads, notifications to the function',
  async t => {
    const p = resources.AssetsBucket!.Properties
    const rules = p.LifecycleConfiguration.Rules as Array<Record<string, unknown>>
    t.ok(
      rules.some(r => r.Prefix === buckets.assets.keyPrefix && r.ExpirationInDays === 30 && r.Status === 'Enabled'),
      'assets/ expires after 30 days'
    )
    t.ok(
      rules.some(
        r => (r.AbortIncompleteMultipartUpload as { DaysAfterInitiation?: number } | undefined)?.DaysAfterInitiation
      ),
      'unfinished multipart uploads are aborted'
    )
    const cors = p.CorsConfiguration['Fn::If'][1].CorsRules[0]
    t.same(cors.AllowedOrigins, { Ref: 'AllowedOrigins' })
    t.ok(['PUT', 'POST', 'GET'].every(m => cors.AllowedMethods.includes(m)))
    t.same(cors.ExposedHeaders, ['ETag'])
    const event = fn.Properties.Events.AssetUploaded.Properties
    t.same(event.Bucket, { Ref: 'AssetsBucket' })
    t.equal(event.Events, 's3:ObjectCreated:*')
    t.same(event.Filter.S3Key.Rules, [{ Name: 'prefix', Value: buckets.assets.keyPrefix }])
    t.equal(
      resources.AssetsBucketPolicy?.Properties.PolicyDocument.Statement[0].Condition.Bool['aws:SecureTransport'],
      false,
      'TLS only'
    )
  }
)

t.test('the function runs the bundle npm run build makes', async t => {
  const p = fn.Properties
  t.equal(fn.Type, 'AWS::Serverless::Function')
  t.equal(p.CodeUri, 'dist/lambda')
  t.equal(p.Handler, 'index.handler')
  const globals = (
    parse(await readFile(new URL('../template.yaml', import.meta.url), 'utf8'), { customTags }) as {
      Globals: { Function: Record<string, unknown> }
    }
  ).Globals.Function
  t.equal(p.Runtime ?? globals.Runtime, 'nodejs24.x')
  t.same(p.Architectures ?? globals.Architectures, ['arm64'])
  t.equal(p.Tracing, 'Active')
  t.equal(p.Environment.Variables.NODE_ENV, 'production')
  const logGroup = resources[p.LoggingConfig.LogGroup.Ref]
  t.equal(logGroup?.Type, 'AWS::Logs::LogGroup')
  t.ok(logGroup?.Properties.RetentionInDays, 'logs have a retention')
})

t.test('the function may touch only its own table and bucket', async t => {
  const statements = fn.Properties.Policies.flatMap((p: { Statement?: unknown[] }) => p.Statement ?? [])
  for (const statement of statements) {
    const resolved = statement['Fn::If'] ? statement['Fn::If'][1] : statement
    for (const action of [resolved.Action].flat()) t.notMatch(action, /\*/, `${action} is not a wildcard action`)
    t.not(resolved.Resource, '*', `${resolved.Sid} names its resource`)
  }
})

t.test('every alarm notifies the alarm topic, which emails AlarmEmail only when it is set', async t => {
  const { Parameters, Conditions } = template
  const alarms = Object.entries(resources).filter(([, r]) => r.Type === 'AWS::CloudWatch::Alarm')
  t.ok(alarms.length >= 4, `${alarms.length} alarms`)
  for (const [id, alarm] of alarms) {
    t.same(alarm.Properties.AlarmActions, [{ Ref: 'AlarmTopic' }], `${id} notifies the topic`)
    t.same(alarm.Properties.OKActions, [{ Ref: 'AlarmTopic' }], `${id} says when it is over`)
  }
  t.equal(resources.AlarmTopic?.Type, 'AWS::SNS::Topic')

  const subscriptions = Object.values(resources).filter(r => r.Type === 'AWS::SNS::Subscription')
  t.equal(subscriptions.length, 1, 'one subscription')
  const subscription = subscriptions[0] as Resource & { Condition?: string }
  t.same(subscription.Properties, {
    TopicArn: { Ref: 'AlarmTopic' },
    Protocol: 'email',
    Endpoint: { Ref: 'AlarmEmail' }
  })
  t.equal(Parameters.AlarmEmail?.Default, '', 'AlarmEmail is optional')
  t.same(Conditions[subscription.Condition!], { 'Fn::Not': [{ 'Fn::Equals': [{ Ref: 'AlarmEmail' }, ''] }] })
  t.match('', new RegExp(Parameters.AlarmEmail?.AllowedPattern as string), 'empty is allowed')
  t.match('ops@example.com', new RegExp(Parameters.AlarmEmail?.AllowedPattern as string))
  t.notMatch('not an address', new RegExp(Parameters.AlarmEmail?.AllowedPattern as string))
})

t.test(
  "the latency alarm watches the API's p99 against LatencyThresholdMs (1 s), and throttles are watched",
  async t => {
    const { Parameters } = template
    const latency = resources.ApiLatencyAlarm!.Properties
    t.equal(latency.Namespace, 'AWS/ApiGateway')
    t.equal(latency.MetricName, 'Latency')
    t.equal(latency.ExtendedStatistic, 'p99')
    t.same(latency.Dimensions, [
      { Name: 'ApiId', Value: { Ref: 'HttpApi' } },
      { Name: 'Stage', Value: { Ref: 'Stage' } }
    ])
    t.same(latency.Threshold, { Ref: 'LatencyThresholdMs' })
    t.equal(Parameters.LatencyThresholdMs?.Default, 1000)
    t.equal(latency.ComparisonOperator, 'GreaterThanThreshold')

    const throttles = resources.FunctionThrottlesAlarm!.Properties
    t.equal(throttles.Namespace, 'AWS/Lambda')
    t.equal(throttles.MetricName, 'Throttles')
    t.same(throttles.Dimensions, [{ Name: 'FunctionName', Value: { Ref: 'ApiFunction' } }])
    t.equal(throttles.Threshold, 0)
  }
)

t.test('the sync bucket: exports expire, unfinished uploads (a dead export) are aborted', async t => {
  const rules = resources.SyncBucket!.Properties.LifecycleConfiguration.Rules as Array<Record<string, unknown>>
  const exports = rules.filter(r => r.Prefix === EXPORTS_KEY_PREFIX && r.Status === 'Enabled')
  t.same(
    exports.map(r => [r.ExpirationInDays, r.NoncurrentVersionExpiration]),
    [[EXPORT_RETENTION_DAYS, { NoncurrentDays: 1 }]],
    `exports/ expires after ${EXPORT_RETENTION_DAYS} days, and its noncurrent version a day later`
  )
  t.ok(
    rules.some(
      r =>
        r.Status === 'Enabled' &&
        r.Prefix === undefined &&
        (r.AbortIncompleteMultipartUpload as { DaysAfterInitiation?: number } | undefined)?.DaysAfterInitiation === 1
    ),
    'unfinished multipart uploads anywhere in the bucket are aborted after a day'
  )
})

t.test('the payload bucket expires, after a day, the payloads still tagged uncommitted', async t => {
  const rules = resources.PayloadBucket!.Properties.LifecycleConfiguration.Rules as Array<Record<string, unknown>>
  const expiring = rules.filter(r => r.ExpirationInDays !== undefined)
  t.same(
    expiring,
    [
      {
        Id: 'ExpireUncommittedPayloads',
        Status: 'Enabled',
        Prefix: buckets.payloads.keyPrefix,
        TagFilters: [UNCOMMITTED_TAG],
        ExpirationInDays: 1
      }
    ],
    'only uncommitted payloads expire: a committed one lives as long as its dataset'
  )
})

t.test('DocsAccess reaches the function as DOCS_ACCESS, public unless set', async t => {
  t.same(fn.Properties.Environment.Variables.DOCS_ACCESS, { Ref: 'DocsAccess' })
  const parameter = template.Parameters.DocsAccess!
  t.equal(parameter.Default, 'public')
  const pattern = new RegExp(parameter.AllowedPattern as string)
  for (const value of ['public', 'off', 'docs:read', 'projects:*:read']) t.match(value, pattern, `${value} is allowed`)
  t.notMatch('', pattern)
})

t.test("the Obsidian account's parameters are the ones seed 002's deploy command sets", async t => {
  const vars = fn.Properties.Environment.Variables
  t.same(vars.OBSIDIAN_EMAIL, { Ref: 'ObsidianEmail' })
  t.same(vars.OBSIDIAN_PASSWORD, { Ref: 'ObsidianPassword' })
  t.same(vars.OBSIDIAN_TOTP_SECRET, { Ref: 'ObsidianTOTPSecret' })
  t.equal(template.Parameters.ObsidianTOTPSecret?.NoEcho, true)
})

// What starts the function's node: the exec wrapper, which test/node-flags.test.ts checks.
t.test('the function starts through the exec wrapper the build ships beside the bundle', async t => {
  const variables = fn.Properties.Environment.Variables
  t.equal(variables.AWS_LAMBDA_EXEC_WRAPPER, '/var/task/node-flags.sh')
  t.notOk('NODE_OPTIONS' in variables, "the runtime's command-line flags would win over it")
})

t.test("the function logs JSON, at the level LogLevel maps to Lambda's, set in one place", async t => {
  const logging = fn.Properties.LoggingConfig
  t.equal(logging.LogFormat, 'JSON')
  t.same(logging.ApplicationLogLevel, { 'Fn::FindInMap': ['LambdaLogLevels', { Ref: 'LogLevel' }, 'Level'] })
  t.equal(logging.SystemLogLevel, 'INFO')
  const levels = (template as unknown as { Mappings: Record<string, Record<string, { Level: string }>> }).Mappings
    .LambdaLogLevels!
  for (const value of template.Parameters.LogLevel!.AllowedValues as string[])
    t.ok(['TRACE', 'DEBUG', 'INFO', 'WARN', 'ERROR', 'FATAL'].includes(levels[value]?.Level ?? ''), `${value} maps`)
  t.notOk('LOG_LEVEL' in fn.Properties.Environment.Variables, 'LOG_LEVEL would override what LoggingConfig says')
})

t.test("the projects table's stream drives the function, and what fails every retry goes to a queue", async t => {
  const event = fn.Properties.Events.ProjectsFeed
  t.equal(event.Type, 'DynamoDB')
  const p = event.Properties
  t.same(p.Stream, { 'Fn::GetAtt': [tables.projects.logicalId, 'StreamArn'] })
  t.ok(p.BatchSize >= 1 && p.BatchSize <= 1000, 'a bounded batch')
  t.ok(p.MaximumRetryAttempts > 0, 'retried')
  t.equal(p.BisectBatchOnFunctionError, true, 'a failing record is split from the others')
  t.same(JSON.parse(p.FilterCriteria.Filters[0].Pattern), {
    eventName: ['INSERT'],
    dynamodb: { Keys: { sk: { S: [{ prefix: 'L#' }] } } }
  })
  t.equal(p.DestinationConfig.OnFailure.Type, 'SQS')
  const queue = resources[p.DestinationConfig.OnFailure.Destination['Fn::GetAtt'][0]]
  t.equal(queue?.Type, 'AWS::SQS::Queue')
  t.equal(queue?.Properties.SqsManagedSseEnabled, true, 'encrypted')
})

t.test('the outputs give an ARN beside every name, and the dashboard', async t => {
  const keys = Object.keys(template.Outputs)
  const named = keys.filter(key => key.endsWith('Name'))
  t.ok(named.length >= 10, `${named.length} names`)
  for (const key of named) t.ok(keys.includes(`${key.slice(0, -'Name'.length)}Arn`), `${key} has an ARN beside it`)
  for (const def of [...Object.values(tables), ...Object.values(buckets)])
    t.same(template.Outputs[def.logicalId.replace(/Table$|Bucket$/, m => `${m}Arn`)]?.Value, {
      'Fn::GetAtt': [def.logicalId, 'Arn']
    })
  t.same(template.Outputs.DashboardName?.Value, { Ref: 'Dashboard' })
})

/** What a dashboard graph draws: a metric by its dimensions, or a metric math or SEARCH expression. */
type Drawn =
  { namespace: string; name: string; dimensions: Record<string, string>; stat?: string } | { expression: string }

t.test('the dashboard: JSON built with !Sub, graphing what people look at first, on this stack', async t => {
  const dashboard = resources.Dashboard!
  t.equal(dashboard.Type, 'AWS::CloudWatch::Dashboard')
  const sub = dashboard.Properties.DashboardBody['Fn::Sub'] as string
  t.type(sub, 'string', 'the body is one !Sub string')
  const placeholder = /\$\{([^}!]+)\}/g
  for (const name of new Set([...sub.matchAll(placeholder)].map(m => m[1]!)))
    t.ok(name in resources || name in template.Parameters || name.startsWith('AWS::'), `\${${name}} exists`)
  // Each resource as <LogicalId>, each Number parameter as a number: what CloudFormation puts there, in shape.
  const body = JSON.parse(
    sub.replace(placeholder, (_, name: string) => (template.Parameters[name]?.Type === 'Number' ? '1' : `<${name}>`))
  ) as { widgets: Array<{ type: string; properties: Record<string, any> }> } // eslint-disable-line @typescript-eslint/no-explicit-any

  const drawn: Drawn[] = body.widgets
    .filter(w => w.type === 'metric')
    .flatMap(w =>
      (w.properties.metrics as unknown[][]).map(entry => {
        const options = (typeof entry.at(-1) === 'object' ? entry.at(-1) : {}) as Record<string, string>
        if (options.expression !== undefined) return { expression: options.expression }
        const [namespace, name, ...rest] = entry.filter(part => typeof part === 'string') as string[]
        const dimensions: Record<string, string> = {}
        for (let i = 0; i + 1 < rest.length; i += 2) dimensions[rest[i]!] = rest[i + 1]!
        return { namespace: namespace!, name: name!, dimensions, stat: options.stat ?? w.properties.stat }
      })
    )
  const graphs = (namespace: string, name: string, dimensions: Record<string, string>, stat?: string) =>
    drawn.some(
      d =>
        'namespace' in d &&
        d.namespace === namespace &&
        d.name === name &&
        JSON.stringify(d.dimensions) === JSON.stringify(dimensions) &&
        (stat === undefined || d.stat === stat)
    )
  const expressions = drawn.flatMap(d => ('expression' in d ? [d.expression] : []))
  const searched = (namespace: string, dimensions: string[], name: string) =>
    expressions.some(e => {
      const m = /SEARCH\('\{([^}]*)\}\s*MetricName="([^"]+)"/.exec(e)
      const [ns, ...dims] = (m?.[1] ?? '').split(',')
      return (
        ns === namespace && m?.[2] === name && JSON.stringify(dims.sort()) === JSON.stringify([...dimensions].sort())
      )
    })

  const api = { ApiId: '<HttpApi>', Stage: '<Stage>' }
  for (const name of ['Count', '4xx', '5xx']) t.ok(graphs('AWS/ApiGateway', name, api, 'Sum'), `API ${name}`)
  t.ok(graphs('AWS/ApiGateway', 'Latency', api, 'p99'), 'API p99 latency')

  const fn = { FunctionName: '<ApiFunction>' }
  t.ok(graphs('AWS/Lambda', 'Duration', fn), 'function duration')
  for (const name of ['Errors', 'Throttles']) t.ok(graphs('AWS/Lambda', name, fn, 'Sum'), `function ${name}`)
  const logs = body.widgets.filter(w => w.type === 'log').map(w => w.properties.query as string)
  t.ok(
    logs.some(
      q => q.startsWith("SOURCE '<ApiLogGroup>'") && q.includes('platform.report') && q.includes('initDurationMs')
    ),
    "init duration, from the function's own REPORT lines (JSON log format)"
  )

  for (const def of Object.values(tables)) {
    const table = { TableName: `<${def.logicalId}>` }
    for (const name of ['ReadThrottleEvents', 'WriteThrottleEvents'])
      t.ok(graphs('AWS/DynamoDB', name, table, 'Sum'), `${def.logicalId} ${name}`)
    t.ok(
      expressions.some(
        e => e.includes('MetricName="ThrottledRequests"') && e.includes(`TableName="<${def.logicalId}>"`)
      ),
      `${def.logicalId} ThrottledRequests, by operation`
    )
  }

  // /sync: exactly the metric names and dimension sets the code emits, read from its own EMF lines.
  const lines: Array<Record<string, any>> = [] // eslint-disable-line @typescript-eslint/no-explicit-any
  const metrics = new SyncMetrics(line => lines.push(line))
  await metrics.vault({ vaultId: 'v', durationMs: 1, files: 1, bytes: 1, success: false })
  await metrics.run('schedule', false)
  const emitted = lines.flatMap(line =>
    (
      line._aws.CloudWatchMetrics as Array<{
        Namespace: string
        Dimensions: string[][]
        Metrics: Array<{ Name: string }>
      }>
    ).flatMap(group =>
      group.Metrics.map(m => ({ namespace: group.Namespace, dimensions: group.Dimensions[0]!, name: m.Name }))
    )
  )
  t.same(emitted.map(e => e.name).sort(), [
    'BytesSynced',
    'FilesProcessed',
    'SyncDuration',
    'SyncRunSuccess',
    'SyncSuccess'
  ])
  for (const { namespace, dimensions, name } of emitted) {
    t.equal(namespace, SYNC_METRICS_NAMESPACE)
    t.ok(searched(namespace, dimensions, name), `/sync ${name} over every ${dimensions.join(' and ')}`)
  }
  t.ok(
    expressions.some(e => /SUM\(runs\) - SUM\(succeeded\)/.test(e)),
    'failed runs: runs counted less those that succeeded'
  )

  // /projects: the names and the one dimension (service) its embedded metrics carry.
  const projects = { service: 'atlas-api' }
  t.ok(graphs('Atlas/Projects', 'ChangesAppended', projects, 'Sum'), 'changes appended')
  t.ok(graphs('Atlas/Projects', 'AppendBatchSize', projects), 'batch size')
  t.ok(graphs('Atlas/Projects', 'ProjectionLag', projects), 'projection lag')
})

t.test('engines admits the Node Lambda runs as its newest major; CI and @types/node follow the range', async t => {
  const pkg = JSON.parse(await readFile(new URL('../package.json', import.meta.url), 'utf8')) as {
    engines: { node: string }
    devDependencies: Record<string, string>
  }
  const majors = pkg.engines.node.split('||').map(range => Number(/^\^(\d+)\.\d+\.\d+$/.exec(range.trim())?.[1]))
  t.ok(majors.length > 0 && majors.every(Number.isInteger), `${pkg.engines.node}: each range ^major.minor.patch`)
  const globals = (
    parse(await readFile(new URL('../template.yaml', import.meta.url), 'utf8'), { customTags }) as {
      Globals: { Function: { Runtime: string } }
    }
  ).Globals.Function
  const runtime = Number(/^nodejs(\d+)\.x$/.exec(fn.Properties.Runtime ?? globals.Runtime)?.[1])
  t.equal(Math.max(...majors), runtime, `the newest major admitted is the one Lambda runs (${runtime})`)
  t.equal(
    Number(/\d+/.exec(pkg.devDependencies['@types/node']!)?.[0]),
    Math.min(...majors),
    "@types/node is the oldest major's, so the typecheck refuses an API it lacks"
  )
  const ci = await readFile(new URL('../.ci/run', import.meta.url), 'utf8')
  t.match(ci, `node24=$(node_dir ${runtime})`, 'the main pass runs on it')
  const compatibility = /^for major in ([\d ]+); do$/m.exec(ci)?.[1]?.split(' ').map(Number) ?? []
  t.same(
    compatibility.sort(),
    majors.filter(m => m !== runtime).sort(),
    'every other major admitted has its compatibility pass'
  )
})
