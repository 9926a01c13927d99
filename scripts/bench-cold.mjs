/**
 * `npm run bench:cold [-- --runs 9] [-- --json] [-- --node 20,24]`: how long a fresh Node process
 * takes to load the Lambda bundle and answer its first request, against a
 * minimal Fastify + @fastify/aws-lambda handler (bench/minimal-handler.ts)
 * bundled the same way. A benchmark, not a test: it reports, it does not judge.
 *
 * On each Node major in --node (default 20 and 24, the one Lambda runs): this
 * process's own Node when it is that major, else the npm package `node@<major>`
 * (`npx -y -p node@24`), a real Node binary.
 *
 * Each run is a new `node` process that records performance.now() at start,
 * imports the bundle (init: config, app, clients, schemas), invokes `handler`
 * with an HTTP API 2.0 `GET /health` event, and prints {load, firstResponse, total}
 * in ms. Runs alternate between the bundles; one warm-up run each is discarded
 * so both read their files from the page cache.
 */
import { spawnSync } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdtemp, rm, stat } from 'node:fs/promises'
import { arch, cpus, platform, tmpdir } from 'node:os'
import { dirname, join, relative } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { parseArgs } from 'node:util'
import * as esbuild from 'esbuild'
import { lambdaBuildOptions } from './esbuild-options.mjs'

const root = join(dirname(fileURLToPath(import.meta.url)), '..')

const { values } = parseArgs({
  options: {
    runs: { type: 'string', default: '9' },
    json: { type: 'boolean', default: false },
    node: { type: 'string', default: '20,24' }
  }
})
const runs = Number(values.runs)
if (!Number.isInteger(runs) || runs < 1) {
  console.error(`--runs must be a positive integer, got ${JSON.stringify(values.runs)}`)
  process.exit(2)
}
const majors = values.node.split(',').map(Number)
if (majors.some(major => !Number.isInteger(major) || major < 1)) {
  console.error(`--node must be comma-separated Node major versions, got ${JSON.stringify(values.node)}`)
  process.exit(2)
}
// With --json, stdout carries only the result.
const info = values.json ? (...args) => console.error(...args) : (...args) => console.log(...args)

/** One cold start, in a fresh process. The bundle's URL comes in argv, then the event builders' (loaded before the clock starts). */
const RUN_ONE = `
const { httpApiEvent, lambdaContext } = await import(process.argv[2])
const start = performance.now()
const { handler } = await import(process.argv[1])
const loaded = performance.now()
const event = httpApiEvent({ method: 'GET', path: '/health', headers: { accept: 'application/json' }, requestId: 'BenchColdStart0=' })
const response = await handler(event, lambdaContext({ functionName: 'bench' }))
const answered = performance.now()
if (response?.statusCode !== 200 || JSON.parse(response.body).status !== 'ok') {
  console.error('unexpected response: ' + JSON.stringify(response))
  process.exit(1)
}
console.log(JSON.stringify({ load: loaded - start, firstResponse: answered - loaded, total: answered - start }))
process.exit(0)
`
const EVENTS = pathToFileURL(join(root, 'scripts/lib/lambda-events.mjs')).href

// GET /health touches no storage: region, dummy credentials and quiet logs are all either bundle needs.
const runEnv = {
  PATH: process.env.PATH,
  AWS_REGION: 'us-east-1',
  AWS_ACCESS_KEY_ID: 'AKIDBENCHMARK0000000',
  AWS_SECRET_ACCESS_KEY: 'bench-secret-not-used',
  NODE_ENV: 'production',
  LOG_LEVEL: 'silent',
  AWS_LAMBDA_FUNCTION_NAME: 'bench',
  AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs24.x',
  // The SDK warns once on Node < 22; the nodejs24.x runtime never pays for that, so neither do we.
  AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
  TZ: 'UTC'
}

/** A Node binary of that major: this one, or the npm package's. */
function nodeBinary(major) {
  if (Number(process.versions.node.split('.')[0]) === major) return process.execPath
  const found = spawnSync('npx', ['-y', '-p', `node@${major}`, '-c', 'command -v node'], { encoding: 'utf8' })
  const path = found.stdout?.trim().split('\n').pop()
  if (found.status !== 0 || !path) throw new Error(`no Node ${major} from npx -p node@${major}:\n${found.stderr}`)
  return path
}

function coldStart(node, bundle) {
  const child = spawnSync(node, ['--input-type=module', '-e', RUN_ONE, pathToFileURL(bundle).href, EVENTS], {
    cwd: dirname(bundle),
    env: runEnv,
    encoding: 'utf8',
    timeout: 60_000
  })
  const last = child.stdout?.trim().split('\n').pop() ?? ''
  if (child.status !== 0 || !last.startsWith('{')) {
    throw new Error(
      `${relative(root, bundle)}: run failed (${child.status ?? child.signal})\n${child.stderr}${child.stdout}`
    )
  }
  return JSON.parse(last)
}

