//! Custom resource types of the ARO RP management cluster and of the in-cluster ARO operator.
