/**
 * What the benchmarks that start Node processes share: a Node binary of a
 * given major, and the command line Lambda's runtime starts the function with.
 */
import { spawnSync } from 'node:child_process'
import { readFile } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'
import { parseDocument } from 'yaml'

const root = join(dirname(fileURLToPath(import.meta.url)), '../..')

/**
 * A Node binary of that major: this process's own when it is that major, else
 * the npm package `node@<major>` (`npx -y -p node@24`), a real Node binary.
 *
 * @param {number} major
 * @returns {string}
 */
export function nodeBinary(major) {
  if (Number.parseInt(process.versions.node, 10) === major) return process.execPath
  const found = spawnSync('npx', ['-y', '-p', `node@${major}`, '-c', 'command -v node'], { encoding: 'utf8' })
  const path = found.stdout?.trim().split('\n').pop()
  if (found.status !== 0 || !path) throw new Error(`no Node ${major} from npx -p node@${major}:\n${found.stderr}`)
  return path
}

/** The function's exec wrapper (AWS_LAMBDA_EXEC_WRAPPER in template.yaml), as the build ships it. */
export const NODE_FLAGS_WRAPPER = join(root, 'scripts/lib/node-flags.sh')

/**
 * The command line Lambda's Node.js runtime starts the function with, for the
 * template's MemorySize: its bootstrap passes --expose-gc and V8's memory
 * limits, a tenth of the memory for the young generation (two semi-spaces)
 * and the rest for the old, and runs it through the function's exec wrapper.
 * Returns [file, ...args] to which the script's own arguments are appended.
 *
 * @param {string} node
 * @param {{ wrapper?: boolean }} [options] without the exec wrapper: how the runtime starts a function that sets none
 * @returns {Promise<[string, ...string[]]>}
 */
export async function lambdaNodeCommand(node, { wrapper: useWrapper = true } = {}) {
  const template = parseDocument(await readFile(join(root, 'template.yaml'), 'utf8'), { logLevel: 'error' })
  const memory = Number(template.getIn(['Parameters', 'MemorySize', 'Default']))
  const newSpace = Math.floor(memory / 10)
  const runtime = [
    node,
    '--expose-gc',
    `--max-semi-space-size=${Math.floor(newSpace / 2)}`,
    `--max-old-space-size=${memory - newSpace}`
  ]
  const wrapper = template.getIn([
    'Resources',
    'ApiFunction',
    'Properties',
    'Environment',
    'Variables',
    'AWS_LAMBDA_EXEC_WRAPPER'
  ])
  return wrapper === undefined || !useWrapper ? runtime : [NODE_FLAGS_WRAPPER, ...runtime]
}

/**
 * A command line as the benchmarks print it, each path cut to its last part.
 *
 * @param {string[]} command
 * @returns {string}
 */
export function commandLine(command) {
  return command.map(arg => arg.split('/').pop()).join(' ')
}
