#!/bin/bash
# The digest kernel's PTX is committed (shim/hash/digest_kernel.ptx: the build embeds it and needs
# no nvcc); it must be what shim/hash/digest_ptx.sh makes of the current shim/hash/digest_kernel.cu and
# shim/hash/digest.h. Without nvcc the source hash it records is checked, then the test is skipped
# (77); with nvcc (the release that generated it) it is regenerated and must be identical.
. "$(dirname "$0")/lib_hash.sh"
P="$SHIM_SRC/digest_kernel.ptx"
SRC_SHA=$(cat "$SHIM_SRC/digest_kernel.cu" "$SHIM_SRC/digest.h" | sha256sum | cut -d' ' -f1)
check "the committed PTX records the hash of the current sources (else: run shim/hash/digest_ptx.sh)" \
    [ "$(sed -n 's|^// sources-sha256: ||p' "$P")" = "$SRC_SHA" ]
check "the library embeds it" grep -qaF '.visible .entry detshim_digest(' "$SHIM"
skip() { echo "$PASS passed, $FAIL failed; regeneration not checked: $*"; [ "$FAIL" -eq 0 ] || finish; rm -rf "$T"; exit 77; }
[ -n "${NVCC:-}" ] && [ -x "$NVCC" ] || skip "no nvcc"
made_with=$(sed -n 's|^// nvcc: ||p' "$P")
have=$("$NVCC" --version | grep -m1 release)
[ "$made_with" = "$have" ] || skip "nvcc here is '$have', the PTX was made with '$made_with'"
NVCC="$NVCC" "$SHIM_SRC/digest_ptx.sh" "$T/regen.ptx" 2> regen.err
check "regenerated with nvcc: identical to the committed file (else: run shim/hash/digest_ptx.sh)" cmp "$P" "$T/regen.ptx"
check "the regeneration said nothing (ptxas accepts the lowered .version)" [ ! -s regen.err ]
finish
