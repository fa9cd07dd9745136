# Sourced by .ci/platform-test: how this Linux x64 machine runs another platform's Node. Each runner takes a
# script path and its arguments; the paths it is given are Linux paths (wine's are converted).
#   x64     the official Node builds of the other `engines` lines, natively
#   arm64   the official arm64 Node under qemu-user, with the arm64 glibc of Debian's cross packages
#   win     the official node.exe under wine, in a prefix of our own set to Windows 10

ARM64_SYSROOT=/usr/aarch64-linux-gnu
WINE=/usr/lib/wine/wine64

# The command line that runs arm64 Node, as a JSON array (the smoke test starts `wiretun proxy` with it:
# binfmt_misc is not mounted, so an emulated process cannot exec another by itself).
arm64_node_json() { printf '["qemu-aarch64","-L","%s","%s/node"]' "$ARM64_SYSROOT" "$NODE_ARM64"; }
on_arm64() { qemu-aarch64 -L "$ARM64_SYSROOT" "$NODE_ARM64/node" "$@"; }

# Wine: its own prefix in the toolchain cache (made once, set to Windows 10), quiet, and the ProcessPrng shim
# (test/platforms/wine/bcryptprimitives.c says why).
wine_setup() {
  export WINEPREFIX=$TOOLCHAINS/wine WINEDEBUG=-all
  if [[ ! -f $WINEPREFIX/.win10 ]]; then
    "$WINE" wineboot --init >/dev/null 2>&1 || true
    "$WINE" winecfg -v win10 >/dev/null 2>&1
    /usr/lib/wine/wineserver -w
    : >"$WINEPREFIX/.win10"
  fi
  # In system32, where real Windows has it: Node loads addons with LOAD_WITH_ALTERED_SEARCH_PATH, so their
  # imports are not looked for beside node.exe.
  local shim=$WINEPREFIX/drive_c/windows/system32/bcryptprimitives.dll src=test/platforms/wine/bcryptprimitives.c
  if [[ ! -f $shim || $shim -ot $src ]]; then
    x86_64-w64-mingw32-gcc -O2 -shared -o "$shim" "$src" -ladvapi32
  fi
}
# Wine maps drive Z: to the root of the Linux file system.
winpath() { local p=${1//\//\\}; echo "Z:$p"; }
# node.exe under wine cannot write to a pipe (EBADF): its output goes through a file, printed afterwards.
on_win() {
  local out rc=0 args=() a
  out=$(mktemp /tmp/wiretun-wine.XXXXXX)
  for a in "$@"; do
    if [[ $a == /* ]]; then args+=("$(winpath "$a")"); else args+=("$a"); fi
  done
  "$WINE" "$NODE_WIN/node.exe" "${args[@]}" >"$out" 2>&1 || rc=$?
  tr -d '\r' <"$out"
  rm -f "$out"
  return $rc
}
