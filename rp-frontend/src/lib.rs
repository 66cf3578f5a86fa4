//! ARM resource provider frontend for Microsoft.RedHatOpenShift/openShiftClusters.
