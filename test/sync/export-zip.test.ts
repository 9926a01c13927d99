import { GetObjectCommand, HeadObjectCommand, ListMultipartUploadsCommand, type S3Client } from '@aws-sdk/client-s3'
import { execFileSync } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Readable } from 'node:stream'
import t, { type Test } from 'tap'
import { benchExportZip } from '../../bench/export-zip.ts'
import { createAwsClients } from '../../src/aws/clients.ts'
import { writeZipToS3 } from '../../src/sync/export/zip-to-s3.ts'
import type { ZipEntry } from '../../src/sync/export/zip-stream.ts'
import { motoAvailable, startMoto } from '../fixtures/moto.ts'
import { testConfig, type TestTap } from '../helper.ts'

// The zip is read back by Python's zipfile (test/fixtures/read-zip.py), a reader that shares no code with ours.
const MIB = 1024 * 1024
const PART = 5 * MIB
const readZipScript = join(import.meta.dirname, '..', 'fixtures', 'read-zip.py')

const engines: Array<[string, () => Promise<NodeJS.ProcessEnv>]> = [["the test engine's S3", async () => ({})]]
if (!process.env.AWS_ENDPOINT_URL_S3 && motoAvailable()) {
  let moto: Promise<string> | undefined
  engines.push(['moto', async () => ({ AWS_ENDPOINT_URL_S3: await (moto ??= startMoto(t)) })])
}

interface ReadEntry {
  name: string
  flags: number
  method: number
  date_time: number[]
  size: number
  sha256: string
  ut_mtime: number | null
  ntfs_mtime_ms: number | null
  zip64_field: boolean
}

/** An S3 client of this test's own (tests add middlewares to it), and the sync bucket. */
async function bucketOn(t: TestTap, env: NodeJS.ProcessEnv): Promise<{ s3: S3Client; bucket: string }> {
  const config = await testConfig(env)
  const { s3, dynamodb } = createAwsClients(config)
  dynamodb.destroy()
  t.teardown(() => s3.destroy())
  return { s3, bucket: config.buckets.sync }
}

/** The zip at bucket/key as Python's zipfile reads it. */
async function readBack(t: TestTap, s3: S3Client, bucket: string, key: string) {
  const object = await s3.send(new GetObjectCommand({ Bucket: bucket, Key: key }))
  const bytes = Buffer.from(await object.Body!.transformToByteArray())
  const dir = await mkdtemp(join(tmpdir(), 'export-zip-'))
  t.teardown(() => rm(dir, { recursive: true, force: true }))
  const file = join(dir, 'export.zip')
  await writeFile(file, bytes)
  const out = execFileSync('python3', [readZipScript, file], { encoding: 'utf8', maxBuffer: 64 * MIB })
  return { bytes, ...(JSON.parse(out) as { entries: ReadEntry[]; zip64_end: boolean }) }
}

/** The UploadId of every multipart upload the client starts. */
function recordUploadIds(s3: S3Client): string[] {
  const ids: string[] = []
  s3.middlewareStack.add(
    (next, context) => async args => {
      const result = await next(args)
      if (context.commandName === 'CreateMultipartUploadCommand')
        ids.push((result.output as { UploadId: string }).UploadId)
      return result
    },
    { step: 'initialize', name: 'recordUploadIds' }
  )
  return ids
}

const sha256 = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex')

interface Fixture {
  path: string
  mtime: number
  bytes: Buffer
  declareSize: boolean
}

function vault(): Fixture[] {
  const files: Fixture[] = [
    {
      path: 'notes/日本語/メモ.md',
      mtime: 1_767_225_600_123,
      bytes: Buffer.from('# メモ\n'.repeat(300)),
      declareSize: true
    },
    { path: 'émoji 🎉 ünïcödé.md', mtime: 1_700_000_000_999, bytes: Buffer.from('ünïcödé 🎉\n'), declareSize: true },
    { path: 'empty.md', mtime: 1_700_000_001_000, bytes: Buffer.alloc(0), declareSize: true },
    { path: 'attachments/empty.png', mtime: 1_700_000_002_500, bytes: Buffer.alloc(0), declareSize: true },
    { path: 'attachments/photo.PNG', mtime: 1_700_000_003_001, bytes: randomBytes(70_000), declareSize: true },
    { path: 'a/b/c/d/e/deep.canvas', mtime: 1_600_000_000_007, bytes: Buffer.from('{"nodes":[]}'), declareSize: true },
    // Bigger than a part: the zip goes up as a multipart upload. Of unknown size: written as ZIP64.
    { path: 'big/recording.bin', mtime: 1_750_000_000_321, bytes: randomBytes(PART + MIB), declareSize: false },
    // Before 1980, which a DOS time cannot hold: the extra fields keep it.
    { path: 'old.md', mtime: 86_400_000 + 42, bytes: Buffer.from('old'), declareSize: true }
  ]
  for (let i = 0; i < 150; i++)
    files.push({
      path: `daily/${2000 + (i % 7)}/note ${i}.md`,
      mtime: 1_735_689_600_000 + i * 1001,
      bytes: Buffer.from(`note ${i}\n`.repeat(i)),
      declareSize: true
    })
  return files
}

