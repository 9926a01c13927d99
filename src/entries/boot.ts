/**
 * The boot sequence every entry that builds the app shares (`npm run dev`,
 * `npm start`, `npm run sync`): storage made ready first, then the app. With
 * no AWS endpoint set, the embedded stack under DATA_DIR (and, for a server,
 * the laptop's dev key); with emulators started by hand, their missing tables
 * and buckets created; against AWS, nothing: the template made them.
 */
import type { Config } from '../config/config.ts'
import type { EmbeddedStack } from '../local/embedded-stack.ts'

export interface DevKey {
  key: string
  path: string
  created: boolean
}

export interface PreparedStorage {
  /** The config the app is built with: pointed at the embedded stack, the dev key added, when there is one. */
  config: Config
  stack?: EmbeddedStack
  devKey?: DevKey
}

export async function prepareStorage(
  config: Config,
  { devKey = false }: { devKey?: boolean } = {}
): Promise<PreparedStorage> {
  if (config.embeddedStack) {
    // Loaded only here: a production server never imports the emulators, and only a laptop gets a dev key.
    const { startLocalStorage } = await import('../local/storage.ts')
    const started = await startLocalStorage(config, { dataDir: config.dataDir })
    if (!devKey) return started
    const { ensureDevApiKey } = await import('../auth/dev-key.ts')
    const { entry, ...key } = await ensureDevApiKey(config.dataDir)
    return {
      config: { ...started.config, apiKeys: [...started.config.apiKeys, entry] },
      stack: started.stack,
      devKey: key
    }
  }
  if (config.createMissingStorage) {
    // DynamoDB Local, moto or another emulator started by hand: without this every route fails until tables exist.
    const { createMissingStorage } = await import('../local/bootstrap.ts')
    await createMissingStorage(config)
  }
  return { config }
}
