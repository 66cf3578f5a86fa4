//! The operator's deployment role: which of its two Deployments this process is. The manager runs
//! the role's controllers; the checker reports under the role's condition.

/// Which of the two operator deployments this process is.
#[derive(clap::ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Role {
    /// All cluster-level controllers and the Alertmanager webhook sink.
    Master,
    /// The node-local side: the internet checker from a worker node.
    Worker,
}

impl Role {
    /// `master` or `worker`.
    pub fn as_str(self) -> &'static str {
        match self {
            Role::Master => "master",
            Role::Worker => "worker",
        }
    }
}
