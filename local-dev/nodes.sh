#!/usr/bin/env bash
# nodes.sh up [MEMBER...] | down | status | namespaces | ctr | outside | pause | resume:
# real SpinKube nodes for the members of the container-free control plane
# (local-dev/control-plane.sh), so that their SpinApps run as pods (local-dev/README.md,
# "Real SpinKube nodes").
#
#   up      for each MEMBER (default: every member) a node MEMBER-node in a network namespace of
#           its own, as a machine of that cluster: containerd 1.7 with containerd-shim-spin, a
#           kubelet, kube-proxy, the real spin-operator with its admission webhooks, and a
#           cluster DNS (a stand-in: dnsmasq); beside the member's API server, a scheduler and
#           the controllers that make pods.
#   down    drains and stops every node, then removes what they leave outside their
#           directories: mounts, pod cgroups, network namespaces and /run/containerd.
#   status  one line per process, then each member's nodes and pods.
#   namespaces  the network namespaces of this slot's nodes that live, a path each (what `up`
#           would refuse as taken, and `down` leaves none of).
#   ctr MEMBER ARGS...  containerd's own client on MEMBER's node (`ctr -n k8s.io containers ls`
#           lists its pods' containers with the runtime that runs each).
#   outside MEMBER NAMESPACE SERVICE PORT HOST_PORT  a Service on MEMBER for something that runs
#           on the host's loopback (PostgreSQL, Redis), as a cluster reaches a managed database;
#           again for the same Service, it moves to the new HOST_PORT.
#   pause MEMBER | resume MEMBER  freezes (SIGSTOP) or thaws MEMBER's kubelet, as a node that
#           stops reporting: its pods keep running, but within 20 s the member marks them not
#           ready, and Karmada's failover sees the cluster's SpinApps unhealthy; once thawed, the
#           kubelet reports again and they are ready.
#
# Node N (staging 1, prod-east 2, prod-west 3) is 10.200.N.2 on a veth whose host end is
# 10.200.N.1; its pods are 10.244.N.0/24 and its Services the member's range (credentials.sh),
# both routed from the host, so that tests reach pods and ClusterIPs. The node reaches the
# member's API server and the registry on the host's loopback through forwarders (socat).
#
# State lives in $CONTROL_PLANE_DIR/nodes; binaries come from target/parts (scripts/parts.sh).
# One set of nodes per control plane slot (CONTROL_PLANE_SLOT, control-plane.sh): slot 0's
# namespaces are kbox-MEMBER and its N as above; slot S's are kboxS-MEMBER, with N + 8*S, so
# that the nodes of two control planes can run at once.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
# shellcheck source=local-dev/lib.sh
source "$repo/local-dev/lib.sh"
# shellcheck source=local-dev/credentials.sh
source "$repo/local-dev/credentials.sh"

CONTROL_PLANE=${CONTROL_PLANE_DIR:-$repo/target/control-plane}
STATE=$CONTROL_PLANE/nodes
PARTS=${PARTS_DIR:-$repo/target/parts}
PROCESS_DIR=$STATE
# The control plane's ports and slot (a control plane older than slots has slot 0).
SLOT=0
# shellcheck source=/dev/null
[[ ! -f $CONTROL_PLANE/ports.env ]] || source "$CONTROL_PLANE/ports.env"
MEMBERS=(staging prod-east prod-west)
# The pause image as the node's archive names it: imported, never pulled.
# shellcheck disable=SC2034 # render reads it by name
PAUSE_IMAGE=localhost:5077/pause:3.10.2
# The host's own network namespace, named so that forwarders inside a node can reach it.
HOST_NETNS=kbox-host

