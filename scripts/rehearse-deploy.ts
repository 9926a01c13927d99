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
 * The parts are in scripts/rehearse/: deploy.ts (moto, the key, the stack),
 * stack-checks.ts, routes.ts, event-sources.ts.
 * moto does not enforce IAM: test/permissions.test.ts checks the policy.
 */
import { spawnSync } from 'node:child_process'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { S3Client } from '@aws-sdk/client-s3'
import { emptyVault, startFakeObsidian } from './lib/obsidian-stand-in.ts'
import { startBundle } from './lib/bundle-process.mjs'
import { checklist } from './lib/processes.mjs'
import { OBSIDIAN, REGION, type Check, type Context, type Deployed } from './rehearse/context.ts'
import { createApiKey, CREDENTIALS, deployStack, functionEnvironment, startMoto } from './rehearse/deploy.ts'
import { EVENT_SOURCES, unrehearsedSources } from './rehearse/event-sources.ts'
import { rehearseRoutes } from './rehearse/routes.ts'
import { checkDashboards, checkEnvironment, checkOutputs } from './rehearse/stack-checks.ts'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')
const { values } = parseArgs({ options: { build: { type: 'boolean', default: true } }, allowNegative: true })

/** The stack deployed and checked, or undefined (the check that failed says why). */
function deploy(check: Check, endpoint: string): Deployed | undefined {
  const deploy = deployStack(root, endpoint)
  if (
    !check(
      deploy.status === 0,
      'template.yaml translates with the SAM translator and deploys',
      deploy.stderr.slice(-3000)
    )
  )
    return undefined
  const deployed = JSON.parse(deploy.stdout) as Deployed
  const failedResources = deployed.resources.filter(r => r.status !== 'CREATE_COMPLETE')
  check(
    deployed.status === 'CREATE_COMPLETE' && failedResources.length === 0,
    `stack ${deployed.status}: ${deployed.resources.length} resources created`,
    `${deployed.reason ?? ''} ${failedResources.map(r => `${r.logicalId} ${r.status}`).join(', ')}`
  )
  return deployed
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
  const moto = await startMoto()
  const { endpoint } = moto
  const clients = {
    dynamodb: new DynamoDBClient({ region: REGION, endpoint, credentials: CREDENTIALS }),
    s3: new S3Client({ region: REGION, endpoint, credentials: CREDENTIALS, forcePathStyle: true })
  }
  let fn: ReturnType<typeof startBundle> | undefined
  const vault = await emptyVault(OBSIDIAN.vault, OBSIDIAN.vaultPassword, 3, 'Rehearsal')
  vault.put('notes/hello.md', '# Rehearsal')
  const obsidian = await startFakeObsidian({
    accounts: [{ email: OBSIDIAN.email, password: OBSIDIAN.password }],
    vaults: [vault]
  })
  try {
    await moto.ready()
    const key = await createApiKey(endpoint)
    const deployed = deploy(check, endpoint)
    if (deployed === undefined) return 1

    const [fnId, fnConfig] = Object.entries(deployed.functions)[0] ?? []
    if (!check(fnConfig !== undefined, 'the stack has the API function')) return 1
    const ctx: Context = {
      invoke: async () => undefined,
      check,
      deployed,
      env: fnConfig!.environment,
      physical: logicalId => deployed.resources.find(r => r.logicalId === logicalId)?.physicalId,
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
      env: functionEnvironment(fnConfig!, endpoint, obsidian.url)
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
      `the template wires ${missing.join(', ')} to the function, and scripts/rehearse/event-sources.ts has no entry in EVENT_SOURCES for it`
    )
  } catch (err) {
    check(false, 'rehearsal', err instanceof Error ? err.stack : err)
  } finally {
    if (list.failed > 0) {
      for (const [name, text] of [
        ['bundle process', fn?.log() ?? ''],
        ['moto_server', moto.log()]
      ] as const) {
        if (text !== '') console.log(`# --- ${name} output (last lines) ---\n# ${text.replace(/\n/g, '\n# ')}`)
      }
    }
    fn?.stop()
    await obsidian.close()
    moto.stop()
    clients.dynamodb.destroy()
    clients.s3.destroy()
    await rm(temp, { recursive: true, force: true })
  }
  console.log(list.summary())
  return list.failed > 0 ? 1 : 0
}

process.exitCode = await main()
