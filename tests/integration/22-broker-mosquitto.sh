#!/usr/bin/env bash
# ferry-agent with Mosquitto's own clients (mosquitto_pub/mosquitto_sub) for MQTT 3.1.1 and 5.0: QoS 0/1/2,
# retained, a password file made with `ferry-agent passwd`, ACL denials, TLS with a CA generated here and the
# client certificate's CN as the username, and SIGHUP reloading the ACL without dropping a subscriber.
set -u
b=${FERRY_BUILD:?}
here=$(cd "$(dirname "$0")" && pwd)
root=$(cd "$here/../.." && pwd)
name=22-broker-mosquitto
tmp=$(mktemp -d /tmp/ferry-it22-XXXXXX)
pids=()
fail=0
cleanup() {
  for p in "${pids[@]}"; do kill "$p" 2>/dev/null; done
  for p in "${pids[@]}"; do wait "$p" 2>/dev/null; done
  rm -rf "$tmp"
}
trap cleanup EXIT
bad() { echo "FAIL $name: $*"; fail=1; }
port() { /usr/bin/python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }

bash "$root/tests/unit/net/mkcerts.sh" "$tmp/pki" || { echo "FAIL $name: mkcerts"; exit 1; }
printf 'alice-pw\n' | "$b/ferry-agent" passwd -c "$tmp/passwd" alice >/dev/null || bad "passwd alice"
printf 'bob-pw\n' | "$b/ferry-agent" passwd "$tmp/passwd" bob >/dev/null || bad "passwd bob"
cat > "$tmp/acl" <<EOT
user alice
topic readwrite a/#
topic read r/#
user bob
topic write r/#
topic read a/#
user device-42
topic readwrite dev/#
pattern readwrite own/%u/#
EOT
P=$(port); T=$(port); A=$(port)
cat > "$tmp/agent.conf" <<EOT
data_dir $tmp/var
[mqtt]
address 127.0.0.1
port $P
[mqtt_tls]
enabled true
address 127.0.0.1
port $T
cert_file $tmp/pki/server.crt
key_file $tmp/pki/server.key
ca_file $tmp/pki/ca.crt
require_certificate true
use_identity_as_username true
[admin]
port $A
[security]
allow_anonymous false
password_file $tmp/passwd
acl_file $tmp/acl
[store]
sync normal
EOT
"$b/ferry-agent" -c "$tmp/agent.conf" > "$tmp/agent.log" 2>&1 &
agent=$!
pids+=($agent)
for _ in $(seq 100); do (exec 3<>/dev/tcp/127.0.0.1/$P) 2>/dev/null && break; sleep 0.05; done

A_=(-h 127.0.0.1 -p "$P" -u alice -P alice-pw)
B_=(-h 127.0.0.1 -p "$P" -u bob -P bob-pw)
TLS_=(-h 127.0.0.1 -p "$T" --cafile "$tmp/pki/ca.crt" --cert "$tmp/pki/client.crt" --key "$tmp/pki/client.key")

# QoS 0/1/2 for both versions: 10 messages each, all received in order
for v in mqttv311 mqttv5; do
  for q in 0 1 2; do
    out="$tmp/sub-$v-$q"
    timeout 10 mosquitto_sub "${A_[@]}" -V $v -i "s-$v-$q" -t "a/$v/$q" -q $q -C 10 > "$out" &
    sp=$!
    sleep 0.3
    for i in $(seq 10); do mosquitto_pub "${A_[@]}" -V $v -t "a/$v/$q" -q $q -m "m$i" || bad "$v qos $q publish $i"; done
    wait $sp || bad "$v qos $q: subscriber did not get 10 messages"
    [ "$(tr '\n' ' ' < "$out")" = "m1 m2 m3 m4 m5 m6 m7 m8 m9 m10 " ] || bad "$v qos $q: got $(tr '\n' ' ' < "$out")"
  done
done

# retained, for both versions
mosquitto_pub "${A_[@]}" -t a/ret -m kept -r -q 1 || bad "retained publish"
for v in mqttv311 mqttv5; do
  got=$(timeout 5 mosquitto_sub "${A_[@]}" -V $v -t a/ret -C 1 -v) || bad "$v: retained not received"
  [ "$got" = "a/ret kept" ] || bad "$v: retained got '$got'"
