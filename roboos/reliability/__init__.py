"""Reliability helpers: the lossy ZeroMQ proxy of the fault-injection tests."""
