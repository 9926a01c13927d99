import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import dynalite from 'dynalite'
import S3rver from 's3rver'
import { checkPartsOnComplete, containRequestErrors, failDynamoDb, failS3, tagObjectsLikeS3 } from './emulator-guard.ts'

export interface EmbeddedStackOptions {
  /** Where to persist; undefined keeps DynamoDB in memory and S3 in a temporary folder removed on close. */
  dataDir?: string
  host?: string
  dynamodbPort?: number
  s3Port?: number
}

export interface EmbeddedStack {
  dynamodbEndpoint: string
  s3Endpoint: string
  close: () => Promise<void>
}

/** dynalite (DynamoDB) and s3rver (S3) in this process: all a laptop needs besides Node.js. */
export async function startEmbeddedStack(options: EmbeddedStackOptions = {}): Promise<EmbeddedStack> {
  const host = options.host ?? '127.0.0.1'
  const persistent = options.dataDir !== undefined
  const root = persistent ? resolve(options.dataDir as string) : await mkdtemp(join(tmpdir(), 'atlas-stack-'))
  const s3Dir = join(root, 's3')
  await mkdir(s3Dir, { recursive: true })

  const dynamo = dynalite({
    path: persistent ? join(root, 'dynamodb') : undefined,
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0
  })
  await new Promise<void>((ok, fail) => {
    dynamo.once('error', fail)
    dynamo.listen(options.dynamodbPort ?? 0, host, () => ok())
  })
  const dynamoPort = (dynamo.address() as AddressInfo).port
  containRequestErrors({ name: 'embedded DynamoDB', server: dynamo, fail: failDynamoDb })

  const s3 = new S3rver({
    address: host,
    port: options.s3Port ?? 0,
    directory: s3Dir,
    silent: true,
    // Presigned URLs are signed with whatever credentials the client holds.
    allowMismatchedSignatures: true
  })
  tagObjectsLikeS3(s3)
  let s3Port: number
  try {
    const address = await s3.run()
    s3Port = address.port
    containRequestErrors({ name: 'embedded S3', server: s3.httpServer, fail: failS3 })
    checkPartsOnComplete(s3)
  } catch (err) {
    await new Promise(done => dynamo.close(done))
    throw err
  }

  return {
    dynamodbEndpoint: `http://${host}:${dynamoPort}`,
    s3Endpoint: `http://${host}:${s3Port}`,
    close: async () => {
      await Promise.all([new Promise(done => dynamo.close(done)), s3.close()])
      if (!persistent) await rm(root, { recursive: true, force: true })
    }
  }
}