kc() { kubectl --kubeconfig="$CONTROL_PLANE/kubeconfig/$1" "${@:2}"; }
node_dir() { echo "$STATE/$1"; }
member_index() {
  local i
  for i in "${!MEMBERS[@]}"; do [[ ${MEMBERS[$i]} == "$1" ]] && { echo $((i + 1)); return; }; done
  die "no member $1 (members: ${MEMBERS[*]})"
}
# What tells this control plane's nodes from another slot's: nothing for slot 0.
set_mark() { ((SLOT == 0)) || echo "$SLOT"; }
node_number() { echo $(($(member_index "$1") + 8 * SLOT)); }
netns_of() { echo "kbox$(set_mark)-$1"; }
node_ip() { echo "10.200.$(node_number "$1").2"; }
host_end_ip() { echo "10.200.$(node_number "$1").1"; }
pod_subnet() { echo "10.244.$(node_number "$1").0/24"; }
cgroup_root_of() { echo "automatizacion-node$(set_mark)-$1"; }
cni_network_of() { echo "automatizacion$(set_mark)-$1"; }
# The node's pod cgroup in each hierarchy: one on cgroup v2, one per controller on v1.
cgroup_dirs() {
  local root controller
  root=$(cgroup_root_of "$1")
  if [[ -f /sys/fs/cgroup/cgroup.controllers ]]; then
    echo "/sys/fs/cgroup/$root"
    return
  fi
  for controller in /sys/fs/cgroup/*/; do
    [[ $controller == */unified/ ]] || echo "$controller$root"
  done
}
# in_node MEMBER COMMAND...: COMMAND in the node's network namespace, and only that: unlike
# `ip netns exec`, nsenter keeps the host's /sys, whose cgroups the kubelet needs.
in_node() { nsenter --net="/run/netns/$(netns_of "$1")" "${@:2}"; }
ctr_of() { in_node "$1" "$PARTS/node/ctr" --address "$(node_dir "$1")/containerd.sock" "${@:2}"; }

install_parts() {
  PARTS_DIR=$PARTS "$repo/scripts/parts.sh" bin/kubelet bin/kube-scheduler bin/kube-proxy \
    bin/spin-operator node spin-operator
  command -v runc >/dev/null || apt_install runc
  command -v socat >/dev/null || apt_install socat
  command -v conntrack >/dev/null || apt_install conntrack
  command -v iptables >/dev/null || apt_install iptables
  command -v dnsmasq >/dev/null || apt_install dnsmasq-base
  [[ -x /usr/lib/cni/bridge ]] || apt_install containernetworking-plugins
  [[ -f $CONTROL_PLANE/ports.env ]] ||
    die "no control plane in $CONTROL_PLANE: run local-dev/control-plane.sh up first"
}

# A name in /run/netns whose namespace is gone: a live one is a mount of the namespace, and
# only the file outlives it, when /run is not a tmpfs, through a reboot or a copied disk.
forget_if_stale() {
  local entry=/run/netns/$1
  [[ -e $entry ]] && ! mountpoint -q "$entry" || return 0
  say "$1 was left by an earlier boot: removed it"
  rm -f "$entry"
}

# The node's network namespace: a veth to the host, routes to its pods and Services, and a
# forwarder per host loopback port it needs (the API server, the registry).
make_network() {
  local member=$1 netns host_end
  netns=$(netns_of "$member")
  host_end=$netns
  forget_if_stale "$netns"
  [[ ! -e /run/netns/$netns ]] || die "$netns exists: slot $SLOT's nodes run here already (local-dev/nodes.sh down)"
  ip netns add "$netns"
  # Only now is the node this set's to take down: a name that existed is another's.
  echo "$member" >>"$STATE/members"
  ip link add "$host_end" type veth peer name eth0 netns "$netns"
  ip addr add "$(host_end_ip "$member")/24" dev "$host_end"
  ip link set "$host_end" up
  ip -n "$netns" addr add "$(node_ip "$member")/24" dev eth0
  ip -n "$netns" link set eth0 up
  ip -n "$netns" link set lo up
  ip -n "$netns" route add default via "$(host_end_ip "$member")"
  in_node "$member" sysctl -qw net.ipv4.ip_forward=1
  ip route add "$(pod_subnet "$member")" via "$(node_ip "$member")"
  ip route add "$(service_range "$member")" via "$(node_ip "$member")"
  forward_out "$member" api "$(apiserver_port "$member")"
  forward_out "$member" registry "${REGISTRY##*:}"
}

# forward_out MEMBER NAME PORT: the host's 127.0.0.1:PORT, as 127.0.0.1:PORT inside the node.
forward_out() {
  start "$2-forwarder-$1" nsenter --net="/run/netns/$(netns_of "$1")" socat \
    "TCP-LISTEN:$3,bind=127.0.0.1,fork,reuseaddr" \
    "EXEC:nsenter --net=/run/netns/$HOST_NETNS socat STDIO TCP\:127.0.0.1\:$3"
}

