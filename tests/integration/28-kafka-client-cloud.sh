#!/usr/bin/env bash
# Our Kafka client core (kafka/conn.h; tests/tools/kafka_client_check) against ferry-cloud, a real broker built
# on the same codec by another hand: SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 on a plaintext listener,
# SCRAM-SHA-512 over TLS (net/tls.h, a throwaway CA), each producing 2,000 records in lz4 batches with five
# requests in flight and fetching them back; a wrong password is refused.
set -u
here=$(cd "$(dirname "$0")" && pwd)
b=${FERRY_BUILD:?}
tool="$b/tools/kafka_client_check"
[ -x "$tool" ] || { echo "FAIL: $tool not built (make kafka-tools)"; exit 1; }
dir=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; rm -rf "$dir"; }
trap cleanup EXIT
fail() { echo "FAIL: $*"; tail -20 "$dir/log"; exit 1; }
freeport() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
port=$(freeport); tport=$(freeport)
cd "$dir"
# the throwaway CA and a server certificate for localhost / 127.0.0.1 (shared with the TLS unit tests)
bash "$here/../unit/net/mkcerts.sh" "$dir" || fail "mkcerts"
cat > cloud.conf <<CONF
data_dir $dir/var
[listener]
port $port
sasl true
[tls]
port $tport
sasl true
cert_file $dir/server.crt
key_file $dir/server.key
[admin]
port 0
[user alice]
password "s3cret pass"
CONF
"$b/ferry-cloud" -c cloud.conf >>log 2>&1 &
pid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

for mech in PLAIN SCRAM-SHA-256 SCRAM-SHA-512; do
  timeout 60 "$tool" 127.0.0.1 "$port" "c-${mech,,}" -s "$mech" alice "s3cret pass" -n 2000 || fail "$mech"
done
# mbedtls 2.28 checks DNS names, not IP SANs: dial 127.0.0.1, verify the certificate as "localhost".
timeout 60 "$tool" 127.0.0.1 "$tport" c-tls -t "$dir/ca.crt" -H localhost -s SCRAM-SHA-512 alice "s3cret pass" -n 2000 \
  || fail "TLS + SCRAM-SHA-512"
timeout 20 "$tool" 127.0.0.1 "$port" c-bad -s SCRAM-SHA-256 alice wrong -n 250 >/dev/null 2>&1 \
  && fail "a wrong password was accepted"
timeout 20 "$tool" 127.0.0.1 "$tport" c-bad -t "$dir/ca.crt" -H not-the-server -s PLAIN alice "s3cret pass" -n 250 \
  >/dev/null 2>&1 && fail "a certificate for another name was accepted"
echo "28-kafka-client-cloud: ok"
