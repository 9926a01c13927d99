/** How the embedded S3 writes its files: bytes hashed on the way to disk, records replaced atomically. */
import { createHash, randomBytes } from 'node:crypto'
import { createWriteStream } from 'node:fs'
import { rename, unlink, writeFile } from 'node:fs/promises'
import { pipeline } from 'node:stream/promises'

export const randomId = (): string => randomBytes(16).toString('hex')

export const ignoreMissing = (err: NodeJS.ErrnoException): void => {
  if (err.code !== 'ENOENT') throw err
}

/** Writes `body` to a new file at `path`: its MD5 and length; nothing is left there when the body fails. */
export async function writeHashed(
  body: AsyncIterable<Buffer>,
  path: string
): Promise<{ digest: Buffer; size: number }> {
  const hash = createHash('md5')
  let size = 0
  try {
    await pipeline(
      body,
      async function* (chunks: AsyncIterable<Buffer>) {
        for await (const chunk of chunks) {
          hash.update(chunk)
          size += chunk.length
          yield chunk
        }
      },
      createWriteStream(path)
    )
  } catch (err) {
    await unlink(path).catch(() => undefined)
    throw err
  }
  return { digest: hash.digest(), size }
}

export async function writeAtomically(path: string, text: string): Promise<void> {
  const temporary = `${path}.${randomId()}.tmp`
  await writeFile(temporary, text)
  await rename(temporary, path)
}
