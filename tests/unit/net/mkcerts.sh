#!/usr/bin/env bash
# Make a throwaway PKI for TLS tests in DIR (nothing here is ever committed):
#   ca.crt/key          the test CA
#   server.crt/key      CN=localhost, SAN DNS:localhost IP:127.0.0.1, signed by ca
#   client.crt/key      CN=device-42, signed by ca
#   sanonly.crt/key     no CN, SAN DNS:sensor-7, signed by ca
#   other-ca.crt/key    an unrelated CA;  intruder.crt/key  CN=intruder signed by it
set -eu
d=${1:?usage: mkcerts.sh DIR}
mkdir -p "$d"; cd "$d"
ossl() { openssl "$@" 2>/dev/null; }
key() { ossl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:prime256v1 -out "$1.key"; }
ca() {
  key "$1"
  ossl req -x509 -new -key "$1.key" -subj "/CN=$2" -days 2 -out "$1.crt" \
    -addext basicConstraints=critical,CA:TRUE -addext keyUsage=critical,keyCertSign,cRLSign
}
leaf() { # name ca subject san
  key "$1"
  ossl req -new -key "$1.key" -subj "$3" -out "$1.csr"
  printf 'basicConstraints=CA:FALSE\n%s\n' "$4" > "$1.ext"
  ossl x509 -req -in "$1.csr" -CA "$2.crt" -CAkey "$2.key" -CAcreateserial -days 2 -extfile "$1.ext" -out "$1.crt"
  rm -f "$1.csr" "$1.ext"
}
ca ca "Ferry Test CA"
ca other-ca "Other CA"
leaf server ca "/CN=localhost" "subjectAltName=DNS:localhost,IP:127.0.0.1"
leaf client ca "/CN=device-42" "subjectAltName=DNS:device-42.example"
leaf sanonly ca "/O=Ferry" "subjectAltName=DNS:sensor-7"
leaf intruder other-ca "/CN=intruder" ""
