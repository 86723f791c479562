"""Observability: request ids, /metrics (Prometheus), OpenTelemetry traces and structured logs (README,
"Observability")."""
