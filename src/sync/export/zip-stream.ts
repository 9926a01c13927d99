/**
 * A zip written as it goes: each entry's file is opened, read and compressed one at a time, its CRC-32 computed
 * on the way, its bytes handed on as they come (nothing of a file is held whole), and only the central directory
 * (about 100 bytes an entry) kept until the end.
 */
import { extname } from 'node:path'
import { pipeline } from 'node:stream'
import { crc32, createDeflateRaw } from 'node:zlib'
import { unsafeReason } from '../../repositories/sync-paths.ts'
import {
  centralHeader,
  dataDescriptor,
  DEFLATED,
  endRecords,
  localHeader,
  STORED,
  ZIP64_LIMITS,
  type WrittenEntry,
  type Zip64Limits
} from './zip-records.ts'

export interface ZipEntry {
  /** The path inside the zip: relative, `/`-separated, as the vault stores it. */
  path: string
  /** The modification time, epoch ms. */
  mtime: number
  /**
   * The file's size when known. An entry declared under 4 GiB has a classic data descriptor; one of unknown size
   * is written as ZIP64 in case it is larger.
   */
  size?: number
  /** The file's bytes (a Readable, an S3 body, chunks), opened when the entry's turn comes. */
  open(): Promise<AsyncIterable<Uint8Array> | Iterable<Uint8Array>>
}

/** What has been written so far; the last values are the zip's. */
export interface ZipStats {
  files_count: number
  bytes: number
}

export interface ZipOptions {
  /** Where ZIP64 starts (tests lower it). */
  limits?: Zip64Limits
  signal?: AbortSignal
}

/**
 * Formats that are compressed already: stored as they are, since deflate would spend CPU to win nothing (and can
 * grow them a little). Everything else (notes, canvases, JSON, SVG, PDF) is deflated.
 */
const COMPRESSED_FORMATS = new Set(
  'png jpg jpeg gif webp avif heic heif mp3 m4a aac ogg oga opus flac mp4 m4v mov webm mkv zip gz tgz bz2 xz zst 7z rar docx xlsx pptx epub woff woff2'.split(
    ' '
  )
)

/** Deflate's worst case on incompressible input is a few bytes per 16 KiB block: this margin covers it. */
const deflateBound = (size: number): number => size + Math.ceil(size / 4096) + 1024

/** How an entry is compressed: by its extension. */
export function compressionMethod(path: string): number {
  return COMPRESSED_FORMATS.has(extname(path).slice(1).toLowerCase()) ? STORED : DEFLATED
}

/**
 * The zip of `entries`, as chunks. `stats` is updated as they go. Directory central records are sent in batches
 * of about 64 KiB rather than one small buffer each.
 */
export async function* zipChunks(
  entries: AsyncIterable<ZipEntry> | Iterable<ZipEntry>,
  stats: ZipStats,
  options: ZipOptions = {}
): AsyncGenerator<Buffer> {
  const limits = options.limits ?? ZIP64_LIMITS
  const central: Buffer[] = []
  let offset = 0
  const emit = (bytes: Buffer): Buffer => {
    offset += bytes.length
    stats.bytes = offset
    return bytes
  }

  for await (const entry of entries) {
    options.signal?.throwIfAborted()
    const reason = unsafeReason(entry.path)
    if (reason !== undefined) throw new Error(`zip entry ${JSON.stringify(entry.path)} refused: ${reason}`)
    if (!Number.isFinite(entry.mtime)) throw new Error(`zip entry ${entry.path}: its mtime is not a time`)
    const name = Buffer.from(entry.path, 'utf8')
    if (name.length > 0xffff) throw new Error(`zip entry ${entry.path.slice(0, 64)}…: its path is over 65535 bytes`)
    const method = compressionMethod(entry.path)
    const zip64Local = entry.size === undefined || deflateBound(entry.size) > limits.bytes
    const written: WrittenEntry = {
      name,
      mtimeMs: entry.mtime,
      method,
      zip64Local,
      crc: 0,
      compressedSize: 0,
      size: 0,
      offset
    }
    yield emit(localHeader(name, entry.mtime, method, zip64Local))
    for await (const chunk of entryBytes(await entry.open(), written, options.signal)) yield emit(chunk)
    if (!zip64Local && Math.max(written.size, written.compressedSize) > limits.bytes)
      throw new Error(`zip entry ${entry.path}: ${written.size} bytes, declared ${entry.size}`)
    yield emit(dataDescriptor(written))
    central.push(centralHeader(written, limits))
    stats.files_count++
  }

  const directoryOffset = offset
  let batch: Buffer[] = []
  let batchBytes = 0
  for (const record of central) {
    batch.push(record)
    batchBytes += record.length
    if (batchBytes >= 64 * 1024) {
      yield emit(Buffer.concat(batch))
      batch = []
      batchBytes = 0
    }
  }
  if (batch.length > 0) yield emit(Buffer.concat(batch))
  yield emit(endRecords(central.length, directoryOffset, offset - directoryOffset, limits))
}

/**
 * One entry's bytes as they go into the zip (deflated or not), counting into `entry` its CRC-32 and both sizes.
 * Leaving early (an error downstream) destroys the file's stream and the deflater.
 */
async function* entryBytes(
  source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>,
  entry: WrittenEntry,
  signal: AbortSignal | undefined
): AsyncGenerator<Buffer> {
  const counted = async function* (): AsyncGenerator<Buffer> {
    for await (const chunk of source) {
      signal?.throwIfAborted()
      const bytes = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength)
      entry.crc = crc32(bytes, entry.crc)
      entry.size += bytes.length
      yield bytes
    }
  }
  if (entry.method === STORED) {
    for await (const bytes of counted()) {
      entry.compressedSize += bytes.length
      yield bytes
    }
    return
  }
  // pipeline destroys the deflater with the source's error, which then ends the loop below with that error.
  const deflated = pipeline(counted, createDeflateRaw(), () => {})
  try {
    for await (const bytes of deflated as AsyncIterable<Buffer>) {
      entry.compressedSize += bytes.length
      yield bytes
    }
  } finally {
    deflated.destroy()
    if ('destroy' in source && typeof source.destroy === 'function') (source.destroy as () => void)()
  }
}
