//! Shared runtime pieces: tracing setup, graceful shutdown, health and metrics listener.
