#!/usr/bin/env bash
# Longer fuzzing of every parser that reads client bytes (CI step "long
# fuzz", docs/security.md). Each target runs for FUZZ_LONG (default 30s);
# the whole step stays within about 8 minutes.
#
#   scripts/fuzz-long.sh            # run every target
#   KEEP=1 scripts/fuzz-long.sh     # also keep new corpus entries in testdata/fuzz
#   FUZZ_SKIP="./internal/server" scripts/fuzz-long.sh   # skip the targets of these packages (CI: see .ci/run)
#   FUZZ_DEADLINE=$(( $(date +%s) + 300 )) scripts/fuzz-long.sh  # start no target after that time (CI: see .ci/run)
#
# Go reads testdata/fuzz/FuzzX as the seed corpus of FuzzX; what a run finds
# is written to the fuzz cache ($(go env GOCACHE)/fuzz). With KEEP=1 the
# small new entries (≤ 8 KiB, at most 64 per target) are copied into the
# package's testdata/fuzz so that the next run (and CI) starts from them.
set -euo pipefail
cd "$(dirname "$0")/.."
fuzztime="${FUZZ_LONG:-30s}"
targets=(
  "./internal/jsonscan FuzzTokenizerMatchesJSONText" # the one JSON tokenizer against jsontext
  "./internal/exchange FuzzDecodeNDJSON"        # exchange NDJSON
  "./internal/exchange FuzzFastDecodeAgrees"    # its fast path against the reference
  "./internal/exchange FuzzDecodeHAR"           # HAR
  "./internal/exchange FuzzDecodeLimits"        # the server's bounded decoder (gzip, NDJSON, streamed HAR)
  "./internal/enrich FuzzContentDecode"         # recorded bodies' content codings (gzip, deflate, br, zstd)
  "./internal/enrich FuzzBodyLayers"            # chunked framing, codings and charsets of recorded bodies
  "./internal/detect FuzzRequestBody"           # request bodies: JSON, forms, multipart, XML, protobuf/gRPC, binary
  "./internal/detect FuzzGraphQLLiterals"       # GraphQL documents: their literals
  "./internal/graphql FuzzRequest"              # GraphQL requests: what they ask for (enrichment)
  "./internal/detect FuzzODataLiterals"         # OData query expressions
  "./internal/source FuzzSpansToRecords"        # OTLP protobuf
  "./internal/source FuzzOTLPJSON"              # OTLP JSON
  "./internal/source FuzzNGINXLine"             # NGINX access logs
  "./internal/source FuzzEnvoyLine"             # Envoy access logs
  "./internal/inventory FuzzParseSpec"          # OpenAPI / Swagger specs
  "./internal/posture/specaudit FuzzParseAndAudit"
  "./internal/intel FuzzParse"                  # intel feeds
  "./internal/intel FuzzParseSpec"              # intel feed arguments (mmdb)
  "./internal/server/query FuzzCheck"           # API query strings
  "./internal/store FuzzDecodeCursor"           # API cursors
  "./internal/server FuzzLoadConfig"            # PUT /api/v1/config documents
)
cache="$(go env GOCACHE)/fuzz/github.com/palisade-sec/palisade"
skip=" ${FUZZ_SKIP:-} "
ran=0
for t in "${targets[@]}"; do
  set -- $t
  pkg=$1 fn=$2
  if [[ "$skip" == *" $pkg "* ]]; then
    echo "-- $pkg $fn: skipped (FUZZ_SKIP)"
    continue
  fi
  if [ -n "${FUZZ_DEADLINE:-}" ] && [ "$(date +%s)" -ge "$FUZZ_DEADLINE" ]; then
    echo "-- $pkg $fn: not started (past FUZZ_DEADLINE, seconds since the epoch)"
    continue
  fi
  ran=$((ran + 1))
  echo "-- $pkg $fn ($fuzztime)"
  if ! out=$(go test "$pkg" -run '^$' -fuzz "^${fn}\$" -fuzztime "$fuzztime" -fuzzminimizetime 5s 2>&1); then
    echo "$out"
    if grep -q "Failing input\|hung or terminated\|panic:" <<<"$out" || ! grep -q "context deadline exceeded" <<<"$out"; then
      exit 1
    fi
    echo "(deadline reached while a fuzz worker was busy: no finding)"
  else
    echo "$out" | grep -E "^fuzz: elapsed" | tail -n 1
  fi
  if [ -n "${KEEP:-}" ] && [ -d "$cache/${pkg#./}/$fn" ]; then
    dst="${pkg#./}/testdata/fuzz/$fn"
    mkdir -p "$dst"
    n=$(ls "$dst" | wc -l)
    for f in $(find "$cache/${pkg#./}/$fn" -type f -size -8k | sort); do
      [ "$n" -ge 64 ] && break
      if [ ! -e "$dst/$(basename "$f")" ]; then cp "$f" "$dst/"; n=$((n + 1)); fi
    done
  fi
done
echo "long fuzz: $ran of ${#targets[@]} targets × $fuzztime, no finding"
