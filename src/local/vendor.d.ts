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
  interface FilesystemStore {
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
    readonly httpServer: import('node:http').Server
    run(): Promise<{ address: string; port: number }>
    close(): Promise<void>
  }
}

declare module 's3rver/lib/models/error.js' {
  /** s3rver's S3 error: it answers with the code's status and an S3 error document. */
  export default class S3Error extends Error {
    constructor(code: string, message: string, detail?: Record<string, string>)
  }
}
