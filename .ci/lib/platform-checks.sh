# Sourced by .ci/platform-test: the install and the checks of each platform. Uses its tmp, main_tgz, bare,
# record and failed, and the runners of runners.sh.

# The unit suites that run in-process (no child `node`, which an emulated Node cannot exec): the rootless
# tunnels over loopback and the pure ones.
UNIT_IN_PROCESS=(netstack-loopback native-loader config-ip config-strip props-config props-uapi proxy-config uapi-codec
  uapi-get-boringtun options peer-allocate peer-config routing-plan tun-decode cli-show-format)

# npm pack of npm/<platform> and `npm publish --dry-run` of it, then `npm install` of wiretun into an empty
# project for that platform; prints the project's folder.
install_platform() {
  local platform=$1 dir=$tmp/$1 os cpu libc flags plat_tgz
  mkdir -p "$dir/pkg" "$dir/app"
  cp -r "npm/$platform/." "$dir/pkg/"
  (cd "$dir/pkg" && npm publish --dry-run --ignore-scripts >"$dir/publish.log" 2>&1) || { cat "$dir/publish.log" >&2; return 1; }
  (cd "$dir/pkg" && npm pack --silent --pack-destination "$dir" >/dev/null)
  plat_tgz=$(ls "$dir"/wiretun-"$platform"-*.tgz)
  IFS=- read -r os cpu libc <<<"$platform"
  flags=(--os "$os" --cpu "$cpu")
  [[ $os == linux ]] && flags+=(--libc "$([[ $libc == musl ]] && echo musl || echo glibc)")
  # As `npm i wiretun` on that platform: npm picks the optional package for the --os/--cpu/--libc given; the
  # override points it at our tarball, since the registry does not have this version.
  printf '{ "name": "platform-test-app", "version": "1.0.0", "private": true, "overrides": { "wiretun-%s": "file:%s" } }\n' \
    "$platform" "$plat_tgz" >"$dir/app/package.json"
  (cd "$dir/app" && bare npm install --no-audit --no-fund --loglevel=error "${flags[@]}" "$main_tgz" >&2) || return 1
  local installed=$dir/app/node_modules/wiretun-$platform
  [[ -f $installed/wiretun.$platform.node ]] || { echo "$platform: the platform package did not install" >&2; return 1; }
  if [[ $os == win32 && ! -f $installed/wintun.dll ]]; then echo "$platform: no wintun.dll in the package" >&2; return 1; fi
  if compgen -G "$dir/app/node_modules/wiretun/native/*.node" >/dev/null; then echo "a .node inside wiretun itself" >&2; return 1; fi
  echo "$dir/app"
}

# cli_and_smoke PLATFORM APP LABEL RUNNER...: the installed CLI (--version, genkey | pubkey against wg's) and the
# smoke test, with the runner command (a function or a node path).
cli_and_smoke() {
  local platform=$1 app=$2 label=$3 out key pub
  shift 3
  local cli=$app/node_modules/wiretun/bin/wiretun
  if ! out=$(bare "$@" "$cli" --version 2>&1) || ! grep -q '^native core ' <<<"$out"; then
    failed "$platform" "$label: wiretun --version: $out"
    return
  fi
  key=$(bare "$@" "$cli" genkey 2>&1)
  printf '%s\n' "$key" >"$tmp/key"
  pub=$(bare "$@" "$cli" pubkey <"$tmp/key" 2>&1)
  if [[ $pub != "$(wg pubkey <"$tmp/key" 2>/dev/null)" ]]; then
    failed "$platform" "$label: genkey | pubkey gave '$pub' for '$key', wg pubkey disagrees"
    return
  fi
  if ! out=$("$@" test/platforms/smoke.js "$app" 2>&1) || ! grep -q "loaded .*wiretun-$platform/wiretun.$platform.node" <<<"$out"; then
    echo "$out" | sed 's/^/  /' >&2
    failed "$platform" "$label: smoke test"
    return
  fi
  echo "$out" | sed 's/^/  /'
  record "$platform" "$label: --version, genkey | pubkey = wg's, smoke ($(grep -c '^ok ' <<<"$out") checks)"
}

min_glibc() { objdump -T "$1" | grep -o 'GLIBC_[0-9.]*' | sed 's/GLIBC_//' | sort -uV | tail -1; }
check_glibc() {
  local platform=$1 v
  v=$(min_glibc "npm/$platform/wiretun.$platform.node")
  if [[ $(printf '%s\n2.17\n' "$v" | sort -V | tail -1) != 2.17 ]]; then
    failed "$platform" "needs glibc $v, more than 2.17"
  else
    record "$platform" "minimum glibc $v"
  fi
}

