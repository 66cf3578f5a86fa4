//! In-cluster ARO operator.
