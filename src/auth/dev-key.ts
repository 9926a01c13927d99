import { mkdir, readFile, writeFile } from 'node:fs/promises'
import { join } from 'node:path'
import { generateApiKey, hashKey, type ApiKey } from './api-keys.ts'

export const DEV_KEY_FILE = 'dev-api-key'

/**
 * The laptop's key, with every scope: made on the first `npm run dev`, kept in
 * `<dataDir>/dev-api-key` (one line, plain text, readable only by its owner),
 * reused afterwards.
 */
export async function ensureDevApiKey(
  dataDir: string
): Promise<{ key: string; entry: ApiKey; path: string; created: boolean }> {
  const path = join(dataDir, DEV_KEY_FILE)
  try {
    const key = (await readFile(path, 'utf8')).trim()
    if (key !== '') return { key, entry: { id: 'dev', hash: hashKey(key), scopes: ['*'] }, path, created: false }
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'ENOENT') throw err
  }
  const { key, entry } = generateApiKey('dev', ['*'])
  await mkdir(dataDir, { recursive: true })
  await writeFile(path, key + '\n', { mode: 0o600 })
  return { key, entry, path, created: true }
}