on_node() { "$NODE_RUN/node" "$@"; }
test_linux_x64_gnu() {
  local platform=$1 app=$2 dir
  check_glibc "$platform"
  for dir in "$(dirname "$(command -v node)")" "$NODE_X64_22" "$NODE_X64_24"; do
    NODE_RUN=$dir cli_and_smoke "$platform" "$app" "Node $("$dir/node" --version)" on_node
  done
}

test_linux_arm64_gnu() {
  local platform=$1 app=$2 files=() f
  check_glibc "$platform"
  WIRETUN_SMOKE_NODE=$(arm64_node_json) cli_and_smoke "$platform" "$app" "Node $(on_arm64 --version) (qemu)" on_arm64
  tun_pair "$platform" "$app" "qemu" qemu-aarch64 -L "$ARM64_SYSROOT" "$NODE_ARM64/node"
  # The unit suites with arm64 Node, vitest in worker threads; vite's own native parts: rollup's arm64 addon
  # (npm pack, as the lock holds only this platform's) and esbuild's x64 binary, which it runs as a child.
  rollup_arm64
  for f in "${UNIT_IN_PROCESS[@]}"; do files+=("test/unit/$f.test.ts"); done
  if WIRETUN_NATIVE_PATH=$repo/npm/$platform/wiretun.$platform.node ESBUILD_BINARY_PATH=$repo/node_modules/@esbuild/linux-x64/bin/esbuild \
    on_arm64 node_modules/vitest/vitest.mjs run --pool=threads "${files[@]}" >"$tmp/arm64-unit.log" 2>&1; then
    record "$platform" "unit suites in-process ($(sed 's/\x1b\[[0-9;]*m//g' "$tmp/arm64-unit.log" | grep -E '^ +Tests ' | tr -s ' ' | sed 's/^ //'))"
  else
    tail -40 "$tmp/arm64-unit.log" >&2
    failed "$platform" "unit suites under qemu"
  fi
}

rollup_arm64() {
  local version dir=node_modules/@rollup/rollup-linux-arm64-gnu
  version=$(node -p 'require("rollup/package.json").version')
  [[ -f $dir/package.json && $(node -p "require('./$dir/package.json').version") == "$version" ]] && return
  mkdir -p "$dir"
  (cd "$tmp" && npm pack --silent "@rollup/rollup-linux-arm64-gnu@$version" >/dev/null)
  tar -xzf "$tmp"/rollup-rollup-linux-arm64-gnu-*.tgz -C "$dir" --strip-components=1
}