start_containerd() {
  local member=$1 node
  node=$(node_dir "$member")
  mkdir -p "$node"/{cni,cni-ipam,containerd,certs.d/"$REGISTRY"}
  NODE=$node render local-dev/manifests/node/containerd.toml NODE PAUSE_IMAGE >"$node/containerd.toml"
  NODE=$node POD_SUBNET=$(pod_subnet "$member") NETWORK=$(cni_network_of "$member") \
    render local-dev/manifests/node/cni.conflist NODE POD_SUBNET NETWORK >"$node/cni/10-bridge.conflist"
  render local-dev/manifests/node/registry-hosts.toml REGISTRY >"$node/certs.d/$REGISTRY/hosts.toml"
  PATH=$PARTS/node:$PATH start "containerd-$member" nsenter --net="/run/netns/$(netns_of "$member")" \
    "$PARTS/node/containerd" --config "$node/containerd.toml"
  until_ok "containerd of $member" 30 ctr_of "$member" version
  ctr_of "$member" -n k8s.io images import "$PARTS/node/pause-image.tar" >/dev/null
}

# A scheduler (its health on PORT) and the controllers that turn Deployments into pods and
# Services into endpoints, beside the ones control-plane.sh runs;
# `service-ca-certificate-publisher` fills the ConfigMap this API server mounts into every pod
# (openshift-service-ca.crt).
start_member_controllers() {
  local member=$1 port=$2 kubeconfig=$CONTROL_PLANE/kubeconfig/$1
  start "kube-scheduler-$member" "$PARTS/bin/kube-scheduler" --kubeconfig="$kubeconfig" \
    --authentication-kubeconfig="$kubeconfig" --authorization-kubeconfig="$kubeconfig" \
    --leader-elect=false --bind-address=127.0.0.1 --secure-port="$port"
  start "kube-controller-manager-$member" "$PARTS/bin/kube-controller-manager" \
    --kubeconfig="$kubeconfig" --authentication-kubeconfig="$kubeconfig" \
    --authorization-kubeconfig="$kubeconfig" --leader-elect=false --secure-port=0 \
    --controllers=deployment-controller,replicaset-controller,node-lifecycle-controller,root-ca-certificate-publisher-controller,service-ca-certificate-publisher-controller,endpointslice-controller \
    --root-ca-file="$CONTROL_PLANE/pki/ca.crt" --node-monitor-grace-period=20s
}

