/**
 * What `npm run bench:sync` syncs from and into, in a process of its own so
 * that its memory is not the syncing process's: the stand-in for Obsidian Sync
 * serving one generated vault, and the embedded stack (dynalite in memory,
 * the embedded S3 in a temporary folder). Driven over IPC by bench/sync.ts:
 *
 *   → { op: 'change', count }   new versions of `count` small files, spread over the vault
 *   ← { op: 'changed', uids }
 *   → { op: 'pulls' }           every pull served so far, by uid, and the connections (inits) so far
 *   ← { op: 'pulls', uids, inits }
 *
 * File contents are made on demand (an AES-CTR keystream keyed by path and
 * edit), so the 200 MiB vault never sits in memory; only the hashes do.
 */
import { createCipheriv, createHash } from 'node:crypto'
import { parseArgs } from 'node:util'
import { loadConfig } from '../src/config/config.ts'
import { startLocalStorage } from '../src/local/storage.ts'
import { emptyVault, startFakeObsidian } from '../scripts/lib/obsidian-stand-in.ts'

const ACCOUNT = { email: 'bench@example.com', password: 'bench password' }
const VAULT_PASSWORD = 'bench vault password'

export interface ServicesReady {
  op: 'ready'
  obsidianUrl: string
  account: { email: string; password: string }
  vaultPassword: string
  dynamodbEndpoint: string
  s3Endpoint: string
  vaultId: string
  files: number
  bytes: number
}

export type ServicesRequest = { op: 'change'; count: number } | { op: 'pulls' }
export type ServicesReply = { op: 'changed'; uids: number[] } | { op: 'pulls'; uids: number[]; inits: number }

const { values } = parseArgs({
  options: { files: { type: 'string' }, 'big-mib': { type: 'string' } }
})
const files = Number(values.files)
const bigBytes = Number(values['big-mib']) * 1024 * 1024
const send = (message: ServicesReady | ServicesReply): void => void process.send!(message)

/** The same bytes every time for one path and edit. */
function content(path: string, edit: number, size: number): Buffer {
  const key = createHash('sha256').update(`${path}#${edit}`).digest()
  return createCipheriv('aes-256-ctr', key, Buffer.alloc(16)).update(Buffer.alloc(size))
}

/** A small file's size: 1 to 40 KiB, about 20.5 KiB on average, fixed by its index. */
function smallSize(i: number): number {
  return 1024 + (createHash('sha256').update(String(i)).digest().readUInt32BE(0) % (39 * 1024))
}

const vault = await emptyVault('bench-vault', VAULT_PASSWORD, 3, 'Bench')
const bigIndex = Math.floor(files / 2)
const paths: string[] = []
const sizes: number[] = []
let bytes = 0
for (let i = 0; i < files; i++) {
  const big = i === bigIndex
  const path = big ? 'attachments/big.bin' : `notes/${String(i % 50).padStart(2, '0')}/note-${i}.md`
  const size = big ? bigBytes : smallSize(i)
  const hash = createHash('sha256')
    .update(content(path, 0, size))
    .digest('hex')
  vault.putLazy(path, size, hash, () => content(path, 0, size))
  paths.push(path)
  sizes.push(size)
  bytes += size
}

const { config, stack } = await startLocalStorage(loadConfig({ NODE_ENV: 'test', LOG_LEVEL: 'silent' }), {})
const service = await startFakeObsidian({ accounts: [ACCOUNT], vaults: [vault] })

let edit = 0
process.on('message', (message: ServicesRequest) => {
  if (message.op === 'pulls')
    return send({ op: 'pulls', uids: service.pulls.get(vault.id) ?? [], inits: service.inits.get(vault.id) ?? 0 })
  edit++
  const uids: number[] = []
  const step = files / message.count
  for (let n = 0; n < message.count; n++) {
    let i = Math.floor(n * step)
    if (i === bigIndex) i++
    const path = paths[i]!
    const size = sizes[i]!
    const version = edit
    const hash = createHash('sha256')
      .update(content(path, version, size))
      .digest('hex')
    uids.push(vault.putLazy(path, size, hash, () => content(path, version, size)).uid)
  }
  send({ op: 'changed', uids })
})
process.on('disconnect', () => {
  void Promise.all([service.close(), stack.close()]).then(() => process.exit(0))
})

send({
  op: 'ready',
  obsidianUrl: service.url,
  account: ACCOUNT,
  vaultPassword: VAULT_PASSWORD,
  dynamodbEndpoint: config.endpoints.dynamodb!,
  s3Endpoint: config.endpoints.s3!,
  vaultId: vault.id,
  files,
  bytes
})
