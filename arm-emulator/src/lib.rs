//! Embedded Azure Resource Manager endpoint for local mode and tests.
