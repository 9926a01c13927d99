#!/bin/sh
# The Lambda function's exec wrapper (AWS_LAMBDA_EXEC_WRAPPER in template.yaml; the build copies it beside the
# bundle as node-flags.sh). Lambda's Node.js runtime starts node with V8 memory flags of its own, among them
# --max-semi-space-size at about 5 % of the function's memory (51 MiB at 1024 MB), and flags on the command line
# win over NODE_OPTIONS. A young generation that large lets a sync's short-lived garbage (SDK requests, file
# pieces) pile up to hundreds of MiB before V8 collects it. This runs the runtime's own command with the young
# generation pinned at 2 x 4 MiB instead, added when the command has no such flag. scripts/lib/bench-node.mjs
# starts the benchmarks' processes through it, as the runtime would; test/node-flags.test.ts checks what it runs.
semi="--max-semi-space-size=4"
node="$1"
shift
for arg do
  shift
  case "$arg" in
    --max-semi-space-size=*) ;;
    *) set -- "$@" "$arg" ;;
  esac
done
exec "$node" "$semi" "$@"
