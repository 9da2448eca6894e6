#!/bin/sh
# Writes the certificates the TLS tests of the gRPC transport use into DIR,
# with the openssl command-line tool (EC P-256 keys, so this takes well
# under a second):
#
#   ca.pem ca.key                 test CA
#   other-ca.pem other-ca.key     a second CA nobody trusts
#   server.pem server.key         CN=localhost, SAN localhost, 127.0.0.1, ::1 (by ca)
#   expired.pem expired.key       same names, valid only in January 2020 (by ca)
#   wrongname.pem wrongname.key   SAN other.example only (by ca)
#   client.pem client.key         CN=slim-test-client, clientAuth (by ca)
#   other-client.pem .key         CN=intruder, clientAuth (by other-ca)
#
# Usage: transport_certs.sh DIR
set -eu
dir=$1
mkdir -p "$dir"
cd "$dir"

cat >ext.cnf <<'EOF'
[ ca ]
basicConstraints = critical, CA:TRUE
keyUsage = critical, keyCertSign, cRLSign
subjectKeyIdentifier = hash
[ server ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:localhost, IP:127.0.0.1, IP:::1
[ wrongname ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = serverAuth
subjectAltName = DNS:other.example
[ client ]
basicConstraints = critical, CA:FALSE
keyUsage = critical, digitalSignature
extendedKeyUsage = clientAuth
EOF

key() {
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$1.key" 2>/dev/null
}

ca() { # name subject
    key "$1"
    openssl req -new -x509 -key "$1.key" -out "$1.pem" -subj "$2" -days 3650 \
        -config ext.cnf -extensions ca 2>/dev/null
}

leaf() { # name subject extensions issuer
    key "$1"
    openssl req -new -key "$1.key" -out "$1.csr" -subj "$2" -config /dev/null 2>/dev/null
    openssl x509 -req -in "$1.csr" -CA "$4.pem" -CAkey "$4.key" -set_serial "0x$(od -An -N8 -tx1 /dev/urandom | tr -d ' \n')" \
        -days 3650 -extfile ext.cnf -extensions "$3" -out "$1.pem" 2>/dev/null
}

ca ca "/CN=SLIM Test CA"
ca other-ca "/CN=Untrusted Test CA"
leaf server "/CN=localhost" server ca
leaf wrongname "/CN=other.example" wrongname ca
leaf client "/CN=slim-test-client" client ca
leaf other-client "/CN=intruder" client other-ca

# An expired certificate: `openssl ca` is the command that takes explicit
# validity dates.
key expired
openssl req -new -key expired.key -out expired.csr -subj "/CN=localhost" -config /dev/null 2>/dev/null
mkdir -p ca-db
: >ca-db/index.txt
echo 1000 >ca-db/serial
cat >ca-db/ca.cnf <<EOF
[ ca ]
default_ca = test
[ test ]
database = ca-db/index.txt
new_certs_dir = ca-db
serial = ca-db/serial
default_md = sha256
policy = any
unique_subject = no
[ any ]
commonName = supplied
EOF
openssl ca -batch -config ca-db/ca.cnf -cert ca.pem -keyfile ca.key -in expired.csr \
    -out expired.pem -startdate 20200101000000Z -enddate 20200201000000Z -notext \
    -extfile ext.cnf -extensions server 2>/dev/null
rm -rf ca-db ./*.csr
