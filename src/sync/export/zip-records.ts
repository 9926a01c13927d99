/**
 * The records of a zip file (PKWARE APPNOTE 6.3.x), built as buffers: local file headers, data descriptors,
 * central directory headers and the end records, with ZIP64 where a size, an offset or the entry count does not
 * fit the classic fields. Only what a streaming writer needs: every entry has a data descriptor (bit 3), since
 * its CRC and sizes are known only once its bytes have gone by.
 */

export const STORED = 0
export const DEFLATED = 8

const LOCAL_HEADER = 0x04034b50
const DATA_DESCRIPTOR = 0x08074b50
const CENTRAL_HEADER = 0x02014b50
const ZIP64_END = 0x06064b50
const ZIP64_LOCATOR = 0x07064b50
const END = 0x06054b50

const FLAG_DATA_DESCRIPTOR = 0x0008
const FLAG_UTF8 = 0x0800
/** Unix (3) in the high byte, so readers take the external attributes as a file mode; spec 4.5 (ZIP64). */
const MADE_BY = (3 << 8) | 45
/** -rw-r--r--, a regular file. */
const FILE_MODE = 0o100644

export const MAX_32 = 0xffffffff
export const MAX_16 = 0xffff

/** Where ZIP64 starts: the largest value a classic field may hold. Tests lower them to reach ZIP64 without gigabytes. */
export interface Zip64Limits {
  /** Largest size or offset written in a 32-bit field (0xfffffffe: 0xffffffff itself means "see ZIP64"). */
  bytes: number
  /** Largest entry count written in the 16-bit fields of the end record. */
  entries: number
}

export const ZIP64_LIMITS: Zip64Limits = { bytes: MAX_32 - 1, entries: MAX_16 - 1 }

/** What an entry's central record needs once its bytes are written. */
export interface WrittenEntry {
  name: Buffer
  mtimeMs: number
  method: number
  /** True when the local header announced ZIP64 (its data descriptor then carries 64-bit sizes). */
  zip64Local: boolean
  crc: number
  compressedSize: number
  size: number
  offset: number
}

/** The DOS date and time of a moment, in UTC (2-second steps, 1980 to 2107): the field every reader knows. */
export function dosDateTime(mtimeMs: number): { time: number; date: number } {
  const min = Date.UTC(1980, 0, 1)
  const max = Date.UTC(2107, 11, 31, 23, 59, 58)
  const d = new Date(Math.min(Math.max(mtimeMs, min), max))
  const time = (d.getUTCHours() << 11) | (d.getUTCMinutes() << 5) | (d.getUTCSeconds() >> 1)
  const date = ((d.getUTCFullYear() - 1980) << 9) | ((d.getUTCMonth() + 1) << 5) | d.getUTCDate()
  return { time, date }
}

/**
 * The timestamps a DOS time loses, as extra fields: the extended timestamp (0x5455, Info-ZIP: Unix seconds, read
 * by unzip, bsdtar and most libraries) and the NTFS times (0x000a: 100 ns steps, read by 7-Zip and Windows), which
 * keeps the milliseconds of an Obsidian mtime. The extended timestamp is left out for a moment it cannot hold
 * (before 1901 or after 2038, a signed 32-bit second).
 */
export function timestampExtras(mtimeMs: number): Buffer {
  const parts: Buffer[] = []
  const seconds = Math.floor(mtimeMs / 1000)
  if (seconds >= -0x80000000 && seconds <= 0x7fffffff) {
    const ut = Buffer.alloc(9)
    ut.writeUInt16LE(0x5455, 0)
    ut.writeUInt16LE(5, 2)
    ut.writeUInt8(1, 4) // flags: modification time present
    ut.writeInt32LE(seconds, 5)
    parts.push(ut)
  }
  // FILETIME: 100 ns intervals since 1601-01-01, here for the modification, access and creation times alike.
  const filetime = (BigInt(Math.round(mtimeMs)) + 11_644_473_600_000n) * 10_000n
  if (filetime >= 0n) {
    const ntfs = Buffer.alloc(36)
    ntfs.writeUInt16LE(0x000a, 0)
    ntfs.writeUInt16LE(32, 2)
    ntfs.writeUInt16LE(1, 8) // attribute tag 1: the three times
    ntfs.writeUInt16LE(24, 10)
    for (let i = 0; i < 3; i++) ntfs.writeBigUInt64LE(filetime, 12 + i * 8)
    parts.push(ntfs)
  }
  return Buffer.concat(parts)
}

/**
 * The local header of an entry whose CRC and sizes follow in a data descriptor. A ZIP64 entry (one that may
 * reach 4 GiB) says so here, with 0xffffffff sizes and a ZIP64 field of zeros, so that a reader that streams
 * knows its descriptor has 64-bit sizes.
 */
export function localHeader(name: Buffer, mtimeMs: number, method: number, zip64: boolean): Buffer {
  const { time, date } = dosDateTime(mtimeMs)
  const extras = [timestampExtras(mtimeMs)]
  if (zip64) {
    const field = Buffer.alloc(20)
    field.writeUInt16LE(0x0001, 0)
    field.writeUInt16LE(16, 2)
    extras.unshift(field)
  }
  const extra = Buffer.concat(extras)
  const header = Buffer.alloc(30)
  header.writeUInt32LE(LOCAL_HEADER, 0)
  header.writeUInt16LE(versionNeeded(method, zip64), 4)
  header.writeUInt16LE(FLAG_DATA_DESCRIPTOR | FLAG_UTF8, 6)
  header.writeUInt16LE(method, 8)
  header.writeUInt16LE(time, 10)
  header.writeUInt16LE(date, 12)
  header.writeUInt32LE(0, 14) // CRC: in the data descriptor
  header.writeUInt32LE(zip64 ? MAX_32 : 0, 18)
  header.writeUInt32LE(zip64 ? MAX_32 : 0, 22)
  header.writeUInt16LE(name.length, 26)
  header.writeUInt16LE(extra.length, 28)
  return Buffer.concat([header, name, extra])
}

