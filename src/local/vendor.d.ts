// Minimal typings for the two embedded engines, which ship none.
declare module 'dynalite' {
  import type { Server } from 'node:http'
  interface DynaliteOptions {
    path?: string
    createTableMs?: number
    deleteTableMs?: number
    updateTableMs?: number
    maxItemSizeKb?: number
  }
  export default function dynalite(options?: DynaliteOptions): Server
}

declare module 's3rver' {
  interface S3rverOptions {
    address?: string
    port?: number
    directory: string
    silent?: boolean
    resetOnClose?: boolean
    allowMismatchedSignatures?: boolean
    configureBuckets?: Array<{ name: string; configs?: Array<string | Buffer> }>
  }
  interface StoredConfig {
    type: string
    rawConfig: Record<string, any> // eslint-disable-line @typescript-eslint/no-explicit-any
  }
  interface S3Object {
    bucket: string
    key: string
    /** For a PUT, the request itself. */
    content?: { headers?: Record<string, string | string[] | undefined> }
  }
  interface KoaContext {
    method: string
    path: string
    query: Record<string, unknown>
    status: number
    set(name: string, value: string): void
  }
  interface FilesystemStore {
    putObject(object: S3Object): Promise<unknown>
    deleteObject(bucket: string, key: string): Promise<unknown>
    existsObject(bucket: string, key: string): Promise<boolean>
    getSubresource(bucket: string, key: string, type: string): Promise<StoredConfig | null>
    putSubresource(bucket: string, key: string, config: StoredConfig): Promise<void>
    deleteSubresource(bucket: string, key: string, type: string): Promise<void>
    getResourcePath(bucket: string, key: string | undefined, resource: string): string
    putObjectMultipart(
      bucket: string,
      uploadId: string,
      parts: Array<{ number: number; etag: string }>
    ): Promise<unknown>
  }
  export default class S3rver {
    constructor(options: S3rverOptions)
    readonly store: FilesystemStore
    /** Koa's middleware, composed when `run()` starts the server. */
    readonly middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>>
    readonly httpServer: import('node:http').Server
    run(): Promise<{ address: string; port: number }>
    close(): Promise<void>
  }
}

declare module 's3rver/lib/models/config.js' {
  export class TaggingConfiguration {
    static validate(xml: string): { type: string; rawConfig: Record<string, unknown> }
  }
}

declare module 's3rver/lib/models/error.js' {
  /** s3rver's S3 error: it answers with the code's status and an S3 error document. */
  export default class S3Error extends Error {
    constructor(code: string, message: string, detail?: Record<string, string>)
  }
}
