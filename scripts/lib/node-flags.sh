#!/bin/sh
# The Lambda function's exec wrapper (AWS_LAMBDA_EXEC_WRAPPER in template.yaml; the build copies it beside the
# bundle as node-flags.sh). Lambda's Node.js runtime starts node with V8 memory flags of its own, among them
# --max-semi-space-size at about 5 % of the function's memory (51 MiB at 1024 MB), and flags on the command line
# win over NODE_OPTIONS. A young generation that large lets a sync's short-lived garbage (SDK requests, file
# pieces) pile up to hundreds of MiB before V8 collects it. This runs the runtime's own command with the young
# generation pinned at 2 x 4 MiB instead, added when the command has no such flag. It also leaves out the runtime's
# --expose-gc: V8 started with it rejects the code cache Node ships for its built-in modules, so every built-in a cold
# start loads is compiled anew (15–20 ms of this function's on Node 24). Nothing in the runtime's published
# source or the app calls gc(); for code that does, the bundle puts it back on demand (src/core/gc-on-demand.ts).
# scripts/lib/bench-node.mjs starts the benchmarks' processes through it, as the runtime would;
# test/node-flags.test.ts checks what it runs.
semi="--max-semi-space-size=4"
node="$1"
shift
for arg do
  shift
  case "$arg" in
    --max-semi-space-size=* | --expose-gc) ;;
    *) set -- "$@" "$arg" ;;
  esac
done
exec "$node" "$semi" "$@"
