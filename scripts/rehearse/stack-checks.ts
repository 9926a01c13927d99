/** What the created stack must be, checked before the function runs: its environment, outputs and dashboards. */
import { DescribeTableCommand, type DynamoDBClient } from '@aws-sdk/client-dynamodb'
import { HeadBucketCommand, type S3Client } from '@aws-sdk/client-s3'
import { buckets, tables } from '../../src/core/tables.ts'
import type { Context } from './context.ts'

/** Every variable src/core/tables.ts reads is set on the function and names a resource of this stack. */
export async function checkEnvironment(
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
          `src/core/tables.ts reads ${envVar}; the function lacks it`
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
export function checkOutputs({ check, deployed }: Context): void {
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
export function checkDashboards({ check, deployed, physical }: Context): void {
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
