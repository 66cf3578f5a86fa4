//! ARM resource provider frontend for Microsoft.RedHatOpenShift/openShiftClusters.

pub mod api;