function entriesOf(files: Fixture[]): AsyncIterable<ZipEntry> {
  return (async function* () {
    for (const file of files)
      yield {
        path: file.path,
        mtime: file.mtime,
        size: file.declareSize ? file.bytes.length : undefined,
        // A stream in 64 KiB pieces, as an S3 body arrives.
        open: async () => Readable.from(chunks(file.bytes, 64 * 1024))
      }
  })()
}

function* chunks(bytes: Buffer, size: number): Generator<Buffer> {
  for (let i = 0; i < bytes.length; i += size) yield bytes.subarray(i, i + size)
}

for (const [engine, env] of engines) {
  t.test(
    `${engine}: a vault's zip, read back by another reader, holds every file byte for byte with its mtime`,
    async t => {
      const { s3, bucket } = await bucketOn(t, await env())
      const uploadIds = recordUploadIds(s3)
      const files = vault()
      const key = 'exports/vault.zip'
      const stats = await writeZipToS3({ s3, bucket, key, entries: entriesOf(files), partBytes: PART })
      t.equal(uploadIds.length, 1, 'written as one multipart upload')

      const read = await readBack(t, s3, bucket, key)
      t.same(stats, { files_count: files.length, bytes: read.bytes.length })
      t.same(
        read.entries.map(entry => entry.name),
        files.map(file => file.path)
      )
      for (const [i, file] of files.entries()) {
        const entry = read.entries[i]!
        const when = new Date(Math.max(file.mtime, Date.UTC(1980, 0, 1)))
        t.same(
          {
            size: entry.size,
            sha256: entry.sha256,
            utf8AndDescriptor: entry.flags & 0x0808,
            method: entry.method,
            ut: entry.ut_mtime,
            ntfs: entry.ntfs_mtime_ms,
            dos: entry.date_time
          },
          {
            size: file.bytes.length,
            sha256: sha256(file.bytes),
            utf8AndDescriptor: 0x0808,
            method: /\.png$/i.test(file.path) ? 0 : 8, // stored: already compressed; deflated: the rest
            ut: Math.floor(file.mtime / 1000),
            ntfs: file.mtime,
            dos: [
              when.getUTCFullYear(),
              when.getUTCMonth() + 1,
              when.getUTCDate(),
              when.getUTCHours(),
              when.getUTCMinutes(),
              when.getUTCSeconds() & ~1
            ]
          },
          file.path
        )
      }
      t.notOk(read.zip64_end, 'no ZIP64 end record below the limits')
      t.notOk(
        read.entries.some(entry => entry.zip64_field),
        'no ZIP64 field in the central directory below the limits'
      )
    }
  )

  t.test(`${engine}: a file that fails to read aborts the multipart upload and leaves nothing`, async t => {
    const { s3, bucket } = await bucketOn(t, await env())
    const uploadIds = recordUploadIds(s3)
    const key = 'exports/failed.zip'
    const entries: ZipEntry[] = [
      { path: 'big.bin', mtime: 1, open: async () => [randomBytes(PART + MIB)] },
      {
        path: 'broken.md',
        mtime: 2,
        open: async () =>
          (async function* () {
            yield Buffer.from('half of it')
            throw new Error('the object could not be read')
          })()
      }
    ]
    await t.rejects(writeZipToS3({ s3, bucket, key, entries, partBytes: PART }), {
      message: 'the object could not be read'
    })
    await assertNothingLeft(t, s3, bucket, key, uploadIds)
  })

  t.test(`${engine}: aborting the signal aborts the multipart upload and leaves nothing`, async t => {
    const { s3, bucket } = await bucketOn(t, await env())
    const uploadIds = recordUploadIds(s3)
    const key = 'exports/aborted.zip'
    const controller = new AbortController()
    const entries = (async function* (): AsyncGenerator<ZipEntry> {
      yield { path: 'big.bin', mtime: 1, open: async () => [randomBytes(PART + MIB)] }
      // Once the first part is on its way, the export is cancelled.
      while (uploadIds.length === 0) await new Promise(resolve => setTimeout(resolve, 5))
      controller.abort(new Error('export cancelled'))
      yield { path: 'next.md', mtime: 2, open: async () => [Buffer.from('never written')] }
    })()
    await t.rejects(writeZipToS3({ s3, bucket, key, entries, partBytes: PART, signal: controller.signal }), {
      message: 'export cancelled'
    })
    await assertNothingLeft(t, s3, bucket, key, uploadIds)
  })
}

