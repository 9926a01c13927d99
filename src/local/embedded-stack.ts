import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join, resolve } from 'node:path'
import dynalite from 'dynalite'
import { containRequestErrors, failDynamoDb, failS3 } from './emulator-guard.ts'
import { embeddedS3Handler } from './s3/server.ts'
import { ObjectStore } from './s3/store.ts'

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

/**
 * Where the embedded S3 keeps buckets under the data directory. Not `s3/`, where the engine it replaced kept one
 * file per key in a layout this one does not read.
 */
export const S3_DIRECTORY = 's3-store'

/** dynalite (DynamoDB) and our own S3 (src/local/s3) in this process: all a laptop needs besides Node.js. */
export async function startEmbeddedStack(options: EmbeddedStackOptions = {}): Promise<EmbeddedStack> {
  const host = options.host ?? '127.0.0.1'
  const persistent = options.dataDir !== undefined
  const root = persistent ? resolve(options.dataDir as string) : await mkdtemp(join(tmpdir(), 'atlas-stack-'))
  const s3Dir = join(root, S3_DIRECTORY)
  await mkdir(s3Dir, { recursive: true })

  const dynamo = dynalite({
    path: persistent ? join(root, 'dynamodb') : undefined,
    createTableMs: 0,
    deleteTableMs: 0,
    updateTableMs: 0
  })
  await listen(dynamo, options.dynamodbPort ?? 0, host)
  const dynamoPort = (dynamo.address() as AddressInfo).port
  containRequestErrors({ name: 'embedded DynamoDB', server: dynamo, fail: failDynamoDb })

  const s3 = createServer(embeddedS3Handler(new ObjectStore(s3Dir)))
  containRequestErrors({ name: 'embedded S3', server: s3, fail: failS3 })
  try {
    await listen(s3, options.s3Port ?? 0, host)
  } catch (err) {
    await new Promise(done => dynamo.close(done))
    throw err
  }
  const s3Port = (s3.address() as AddressInfo).port

  return {
    dynamodbEndpoint: `http://${host}:${dynamoPort}`,
    s3Endpoint: `http://${host}:${s3Port}`,
    close: async () => {
      await Promise.all([stop(dynamo), stop(s3)])
      if (!persistent) await rm(root, { recursive: true, force: true })
    }
  }
}

async function listen(server: Server, port: number, host: string): Promise<void> {
  await new Promise<void>((ok, fail) => {
    server.once('error', fail)
    server.listen(port, host, () => {
      server.off('error', fail)
      ok()
    })
  })
}

/**
 * Stops accepting and ends every connection: the SDK's clients keep theirs alive, and a download nobody reads
 * would hold its connection open for ever.
 */
async function stop(server: Server): Promise<void> {
  const closed = new Promise(done => server.close(done))
  server.closeAllConnections()
  await closed
}
