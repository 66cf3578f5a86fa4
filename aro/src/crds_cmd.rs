//! `aro crds`: print or write the generated CustomResourceDefinitions.

use std::path::PathBuf;

use anyhow::Context;

/// Flags of `aro crds`.
#[derive(clap::Args, Debug)]
pub struct CrdsArgs {
    /// Which CRDs to print.
    #[arg(long, value_enum, default_value_t = Which::All)]
    which: Which,
    /// Instead of printing, write one file per CRD under this repository root: management CRDs to
    /// `deploy/crds/`, the operator's to `charts/aro-operator/crds/`.
    #[arg(long, value_name = "REPO_ROOT")]
    write: Option<PathBuf>,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
enum Which {
    /// Every CRD.
    All,
    /// The management cluster's CRDs (rp.aro.openshift.io).
    Management,
    /// The in-cluster operator's CRDs (aro.openshift.io).
    Operator,
}

pub fn run(args: CrdsArgs) -> anyhow::Result<()> {
    if let Some(root) = args.write {
        for (dir, crds) in [
            ("deploy/crds", crds::management_crds()),
            ("charts/aro-operator/crds", crds::operator_crds()),
        ] {
            let dir = root.join(dir);
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            for crd in crds {
                let path = dir.join(crds::crd_file_name(&crd));
                std::fs::write(&path, crds::crd_yaml(&crd))
                    .with_context(|| format!("writing {}", path.display()))?;
                eprintln!("wrote {}", path.display());
            }
        }
        return Ok(());
    }
    let selected = match args.which {
        Which::All => crds::management_crds()
            .into_iter()
            .chain(crds::operator_crds())
            .collect::<Vec<_>>(),
        Which::Management => crds::management_crds(),
        Which::Operator => crds::operator_crds(),
    };
    let docs: Vec<String> = selected.iter().map(crds::crd_yaml).collect();
    print!("{}", docs.join("---\n"));
    Ok(())
}
