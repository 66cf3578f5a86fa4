//! Azure SDK client layer: configuration, retries, long-running operations, error classification.
