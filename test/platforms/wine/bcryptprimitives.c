/* For tests under wine only: wine 8 has no bcryptprimitives.dll, where Rust's standard library gets its
 * randomness on Windows 10 and later (ProcessPrng). Real Windows ships it. This one answers from
 * RtlGenRandom (advapi32's SystemFunction036), which wine has. Built by .ci/platform-test with mingw-w64 into
 * the wine prefix's system32. */
#include <windows.h>

BOOLEAN WINAPI SystemFunction036(PVOID buffer, ULONG length);

__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  while (length > 0) {
    ULONG chunk = length > 0x10000000 ? 0x10000000 : (ULONG)length;
    if (!SystemFunction036(data, chunk)) return FALSE;
    data += chunk;
    length -= chunk;
  }
  return TRUE;
}
