#!/usr/bin/env bash
# fuzz/run.sh SECONDS [TARGET...]: runs each fuzz target for SECONDS, one after another, and exits non-zero
# if any of them crashed (or failed to build). Targets: inbound, gro, uapi, uapi-server, socks5, http-proxy, sni, tcp-input (Rust, cargo-fuzz on
# nightly) and uapi-client, config (TypeScript, fuzz/ts). No target named: all of them. Corpora grow in
# fuzz/corpus/, crashes land in fuzz/artifacts/<target>/.
set -uo pipefail
cd "$(dirname "$0")"

RUST_TARGETS=(inbound gro uapi uapi-server socks5 http-proxy sni tcp-input)
TS_TARGETS=(uapi-client config)

usage() {
  echo "usage: fuzz/run.sh SECONDS [${RUST_TARGETS[*]} ${TS_TARGETS[*]}]" >&2
  exit 2
}
[[ ${1:-} =~ ^[0-9]+$ ]] || usage
seconds=$1
shift
targets=("$@")
[[ ${#targets[@]} -gt 0 ]] || targets=("${RUST_TARGETS[@]}" "${TS_TARGETS[@]}")

is_one_of() {
  local x=$1
  shift
  for t in "$@"; do [[ $t == "$x" ]] && return 0; done
  return 1
}

# Without compare tracing: the inbound target spends most of its time in X25519, where tracing every
# comparison made it five times slower and guided nothing (the scripts are structured, not magic-valued).
run_rust() {
  local target=$1
  mkdir -p "corpus/$target" "artifacts/$target"
  # The UAPI targets share their seeds (requests as wg sends them) with the TypeScript client's.
  cargo +nightly fuzz run --no-trace-compares "$target" "corpus/$target" "seeds/${target%-server}" -- \
    -max_total_time="$seconds" -max_len=4096 -len_control=10 -timeout=20 -rss_limit_mb=2048 -print_final_stats=1
}

ts_bundle=
build_ts() {
  [[ -n $ts_bundle ]] && return 0
  # Type-check, then bundle the runner with the parsers it fuzzes (fast-check stays in node_modules).
  npx tsc -p ts/tsconfig.json || return 1
  # Written under a private name and renamed, so a run started alongside never loads half a bundle.
  npx esbuild ts/main.ts --bundle --platform=node --target=node20 --external:fast-check \
    --outfile="target/ts/fuzz.$$.js" --log-level=warning || return 1
  mv -f "target/ts/fuzz.$$.js" target/ts/fuzz.js && ts_bundle=target/ts/fuzz.js
}

run_ts() {
  local target=$1
  build_ts || return 1
  local seeds=(--seeds "seeds/${target%-client}")
  [[ $target == config ]] && seeds+=(--seeds ../test/fixtures/configs/valid --seeds ../test/fixtures/configs/invalid)
  mkdir -p "corpus/$target" "artifacts/$target"
  # The runner stops itself after SECONDS; the outer timeout only catches a runner that cannot.
  timeout --signal=KILL $((seconds + 120)) \
    node "$ts_bundle" "$target" "$seconds" --corpus "corpus/$target" --artifacts "artifacts/$target" "${seeds[@]}"
}

failed=()
for target in "${targets[@]}"; do
  echo "=== fuzz/run.sh: $target for ${seconds}s ==="
  if is_one_of "$target" "${RUST_TARGETS[@]}"; then
    run_rust "$target" || failed+=("$target")
  elif is_one_of "$target" "${TS_TARGETS[@]}"; then
    run_ts "$target" || failed+=("$target")
  else
    echo "unknown target $target" >&2
    usage
  fi
done

if [[ ${#failed[@]} -gt 0 ]]; then
  echo "=== fuzz/run.sh: FAILED: ${failed[*]} (inputs in fuzz/artifacts/) ===" >&2
  exit 1
fi
echo "=== fuzz/run.sh: no crashes in ${targets[*]} ==="
