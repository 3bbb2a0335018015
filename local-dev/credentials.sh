# shellcheck shell=bash
# Sourced by control-plane.sh (and nodes.sh, for the addresses): the control plane's ports,
# Service ranges, certificates and kubeconfigs, made once per state directory ($STATE), so that
# a second `up` finds what the first one made.

# Every port this control plane listens on, chosen once per state directory.
allocate_ports() {
  [[ -f $STATE/ports.env ]] && return
  local -a p
  read -r -a p <<<"$(free_ports 12)"
  [[ ${CONTROL_PLANE_SLOT:-0} =~ ^[0-3]$ ]] || die "CONTROL_PLANE_SLOT is 0, 1, 2 or 3, not ${CONTROL_PLANE_SLOT}"
  cat >"$STATE/ports.env" <<EOF
SLOT=${CONTROL_PLANE_SLOT:-0}
ETCD_CLIENT_PORT=${p[0]}
ETCD_PEER_PORT=${p[1]}
KARMADA_APISERVER_PORT=${p[2]}
STAGING_APISERVER_PORT=${p[3]}
PROD_EAST_APISERVER_PORT=${p[4]}
PROD_WEST_APISERVER_PORT=${p[5]}
AGGREGATED_APISERVER_PORT=${p[6]}
WEBHOOK_PORT=${p[7]}
WEBHOOK_HEALTH_PORT=${p[8]}
CONTROLLER_MANAGER_HEALTH_PORT=${p[9]}
SCHEDULER_HEALTH_PORT=${p[10]}
SCHEDULER_METRICS_PORT=${p[11]}
EOF
}

apiserver_port() {
  case $1 in
    karmada) echo "$KARMADA_APISERVER_PORT" ;;
    staging) echo "$STAGING_APISERVER_PORT" ;;
    prod-east) echo "$PROD_EAST_APISERVER_PORT" ;;
    prod-west) echo "$PROD_WEST_APISERVER_PORT" ;;
  esac
}

# Each cluster's Service addresses: apart, so that the host can route each member's range to
# that member's node (local-dev/nodes.sh), and apart per slot (CONTROL_PLANE_SLOT), so that
# control planes that run at once can each have nodes: slot 0's are 10.91-93, slot 1's 10.81-83.
service_range() {
  local base=$((91 - 10 * ${SLOT:-0}))
  case $1 in
    staging) echo "10.$base.0.0/16" ;;
    prod-east) echo "10.$((base + 1)).0.0/16" ;;
    prod-west) echo "10.$((base + 2)).0.0/16" ;;
    *) echo 10.96.0.0/16 ;;
  esac
}

# One CA signs serving and client certificates; a second is the front proxy's (aggregation).
make_pki() {
  local pki=$STATE/pki
  [[ -f $pki/admin.crt ]] && return
  mkdir -p "$pki"
  say "generating certificates"
  (
    cd "$pki" || exit
    ca() {
      openssl req -x509 -newkey rsa:2048 -nodes -days 30 -subj "/CN=$2" \
        -keyout "$1.key" -out "$1.crt" 2>/dev/null
    }
    # sign NAME CA SUBJECT [SANS]
    sign() {
      openssl req -newkey rsa:2048 -nodes -subj "$3" -keyout "$1.key" -out "$1.csr" 2>/dev/null
      local ext=$1.ext
      echo "basicConstraints=CA:FALSE" >"$ext"
      echo "extendedKeyUsage=serverAuth,clientAuth" >>"$ext"
      [[ -n ${4:-} ]] && echo "subjectAltName=$4" >>"$ext"
      openssl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 30 \
        -extfile "$ext" -out "$1.crt" 2>/dev/null
      rm -f "$1.csr" "$ext"
    }
    ca ca automatizacion-control-plane-ca
    ca front-proxy-ca automatizacion-front-proxy-ca
    sign server ca "/CN=automatizacion-control-plane" \
      "IP:127.0.0.1,DNS:localhost,DNS:karmada-aggregated-apiserver.karmada-system.svc,DNS:karmada-webhook.karmada-system.svc"
    sign front-proxy-client front-proxy-ca "/CN=front-proxy-client"
    sign admin ca "/O=system:masters/CN=automatizacion-admin"
    openssl genrsa -out sa.key 2048 2>/dev/null
    openssl rsa -in sa.key -pubout -out sa.pub 2>/dev/null
  )
  mkdir -p "$STATE/webhook-certs"
  cp "$pki/server.crt" "$STATE/webhook-certs/tls.crt"
  cp "$pki/server.key" "$STATE/webhook-certs/tls.key"
}

# kubeconfig/NAME for each API server, and one `kubeconfig` with all four contexts
# (karmada-apiserver, staging, prod-east, prod-west).
make_kubeconfigs() {
  local name context file merged=()
  mkdir -p "$STATE/kubeconfig"
  for name in karmada "${MEMBERS[@]}"; do
    context=$name
    [[ $name == karmada ]] && context="karmada-apiserver"
    file=$STATE/kubeconfig/$name
    merged+=("$file")
    [[ -f $file ]] && continue
    kubectl config --kubeconfig="$file" set-cluster "$context" --embed-certs \
      --server="https://127.0.0.1:$(apiserver_port "$name")" --certificate-authority="$STATE/pki/ca.crt" >/dev/null
    kubectl config --kubeconfig="$file" set-credentials "$context-admin" --embed-certs \
      --client-certificate="$STATE/pki/admin.crt" --client-key="$STATE/pki/admin.key" >/dev/null
    kubectl config --kubeconfig="$file" set-context "$context" --cluster="$context" --user="$context-admin" >/dev/null
    kubectl config --kubeconfig="$file" use-context "$context" >/dev/null
  done
  (IFS=:; KUBECONFIG="${merged[*]}" kubectl config view --flatten) >"$STATE/kubeconfig/all.partial"
  kubectl config --kubeconfig="$STATE/kubeconfig/all.partial" use-context karmada-apiserver >/dev/null
  mv "$STATE/kubeconfig/all.partial" "$STATE/kubeconfig/all"
}
