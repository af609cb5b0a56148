#!/usr/bin/env bash
# Compare `palisade audit` with Spectral's OWASP API Security ruleset on the
# same OpenAPI documents. Not part of CI: it installs Spectral from npm into
# a temporary directory (needs node, npm, python3 and Go).
#
# usage: scripts/compare-spectral.sh [SPEC...]
#   default specs: ../shared/eval-data/openapi/apis-guru-dev/specs/* plus
#   the crAPI and VAmPI specs.
# env:   PALISADE=/path/to/palisade  use this binary instead of building one
#        WORK=/some/dir              keep outputs there (default: a temp dir)
#        SPECTRAL_DIR=/some/dir      reuse an existing Spectral install
#        REUSE_SPECTRAL=1            keep Spectral outputs already in $WORK (rerun Palisade only)
set -euo pipefail

repo=$(cd "$(dirname "$0")/.." && pwd)
work=${WORK:-$(mktemp -d)}
mkdir -p "$work/spectral-out"
echo "outputs in $work" >&2

if [ "$#" -eq 0 ]; then
  eval_dir=${PALISADE_EVAL_DATA:-$repo/../shared/eval-data}
  set -- "$eval_dir"/openapi/apis-guru-dev/specs/* \
         "$eval_dir"/openapi/crapi/crapi-openapi-spec.json \
         "$eval_dir"/openapi/vampi/openapi3.yml
fi

# 1. Spectral CLI + OWASP ruleset, pinned.
sp=${SPECTRAL_DIR:-$work/spectral}
if [ ! -x "$sp/node_modules/.bin/spectral" ]; then
  mkdir -p "$sp"
  (cd "$sp" && npm init -y >/dev/null &&
   npm install --no-audit --no-fund @stoplight/spectral-cli@6.16.3 @stoplight/spectral-owasp-ruleset@2.0.1 >/dev/null)
fi
printf 'extends: ["@stoplight/spectral-owasp-ruleset"]\n' > "$sp/.spectral-owasp.yaml"

# 2. Palisade.
pal=${PALISADE:-}
if [ -z "$pal" ]; then
  pal="$work/palisade"
  (cd "$repo" && go build -o "$pal" ./cmd/palisade)
fi

# 3. Run both tools, timing each.
nspecs=$#
start=$(date +%s.%N)
"$pal" audit --format json --out "$work/palisade.json" "$@" || [ $? -eq 1 ]
mid=$(date +%s.%N)
i=0
[ "${REUSE_SPECTRAL:-}" = 1 ] && [ -n "$(ls "$work/spectral-out" 2>/dev/null)" ] && set -- # skip the Spectral loop
for f in "$@"; do
  i=$((i+1))
  "$sp/node_modules/.bin/spectral" lint -q -r "$sp/.spectral-owasp.yaml" -f json \
     -o "$work/spectral-out/$i.json" --fail-severity error "$f" >/dev/null 2>&1 || true
  [ -s "$work/spectral-out/$i.json" ] || echo '[]' > "$work/spectral-out/$i.json"
done
end=$(date +%s.%N)

# 4. Summarise.
python3 - "$work" "$nspecs" "$start" "$mid" "$end" <<'PY'
import json, glob, sys, collections, os
work, nspecs, t0, t1, t2 = sys.argv[1], int(sys.argv[2]), *map(float, sys.argv[3:])
pal = json.load(open(os.path.join(work, "palisade.json")))
sp = []
for f in glob.glob(os.path.join(work, "spectral-out", "*.json")):
    try:
        sp += json.load(open(f))
    except Exception as e:
        print("unreadable spectral output", f, e)
print(f"specs: {nspecs}   palisade: {t1-t0:.1f}s ({nspecs/(t1-t0):.1f} specs/s, one process for all)")
if t2 - t1 > 1:
    print(f"spectral (one process per spec): {t2-t1:.1f}s ({nspecs/(t2-t1):.2f} specs/s)")
pc = collections.Counter(f["rule"] for f in pal)
sc = collections.Counter(x["code"] for x in sp)
print(f"\nfindings: palisade {len(pal)}   spectral {len(sp)}")
print("\npalisade per rule:")
for k, v in sorted(pc.items()): print(f"  {k:10s} {v:6d}")
print("\nspectral per rule:")
for k, v in sorted(sc.items()): print(f"  {k:55s} {v:6d}")
# Equivalent checks: compare the sets of specs each tool flags.
pairs = [
  ("string length",        ["PAL-S030"], ["owasp:api4:2023-string-limit"]),
  ("array length",         ["PAL-S031"], ["owasp:api4:2023-array-limit"]),
  ("integer bounds",       ["PAL-S032"], ["owasp:api4:2023-integer-limit", "owasp:api4:2023-integer-limit-legacy"]),
  ("integer format",       ["PAL-S033"], ["owasp:api4:2023-integer-format"]),
  ("429 responses",        ["PAL-S061"], ["owasp:api4:2023-rate-limit-responses-429"]),
  ("401 responses",        ["PAL-S060"], ["owasp:api8:2023-define-error-responses-401"]),
  ("http basic",           ["PAL-S012"], ["owasp:api2:2023-no-http-basic"]),
  ("api key in url",       ["PAL-S010"], ["owasp:api2:2023-no-api-keys-in-url"]),
  ("credentials in url",   ["PAL-S043"], ["owasp:api2:2023-no-credentials-in-url"]),
  ("plain http server",    ["PAL-S020"], ["owasp:api8:2023-no-server-http"]),
  ("unauthenticated write",["PAL-S003"], ["owasp:api2:2023-write-restricted"]),
  ("numeric ids",          ["PAL-S050"], ["owasp:api1:2023-no-numeric-ids"]),
  ("open request objects", ["PAL-S034"], ["owasp:api3:2023-no-additionalProperties", "owasp:api3:2023-constrained-additionalProperties"]),
  ("bearer/JWT format",    ["PAL-S015"], ["owasp:api2:2023-jwt-best-practices"]),
  ("URL input (SSRF)",     ["PAL-S055"], ["owasp:api7:2023-concerning-url-parameter"]),
  ("admin shares security",["PAL-S007"], ["owasp:api5:2023-admin-security-unique"]),
]
def specs_of(items, key, vals, filekey):
    return {os.path.basename(x[filekey]) for x in items if x[key] in vals}
print("\nequivalent checks: specs flagged (both / palisade only / spectral only), findings P vs S")
for name, pr, sr in pairs:
    P = {os.path.basename(f["location"]["file"]) for f in pal if f["rule"] in pr}
    S = {os.path.basename(x["source"]) for x in sp if x["code"] in sr}
    np_ = sum(pc[r] for r in pr); ns = sum(sc[r] for r in sr)
    print(f"  {name:22s} both {len(P&S):4d}  P-only {len(P-S):4d}  S-only {len(S-P):4d}   findings {np_:6d} vs {ns:6d}")
    if P - S: print(f"      P-only e.g. {sorted(P-S)[:4]}")
    if S - P: print(f"      S-only e.g. {sorted(S-P)[:4]}")
PY
