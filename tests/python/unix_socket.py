"""Calls a node's Agency API on its Unix socket with Python grpcio.

usage: unix_socket.py SOCKET_PATH [--default-authority]
With --default-authority the channel sets grpc.default_authority=localhost
(the README's advice). Prints health=<status> agency=<id> and exits 0 on
success; prints refused: <code> <details> and exits 1 on failure.
"""
import sys

import grpc


def field1(data):
    # The first length-delimited field 1 of a message (InfoResponse.agency).
    if len(data) < 2 or data[0] != 0x0A:
        return ""
    return data[2 : 2 + data[1]].decode()


def main():
    path = sys.argv[1]
    options = []
    if "--default-authority" in sys.argv[2:]:
        options.append(("grpc.default_authority", "localhost"))
    raw = dict(request_serializer=lambda b: b, response_deserializer=lambda b: b)
    with grpc.insecure_channel("unix:" + path, options=options) as channel:
        check = channel.unary_unary("/grpc.health.v1.Health/Check", **raw)
        info = channel.unary_unary("/wildnet.v1.Agency/Info", **raw)
        try:
            # HealthCheckResponse: field 1 = status (1 = SERVING).
            health = check(b"", timeout=10)
            reply = info(b"", timeout=10)
        except grpc.RpcError as e:
            print(f"refused: {e.code()} {e.details()}")
            sys.exit(1)
    print(f"health={health[1] if len(health) > 1 else 0} agency={field1(reply)}")


main()
