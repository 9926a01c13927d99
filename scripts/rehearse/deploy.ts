/**
 * The AWS side of the rehearsal, on moto: the server itself, the API key kept
 * where a deployed stack keeps it, the stack created by scripts/rehearse/stack.py,
 * and the environment the created function runs with.
 */
import { spawn, spawnSync, type SpawnSyncReturns } from 'node:child_process'
import { createHash, randomBytes } from 'node:crypto'
import { join } from 'node:path'
import { CreateSecretCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager'
import { freePort, tail, waitFor } from '../lib/processes.mjs'
import { KEYS_SECRET, OBSIDIAN, REGION, STACK, type FunctionConfig } from './context.ts'

export const CREDENTIALS = { accessKeyId: 'rehearsal', secretAccessKey: 'rehearsal' }

export interface Moto {
  endpoint: string
  /** Its last lines of output, for a failed rehearsal. */
  log: () => string
  /** Resolves once it answers. */
  ready: () => Promise<void>
  stop: () => void
}

export async function startMoto(): Promise<Moto> {
  const port = await freePort()
  const endpoint = `http://127.0.0.1:${port}`
  const moto = spawn('moto_server', ['-H', '127.0.0.1', '-p', String(port)], { stdio: ['ignore', 'pipe', 'pipe'] })
  return {
    endpoint,
    log: tail(moto.stderr),
    ready: async () => await waitFor('moto_server', `${endpoint}/moto-api/`),
    stop: () => moto.kill()
  }
}

/** A new API key with every scope, its entry stored in the secret ApiKeysSecretName names. */
export async function createApiKey(endpoint: string): Promise<string> {
  const key = `atk_${randomBytes(32).toString('base64url')}`
  const entry = { id: 'rehearsal', hash: `sha256:${createHash('sha256').update(key).digest('hex')}`, scopes: ['*'] }
  const secrets = new SecretsManagerClient({ region: REGION, endpoint, credentials: CREDENTIALS })
  try {
    await secrets.send(new CreateSecretCommand({ Name: KEYS_SECRET, SecretString: JSON.stringify([entry]) }))
  } finally {
    secrets.destroy()
  }
  return key
}

/** template.yaml translated and created on moto with the bundle in dist/lambda: stack.py's answer, as it ran. */
export function deployStack(root: string, endpoint: string): SpawnSyncReturns<string> {
  return spawnSync(
    'python3',
    [
      join(root, 'scripts/rehearse/stack.py'),
      'deploy',
      '--endpoint',
      endpoint,
      '--code',
      join(root, 'dist/lambda'),
      '--stack',
      STACK,
      '--region',
      REGION,
      '--param',
      `ApiKeysSecretName=${KEYS_SECRET}`,
      '--param',
      `ObsidianEmail=${OBSIDIAN.email}`,
      '--param',
      `ObsidianPassword=${OBSIDIAN.password}`,
      '--param',
      `ObsidianVaultPasswords=${JSON.stringify({ [OBSIDIAN.vault]: OBSIDIAN.vaultPassword })}`
    ],
    { cwd: root, encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 }
  )
}

/** The created function's environment, plus what Lambda itself sets and where "AWS" and "Obsidian" are here. */
export function functionEnvironment(fn: FunctionConfig, endpoint: string, obsidianUrl: string): Record<string, string> {
  return {
    ...fn.environment,
    AWS_REGION: REGION,
    AWS_DEFAULT_REGION: REGION,
    AWS_ACCESS_KEY_ID: CREDENTIALS.accessKeyId,
    AWS_SECRET_ACCESS_KEY: CREDENTIALS.secretAccessKey,
    AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(fn.memory),
    AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
    AWS_EXECUTION_ENV: `AWS_Lambda_${fn.runtime}`,
    AWS_ENDPOINT_URL_DYNAMODB: endpoint,
    AWS_ENDPOINT_URL_S3: endpoint,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: endpoint,
    AWS_ENDPOINT_URL_SSM: endpoint,
    AWS_ENDPOINT_URL_LAMBDA: endpoint,
    OBSIDIAN_API_URL: obsidianUrl
  }
}