done

# authentication: wrong password and anonymous are refused
if mosquitto_pub -h 127.0.0.1 -p "$P" -u alice -P wrong -t a/x -m no 2>/dev/null; then bad "wrong password accepted"; fi
if mosquitto_pub -h 127.0.0.1 -p "$P" -t a/x -m no 2>/dev/null; then bad "anonymous accepted"; fi
if mosquitto_pub -h 127.0.0.1 -p "$P" -V mqttv5 -u alice -P wrong -t a/x -m no 2>/dev/null; then bad "v5 wrong password accepted"; fi

# ACL: alice may not subscribe to b/#; bob may write r/# but not read it; alice reads r/#
out=$(timeout 5 mosquitto_sub "${A_[@]}" -V mqttv5 -t b/x -C 1 2>&1); [[ "$out" == *denied* ]] || bad "v5 subscribe to b/x not denied: $out"
timeout 5 mosquitto_sub "${A_[@]}" -t r/x -C 1 > "$tmp/r" &
sp=$!
sleep 0.3
mosquitto_pub "${B_[@]}" -t r/x -m from-bob -q 1 || bad "bob publish r/x"
wait $sp || bad "alice did not get bob's r/x"
[ "$(cat "$tmp/r")" = "from-bob" ] || bad "r/x got '$(cat "$tmp/r")'"
timeout 5 mosquitto_sub "${A_[@]}" -t a/forbidden -C 1 -W 2 > "$tmp/w" 2>/dev/null &
sp=$!
sleep 0.3
mosquitto_pub "${B_[@]}" -t a/forbidden -m sneaky -q 1 >/dev/null 2>&1  # bob may not write a/#
wait $sp
[ -s "$tmp/w" ] && bad "bob's write to a/forbidden was delivered"

# TLS with the client certificate's CN (device-42) as the username, and %u in a pattern
timeout 10 mosquitto_sub "${TLS_[@]}" -t 'dev/#' -t 'own/device-42/#' -C 2 -v > "$tmp/tls" &
sp=$!
sleep 0.5
mosquitto_pub "${TLS_[@]}" -t dev/1 -m over-tls -q 1 || bad "TLS publish"
mosquitto_pub "${TLS_[@]}" -V mqttv5 -t own/device-42/x -m mine -q 2 || bad "TLS v5 publish"
wait $sp || bad "TLS subscriber did not get 2 messages"
[ "$(tr '\n' '|' < "$tmp/tls")" = "dev/1 over-tls|own/device-42/x mine|" ] || bad "TLS got $(cat "$tmp/tls")"
if timeout 5 mosquitto_pub -h 127.0.0.1 -p "$T" --cafile "$tmp/pki/ca.crt" -t dev/1 -m nocert 2>/dev/null; then
  bad "TLS without a client certificate accepted"
fi

# SIGHUP: grant alice b/#; a subscriber connected before the reload keeps working
timeout 10 mosquitto_sub "${A_[@]}" -t a/live -C 2 > "$tmp/live" &
live=$!
sleep 0.3
mosquitto_pub "${A_[@]}" -t a/live -m before -q 1
printf 'topic readwrite b/#\n' >> "$tmp/acl"
sed -i 's/^user bob$/topic readwrite b\/#\nuser bob/' "$tmp/acl"
kill -HUP $agent
sleep 0.3
mosquitto_pub "${A_[@]}" -t a/live -m after -q 1
wait $live || bad "subscriber dropped across SIGHUP"
[ "$(tr '\n' ' ' < "$tmp/live")" = "before after " ] || bad "live got $(cat "$tmp/live")"
out=$(timeout 5 mosquitto_sub "${A_[@]}" -V mqttv5 -t b/x -C 1 -W 1 2>&1); [[ "$out" == *denied* ]] && bad "b/x still denied after SIGHUP"

kill -0 $agent 2>/dev/null || bad "agent died"
if [ $fail -ne 0 ]; then echo "--- agent log"; tail -30 "$tmp/agent.log"; exit 1; fi
echo "$name: ok"
