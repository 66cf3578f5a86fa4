//! Lifecycle controllers of the ARO RP.
