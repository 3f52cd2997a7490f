#!/usr/bin/env bash
# ferry-cloud listeners with kcat: SASL PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512 on plaintext, SASL over TLS
# (certificate from a throwaway CA), wrong passwords and unauthenticated clients refused.
set -u
here=$(cd "$(dirname "$0")" && pwd)
b=${FERRY_BUILD:?}
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
[limits]
auth_timeout 1s
[user alice]
password "s3cret pass"
CONF
"$b/ferry-cloud" -c cloud.conf >>log 2>&1 &
pid=$!
for _ in $(seq 50); do (exec 3<>/dev/tcp/127.0.0.1/$port) 2>/dev/null && break; sleep 0.1; done

sasl() { # mechanism password -> kcat options
  echo -X security.protocol=SASL_PLAINTEXT -X sasl.mechanisms=$1 -X sasl.username=alice
}
for mech in PLAIN SCRAM-SHA-256 SCRAM-SHA-512; do
  topic=t-${mech,,}
  seq 1 300 | timeout 20 kcat -b 127.0.0.1:$port $(sasl $mech) -X "sasl.password=s3cret pass" -P -t "$topic" -z lz4 \
    || fail "$mech produce"
  n=$(timeout 20 kcat -b 127.0.0.1:$port $(sasl $mech) -X "sasl.password=s3cret pass" -C -t "$topic" -o beginning -e -q | wc -l)
  [ "$n" = 300 ] || fail "$mech consume: $n records"
  timeout 10 kcat -b 127.0.0.1:$port $(sasl $mech) -X sasl.password=wrong -L -m 3 >/dev/null 2>&1 \
    && fail "$mech: a wrong password was accepted"
done
timeout 10 kcat -b 127.0.0.1:$port -L -m 3 >/dev/null 2>&1 && fail "an unauthenticated client got metadata"
grep -q "authentication failed" log || fail "no log line for the failed authentications"

tls="-X security.protocol=SASL_SSL -X ssl.ca.location=$dir/ca.crt -X sasl.mechanisms=SCRAM-SHA-512 -X sasl.username=alice"
seq 1 2000 | timeout 20 kcat -b 127.0.0.1:$tport $tls -X "sasl.password=s3cret pass" -P -t secure -z lz4 || fail "TLS produce"
got=$(timeout 20 kcat -b 127.0.0.1:$tport $tls -X "sasl.password=s3cret pass" -C -t secure -o beginning -e -q | md5sum)
[ "$got" = "$(seq 1 2000 | md5sum)" ] || fail "TLS consume"
kcat -b 127.0.0.1:$tport $tls -X "sasl.password=s3cret pass" -L -m 3 | grep -q "127.0.0.1:$tport" \
  || fail "TLS metadata should advertise the TLS port"
# A connection that never authenticates is closed (auth_timeout 1s, checked on the 5 s housekeeping tick).
exec 3<>/dev/tcp/127.0.0.1/$port
start=$(date +%s)
timeout 15 cat <&3 >/dev/null
[ $(( $(date +%s) - start )) -lt 12 ] || fail "an unauthenticated idle connection stayed open"
exec 3<&-
grep -q "not authenticated within" log || fail "no log line for the auth timeout"
echo "35-cloud-security: ok"
