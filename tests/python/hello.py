"""Calls wildnet.v1.Federation/Hello with Python grpcio (BoringSSL).

usage: hello.py HOST:PORT CA_PEM [CERT_PEM KEY_PEM]
Prints agency=<id> version=<n> and exits 0 on success; exits 1 on failure.
"""
import sys

import grpc


def varint(n):
    out = bytearray()
    while True:
        b = n & 0x7F
        n >>= 7
        if n:
            out.append(b | 0x80)
        else:
            out.append(b)
            return bytes(out)


def parse_hello(data):
    # HelloResponse: 1 = agency (string), 2 = manifest_version (varint).
    i, agency, version = 0, "", 0
    while i < len(data):
        key = data[i]
        i += 1
        field, wire = key >> 3, key & 7
        if wire == 2:
            ln = data[i]
            i += 1
            if field == 1:
                agency = data[i : i + ln].decode()
            i += ln
        elif wire == 0:
            v, shift = 0, 0
            while True:
                b = data[i]
                i += 1
                v |= (b & 0x7F) << shift
                shift += 7
                if not b & 0x80:
                    break
            if field == 2:
                version = v
    return agency, version


def main():
    target, ca = sys.argv[1], open(sys.argv[2], "rb").read()
    if len(sys.argv) > 4:
        creds = grpc.ssl_channel_credentials(
            root_certificates=ca,
            private_key=open(sys.argv[4], "rb").read(),
            certificate_chain=open(sys.argv[3], "rb").read(),
        )
    else:
        creds = grpc.ssl_channel_credentials(root_certificates=ca)
    with grpc.secure_channel(target, creds) as channel:
        hello = channel.unary_unary(
            "/wildnet.v1.Federation/Hello",
            request_serializer=lambda b: b,
            response_deserializer=lambda b: b,
        )
        try:
            reply = hello(b"\x08" + varint(1), timeout=10)
        except grpc.RpcError as e:
            print(f"refused: {e.code()} {e.details()}")
            sys.exit(1)
    agency, version = parse_hello(reply)
    print(f"agency={agency} version={version}")


main()
