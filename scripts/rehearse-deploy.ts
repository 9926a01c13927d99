/**
 * `npm run deploy:rehearse`: `sam deploy` without AWS. Builds the bundle,
 * translates template.yaml with the SAM translator (what `sam deploy` itself
 * uses), creates the stack on a moto server of its own, reads the function's
 * configuration back from the created function, and runs the bundle in a fresh
 * process with exactly that environment (plus what the platform provides:
 * region, credentials, and here endpoints pointing at moto). Then a short
 * scenario through real API Gateway 2.0 events, and every event source the
 * template wires to the function, built from the created resources.
 *
 * Fails on any mismatch, naming it: a variable the code reads that the
 * function lacks, one that names a table or bucket the stack did not create,
 * an event source with no rehearsal, a route that answers wrong.
 *
 *   npm run deploy:rehearse [-- --no-build]
 *
 * moto does not enforce IAM: test/permissions.test.ts checks the policy.
 */
import { spawn, spawnSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { DescribeTableCommand, DynamoDBClient, QueryCommand } from '@aws-sdk/client-dynamodb'
import { unmarshall } from '@aws-sdk/util-dynamodb'
import { HeadBucketCommand, ListObjectsV2Command, S3Client } from '@aws-sdk/client-s3'
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { buckets, tables } from '../src/tables.ts'
import { emptyVault, startFakeObsidian } from './lib/obsidian-stand-in.ts'
import { jsonOf, show, startBundle } from './lib/bundle-process.mjs'
import { dynamodbStreamEvent, httpApiEvent, s3Event } from './lib/lambda-events.mjs'
import { checklist, freePort, tail, waitFor } from './lib/processes.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const REGION = 'us-east-1'
const STACK = 'atlas-rehearsal'
const KEYS_SECRET = 'atlas/rehearsal-api-keys'
/** The Obsidian account the stack is given, served by a stand-in of the service. */
const OBSIDIAN = {
  email: 'rehearsal@example.com',
  password: 'rehearsal password',
  vault: 'rehearsal-vault',
  vaultPassword: 'vault password'
}

type Resource = { logicalId: string; type: string; physicalId: string; status: string }
type TemplateResource = { Type: string; Properties?: Record<string, any> } // eslint-disable-line @typescript-eslint/no-explicit-any
interface Deployed {
  status: string
  reason?: string
  resources: Resource[]
  functions: Record<
    string,
    { name: string; runtime: string; memory: number; timeout: number; environment: Record<string, string> }
  >
  /** The stack's outputs, by key, as CloudFormation resolved them. */
  outputs: Record<string, string | undefined>
  /** Each dashboard's body as CloudWatch holds it, by logical id. */
  dashboards: Record<string, string>
  template: { Resources: Record<string, TemplateResource>; Outputs?: Record<string, unknown> }
}
type Invoke = (event: unknown, timeoutMs?: number) => Promise<any> // eslint-disable-line @typescript-eslint/no-explicit-any
type Check = (ok: boolean, name: string, detail?: unknown) => boolean

interface Context {
  invoke: Invoke
  check: Check
  deployed: Deployed
  env: Record<string, string>
  /** The physical id of a resource of the stack. */
  physical: (logicalId: string) => string | undefined
  s3: S3Client
  dynamodb: DynamoDBClient
  headers: Record<string, string>
}

const { values } = parseArgs({ options: { build: { type: 'boolean', default: true } }, allowNegative: true })

/**
 * The event sources the template can wire to the function, each found in the
 * translated template and rehearsed with an event built as AWS would send it.
 * A source found with no entry here fails the rehearsal: add its entry with it.
 */
const EVENT_SOURCES: Array<{
  name: string
  /** The resources of the translated template that make one such source. */
  find: (resources: Record<string, TemplateResource>, fn: string) => string[]
  rehearse: (ctx: Context, logicalId: string) => Promise<void>
}> = [
  {
    name: 'S3 notification',
    find: (resources, fn) =>
      Object.entries(resources)
        .filter(
          ([, r]) =>
            r.Type === 'AWS::S3::Bucket' &&
            (r.Properties?.NotificationConfiguration?.LambdaConfigurations ?? []).some((c: { Function?: unknown }) =>
              JSON.stringify(c.Function).includes(`"${fn}"`)
            )
        )
        .map(([id]) => id),
    rehearse: rehearseAssetUpload
  },
  {
    name: 'schedule',
    find: (resources, fn) =>
      Object.entries(resources)
        .filter(
          ([, r]) =>
            r.Type === 'AWS::Events::Rule' &&
            (r.Properties?.Targets ?? []).some((target: { Arn?: unknown }) =>
              JSON.stringify(target.Arn).includes(`"${fn}"`)
            )
        )
        .map(([id]) => id),
    rehearse: rehearseSchedule
  },
  {
    name: 'DynamoDB stream',
    find: (resources, fn) =>
      Object.entries(resources)
        .filter(
          ([, r]) =>
            r.Type === 'AWS::Lambda::EventSourceMapping' &&
            JSON.stringify(r.Properties?.FunctionName ?? '').includes(`"${fn}"`) &&
            JSON.stringify(r.Properties?.EventSourceArn ?? '').includes('StreamArn')
        )
        .map(([id]) => id),
    rehearse: rehearseProjectsStream
  }
]

/** Sources the translator makes that no entry above recognises. */
function unrehearsedSources(resources: Record<string, TemplateResource>, fn: string): string[] {
  const known = new Set(EVENT_SOURCES.flatMap(source => source.find(resources, fn)))
  return Object.entries(resources).flatMap(([id, r]) => {
    const targetsFunction = JSON.stringify(r.Properties ?? {}).includes(`"${fn}"`)
    if (known.has(id)) return []
    if (r.Type === 'AWS::Lambda::EventSourceMapping' && targetsFunction) return [`${id} (${r.Type})`]
    if (r.Type === 'AWS::Events::Rule' && targetsFunction) return [`${id} (${r.Type})`]
    if (r.Type === 'AWS::S3::Bucket' && targetsFunction) return [`${id} (S3 notification)`]
    return []
  })
}

async function rehearseRoutes({ invoke, check, headers, s3, env }: Context): Promise<void> {
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
    'GET /health?deep=1 -> 200, every table and bucket of src/tables.ts answers',
    show(health)
  )

  // Over the inline limit: the payload goes to the payload bucket.
  const payload = randomBytes(300 * 1024).toString('base64')
  const meta = {
    enc: 'AES-GCM',
    kdf: 'PBKDF2-SHA256',
    iterations: 250000,
    salt: 'c2FsdA==',
    iv: 'AAECAwQFBgcICQoL',
    schemaVersion: 1
  }
  const created = await call('POST', '/data', { body: { payload, meta } })
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

/** Every variable src/tables.ts reads is set on the function and names a resource of this stack. */
async function checkEnvironment(
  { check, env, deployed }: Context,
  clients: { dynamodb: DynamoDBClient; s3: S3Client }
): Promise<void> {
  const created = new Set(deployed.resources.map(r => r.physicalId))
  const kinds = [
    {
      kind: 'table',
      defs: Object.values(tables),
      exists: (name: string) => clients.dynamodb.send(new DescribeTableCommand({ TableName: name }))
    },
    {
      kind: 'bucket',
      defs: Object.values(buckets),
      exists: (name: string) => clients.s3.send(new HeadBucketCommand({ Bucket: name }))
    }
  ]
  for (const { kind, defs, exists } of kinds) {
    for (const { envVar } of defs) {
      const name = env[envVar]
      if (
        !check(
          name !== undefined && name !== '',
          `the function's environment has ${envVar}`,
          `src/tables.ts reads ${envVar}; the function lacks it`
        )
      )
        continue
      const found = await exists(name!).then(
        () => true,
        () => false
      )
      check(
        found && created.has(name!),
        `${envVar} names a ${kind} of the stack (${name})`,
        `${envVar} names ${kind} ${name}, which the stack did not create`
      )
    }
  }
}

/** Every output resolved; an output XArn beside each XName, the ARN of that very name. */
function checkOutputs({ check, deployed }: Context): void {
  const keys = Object.keys(deployed.template.Outputs ?? {})
  const unresolved = keys.filter(key => !deployed.outputs[key])
  check(unresolved.length === 0, `the stack resolves its ${keys.length} outputs`, `no value: ${unresolved.join(', ')}`)
  for (const key of keys.filter(k => k.endsWith('Name'))) {
    const arnKey = `${key.slice(0, -'Name'.length)}Arn`
    const [name, arn] = [deployed.outputs[key], deployed.outputs[arnKey]]
    check(
      arn !== undefined &&
        name !== undefined &&
        arn.startsWith('arn:') &&
        /[:/]$/.test(arn.slice(0, -name.length)) &&
        arn.endsWith(name),
      `output ${arnKey} is the ARN of ${key} (${name})`,
      `${arnKey}: ${arn ?? 'missing'}`
    )
  }
}

/** Each dashboard was created, its body is JSON, and it names the created function, log group and tables. */
function checkDashboards({ check, deployed, physical }: Context): void {
  const ids = Object.entries(deployed.template.Resources)
    .filter(([, r]) => r.Type === 'AWS::CloudWatch::Dashboard')
    .map(([id]) => id)
  check(ids.length > 0, 'the stack has a dashboard')
  for (const id of ids) {
    const body = deployed.dashboards[id] ?? ''
    let widgets: unknown[] | undefined
    try {
      widgets = (JSON.parse(body) as { widgets?: unknown[] }).widgets
    } catch {
      widgets = undefined
    }
    if (!check(Array.isArray(widgets) && widgets.length > 0, `dashboard ${id} created, its body JSON`, body)) continue
    const named = ['ApiFunction', 'ApiLogGroup', ...Object.values(tables).map(t => t.logicalId)]
    const missing = named.filter(logicalId => {
      const name = physical(logicalId)
      return name === undefined || !body.includes(JSON.stringify(name).slice(1, -1))
    })
    check(missing.length === 0, `dashboard ${id} names the stack's own resources`, `not named: ${missing.join(', ')}`)
    // moto creates no HTTP API and leaves ${HttpApi} as it is; anything else left unresolved is a mistake.
    const unresolved = [...body.matchAll(/\$\{([^}]*)\}/g)].map(m => m[1]!)
    const uncreated = unresolved.filter(name => deployed.template.Resources[name] === undefined || physical(name))
    check(
      uncreated.length === 0,
      `dashboard ${id}: no placeholder left but those of resources moto does not create`,
      uncreated.join(', ')
    )
  }
}

