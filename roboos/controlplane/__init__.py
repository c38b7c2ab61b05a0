"""The gRPC control plane: submit, watch and cancel tasks and list robots of a running cloud master."""