async function assertNothingLeft(t: Test, s3: S3Client, bucket: string, key: string, uploadIds: string[]) {
  t.equal(uploadIds.length, 1, 'the multipart upload had started')
  const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch((err: Error) => err.name)
  t.equal(head, 'NotFound', 'no zip')
  const uploads = await s3.send(new ListMultipartUploadsCommand({ Bucket: bucket, Prefix: key }))
  t.same(uploads.Uploads ?? [], [], 'the multipart upload is gone with its parts')
}

t.test('past the ZIP64 limits (lowered here), sizes, offsets and the count go into ZIP64 records', async t => {
  const { s3, bucket } = await bucketOn(t, {})
  const files: Fixture[] = [
    { path: 'small.md', mtime: 1_700_000_000_000, bytes: Buffer.from('small'), declareSize: true },
    { path: 'large.png', mtime: 1_700_000_000_100, bytes: randomBytes(5000), declareSize: true },
    { path: 'after.md', mtime: 1_700_000_000_200, bytes: Buffer.from('after the limit'), declareSize: true },
    { path: 'unknown.md', mtime: 1_700_000_000_300, bytes: Buffer.from('no size'), declareSize: false }
  ]
  const key = 'exports/zip64.zip'
  const limits = { bytes: 1000, entries: 3 }
  await writeZipToS3({ s3, bucket, key, entries: entriesOf(files), zip64Limits: limits })
  const read = await readBack(t, s3, bucket, key)
  t.same(
    read.entries.map(entry => [entry.name, entry.sha256, entry.zip64_field]),
    [
      ['small.md', sha256(files[0]!.bytes), false],
      ['large.png', sha256(files[1]!.bytes), true], // its sizes
      ['after.md', sha256(files[2]!.bytes), true], // its offset
      ['unknown.md', sha256(files[3]!.bytes), true]
    ]
  )
  t.ok(read.zip64_end, 'four entries past a limit of three: a ZIP64 end record')
})

t.test('the writer holds at most the parts in flight and the one being filled, whatever the zip size', async t => {
  const { s3, bucket } = await bucketOn(t, {})
  const figures = await benchExportZip({ s3, bucket, mib: 36, partBytes: PART, partsInFlight: 2 })
  t.equal(figures.files, 36)
  t.ok(figures.zipBytes > 36 * MIB)
  t.ok(figures.peakPartsInFlight <= 2, `${figures.peakPartsInFlight} parts in flight at most`)
  t.ok(figures.peakHeldBytes <= 3 * PART + MIB, `${figures.peakHeldBytes} bytes held at most`)
  t.ok(figures.zipBytes > 2 * figures.boundBytes, 'the zip is many times what was held')
})

t.test(
  'a path that would leave the folder it is unpacked in, or no mtime, is refused, and nothing is written',
  async t => {
    const { s3, bucket } = await bucketOn(t, {})
    const key = 'exports/unsafe.zip'
    for (const path of ['../outside.md', '/etc/passwd', 'a/./b.md', 'back\\slash.md']) {
      const entries = [{ path, mtime: 1, open: async () => [Buffer.from('x')] }]
      await t.rejects(writeZipToS3({ s3, bucket, key, entries }), { message: /refused/ }, path)
    }
    const entries = [{ path: 'when.md', mtime: Number.NaN, open: async () => [Buffer.from('x')] }]
    await t.rejects(writeZipToS3({ s3, bucket, key, entries }), { message: /mtime is not a time/ })
    const head = await s3.send(new HeadObjectCommand({ Bucket: bucket, Key: key })).catch((err: Error) => err.name)
    t.equal(head, 'NotFound')
  }
)

t.test("S3's refusal is what the writer reports, and the file being read is closed", async t => {
  const { s3 } = await bucketOn(t, {})
  let closed = false
  const source = Readable.from(chunks(randomBytes(PART + MIB), 64 * 1024))
  source.on('close', () => (closed = true))
  const entries = [{ path: 'big.bin', mtime: 1, open: async () => source }]
  await t.rejects(writeZipToS3({ s3, bucket: 'no-such-bucket-here', key: 'exports/x.zip', entries, partBytes: PART }), {
    name: 'NoSuchBucket'
  })
  t.ok(closed, 'the source stream was closed')
})
