#!/usr/bin/python3
"""Any gRPC client talks to troupe's actors: Echo.Say from Python (Debian's python3-grpcio).

    examples/grpc_client/say.py --target=127.0.0.1:7001 --text=hi --delay_ms=100
    examples/grpc_client/say.py --tls_cert=client.pem --tls_key=client.key --tls_ca=ca.pem ...

The Python message classes are generated from proto/echo.proto at start-up with the system
`protoc` into a temporary directory, so nothing generated is checked in. Exits non-zero with one
line if the call fails or the reply differs.
"""
import argparse
import importlib
import os
import subprocess
import sys
import tempfile

import grpc


def load_echo_pb2(proto_path):
    out = tempfile.mkdtemp(prefix="troupe_echo_pb2_")
    proto_dir, proto_file = os.path.split(os.path.abspath(proto_path))
    subprocess.run(["protoc", f"-I{proto_dir}", f"--python_out={out}", proto_file], check=True)
    sys.path.insert(0, out)
    return importlib.import_module(proto_file[: -len(".proto")] + "_pb2")


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--target", default="127.0.0.1:7001")
    p.add_argument("--text", default="hello from python")
    p.add_argument("--delay_ms", type=int, default=0)
    p.add_argument("--deadline_s", type=float, default=5.0)
    p.add_argument("--proto", default=os.path.join(here, "..", "..", "proto", "echo.proto"))
    p.add_argument("--tls_cert", help="client certificate (PEM): with --tls_key and --tls_ca, mutual TLS")
    p.add_argument("--tls_key", help="the client certificate's private key (PEM)")
    p.add_argument("--tls_ca", help="the CA bundle the server's certificate must be signed by (PEM)")
    args = p.parse_args()
    echo_pb2 = load_echo_pb2(args.proto)
    if args.tls_ca:
        def read(path):
            if not path:
                return None
            with open(path, "rb") as f:
                return f.read()
        credentials = grpc.ssl_channel_credentials(
            root_certificates=read(args.tls_ca), private_key=read(args.tls_key),
            certificate_chain=read(args.tls_cert))
        channel = grpc.secure_channel(args.target, credentials)
    else:
        channel = grpc.insecure_channel(args.target)
    with channel:
        say = channel.unary_unary(
            "/troupe.examples.Echo/Say",
            request_serializer=echo_pb2.EchoRequest.SerializeToString,
            response_deserializer=echo_pb2.EchoReply.FromString)
        try:
            reply = say(echo_pb2.EchoRequest(text=args.text, delay_ms=args.delay_ms),
                        timeout=args.deadline_s)
        except grpc.RpcError as e:
            print(f"say.py: Say failed: {e.code().name}: {e.details()}", file=sys.stderr)
            return 1
    if reply.text != args.text:
        print(f"say.py: reply {reply.text!r} differs from {args.text!r}", file=sys.stderr)
        return 1
    print(f'reply "{reply.text}"')
    return 0


if __name__ == "__main__":
    sys.exit(main())