const median = numbers => {
  const sorted = [...numbers].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 === 1 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}
const round = (n, digits = 1) => Math.round(n * 10 ** digits) / 10 ** digits

const ours = join(root, 'dist/lambda/index.mjs')
if (!existsSync(ours)) {
  info('dist/lambda/index.mjs is missing: npm run build')
  const build = spawnSync('npm', ['run', 'build'], {
    cwd: root,
    stdio: ['ignore', values.json ? 2 : 'inherit', 'inherit']
  })
  if (build.status !== 0) process.exit(build.status ?? 1)
}

const temp = await mkdtemp(join(tmpdir(), 'atlas-bench-'))
try {
  const minimal = join(temp, 'minimal', 'index.mjs')
  await esbuild.build({
    ...lambdaBuildOptions,
    absWorkingDir: root,
    entryPoints: ['bench/minimal-handler.ts'],
    outfile: minimal
  })

  const bundles = [
    { name: 'atlas', label: 'atlas (dist/lambda/index.mjs)', path: ours },
    { name: 'minimal', label: 'minimal (bench/minimal-handler.ts)', path: minimal }
  ]
  for (const bundle of bundles) bundle.bytes = (await stat(bundle.path)).size

  const cpu = cpus()
  const machine = { cpu: cpu[0]?.model ?? 'unknown', cores: cpu.length, platform: platform(), arch: arch() }
  const metrics = ['load', 'firstResponse', 'total']
  const results = []
  for (const major of majors) {
    const node = nodeBinary(major)
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()
    info(`node ${version}: ${runs} cold starts per bundle, alternating, after one discarded warm-up each …`)
    const measured = bundles.map(bundle => ({ ...bundle, runs: [] }))
    for (const bundle of measured) coldStart(node, bundle.path)
    for (let i = 0; i < runs; i++) {
      for (const bundle of measured) bundle.runs.push(coldStart(node, bundle.path))
    }
    for (const bundle of measured) {
      bundle.median = Object.fromEntries(metrics.map(m => [m, round(median(bundle.runs.map(r => r[m])), 2)]))
    }
    const [a, b] = measured
    const ratio = {
      size: round(a.bytes / b.bytes, 2),
      ...Object.fromEntries(metrics.map(m => [m, round(a.median[m] / b.median[m], 2)]))
    }
    results.push({ node: version, bundles: measured, ratio })
  }

  if (values.json) {
    console.log(
      JSON.stringify(
        {
          machine,
          runs,
          results: results.map(({ node, bundles, ratio }) => ({
            node,
            bundles: Object.fromEntries(
              bundles.map(x => [
                x.name,
                {
                  path: relative(root, x.path).startsWith('..') ? x.label : relative(root, x.path),
                  sizeKiB: round(x.bytes / 1024),
                  median: x.median,
                  runs: x.runs.map(r => Object.fromEntries(metrics.map(m => [m, round(r[m], 2)])))
                }
              ])
            ),
            ratio
          }))
        },
        null,
        2
      )
    )
  } else {
    console.log(`machine: ${machine.cpu}, ${machine.cores} cores, ${machine.platform}/${machine.arch}`)
    console.log(`medians of ${runs} cold starts (fresh node process: import the bundle, then one GET /health)`)
    for (const { node, bundles, ratio } of results) report(node, bundles, ratio)
  }
} finally {
  await rm(temp, { recursive: true, force: true })
}

/** One table per Node version, medians and the ratio against the minimal handler. */
function report(node, bundles, ratio) {
  const metrics = ['load', 'firstResponse', 'total']
  const rows = [
    ['bundle', 'size KiB', 'load ms', 'first response ms', 'total ms'],
    ...bundles.map(x => [x.label, round(x.bytes / 1024).toFixed(1), ...metrics.map(m => x.median[m].toFixed(1))]),
    ['ratio atlas/minimal', `${ratio.size.toFixed(2)}x`, ...metrics.map(m => `${ratio[m].toFixed(2)}x`)]
  ]
  const widths = rows[0].map((_, i) => Math.max(...rows.map(r => r[i].length)))
  const line = r => r.map((cell, i) => (i === 0 ? cell.padEnd(widths[i]) : cell.padStart(widths[i]))).join('  ')
  console.log('')
  console.log(`node ${node}`)
  console.log(line(rows[0]))
  console.log(widths.map(w => '-'.repeat(w)).join('  '))
  for (const r of rows.slice(1)) console.log(line(r))
}
