#!/usr/bin/env bash
# Regenerates src/imports/ from the upstream CRDs in the shared reference folder (never copied
# into this repository). `cdk8s import` writes one file per API group and overwrites it on each
# run, so each group's CRDs are concatenated into one multi-document YAML first.
set -euo pipefail
crds="${SHARED_DIR:-../shared}/crds"
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

import_group() {
  local group=$1; shift
  local out="$tmp/$group.yaml"
  : > "$out"
  local first=1
  for name in "$@"; do
    [ $first = 1 ] || echo '---' >> "$out"
    first=0
    cat "$crds/${group}_${name}.yaml" >> "$out"
  done
  cdk8s import --no-check-upgrade --language typescript --output src/imports "$out"
}

import_group monitoring.coreos.com servicemonitors podmonitors prometheusrules
import_group velero.io schedules backups
import_group policies.kyverno.io namespacedvalidatingpolicies
import_group gateway.networking.k8s.io httproutes
import_group keda.sh scaledobjects triggerauthentications
import_group external-secrets.io externalsecrets