# musl: no musl Node runs here (docs/install.md says why), so: the addon asks for nothing but musl's libc
# (which Node on Alpine provides), the loader picks the package for a musl host, and the Rust crates' tests,
# built for the musl target as static executables, pass (x64 natively, arm64 under qemu).
test_musl() {
  local platform=$1 app=$2 file=npm/$1/wiretun.$1.node needed triple
  needed=$(readelf -d "$file" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p' | tr '\n' ' ')
  if grep -qvE '^(libc\.so|libc\.musl-[a-z0-9_]+\.so\.1|ld-musl-[a-z0-9_]+\.so\.1)$' < <(tr ' ' '\n' <<<"$needed" | sed '/^$/d'); then
    failed "$platform" "needs more than musl's libc: $needed"
  elif objdump -T "$file" | grep -q GLIBC_; then
    failed "$platform" "asks for glibc symbol versions"
  else
    record "$platform" "needs only ${needed% }"
  fi
  loader_picks "$platform" "$app" "{ platform: 'linux', arch: '${platform#linux-}', libc: 'musl' }"
  triple=$( [[ $platform == linux-x64-musl ]] && echo x86_64-unknown-linux-musl || echo aarch64-unknown-linux-musl)
  rust_tests_for "$platform" "$triple"
}

# loader_picks PLATFORM APP HOST: the installed wiretun's loader, given HOST (a Host literal with arch fixed up),
# resolves the installed platform package (it is not loaded: this machine cannot).
loader_picks() {
  local platform=$1 app=$2 host=$3 got
  host=${host/arch: \'x64-musl\'/arch: \'x64\'}
  host=${host/arch: \'arm64-musl\'/arch: \'arm64\'}
  got=$(cd "$app" && bare node -e "
    const l = require('wiretun/dist/native-loader.js');
    const io = { ...l.defaultIo(require('path').dirname(require.resolve('wiretun/package.json'))), host: $host };
    io.require = (f) => ({ f });
    console.log(l.loadNative(io).file);" 2>&1) || true
  if [[ $got == */node_modules/wiretun-$platform/wiretun.$platform.node ]]; then
    record "$platform" "loader picks it for $host"
  else
    failed "$platform" "loader for $host: $got"
  fi
}

# The workspace's own crates (not the napi binding), their tests built for TRIPLE with zig and run.
RUST_TEST_CRATES=(-p wiretun-core -p wiretun-netstack -p wiretun-proxy -p wiretun-rootless)
rust_tests_for() {
  local platform=$1 triple=$2 log=$tmp/rust-$1.log var runner=() skip=()
  var=$(tr 'a-z-' 'A-Z_' <<<"$triple")
  # Under qemu-user a process's RSS is mostly the emulator's own (its translation cache): the RSS bound
  # means nothing there.
  [[ $triple == aarch64-* ]] && runner=(qemu-aarch64) skip=(--skip idle_connections_cost_pages_not_buffers)
  tc_zig
  tc_rust_targets "$triple"
  if ( ((${#runner[@]})) && export "CARGO_TARGET_${var}_RUNNER=${runner[*]}"; cargo-zigbuild test --target "$triple" "${RUST_TEST_CRATES[@]}" --quiet -- "${skip[@]}") >"$log" 2>&1; then
    record "$platform" "Rust crates' tests for $triple: $(grep -E '^test result' "$log" | awk '{p+=$4; f+=$6} END {print p" passed, "f" failed"}')${skip[*]:+ (RSS bound skipped under qemu)}"
  else
    tail -40 "$log" >&2
    failed "$platform" "Rust crates' tests for $triple"
  fi
}

# darwin: nothing runs macOS here. The Mach-O is a dylib for the right CPU and macOS version; it links only
# libraries every macOS has (no framework: those need an SDK); every symbol it imports is bound to them, except
# N-API's, left to the loading node (flat namespace: napi-build's -undefined dynamic_lookup); and the loader
# picks it on a Mac.
MACOS_DYLIBS='^/usr/lib/(libSystem\.B|libiconv\.2|libcharset\.1)\.dylib$'
test_darwin() {
  local platform=$1 app=$2 file=npm/$1/wiretun.$1.node cpu want minos dylibs binds flat
  want=$([[ $platform == darwin-x64 ]] && echo X86_64 || echo ARM64)
  cpu=$(llvm-objdump --macho --private-header "$file" | awk '$1 == "MH_MAGIC_64" {print $2; exit}')
  minos=$(llvm-objdump --macho --private-headers "$file" | awk '$1 == "minos" {print $2; exit}')
  dylibs=$(llvm-objdump --macho --dylibs-used "$file" | tail -n +2 | awk '{print $1}' | grep -v libwiretun_napi)
  # Rows of the bind tables: segment section address [type addend] dylib symbol.
  binds=$(for t in --bind --lazy-bind --weak-bind; do llvm-objdump --macho $t "$file"; done | awk '$1 ~ /^__/ {print $(NF-1), $NF}')
  flat=$(awk '$1 == "flat-namespace" {print $2}' <<<"$binds")
  if [[ $cpu != "$want" ]]; then
    failed "$platform" "Mach-O for $cpu, not $want"
  elif [[ $minos != "$MACOS_MIN" ]]; then
    failed "$platform" "needs macOS $minos, not $MACOS_MIN"
  elif grep -qvE "$MACOS_DYLIBS" <<<"$dylibs"; then
    failed "$platform" "links more than the system's libraries: $(tr '\n' ' ' <<<"$dylibs")"
  elif awk '{print $1}' <<<"$binds" | grep -qvxE 'libSystem|libiconv|libcharset|flat-namespace'; then
    failed "$platform" "binds symbols from elsewhere: $(awk '{print $1}' <<<"$binds" | sort -u | tr '\n' ' ')"
  elif [[ -z $flat ]] || grep -qvE '^_(napi|node_api)_' <<<"$flat"; then
    failed "$platform" "leaves more than N-API to node: $(grep -vE '^_(napi|node_api)_' <<<"$flat" | head -5 | tr '\n' ' ')"
  else
    record "$platform" "Mach-O $cpu dylib for macOS $minos+, links only $(basename -a $dylibs | tr '\n' ' ')and takes $(wc -l <<<"$flat") N-API symbols from node"
  fi
  loader_picks "$platform" "$app" "{ platform: 'darwin', arch: '${platform#darwin-}' }"
}

# win32 (mingw): the DLL imports only from Windows' own DLLs and node.exe (N-API), never mingw's runtime DLLs
# (libgcc_s, libwinpthread), which a Windows machine does not have; then node.exe under wine runs the CLI and
# the smoke test. TUN mode needs the wintun driver, which wine cannot load.
WINDOWS_DLLS='^(kernel32|ntdll|ws2_32|bcrypt|bcryptprimitives|advapi32|userenv|iphlpapi|msvcrt|setupapi|shell32|ole32|oleaut32|api-ms-win-[a-z0-9-]+)\.dll$'
test_win32_gnu() {
  local platform=$1 app=$2 file=npm/$1/wiretun.$1.node dlls
  dlls=$(x86_64-w64-mingw32-objdump -p "$file" | sed -n 's/.*DLL Name: //p' | tr 'A-Z' 'a-z' | sort -u)
  if ! grep -qx node.exe <<<"$dlls"; then
    failed "$platform" "does not import N-API from node.exe: $(tr '\n' ' ' <<<"$dlls")"
  elif grep -v -x node.exe <<<"$dlls" | grep -qvE "$WINDOWS_DLLS"; then
    failed "$platform" "imports DLLs Windows lacks: $(grep -v -x node.exe <<<"$dlls" | grep -vE "$WINDOWS_DLLS" | tr '\n' ' ')"
  else
    record "$platform" "imports only $(tr '\n' ' ' <<<"$dlls" | sed 's/ $//')"
  fi
  wine_setup
  cli_and_smoke "$platform" "$app" "node.exe $(on_win --version) (wine)" on_win
}

# tun_pair PLATFORM APP LABEL RUNNER...: a TUN tunnel between two namespaces made here, one side this machine's
# own Node with the suite's binary, the other the platform's Node (RUNNER) with its installed package; the
# platform's side pings the other through the tunnel. Root only.
tun_pair() {
  local platform=$1 app=$2 label=$3 ns_a=wtpt-a-$$ ns_b=wtpt-b-$$ ka kb out host_pid
  shift 3
  if [[ $(id -u) != 0 ]]; then record "$platform" "$label: TUN skipped (needs root)"; return; fi
  ip netns add "$ns_a" && ip netns add "$ns_b"
  ip link add wtpt-va netns "$ns_a" type veth peer wtpt-vb netns "$ns_b"
  ip -n "$ns_a" addr add 10.231.0.1/24 dev wtpt-va && ip -n "$ns_b" addr add 10.231.0.2/24 dev wtpt-vb
  for ns in "$ns_a" "$ns_b"; do ip -n "$ns" link set lo up; done
  ip -n "$ns_a" link set wtpt-va up && ip -n "$ns_b" link set wtpt-vb up
  ka=$(wg genkey) kb=$(wg genkey)
  mkdir -p "$tmp/host-app/node_modules" && ln -sfn "$repo" "$tmp/host-app/node_modules/wiretun"
  ip netns exec "$ns_b" node test/platforms/tun-side.js "$tmp/host-app" wtpt-b "$kb" 51820 10.232.0.2 \
    "$(wg pubkey <<<"$ka")" 10.231.0.1:51820 10.232.0.1 >"$tmp/tun-host.log" 2>&1 &
  host_pid=$!
  for _ in $(seq 300); do grep -q '^up$' "$tmp/tun-host.log" 2>/dev/null && break; sleep 0.1; done
  out=$(ip netns exec "$ns_a" "$@" test/platforms/tun-side.js "$app" wtpt-a "$ka" 51820 10.232.0.1 \
    "$(wg pubkey <<<"$kb")" 10.231.0.2:51820 10.232.0.2 ping 2>&1) || true
  kill "$host_pid" 2>/dev/null || true
  wait "$host_pid" 2>/dev/null || true
  ip netns del "$ns_a"; ip netns del "$ns_b"
  if grep -q '^ok ping' <<<"$out"; then
    record "$platform" "$label: TUN tunnel between namespaces, $(sed -n 's/^ok //p' <<<"$out")"
  else
    cat "$tmp/tun-host.log" >&2
    failed "$platform" "$label: TUN tunnel: $out"
  fi
}
