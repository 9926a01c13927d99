import { randomUUID } from 'node:crypto'
import { DescribeTableCommand } from '@aws-sdk/client-dynamodb'
import t from 'tap'
import { createAwsClients } from '../../src/aws/clients.ts'
import { loadConfig } from '../../src/config/config.ts'
import { createMissingStorage } from '../../src/local/bootstrap.ts'
import { buckets, tables } from '../../src/core/tables.ts'
import { testEngine } from '../helper.ts'

// What `npm run dev` does first when pointed at DynamoDB Local alone (seed 003's setup): src/entries/server.ts calls this.
t.test('against DynamoDB Local alone, the missing tables are created and S3 is not touched', async t => {
  const { dynamodb } = await testEngine()
  const suffix = randomUUID().slice(0, 8)
  const names: NodeJS.ProcessEnv = {}
  for (const def of [...Object.values(tables), ...Object.values(buckets)])
    names[def.envVar] = `dev-${def.defaultName}-${suffix}`
  // AWS_ENDPOINT_URL_S3 empty: S3 is AWS's own, which a call with the emulator credentials would fail on.
  const config = loadConfig({ ...names, AWS_ENDPOINT_URL_DYNAMODB: dynamodb, AWS_ENDPOINT_URL_S3: '' })
  t.equal(config.createMissingStorage, true, 'npm run dev creates what is missing')
  t.equal(config.endpoints.s3, undefined)

  await createMissingStorage(config)
  const client = createAwsClients(config).dynamodb
  t.teardown(() => client.destroy())
  for (const [key, name] of Object.entries(config.tables)) {
    const { Table } = await client.send(new DescribeTableCommand({ TableName: name }))
    t.equal(Table?.TableStatus, 'ACTIVE', `table ${key}`)
  }
})