# signal_kubelet SIGNAL VERB MEMBER: SIGNAL to the whole process group of MEMBER's kubelet,
# for `nodes.sh VERB MEMBER`. Paused (STOP), a node silent for the node-lifecycle controller's
# grace period (20 s here, 50 s by default; the kubelet renews its lease every 10 s) is
# Unknown, and its pods are marked not ready; resumed (CONT), it reports them again.
signal_kubelet() {
  (($# == 3)) || die "usage: nodes.sh $2 MEMBER"
  running "kubelet-$3" || die "no node runs for $3 (nodes.sh up $3)"
  kill "-$1" -- "-$(cat "$STATE/pids/kubelet-$3")"
}

start_kubelet() {
  local member=$1 node
  node=$(node_dir "$member")
  mkdir -p "$node/kubelet"
  cgroup_dirs "$member" | xargs mkdir -p
  NODE=$node CGROUP_ROOT=$(cgroup_root_of "$member") CA_FILE=$CONTROL_PLANE/pki/ca.crt \
    CLUSTER_DNS=$(node_ip "$member") \
    render local-dev/manifests/node/kubelet.yaml NODE CGROUP_ROOT CA_FILE CLUSTER_DNS >"$node/kubelet.yaml"
  start "kubelet-$member" nsenter --net="/run/netns/$(netns_of "$member")" "$PARTS/bin/kubelet" \
    --config="$node/kubelet.yaml" --kubeconfig="$CONTROL_PLANE/kubeconfig/$member" \
    --root-dir="$node/kubelet" --cert-dir="$node/kubelet-pki" --hostname-override="$member-node" \
    --node-ip="$(node_ip "$member")"
  until_ok "the kubelet of $member" 60 kc "$member" wait --for=condition=Ready "node/$member-node" --timeout=2s
}

start_kube_proxy() {
  local member=$1 node
  node=$(node_dir "$member")
  POD_SUBNET=$(pod_subnet "$member") NODE_NAME=$member-node KUBECONFIG_FILE=$CONTROL_PLANE/kubeconfig/$member \
    render local-dev/manifests/node/kube-proxy.yaml POD_SUBNET NODE_NAME KUBECONFIG_FILE >"$node/kube-proxy.yaml"
  start "kube-proxy-$member" nsenter --net="/run/netns/$(netns_of "$member")" "$PARTS/bin/kube-proxy" \
    --config="$node/kube-proxy.yaml"
  until_ok "kube-proxy of $member" 30 in_node "$member" curl -fsS --max-time 2 http://127.0.0.1:10256/healthz
}

# A stand-in for CoreDNS (no cluster DNS server is available here): Debian's dnsmasq on the
# node's address, answering NAME.NAMESPACE.svc.cluster.local with each ClusterIP Service of the
# member, as `records` keeps them, and nothing outside cluster.local.
start_cluster_dns() {
  local member=$1 node
  node=$(node_dir "$member")
  mkdir -p "$node/dns"
  : >"$node/dns/hosts"
  start "cluster-dns-$member" nsenter --net="/run/netns/$(netns_of "$member")" dnsmasq \
    --keep-in-foreground --log-facility=- --pid-file= --user=root --no-resolv --no-hosts \
    --addn-hosts="$node/dns/hosts" --listen-address="$(node_ip "$member")" --bind-interfaces \
    --local=/cluster.local/ --domain-needed
  start "cluster-dns-records-$member" "$repo/local-dev/nodes.sh" records "$member"
}

# records MEMBER: rewrites the DNS stand-in's hosts file from the member's Services whenever
# one changes, and has dnsmasq read it again. The API server ends every watch after 30 to 60
# minutes, and a list can fail on a busy machine: it watches again, and lists again until a list
# succeeds (a watcher that stopped would leave the names on the ClusterIPs of Services gone).
records() {
  local member=$1
  while :; do
    kc "$member" get services --all-namespaces --watch -o name | while read -r _; do
      until write_records "$member"; do
        echo "records: cannot list $member's Services; again in a second" >&2
        sleep 1
      done
    done || true
    sleep 1
  done
}

# write_records MEMBER: one rewrite of MEMBER's records, if its Services can be listed.
write_records() {
  local member=$1 node
  node=$(node_dir "$member")
  kc "$member" get services --all-namespaces -o jsonpath='{range .items[?(@.spec.type=="ClusterIP")]}{.spec.clusterIP} {.metadata.name}.{.metadata.namespace}.svc.cluster.local{"\n"}{end}' \
    >"$node/dns/hosts.listed" || return 1
  grep -v '^None ' "$node/dns/hosts.listed" >"$node/dns/hosts.new" || true
  if ! cmp -s "$node/dns/hosts.new" "$node/dns/hosts"; then
    mv "$node/dns/hosts.new" "$node/dns/hosts"
    ! running "cluster-dns-$member" || kill -HUP "$(cat "$STATE/pids/cluster-dns-$member")"
  fi
}

# outside MEMBER NAMESPACE SERVICE PORT HOST_PORT: SERVICE.NAMESPACE:PORT on MEMBER reaches the
# host's 127.0.0.1:HOST_PORT (the suite's PostgreSQL or Redis, say), as a managed database is
# reached from a cluster.
outside() {
  (($# == 5)) || die "usage: nodes.sh outside MEMBER NAMESPACE SERVICE PORT HOST_PORT"
  local member=$1 host_address
  running "kubelet-$member" || die "no node runs for $member (nodes.sh up $member)"
  host_address=$(host_end_ip "$member")
  # Named again, it points elsewhere: a test's next database is another port.
  stop "outside-$member-$2-$3"
  start "outside-$member-$2-$3" socat "TCP-LISTEN:$5,bind=$host_address,fork,reuseaddr" "TCP:127.0.0.1:$5"
  NAMESPACE=$2 SERVICE=$3 PORT=$4 HOST_PORT=$5 HOST_ADDRESS=$host_address \
    render local-dev/manifests/node/outside-service.yaml NAMESPACE SERVICE PORT HOST_PORT HOST_ADDRESS |
    kc "$member" apply -f - >/dev/null
}

# spin-operator on the node, with webhooks on: the API server calls them at the node's address,
# with a certificate for it that the control plane's CA signs.
start_operator() {
  local member=$1 node ip certs
  node=$(node_dir "$member")
  ip=$(node_ip "$member")
  certs=$node/operator-tmp/k8s-webhook-server/serving-certs
  mkdir -p "$certs"
  openssl req -newkey rsa:2048 -nodes -subj "/CN=spin-operator-webhook-$member" \
    -keyout "$certs/tls.key" -out "$certs/tls.csr" 2>/dev/null
  # A serial of its own, not the CA's serial file, which nodes starting at once would share.
  openssl x509 -req -in "$certs/tls.csr" -CA "$CONTROL_PLANE/pki/ca.crt" -CAkey "$CONTROL_PLANE/pki/ca.key" \
    -set_serial "0x$(openssl rand -hex 16)" -days 30 -out "$certs/tls.crt" 2>/dev/null \
    -extfile <(printf 'basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:%s\n' "$ip")
  rm -f "$certs/tls.csr"
  TMPDIR=$node/operator-tmp start "spin-operator-$member" nsenter --net="/run/netns/$(netns_of "$member")" \
    "$PARTS/bin/spin-operator" --kubeconfig="$CONTROL_PLANE/kubeconfig/$member" --enable-webhooks \
    --health-probe-bind-address=127.0.0.1:8082 --metrics-bind-address=0
  until_ok "spin-operator of $member" 60 in_node "$member" curl -fsS --max-time 2 http://127.0.0.1:8082/healthz
  until_ok "spin-operator's webhooks on $member" 30 curl -s --max-time 2 -o /dev/null \
    --cacert "$CONTROL_PLANE/pki/ca.crt" "https://$ip:9443/"
  webhooks "https://$ip:9443" | kc "$member" apply -f - >/dev/null
}

# spin-operator's webhook configurations, pointed at URL with the control plane's CA.
webhooks() {
  local ca
  ca=$(base64 -w0 "$CONTROL_PLANE/pki/ca.crt")
  awk -v base="$1" -v ca="$ca" '
    /^    service:$/ { in_service = 1; next }
    in_service && /^      (name|namespace):/ { next }
    in_service && /^      path:/ { print "    url: " base $2; print "    caBundle: " ca; in_service = 0; next }
    { print }' "$PARTS/spin-operator/webhook-manifests.yaml"
}

# start_node MEMBER SCHEDULER_PORT: everything of MEMBER's node, in order.
start_node() {
  make_network "$1"
  start_containerd "$1"
  start_member_controllers "$1" "$2"
  start_kubelet "$1"
  start_kube_proxy "$1"
  start_cluster_dns "$1"
  start_operator "$1"
}

# The members' nodes start at once: each mostly waits (for containerd, its kubelet to be Ready,
# the operator's health), so three take hardly longer than one.
up() {
  install_parts
  REGISTRY=${REGISTRY:-${TEST_REGISTRY:-127.0.0.1:5000}}
  local members=("$@") member i ports starting=() failed=0
  ((${#members[@]})) || members=("${MEMBERS[@]}")
  for member in "${members[@]}"; do member_index "$member" >/dev/null; done
  mkdir -p "$STATE"
  forget_if_stale "$HOST_NETNS"
  [[ -e /run/netns/$HOST_NETNS ]] || ip netns attach "$HOST_NETNS" $$
  # Chosen together, so that nodes starting at once cannot pick the same one.
  read -r -a ports <<<"$(free_ports "${#members[@]}")"
  say "starting ${members[*]/%/-node}: containerd, kubelet, kube-proxy, spin-operator; a scheduler and controllers each"
  for i in "${!members[@]}"; do
    start_node "${members[$i]}" "${ports[$i]}" &
    starting+=($!)
  done
  for i in "${!starting[@]}"; do wait "${starting[$i]}" || failed=1; done
  ((failed == 0)) || die "a node did not start (it said why above; logs in $STATE/logs)"
  say "ready: kubectl --kubeconfig $CONTROL_PLANE/kubeconfig/all --context MEMBER get pods -A -o wide"
}

started_members() { sort -u "$STATE/members" 2>/dev/null || true; }

# Deletes every node's pods while its kubelet still runs, so that each is torn down through
# CNI, with nothing left running to put them back; waits up to 30 s for all nodes together
# (clean_node then forces what is left).
drain() {
  local member deadline=$((SECONDS + 30))
  for member in "$@"; do
    running "kubelet-$member" || continue
    kc "$member" delete pods --all-namespaces --field-selector "spec.nodeName=$member-node" \
      --grace-period=1 --wait=false >/dev/null 2>&1 || true
  done
  for member in "$@"; do
    while running "kubelet-$member" && [[ -n $(ctr_of "$member" -n k8s.io tasks ls -q 2>/dev/null) ]] &&
      ((SECONDS < deadline)); do
      sleep 0.5
    done
  done
}

# Every trace one node leaves outside its directory, once its processes are gone. Deleting its
# network namespace takes its links, routes and NAT rules along.
clean_node() {
  local member=$1 node controller
  node=$(node_dir "$member")
  # Shims outlive containerd (daemons of their own, named by its socket), and their sandbox
  # processes stay in the node's pod cgroups.
  pkill -KILL -f -- "-address $node/containerd.sock" 2>/dev/null || true
  for controller in $(cgroup_dirs "$member"); do
    [[ -d $controller ]] || continue
    # shellcheck disable=SC2038 # xargs reads the PIDs in the files, not file names
    find "$controller" \( -name tasks -o -name cgroup.procs \) -exec cat {} + |
      xargs -r kill -KILL 2>/dev/null || true
  done
  findmnt -rn -o TARGET | { grep -F "$node/" || true; } | sort -r | while read -r mount; do
    umount -l "$mount" 2>/dev/null || true
  done
  [[ ! -e /run/netns/$(netns_of "$member") ]] || ip netns delete "$(netns_of "$member")"
  sleep 0.2
  for controller in $(cgroup_dirs "$member"); do
    [[ -d $controller ]] || continue
    find "$controller" -depth -type d -exec rmdir {} + 2>/dev/null || true
  done
  rm -f /var/lib/cni/results/"$(cni_network_of "$member")"-*
}

# Pods' network namespaces left without their link to a node (only `lo` remains in them).
clean_orphaned_pod_netns() {
  local netns
  for netns in /run/netns/cni-*; do
    [[ -e $netns ]] || continue
    netns=${netns##*/}
    [[ -z $(ip netns pids "$netns" 2>/dev/null) ]] || continue
    [[ $(ip -n "$netns" -o link show 2>/dev/null | grep -vc ': lo:') == 0 ]] || continue
    ip netns delete "$netns"
  done
}

down() {
  [[ -d $STATE ]] || return 0
  local member members controllers=() rest=()
  read -r -a members <<<"$(started_members | xargs)"
  for member in "${members[@]}"; do
    kc "$member" delete mutatingwebhookconfiguration mutating-webhook-configuration \
      --ignore-not-found --timeout=5s >/dev/null 2>&1 || true
    kc "$member" delete validatingwebhookconfiguration validating-webhook-configuration \
      --ignore-not-found --timeout=5s >/dev/null 2>&1 || true
    controllers+=("spin-operator-$member" "kube-scheduler-$member" "kube-controller-manager-$member")
    # A paused kubelet could neither drain its pods nor stop.
    ! running "kubelet-$member" || signal_kubelet CONT resume "$member"
  done
  stop "${controllers[@]}"
  drain "${members[@]}"
  # Everything else at once: each process by its name in pids/ (the outside forwarders too).
  for member in "$STATE"/pids/*; do rest+=("${member##*/}"); done
  stop "${rest[@]}"
  for member in "${members[@]}"; do clean_node "$member"; done
  # What every containerd shares, and pods' namespaces that cannot be told apart by set: left
  # alone while another one runs (another slot's nodes).
  if ! pgrep -x containerd >/dev/null; then
    clean_orphaned_pod_netns
    rm -rf /run/containerd/{s,spin,runc,fifo}
    [[ ! -e /run/netns/$HOST_NETNS ]] || ip netns delete "$HOST_NETNS"
  fi
  rm -rf "$STATE"
  say "stopped the nodes and removed $STATE"
}

# A live namespace is a mount of it; a name without one is stale (forget_if_stale).
namespaces() {
  local member entry
  for member in "${MEMBERS[@]}"; do
    entry=/run/netns/$(netns_of "$member")
    ! mountpoint -q "$entry" || echo "$entry"
  done
}

status() {
  [[ -d $STATE ]] || { echo "nodes: none started ($STATE)"; return 1; }
  local state=0 member
  process_lines || state=1
  for member in $(started_members); do
    echo "$member:"
    kc "$member" get nodes -o wide 2>/dev/null | sed 's/^/  /' || state=1
    kc "$member" get pods --all-namespaces -o wide 2>/dev/null | sed 's/^/  /' || state=1
  done
  return $state
}

case ${1:-} in
  up) up "${@:2}" ;;
  down) down ;;
  status) status ;;
  namespaces) namespaces ;;
  ctr) ctr_of "$2" "${@:3}" ;;
  outside) outside "${@:2}" ;;
  pause) signal_kubelet STOP pause "${@:2}" ;;
  resume) signal_kubelet CONT resume "${@:2}" ;;
  records) records "$2" ;;
  *) die "usage: nodes.sh up [MEMBER...] | down | status | namespaces | ctr MEMBER ARGS... | outside MEMBER NAMESPACE SERVICE PORT HOST_PORT | pause MEMBER | resume MEMBER" ;;
esac
