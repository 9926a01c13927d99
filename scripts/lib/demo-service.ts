/**
 * The stand-in for Obsidian Sync that the demos serve: the test suite's fake
 * service with one account and the small sample vault, and the settings that
 * point the app (or `npm run sync`) at it.
 */
import { startFakeObsidian, type FakeObsidian } from './obsidian-stand-in.ts'
import { SAMPLE_ACCOUNT, SAMPLE_FILES, SAMPLE_VAULT_PASSWORD, sampleVault } from './sample-vault.ts'

export interface DemoService {
  service: FakeObsidian
  /** OBSIDIAN_* settings, as environment variables. */
  settings: Record<string, string>
  /** The sample vault's id. */
  vaultId: string
  /** One line: where it listens, the account and the vault. */
  summary: string
}

/** Starts the stand-in on `port`; the error says which port when it cannot listen. */
export async function startDemoService(port: number): Promise<DemoService> {
  const vault = await sampleVault()
  let service: FakeObsidian
  try {
    service = await startFakeObsidian({ accounts: [SAMPLE_ACCOUNT], vaults: [vault], port })
  } catch (err) {
    throw new Error(`Could not listen on port ${port}: ${(err as Error).message}; choose another with --port`, {
      cause: err
    })
  }
  return {
    service,
    vaultId: vault.id,
    settings: {
      OBSIDIAN_API_URL: service.url,
      OBSIDIAN_EMAIL: SAMPLE_ACCOUNT.email,
      OBSIDIAN_PASSWORD: SAMPLE_ACCOUNT.password,
      OBSIDIAN_VAULT_PASSWORDS: JSON.stringify({ [vault.id]: SAMPLE_VAULT_PASSWORD })
    },
    summary: `Stand-in Obsidian Sync on ${service.url}: account ${SAMPLE_ACCOUNT.email}, vault ${JSON.stringify(vault.name)} (id ${vault.id}, ${Object.keys(SAMPLE_FILES).length} files)`
  }
}

/** startDemoService for a command: when it cannot listen, says why and exits with status 1. */
export async function startDemoServiceOrExit(port: number): Promise<DemoService> {
  try {
    return await startDemoService(port)
  } catch (err) {
    console.error((err as Error).message)
    process.exit(1)
  }
}

/** A port from the command line or the environment, or an exit with status 2 saying what was wrong. */
export function portOrExit(value: string, what: string): number {
  const port = Number(value)
  if (/^\d+$/.test(value) && port >= 1 && port <= 65535) return port
  console.error(`${what} must be a port number, got ${JSON.stringify(value)}`)
  process.exit(2)
}

/** A word for a POSIX shell, single-quoted when it needs to be. */
export const sh = (value: string): string =>
  /^[\w@%+=:,./-]+$/.test(value) ? value : `'${value.replace(/'/g, `'\\''`)}'`
