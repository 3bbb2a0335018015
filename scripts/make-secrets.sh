#!/usr/bin/env bash
# Prints the app's Secrets (k8s/secrets.md) as YAML, with freshly generated values:
#   scripts/make-secrets.sh | kubectl apply -f -
# DB_URL overrides the database URL (a managed PostgreSQL), KV_URL the read model's Redis URL
# (a managed Redis); NAMESPACE the namespace.
set -euo pipefail
cd "$(dirname "$0")/.."
namespace=${NAMESPACE:-automatizacion}

random() { python3 -c 'import secrets; print(secrets.token_hex(24))'; }
hmac_key=$(cargo run --quiet -p token -- keygen)
db_password=$(random)
db_url=${DB_URL:-postgres://ledger:$db_password@automatizacion-db.$namespace.svc.cluster.local:5432/ledger}
kv_password=$(random)
kv_url=${KV_URL:-redis://:$kv_password@automatizacion-kv.$namespace.svc.cluster.local:6379}
backend_token=$(SPIN_VARIABLE_AUTH_HMAC_KEY=$hmac_key cargo run --quiet -p token -- --sub console --role viewer --ttl 365d)

kubectl create secret generic automatizacion-secrets --namespace "$namespace" --dry-run=client -o yaml \
  --from-literal=auth_hmac_key="$hmac_key" --from-literal=db_url="$db_url" --from-literal=kv_url="$kv_url" \
  --from-literal=backend_token="$backend_token"
echo "---"
kubectl create secret generic automatizacion-db-credentials --namespace "$namespace" --dry-run=client -o yaml \
  --from-literal=POSTGRES_USER=ledger --from-literal=POSTGRES_PASSWORD="$db_password" --from-literal=POSTGRES_DB=ledger \
  --from-literal=REDIS_PASSWORD="$kv_password"
