/**
 * The memory bound of a zip export, as counts that timing cannot move: writes a zip many parts long into S3
 * through writeZipToS3 and reports the most part requests that were in flight at once and the most bytes the
 * writer held (bytes of zip produced and not yet acknowledged by S3: the part being filled plus the parts being
 * sent), beside the bound (parts in flight + 1) × part size and the zip's size.
 *
 * `benchExportZip` is what `npm run bench:sync` calls; `npx tsx bench/export-zip.ts [--mib 64]` runs it alone on
 * an embedded stack.
 */
import type { S3Client } from '@aws-sdk/client-s3'
import { randomBytes } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { parseArgs } from 'node:util'
import { writeZipToS3, ZIP_PART_BYTES, ZIP_PARTS_IN_FLIGHT } from '../src/sync/export/zip-to-s3.ts'
import type { ZipEntry, ZipStats } from '../src/sync/export/zip-stream.ts'

const MIB = 1024 * 1024

export interface ExportZipFigures {
  files: number
  zipBytes: number
  partBytes: number
  partsInFlight: number
  peakPartsInFlight: number
  peakHeldBytes: number
  /** (partsInFlight + 1) × partBytes, plus one chunk of slack: what peakHeldBytes must stay under. */
  boundBytes: number
}

export interface BenchExportZipOptions {
  /** A client of its own: the bench adds a middleware to it that counts part requests. */
  s3: S3Client
  bucket: string
  key?: string
  /** Size of the vault in MiB, in files of 1 MiB of random (incompressible) bytes. */
  mib: number
  partBytes?: number
  partsInFlight?: number
}

/** Writes a zip of `mib` MiB of files and counts what the writer held on the way. */
export async function benchExportZip(options: BenchExportZipOptions): Promise<ExportZipFigures> {
  const partBytes = options.partBytes ?? ZIP_PART_BYTES
  const partsInFlight = options.partsInFlight ?? ZIP_PARTS_IN_FLIGHT
  const stats: ZipStats = { files_count: 0, bytes: 0 }
  let inFlight = 0
  let acknowledged = 0
  let peakPartsInFlight = 0
  let peakHeldBytes = 0
  const sample = (): void => {
    peakHeldBytes = Math.max(peakHeldBytes, stats.bytes - acknowledged)
  }
  options.s3.middlewareStack.add(
    (next, context) => async args => {
      if (context.commandName !== 'UploadPartCommand' && context.commandName !== 'PutObjectCommand')
        return await next(args)
      const body = (args.input as { Body?: Uint8Array }).Body
      inFlight++
      peakPartsInFlight = Math.max(peakPartsInFlight, inFlight)
      sample()
      try {
        return await next(args)
      } finally {
        sample()
        inFlight--
        acknowledged += body?.byteLength ?? 0
      }
    },
    { step: 'initialize', name: 'benchExportZipCounter' }
  )
  const chunk = randomBytes(MIB)
  async function* entries(): AsyncGenerator<ZipEntry> {
    for (let i = 0; i < options.mib; i++) {
      yield {
        path: `files/${String(i).padStart(4, '0')}.bin`,
        mtime: Date.UTC(2026, 0, 1) + i,
        size: MIB,
        // The same random MiB, turned by a byte each time: incompressible, and never the same file twice.
        open: async () => [Buffer.concat([Buffer.from([i & 0xff]), chunk.subarray(1)])]
      }
    }
  }
  await writeZipToS3({
    s3: options.s3,
    bucket: options.bucket,
    key: options.key ?? `exports/bench-${Date.now()}.zip`,
    entries: entries(),
    partBytes,
    partsInFlight,
    stats
  })
  return {
    files: stats.files_count,
    zipBytes: stats.bytes,
    partBytes,
    partsInFlight,
    peakPartsInFlight,
    peakHeldBytes,
    boundBytes: (partsInFlight + 1) * partBytes + MIB
  }
}

/** One line per figure, for the bench's report. */
export function formatExportZipFigures(figures: ExportZipFigures): string {
  const mib = (bytes: number): string => `${(bytes / MIB).toFixed(1)} MiB`
  return [
    `export zip: ${figures.files} files, ${mib(figures.zipBytes)} in ${mib(figures.partBytes)} parts`,
    `  parts in flight at most ${figures.peakPartsInFlight} (allowed ${figures.partsInFlight})`,
    `  bytes held at most ${mib(figures.peakHeldBytes)} (bound ${mib(figures.boundBytes)}, ` +
      `${(figures.zipBytes / figures.peakHeldBytes).toFixed(1)}× less than the zip)`
  ].join('\n')
}

if (process.argv[1] === fileURLToPath(import.meta.url)) {
  const { values } = parseArgs({ options: { mib: { type: 'string', default: '64' } } })
  const { startEmbeddedStack } = await import('../src/local/embedded-stack.ts')
  const { S3Client, CreateBucketCommand } = await import('@aws-sdk/client-s3')
  const { EMULATOR_CREDENTIALS } = await import('../src/aws/clients.ts')
  const stack = await startEmbeddedStack()
  const s3 = new S3Client({
    region: 'us-east-1',
    endpoint: stack.s3Endpoint,
    credentials: EMULATOR_CREDENTIALS,
    forcePathStyle: true
  })
  try {
    await s3.send(new CreateBucketCommand({ Bucket: 'bench-exports' }))
    const figures = await benchExportZip({ s3, bucket: 'bench-exports', mib: Number(values.mib) })
    console.log(formatExportZipFigures(figures))
    if (figures.peakHeldBytes > figures.boundBytes || figures.peakPartsInFlight > figures.partsInFlight)
      process.exitCode = 1
  } finally {
    s3.destroy()
    await stack.close()
  }
}
