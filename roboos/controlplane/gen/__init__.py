"""Generated gRPC code for every ``protos/*.proto`` (do not edit).

Regenerate with ``python -m roboos.controlplane.codegen``; produced by grpcio-tools 1.85.1.
"""