async function main(): Promise<number> {
  const list = checklist()
  const { check } = list
  if (spawnSync('moto_server', ['--help'], { stdio: 'ignore' }).status !== 0) {
    console.error('moto_server is not installed (pip install "moto[server]"); the rehearsal deploys to it')
    return 2
  }
  if (values.build) {
    const build = spawnSync(process.execPath, [join(root, 'scripts/build.mjs')], { cwd: root, stdio: 'inherit' })
    if (!check(build.status === 0, 'npm run build')) return 1
  }

  const temp = await mkdtemp(join(tmpdir(), 'atlas-rehearsal-'))
  const port = await freePort()
  const endpoint = `http://127.0.0.1:${port}`
  const moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  const motoLog = tail(moto.stderr)
  const credentials = { accessKeyId: 'rehearsal', secretAccessKey: 'rehearsal' }
  const clients = {
    dynamodb: new DynamoDBClient({ region: REGION, endpoint, credentials }),
    s3: new S3Client({ region: REGION, endpoint, credentials, forcePathStyle: true })
  }
  let fn: ReturnType<typeof startBundle> | undefined
  const vault = await emptyVault(OBSIDIAN.vault, OBSIDIAN.vaultPassword, 3, 'Rehearsal')
  vault.put('notes/hello.md', '# Rehearsal')
  const obsidian = await startFakeObsidian({
    accounts: [{ email: OBSIDIAN.email, password: OBSIDIAN.password }],
    vaults: [vault]
  })
  try {
    await waitFor('moto_server', `${endpoint}/moto-api/`)
    // An API key, kept where a deployed stack keeps them: the secret ApiKeysSecretName names.
    const key = `atk_${randomBytes(32).toString('base64url')}`
    const entry = { id: 'rehearsal', hash: `sha256:${createHash('sha256').update(key).digest('hex')}`, scopes: ['*'] }
    await new SecretsManagerClient({ region: REGION, endpoint, credentials }).send(
      new CreateSecretCommand({ Name: KEYS_SECRET, SecretString: JSON.stringify([entry]) })
    )

    const deploy = spawnSync(
      'python3',
      [
        join(root, 'scripts/rehearse/stack.py'),
        'deploy',
        '--endpoint',
        endpoint,
        '--code',
        join(root, 'dist/lambda'),
        '--stack',
        STACK,
        '--region',
        REGION,
        '--param',
        `ApiKeysSecretName=${KEYS_SECRET}`,
        '--param',
        `ObsidianEmail=${OBSIDIAN.email}`,
        '--param',
        `ObsidianPassword=${OBSIDIAN.password}`,
        '--param',
        `ObsidianVaultPasswords=${JSON.stringify({ [OBSIDIAN.vault]: OBSIDIAN.vaultPassword })}`
      ],
      { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }
    )
    if (
      !check(
        deploy.status === 0,
        'template.yaml translates with the SAM translator and deploys',
        deploy.stderr.slice(-3000)
      )
    )
      return 1
    const deployed = JSON.parse(deploy.stdout) as Deployed
    const failedResources = deployed.resources.filter(r => r.status !== 'CREATE_COMPLETE')
    check(
      deployed.status === 'CREATE_COMPLETE' && failedResources.length === 0,
      `stack ${deployed.status}: ${deployed.resources.length} resources created`,
      `${deployed.reason ?? ''} ${failedResources.map(r => `${r.logicalId} ${r.status}`).join(', ')}`
    )

    const [fnId, fnConfig] = Object.entries(deployed.functions)[0] ?? []
    if (!check(fnConfig !== undefined, 'the stack has the API function')) return 1
    const physical = (logicalId: string): string | undefined =>
      deployed.resources.find(r => r.logicalId === logicalId)?.physicalId
    const env = fnConfig!.environment
    const ctx: Context = {
      invoke: async () => undefined,
      check,
      deployed,
      env,
      physical,
      s3: clients.s3,
      dynamodb: clients.dynamodb,
      headers: { 'x-api-key': key }
    }
    await checkEnvironment(ctx, clients)
    checkOutputs(ctx)
    checkDashboards(ctx)

    fn = startBundle(join(root, 'dist/lambda/index.mjs'), {
      cwd: temp,
      functionName: fnConfig!.name,
      env: {
        ...env,
        // What Lambda itself sets, and where "AWS" is here.
        AWS_REGION: REGION,
        AWS_DEFAULT_REGION: REGION,
        AWS_ACCESS_KEY_ID: credentials.accessKeyId,
        AWS_SECRET_ACCESS_KEY: credentials.secretAccessKey,
        AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fnConfig!.memory),
        AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
        AWS_EXECUTION_ENV: `AWS_Lambda_${fnConfig!.runtime}`,
        AWS_ENDPOINT_URL_DYNAMODB: endpoint,
        AWS_ENDPOINT_URL_S3: endpoint,
        AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
        AWS_ENDPOINT_URL_SSM: endpoint,
        AWS_ENDPOINT_URL_LAMBDA: endpoint,
        // Where "Obsidian" is here: its stand-in.
        OBSIDIAN_API_URL: obsidian.url
      }
    })
    const { loadMs } = await fn.ready
    check(true, `the bundle starts with the function's environment (${Math.round(loadMs)} ms)`)
    ctx.invoke = async (event, timeoutMs = fnConfig!.timeout * 1000) => await fn!.invoke(event, timeoutMs)

    await rehearseRoutes(ctx)
    for (const source of EVENT_SOURCES) {
      for (const logicalId of source.find(deployed.template.Resources, fnId!)) await source.rehearse(ctx, logicalId)
    }
    const missing = unrehearsedSources(deployed.template.Resources, fnId!)
    check(
      missing.length === 0,
      'every event source of the function is rehearsed',
      `the template wires ${missing.join(', ')} to the function, and scripts/rehearse-deploy.ts has no entry in EVENT_SOURCES for it`
    )
  } catch (err) {
    check(false, 'rehearsal', err instanceof Error ? err.stack : err)
  } finally {
    if (list.failed > 0) {
      for (const [name, text] of [
        ['bundle process', fn?.log() ?? ''],
        ['moto_server', motoLog()]
      ] as const) {
        if (text !== '') console.log(`# --- ${name} output (last lines) ---\n# ${text.replace(/\n/g, '\n# ')}`)
      }
    }
    fn?.stop()
    await obsidian.close()
    moto.kill()
    clients.dynamodb.destroy()
    clients.s3.destroy()
    await rm(temp, { recursive: true, force: true })
  }
  console.log(list.summary())
  return list.failed > 0 ? 1 : 0
}

process.exitCode = await main()