/** The data descriptor after an entry's bytes: 64-bit sizes when its local header announced ZIP64. */
export function dataDescriptor(entry: WrittenEntry): Buffer {
  const out = Buffer.alloc(entry.zip64Local ? 24 : 16)
  out.writeUInt32LE(DATA_DESCRIPTOR, 0)
  out.writeUInt32LE(entry.crc, 4)
  if (entry.zip64Local) {
    out.writeBigUInt64LE(BigInt(entry.compressedSize), 8)
    out.writeBigUInt64LE(BigInt(entry.size), 16)
  } else {
    out.writeUInt32LE(entry.compressedSize, 8)
    out.writeUInt32LE(entry.size, 12)
  }
  return out
}

/**
 * The central directory header of a written entry. A size or offset past `limits.bytes` is written as 0xffffffff
 * and carried in the ZIP64 field, which holds only those, in the order the spec fixes (size, compressed size,
 * offset).
 */
export function centralHeader(entry: WrittenEntry, limits: Zip64Limits): Buffer {
  const { time, date } = dosDateTime(entry.mtimeMs)
  const wide = [entry.size, entry.compressedSize, entry.offset].map(value => value > limits.bytes)
  const [wideSize, wideCompressed, wideOffset] = wide
  const zip64Values = [entry.size, entry.compressedSize, entry.offset].filter((_, i) => wide[i])
  const extras = [timestampExtras(entry.mtimeMs)]
  if (zip64Values.length > 0) {
    const field = Buffer.alloc(4 + 8 * zip64Values.length)
    field.writeUInt16LE(0x0001, 0)
    field.writeUInt16LE(8 * zip64Values.length, 2)
    zip64Values.forEach((value, i) => field.writeBigUInt64LE(BigInt(value), 4 + 8 * i))
    extras.unshift(field)
  }
  const extra = Buffer.concat(extras)
  const header = Buffer.alloc(46)
  header.writeUInt32LE(CENTRAL_HEADER, 0)
  header.writeUInt16LE(MADE_BY, 4)
  header.writeUInt16LE(versionNeeded(entry.method, entry.zip64Local || zip64Values.length > 0), 6)
  header.writeUInt16LE(FLAG_DATA_DESCRIPTOR | FLAG_UTF8, 8)
  header.writeUInt16LE(entry.method, 10)
  header.writeUInt16LE(time, 12)
  header.writeUInt16LE(date, 14)
  header.writeUInt32LE(entry.crc, 16)
  header.writeUInt32LE(wideCompressed ? MAX_32 : entry.compressedSize, 20)
  header.writeUInt32LE(wideSize ? MAX_32 : entry.size, 24)
  header.writeUInt16LE(entry.name.length, 28)
  header.writeUInt16LE(extra.length, 30)
  header.writeUInt16LE(0, 32) // comment length
  header.writeUInt16LE(0, 34) // disk number
  header.writeUInt16LE(0, 36) // internal attributes
  header.writeUInt32LE((FILE_MODE << 16) >>> 0, 38)
  header.writeUInt32LE(wideOffset ? MAX_32 : entry.offset, 42)
  return Buffer.concat([header, entry.name, extra])
}

/**
 * The records after the central directory: the classic end record, preceded by the ZIP64 end record and its
 * locator when the entry count, the directory's size or its offset does not fit it.
 */
export function endRecords(
  entries: number,
  directoryOffset: number,
  directorySize: number,
  limits: Zip64Limits
): Buffer {
  const wideCount = entries > limits.entries
  const wideSize = directorySize > limits.bytes
  const wideOffset = directoryOffset > limits.bytes
  const end = Buffer.alloc(22)
  end.writeUInt32LE(END, 0)
  end.writeUInt16LE(wideCount ? MAX_16 : entries, 8)
  end.writeUInt16LE(wideCount ? MAX_16 : entries, 10)
  end.writeUInt32LE(wideSize ? MAX_32 : directorySize, 12)
  end.writeUInt32LE(wideOffset ? MAX_32 : directoryOffset, 16)
  if (!wideCount && !wideSize && !wideOffset) return end

  const zip64End = Buffer.alloc(56)
  zip64End.writeUInt32LE(ZIP64_END, 0)
  zip64End.writeBigUInt64LE(44n, 4) // the record's size after this field
  zip64End.writeUInt16LE(MADE_BY, 12)
  zip64End.writeUInt16LE(45, 14)
  zip64End.writeBigUInt64LE(BigInt(entries), 24)
  zip64End.writeBigUInt64LE(BigInt(entries), 32)
  zip64End.writeBigUInt64LE(BigInt(directorySize), 40)
  zip64End.writeBigUInt64LE(BigInt(directoryOffset), 48)
  const locator = Buffer.alloc(20)
  locator.writeUInt32LE(ZIP64_LOCATOR, 0)
  locator.writeBigUInt64LE(BigInt(directoryOffset + directorySize), 8)
  locator.writeUInt32LE(1, 16) // total number of disks
  return Buffer.concat([zip64End, locator, end])
}

function versionNeeded(method: number, zip64: boolean): number {
  if (zip64) return 45
  return method === DEFLATED ? 20 : 10
}
