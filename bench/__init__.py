"""The fan-out, idle-socket and lobby-list benchmarks (python -m bench)."""
